//! The `api` Lambda function: the router under lambda_http, on the stores from the environment.
//! Locally, the same router runs inside the dev server (`cargo xtask dev`).

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = notes_core::init::InitPhases::start();
    notes_core::config::install_crypto_provider();
    init.mark("crypto");
    notes_core::config::init_lambda_logging();
    init.mark("logging");
    let state = notes_api::AppState::from_env(&mut init).await?;
    let router = notes_api::router(state);
    init.mark("router");
    init.log();
    lambda_http::run(router).await
}
