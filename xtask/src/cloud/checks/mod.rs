//! Authorization checks on `cloud/`: what CloudFormation's handlers, the KMS keys, the functions and
//! IAM's own grammar need, compared with what the policies grant. Each check is a pure function of
//! parsed inputs (the template's long-form JSON, policy documents as `serde_json::Value`, the pinned
//! data in `cloud/aws/`) that returns a [`CheckReport`]; `lint.rs` prints one line per check.
//!
//! Depends on serde_json, regex and std only (plus `crate::template` to parse and `crate::tools`
//! for the Python venv), so that the callers can move without these modules changing.

pub mod deployer_files;
pub mod files;
pub mod function_roles;
pub mod handlers;
pub mod iam_grammar;
pub mod key_policies;
pub mod model;
pub mod policy;

/// What a check compared and what it found missing, one line per problem. Each problem names the
/// resource (logical id and type) or the file, and the action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    pub name: &'static str,
    /// What was compared with what, e.g. "50 resource types, 577 handler actions vs 8 deployer policies".
    pub compared: String,
    pub problems: Vec<String>,
}

impl CheckReport {
    /// `name: compared: N missing`, the line `cargo xtask lint` prints.
    pub fn summary(&self) -> String {
        format!("{}: {}: {} missing", self.name, self.compared, self.problems.len())
    }

    /// The summary and then every problem on its own line (for test snapshots).
    pub fn render(&self) -> String {
        let mut out = self.summary();
        for problem in &self.problems {
            out.push_str("\n  ");
            out.push_str(problem);
        }
        out
    }
}
