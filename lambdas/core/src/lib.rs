//! Domain of the notes app: types, validation, errors and the ports (traits) for every store, with
//! the real adapter of each port.
//!
//! | port | real adapter | in-memory adapter (`notes-memory`, only for `cargo xtask dev`) |
//! | --- | --- | --- |
//! | [`ports::Notes`] (source of truth) | [`dynamo::DynamoNotes`] (DynamoDB) | `MemoryNotes` |
//! | [`ports::Activity`] (relational) | [`postgres::PgActivity`] (PostgreSQL) | `MemoryActivity` |
//! | [`ports::Cache`] (cache only) | [`cache::RedisCache`] (Redis/ElastiCache) | `MemoryCache` |
//! | [`ports::Blobs`] (user files) | [`blobs::S3Blobs`] (S3, presigned URLs) | `MemoryBlobs` |
//! | [`ports::Search`] (derived index) | [`search::PgSearch`] (PostgreSQL full-text) | `MemorySearch` |
//!
//! The contract tests in `tests/it/` run the same checks against both adapters of a port. The
//! in-memory ones live in a crate of their own so that no Lambda links them (a tidy test checks).

pub mod blobs;
pub mod cache;
pub mod config;
pub mod dynamo;
pub mod dynamo_setup;
pub mod error;
pub mod init;
pub mod model;
pub mod ports;
pub mod postgres;
pub mod sdk_client;
pub mod search;
pub mod validate;

pub use error::{StoreError, ValidationError};
pub use model::*;

/// Longest note title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest note body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most tags on one note.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;
/// Largest attachment, in bytes (the presigned PUT is bound to the declared size).
pub const MAX_ATTACHMENT_BYTES: u64 = 25 * 1024 * 1024;
/// Longest attachment file name, in characters.
pub const MAX_FILENAME_CHARS: usize = 255;
/// Most attachments on one note.
pub const MAX_ATTACHMENTS_PER_NOTE: usize = 50;
/// Default and largest page sizes of the list endpoints.
pub const DEFAULT_PAGE: usize = 20;
pub const MAX_PAGE: usize = 100;
/// Longest text query of the notes listing (`q`), in characters.
pub const MAX_QUERY_CHARS: usize = 200;
/// Lifetime of presigned upload and download URLs.
pub const PRESIGN_SECS: u64 = 15 * 60;
