//! Progress lines per phase (indicatif spinners on a terminal, plain lines otherwise) and the
//! closing summary: files and bytes uploaded/skipped/deleted, AWS calls by operation, time per phase.

use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::calls;

/// Counts of one kind of transfer (artifacts or site files).
#[derive(Debug, Default, Clone, Serialize)]
pub struct Transfer {
    pub uploaded: u64,
    pub uploaded_bytes: u64,
    pub skipped: u64,
    pub skipped_bytes: u64,
    pub deleted: u64,
}

#[derive(Debug, Default, Serialize)]
pub struct PhaseTime {
    pub phase: String,
    pub seconds: f64,
    pub detail: String,
}

/// Everything a run did, printed at the end and as JSON with `--json`.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub command: String,
    pub stack: String,
    pub region: String,
    pub dry_run: bool,
    pub stack_action: String,
    pub change_set_changes: Vec<String>,
    pub artifacts: Transfer,
    pub site: Transfer,
    pub uploaded_keys: Vec<String>,
    pub deleted_keys: Vec<String>,
    pub invalidation_paths: Vec<String>,
    /// destroy: object versions and delete markers removed from the emptied buckets.
    pub emptied_buckets: Vec<String>,
    pub objects_deleted: u64,
    pub migration: String,
    pub notes: Vec<String>,
    pub phases: Vec<PhaseTime>,
    pub aws_calls: BTreeMap<String, u64>,
    pub aws_calls_total: u64,
    pub aws_read_calls: u64,
    pub aws_write_calls: u64,
}

/// The user-facing side of a run: one line per phase with its timing, notes in between.
pub struct Ui {
    tty: bool,
    current: Mutex<Option<(String, Instant, ProgressBar)>>,
    pub summary: Mutex<Summary>,
}

impl Ui {
    pub fn new(command: &str, stack: &str, region: &str, dry_run: bool) -> Ui {
        let summary = Summary {
            command: command.into(),
            stack: stack.into(),
            region: region.into(),
            dry_run,
            ..Summary::default()
        };
        Ui { tty: std::io::stderr().is_terminal(), current: Mutex::new(None), summary: Mutex::new(summary) }
    }

    fn start(&self, name: &str) {
        let bar = if self.tty {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            bar.set_style(ProgressStyle::with_template("{spinner} {msg} {elapsed}").expect("valid template"));
            bar.set_message(name.to_string());
            bar.enable_steady_tick(Duration::from_millis(120));
            bar
        } else {
            eprintln!("==> {name}");
            ProgressBar::hidden()
        };
        *self.current.lock().expect("ui poisoned") = Some((name.to_string(), Instant::now(), bar));
    }

    fn end<T>(&self, result: anyhow::Result<(T, String)>) -> anyhow::Result<T> {
        let Some((name, start, bar)) = self.current.lock().expect("ui poisoned").take() else {
            return result.map(|(v, _)| v);
        };
        bar.finish_and_clear();
        let secs = start.elapsed().as_secs_f64();
        let (line, detail) = match &result {
            Ok((_, detail)) => (format!("    {name:<12} ok   {secs:>6.1}s  {detail}"), detail.clone()),
            Err(_) => (format!("    {name:<12} FAILED after {secs:.1}s"), "failed".to_string()),
        };
        eprintln!("{line}");
        self.summary.lock().expect("ui poisoned").phases.push(PhaseTime { phase: name, seconds: secs, detail });
        result.map(|(v, _)| v)
    }

    /// Runs `f` as phase `name`: a spinner (or a plain line) before, `name  ok  1.2s  detail` after.
    pub async fn phase<T, F>(&self, name: &str, f: F) -> anyhow::Result<T>
    where
        F: Future<Output = anyhow::Result<(T, String)>>,
    {
        self.start(name);
        let result = f.await;
        self.end(result)
    }

    /// The preflight: silent until it succeeds (a refusal is reported by the caller as one error
    /// line and one hint, nothing else), then one `ok` line with its timing.
    pub fn preflight<T>(&self, f: impl FnOnce() -> anyhow::Result<(T, String)>) -> anyhow::Result<T> {
        let start = Instant::now();
        let (value, detail) = f()?;
        let secs = start.elapsed().as_secs_f64();
        eprintln!("    {:<12} ok   {secs:>6.1}s  {detail}", "preflight");
        self.summary.lock().expect("ui poisoned").phases.push(PhaseTime {
            phase: "preflight".into(),
            seconds: secs,
            detail,
        });
        Ok(value)
    }

    /// [`Ui::phase`] for synchronous work.
    pub fn phase_blocking<T>(&self, name: &str, f: impl FnOnce() -> anyhow::Result<(T, String)>) -> anyhow::Result<T> {
        self.start(name);
        let result = f();
        self.end(result)
    }

    /// Prints a line without tearing the spinner.
    pub fn line(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        match &*self.current.lock().expect("ui poisoned") {
            Some((_, _, bar)) if self.tty => bar.suspend(|| eprintln!("{text}")),
            _ => eprintln!("{text}"),
        }
    }

    /// Shows progress within the current phase next to its spinner, e.g. `site 12/40 files`.
    pub fn progress(&self, text: impl AsRef<str>) {
        if let Some((name, _, bar)) = &*self.current.lock().expect("ui poisoned") {
            bar.set_message(format!("{name} {}", text.as_ref()));
        }
    }

    /// Runs `f` (a prompt) with the spinner hidden.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        let bar = self.current.lock().expect("ui poisoned").as_ref().map(|(_, _, bar)| bar.clone());
        match bar {
            Some(bar) if self.tty => bar.suspend(f),
            _ => f(),
        }
    }

    /// A line that also lands in the summary's notes.
    pub fn note(&self, text: impl Into<String>) {
        let text = text.into();
        self.line(format!("    note: {text}"));
        self.summary.lock().expect("ui poisoned").notes.push(text);
    }

    pub fn with<R>(&self, f: impl FnOnce(&mut Summary) -> R) -> R {
        f(&mut self.summary.lock().expect("ui poisoned"))
    }

    /// Prints the closing summary (stderr) and, with `json`, the summary as JSON on stdout.
    pub fn finish(&self, json: bool) -> anyhow::Result<()> {
        let mut s = self.summary.lock().expect("ui poisoned");
        s.aws_calls = calls::snapshot();
        s.aws_calls_total = s.aws_calls.values().sum();
        s.aws_read_calls = s.aws_calls.iter().filter(|(op, _)| calls::is_read(op)).map(|(_, n)| n).sum();
        s.aws_write_calls = s.aws_calls_total - s.aws_read_calls;
        eprintln!("---- summary{}", if s.dry_run { " (dry run: nothing was written)" } else { "" });
        eprintln!(
            "  stack        {} in {}: {}",
            s.stack,
            s.region,
            if s.stack_action.is_empty() { "-" } else { &s.stack_action }
        );
        if s.command == "destroy" {
            eprintln!(
                "  emptied      {} ({} object versions and delete markers)",
                s.emptied_buckets.join(" "),
                s.objects_deleted
            );
        }
        for (label, t) in
            [("artifacts", &s.artifacts), ("site files", &s.site)].into_iter().filter(|_| s.command != "destroy")
        {
            eprintln!(
                "  {label:<12} {} uploaded ({}), {} unchanged ({}), {} deleted",
                t.uploaded,
                human_bytes(t.uploaded_bytes),
                t.skipped,
                human_bytes(t.skipped_bytes),
                t.deleted
            );
        }
        if !s.invalidation_paths.is_empty() {
            eprintln!("  invalidated  {}", s.invalidation_paths.join(" "));
        }
        if !s.migration.is_empty() {
            eprintln!("  migrations   {}", s.migration);
        }
        eprintln!("  AWS calls    {} ({} reads, {} writes)", s.aws_calls_total, s.aws_read_calls, s.aws_write_calls);
        for (op, n) in &s.aws_calls {
            eprintln!("    {n:>5}  {op}");
        }
        let total: f64 = s.phases.iter().map(|p| p.seconds).sum();
        eprintln!("  time         {total:.1}s");
        for p in &s.phases {
            eprintln!("    {:>6.1}s  {}", p.seconds, p.phase);
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&*s)?);
        }
        Ok(())
    }
}

pub fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}
