//! Progress reporting for multi-step commands: each step prints its name, then how long it took.

use std::time::{Duration, Instant};

/// Timings of the steps run so far, for a closing summary.
#[derive(Default)]
pub struct Steps {
    pub done: Vec<(String, Duration)>,
}

impl Steps {
    /// Runs `f` as the step `name`, printing `==> name` before and `    ok in 1.2s` (or the failure) after.
    pub fn run<T>(&mut self, name: &str, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
        eprintln!("==> {name}");
        let start = Instant::now();
        let result = f();
        let took = start.elapsed();
        match &result {
            Ok(_) => eprintln!("    ok in {:.1}s", took.as_secs_f64()),
            Err(_) => eprintln!("    FAILED after {:.1}s", took.as_secs_f64()),
        }
        self.done.push((name.to_string(), took));
        result.map_err(|e| e.context(format!("step `{name}` failed")))
    }

    pub fn summary(&self) {
        eprintln!("---- timings");
        for (name, took) in &self.done {
            eprintln!("{:>8.1}s  {name}", took.as_secs_f64());
        }
        let total: Duration = self.done.iter().map(|(_, d)| *d).sum();
        eprintln!("{:>8.1}s  total", total.as_secs_f64());
    }
}
