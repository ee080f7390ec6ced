//! How a command talks to the person (or pipeline) running it: one line per phase with its timing
//! (an indicatif spinner on a terminal, plain lines otherwise), notes in between, prompts, and at
//! the end the summary (stderr; `--json` on stdout) with the failure epilogue, so that the cause of
//! a failure is the first thing read.

pub mod markdown;
pub mod summary;

use std::io::{BufRead, IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub use self::summary::{Change, CodeKeyChange, PhaseTime, Summary, Transfer, human_bytes};
use crate::error::Refusal;

/// The user-facing side of a run.
pub struct Ui {
    /// Spinners only on a terminal, and only when no child process writes to it meanwhile.
    spinners: bool,
    current: Mutex<Option<(String, Instant, ProgressBar)>>,
    pub summary: Mutex<Summary>,
}

impl Ui {
    /// A run of `command` whose phases are our own work (spinners on a terminal).
    pub fn new(command: &str, dry_run: bool) -> Ui {
        let summary = Summary { command: command.into(), dry_run, ..Summary::default() };
        Ui { spinners: std::io::stderr().is_terminal(), current: Mutex::new(None), summary: Mutex::new(summary) }
    }

    /// A run whose phases run tools that print (cargo, pip, npm): plain `==> phase` lines only.
    pub fn plain(command: &str) -> Ui {
        Ui { spinners: false, ..Ui::new(command, false) }
    }

    fn start(&self, name: &str) {
        let bar = if self.spinners {
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

    /// [`Ui::phase`] for synchronous work.
    pub fn phase_blocking<T>(&self, name: &str, f: impl FnOnce() -> anyhow::Result<(T, String)>) -> anyhow::Result<T> {
        self.start(name);
        let result = f();
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

    /// Prints a line without tearing the spinner.
    pub fn line(&self, text: impl AsRef<str>) {
        let text = text.as_ref();
        match &*self.current.lock().expect("ui poisoned") {
            Some((_, _, bar)) if self.spinners => bar.suspend(|| eprintln!("{text}")),
            _ => eprintln!("{text}"),
        }
    }

    /// Shows progress within the current phase next to its spinner, e.g. `site 12/40 files`.
    pub fn progress(&self, text: impl AsRef<str>) {
        if let Some((name, _, bar)) = &*self.current.lock().expect("ui poisoned") {
            bar.set_message(format!("{name} {}", text.as_ref()));
        }
    }

    /// Asks `question` on the terminal (the spinner hidden meanwhile) and returns the trimmed
    /// answer; refuses without a terminal, naming `without_terminal` as what to do instead.
    pub fn ask(&self, question: &str, without_terminal: &str) -> anyhow::Result<String> {
        if !std::io::stdin().is_terminal() {
            return Err(Refusal::new(
                "cannot ask for confirmation: standard input is not a terminal",
                without_terminal,
            )
            .into());
        }
        let bar = self.current.lock().expect("ui poisoned").as_ref().map(|(_, _, bar)| bar.clone());
        let prompt = || -> anyhow::Result<String> {
            eprint!("{question} ");
            std::io::stderr().flush()?;
            let mut line = String::new();
            std::io::stdin().lock().read_line(&mut line)?;
            Ok(line.trim().to_string())
        };
        match bar {
            Some(bar) if self.spinners => bar.suspend(prompt),
            _ => prompt(),
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

    /// Ends the run: on failure the cause first (`FAILED: ...`, above the summary), then the summary
    /// on stderr and, with `json`, as JSON on stdout. Returns `result` unchanged.
    pub fn conclude<T>(&self, result: anyhow::Result<T>, json: bool) -> anyhow::Result<T> {
        if let Err(err) = &result {
            eprintln!("FAILED: {}", crate::error::chain_line(err));
        }
        let mut s = self.summary.lock().expect("ui poisoned");
        s.count_calls();
        for line in s.render() {
            eprintln!("{line}");
        }
        if json {
            println!("{}", serde_json::to_string_pretty(&*s)?);
        }
        result
    }
}
