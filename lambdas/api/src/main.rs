//! The `api` Lambda function: the router under lambda_http, on the stores from the environment.
//! Locally, the same router runs inside the dev server (`cargo xtask dev`).

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    notes_core::config::install_crypto_provider();
    notes_core::config::init_lambda_logging();
    let state = notes_api::AppState::from_env().await?;
    lambda_http::run(notes_api::router(state)).await
}
