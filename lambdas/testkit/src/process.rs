//! Child processes that must not outlive their owner: stop one politely, then for good.

use std::process::{Child, Command};
use std::time::{Duration, Instant};

/// Sends SIGTERM to this one process (by id, never by name), waits up to `grace` for it to exit,
/// then kills it. Always reaps it.
pub fn terminate(child: &mut Child, grace: Duration) {
    if let Ok(Some(_)) = child.try_wait() {
        return;
    }
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    wait_or_kill(child, grace);
}

/// Waits up to `grace` for a child that was asked to stop some other way (its stdin closed, say),
/// then [`terminate`]s it.
pub fn wait_or_terminate(child: &mut Child, grace: Duration) {
    if !wait(child, grace) {
        terminate(child, grace);
    }
}

fn wait_or_kill(child: &mut Child, grace: Duration) {
    if !wait(child, grace) {
        let _ = child.kill();
        let _ = child.wait();
    }
}

fn wait(child: &mut Child, grace: Duration) -> bool {
    let deadline = Instant::now() + grace;
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// A child process that is [`terminate`]d (SIGTERM, then SIGKILL after 5 s) when dropped.
pub struct Guard(pub Child);

impl Guard {
    pub fn stop(mut self) {
        terminate(&mut self.0, Duration::from_secs(5));
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        terminate(&mut self.0, Duration::from_secs(5));
    }
}
