//! `cargo xtask dev`: the whole app on this machine with nothing but Rust — the site bundle and the
//! API router on two loopback ports (like `www` and `api`), in-memory stores, dev sign-in.
//!
//! - [`server`]: the site server and the API server (gateway layer: dev authorizer, CORS, blobs);
//! - [`token`]: dev ID tokens (HMAC, claims shaped like Cognito's) and the request context;
//! - [`api`]: builds the notes router on in-memory adapters;
//! - [`watch`]: poll-based change detection.
//!
//! Rebuilds: a change under `static/` rebuilds the bundle in-process and swaps it (the next page
//! load sees it). A change of the API's sources (`lambdas/`, `xtask/src/`, manifests) runs
//! `cargo build -p xtask`; when that succeeds the server stops and re-executes the new binary with
//! the same arguments (in-memory data starts empty again; dev tokens stay valid, the key is on
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

use crate::Ctx;
use crate::errors::Refusal;
use server::{Origins, Site, SiteFile, SiteFiles};
use token::Signer;

/// Run the app locally: site and API on 127.0.0.1, in-memory stores, dev sign-in
#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct Dev {
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
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        match self.command {
            Some(DevCommand::Token(cmd)) => cmd.run(ctx),
            None => self.serve.run(ctx),
        }
    }
}

impl TokenCmd {
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
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
    pub fn run(self, ctx: &Ctx) -> anyhow::Result<()> {
        // A restart runs a private copy of the new build (see `build_xtask`); it is not needed on disk.
        if let Ok(exe) = std::env::current_exe()
            && exe.file_name().is_some_and(|n| n.to_string_lossy().starts_with("xtask-dev-restart-"))
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
    let bundle = crate::build::bundle_site(&root.join("static"), out.path())?;
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

async fn serve(ctx: &Ctx, opts: &Serve) -> anyhow::Result<Outcome> {
    let site_listener = bind(opts.site_port, "--site-port").await?;
    let api_listener = bind(opts.api_port, "--api-port").await?;
    let mut origins = Origins::new(site_listener.local_addr()?, api_listener.local_addr()?);

    let signer = Signer::load_or_create(&ctx.target_dir())?;
    let started = Instant::now();
    let site = Site::new(load_site(&ctx.root)?);
    let site_took = started.elapsed();
    let (api, _backends) = match opts.backends {
        Backends::Memory => (api::in_memory(&origins.site, &format!("{}/_blobs", origins.api))?, None),
        Backends::Local => {
            let (api, backends) = local::start(ctx, &origins.site, &origins.site_alias).await?;
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
    println!("site  {}/", origins.site);
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
                crate::errors::report(&err);
            }
            Err(err) => eprintln!("==> site rebuild panicked: {err}"),
        }
    }
}

/// Rebuilds the xtask (which links the API) when the API's sources change, and asks for a restart
/// when that build succeeds.
async fn watch_api(
    root: PathBuf,
    restart: tokio::sync::mpsc::Sender<PathBuf>,
    stop: tokio::sync::watch::Receiver<bool>,
) {
    let roots = vec![
        root.join("lambdas"),
        root.join("xtask/src"),
        root.join("xtask/Cargo.toml"),
        root.join("Cargo.toml"),
        root.join("Cargo.lock"),
    ];
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
        eprintln!("==> API sources changed: cargo build -p xtask (the site and the current API keep serving)");
        let started = Instant::now();
        let root2 = root.clone();
        let built = tokio::task::spawn_blocking(move || build_xtask(&root2)).await.ok().flatten();
        building.store(false, std::sync::atomic::Ordering::SeqCst);
        if let Some(exe) = built {
            eprintln!("    built in {:.1}s", started.elapsed().as_secs_f64());
            let _ = restart.send(exe).await;
            return;
        }
        eprintln!("    build failed (see above): still serving the previous API; save again to retry");
    }
}

/// `cargo build -p xtask`; the path of the built binary when it succeeded.
fn build_xtask(root: &Path) -> Option<PathBuf> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let out = std::process::Command::new(cargo)
        .args([
            "build",
            "--quiet",
            "--package",
            "xtask",
            "--bin",
            "xtask",
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
        (message["reason"] == "compiler-artifact" && message["target"]["name"] == "xtask")
            .then(|| message["executable"].as_str().map(PathBuf::from))
            .flatten()
    })?;
    // Run a private copy: another checkout sharing CARGO_TARGET_DIR may replace target/debug/xtask
    // with its own build at any moment.
    let copy = built.parent()?.join(format!("xtask-dev-restart-{}", std::process::id()));
    let tmp = copy.with_extension("tmp");
    std::fs::copy(&built, &tmp).and_then(|_| std::fs::rename(&tmp, &copy)).ok()?;
    Some(copy)
}
