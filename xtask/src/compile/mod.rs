//! Compiling the Lambda functions: every function for arm64 (`provided.al2023`) through
//! cargo-lambda, byte-reproducibly. Knows nothing of dists: it returns each function's `bootstrap`
//! (packaging is [`crate::package`], the dist format [`crate::artifacts`]).
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
//! paths, different target dirs) gives byte-identical zips. The build sets `CARGO_ENCODED_RUSTFLAGS`
//! to exactly [`rustflags`] (any `RUSTFLAGS` in the environment is ignored for this build): the workspace root,
//! the target dir, `CARGO_HOME` and the rustup toolchain are remapped to fixed names, so no absolute
//! path of this machine lands in the binary (panic locations, `file!()`); C code gets the same maps
//! through [`cflags`]; `SOURCE_DATE_EPOCH` is fixed for any build script that stamps a date. The
//! zip is deterministic too ([`crate::package`]). cargo-lambda's own release overrides are off
//! (`--disable-optimizations`): the workspace's `[profile.release]` decides.

mod metadata;

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::Context;

pub use self::metadata::discover_in_metadata;
use crate::Ctx;
use crate::error::Refusal;
use crate::package;
use crate::tools::Tools;

/// The Rust target of Lambda's arm64 `provided.al2023` runtime.
pub const TARGET: &str = "aarch64-unknown-linux-gnu";
/// `SOURCE_DATE_EPOCH` of every build: 1980-01-01T00:00:00Z, the zip epoch.
pub const SOURCE_DATE_EPOCH: &str = "315532800";

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
pub struct Compiler {
    /// The project (workspace root): `cargo metadata` runs here, `static/` is bundled from here.
    pub root: PathBuf,
    /// Cargo's target dir for the Lambda build.
    pub target_dir: PathBuf,
    /// `PATH` for child processes: must find `cargo-lambda` and zig.
    pub path_env: OsString,
    /// Hide cargo-lambda's output (tests); a failure still names cargo's first error.
    pub quiet: bool,
}

impl Compiler {
    /// The project's compiler: pinned tools installed (cargo-lambda, zig), the shared target dir.
    pub fn from_ctx(ctx: &Ctx) -> anyhow::Result<Compiler> {
        let tools = Tools::ensure(ctx)?;
        Ok(Compiler { root: ctx.root.clone(), target_dir: ctx.target_dir(), path_env: tools.path_env(), quiet: false })
    }

    fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new(program);
        cmd.current_dir(&self.root).env("PATH", &self.path_env);
        cmd
    }

    /// Runs `program args` in the project and returns its trimmed stdout, or `None` when it cannot
    /// be started or fails.
    pub fn output(&self, program: &str, args: &[&str]) -> Option<String> {
        let out = self.command(program).args(args).stderr(Stdio::null()).output().ok()?;
        out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// The Lambda functions declared in the workspace, sorted by function name (zero is fine).
    pub fn discover(&self) -> anyhow::Result<Vec<LambdaFunction>> {
        discover(&self.root)
    }

    /// Adds the arm64 target through rustup when the toolchain lacks it (rustup manages the
    /// toolchain here, from rust-toolchain.toml). Safe when another process adds it at the same
    /// time: a failed `rustup target add` is fine if the target is installed afterwards.
    pub fn ensure_target(&self) -> anyhow::Result<&'static str> {
        let installed = || {
            self.output("rustup", &["target", "list", "--installed"])
                .map(|list| list.lines().any(|l| l.trim() == TARGET))
        };
        match installed() {
            // No rustup (a distribution's Rust): cargo-lambda will say what is missing.
            None | Some(true) => return Ok(TARGET),
            Some(false) => {}
        }
        eprintln!("    adding the Rust target {TARGET} (once per toolchain)");
        let status = self.command("rustup").args(["target", "add", TARGET]).status();
        if status.is_ok_and(|s| s.success()) || installed() == Some(true) {
            return Ok(TARGET);
        }
        Err(Refusal::new(
            format!("the Rust target {TARGET} is not installed"),
            format!("run `rustup target add {TARGET}` in {}", self.root.display()),
        )
        .into())
    }

    /// Checks (and where it can, fixes) what the arm64 build needs; returns tool name -> version.
    pub fn check_toolchain(&self) -> anyhow::Result<BTreeMap<String, String>> {
        let mut tools = BTreeMap::new();
        let rustc = self
            .output("rustc", &["-V"])
            .ok_or_else(|| Refusal::new("cannot run `rustc -V`", "install Rust with rustup: https://rustup.rs"))?;
        tools.insert("rustc".to_string(), rustc);
        self.ensure_target()?;
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
            // Flags may hold paths with spaces: CARGO_ENCODED_RUSTFLAGS separates them with 0x1f, and
            // cc-rs reads shell-quoted CFLAGS when told to.
            .env("CARGO_ENCODED_RUSTFLAGS", rustflags(&self.root, &self.target_dir).join("\x1f"))
            .env_remove("RUSTFLAGS")
            .env("CC_SHELL_ESCAPED_FLAGS", "1")
            .env("CFLAGS_aarch64_unknown_linux_gnu", cflags(&self.root, &self.target_dir))
            .env("CXXFLAGS_aarch64_unknown_linux_gnu", cflags(&self.root, &self.target_dir))
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

    /// `git rev-parse HEAD` of the project, `-dirty` when tracked files differ from it or untracked
    /// files sit where the build takes its inputs from (`static/` is bundled whole, `lambdas/` and
    /// the manifests are compiled), or `unknown`.
    pub fn git_commit(&self) -> String {
        let Some(head) = self.output("git", &["rev-parse", "HEAD"]) else {
            return "unknown".to_string();
        };
        let changed = |args: &[&str]| self.output("git", args).is_some_and(|status| !status.is_empty());
        let dirty = changed(&["status", "--porcelain", "--untracked-files=no"])
            || changed(&[
                "status",
                "--porcelain",
                "--untracked-files=all",
                "--",
                "static",
                "lambdas",
                "Cargo.toml",
                "Cargo.lock",
            ]);
        if dirty { format!("{head}-dirty") } else { head }
    }
}

/// The Lambda functions declared in the workspace at `root` (`cargo metadata --no-deps`).
pub fn discover(root: &Path) -> anyhow::Result<Vec<LambdaFunction>> {
    let out = Command::new("cargo")
        .args(["metadata", "--no-deps", "--format-version", "1"])
        .current_dir(root)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo metadata`")?;
    if !out.status.success() {
        return Err(Refusal::new(
            format!("`cargo metadata` failed in {}", root.display()),
            "fix the Cargo.toml error printed above",
        )
        .into());
    }
    discover_in_metadata(&out.stdout)
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
pub fn rustflags(root: &Path, target_dir: &Path) -> Vec<String> {
    let mut flags = vec!["-Ctarget-cpu=neoverse-n1".to_string()];
    flags.extend(
        path_maps(root, target_dir).iter().map(|(from, to)| format!("--remap-path-prefix={}={to}", from.display())),
    );
    flags
}

/// `CFLAGS`/`CXXFLAGS` for C and C++ compiled for the target (ring, aws-lc through cc-rs and zig
/// cc): `-ffile-prefix-map` for each of [`path_maps`], so `__FILE__` in assertions and debug
/// info carry no absolute path of this machine either.
pub fn cflags(root: &Path, target_dir: &Path) -> String {
    path_maps(root, target_dir)
        .iter()
        .map(|(from, to)| shell_quote(&format!("-ffile-prefix-map={}={to}", from.display())))
        .collect::<Vec<_>>()
        .join(" ")
}

/// `text` in single quotes for a POSIX shell (what cc-rs parses with `CC_SHELL_ESCAPED_FLAGS`).
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn cargo_home() -> Option<PathBuf> {
    std::env::var_os("CARGO_HOME").map(PathBuf::from).or_else(|| std::env::home_dir().map(|h| h.join(".cargo")))
}

fn rustup_home() -> Option<PathBuf> {
    std::env::var_os("RUSTUP_HOME").map(PathBuf::from).or_else(|| std::env::home_dir().map(|h| h.join(".rustup")))
}
