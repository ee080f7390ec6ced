//! The dev server (`cargo xtask dev`, which runs this crate's `notes-dev` binary): the whole app on
//! this machine with nothing but Rust — the site bundle and the API router on two loopback ports
//! (like `www` and `api`), in-memory stores, dev sign-in. Never linked into a Lambda.
//!
//! - [`server`]: the site server and the API server (gateway layer: dev authorizer, CORS, blobs);
//! - [`token`]: dev ID tokens (HMAC, claims shaped like Cognito's) and the request context;
//! - [`api`]: the notes router on in-memory adapters (`notes-memory`);
//! - [`local`]: `--backends local`, the real adapters on PostgreSQL, Redis and moto;
//! - [`watch`]: poll-based change detection.
//!
//! Rebuilds: a change under `static/` rebuilds the bundle in-process and swaps it (the next page
//! load sees it). A change of the API's sources (`lambdas/`, manifests) runs
//! `cargo build -p notes-dev`; when that succeeds the server stops and re-executes the new binary
//! with the same arguments (in-memory data starts empty again; dev tokens stay valid, the key is on
//! disk). When the build fails the previous API keeps serving.

pub mod api;
pub mod local;
pub mod server;
pub mod token;
pub mod watch;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;

use server::{Origins, Site, SiteFile, SiteFiles};
use token::Signer;

/// A failure caused by the user's input or environment, with what to do about it (printed as
/// `error: ...` and `hint: ...`).
#[derive(Debug)]
pub struct Refusal {
    pub what: String,
    pub hint: String,
}

impl Refusal {
    pub fn new(what: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal { what: what.into(), hint: hint.into() }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Refusal {}

/// Prints `error: outer: inner` on one line and, when the chain holds a [`Refusal`], its hint.
pub fn print_error(err: &anyhow::Error) {
    eprintln!("error: {}", err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": "));
    if let Some(refusal) = err.chain().find_map(|e| e.downcast_ref::<Refusal>()) {
        eprintln!("hint: {}", refusal.hint);
    }
}

/// The checkout the dev server serves.
#[derive(Debug, Clone)]
pub struct Project {
    /// The workspace root (`static/` and `lambdas/` are under it).
    pub root: PathBuf,
}

impl Project {
    /// Cargo's target directory (`CARGO_TARGET_DIR` when set): the dev token key lives under it.
    pub fn target_dir(&self) -> PathBuf {
        match std::env::var_os("CARGO_TARGET_DIR") {
            Some(dir) => self.root.join(dir),
            None => self.root.join("target"),
        }
    }
}

/// Run the app locally: site and API on 127.0.0.1, in-memory stores, dev sign-in
#[derive(clap::Parser, Debug)]
#[command(name = "cargo xtask dev", bin_name = "cargo xtask dev", args_conflicts_with_subcommands = true)]
pub struct Dev {
    /// The project to serve [default: the directory this binary was built from]
    #[arg(long, global = true, value_name = "DIR")]
    pub project_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Option<DevCommand>,
    #[command(flatten)]
    pub serve: Serve,
}

#[derive(clap::Subcommand, Debug)]
pub enum DevCommand {
    /// Print a dev ID token for USERNAME, e.g. curl -H "Authorization: Bearer $(cargo xtask dev token alice)"
    Token(TokenCmd),
}

#[derive(clap::Args, Debug)]
pub struct TokenCmd {
    /// 1-64 letters, digits, dots, dashes or underscores; the same name always gets the same `sub`
    pub username: String,
    /// Lifetime in seconds
    #[arg(long, default_value_t = token::TTL_SECS)]
    pub ttl: u64,
}

#[derive(clap::Args, Debug, Clone)]
pub struct Serve {
    /// Port of the site (the `www` side) on 127.0.0.1; 0 picks a free port
    #[arg(long, value_name = "PORT", default_value_t = 8080)]
    pub site_port: u16,
    /// Port of the API (the `api` side) on 127.0.0.1; 0 picks a free port
    #[arg(long, value_name = "PORT", default_value_t = 8081)]
    pub api_port: u16,
    /// Do not watch for changes (for scripts and tests)
    #[arg(long)]
    pub no_watch: bool,
    /// Stores behind the API: `memory` (embedded, needs nothing) or `local` (DATABASE_URL, REDIS_URL, moto)
    #[arg(long, value_enum, default_value_t = Backends::Memory)]
    pub backends: Backends,
}

#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backends {
    /// In-memory adapters for every store
    Memory,
    /// PostgreSQL/Redis from DATABASE_URL/REDIS_URL, moto for DynamoDB/S3, the activity consumer polling the stream
    Local,
}

impl Dev {
    pub fn run(self) -> anyhow::Result<()> {
        let root = match &self.project_dir {
            Some(dir) => std::path::absolute(dir)?,
            None => PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../..")).canonicalize()?,
        };
        let project = Project { root };
        match self.command {
            Some(DevCommand::Token(cmd)) => cmd.run(&project),
            None => self.serve.run(&project),
        }
    }
}

impl TokenCmd {
    pub fn run(self, ctx: &Project) -> anyhow::Result<()> {
        if !token::valid_username(&self.username) {
            return Err(Refusal::new(
                format!("`{}` is not a valid dev user name", self.username),
                "use 1 to 64 letters, digits, dots, dashes or underscores",
            )
            .into());
        }
        let signer = Signer::load_or_create(&ctx.target_dir())?;
        println!("{}", signer.issue(&self.username, self.ttl));
        Ok(())
    }
}

/// How a dev server run ended.
#[derive(Debug)]
enum Outcome {
    Stopped,
    /// The API's sources changed and this new binary built: start it in place of this one.
    Restart(PathBuf),
}

impl Serve {
    pub fn run(self, ctx: &Project) -> anyhow::Result<()> {
        init_logging();
        // A restart runs a private copy of the new build (see `build_dev_server`); it is not needed on disk.
        if let Ok(exe) = std::env::current_exe()
            && exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("notes-dev-restart-"))
        {
            let _ = std::fs::remove_file(&exe);
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let outcome = runtime.block_on(serve(ctx, &self))?;
        runtime.shutdown_timeout(Duration::from_secs(1));
        match outcome {
            Outcome::Stopped => Ok(()),
            Outcome::Restart(exe) => restart(&exe),
        }
    }
}

/// Tracing output (the API's request lines, the stores' warnings) on stderr, filtered by
/// `RUST_LOG` (default `warn`: the dev server's own progress lines are printed regardless).
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

#[cfg(unix)]
fn restart(exe: &Path) -> anyhow::Result<()> {
    use std::os::unix::process::CommandExt;
    eprintln!("==> restarting with the new build");
    let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).exec();
    Err(err).with_context(|| format!("cannot restart {}", exe.display()))
}

#[cfg(not(unix))]
fn restart(_exe: &Path) -> anyhow::Result<()> {
    Err(Refusal::new("the API was rebuilt", "restart `cargo xtask dev` to use the new build").into())
}

/// Bundles `static/` with the release bundler (fingerprinted names, rewritten references) and
/// loads the result into memory.
pub fn load_site(root: &Path) -> anyhow::Result<SiteFiles> {
    let out = tempfile::tempdir().context("cannot create a temporary directory for the site bundle")?;
    let bundle = site_bundle::bundle(&root.join("static"), out.path()).map_err(|e| Refusal::new(e.what, e.hint))?;
    for warning in &bundle.warnings {
        eprintln!("    warning: static/{warning}");
    }
    let mut files = SiteFiles::new();
    for (path, meta) in bundle.files {
        let bytes = std::fs::read(out.path().join(&path)).with_context(|| format!("cannot read bundled {path}"))?;
        files.insert(
            path,
            SiteFile { bytes: bytes.into(), content_type: meta.content_type, cache_control: meta.cache_control },
        );
    }
    Ok(files)
}

/// The bundle the build script made of `static/` (in `OUT_DIR`), so the first page load needs no
/// bundling; a bundle made now when the build script's `static/` is not this project's (or failed).
fn initial_site(root: &Path) -> anyhow::Result<SiteFiles> {
    let built_from = Path::new(env!("NOTES_DEV_STATIC_DIR"));
    if !env!("NOTES_DEV_SITE_ERROR").is_empty()
        || root.join("static").canonicalize().ok().as_deref() != Some(built_from)
    {
        return load_site(root);
    }
    let dir = Path::new(env!("NOTES_DEV_SITE_BUNDLE"));
    let manifest = std::fs::read_to_string(dir.with_file_name("site-manifest.json"))
        .context("cannot read the build script's site manifest")?;
    let listed: std::collections::BTreeMap<String, site_bundle::SiteFile> =
        serde_json::from_str(&manifest).context("cannot parse the build script's site manifest")?;
    let mut files = SiteFiles::new();
    for (path, meta) in listed {
        let bytes = std::fs::read(dir.join(&path)).with_context(|| format!("cannot read bundled {path}"))?;
        files.insert(
            path,
            SiteFile { bytes: bytes.into(), content_type: meta.content_type, cache_control: meta.cache_control },
        );
    }
    Ok(files)
}

async fn bind(port: u16, flag: &str) -> anyhow::Result<tokio::net::TcpListener> {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::AddrInUse {
            Refusal::new(
                format!("127.0.0.1:{port} is already in use"),
                format!("stop what listens there, or pass another port: {flag} N (0 picks a free one)"),
            )
            .into()
        } else {
            anyhow::Error::new(e).context(format!("cannot listen on {addr}"))
        }
    })
}

async fn serve(ctx: &Project, opts: &Serve) -> anyhow::Result<Outcome> {
    let site_listener = bind(opts.site_port, "--site-port").await?;
    let api_listener = bind(opts.api_port, "--api-port").await?;
    let mut origins = Origins::new(site_listener.local_addr()?, api_listener.local_addr()?);

    let signer = Signer::load_or_create(&ctx.target_dir())?;
    let started = Instant::now();
    let site = Site::new(initial_site(&ctx.root)?);
    let site_took = started.elapsed();
    let (api, _backends) = match opts.backends {
        Backends::Memory => (api::in_memory(&origins.site, &format!("{}/_blobs", origins.api)), None),
        Backends::Local => {
            let (api, backends) = local::start(&origins.site, &origins.site_alias).await?;
            origins.blobs = Some(backends.blob_origin.clone());
            (api, Some(backends))
        }
    };
    let api_app = server::api_router(api.router, signer, origins.clone(), api.blobs);
    let site_app = server::site_router(site.clone(), origins.clone());

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let until_stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
        let _ = rx.wait_for(|stop| *stop).await;
    };
    let mut servers = tokio::task::JoinSet::new();
    servers.spawn(
        axum::serve(site_listener, site_app).with_graceful_shutdown(until_stopped(stop_rx.clone())).into_future(),
    );
    servers
        .spawn(axum::serve(api_listener, api_app).with_graceful_shutdown(until_stopped(stop_rx.clone())).into_future());

    // The two URL lines are the machine-readable part of the output (tests read them); the rest is stderr.
    println!("site  {}", origins.site);
    println!("api   {}", origins.api);
    match opts.backends {
        Backends::Memory => eprintln!("    in-memory stores (data lasts until the server stops)"),
        Backends::Local => eprintln!("    real stores: PostgreSQL, Redis, moto (DynamoDB + stream consumer, S3)"),
    }
    eprintln!("    site bundled in {} ms", site_took.as_millis());
    eprintln!("    sign in with any user name; a token for curl: cargo xtask dev token alice");

    let (restart_tx, mut restart_rx) = tokio::sync::mpsc::channel::<PathBuf>(1);
    if opts.no_watch {
        eprintln!("    not watching for changes (--no-watch); Ctrl-C stops");
    } else {
        eprintln!(
            "    watching static/ (rebuilt in-process) and the API's sources (rebuilt, then restarted); Ctrl-C stops"
        );
        tokio::spawn(watch_site(ctx.root.clone(), site, stop_rx.clone()));
        tokio::spawn(watch_api(ctx.root.clone(), restart_tx, stop_rx.clone()));
    }

    let outcome = tokio::select! {
        () = shutdown_signal() => Outcome::Stopped,
        Some(exe) = restart_rx.recv() => Outcome::Restart(exe),
        Some(result) = servers.join_next() => {
            let _ = stop_tx.send(true);
            result.context("a server task failed")?.context("a server stopped")?;
            anyhow::bail!("a server stopped unexpectedly");
        }
    };
    let _ = stop_tx.send(true);
    // Graceful, but bounded: a browser holding a connection open must not keep us alive.
    let _ = tokio::time::timeout(Duration::from_secs(3), async { while servers.join_next().await.is_some() {} }).await;
    if matches!(outcome, Outcome::Stopped) {
        eprintln!("    stopped");
    }
    Ok(outcome)
}

async fn shutdown_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = tokio::signal::ctrl_c().await;
}

async fn snapshot(roots: Vec<PathBuf>, keep: fn(&Path) -> bool) -> watch::Snapshot {
    tokio::task::spawn_blocking(move || watch::Snapshot::take(&roots, keep)).await.unwrap_or_default()
}

/// Rebuilds the site bundle whenever a file under `static/` changes; keeps the last good bundle
/// when a rebuild fails.
async fn watch_site(root: PathBuf, site: Site, stop: tokio::sync::watch::Receiver<bool>) {
    let roots = vec![root.join("static")];
    let mut last = snapshot(roots.clone(), |_| true).await;
    while !*stop.borrow() {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = snapshot(roots.clone(), |_| true).await;
        if now == last {
            continue;
        }
        last = now;
        let started = Instant::now();
        let root = root.clone();
        match tokio::task::spawn_blocking(move || load_site(&root)).await {
            Ok(Ok(files)) => {
                let count = files.len();
                site.replace(files);
                eprintln!("==> site rebuilt: {count} files in {} ms (reload the page)", started.elapsed().as_millis());
            }
            Ok(Err(err)) => {
                eprint!("==> site rebuild failed, still serving the previous bundle: ");
                print_error(&err);
            }
            Err(err) => eprintln!("==> site rebuild panicked: {err}"),
        }
    }
}

/// Rebuilds the dev server (which links the API) when the API's sources change, and asks for a
/// restart when that build succeeds.
async fn watch_api(
    root: PathBuf,
    restart: tokio::sync::mpsc::Sender<PathBuf>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let roots = vec![root.join("lambdas"), root.join("Cargo.toml"), root.join("Cargo.lock")];
    let mut last = snapshot(roots.clone(), watch::is_api_source).await;
    let building = Arc::new(std::sync::atomic::AtomicBool::new(false));
    while !*stop.borrow() {
        tokio::time::sleep(Duration::from_secs(1)).await;
        let now = snapshot(roots.clone(), watch::is_api_source).await;
        if now == last {
            continue;
        }
        // Let a burst of saves settle before building.
        tokio::time::sleep(Duration::from_millis(500)).await;
        last = snapshot(roots.clone(), watch::is_api_source).await;
        if building.swap(true, std::sync::atomic::Ordering::SeqCst) {
            continue;
        }
        eprintln!("==> API sources changed: cargo build -p notes-dev (the site and the current API keep serving)");
        let started = Instant::now();
        let root2 = root.clone();
        let built = tokio::task::spawn_blocking(move || build_dev_server(&root2)).await.ok().flatten();
        building.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(exe) = built {
            eprintln!("    built in {:.1}s", started.elapsed().as_secs_f64());
            let _ = restart.send(exe).await;
            return;
        }
        eprintln!("    build failed (see above): still serving the previous API; save again to retry");
    }
}

/// `cargo build -p notes-dev`; the path of the built binary when it succeeded.
fn build_dev_server(root: &Path) -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--package",
            "notes-dev",
            "--bin",
            "notes-dev",
            "--message-format",
            "json-render-diagnostics",
        ])
        .current_dir(root)
        .stderr(std::process::Stdio::inherit())
        .output()
        .ok()
        .filter(|o| o.status.success())?;
    let built = String::from_utf8_lossy(&out.stdout).lines().find_map(|line| {
        let message: serde_json::Value = serde_json::from_str(line).ok()?;
        (message["reason"] == "compiler-artifact" && message["target"]["name"] == "notes-dev")
            .then(|| message["executable"].as_str().map(PathBuf::from))
            .flatten()
    })?;
    // Run a private copy: another checkout sharing CARGO_TARGET_DIR may replace target/debug/notes-dev
    // with its own build at any moment.
    let copy = built.parent()?.join(format!("notes-dev-restart-{}", std::process::id()));
    let tmp = copy.with_extension("tmp");
    std::fs::copy(&built, &tmp).and_then(|_| std::fs::rename(&tmp, &copy)).ok()?;
    Some(copy)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The build script bundles the workspace's `static/` with the release bundler: the bundle the
    /// dev server starts with equals one made at run time (rebuild the crate after editing static/).
    #[test]
    fn the_build_script_bundle_matches_a_run_time_bundle() {
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../.."));
        assert_eq!(env!("NOTES_DEV_SITE_ERROR"), "", "the build script could not bundle static/");
        let built = initial_site(&root).unwrap();
        let now = load_site(&root).unwrap();
        let digest = |files: &SiteFiles| {
            let mut all: Vec<_> =
                files.iter().map(|(k, f)| (k.clone(), f.bytes.to_vec(), f.content_type.clone())).collect();
            all.sort();
            all
        };
        assert!(!built.is_empty());
        assert_eq!(digest(&built), digest(&now), "static/ changed since the dev server was built? rerun the test");
    }
}
