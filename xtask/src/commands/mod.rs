//! One module per `cargo xtask` command. Each parses its flags and drives the subsystems of the
//! crate; none imports another command (`tests/it/tidy.rs` checks).

pub mod bench;
pub mod bootstrap;
pub mod build;
pub mod config;
pub mod deploy;
pub mod destroy;
pub mod dev;
pub mod dist;
pub mod lint;
pub mod logs;
pub mod migrate;
pub mod outputs;
pub mod plan;
pub mod releases;
pub mod rollback;
pub mod smoke;
pub mod status;
pub mod sync;
pub mod test;
