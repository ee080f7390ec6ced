//! The local services tests need (PostgreSQL, Redis): where they are and whether they answer.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::errors::Refusal;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

pub fn database_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_string())
}

pub fn redis_url() -> String {
    std::env::var("REDIS_URL").unwrap_or_else(|_| DEFAULT_REDIS_URL.to_string())
}

/// Fails with how to start the service when nothing listens at the URL's host and port.
pub fn require(name: &str, var: &str, url: &str, default_port: u16, start: &str) -> anyhow::Result<()> {
    let host_port = host_port(url, default_port);
    let reachable = host_port
        .to_socket_addrs()
        .ok()
        .into_iter()
        .flatten()
        .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
    if reachable {
        return Ok(());
    }
    Err(Refusal::new(
        format!("{name} is not reachable at {host_port} ({var}={url})"),
        format!("start it with `{start}`, or point {var} at a running server"),
    )
    .into())
}

pub fn require_postgres() -> anyhow::Result<()> {
    require(
        "PostgreSQL",
        "DATABASE_URL",
        &database_url(),
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    )
}

pub fn require_redis() -> anyhow::Result<()> {
    require(
        "Redis",
        "REDIS_URL",
        &redis_url(),
        6379,
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no",
    )
}

/// `scheme://user:pass@host:port/db?x` -> `host:port`.
fn host_port(url: &str, default_port: u16) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?']).next().unwrap_or(rest);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    if host.rsplit_once(':').is_some_and(|(_, p)| p.parse::<u16>().is_ok()) {
        host.to_string()
    } else {
        format!("{host}:{default_port}")
    }
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
}
