//! `cargo xtask build`: every Lambda for arm64 (`provided.al2023`) through cargo-lambda, plus the
//! site bundle, into a dist directory (see [`crate::artifacts`] for its layout).
//!
//! Functions are discovered, not listed: every workspace package whose Cargo.toml has
//!
//! ```toml
//! [package.metadata.xtask.lambda]
//! function = "api"                   # also the name of the package's [[bin]]
//! code-key-parameter = "ApiCodeKey"  # the stack parameter that receives the zip's S3 key
//! ```
//!
//! Reproducibility: the same commit built in two different clean checkouts (different absolute
//! paths, different target dirs) gives byte-identical zips. The build sets `RUSTFLAGS` to exactly
//! [`rustflags`] (any `RUSTFLAGS` in the environment is ignored for this build): the workspace root,
//! the target dir, `CARGO_HOME` and the rustup toolchain are remapped to fixed names, so no absolute
//! path of this machine lands in the binary (panic locations, `file!()`); C code gets the same maps
//! through [`cflags`]; `SOURCE_DATE_EPOCH` is fixed for any build script that stamps a date. The
//! zip itself is deterministic ([`crate::package`]). cargo-lambda's own release overrides are off
//! (`--disable-optimizations`): the workspace's `[profile.release]` decides.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;
use serde::Deserialize;

use crate::Ctx;
use crate::artifacts::{ARCHITECTURE, Artifacts, FunctionEntry, MANIFEST_VERSION, Manifest, SiteBundle, sha256_hex};
use crate::errors::Refusal;
use crate::step::Steps;
use crate::tools::Tools;
use crate::{package, site};

/// The Rust target of Lambda's arm64 `provided.al2023` runtime.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// `SOURCE_DATE_EPOCH` of every build: 1980-01-01T00:00:00Z, the zip epoch.
pub const SOURCE_DATE_EPOCH: &str = "315532800";

/// Build every Lambda for arm64 (provided.al2023) and the site bundle into target/xtask/artifacts
#[derive(clap::Args, Debug)]
pub struct Build {}

impl Build {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let artifacts = build_artifacts(ctx)?;
        crate::dist::print_summary(&artifacts);
        Ok(())
    }
}

/// Builds every Lambda function and the site bundle (what `cargo xtask build` and `deploy` call).
///
/// Writes a complete dist directory to `<target dir>/xtask/artifacts` (same layout as
/// `cargo xtask dist`, replaced atomically) and returns it read back and verified.
pub fn build_artifacts(ctx: &Ctx) -> anyhow::Result<Artifacts> {
    let builder = Builder::from_ctx(ctx)?;
    builder.write_dist(&ctx.target_dir().join("xtask/artifacts"))
}

/// One Lambda function found in the workspace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LambdaFunction {
    /// Function (and `[[bin]]`) name, e.g. `api`.
    pub function: String,
    /// Cargo package name, e.g. `notes-api`.
    pub package: String,
    /// e.g. `ApiCodeKey`.
    pub code_key_parameter: String,
}

/// Everything a Lambda build depends on, explicit so tests can build a fixture project with its own
/// target dir side by side with other tests.
#[derive(Debug, Clone)]
pub struct Builder {
    /// The project (workspace root): `cargo metadata` runs here, `static/` is bundled from here.
    pub root: PathBuf,
    /// Cargo's target dir for the Lambda build.
    pub target_dir: PathBuf,
    /// `PATH` for child processes: must find `cargo-lambda` and zig.
    pub path_env: OsString,
    /// Hide cargo-lambda's output (tests); a failure still names cargo's first error.
    pub quiet: bool,
}

impl Builder {
    /// The project's builder: pinned tools installed (cargo-lambda, zig), the shared target dir.
    pub fn from_ctx(ctx: &Ctx) -> anyhow::Result<Builder> {
        let tools = Tools::ensure(ctx)?;
        Ok(Builder { root: ctx.root.clone(), target_dir: ctx.target_dir(), path_env: tools.path_env(), quiet: false })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root).env("PATH", &self.path_env);
        cmd
    }

    /// Runs `program args` in the project and returns its trimmed stdout, or `None` when it cannot
    /// be started or fails.
    fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = self.command(program).args(args).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The Lambda functions declared in the workspace, sorted by function name (zero is fine).
    pub fn discover(&self) -> anyhow::Result<Vec<LambdaFunction>> {
        let out = self
            .command("cargo")
            .args(["metadata", "--no-deps", "--format-version", "1"])
            .stderr(Stdio::inherit())
            .output()
            .context("cannot run `cargo metadata`")?;
        if !out.status.success() {
            return Err(Refusal::new(
                format!("`cargo metadata` failed in {}", self.root.display()),
                "fix the Cargo.toml error printed above",
            )
            .into());
        }
        discover_in_metadata(&out.stdout)
    }

    /// Checks (and where it can, fixes) what the arm64 build needs; returns tool name -> version.
    pub fn check_toolchain(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut tools = BTreeMap::new();
        let rustc = self
            .output("rustc", &["-V"])
            .ok_or_else(|| Refusal::new("cannot run `rustc -V`", "install Rust with rustup: https://rustup.rs"))?;
        tools.insert("rustc".to_string(), rustc);
        // rustup manages the toolchain here (rust-toolchain.toml): add the target when it is missing.
        if let Some(installed) = self.output("rustup", &["target", "list", "--installed"])
            && !installed.lines().any(|l| l.trim() == TARGET)
        {
            eprintln!("    adding the Rust target {TARGET} (once per toolchain)");
            let status = self.command("rustup").args(["target", "add", TARGET]).status();
            if !status.is_ok_and(|s| s.success()) {
                return Err(Refusal::new(
                    format!("the Rust target {TARGET} is not installed"),
                    format!("run `rustup target add {TARGET}` in {}", self.root.display()),
                )
                .into());
            }
        }
        let cargo_lambda = self.output("cargo", &["lambda", "--version"]).ok_or_else(|| {
            let pin = std::fs::read_to_string(self.root.join("xtask/python-tools.txt"))
                .ok()
                .and_then(|pins| pins.lines().find(|l| l.starts_with("cargo-lambda==")).map(str::to_string))
                .unwrap_or_else(|| "cargo-lambda".to_string());
            Refusal::new(
                "cargo-lambda is not installed (not on PATH, not in the tools venv)",
                format!(
                    "`cargo xtask build` installs it into target/tools/venv; by hand: pip install {pin} (it brings zig)"
                ),
            )
        })?;
        tools.insert("cargo-lambda".to_string(), cargo_lambda);
        let zig = self
            .output("zig", &["version"])
            .or_else(|| self.output("python3", &["-m", "ziglang", "version"]))
            .ok_or_else(|| {
                Refusal::new(
                    "zig (the cross linker cargo-lambda uses) is not installed",
                    "it comes with cargo-lambda's Python package; by hand: pip install ziglang",
                )
            })?;
        tools.insert("zig".to_string(), zig);
        Ok(tools)
    }

    /// Compiles `functions` for arm64 in release mode; returns each one's `bootstrap` path.
    pub fn compile(&self, functions: &[LambdaFunction]) -> anyhow::Result<Vec<PathBuf>> {
        if functions.is_empty() {
            return Ok(Vec::new());
        }
        let lambda_dir = self.target_dir.join("lambda");
        let bootstraps: Vec<PathBuf> =
            functions.iter().map(|f| lambda_dir.join(&f.function).join(package::BOOTSTRAP)).collect();
        for stale in &bootstraps {
            let _ = std::fs::remove_file(stale);
        }
        let mut cmd = self.command("cargo");
        cmd.args(["lambda", "build", "--release", "--arm64", "--output-format", "binary", "--locked"])
            // The workspace's [profile.release] decides (cargo-lambda would force panic=abort and
            // lto=thin over it); its one extra, target-cpu, is in `rustflags`.
            .arg("--disable-optimizations")
            .arg("--skip-target-check")
            .arg("--lambda-dir")
            .arg(&lambda_dir);
        for f in functions {
            cmd.args(["--package", &f.package, "--bin", &f.function]);
        }
        // Not --target-dir: cargo-lambda 1.9 passes it on to `cargo metadata`, which rejects it.
        cmd.env("CARGO_TARGET_DIR", &self.target_dir)
            .env("RUSTFLAGS", rustflags(&self.root, &self.target_dir))
            .env("CFLAGS_aarch64_unknown_linux_gnu", cflags(&self.root, &self.target_dir))
            .env("CXXFLAGS_aarch64_unknown_linux_gnu", cflags(&self.root, &self.target_dir))
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .env("SOURCE_DATE_EPOCH", SOURCE_DATE_EPOCH)
            .env("CARGO_TERM_PROGRESS_WHEN", "never")
            .stdin(Stdio::null());
        let (status, captured) = if self.quiet {
            let out = cmd.stdout(Stdio::null()).output().context("cannot run `cargo lambda build`")?;
            (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
        } else {
            (cmd.status().context("cannot run `cargo lambda build`")?, String::new())
        };
        if !status.success() {
            let names = functions.iter().map(|f| f.function.as_str()).collect::<Vec<_>>().join(", ");
            // Quiet builds keep cargo's output: its first error line makes the one-line cause.
            let first_error =
                captured.lines().find(|l| l.starts_with("error")).map(|l| format!(": {l}")).unwrap_or_default();
            return Err(Refusal::new(
                format!("`cargo lambda build` failed for {names} ({status}){first_error}"),
                "fix the compile error printed above; `cargo check --workspace` is faster for that",
            )
            .into());
        }
        Ok(bootstraps)
    }

    /// Builds everything and writes a complete dist directory at `out` (see [`crate::artifacts`]):
    /// into a temp dir next to it, renamed over `out` only when everything succeeded.
    pub fn write_dist(&self, out: &Path) -> anyhow::Result<Artifacts> {
        refuse_foreign_dir(out)?;
        let mut steps = Steps::default();
        let functions = steps.run("discover Lambda functions (cargo metadata)", || self.discover())?;
        if functions.is_empty() {
            eprintln!("    no package declares [package.metadata.xtask.lambda]: the dist holds the site only");
        } else {
            let names = functions.iter().map(|f| f.function.as_str()).collect::<Vec<_>>();
            eprintln!("    functions: {}", names.join(", "));
        }
        let tools = steps.run("toolchain (rustc, aarch64 target, cargo-lambda, zig)", || self.check_toolchain())?;
        let bootstraps = steps.run("cargo lambda build --release --arm64", || self.compile(&functions))?;
        let git_commit = self.git_commit();

        let parent = out.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        refuse_foreign_dir(out)?;
        let staging = tempfile::Builder::new()
            .prefix(".dist.tmp-")
            .tempdir_in(parent)
            .with_context(|| format!("cannot create a temp dir in {}", parent.display()))?;
        let stage = staging.path();

        let mut manifest = Manifest {
            functions: BTreeMap::new(),
            git_commit,
            site: BTreeMap::new(),
            tools,
            version: MANIFEST_VERSION,
        };
        steps.run("package bootstraps (ELF check, deterministic zip)", || {
            for (f, bootstrap) in functions.iter().zip(&bootstraps) {
                let zip = package::package_bootstrap(&f.function, bootstrap)?;
                let sha256 = sha256_hex(&zip);
                let key = format!("lambdas/{}/{sha256}.zip", f.function);
                let path = stage.join(&key);
                std::fs::create_dir_all(path.parent().expect("key has a parent"))?;
                std::fs::write(&path, &zip).with_context(|| format!("cannot write {}", path.display()))?;
                let entry = FunctionEntry {
                    architecture: ARCHITECTURE.to_string(),
                    code_key_parameter: f.code_key_parameter.clone(),
                    key,
                    sha256,
                    size: zip.len() as u64,
                };
                manifest.functions.insert(f.function.clone(), entry);
            }
            Ok(())
        })?;
        steps.run("site bundle (static/)", || {
            let bundle = bundle_site(&self.root.join("static"), &stage.join("site"))?;
            for warning in &bundle.warnings {
                eprintln!("    warning: static/{warning}");
            }
            manifest.site = bundle.files;
            Ok(())
        })?;
        std::fs::write(stage.join("manifest.json"), manifest.to_json())?;
        write_sha256sums(stage)?;
        let staged = Artifacts::from_dist(stage).context("the staged dist does not verify")?;
        if let Err(err) = crate::dist::check_budgets(&staged) {
            crate::dist::print_summary(&staged);
            return Err(err);
        }
        replace_dir(staging, out)?;
        steps.summary();
        Artifacts::from_dist(out)
    }

    /// `git rev-parse HEAD` of the project, `-dirty` when tracked files differ from it, or `unknown`.
    pub fn git_commit(&self) -> String {
        let Some(head) = self.output("git", &["rev-parse", "HEAD"]) else {
            return "unknown".to_string();
        };
        let dirty = self
            .output("git", &["status", "--porcelain", "--untracked-files=no"])
            .is_some_and(|status| !status.is_empty());
        if dirty { format!("{head}-dirty") } else { head }
    }
}

/// This machine's absolute paths and the fixed names they are replaced with in the artifacts.
/// Later entries win in rustc (and are more specific), so the target dir (often inside the
/// workspace) comes after the workspace.
pub fn path_maps(root: &Path, target_dir: &Path) -> Vec<(PathBuf, &'static str)> {
    let mut maps = Vec::new();
    if let Some(home) = cargo_home() {
        maps.push((home, "/cargo"));
    }
    if let Some(rustup) = rustup_home() {
        maps.push((rustup, "/rustup"));
    }
    maps.push((root.to_path_buf(), "/workspace"));
    maps.push((target_dir.to_path_buf(), "/target"));
    maps
}

/// `RUSTFLAGS` of the Lambda build: `-C target-cpu=neoverse-n1` (Graviton2, what Lambda arm64 runs
/// on; cargo-lambda's release default, which we turn off with the rest of its overrides), then a
/// `--remap-path-prefix` for each of [`path_maps`].
pub fn rustflags(root: &Path, target_dir: &Path) -> String {
    let mut flags = vec!["-C target-cpu=neoverse-n1".to_string()];
    flags.extend(
        path_maps(root, target_dir).iter().map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display())),
    );
    flags.join(" ")
}

/// `CFLAGS`/`CXXFLAGS` for C and C++ compiled for the target (ring, aws-lc through cc-rs and zig
/// cc): `-ffile-prefix-map` for each of [`path_maps`], so `__FILE__` in assertions and debug
/// info carry no absolute path of this machine either.
pub fn cflags(root: &Path, target_dir: &Path) -> String {
    path_maps(root, target_dir)
        .iter()
        .map(|(from, to)| format!("-ffile-prefix-map={}={to}", from.display()))
        .collect::<Vec<_>>()
        .join(" ")
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::home_dir().map(|h| h.join(".cargo")))
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| std::env::home_dir().map(|h| h.join(".rustup")))
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(Deserialize)]
struct MetaPackage {
    name: String,
    #[serde(default)]
    metadata: Option<serde_json::Value>,
    targets: Vec<MetaTarget>,
    manifest_path: PathBuf,
}

#[derive(Deserialize)]
struct MetaTarget {
    name: String,
    kind: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
struct LambdaMeta {
    function: String,
    code_key_parameter: String,
}

/// The Lambda functions in `cargo metadata --no-deps --format-version 1` output.
pub fn discover_in_metadata(json: &[u8]) -> anyhow::Result<Vec<LambdaFunction>> {
    let metadata: Metadata = serde_json::from_slice(json).context("cannot parse `cargo metadata` output")?;
    let mut functions: Vec<LambdaFunction> = Vec::new();
    for package in metadata.packages {
        let manifest = package.manifest_path.display();
        let Some(value) = package.metadata.as_ref().and_then(|m| m.get("xtask")).and_then(|x| x.get("lambda")) else {
            if package.metadata.as_ref().is_some_and(|m| m.get("lambda").is_some()) {
                eprintln!(
                    "    warning: {manifest} has [package.metadata.lambda] (cargo-lambda's own settings) but no \
                     [package.metadata.xtask.lambda]: it is not built or deployed as a function"
                );
            }
            continue;
        };
        let meta: LambdaMeta = serde_json::from_value(value.clone()).map_err(|e| {
            Refusal::new(
                format!("{manifest}: bad [package.metadata.xtask.lambda]: {e}"),
                "it takes exactly: function = \"api\", code-key-parameter = \"ApiCodeKey\"",
            )
        })?;
        // What cloud/stack.yaml accepts: keys match ^lambdas/[a-z0-9-]+/<sha256>.zip$, and parameter
        // names are alphanumeric.
        let function_ok = !meta.function.is_empty()
            && meta.function.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        let parameter_ok =
            !meta.code_key_parameter.is_empty() && meta.code_key_parameter.chars().all(|c| c.is_ascii_alphanumeric());
        if !function_ok || !parameter_ok {
            return Err(Refusal::new(
                format!("{manifest}: function must be [a-z0-9-]+ and code-key-parameter [A-Za-z0-9]+"),
                "the function name is an S3 key segment, the parameter a CloudFormation parameter name",
            )
            .into());
        }
        let has_bin = package.targets.iter().any(|t| t.name == meta.function && t.kind.iter().any(|k| k == "bin"));
        if !has_bin {
            return Err(Refusal::new(
                format!(
                    "{manifest}: declares Lambda function {} but has no [[bin]] named {}",
                    meta.function, meta.function
                ),
                format!("add [[bin]] name = \"{}\" (the binary becomes the function's bootstrap)", meta.function),
            )
            .into());
        }
        if let Some(other) =
            functions.iter().find(|f| f.function == meta.function || f.code_key_parameter == meta.code_key_parameter)
        {
            return Err(Refusal::new(
                format!(
                    "packages {} and {} both declare function {} / {}",
                    other.package, package.name, meta.function, meta.code_key_parameter
                ),
                "each Lambda function needs its own name and code-key-parameter",
            )
            .into());
        }
        functions.push(LambdaFunction {
            function: meta.function,
            package: package.name,
            code_key_parameter: meta.code_key_parameter,
        });
    }
    functions.sort_by(|a, b| a.function.cmp(&b.function));
    Ok(functions)
}

/// The bundle `xtask/build.rs` made of this checkout's `static/` when the xtask was compiled (fresh
/// whenever the xtask runs through `cargo xtask`, which reruns the build script when `static/`
/// changed). `dist` and `deploy` do not use it: they bundle `ctx.root/static` at run time with the
/// same code, because one xtask binary may serve another checkout (`--project-dir`).
pub fn build_time_site() -> anyhow::Result<SiteBundle> {
    let root = PathBuf::from(env!("XTASK_SITE_BUNDLE"));
    let error = env!("XTASK_SITE_ERROR");
    if !error.is_empty() {
        return Err(Refusal::new(error, "fix static/ and rebuild the xtask (any `cargo xtask` command does)").into());
    }
    let manifest_path = root.with_file_name("site-manifest.json");
    let text = std::fs::read_to_string(&manifest_path)
        .with_context(|| format!("cannot read the build-time site manifest {}", manifest_path.display()))?;
    let files = serde_json::from_str(&text).context("cannot parse the build-time site manifest")?;
    Ok(SiteBundle { root, files })
}

/// [`site::bundle`] with its error turned into a [`Refusal`].
pub fn bundle_site(static_dir: &Path, out: &Path) -> anyhow::Result<site::Bundle> {
    site::bundle(static_dir, out).map_err(|e| Refusal::new(e.what, e.hint).into())
}

/// Writes `DIR/SHA256SUMS` over every other file under `DIR`, sorted, `sha256sum -c` format.
pub fn write_sha256sums(dir: &Path) -> anyhow::Result<()> {
    let mut lines = String::new();
    for entry in walkdir::WalkDir::new(dir).sort_by_file_name() {
        let entry = entry?;
        if !entry.file_type().is_file() {
            continue;
        }
        let rel = entry.path().strip_prefix(dir).expect("under dir");
        let rel = rel
            .components()
            .map(|c| c.as_os_str().to_str().map(str::to_string))
            .collect::<Option<Vec<_>>>()
            .with_context(|| format!("{} is not a UTF-8 path", entry.path().display()))?
            .join("/");
        if rel == "SHA256SUMS" {
            continue;
        }
        if rel.contains('\n') || rel.contains('\\') {
            anyhow::bail!("{rel:?} cannot be listed in SHA256SUMS");
        }
        let bytes = std::fs::read(entry.path())?;
        lines.push_str(&format!("{}  {rel}\n", sha256_hex(&bytes)));
    }
    std::fs::write(dir.join("SHA256SUMS"), lines)?;
    Ok(())
}

/// Refuses to replace `out` unless it is absent, empty or a previous dist (holds `manifest.json`):
/// a mistyped `--out ~` must not delete anything.
fn refuse_foreign_dir(out: &Path) -> anyhow::Result<()> {
    match std::fs::read_dir(out) {
        Err(_) => Ok(()),
        Ok(mut entries) => {
            if entries.next().is_none() || out.join("manifest.json").is_file() {
                Ok(())
            } else {
                Err(Refusal::new(
                    format!("refusing to replace {}: it is not empty and holds no manifest.json", out.display()),
                    "pass an empty directory or one written by `cargo xtask dist`",
                )
                .into())
            }
        }
    }
}

/// Moves the finished `staging` dir to `out`, replacing what was there.
fn replace_dir(staging: tempfile::TempDir, out: &Path) -> anyhow::Result<()> {
    let staged = staging.keep();
    let old = out.with_file_name(format!(
        ".{}.old-{}",
        out.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
        std::process::id()
    ));
    let had_old = out.exists();
    if had_old {
        std::fs::rename(out, &old).with_context(|| format!("cannot move the old {} aside", out.display()))?;
    }
    if let Err(e) = std::fs::rename(&staged, out) {
        if had_old {
            let _ = std::fs::rename(&old, out);
        }
        let _ = std::fs::remove_dir_all(&staged);
        return Err(anyhow::Error::new(e).context(format!("cannot move the new dist into {}", out.display())));
    }
    if had_old {
        std::fs::remove_dir_all(&old).with_context(|| format!("cannot remove {}", old.display()))?;
    }
    Ok(())
}
