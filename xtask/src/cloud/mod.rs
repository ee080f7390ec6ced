//! The cloud side of the project as checked data: the checks `cargo xtask lint` runs on the
//! template, the deployer policies and the pinned AWS reference data (`checks`).

pub mod checks;
