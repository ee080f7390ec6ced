//! How failures reach the user: one line of cause (the whole context chain), then one line of hint.
//!
//! Commands return `anyhow::Error`s with `.context(..)`; a [`Refusal`] anywhere in the chain adds
//! the `hint:` line.

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

/// Prints `error: outer: inner: root` on one line and, when the chain holds a [`Refusal`], its hint.
pub fn print(err: &anyhow::Error) {
    eprintln!("error: {}", chain_line(err));
    if let Some(refusal) = err.chain().find_map(|e| e.downcast_ref::<Refusal>()) {
        eprintln!("hint: {}", refusal.hint);
    }
}

/// The whole context chain of `err` on one line: `outer: inner: root`.
pub fn chain_line(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}
