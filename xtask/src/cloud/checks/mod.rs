//! Every check `cargo xtask lint` makes (and `cargo xtask test` through it), each reporting what it
//! compared and the problems it found, one line each:
//!
//! - [`consistency`]: parameter declarations, the outputs the tool reads, deletion policies and
//!   deletion protection, no wildcard IAM actions;
//! - the parameters file under [`crate::cloud::ParameterFile`]'s rules, and what the deploy injects
//!   ([`crate::cloud::injected`]);
//! - [`deployer_files`]: each deployer policy file's grammar and size;
//! - authorization, from AWS's own data rather than hand tables (inputs in [`files`], the stand-in
//!   deployment in [`model`]): [`handlers`] (what CloudFormation's resource handlers call vs the
//!   deployer policies, resource scoping and tag-on-create included), [`deployer_calls`] (what the
//!   xtask itself calls vs the deployer policies), [`key_policies`] (what each KMS
//!   key's policy must delegate), [`function_roles`] (what each function's code and the platform call vs its role, read off
//!   the code by [`function_code`]),
//!   [`iam_grammar`] (parliament on every policy document);
//! - [`external`]: cfn-lint and checkov.
//!
//! Each check is a pure function of parsed inputs that returns a [`CheckReport`]; [`crate::lint`]
//! runs them all.

pub mod consistency;
pub mod deployer_calls;
pub mod deployer_files;
pub mod external;
pub mod files;
pub mod function_code;
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
    /// What was compared with what, e.g. "50 resource types, 577 handler actions vs 4 deployer policies".
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
