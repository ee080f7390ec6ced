//! [`Cache`] on Redis (ElastiCache in AWS): cache only, never the source of truth.
//!
//! Every call is bounded by short timeouts, and after a failure the cache is skipped for a few
//! seconds (no connection attempt at all), so a sick Redis costs requests at most one timeout
//! before they go straight to DynamoDB.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client};
use tokio::sync::Mutex;

use crate::error::StoreError;
use crate::ports::Cache;

const CONNECT_TIMEOUT: Duration = Duration::from_millis(250);
const RESPONSE_TIMEOUT: Duration = Duration::from_millis(250);
/// How long to skip Redis after a failure.
const BACKOFF: Duration = Duration::from_secs(5);

pub struct RedisCache {
    client: Client,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    conn: Option<MultiplexedConnection>,
    down_until: Option<Instant>,
}

impl RedisCache {
    /// `redis://host:port` or `rediss://[user@]host:port` (TLS with rustls, system roots).
    pub fn new(url: &str) -> Result<RedisCache, StoreError> {
        let client = Client::open(url).map_err(|e| StoreError::other(format!("bad Redis URL: {e}")))?;
        Ok(RedisCache { client, state: Mutex::new(State::default()) })
    }

    async fn conn(&self) -> Result<MultiplexedConnection, StoreError> {
        let mut state = self.state.lock().await;
        if let Some(until) = state.down_until {
            if Instant::now() < until {
                return Err(StoreError::Unavailable("Redis marked down".into()));
            }
            state.down_until = None;
        }
        if let Some(conn) = &state.conn {
            return Ok(conn.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let connect = self.client.get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, connect).await {
            Ok(Ok(conn)) => {
                state.conn = Some(conn.clone());
                Ok(conn)
            }
            Ok(Err(e)) => {
                state.down_until = Some(Instant::now() + BACKOFF);
                Err(StoreError::unavailable(format!("Redis connect: {e}")))
            }
            Err(_) => {
                state.down_until = Some(Instant::now() + BACKOFF);
                Err(StoreError::Unavailable("Redis connect timed out".into()))
            }
        }
    }

    async fn failed(&self, e: impl std::fmt::Display) -> StoreError {
        let mut state = self.state.lock().await;
        state.conn = None;
        state.down_until = Some(Instant::now() + BACKOFF);
        tracing::warn!(error = %e, "Redis request failed; skipping the cache for {BACKOFF:?}");
        StoreError::unavailable(e)
    }

    async fn run<T: redis::FromRedisValue>(&self, f: impl FnOnce() -> redis::Pipeline) -> Result<T, StoreError> {
        let mut conn = self.conn().await?;
        let pipe = f();
        match tokio::time::timeout(RESPONSE_TIMEOUT * 2, pipe.query_async::<T>(&mut conn)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(self.failed(e).await),
            Err(_) => Err(self.failed("Redis response timed out").await),
        }
    }
}

#[async_trait]
impl Cache for RedisCache {
    async fn get(&self, key: &str, field: &str) -> Result<Option<String>, StoreError> {
        let (value,): (Option<String>,) = self
            .run(|| {
                let mut p = redis::pipe();
                p.hget(key, field);
                p
            })
            .await?;
        Ok(value)
    }

    async fn put(&self, key: &str, field: &str, value: &str, ttl: Duration) -> Result<(), StoreError> {
        let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX).max(1);
        self.run::<()>(|| {
            let mut p = redis::pipe();
            p.atomic().hset(key, field, value).ignore().pexpire(key, ms).ignore();
            p
        })
        .await
    }

    async fn invalidate(&self, keys: &[String]) -> Result<(), StoreError> {
        if keys.is_empty() {
            return Ok(());
        }
        self.run::<()>(|| {
            let mut p = redis::pipe();
            p.del(keys).ignore();
            p
        })
        .await
    }

    async fn health(&self) -> Result<(), StoreError> {
        let (pong,): (String,) = self
            .run(|| {
                let mut p = redis::pipe();
                p.cmd("PING");
                p
            })
            .await?;
        if pong == "PONG" { Ok(()) } else { Err(StoreError::unavailable(format!("PING answered {pong}"))) }
    }
}
