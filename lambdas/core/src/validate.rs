//! Validation of client input into domain values.

use crate::error::ValidationError;
use crate::model::{NewAttachment, NoteContent};
use crate::{MAX_ATTACHMENT_BYTES, MAX_BODY_BYTES, MAX_FILENAME_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS};

/// Control characters (Unicode `Cc`, what `char::is_control` is true for).
pub const CONTROL: &[(char, char)] = &[('\u{0}', '\u{1f}'), ('\u{7f}', '\u{9f}')];

/// Characters that show nothing (in the Basic Multilingual Plane): whitespace, format characters
/// (zero-width spaces and joiners, bidi marks, the soft hyphen, variation selectors, the BOM) and
/// fillers. A title or a tag made only of these would look empty.
pub const BLANK: &[(char, char)] = &[
    ('\u{20}', '\u{20}'),
    ('\u{a0}', '\u{a0}'),
    ('\u{ad}', '\u{ad}'),
    ('\u{34f}', '\u{34f}'),
    ('\u{61c}', '\u{61c}'),
    ('\u{115f}', '\u{1160}'),
    ('\u{1680}', '\u{1680}'),
    ('\u{17b4}', '\u{17b5}'),
    ('\u{180b}', '\u{180f}'),
    ('\u{2000}', '\u{200f}'),
    ('\u{2028}', '\u{202f}'),
    ('\u{205f}', '\u{206f}'),
    ('\u{2800}', '\u{2800}'),
    ('\u{3000}', '\u{3000}'),
    ('\u{3164}', '\u{3164}'),
    ('\u{fe00}', '\u{fe0f}'),
    ('\u{feff}', '\u{feff}'),
    ('\u{ffa0}', '\u{ffa0}'),
];

fn within(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c))
}

/// A control character (the API refuses them in titles, tags and file names).
pub fn is_control(c: char) -> bool {
    within(CONTROL, c)
}

/// A character that shows something: neither control, whitespace nor invisible.
pub fn is_visible(c: char) -> bool {
    !is_control(c) && !within(BLANK, c)
}

/// A regular-expression character class body (`\u0000-\u001f...`) of `ranges`, as the OpenAPI
/// document's patterns spell it (a test checks they agree with the rules here).
pub fn class(ranges: &[(char, char)]) -> String {
    ranges
        .iter()
        .map(|(lo, hi)| {
            if lo == hi {
                format!("\\u{:04x}", *lo as u32)
            } else {
                format!("\\u{:04x}-\\u{:04x}", *lo as u32, *hi as u32)
            }
        })
        .collect()
}

/// The patterns of the OpenAPI document, built from the same ranges the validation uses.
pub mod patterns {
    use super::{BLANK, CONTROL, class};

    /// A title: no control character, at least one visible one.
    pub fn title() -> String {
        let (c, b) = (class(CONTROL), class(BLANK));
        format!("^[^{c}]*[^{c}{b}][^{c}]*$")
    }

    /// A tag: no control character, starting and ending with a visible one.
    pub fn tag() -> String {
        let (c, b) = (class(CONTROL), class(BLANK));
        format!("^[^{c}{b}](?:[^{c}]*[^{c}{b}])?$")
    }

    /// A file name: no control character and no path separator, with at least one character that
    /// is neither blank nor a dot.
    pub fn filename() -> String {
        let (c, b) = (class(CONTROL), class(BLANK));
        format!("^[^{c}/\\\\]*[^{c}{b}/\\\\.][^{c}/\\\\]*$")
    }

    /// A media type without parameters.
    pub const CONTENT_TYPE: &str = "^[A-Za-z0-9!#$&^_.+-]{1,127}/[A-Za-z0-9!#$&^_.+-]{1,127}$";
    /// The hex of one character of a lower-case UUID's digits.
    const H: &str = "(?:3[0-9]|6[1-6])";

    fn uuid_hex() -> String {
        format!("{H}{{8}}2d{H}{{4}}2d{H}{{4}}2d{H}{{4}}2d{H}{{12}}")
    }

    /// A cursor of the notes listing, exactly as the API decodes it: the hex of `n:<id>` (creation
    /// order) or `k:<milliseconds, 1-14 digits>:<id>` (update order, search).
    pub fn notes_cursor() -> String {
        let id = uuid_hex();
        format!("^(?:6e3a{id}|6b3a(?:3[0-9]){{1,14}}3a{id})$")
    }

    /// A cursor of the activity log: the hex of `a:<microseconds>:<sequence>`.
    pub fn activity_cursor() -> String {
        "^613a(?:2d)?(?:3[0-9]){1,16}3a(?:2d)?(?:3[0-9]){1,18}$".to_string()
    }
    /// A note or attachment id (canonical lower-case UUID).
    pub const ID: &str = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$";
}

/// Title 1–200 characters without control characters and with at least one visible character,
/// body ≤ 64 KiB, ≤ 20 distinct tags of 1–32 characters without control characters, each
/// starting and ending with a visible character (tags are taken as sent: never trimmed).
pub fn note(title: String, body: String, tags: Option<Vec<String>>) -> Result<NoteContent, ValidationError> {
    let title_chars = title.chars().count();
    if title_chars == 0 {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if title_chars > MAX_TITLE_CHARS {
        return Err(ValidationError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    if title.chars().any(is_control) {
        return Err(ValidationError::new("title", "must not contain control characters"));
    }
    if !title.chars().any(is_visible) {
        return Err(ValidationError::new("title", "must contain a visible character"));
    }
    if body.len() > MAX_BODY_BYTES {
        return Err(ValidationError::new("body", format!("must be at most {MAX_BODY_BYTES} bytes")));
    }
    let tags = tags.unwrap_or_default();
    if tags.len() > MAX_TAGS {
        return Err(ValidationError::new("tags", format!("at most {MAX_TAGS} tags")));
    }
    let mut clean: Vec<String> = Vec::with_capacity(tags.len());
    for tag in tags {
        tag_value(&tag)?;
        if clean.contains(&tag) {
            return Err(ValidationError::new("tags", "tags must be distinct"));
        }
        clean.push(tag);
    }
    Ok(NoteContent { title, body, tags: clean })
}

/// One tag (also the `tag` filter of the notes listing).
pub fn tag_value(tag: &str) -> Result<(), ValidationError> {
    if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
        return Err(ValidationError::new("tags", format!("each tag must be 1 to {MAX_TAG_CHARS} characters")));
    }
    if tag.chars().any(is_control) {
        return Err(ValidationError::new("tags", "tags must not contain control characters"));
    }
    let ends_visible = tag.chars().next().is_some_and(is_visible) && tag.chars().last().is_some_and(is_visible);
    if !ends_visible {
        return Err(ValidationError::new("tags", "tags must start and end with a visible character"));
    }
    Ok(())
}

/// File name 1–255 characters without path separators or control characters, not only blanks
/// and dots; content type a plain `type/subtype` media type (no parameters); size 1 byte to
/// [`MAX_ATTACHMENT_BYTES`].
pub fn attachment(filename: String, content_type: &str, size: u64) -> Result<NewAttachment, ValidationError> {
    if filename.is_empty() || filename.chars().count() > MAX_FILENAME_CHARS {
        return Err(ValidationError::new("filename", format!("must be 1 to {MAX_FILENAME_CHARS} characters")));
    }
    let plain = !filename.chars().any(|c| is_control(c) || c == '/' || c == '\\')
        && filename.chars().any(|c| is_visible(c) && c != '.');
    if !plain {
        return Err(ValidationError::new("filename", "must be a plain file name"));
    }
    if !is_media_type(content_type) {
        return Err(ValidationError::new("content_type", "must be a media type like image/png"));
    }
    if size == 0 || size > MAX_ATTACHMENT_BYTES {
        return Err(ValidationError::new("size", format!("must be 1 to {MAX_ATTACHMENT_BYTES} bytes")));
    }
    Ok(NewAttachment { filename, content_type: content_type.to_ascii_lowercase(), size })
}

fn is_media_type(s: &str) -> bool {
    let token = |t: &str| {
        !t.is_empty() && t.len() <= 127 && t.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$&-^_.+".contains(&b))
    };
    match s.split_once('/') {
        Some((kind, sub)) => token(kind) && token(sub),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_note(title: &str, body_len: usize, tags: &[&str], expect: Result<(), &str>) {
        let got = note(title.to_string(), "x".repeat(body_len), Some(tags.iter().map(|t| t.to_string()).collect()))
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, expect.map_err(str::to_string), "title={title:?} body={body_len} tags={tags:?}");
    }

    #[test]
    fn note_limits() {
        check_note("a", 0, &[], Ok(()));
        check_note(&"é".repeat(200), MAX_BODY_BYTES, &["a"; 1], Ok(()));
        check_note("", 0, &[], Err("title: must not be empty"));
        check_note("   ", 0, &[], Err("title: must contain a visible character"));
        check_note("\u{200b}\u{2060}\u{feff}", 0, &[], Err("title: must contain a visible character"));
        check_note("\u{3164}\u{a0}", 0, &[], Err("title: must contain a visible character"));
        check_note(" a\u{200b}", 0, &[], Ok(()));
        check_note(&"a".repeat(201), 0, &[], Err("title: must be at most 200 characters"));
        check_note("a", MAX_BODY_BYTES + 1, &[], Err("body: must be at most 65536 bytes"));
        check_note("a\u{0}", 0, &[], Err("title: must not contain control characters"));
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        check_note("a", 0, &many, Err("tags: at most 20 tags"));
        check_note("a", 0, &many[..20], Ok(()));
        check_note("a", 0, &[&"t".repeat(33)], Err("tags: each tag must be 1 to 32 characters"));
        check_note("a", 0, &[""], Err("tags: each tag must be 1 to 32 characters"));
        check_note("a", 0, &["x", "x"], Err("tags: tags must be distinct"));
        check_note("a", 0, &["x", "X", "two words"], Ok(()));
        check_note("a", 0, &[" x"], Err("tags: tags must start and end with a visible character"));
        check_note("a", 0, &["x\u{200b}"], Err("tags: tags must start and end with a visible character"));
        check_note("a", 0, &["x\ny"], Err("tags: tags must not contain control characters"));
    }

    #[test]
    fn attachment_limits() {
        let check = |name: &str, ct: &str, size: u64, ok: bool| {
            assert_eq!(attachment(name.into(), ct, size).is_ok(), ok, "{name} {ct} {size}");
        };
        check("a.png", "image/png", 1, true);
        check("report v2.pdf", "application/pdf", MAX_ATTACHMENT_BYTES, true);
        check("a.png", "image/png", 0, false);
        check("a.png", "image/png", MAX_ATTACHMENT_BYTES + 1, false);
        check("../a.png", "image/png", 1, false);
        check("", "image/png", 1, false);
        check(".", "image/png", 1, false);
        check("..", "image/png", 1, false);
        check(" . ", "image/png", 1, false);
        check(".profile", "text/plain", 1, true);
        check("a\\b", "image/png", 1, false);
        check("a", "image", 1, false);
        check("a", "text/plain; charset=utf-8", 1, false);
        check("a", "text/plain\r\nx: y", 1, false);
    }
}
