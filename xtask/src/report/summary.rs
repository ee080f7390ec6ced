//! What a run did, printed at its end (stderr) and as JSON with `--json` (stdout): transfers, stack
//! action, invalidations, AWS calls by operation, time per phase. A section is printed when the run
//! filled it in; no command is special-cased here.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::aws::calls;
pub use crate::aws::cfn::Change;

/// A function whose zip a deploy changes: the key the stack runs (None: a new function or stack)
/// and the key it gets.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CodeKeyChange {
    pub function: String,
    pub deployed: Option<String>,
    pub new: String,
}

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

/// Everything a run did. Fields a command does not use stay empty and are neither printed nor
/// (when optional) serialized.
#[derive(Debug, Default, Serialize)]
pub struct Summary {
    pub command: String,
    /// The stack the run worked on (AWS commands only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stack: Option<String>,
    pub region: String,
    /// The account the credentials act in (AWS commands, once known).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    pub dry_run: bool,
    pub stack_action: String,
    /// The change set's resource changes (executed, or only described by a plan).
    pub resource_changes: Vec<Change>,
    /// The functions whose code key this run changes (or would).
    pub code_key_changes: Vec<CodeKeyChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub artifacts: Option<Transfer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub site: Option<Transfer>,
    pub uploaded_keys: Vec<String>,
    pub deleted_keys: Vec<String>,
    pub invalidation_paths: Vec<String>,
    /// Buckets emptied (destroy), and the object versions and delete markers removed from them.
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

impl Summary {
    /// Copies the process-wide call counters into the summary.
    pub fn count_calls(&mut self) {
        self.aws_calls = calls::snapshot();
        self.aws_calls_total = self.aws_calls.values().sum();
        self.aws_read_calls = self.aws_calls.iter().filter(|(op, _)| calls::is_read(op)).map(|(_, n)| n).sum();
        self.aws_write_calls = self.aws_calls_total - self.aws_read_calls;
    }

    /// The human-readable summary, one line per fact.
    pub fn render(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.push(format!("---- summary{}", if self.dry_run { " (dry run: nothing was written)" } else { "" }));
        if let Some(stack) = &self.stack {
            let action = if self.stack_action.is_empty() { "-" } else { &self.stack_action };
            out.push(format!("  stack        {stack} in {}: {action}", self.region));
        }
        if !self.emptied_buckets.is_empty() {
            out.push(format!(
                "  emptied      {} ({} object versions and delete markers)",
                self.emptied_buckets.join(" "),
                self.objects_deleted
            ));
        }
        for (label, t) in [("artifacts", &self.artifacts), ("site files", &self.site)] {
            if let Some(t) = t {
                out.push(format!(
                    "  {label:<12} {} uploaded ({}), {} unchanged ({}), {} deleted",
                    t.uploaded,
                    human_bytes(t.uploaded_bytes),
                    t.skipped,
                    human_bytes(t.skipped_bytes),
                    t.deleted
                ));
            }
        }
        if !self.invalidation_paths.is_empty() {
            out.push(format!("  invalidated  {}", self.invalidation_paths.join(" ")));
        }
        if !self.migration.is_empty() {
            out.push(format!("  migrations   {}", self.migration));
        }
        if self.stack.is_some() {
            out.push(format!(
                "  AWS calls    {} ({} reads, {} writes)",
                self.aws_calls_total, self.aws_read_calls, self.aws_write_calls
            ));
            for (op, n) in &self.aws_calls {
                out.push(format!("    {n:>5}  {op}"));
            }
        }
        let total = self.phases.iter().fold(0.0, |sum, p| sum + p.seconds);
        out.push(format!("  time         {total:.1}s"));
        for p in &self.phases {
            out.push(format!("    {:>6.1}s  {}", p.seconds, p.phase));
        }
        out
    }
}

/// `12 B`, `340.0 KiB`, `1.2 MiB`.
pub fn human_bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        _ => format!("{:.1} MiB", n as f64 / 1_048_576.0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_appear_when_filled_in() {
        let build = Summary { command: "build".into(), ..Summary::default() };
        assert_eq!(build.render(), ["---- summary", "  time         0.0s"]);
        let destroy = Summary {
            command: "destroy".into(),
            stack: Some("s".into()),
            region: "r".into(),
            emptied_buckets: vec!["b".into()],
            objects_deleted: 3,
            ..Summary::default()
        };
        let lines = destroy.render();
        assert!(lines.contains(&"  emptied      b (3 object versions and delete markers)".to_string()), "{lines:?}");
        assert!(!lines.iter().any(|l| l.contains("site files")), "{lines:?}");
    }

    #[test]
    fn bytes_are_human() {
        assert_eq!(human_bytes(12), "12 B");
        assert_eq!(human_bytes(2048), "2.0 KiB");
        assert_eq!(human_bytes(3 * 1_048_576), "3.0 MiB");
    }
}
