//! [`Cache`] on Redis (ElastiCache in AWS): cache only, never the source of truth.
//!
//! Every call is bounded by short timeouts, and after a failure the cache is skipped for a few
//! seconds (no connection attempt at all), so a sick Redis costs requests at most one timeout
//! before they go straight to DynamoDB.
//!
//! No lost invalidation: keys whose deletion failed are kept, and the first time Redis answers
//! again they are deleted before anything else is asked; until that succeeds, every `get` is a
//! miss. So after a blip (Redis paused, a dropped connection) this process never reads an entry it
//! meant to delete. Other processes are covered by the stream consumer, which deletes the same
//! keys for every note change (see [`keys`]).

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

/// The cache's keys and their lifetime, shared by the API (which fills and invalidates them) and
/// the stream consumer (which invalidates them again for every note change).
pub mod keys {
    use crate::model::{Id, UserId};

    /// Single notes and first list pages live this long in the cache (writes also invalidate).
    pub const TTL: std::time::Duration = std::time::Duration::from_secs(60);

    /// One note (field `v`).
    pub fn note(user: &UserId, id: Id) -> String {
        format!("note:{}:{id}", user.as_str())
    }

    /// The first pages of a user's listing (one field per order and page size).
    pub fn list(user: &UserId) -> String {
        format!("notes:{}", user.as_str())
    }

    /// Every key a change of note `id` makes stale.
    pub fn of_note(user: &UserId, id: Id) -> Vec<String> {
        vec![list(user), note(user, id)]
    }
}

pub struct RedisCache {
    /// `Some` for a fixed URL; `None` with IAM auth, where each connection gets a fresh token.
    client: Option<Client>,
    iam: Option<crate::config::ElastiCacheIam>,
    state: Mutex<State>,
    backoff: Duration,
}

#[derive(Default)]
struct State {
    conn: Option<MultiplexedConnection>,
    down_until: Option<Instant>,
    /// Keys whose deletion failed, and when: deleted before anything else once Redis answers
    /// (dropped once older than the entries' TTL: by then what they guarded has expired).
    pending: Vec<(String, Instant)>,
}

impl RedisCache {
    /// `redis://host:port` or `rediss://[user@]host:port` (TLS with rustls, system roots).
    pub fn new(url: &str) -> Result<RedisCache, StoreError> {
        let client = Client::open(url).map_err(|e| StoreError::other(format!("bad Redis URL: {e}")))?;
        Ok(RedisCache { client: Some(client), iam: None, state: Mutex::new(State::default()), backoff: BACKOFF })
    }

    /// How long to skip Redis after a failure (5 s by default; the stream consumer, which must
    /// invalidate as soon as Redis is back, uses zero).
    pub fn with_backoff(mut self, backoff: Duration) -> RedisCache {
        self.backoff = backoff;
        self
    }

    /// From a target of [`crate::config::redis_target`].
    pub fn from_target(target: crate::config::RedisTarget) -> Result<RedisCache, StoreError> {
        match target {
            crate::config::RedisTarget::Url(url) => RedisCache::new(&url),
            crate::config::RedisTarget::Iam(iam) => {
                Ok(RedisCache { client: None, iam: Some(iam), state: Mutex::new(State::default()), backoff: BACKOFF })
            }
        }
    }

    async fn client(&self) -> Result<Client, StoreError> {
        match (&self.client, &self.iam) {
            (Some(client), _) => Ok(client.clone()),
            (None, Some(iam)) => {
                Client::open(iam.url().await?).map_err(|e| StoreError::other(format!("bad Redis URL: {e}")))
            }
            (None, None) => Err(StoreError::other("no Redis configured")),
        }
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
            let conn = conn.clone();
            return self.flush_pending(&mut state, conn).await;
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT));
        let client = match self.client().await {
            Ok(client) => client,
            Err(e) => {
                state.down_until = Some(Instant::now() + self.backoff);
                return Err(e);
            }
        };
        let connect = client.get_multiplexed_async_connection_with_config(&config);
        match tokio::time::timeout(CONNECT_TIMEOUT * 2, connect).await {
            Ok(Ok(conn)) => {
                state.conn = Some(conn.clone());
                self.flush_pending(&mut state, conn).await
            }
            Ok(Err(e)) => {
                state.down_until = Some(Instant::now() + self.backoff);
                Err(StoreError::unavailable(format!("Redis connect: {e}")))
            }
            Err(_) => {
                state.down_until = Some(Instant::now() + self.backoff);
                Err(StoreError::Unavailable("Redis connect timed out".into()))
            }
        }
    }

    /// Deletes the pending keys (if any) on `conn` before it is used for anything else.
    async fn flush_pending(
        &self,
        state: &mut State,
        mut conn: MultiplexedConnection,
    ) -> Result<MultiplexedConnection, StoreError> {
        let horizon = keys::TTL + Duration::from_secs(5);
        state.pending.retain(|(_, at)| at.elapsed() < horizon);
        if state.pending.is_empty() {
            return Ok(conn);
        }
        let keys: Vec<&str> = state.pending.iter().map(|(k, _)| k.as_str()).collect();
        let mut pipe = redis::pipe();
        pipe.del(keys).ignore();
        match tokio::time::timeout(RESPONSE_TIMEOUT * 2, pipe.query_async::<()>(&mut conn)).await {
            Ok(Ok(())) => {
                tracing::info!(keys = state.pending.len(), "Redis is back: sent the invalidations it missed");
                state.pending.clear();
                Ok(conn)
            }
            Ok(Err(e)) => Err(Self::mark_failed(state, self.backoff, e)),
            Err(_) => Err(Self::mark_failed(state, self.backoff, "Redis response timed out")),
        }
    }

    fn mark_failed(state: &mut State, backoff: Duration, e: impl std::fmt::Display) -> StoreError {
        state.conn = None;
        state.down_until = Some(Instant::now() + backoff);
        tracing::warn!(error = %e, "Redis request failed; skipping the cache for {backoff:?}");
        StoreError::unavailable(e)
    }

    async fn failed(&self, e: impl std::fmt::Display) -> StoreError {
        let mut state = self.state.lock().await;
        Self::mark_failed(&mut state, self.backoff, e)
    }

    /// Remembers keys to delete once Redis answers again.
    async fn keep_pending(&self, keys: &[String]) {
        let mut state = self.state.lock().await;
        let now = Instant::now();
        for key in keys {
            state.pending.retain(|(k, _)| k != key);
            state.pending.push((key.clone(), now));
        }
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
        let result = self
            .run::<()>(|| {
                let mut p = redis::pipe();
                p.del(keys).ignore();
                p
            })
            .await;
        if result.is_err() {
            self.keep_pending(keys).await;
        }
        result
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
