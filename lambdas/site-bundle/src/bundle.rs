//! The bundler: `static/` in, a directory of servable files plus their manifest out.
//!
//! What it does:
//! - walks `static/` (sorted; hidden files and directories, except `.well-known/`, and Markdown notes such as README.md are
//!   not part of the site; symlinks are refused);
//! - fingerprints JS, CSS, images and fonts: `app.js` -> `app.<10 hex of sha256>.js`, where the hash
//!   is of the file's *final* bytes (after its own references were rewritten);
//! - rewrites references: in HTML, `src`/`href` attributes and module imports in inline `<script>`
//!   blocks; in CSS, `url(...)` and `@import`; in JS, static `import`/`export ... from '...'` and
//!   dynamic `import('...')` specifiers that start with `./`, `../` or `/`;
//! - processes files in dependency order (a module's hash covers the fingerprinted names of what it
//!   imports, so a change anywhere renames every importer up the chain, Merkle-style). Modules on an
//!   import cycle (including one importing itself) cannot be named after their own content: they
//!   keep their names and are served `no-cache` (their references are still rewritten); modules that
//!   merely import them are fingerprinted as usual;
//! - refuses: a missing or empty `static/`, an unreadable file, a non-UTF-8 path or text file, and a
//!   fingerprinted name that collides with another file.
//!
//! References that do not resolve to a file in the bundle (external URLs, bare module specifiers,
//! typos) are left untouched and reported as warnings, never errors: a regex is not a parser, and a
//! commented-out import must not break a release.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::OnceLock;

use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// Cache-Control of fingerprinted files: their bytes never change under that name.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// Cache-Control of everything else (HTML, config.json, favicon.ico, ...): revalidate every time.
pub const NO_CACHE: &str = "no-cache";
/// Hex digits of sha256 in fingerprinted names.
pub const FINGERPRINT_LEN: usize = 10;

/// Extensions whose files get fingerprinted names.
const FINGERPRINTED: &[&str] =
    &["js", "mjs", "css", "png", "jpg", "jpeg", "gif", "svg", "webp", "avif", "woff", "woff2", "ttf", "otf"];

/// One file of the bundle. Fields are in alphabetical order so that JSON keys come out sorted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteFile {
    /// e.g. `public, max-age=31536000, immutable` (fingerprinted) or `no-cache` (HTML, config.json).
    pub cache_control: String,
    /// e.g. `text/html; charset=utf-8`.
    pub content_type: String,
    /// Whether the name carries a content hash (so the file never changes under this name).
    pub fingerprinted: bool,
    /// Lowercase hex MD5 of the file bytes: what S3 reports as the ETag of a single-part upload,
    /// so a sync can check the bucket against a listing without downloading anything.
    pub md5: String,
    /// Lowercase hex sha256 of the file bytes.
    pub sha256: String,
    pub size: u64,
}

/// The result of [`bundle`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Bundle {
    /// Output path (`/`-separated, relative to the output dir) -> its serving metadata.
    pub files: BTreeMap<String, SiteFile>,
    /// Source path -> output path, for every file (identity for files that are not fingerprinted).
    pub renames: BTreeMap<String, String>,
    /// References left untouched because they name no file of the bundle, e.g.
    /// `index.html: ./missing.js`.
    pub warnings: Vec<String>,
}

/// Why a bundle could not be made: what went wrong and what to do about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BundleError {
    pub what: String,
    pub hint: String,
}

impl fmt::Display for BundleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for BundleError {}

fn error(what: impl Into<String>, hint: impl Into<String>) -> BundleError {
    BundleError { what: what.into(), hint: hint.into() }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Html,
    Css,
    Js,
    Other,
}

struct Source {
    kind: Kind,
    bytes: Vec<u8>,
    fingerprint: bool,
}

/// Bundles `static_dir` into `out_dir` (created if needed; it should be empty) and returns what it
/// wrote. Deterministic: the same input files give the same output names and bytes.
pub fn bundle(static_dir: &Path, out_dir: &Path) -> Result<Bundle, BundleError> {
    let sources = read_sources(static_dir)?;
    let (outputs, renames, warnings) = process(&sources)?;
    let mut files = BTreeMap::new();
    for (path, (bytes, fingerprinted)) in &outputs {
        let target = out_dir.join(path);
        let parent = target.parent().expect("a file path has a parent");
        std::fs::create_dir_all(parent).and_then(|()| std::fs::write(&target, bytes)).map_err(|e| {
            error(format!("cannot write {}: {e}", target.display()), "check free space and permissions")
        })?;
        files.insert(path.clone(), site_file(path, bytes, *fingerprinted));
    }
    Ok(Bundle { files, renames, warnings })
}

/// Lowercase hex MD5 of `bytes` (the ETag S3 gives a single-part upload).
pub fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(md5::Md5::digest(bytes))
}

/// Hidden entries are not part of the site, except `.well-known/` (RFC 8615: `security.txt`,
/// `apple-app-site-association`, ...), which is.
fn is_hidden(name: &str) -> bool {
    name.starts_with('.') && name != ".well-known"
}

/// Serving metadata of one output file.
fn site_file(path: &str, bytes: &[u8], fingerprinted: bool) -> SiteFile {
    SiteFile {
        cache_control: if fingerprinted { IMMUTABLE } else { NO_CACHE }.to_string(),
        content_type: content_type(path),
        fingerprinted,
        md5: md5_hex(bytes),
        sha256: hex::encode(Sha256::digest(bytes)),
        size: bytes.len() as u64,
    }
}

/// The Content-Type to serve `path` with: the maintained `mime_guess` table, plus `charset=utf-8`
/// for text formats (we require text sources to be UTF-8).
pub fn content_type(path: &str) -> String {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let essence = mime.essence_str();
    let texty = mime.type_() == mime_guess::mime::TEXT
        || matches!(
            essence,
            "application/javascript" | "application/json" | "application/manifest+json" | "image/svg+xml"
        )
        || essence.ends_with("+json");
    if texty && mime.get_param("charset").is_none() { format!("{essence}; charset=utf-8") } else { mime.to_string() }
}

fn extension(path: &str) -> String {
    let name = path.rsplit('/').next().unwrap_or(path);
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => ext.to_ascii_lowercase(),
        _ => String::new(),
    }
}

fn read_sources(static_dir: &Path) -> Result<BTreeMap<String, Source>, BundleError> {
    let hint_dir = "the front end lives in static/ at the project root (index.html, JS modules, CSS, images)";
    match std::fs::metadata(static_dir) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(error(format!("{} is not a directory", static_dir.display()), hint_dir)),
        Err(e) => return Err(error(format!("cannot read the site directory {}: {e}", static_dir.display()), hint_dir)),
    }
    let mut sources = BTreeMap::new();
    let walk = walkdir::WalkDir::new(static_dir)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !is_hidden(&e.file_name().to_string_lossy()))
        .filter(|e| e.as_ref().map_or(true, |e| !e.file_name().to_string_lossy().ends_with(".md")));
    for entry in walk {
        let entry =
            entry.map_err(|e| error(format!("cannot read {}: {e}", static_dir.display()), "check permissions"))?;
        if entry.file_type().is_symlink() {
            return Err(error(
                format!("{} is a symbolic link", entry.path().display()),
                "copy the file into static/ instead: the bundle holds only regular files",
            ));
        }
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(static_dir).expect("walkdir yields paths under its root");
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .ok_or_else(|| error(format!("{} is not a UTF-8 path", entry.path().display()), "rename the file"))?
            .join("/");
        let bytes = std::fs::read(entry.path()).map_err(|e| {
            error(format!("cannot read {}: {e}", entry.path().display()), "check the file's permissions")
        })?;
        let ext = extension(&rel);
        let kind = match ext.as_str() {
            "html" | "htm" => Kind::Html,
            "css" => Kind::Css,
            "js" | "mjs" => Kind::Js,
            _ => Kind::Other,
        };
        if kind != Kind::Other && std::str::from_utf8(&bytes).is_err() {
            return Err(error(format!("{} is not valid UTF-8", entry.path().display()), "save it as UTF-8"));
        }
        let fingerprint = FINGERPRINTED.contains(&ext.as_str());
        sources.insert(rel, Source { kind, bytes, fingerprint });
    }
    if sources.is_empty() {
        return Err(error(format!("{} holds no files", static_dir.display()), hint_dir));
    }
    Ok(sources)
}

/// Output path -> (bytes, fingerprinted).
type Outputs = BTreeMap<String, (Vec<u8>, bool)>;

/// Source path -> output path.
type Renames = BTreeMap<String, String>;

/// Returns (outputs, renames, warnings).
fn process(sources: &BTreeMap<String, Source>) -> Result<(Outputs, Renames, Vec<String>), BundleError> {
    // What each text file refers to (resolved source paths); binary files refer to nothing.
    let mut deps: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (path, source) in sources {
        let mut found = BTreeSet::new();
        if source.kind != Kind::Other {
            let text = std::str::from_utf8(&source.bytes).expect("checked in read_sources");
            rewrite(source.kind, text, &mut |spec| {
                if let Some(target) = resolve(path, spec, source.kind, sources) {
                    found.insert(target);
                }
                None
            });
        }
        deps.insert(path, found);
    }

    // Source path -> output path, known as soon as it is decided. Files that are never fingerprinted
    // (HTML, config.json, favicon.ico, ...) keep their names whatever their content: known up front,
    // so references to them (a page linking itself, JS fetching config.json) never wait.
    let mut renames: BTreeMap<String, String> =
        sources.iter().filter(|(_, s)| !s.fingerprint).map(|(p, _)| (p.clone(), p.clone())).collect();
    let mut outputs = Outputs::new();
    let mut warnings = Vec::new();
    let mut pending: BTreeSet<&str> = sources.keys().map(String::as_str).collect();
    while !pending.is_empty() {
        let ready: Vec<&str> =
            pending.iter().copied().filter(|p| deps[p].iter().all(|d| renames.contains_key(d))).collect();
        if ready.is_empty() {
            // Stuck: what is left is on an import cycle (a module's name would depend on itself) or
            // depends on one. Cycle members keep their names; then their importers can proceed.
            let on_cycle: Vec<&str> = pending.iter().copied().filter(|p| on_cycle(p, &deps, &renames)).collect();
            let keep = if on_cycle.is_empty() { pending.iter().copied().collect() } else { on_cycle };
            for path in keep {
                renames.insert(path.to_string(), path.to_string());
            }
            continue;
        }
        for path in ready {
            pending.remove(path);
            let source = &sources[path];
            let bytes = if source.kind == Kind::Other {
                source.bytes.clone()
            } else {
                let text = std::str::from_utf8(&source.bytes).expect("checked in read_sources");
                rewrite(source.kind, text, &mut |spec| {
                    rewritten(path, spec, source.kind, sources, &renames, &mut warnings)
                })
                .into_bytes()
            };
            let out = match renames.get(path) {
                Some(fixed) => fixed.clone(),
                None => fingerprinted_name(path, &bytes),
            };
            if out != path && sources.contains_key(&out) {
                return Err(error(
                    format!("the fingerprinted name of static/{path} is static/{out}, which also exists"),
                    "rename or remove one of them: names like name.<10 hex>.ext are reserved for the bundler",
                ));
            }
            let fingerprinted = out != path;
            if outputs.insert(out.clone(), (bytes, fingerprinted)).is_some() {
                return Err(error(
                    format!("two files of static/ both become {out} after fingerprinting"),
                    "rename one of them",
                ));
            }
            renames.insert(path.to_string(), out);
        }
    }
    // A file whose renamed twin collides with a later, unrenamed source is caught above; one whose
    // unrenamed name equals an earlier fingerprinted output is caught by `outputs.insert`.
    warnings.extend(missed_references(sources, &outputs, &renames));
    warnings.sort();
    warnings.dedup();
    Ok((outputs, renames, warnings))
}

/// Old names of fingerprinted files still mentioned in text outputs, e.g. a JS string
/// `'/favicon.svg'` the rewriter cannot know is a URL: that URL would 404, so say so.
fn missed_references(sources: &BTreeMap<String, Source>, outputs: &Outputs, renames: &Renames) -> Vec<String> {
    let renamed: Vec<(&str, &str)> = renames
        .iter()
        .filter(|(src, out)| src != out)
        .map(|(src, out)| (src.rsplit('/').next().unwrap_or(src), out.as_str()))
        .collect();
    let mut warnings = Vec::new();
    for (src, out) in renames {
        if sources[src].kind == Kind::Other {
            continue;
        }
        let text = String::from_utf8_lossy(&outputs[out].0);
        for (old_name, new_path) in &renamed {
            let bounded = text.match_indices(old_name).any(|(at, _)| {
                let before = text[..at].chars().next_back();
                let after = text[at + old_name.len()..].chars().next();
                matches!(before, Some('/' | '"' | '\'' | '`' | '(' | '='))
                    && matches!(after, None | Some('"' | '\'' | '`' | ')' | '?' | '#' | ' '))
            });
            if bounded {
                warnings
                    .push(format!("{src}: mentions {old_name}, which is published only as {new_path}; left as it is"));
            }
        }
    }
    warnings
}

/// Whether `start` can reach itself through references whose names are not decided yet.
fn on_cycle(start: &str, deps: &BTreeMap<&str, BTreeSet<String>>, named: &BTreeMap<String, String>) -> bool {
    let mut seen = BTreeSet::new();
    let mut stack: Vec<&str> = deps[start].iter().map(String::as_str).collect();
    while let Some(next) = stack.pop() {
        if named.contains_key(next) || !seen.insert(next) {
            continue;
        }
        if next == start {
            return true;
        }
        stack.extend(deps[next].iter().map(String::as_str));
    }
    false
}

/// `dir/app.js` + bytes -> `dir/app.<hash>.js`.
pub fn fingerprinted_name(path: &str, bytes: &[u8]) -> String {
    let hash = &hex::encode(Sha256::digest(bytes))[..FINGERPRINT_LEN];
    let (dir, name) = match path.rsplit_once('/') {
        Some((dir, name)) => (format!("{dir}/"), name),
        None => (String::new(), path),
    };
    match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{dir}{stem}.{hash}.{ext}"),
        _ => format!("{dir}{name}.{hash}"),
    }
}

/// The new text of a reference `spec` found in `from`, or `None` to leave it as it is.
fn rewritten(
    from: &str,
    spec: &str,
    kind: Kind,
    sources: &BTreeMap<String, Source>,
    renames: &BTreeMap<String, String>,
    warnings: &mut Vec<String>,
) -> Option<String> {
    if !is_local(spec, kind) {
        return None;
    }
    let path_part = &spec[..spec.find(['?', '#']).unwrap_or(spec.len())];
    if path_part.is_empty() || path_part.ends_with('/') {
        return None; // a directory or the page itself: nothing to rename
    }
    let Some(target) = resolve(from, spec, kind, sources) else {
        warnings.push(format!("{from}: {spec} names no file of the bundle; left as it is"));
        return None;
    };
    let new_name = renames[&target].rsplit('/').next().expect("non-empty").to_string();
    // Fingerprinting only changes the last path segment: swap it, keep the rest (./, ../, /, query).
    let end = spec.find(['?', '#']).unwrap_or(spec.len());
    let (path_part, suffix) = spec.split_at(end);
    let start = path_part.rfind('/').map_or(0, |i| i + 1);
    Some(format!("{}{new_name}{suffix}", &path_part[..start]))
}

/// Whether `spec` may name a file of the bundle (not a URL, data URI, fragment or bare specifier).
fn is_local(spec: &str, kind: Kind) -> bool {
    if spec.is_empty() || spec.starts_with('#') || spec.starts_with("//") {
        return false;
    }
    if kind == Kind::Js {
        return spec.starts_with("./") || spec.starts_with("../") || spec.starts_with('/');
    }
    // A scheme: letters, digits, + - . then ':' before any '/'.
    let scheme = spec.split_once(':').is_some_and(|(head, _)| {
        !head.is_empty() && !head.contains('/') && head.chars().all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    });
    !scheme && !spec.contains("{{") && !spec.contains("${")
}

/// The source path `spec` (found in `from`) refers to, if it is a file of the bundle.
fn resolve(from: &str, spec: &str, kind: Kind, sources: &BTreeMap<String, Source>) -> Option<String> {
    if !is_local(spec, kind) {
        return None;
    }
    let path = &spec[..spec.find(['?', '#']).unwrap_or(spec.len())];
    let mut parts: Vec<&str> = if path.starts_with('/') {
        Vec::new()
    } else {
        from.split('/').collect::<Vec<_>>().split_last().map(|(_, dir)| dir.to_vec()).unwrap_or_default()
    };
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    let resolved = parts.join("/");
    sources.contains_key(&resolved).then_some(resolved)
}

struct Patterns {
    html_attr: Regex,
    html_script: Regex,
    css_url: Regex,
    css_import: Regex,
    js_static: Regex,
    js_dynamic: Regex,
}

fn patterns() -> &'static Patterns {
    static PATTERNS: OnceLock<Patterns> = OnceLock::new();
    PATTERNS.get_or_init(|| Patterns {
        // src="..." href='...' src=bare (srcset is not handled: use src).
        html_attr: Regex::new(r#"(?i)(\s(?:src|href)\s*=\s*)(?:"([^"]*)"|'([^']*)'|([^\s"'=<>`]+))"#)
            .expect("valid regex"),
        html_script: Regex::new(r"(?is)(<script\b[^>]*>)(.*?)(</script\s*>)").expect("valid regex"),
        css_url: Regex::new(r#"(?i)(url\(\s*)(?:"([^"]*)"|'([^']*)'|([^"')\s]+))(\s*\))"#).expect("valid regex"),
        css_import: Regex::new(r#"(?i)(@import\s+)(?:"([^"]*)"|'([^']*)')"#).expect("valid regex"),
        // import x from './a.js' | import {a, b} from "./a.js" | import './a.js' | export * from './a.js'
        js_static: Regex::new(r#"(\b(?:import|export)\s*(?:[\w*${}\s,]*?\s*\bfrom\s*)?)(?:"([^"\n]*)"|'([^'\n]*)')"#)
            .expect("valid regex"),
        // import('./a.js')
        js_dynamic: Regex::new(r#"(\bimport\s*\(\s*)(?:"([^"\n]*)"|'([^'\n]*)')(\s*\))"#).expect("valid regex"),
    })
}

/// Calls `f` on every reference in `text` (a file of `kind`) and replaces those for which
/// it returns `Some(new)`. Quotes and surrounding syntax are kept as they were.
fn rewrite(kind: Kind, text: &str, f: &mut dyn FnMut(&str) -> Option<String>) -> String {
    let p = patterns();
    match kind {
        Kind::Other => text.to_string(),
        Kind::Html => {
            // Inline scripts first (module imports), then attributes everywhere.
            let text = replace_all(&p.html_script, text, &mut |caps: &Captures<'_>| {
                let body = rewrite(Kind::Js, &caps[2], f);
                format!("{}{body}{}", &caps[1], &caps[3])
            });
            replace_quoted(&p.html_attr, &text, Some(4), f)
        }
        Kind::Css => {
            let text = replace_quoted(&p.css_url, text, Some(4), f);
            replace_quoted(&p.css_import, &text, None, f)
        }
        Kind::Js => {
            let text = replace_quoted(&p.js_static, text, None, f);
            replace_quoted(&p.js_dynamic, &text, None, f)
        }
    }
}

fn replace_all(re: &Regex, text: &str, f: &mut dyn FnMut(&Captures<'_>) -> String) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let whole = caps.get(0).expect("group 0");
        out.push_str(&text[last..whole.start()]);
        out.push_str(&f(&caps));
        last = whole.end();
    }
    out.push_str(&text[last..]);
    out
}

/// For patterns shaped `(prefix)(?:"(dq)"|'(sq)'|(bare)?)(suffix)?`: rewrites the quoted value.
fn replace_quoted(
    re: &Regex,
    text: &str,
    bare_group: Option<usize>,
    f: &mut dyn FnMut(&str) -> Option<String>,
) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let value = caps.get(2).or_else(|| caps.get(3)).or_else(|| bare_group.and_then(|g| caps.get(g)));
        let Some(value) = value else { continue };
        let Some(new) = f(value.as_str()) else { continue };
        out.push_str(&text[last..value.start()]);
        out.push_str(&new);
        last = value.end();
    }
    out.push_str(&text[last..]);
    out
}

/// `files` as pretty JSON with sorted keys (the bundle's own manifest, e.g. next to a bundle in OUT_DIR).
pub fn manifest_json(files: &BTreeMap<String, SiteFile>) -> String {
    let mut text = serde_json::to_string_pretty(files).expect("the manifest serializes");
    text.push('\n');
    text
}
