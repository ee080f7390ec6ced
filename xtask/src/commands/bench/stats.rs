//! Summaries of repeated measurements: median, min–max, ratios. Pure functions, snapshot-tested.

use std::time::Duration;

/// Median and range of a set of samples (seconds, bytes, counts: any unit).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Summary {
    pub n: usize,
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

impl Summary {
    /// `None` for an empty set. The median of an even count is the mean of the two middle values.
    pub fn of(samples: &[f64]) -> Option<Summary> {
        if samples.is_empty() {
            return None;
        }
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let mid = sorted.len() / 2;
        let median = if sorted.len().is_multiple_of(2) { (sorted[mid - 1] + sorted[mid]) / 2.0 } else { sorted[mid] };
        Some(Summary { n: sorted.len(), median, min: sorted[0], max: sorted[sorted.len() - 1] })
    }

    pub fn of_durations(samples: &[Duration]) -> Option<Summary> {
        Summary::of(&samples.iter().map(Duration::as_secs_f64).collect::<Vec<_>>())
    }

    /// `12.3 ms (10.1–15.2)`: median then range, in the unit [`fmt_secs`] picks for the median.
    pub fn secs(&self) -> String {
        let unit = TimeUnit::for_secs(self.median);
        if self.n == 1 {
            return unit.fmt(self.median, true);
        }
        format!("{} ({}–{})", unit.fmt(self.median, true), unit.fmt(self.min, false), unit.fmt(self.max, false))
    }

    /// `1,000 (998–1,002)`, or just `1,000` when every sample is the same.
    pub fn count(&self) -> String {
        if self.min == self.max {
            thousands(self.median.round() as u64)
        } else {
            format!(
                "{} ({}–{})",
                thousands(self.median.round() as u64),
                thousands(self.min.round() as u64),
                thousands(self.max.round() as u64)
            )
        }
    }

    /// Like [`Summary::count`] with one decimal: `1,234.5 (1,200.0–1,250.3)`.
    pub fn rate(&self) -> String {
        if self.min == self.max {
            decimal(self.median)
        } else {
            format!("{} ({}–{})", decimal(self.median), decimal(self.min), decimal(self.max))
        }
    }
}

#[derive(Clone, Copy)]
enum TimeUnit {
    Micros,
    Millis,
    Secs,
}

impl TimeUnit {
    fn for_secs(secs: f64) -> TimeUnit {
        if secs < 1e-3 {
            TimeUnit::Micros
        } else if secs < 1.0 {
            TimeUnit::Millis
        } else {
            TimeUnit::Secs
        }
    }

    fn fmt(self, secs: f64, with_unit: bool) -> String {
        let (value, unit) = match self {
            TimeUnit::Micros => (secs * 1e6, "µs"),
            TimeUnit::Millis => (secs * 1e3, "ms"),
            TimeUnit::Secs => (secs, "s"),
        };
        let digits = if value >= 100.0 {
            0
        } else if value >= 10.0 {
            1
        } else {
            2
        };
        if with_unit { format!("{value:.digits$} {unit}") } else { format!("{value:.digits$}") }
    }
}

/// A duration in seconds, in the most readable unit: `850 µs`, `12.3 ms`, `4.56 s`.
pub fn fmt_secs(secs: f64) -> String {
    TimeUnit::for_secs(secs).fmt(secs, true)
}

/// `a / b` as `3.4×`; `∞` when `b` is zero and `a` is not; `–` when both are zero or missing.
pub fn ratio(a: f64, b: f64) -> String {
    if b == 0.0 {
        return if a == 0.0 { "–".into() } else { "∞".into() };
    }
    let r = a / b;
    let digits = if r >= 100.0 {
        0
    } else if r >= 10.0 {
        1
    } else {
        2
    };
    format!("{r:.digits$}×")
}

/// `12345` -> `12,345`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `1234.56` -> `1,234.6`.
pub fn decimal(x: f64) -> String {
    let tenths = (x * 10.0).round() as u64;
    format!("{}.{}", thousands(tenths / 10), tenths % 10)
}

/// `1.2 MiB`, `340.0 KiB`, `12 B`.
pub fn bytes(n: u64) -> String {
    const KIB: f64 = 1024.0;
    let x = n as f64;
    if x >= KIB * KIB {
        format!("{:.2} MiB", x / KIB / KIB)
    } else if x >= KIB {
        format!("{:.1} KiB", x / KIB)
    } else {
        format!("{n} B")
    }
}

/// The q-th percentile (0–100) of unsorted samples, nearest-rank.
pub fn percentile(samples: &[f64], q: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}
