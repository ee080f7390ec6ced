//! How failures reach the user: one line of cause (the whole context chain), then one line of hint.
//!
//! Commands return `anyhow::Error`s with `.context(..)`; a [`Refusal`] anywhere in the chain adds
//! the `hint:` line. [`not_yet`] is what a command that a later issue fills in returns.

use std::fmt;

/// A failure caused by the user's input or environment, with what to do about it.
#[derive(Debug)]
pub struct Refusal {
    pub what: String,
    pub hint: String,
}

impl Refusal {
    pub fn new(what: impl Into<String>, hint: impl Into<String>) -> Refusal {
        Refusal { what: what.into(), hint: hint.into() }
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Refusal {}

/// The error of a command whose implementation has not landed yet. Never pretend to succeed.
pub fn not_yet(command: &str, issue: u32) -> anyhow::Error {
    Refusal::new(
        format!("`cargo xtask {command}` is not implemented yet"),
        format!("it is tracked in issue #{issue}; see README.md for what works today"),
    )
    .into()
}

/// Prints `error: outer: inner: root` on one line and, when the chain holds a [`Refusal`], its hint.
pub fn report(err: &anyhow::Error) {
    let cause = err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ");
    eprintln!("error: {cause}");
    if let Some(refusal) = err.chain().find_map(|e| e.downcast_ref::<Refusal>()) {
        eprintln!("hint: {}", refusal.hint);
    }
}
