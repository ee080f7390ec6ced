//! One contract, two implementations: Redis and memory. Plus: a dead Redis fails fast.

use std::time::{Duration, Instant};

use notes_core::cache::RedisCache;
use notes_core::ports::Cache;
use notes_memory::MemoryCache;

async fn check(cache: &dyn Cache) {
    let key = testkit::unique_name("contract:");
    let other = testkit::unique_name("contract:");
    cache.health().await.unwrap();
    assert_eq!(cache.get(&key, "f").await.unwrap(), None);
    cache.put(&key, "f", "one", Duration::from_secs(60)).await.unwrap();
    cache.put(&key, "g", "two", Duration::from_secs(60)).await.unwrap();
    cache.put(&other, "f", "three", Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.get(&key, "f").await.unwrap().as_deref(), Some("one"));
    assert_eq!(cache.get(&key, "g").await.unwrap().as_deref(), Some("two"));
    assert_eq!(cache.get(&key, "h").await.unwrap(), None);
    cache.put(&key, "f", "uno", Duration::from_secs(60)).await.unwrap();
    assert_eq!(cache.get(&key, "f").await.unwrap().as_deref(), Some("uno"));
    // Invalidation drops every field of a key, and only that key.
    cache.invalidate(std::slice::from_ref(&key)).await.unwrap();
    assert_eq!(cache.get(&key, "f").await.unwrap(), None);
    assert_eq!(cache.get(&key, "g").await.unwrap(), None);
    assert_eq!(cache.get(&other, "f").await.unwrap().as_deref(), Some("three"));
    cache.invalidate(&[]).await.unwrap();
    // Time to live.
    cache.put(&key, "f", "short", Duration::from_millis(200)).await.unwrap();
    assert_eq!(cache.get(&key, "f").await.unwrap().as_deref(), Some("short"));
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(cache.get(&key, "f").await.unwrap(), None);
    cache.invalidate(&[key, other]).await.unwrap();
}

#[tokio::test]
async fn memory_cache_keeps_the_contract() {
    check(&MemoryCache::new()).await;
}

#[tokio::test]
async fn redis_cache_keeps_the_contract() {
    check(&RedisCache::new(&testkit::redis_url()).unwrap()).await;
}

#[tokio::test]
async fn unreachable_redis_fails_fast_and_then_is_skipped() {
    let cache = RedisCache::new(&format!("redis://127.0.0.1:{}", testkit::closed_port())).unwrap();
    let started = Instant::now();
    assert!(cache.get("k", "f").await.is_err());
    assert!(cache.put("k", "f", "v", Duration::from_secs(1)).await.is_err());
    assert!(cache.health().await.is_err());
    assert!(started.elapsed() < Duration::from_secs(2), "{:?}", started.elapsed());
}

#[tokio::test]
async fn redis_outage_then_recovery() {
    let url = testkit::redis_url();
    let proxy = testkit::proxy::Proxy::start(testkit::proxy::target_of(&url, 6379));
    let cache = RedisCache::new(&testkit::proxy::rewrite_url(&url, proxy.port())).unwrap();
    let key = testkit::unique_name("outage:");
    cache.put(&key, "f", "v", Duration::from_secs(60)).await.unwrap();
    proxy.set_up(false);
    let started = Instant::now();
    assert!(cache.get(&key, "f").await.is_err());
    assert!(cache.get(&key, "f").await.is_err(), "skipped while marked down");
    assert!(started.elapsed() < Duration::from_secs(2));
    proxy.set_up(true);
    // Back after the backoff (5 s).
    tokio::time::sleep(Duration::from_millis(5200)).await;
    assert_eq!(cache.get(&key, "f").await.unwrap().as_deref(), Some("v"));
    cache.invalidate(&[key]).await.unwrap();
}

/// Redis frozen (SIGSTOP) while a write invalidates, and the invalidation not even sent (the
/// adapter skips Redis after a failure): it is kept and sent before anything else once Redis
/// answers again, so nothing stale is read after the blip.
#[tokio::test]
async fn an_invalidation_missed_during_a_pause_is_sent_before_the_next_read() {
    let redis = testkit::redis::RedisServer::start();
    let writer = RedisCache::new(&redis.url()).unwrap().with_backoff(Duration::from_millis(500));
    let key = testkit::unique_name("paused:");
    writer.put(&key, "v", "old", Duration::from_secs(60)).await.unwrap();
    redis.pause();
    assert!(writer.get(&key, "v").await.is_err(), "Redis is frozen: a miss");
    assert!(writer.invalidate(std::slice::from_ref(&key)).await.is_err(), "skipped: marked down");
    redis.resume();
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(writer.get(&key, "v").await.unwrap(), None, "the missed invalidation went first");
    let other = RedisCache::new(&redis.url()).unwrap();
    assert_eq!(other.get(&key, "v").await.unwrap(), None, "for every reader of that Redis");
}
