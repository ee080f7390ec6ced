//! Cold-start accounting: how long each step of a function's init takes, logged once as one `init`
//! line before the function polls for its first event. `cargo xtask bench cold-init` reads that
//! line (`phases_us`) into its breakdown; in CloudWatch it explains a slow `Init Duration`.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

/// Phases of one init, in order.
pub struct InitPhases {
    last: Instant,
    phases: Vec<(&'static str, Duration)>,
}

impl InitPhases {
    /// Starts the clock (first thing in `main`; what runs before `main` is not counted).
    pub fn start() -> InitPhases {
        InitPhases { last: Instant::now(), phases: Vec::new() }
    }

    /// Ends the current phase under `name` and starts the next.
    pub fn mark(&mut self, name: &'static str) {
        let now = Instant::now();
        self.phases.push((name, now - self.last));
        self.last = now;
    }

    /// `crypto=12 logging=40 …`: microseconds per phase.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for (name, took) in &self.phases {
            let sep = if out.is_empty() { "" } else { " " };
            let _ = write!(out, "{sep}{name}={}", took.as_micros());
        }
        out
    }

    /// One `init` line: `phases_us` as in [`InitPhases::summary`], `total_us` their sum.
    pub fn log(&self) {
        let total: Duration = self.phases.iter().map(|(_, d)| *d).sum();
        tracing::info!(phases_us = %self.summary(), total_us = total.as_micros() as u64, "init");
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn phases_are_listed_in_order_in_microseconds() {
        let mut phases = super::InitPhases::start();
        phases.mark("crypto");
        std::thread::sleep(std::time::Duration::from_millis(2));
        phases.mark("sdk_config");
        let summary = phases.summary();
        let (crypto, sdk) = summary.split_once(' ').expect("two phases");
        assert!(crypto.starts_with("crypto="), "{summary}");
        let sdk_us: u64 = sdk.strip_prefix("sdk_config=").and_then(|us| us.parse().ok()).expect("sdk_config=<µs>");
        assert!(sdk_us >= 2000, "{summary}");
    }
}
