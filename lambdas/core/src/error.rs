//! Errors of the domain and of the stores behind the ports.

/// A client sent something the domain does not accept. The message is safe to show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ValidationError {
    pub field: &'static str,
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> ValidationError {
        ValidationError { field, message: message.into() }
    }
}

/// What a store can answer besides success. Messages carry internal detail for logs only: the
/// HTTP layer never shows them to clients.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No such item for this user.
    #[error("not found")]
    NotFound,
    /// The conditional write lost: the stored version is not the expected one.
    #[error("version mismatch")]
    VersionMismatch,
    /// A limit of the store's data model (e.g. too many attachments on a note).
    #[error("limit reached: {0}")]
    Limit(String),
    /// The store did not answer, or answered with an error: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data that does not decode (a bug or a manual edit), or any other failure.
    #[error("store error: {0}")]
    Other(String),
}

impl StoreError {
    pub fn unavailable(e: impl std::fmt::Display) -> StoreError {
        StoreError::Unavailable(e.to_string())
    }

    pub fn other(e: impl std::fmt::Display) -> StoreError {
        StoreError::Other(e.to_string())
    }
}
