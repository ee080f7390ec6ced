//! The front end in a real browser: Debian's Chromium driven by playwright-core (xtask/browser-test)
//! against the real dev server (`notes-dev`, built here and started on free ports). Also runs the
//! Cognito code-path test (against its fake hosted UI: Cognito has no local equivalent) and the
//! Node unit tests of the front end's validation.

use std::io::BufRead;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use sha2::{Digest, Sha256};
use testkit::process::Guard;
use xshell::cmd;

use crate::Ctx;
use crate::error::Refusal;

pub fn run(ctx: &Ctx) -> anyhow::Result<()> {
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
    server.process.stop();
    result.context("the browser test against the dev server failed (its output is above)")?;
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

/// The dev server (`notes-dev --no-watch`) on free ports.
struct DevServer {
    process: Guard,
    site_url: String,
    api_url: String,
}

impl DevServer {
    fn start(ctx: &Ctx) -> anyhow::Result<DevServer> {
        let exe = build_dev_server(ctx)?;
        let mut child = Command::new(exe)
            .args(["--no-watch", "--site-port", "0", "--api-port", "0", "--project-dir"])
            .arg(&ctx.root)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("cannot start the dev server")?;
        let stdout = child.stdout.take().expect("piped");
        let process = Guard(child);
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
            let Ok(line) = rx.recv_timeout(left) else {
                anyhow::bail!("the dev server did not print its URLs within 60 s");
            };
            if let Some(url) = line.strip_prefix("site ") {
                site_url = Some(url.trim().to_string());
            } else if let Some(url) = line.strip_prefix("api ") {
                api_url = Some(url.trim().to_string());
            }
        }
        Ok(DevServer { process, site_url: site_url.expect("set"), api_url: api_url.expect("set") })
    }
}

/// `cargo build -p notes-dev`; the path of the built binary.
fn build_dev_server(ctx: &Ctx) -> anyhow::Result<PathBuf> {
    let out = Command::new("cargo")
        .args(["build", "--locked", "--package", "notes-dev", "--bin", "notes-dev"])
        .args(["--message-format", "json-render-diagnostics"])
        .current_dir(&ctx.root)
        .stderr(Stdio::inherit())
        .output()
        .context("cannot run `cargo build -p notes-dev`")?;
    anyhow::ensure!(out.status.success(), "`cargo build -p notes-dev` failed (see above)");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .find_map(|line| {
            let message: serde_json::Value = serde_json::from_str(line).ok()?;
            (message["reason"] == "compiler-artifact" && message["target"]["name"] == "notes-dev")
                .then(|| message["executable"].as_str().map(PathBuf::from))
                .flatten()
        })
        .context("`cargo build -p notes-dev` named no executable")
}
