//! The `activity` Lambda function (DynamoDB stream → PostgreSQL activity log and search index, and
//! the cache's invalidations).

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use notes_core::cache::RedisCache;
use notes_core::ports::Cache;
use notes_core::postgres::{Pg, PgActivity};
use notes_core::search::PgSearch;

type Error = Box<dyn std::error::Error + Send + Sync>;

/// Of the function's 60 s timeout, how long one invocation may wait for Redis to answer.
const INVALIDATION_BUDGET: Duration = Duration::from_secs(40);

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut init = notes_core::init::InitPhases::start();
    notes_core::config::install_crypto_provider();
    init.mark("crypto");
    notes_core::config::init_lambda_logging();
    init.mark("logging");
    let sdk = notes_core::config::sdk_config().await;
    init.mark("sdk_config");
    let target = notes_core::config::pg_target(&sdk).ok_or("neither DATABASE_URL nor DB_HOST is set")?;
    let pg = Arc::new(Pg::new(target));
    let activity = Arc::new(PgActivity::new(pg.clone()));
    let search = Arc::new(PgSearch::new(pg));
    let cache: Option<Arc<dyn Cache>> = match notes_core::config::redis_target(&sdk) {
        Some(target) => Some(Arc::new(RedisCache::from_target(target)?.with_backoff(Duration::ZERO))),
        None => None,
    };
    init.mark("clients");
    init.log();
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| {
        let (activity, search, cache) = (activity.clone(), search.clone(), cache.clone());
        async move {
            let sinks = notes_activity::Sinks {
                activity: activity.as_ref(),
                search: search.as_ref(),
                cache: cache.as_deref(),
                invalidation_budget: INVALIDATION_BUDGET,
            };
            Ok::<_, Error>(notes_activity::handle(&sinks, event.payload).await)
        }
    }))
    .await
}
