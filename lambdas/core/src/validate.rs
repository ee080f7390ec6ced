//! Validation of client input into domain values.

use crate::error::ValidationError;
use crate::model::{NewAttachment, NoteContent};
use crate::{MAX_ATTACHMENT_BYTES, MAX_BODY_BYTES, MAX_FILENAME_CHARS, MAX_TAG_CHARS, MAX_TAGS, MAX_TITLE_CHARS};

/// Title 1–200 characters (not only whitespace), body ≤ 64 KiB, ≤ 20 distinct tags of 1–32
/// characters. Tags are trimmed; duplicates are an error (not silently merged).
pub fn note(title: String, body: String, tags: Option<Vec<String>>) -> Result<NoteContent, ValidationError> {
    let title_chars = title.chars().count();
    if title.trim().is_empty() {
        return Err(ValidationError::new("title", "must not be empty"));
    }
    if title_chars > MAX_TITLE_CHARS {
        return Err(ValidationError::new("title", format!("must be at most {MAX_TITLE_CHARS} characters")));
    }
    if title.chars().any(char::is_control) {
        return Err(ValidationError::new("title", "must not contain control characters"));
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
        let tag = tag.trim().to_string();
        if tag.is_empty() || tag.chars().count() > MAX_TAG_CHARS {
            return Err(ValidationError::new("tags", format!("each tag must be 1 to {MAX_TAG_CHARS} characters")));
        }
        if tag.chars().any(char::is_control) {
            return Err(ValidationError::new("tags", "tags must not contain control characters"));
        }
        if clean.contains(&tag) {
            return Err(ValidationError::new("tags", "tags must be distinct"));
        }
        clean.push(tag);
    }
    Ok(NoteContent { title, body, tags: clean })
}

/// File name 1–255 characters without path separators or control characters; content type a plain
/// `type/subtype` media type (no parameters); size 1 byte to [`MAX_ATTACHMENT_BYTES`].
pub fn attachment(filename: String, content_type: &str, size: u64) -> Result<NewAttachment, ValidationError> {
    if filename.trim().is_empty() || filename.chars().count() > MAX_FILENAME_CHARS {
        return Err(ValidationError::new("filename", format!("must be 1 to {MAX_FILENAME_CHARS} characters")));
    }
    if filename.chars().any(|c| c.is_control() || c == '/' || c == '\\') || filename == "." || filename == ".." {
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
        check_note("   ", 0, &[], Err("title: must not be empty"));
        check_note(&"a".repeat(201), 0, &[], Err("title: must be at most 200 characters"));
        check_note("a", MAX_BODY_BYTES + 1, &[], Err("body: must be at most 65536 bytes"));
        check_note("a\u{0}", 0, &[], Err("title: must not contain control characters"));
        let many: Vec<String> = (0..21).map(|i| i.to_string()).collect();
        let many: Vec<&str> = many.iter().map(String::as_str).collect();
        check_note("a", 0, &many, Err("tags: at most 20 tags"));
        check_note("a", 0, &many[..20], Ok(()));
        check_note("a", 0, &[&"t".repeat(33)], Err("tags: each tag must be 1 to 32 characters"));
        check_note("a", 0, &[""], Err("tags: each tag must be 1 to 32 characters"));
        check_note("a", 0, &["x", " x"], Err("tags: tags must be distinct"));
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
        check("a", "image", 1, false);
        check("a", "text/plain; charset=utf-8", 1, false);
        check("a", "text/plain\r\nx: y", 1, false);
    }
}
