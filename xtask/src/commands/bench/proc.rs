//! Running tools with a bound on their time, timing them, and cleaning up after them.

use std::ffi::OsStr;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;

/// A finished run: what it printed, how it exited, how long it took (wall clock), and the CPU
/// time (user + system) it and its children used.
pub struct Run {
    pub output: Output,
    pub wall: Duration,
    pub cpu: Duration,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }

    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }

    /// The run, or an error with the command's last lines of stderr.
    pub fn check(self, what: &str) -> anyhow::Result<Run> {
        if self.output.status.success() {
            return Ok(self);
        }
        let stderr = self.stderr();
        let tail: Vec<&str> = stderr.lines().rev().take(6).collect::<Vec<_>>().into_iter().rev().collect();
        anyhow::bail!("{what} failed ({}): {}", self.output.status, tail.join(" / "))
    }
}

/// `cmd` under coreutils `timeout` (killed after `limit`, SIGKILL 5 s later), stdin closed.
/// The wall time covers the whole child, `timeout`'s own fork included (microseconds).
pub fn run(mut cmd: Command, limit: Duration) -> anyhow::Result<Run> {
    let mut wrapped = Command::new("timeout");
    wrapped.args(["-k", "5", &format!("{}", limit.as_secs().max(1))]).arg(cmd.get_program()).args(cmd.get_args());
    for (k, v) in cmd.get_envs() {
        match v {
            Some(v) => wrapped.env(k, v),
            None => wrapped.env_remove(k),
        };
    }
    if let Some(dir) = cmd.get_current_dir() {
        wrapped.current_dir(dir);
    }
    // `cmd` itself is only a description; make sure nothing inherits our stdin.
    cmd.stdin(Stdio::null());
    wrapped.stdin(Stdio::null());
    let program = cmd.get_program().to_string_lossy().into_owned();
    let cpu_before = children_cpu();
    let start = Instant::now();
    let output = wrapped.output().with_context(|| format!("cannot run {program}"))?;
    let wall = start.elapsed();
    // Children waited for by other threads meanwhile would count too; the scenarios that read
    // `cpu` run one tool at a time.
    let cpu = children_cpu().saturating_sub(cpu_before);
    if output.status.code() == Some(124) {
        anyhow::bail!("{program} did not finish within {} s and was stopped", limit.as_secs());
    }
    Ok(Run { output, wall, cpu })
}

/// User + system CPU time of every child this process has waited for (`cutime` + `cstime` of
/// `/proc/self/stat`, in clock ticks of 10 ms); zero where there is no such file.
pub fn children_cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    // `state` is field 3 of stat(5), so field n is fields[n - 3]: cutime 16, cstime 17.
    let ticks = |n: usize| fields.get(n - 3).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    Duration::from_millis((ticks(16) + ticks(17)) * 1000 / CLOCK_TICKS_PER_SEC)
}

/// `sysconf(_SC_CLK_TCK)`, 100 on every Linux this runs on.
const CLOCK_TICKS_PER_SEC: u64 = 100;

/// The first line a tool prints for `args` (stdout, else stderr), or `not found`.
pub fn version(program: impl AsRef<OsStr>, args: &[&str]) -> String {
    match Command::new(program).args(args).stdin(Stdio::null()).output() {
        Ok(out) => {
            let text = if out.stdout.iter().any(|b| !b.is_ascii_whitespace()) { out.stdout } else { out.stderr };
            String::from_utf8_lossy(&text).lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("?").to_string()
        }
        Err(_) => "not found".into(),
    }
}

/// A free TCP port on 127.0.0.1 (free when asked; the caller binds it right away).
pub fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// A child process killed (and reaped) when this guard is dropped.
pub struct Guard(pub Child);

impl Drop for Guard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Sends SIGTERM to one process by id (no broad names), then waits up to `grace` for `child` to exit,
/// then kills it.
pub fn terminate(child: &mut Child, grace: Duration) {
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let deadline = Instant::now() + grace;
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Copies a directory tree (files and directories only), skipping any top-level `target/` and `.git`.
pub fn copy_tree(from: &Path, to: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from).with_context(|| format!("cannot read {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name == "target" || name == ".git" {
            continue;
        }
        let kind = entry.file_type()?;
        let dest = to.join(&name);
        if kind.is_dir() {
            copy_tree(&entry.path(), &dest)?;
        } else if kind.is_file() {
            std::fs::copy(entry.path(), &dest).with_context(|| format!("cannot copy {}", entry.path().display()))?;
        }
    }
    Ok(())
}
