//! The `activity` Lambda function (DynamoDB stream → PostgreSQL).

use std::sync::Arc;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use notes_core::postgres::{Pg, PgActivity};
use tracing_subscriber::EnvFilter;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    notes_core::config::install_crypto_provider();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(true)
        .without_time()
        .with_target(false)
        .init();
    let sdk = notes_core::config::sdk_config().await;
    let target = notes_core::config::pg_target(&sdk).ok_or("neither DATABASE_URL nor DB_HOST is set")?;
    let activity = Arc::new(PgActivity::new(Arc::new(Pg::new(target))));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let activity = activity.clone();
        async move { Ok::<_, Error>(notes_activity::handle(activity.as_ref(), event.payload).await) }
    }))
    .await
}
