//! A TCP proxy on a free loopback port that a test can switch off and on, to simulate a
//! dependency outage and its recovery (Postgres, Redis, moto) without touching the real server.

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

pub struct Proxy {
    port: u16,
    up: Arc<watch::Sender<bool>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Proxy {
    /// Forwards `127.0.0.1:<port>` to `target` (e.g. `127.0.0.1:5432`), up at first.
    pub fn start(target: SocketAddr) -> Proxy {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a loopback port");
        std_listener.set_nonblocking(true).expect("nonblocking listener");
        let port = std_listener.local_addr().expect("local addr").port();
        let (up, _) = watch::channel(true);
        let up = Arc::new(up);
        let (stop, mut stopped) = tokio::sync::oneshot::channel::<()>();
        let state = up.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("proxy runtime");
            rt.block_on(async move {
                let listener = TcpListener::from_std(std_listener).expect("tokio listener");
                loop {
                    let accepted = tokio::select! {
                        _ = &mut stopped => return,
                        accepted = listener.accept() => accepted,
                    };
                    let Ok((inbound, _)) = accepted else { continue };
                    if !*state.borrow() {
                        drop(inbound); // down: close at once
                        continue;
                    }
                    let mut watch = state.subscribe();
                    tokio::spawn(async move {
                        let Ok(mut outbound) = TcpStream::connect(target).await else { return };
                        let mut inbound = inbound;
                        tokio::select! {
                            _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                            _ = watch.wait_for(|up| !*up) => {} // going down cuts open connections
                        }
                    });
                }
            });
        });
        Proxy { port, up, stop: Some(stop), thread: Some(thread) }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// Down: open connections are cut and new ones closed at once. Up: forwarding again.
    pub fn set_up(&self, up: bool) {
        self.up.send_replace(up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.up.send_replace(false);
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// `scheme://user@host:port/rest` with host:port replaced by `127.0.0.1:<port>`.
pub fn rewrite_url(url: &str, port: u16) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("", url));
    let split = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(split);
    let userinfo = authority.rsplit_once('@').map(|(u, _)| format!("{u}@")).unwrap_or_default();
    format!("{scheme}://{userinfo}127.0.0.1:{port}{tail}")
}

/// The socket address of a URL's host and port (`default_port` when the URL has none).
pub fn target_of(url: &str, default_port: u16) -> SocketAddr {
    use std::net::ToSocketAddrs;
    crate::services::host_port(url, default_port)
        .to_socket_addrs()
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("cannot resolve {url}"))
}

#[cfg(test)]
mod tests {
    #[test]
    fn rewrites_urls() {
        assert_eq!(
            super::rewrite_url("postgres://postgres@127.0.0.1:5432/test", 9),
            "postgres://postgres@127.0.0.1:9/test"
        );
        assert_eq!(super::rewrite_url("redis://127.0.0.1:6379", 9), "redis://127.0.0.1:9");
        assert_eq!(super::rewrite_url("http://h", 9), "http://127.0.0.1:9");
    }
}
