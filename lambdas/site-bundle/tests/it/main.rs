//! The static site bundler: fingerprinting, reference rewriting, serving metadata,
//! and its refusals. Fixture sites are written to temp dirs.

use std::path::Path;

use expect_test::{Expect, expect};
use site_bundle::{self as site, Bundle};

/// Writes `files` (path, content) under a fresh temp dir's `static/`.
fn site_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, content) in files {
        let path = dir.path().join("static").join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

fn bundle(dir: &Path) -> Result<Bundle, site::BundleError> {
    let out = dir.join(format!("out-{}", std::fs::read_dir(dir).unwrap().count()));
    site::bundle(&dir.join("static"), &out)
}

/// Renders a bundle as: one line per file (name, cache-control, content-type), then every text
/// output's content, then warnings.
fn render(files: &[(&str, &str)]) -> String {
    let tmp = site_dir(files);
    let out = tmp.path().join("out");
    let bundle = match site::bundle(&tmp.path().join("static"), &out) {
        Ok(b) => b,
        Err(e) => return format!("error: {}\nhint: {}\n", e.what, e.hint),
    };
    let mut text = String::new();
    for (path, file) in &bundle.files {
        text.push_str(&format!("{path}  [{}] [{}]\n", file.cache_control, file.content_type));
    }
    for path in bundle.files.keys() {
        let content = std::fs::read(out.join(path)).unwrap();
        let content = String::from_utf8_lossy(&content);
        if content != files.iter().find(|(p, _)| p == path).map_or("", |(_, c)| *c) {
            text.push_str(&format!("--- {path}\n{content}"));
            if !content.ends_with('\n') {
                text.push('\n');
            }
        }
    }
    for warning in &bundle.warnings {
        text.push_str(&format!("warning: {warning}\n"));
    }
    text
}

fn check(files: &[(&str, &str)], expect: &Expect) {
    expect.assert_eq(&render(files));
}

#[test]
fn fingerprints_assets_and_rewrites_html_css_and_js_references() {
    check(
        &[
            (
                "index.html",
                "<!doctype html>\n<link rel=\"stylesheet\" href=\"/css/app.css?v=1\">\n<link rel=\"icon\" href=\"favicon.ico\">\n\
                 <script type=\"module\" src=\"./js/main.js\"></script>\n\
                 <script type=\"module\">import { start } from './js/main.js'; start();</script>\n\
                 <a href=\"https://example.com/x.js\">x</a> <a href=\"#top\">top</a> <a href=\"/\">home</a>\n",
            ),
            ("config.json", "{\"apiUrl\": \"/api\"}\n"),
            ("favicon.ico", "ico"),
            ("README.md", "notes for developers, not published"),
            (
                "css/app.css",
                "@import \"./base.css\";\nbody { background: url(../img/bg.png) }\nh1 { background: url('data:image/png;base64,AAAA') }\n",
            ),
            ("css/base.css", "html { font: 16px sans-serif }\n"),
            ("img/bg.png", "png bytes"),
            (
                "js/main.js",
                "import { api } from './api.js';\nimport {\n  render,\n  escape as esc,\n} from \"./ui/render.js\";\n\
                 export * from './api.js';\nimport 'https://cdn.example.com/lib.js';\nimport x from 'bare-package';\n\
                 export function start() { return import('./lazy.js').then(m => m.go(api, render, esc)); }\n",
            ),
            ("js/api.js", "export const api = '/api';\n"),
            ("js/lazy.js", "export const go = () => 1;\n"),
            (
                "js/ui/render.js",
                "import { api } from '../api.js';\nexport const render = () => api;\nexport const escape = (s) => s;\n",
            ),
        ],
        &expect![[r##"
            config.json  [no-cache] [application/json; charset=utf-8]
            css/app.6ce9f84d8a.css  [public, max-age=31536000, immutable] [text/css; charset=utf-8]
            css/base.4c7f0f71bc.css  [public, max-age=31536000, immutable] [text/css; charset=utf-8]
            favicon.ico  [no-cache] [image/x-icon]
            img/bg.d013614dc1.png  [public, max-age=31536000, immutable] [image/png]
            index.html  [no-cache] [text/html; charset=utf-8]
            js/api.c0dfc4d137.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            js/lazy.e69602f93b.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            js/main.3264f2f2e7.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            js/ui/render.a5c67d85d2.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            --- css/app.6ce9f84d8a.css
            @import "./base.4c7f0f71bc.css";
            body { background: url(../img/bg.d013614dc1.png) }
            h1 { background: url('data:image/png;base64,AAAA') }
            --- css/base.4c7f0f71bc.css
            html { font: 16px sans-serif }
            --- img/bg.d013614dc1.png
            png bytes
            --- index.html
            <!doctype html>
            <link rel="stylesheet" href="/css/app.6ce9f84d8a.css?v=1">
            <link rel="icon" href="favicon.ico">
            <script type="module" src="./js/main.3264f2f2e7.js"></script>
            <script type="module">import { start } from './js/main.3264f2f2e7.js'; start();</script>
            <a href="https://example.com/x.js">x</a> <a href="#top">top</a> <a href="/">home</a>
            --- js/api.c0dfc4d137.js
            export const api = '/api';
            --- js/lazy.e69602f93b.js
            export const go = () => 1;
            --- js/main.3264f2f2e7.js
            import { api } from './api.c0dfc4d137.js';
            import {
              render,
              escape as esc,
            } from "./ui/render.a5c67d85d2.js";
            export * from './api.c0dfc4d137.js';
            import 'https://cdn.example.com/lib.js';
            import x from 'bare-package';
            export function start() { return import('./lazy.e69602f93b.js').then(m => m.go(api, render, esc)); }
            --- js/ui/render.a5c67d85d2.js
            import { api } from '../api.c0dfc4d137.js';
            export const render = () => api;
            export const escape = (s) => s;
        "##]],
    );
}

#[test]
fn import_cycles_keep_their_names_and_are_not_cached() {
    check(
        &[
            ("index.html", "<script type=\"module\" src=\"main.js\"></script>\n"),
            ("main.js", "import { a } from './a.js';\nimport { leaf } from './leaf.js';\n"),
            ("a.js", "import { b } from './b.js';\nexport const a = 1;\n"),
            ("b.js", "import { a } from './a.js';\nimport { leaf } from './leaf.js';\nexport const b = 2;\n"),
            ("leaf.js", "import './leaf.js';\nexport const leaf = 3;\n"),
        ],
        &expect![[r#"
            a.js  [no-cache] [text/javascript; charset=utf-8]
            b.js  [no-cache] [text/javascript; charset=utf-8]
            index.html  [no-cache] [text/html; charset=utf-8]
            leaf.js  [no-cache] [text/javascript; charset=utf-8]
            main.a2c6993a04.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            --- index.html
            <script type="module" src="main.a2c6993a04.js"></script>
            --- main.a2c6993a04.js
            import { a } from './a.js';
            import { leaf } from './leaf.js';
        "#]],
    );
}

#[test]
fn references_to_missing_files_are_warnings() {
    check(
        &[
            ("index.html", "<script src=\"./nope.js\"></script><img src=\"img/x.png\">\n"),
            ("app.js", "import './gone.js';\n"),
        ],
        &expect![[r#"
            app.c473e5cebb.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            index.html  [no-cache] [text/html; charset=utf-8]
            --- app.c473e5cebb.js
            import './gone.js';
            warning: app.js: ./gone.js names no file of the bundle; left as it is
            warning: index.html: ./nope.js names no file of the bundle; left as it is
            warning: index.html: img/x.png names no file of the bundle; left as it is
        "#]],
    );
}

#[test]
fn fingerprint_name_collisions_are_refused() {
    // A name that merely looks fingerprinted is just a name.
    check(
        &[("app.js", "export {}\n"), ("app.1a9d8c0e2f.js", "x")],
        &expect![[r#"
            app.1a9d8c0e2f.2d711642b7.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            app.7992a39d6c.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            --- app.1a9d8c0e2f.2d711642b7.js
            x
            --- app.7992a39d6c.js
            export {}
        "#]],
    );
    let app = "export {}\n";
    let twin = site::fingerprinted_name("app.js", app.as_bytes());
    check(
        &[("app.js", app), (&twin, "collides")],
        &expect![[r#"
            error: the fingerprinted name of static/app.js is static/app.7992a39d6c.js, which also exists
            hint: rename or remove one of them: names like name.<10 hex>.ext are reserved for the bundler
        "#]],
    );
}

#[test]
fn missing_empty_and_unreadable_static_dirs_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let err = site::bundle(&dir.path().join("static"), &out).unwrap_err();
    assert!(err.what.starts_with("cannot read the site directory"), "{err:?}");
    std::fs::create_dir_all(dir.path().join("static/.git")).unwrap();
    std::fs::write(dir.path().join("static/.DS_Store"), "hidden").unwrap();
    let err = site::bundle(&dir.path().join("static"), &out).unwrap_err();
    assert!(err.what.ends_with("static holds no files"), "{err:?}");
    std::fs::write(dir.path().join("static/bad.js"), [0xff, 0xfe, 0x00]).unwrap();
    let err = site::bundle(&dir.path().join("static"), &out).unwrap_err();
    assert!(err.what.ends_with("bad.js is not valid UTF-8"), "{err:?}");
    std::fs::remove_file(dir.path().join("static/bad.js")).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", dir.path().join("static/link.txt")).unwrap();
    let err = site::bundle(&dir.path().join("static"), &out).unwrap_err();
    assert!(err.what.ends_with("link.txt is a symbolic link"), "{err:?}");
}

/// Names change when and only when content (own bytes, or the names of what a file references)
/// changes; mtimes and unrelated edits change nothing.
#[test]
fn fingerprints_change_when_and_only_when_content_changes() {
    let files = [
        ("index.html", "<link rel=\"stylesheet\" href=\"style.css\"><script type=\"module\" src=\"app.js\"></script>"),
        ("app.js", "import { greet } from './greet.js';\ngreet();\n"),
        ("greet.js", "export const greet = () => 'hi';\n"),
        ("style.css", "body { background: url(bg.png) }\n"),
        ("bg.png", "png"),
    ];
    let dir = site_dir(&files);
    let names = |b: &Bundle| b.renames.clone();
    let first = bundle(dir.path()).unwrap();
    assert!(first.files.values().filter(|f| f.fingerprinted).count() == 4);

    // Same bytes, new mtime: identical bundle.
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(dir.path().join("static/greet.js"), files[2].1).unwrap();
    assert_eq!(bundle(dir.path()).unwrap(), first);

    // A leaf module changes: it and its importer get new names; CSS and images keep theirs.
    std::fs::write(dir.path().join("static/greet.js"), "export const greet = () => 'hello';\n").unwrap();
    let second = bundle(dir.path()).unwrap();
    let changed = |a: &Bundle, b: &Bundle| {
        names(a).into_iter().filter(|(src, out)| b.renames[src] != *out).map(|(src, _)| src).collect::<Vec<_>>()
    };
    assert_eq!(changed(&first, &second), ["app.js", "greet.js"]);
    assert_ne!(first.files["index.html"].sha256, second.files["index.html"].sha256);

    // An image changes: it and the CSS that references it; the JS keeps its names.
    std::fs::write(dir.path().join("static/bg.png"), "png2").unwrap();
    let third = bundle(dir.path()).unwrap();
    assert_eq!(changed(&second, &third), ["bg.png", "style.css"]);

    // Changing it back restores the original names exactly.
    std::fs::write(dir.path().join("static/bg.png"), "png").unwrap();
    std::fs::write(dir.path().join("static/greet.js"), files[2].1).unwrap();
    assert_eq!(bundle(dir.path()).unwrap(), first);
}

#[test]
fn content_types() {
    let check = |path: &str, expect: &str| assert_eq!(site::content_type(path), expect, "{path}");
    check("index.html", "text/html; charset=utf-8");
    check("a/app.1234567890.js", "text/javascript; charset=utf-8");
    check("app.css", "text/css; charset=utf-8");
    check("config.json", "application/json; charset=utf-8");
    check("logo.svg", "image/svg+xml; charset=utf-8");
    check("bg.png", "image/png");
    check("font.woff2", "font/woff2");
    check("no-extension", "application/octet-stream");
}

#[test]
fn unquoted_attributes_and_references_the_rewriter_cannot_see() {
    check(
        &[
            ("index.html", "<img src=logo.svg alt=x><script type=module src=app.js></script>\n"),
            ("logo.svg", "<svg/>"),
            ("app.js", "const icon = '/logo.svg';\nconst url = new URL('./logo.svg', import.meta.url);\n"),
        ],
        &expect![[r#"
            app.7eba7c4609.js  [public, max-age=31536000, immutable] [text/javascript; charset=utf-8]
            index.html  [no-cache] [text/html; charset=utf-8]
            logo.d4dc566691.svg  [public, max-age=31536000, immutable] [image/svg+xml; charset=utf-8]
            --- app.7eba7c4609.js
            const icon = '/logo.svg';
            const url = new URL('./logo.svg', import.meta.url);
            --- index.html
            <img src=logo.d4dc566691.svg alt=x><script type=module src=app.7eba7c4609.js></script>
            --- logo.d4dc566691.svg
            <svg/>
            warning: app.js: mentions logo.svg, which is published only as logo.d4dc566691.svg; left as it is
        "#]],
    );
}
