//! The `api` Lambda function; locally (no `AWS_LAMBDA_RUNTIME_API`), the same router on a port.
//!
//! Locally: `cargo run -p notes-api` serves on `127.0.0.1:$PORT` (default 8080) with in-memory
//! stores, unless `NOTES_TABLE` is set, in which case the real stores are built from the
//! environment as on Lambda.

use std::net::SocketAddr;

use tracing_subscriber::EnvFilter;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    notes_core::config::install_crypto_provider();
    if std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
            .with_current_span(true)
            .without_time()
            .with_target(false)
            .init();
        let state = notes_api::AppState::from_env().await?;
        return lambda_http::run(notes_api::router(state)).await;
    }

    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .init();
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let app = if std::env::var_os("NOTES_TABLE").is_some() {
        tracing::info!("real stores from the environment");
        notes_api::router(notes_api::AppState::from_env().await?)
    } else {
        tracing::info!("in-memory stores (set NOTES_TABLE etc. for real ones)");
        let (state, blobs) =
            notes_api::AppState::in_memory(&format!("http://{addr}/dev-blobs"), std::env::var("SITE_ORIGIN").ok());
        notes_api::router(state).nest_service("/dev-blobs", notes_api::dev_blob_routes(blobs))
    };
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!("listening on http://{addr} (try /v1/health)");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await?;
    Ok(())
}
