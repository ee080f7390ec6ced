//! Test helpers for the lambdas and the tools around them. A dev-dependency only: never linked into
//! a Lambda.
//!
//! - [`moto::Moto`]: moto's server on a free loopback port (DynamoDB with streams, S3, ...), stopped
//!   on drop and by itself after 15 minutes at the latest.
//! - [`free_port`], [`closed_port`]: loopback ports to listen on, or to point a client at to simulate
//!   an outage.
//! - [`database_url`], [`redis_url`]: the real servers the tests use, with a clear panic telling
//!   how to start them when they are not reachable.
//! - [`pg::TestDb`]: a fresh PostgreSQL database per test, dropped afterwards.
//! - [`proxy::Proxy`]: a TCP proxy to switch a dependency off and on (fault tests).
//! - [`http::send`]: a tiny HTTP client for presigned URLs.
//! - [`aws`]: SDK configuration and clients pointed at moto (dummy static credentials, us-east-1,
//!   path-style S3).

pub mod aws;
pub mod http;
pub mod moto;
pub mod pg;
pub mod proxy;

use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};
use std::time::Duration;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

/// A TCP port on 127.0.0.1 that was free a moment ago (the OS picks it).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("cannot bind a loopback port");
    listener.local_addr().expect("bound socket has an address").port()
}

/// A loopback port nothing listens on: connections to it are refused at once. Point a client at it
/// to simulate a dependency outage.
pub fn closed_port() -> u16 {
    free_port()
}

/// `DATABASE_URL`, or the default `postgres://postgres@127.0.0.1:5432/test`. Panics, saying how to
/// start PostgreSQL, when nothing answers there.
pub fn database_url() -> String {
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string());
    require(
        "PostgreSQL",
        "DATABASE_URL",
        &url,
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    );
    url
}

/// `REDIS_URL`, or the default `redis://127.0.0.1:6379`. Panics, saying how to start Redis, when
/// nothing answers there.
pub fn redis_url() -> String {
    let url = std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_string());
    require(
        "Redis",
        "REDIS_URL",
        &url,
        6379,
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no",
    );
    url
}

fn require(name: &str, var: &str, url: &str, default_port: u16, start: &str) {
    let host_port = host_port(url, default_port);
    let reachable = host_port
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    assert!(
        reachable,
        "{name} is not reachable at {host_port} ({var}={url}).\n\
         Start it with `{start}`, or point {var} at a running server (`cargo xtask test` checks this too)."
    );
}

/// `scheme://user:pass@host:port/db?x` -> `host:port`.
pub(crate) fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    }
}

/// Whether something accepts TCP connections at `addr`.
pub fn answers(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// A short random lowercase name (for tables, buckets, databases), unique across parallel tests.
pub fn unique_name(prefix: &str) -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    format!("{prefix}{:x}{:x}{n:x}", std::process::id(), nanos)
}

#[cfg(test)]
mod tests {
    #[test]
    fn host_port_of_urls() {
        let check = |url, expect: &str| assert_eq!(super::host_port(url, 5432), expect);
        check("postgres://postgres@127.0.0.1:5432/test", "127.0.0.1:5432");
        check("postgres://u:p@db.internal/app?sslmode=require", "db.internal:5432");
        check("redis://127.0.0.1:6380", "127.0.0.1:6380");
    }

    #[test]
    fn unique_names_differ() {
        assert_ne!(super::unique_name("t"), super::unique_name("t"));
    }
}
