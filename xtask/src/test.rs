//! `cargo xtask test`: every check CI runs — fmt, clippy, unit/integration/tidy tests, the browser
//! test, template lint.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};
use xshell::cmd;

use crate::errors::Refusal;

use crate::Ctx;
use crate::step::Steps;
use crate::tools::Tools;
use crate::{lint, services};

/// Run every check: rustfmt, clippy -D warnings, all tests against real Postgres/Redis/moto, template lint
#[derive(clap::Args, Debug)]
pub struct Test {
    /// Skip `cargo xtask lint` (cfn-lint and checkov)
    #[arg(long)]
    pub no_lint: bool,
    /// Skip the browser test (headless Chromium against `cargo xtask dev`)
    #[arg(long)]
    pub no_browser: bool,
    /// Extra arguments for `cargo test`, e.g. `-- --nocapture` or a test name filter
    #[arg(last = true)]
    pub cargo_test_args: Vec<String>,
}

impl Test {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        let sh = &ctx.sh;
        let mut steps = Steps::default();
        let tools = steps.run("pinned Python tools (moto, cfn-lint, checkov, cargo-lambda)", || Tools::ensure(ctx))?;
        steps.run("PostgreSQL and Redis reachable", || {
            services::require_postgres()?;
            services::require_redis()
        })?;
        steps.run("cargo fmt --check", || Ok(cmd!(sh, "cargo fmt --all -- --check").run()?))?;
        steps.run("cargo clippy -D warnings", || {
            Ok(cmd!(sh, "cargo clippy --workspace --all-targets --locked -- -D warnings").run()?)
        })?;
        let args = &self.cargo_test_args;
        steps.run("cargo test (unit, integration, tidy)", || {
            let _path = sh.push_env("PATH", tools.path_env());
            let _db = sh.push_env("DATABASE_URL", services::database_url());
            let _redis = sh.push_env("REDIS_URL", services::redis_url());
            Ok(cmd!(sh, "cargo test --workspace --locked {args...}").run()?)
        })?;
        if !self.no_browser {
            steps.run("browser test (headless Chromium against cargo xtask dev)", || browser_test(ctx))?;
        }
        if !self.no_lint {
            steps.run("cargo xtask lint", || lint::Lint::default().run(ctx))?;
        }
        steps.summary();
        Ok(())
    }
}

/// The front end in a real browser: Debian's Chromium driven by playwright-core (xtask/browser-test)
/// against the real dev server, started from this very binary on free ports. Also runs the
/// Cognito code-path test (against its fake hosted UI: Cognito has no local equivalent) and the
/// Node unit tests of the front end's validation.
pub fn browser_test(ctx: &Ctx) -> anyhow::Result<()> {
    let chromium = ensure_chromium()?;
    ensure_node()?;
    let dir = ctx.root.join("xtask/browser-test");
    npm_ci_if_stale(ctx, &dir)?;
    let sh = &ctx.sh;
    let _dir = sh.push_dir(&dir);
    let _chromium = sh.push_env("CHROMIUM", &chromium);
    cmd!(sh, "npm run --silent test:unit").run().context("the front end's unit tests failed")?;

    let server = DevServer::start(ctx)?;
    let screenshot = ctx.target_dir().join("browser/main.png");
    let _site = sh.push_env("SITE_URL", &server.site_url);
    let _api = sh.push_env("API_URL", &server.api_url);
    let _shot = sh.push_env("SCREENSHOT", &screenshot);
    let result = cmd!(sh, "npm test").run();
    server.stop();
    result.context("the browser test against `cargo xtask dev` failed (its output is above)")?;
    eprintln!("    screenshot: {}", screenshot.display());

    cmd!(sh, "npm run --silent test:cognito-fake").run().context("the Cognito code-path browser test failed")?;
    Ok(())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Installs Debian packages when running as root (CI, fresh containers); otherwise refuses with the command.
fn apt_install(packages: &[&str], what: &str) -> anyhow::Result<()> {
    let list = packages.join(" ");
    if !is_root() {
        return Err(Refusal::new(
            format!("{what} is not installed"),
            format!("install it: sudo apt-get install -y {list}"),
        )
        .into());
    }
    eprintln!("    {what} is missing: apt-get install -y {list}");
    let install = || {
        Command::new("apt-get")
            .args(["install", "-y", "-qq"])
            .args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .status()
            .is_ok_and(|s| s.success())
    };
    if install() {
        return Ok(());
    }
    let _ = Command::new("apt-get").args(["update", "-qq"]).status();
    if install() {
        return Ok(());
    }
    Err(Refusal::new(
        format!("`apt-get install -y {list}` failed"),
        "check the network and the apt sources, then retry",
    )
    .into())
}

/// Debian's Chromium at `CHROMIUM` (default /usr/bin/chromium); installed with apt when missing.
fn ensure_chromium() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("CHROMIUM") {
        let path = PathBuf::from(path);
        if path.is_file() {
            return Ok(path);
        }
        return Err(Refusal::new(
            format!("CHROMIUM={} does not exist", path.display()),
            "unset CHROMIUM to use /usr/bin/chromium",
        )
        .into());
    }
    let path = PathBuf::from("/usr/bin/chromium");
    if !path.is_file() {
        apt_install(&["chromium"], "chromium (Debian's headless browser for the browser test)")?;
    }
    Ok(path)
}

/// Node.js 20+ and npm; installed with apt when missing.
fn ensure_node() -> anyhow::Result<()> {
    let version = || Command::new("node").arg("--version").output().ok().filter(|o| o.status.success());
    if version().is_none() || Command::new("npm").arg("--version").output().is_err() {
        apt_install(&["nodejs", "npm"], "Node.js and npm")?;
    }
    let text = version().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()).unwrap_or_default();
    let major: u32 = text.trim_start_matches('v').split('.').next().and_then(|m| m.parse().ok()).unwrap_or(0);
    if major < 20 {
        return Err(Refusal::new(
            format!("Node.js {text} is too old for the browser test"),
            "install Node.js 20 or newer",
        )
        .into());
    }
    Ok(())
}

/// `npm ci` when `node_modules` does not match `package-lock.json` (a stamp holds the lock's sha256).
fn npm_ci_if_stale(ctx: &Ctx, dir: &Path) -> anyhow::Result<()> {
    let lock =
        std::fs::read(dir.join("package-lock.json")).context("cannot read xtask/browser-test/package-lock.json")?;
    let want = hex::encode(Sha256::digest(&lock));
    let stamp = dir.join("node_modules/.xtask-package-lock.sha256");
    if std::fs::read_to_string(&stamp).is_ok_and(|have| have.trim() == want) {
        return Ok(());
    }
    let sh = &ctx.sh;
    let _dir = sh.push_dir(dir);
    cmd!(sh, "npm ci --no-audit --no-fund").run().map_err(|e| {
        anyhow::Error::new(Refusal::new(e.to_string(), "npm needs the npm registry (or an NPM_CONFIG_REGISTRY mirror)"))
    })?;
    std::fs::write(&stamp, want)?;
    Ok(())
}

/// `cargo xtask dev --no-watch` on free ports, started from the running binary (not through cargo).
pub struct DevServer {
    child: Child,
    pub site_url: String,
    pub api_url: String,
}

impl DevServer {
    pub fn start(ctx: &Ctx) -> anyhow::Result<DevServer> {
        // /proc/self/exe still names this binary when a rebuild replaced the file meanwhile.
        let exe =
            std::env::current_exe().ok().filter(|p| p.is_file()).unwrap_or_else(|| PathBuf::from("/proc/self/exe"));
        let mut child = Command::new(exe)
            .args(["dev", "--no-watch", "--site-port", "0", "--api-port", "0", "--project-dir"])
            .arg(&ctx.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start `cargo xtask dev`")?;
        let stdout = child.stdout.take().expect("piped");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let (mut site_url, mut api_url) = (None, None);
        let deadline = Instant::now() + Duration::from_secs(60);
        while site_url.is_none() || api_url.is_none() {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix("site ") {
                        site_url = Some(url.trim().to_string());
                    } else if let Some(url) = line.strip_prefix("api ") {
                        api_url = Some(url.trim().to_string());
                    }
                }
                Err(_) => {
                    let status = child.try_wait().ok().flatten();
                    let _ = child.kill();
                    let _ = child.wait();
                    anyhow::bail!("`cargo xtask dev` did not print its URLs within 60 s (exit status: {status:?})");
                }
            }
        }
        Ok(DevServer { child, site_url: site_url.expect("set"), api_url: api_url.expect("set") })
    }

    /// SIGTERM (a clean stop), then SIGKILL after 5 s.
    pub fn stop(mut self) {
        self.terminate();
    }

    fn terminate(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for DevServer {
    fn drop(&mut self) {
        self.terminate();
    }
}
