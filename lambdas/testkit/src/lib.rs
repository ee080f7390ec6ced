//! The test kit: one stand-in per external thing, for the tests of every crate and for the tools
//! (the bench, the dev server's `--backends local`). Never linked into a Lambda (a tidy test
//! checks every function's dependency closure).
//!
//! - [`moto::Moto`]: the one moto launcher: moto's server on a free loopback port (DynamoDB with
//!   streams, S3, CloudFormation, ...), stopped on drop and by itself after its lifetime at the latest.
//! - [`faults::FaultProxy`]: an HTTP proxy in front of moto that throttles, fails, drops, delays,
//!   serves stale DescribeStacks and refuses buckets of other owners, on chosen operations.
//! - [`services`]: where PostgreSQL and Redis are and whether they answer.
//! - [`process`]: stopping child processes (SIGTERM, then SIGKILL).
//! - [`free_port`], [`closed_port`]: loopback ports to listen on, or to point a client at to simulate
//!   an outage.
//! - [`database_url`], [`redis_url`]: the real servers the tests use, with a clear panic telling
//!   how to start them when they are not reachable.
//! - [`pg::TestDb`]: a fresh PostgreSQL database per test, dropped afterwards.
//! - [`proxy::Proxy`]: a TCP proxy to switch a dependency off and on (fault tests).
//! - [`redis::RedisServer`]: a private Redis to pause (SIGSTOP) and resume (SIGCONT).
//! - [`http::send`]: the one small HTTP client (presigned URLs, the dev server, smoke checks).
//! - [`aws`]: SDK configuration and clients pointed at moto (dummy static credentials, us-east-1,
//!   path-style S3).

pub mod aws;
pub mod faults;
pub mod http;
pub mod moto;
pub mod pg;
pub mod process;
pub mod proxy;
pub mod redis;
pub mod services;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::Duration;

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
    services::POSTGRES.require()
}

/// `REDIS_URL`, or the default `redis://127.0.0.1:6379`. Panics, saying how to start Redis, when
/// nothing answers there.
pub fn redis_url() -> String {
    services::REDIS.require()
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
    fn unique_names_differ() {
        assert_ne!(super::unique_name("t"), super::unique_name("t"));
    }
}
