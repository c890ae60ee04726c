//! Object keys as users name them, validated once at the edge.

use std::fmt;

/// Longest key accepted, in bytes (S3's own limit).
pub const MAX_KEY_BYTES: usize = 1024;

/// A key that may be shared and read: 1 to 1024 bytes of UTF-8, no control
/// characters, no leading `/`, no empty, `.` or `..` segments.
///
/// Keys are compared byte for byte: no case folding, no Unicode
/// normalisation, no percent-decoding (the HTTP layer decodes exactly once).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectKey(String);

/// Why a string is not a shareable key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    /// The key is the empty string.
    #[error("the key is empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_BYTES`].
    #[error("the key is longer than {MAX_KEY_BYTES} bytes")]
    TooLong,
    /// The key holds a control character (U+0000–U+001F, U+007F–U+009F).
    #[error("the key holds a control character")]
    ControlCharacter,
    /// The key starts with `/`.
    #[error("the key starts with '/'")]
    LeadingSlash,
    /// The key holds an empty segment (`a//b`, or a trailing `/` on a file).
    #[error("the key holds an empty segment")]
    EmptySegment,
    /// The key holds a `.` or `..` segment.
    #[error("the key holds a '.' or '..' segment")]
    DotSegment,
}

impl ObjectKey {
    /// Validates `raw` as a file key.
    pub fn parse(raw: &str) -> Result<Self, KeyError> {
        validate(raw)?;
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last segment: what a browser should save the file as.
    pub fn file_name(&self) -> &str {
        self.0.rsplit('/').next().unwrap_or(&self.0)
    }

    /// The key's segments, in order.
    pub fn segments(&self) -> impl Iterator<Item = &str> {
        self.0.split('/')
    }
}

impl fmt::Display for ObjectKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn validate(raw: &str) -> Result<(), KeyError> {
    if raw.is_empty() {
        return Err(KeyError::Empty);
    }
    if raw.len() > MAX_KEY_BYTES {
        return Err(KeyError::TooLong);
    }
    if raw.chars().any(char::is_control) {
        return Err(KeyError::ControlCharacter);
    }
    if raw.starts_with('/') {
        return Err(KeyError::LeadingSlash);
    }
    for segment in raw.split('/') {
        match segment {
            "" => return Err(KeyError::EmptySegment),
            "." | ".." => return Err(KeyError::DotSegment),
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_keys_are_accepted_byte_for_byte() {
        for raw in [
            "a",
            "share/test 1.txt",
            "share/test+1.txt",
            "ftp/3js%205-report.jpg",
            "folder/what?.png",
            "report#1.pdf",
            "合同/文件 v2.doc",
            "quote\"and\\backslash",
            "...",
            ".hidden/..x",
        ] {
            assert_eq!(ObjectKey::parse(raw).unwrap().as_str(), raw);
        }
    }

    #[test]
    fn k7_dot_segments_are_not_keys() {
        for raw in [
            "share/../other/x",
            "..",
            "../bucket2/x",
            "a/./b",
            ".",
            "a/..",
        ] {
            assert_eq!(ObjectKey::parse(raw), Err(KeyError::DotSegment), "{raw}");
        }
    }

    #[test]
    fn empty_segments_and_leading_slashes_are_refused() {
        assert_eq!(ObjectKey::parse("a//b"), Err(KeyError::EmptySegment));
        assert_eq!(ObjectKey::parse("a/"), Err(KeyError::EmptySegment));
        assert_eq!(ObjectKey::parse("/a"), Err(KeyError::LeadingSlash));
        assert_eq!(ObjectKey::parse(""), Err(KeyError::Empty));
    }

    #[test]
    fn control_characters_are_refused() {
        for raw in ["a\rb", "a\nb", "a\0b", "a\u{7f}", "a\u{85}b", "tab\there"] {
            assert_eq!(
                ObjectKey::parse(raw),
                Err(KeyError::ControlCharacter),
                "{raw:?}"
            );
        }
    }

    #[test]
    fn the_length_limit_is_1024_bytes_not_characters() {
        assert!(ObjectKey::parse(&"a".repeat(1024)).is_ok());
        assert_eq!(ObjectKey::parse(&"a".repeat(1025)), Err(KeyError::TooLong));
        // 342 three-byte characters = 1026 bytes.
        assert_eq!(ObjectKey::parse(&"文".repeat(342)), Err(KeyError::TooLong));
    }

    #[test]
    fn the_file_name_is_the_last_segment() {
        assert_eq!(
            ObjectKey::parse("合同/文件 v2.doc").unwrap().file_name(),
            "文件 v2.doc"
        );
        assert_eq!(ObjectKey::parse("top").unwrap().file_name(), "top");
    }
}
