//! Domain of the notes app: types, validation, errors and the ports (traits) for every store.

/// Longest note title, in characters.
pub const MAX_TITLE_CHARS: usize = 200;
/// Largest note body, in bytes.
pub const MAX_BODY_BYTES: usize = 64 * 1024;
/// Most tags on one note.
pub const MAX_TAGS: usize = 20;
/// Longest tag, in characters.
pub const MAX_TAG_CHARS: usize = 32;
