//! A private Redis server for a test that must stop it: `redis-server` on a free loopback port
//! (no persistence), which [`RedisServer::pause`] freezes (SIGSTOP: connections stay open, requests
//! wait in the kernel's buffers, as in a network blip or a stalled host) and [`RedisServer::resume`]
//! thaws (SIGCONT: it answers everything that waited). Stopped on drop. Signals go to this one
//! process by id.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::process::Guard;

pub struct RedisServer {
    process: Guard,
    port: u16,
}

impl RedisServer {
    /// Starts `redis-server` (`REDIS_SERVER` names another binary) and waits until it answers.
    /// Panics with a hint when it cannot (for tests).
    pub fn start() -> RedisServer {
        let binary = std::env::var("REDIS_SERVER").unwrap_or_else(|_| "redis-server".into());
        let port = crate::free_port();
        let child = Command::new(&binary)
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e} (install Redis: apt-get install redis-server)"));
        let server = RedisServer { process: Guard(child), port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while !crate::answers(([127, 0, 0, 1], port).into()) {
            assert!(Instant::now() < deadline, "redis-server did not listen on port {port} within 10 s");
            std::thread::sleep(Duration::from_millis(20));
        }
        server
    }

    /// `redis://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Freezes the server (SIGSTOP).
    pub fn pause(&self) {
        self.signal("-STOP");
    }

    /// Thaws it (SIGCONT).
    pub fn resume(&self) {
        self.signal("-CONT");
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill").args([signal, &self.process.0.id().to_string()]).status();
        assert!(status.is_ok_and(|s| s.success()), "kill {signal} {} failed", self.process.0.id());
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        // A stopped process ignores SIGTERM until continued.
        let _ = Command::new("kill").args(["-CONT", &self.process.0.id().to_string()]).status();
    }
}
