//! The local servers tests and `cargo xtask dev --backends local` talk to (PostgreSQL, Redis):
//! where they are and whether they answer, with the command that starts one that does not.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

/// A local server found through an environment variable with a default.
#[derive(Debug, Clone, Copy)]
pub struct Service {
    pub name: &'static str,
    pub var: &'static str,
    pub default_url: &'static str,
    pub default_port: u16,
    /// How to start it on a Debian machine like CI's.
    pub start: &'static str,
}

pub const POSTGRES: Service = Service {
    name: "PostgreSQL",
    var: "DATABASE_URL",
    default_url: "postgres://postgres@127.0.0.1:5432/test",
    default_port: 5432,
    start: "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
};

pub const REDIS: Service = Service {
    name: "Redis",
    var: "REDIS_URL",
    default_url: "redis://127.0.0.1:6379",
    default_port: 6379,
    start: "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save \"\" --appendonly no",
};

/// Why a service cannot be used: what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreachable {
    pub what: String,
    pub hint: String,
}

impl Service {
    /// The URL from the environment variable, or the default.
    pub fn url(&self) -> String {
        std::env::var(self.var).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| self.default_url.to_string())
    }

    /// [`Service::url`] when something accepts connections at its host and port.
    pub fn check(&self) -> Result<String, Unreachable> {
        let url = self.url();
        let host_port = host_port(&url, self.default_port);
        let reachable = host_port
            .to_socket_addrs()
            .ok()
            .into_iter()
            .flatten()
            .any(|addr| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).is_ok());
        if reachable {
            return Ok(url);
        }
        Err(Unreachable {
            what: format!("{} is not reachable at {host_port} ({}={url})", self.name, self.var),
            hint: format!("start it with `{}`, or point {} at a running server", self.start, self.var),
        })
    }

    /// [`Service::check`] for tests: panics with the cause and the hint.
    pub fn require(&self) -> String {
        self.check().unwrap_or_else(|e| panic!("{}.\n{} (`cargo xtask test` checks this too).", e.what, e.hint))
    }
}

/// `scheme://user:pass@host:port/db?x` -> `host:port`.
pub fn host_port(url: &str, default_port: u16) -> String {
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
