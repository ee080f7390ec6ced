//! The ports' contract tests, one binary: each port's checks run against its real adapter (on moto,
//! PostgreSQL or Redis) and its in-memory one (`notes-memory`), so both behave alike.

mod activity;
mod blobs;
mod cache;
mod notes;
mod search;
