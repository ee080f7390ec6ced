//! The static site as both the release tooling (`cargo xtask build`/`dist`/`deploy`) and the dev
//! server (`notes-dev`, also from its build script) make it: one bundler ([`bundle`]) and one shape
//! of the site's runtime configuration, `/config.json` ([`config::SiteConfig`]).
//!
//! A small library on purpose: the xtask and the dev server share it without either depending on
//! the other (the xtask links no app crate; the dev server no deploy tooling).

mod bundle;
pub mod config;

pub use bundle::*;
