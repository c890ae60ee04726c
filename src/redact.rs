//! Keeps tokens out of logs and error bodies: anything that looks like a
//! PASETO token (or a percent-encoded one) is replaced by `REDACTED`.
//!
//! Used on every text that may hold input: access-log lines, error messages
//! (which the client sees and actix logs at debug level) and log lines that
//! quote keys or connector names.

use std::borrow::Cow;

use percent_encoding::percent_decode_str;

pub const REDACTED: &str = "REDACTED";

/// PASETO headers of every version and purpose (case-insensitive).
const MARKERS: [&str; 8] = [
    "v1.local.",
    "v1.public.",
    "v2.local.",
    "v2.public.",
    "v3.local.",
    "v3.public.",
    "v4.local.",
    "v4.public.",
];

/// Whether `text`, or its percent-decoded form, holds a PASETO token.
pub fn looks_secret(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    if MARKERS.iter().any(|m| lower.contains(m)) {
        return true;
    }
    // Decoded up to three times: a token may be percent-encoded twice.
    let mut text = text.to_owned();
    for _ in 0..3 {
        if !text.contains('%') {
            return false;
        }
        text = percent_decode_str(&text.replace('+', " "))
            .decode_utf8_lossy()
            .into_owned();
        let lower = text.to_ascii_lowercase();
        if MARKERS.iter().any(|m| lower.contains(m)) {
            return true;
        }
    }
    false
}

/// `text` with every token-looking run replaced: from the PASETO header up
/// to the next character that cannot be part of a token.
pub fn scrub(text: &str) -> Cow<'_, str> {
    if !looks_secret(text) {
        return Cow::Borrowed(text);
    }
    let lower = text.to_ascii_lowercase();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < text.len() {
        let starts_marker = MARKERS.iter().any(|m| lower[i..].starts_with(m));
        if starts_marker {
            out.push_str(REDACTED);
            // Skip the token: base64url, dots, and percent-escapes of them.
            let rest = &text[i..];
            let len = rest
                .find(|c: char| {
                    !(c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '%' | '='))
                })
                .unwrap_or(rest.len());
            i += len;
        } else {
            let ch = text[i..].chars().next().expect("i is on a char boundary");
            out.push(ch);
            i += ch.len_utf8();
        }
    }
    if looks_secret(&out) {
        // Percent-encoded markers ("v4%2Elocal%2E…") are not found above:
        // give up on precision and hide the whole text.
        return Cow::Owned(REDACTED.to_owned());
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_plain_tokens_are_cut_out_and_the_rest_is_kept() {
        assert_eq!(
            scrub("no connector obs/v4.local.abc-_9.eyJ9 is configured"),
            "no connector obs/REDACTED is configured"
        );
        assert_eq!(
            scrub("unknown variant `V4.LOCAL.x`"),
            "unknown variant `REDACTED`"
        );
        assert_eq!(scrub("nothing secret here"), "nothing secret here");
    }

    #[test]
    fn l1_encoded_tokens_hide_the_whole_text() {
        assert_eq!(scrub("a=v4%2Elocal%2Eabc"), REDACTED);
        assert!(looks_secret("v4%2elocal%2eabc"));
        assert!(looks_secret("v4%252Elocal%252Eabc"));
        assert_eq!(scrub("a=v4%252Elocal%252Eabc"), REDACTED);
        assert!(!looks_secret("v4-local"));
    }

    #[test]
    fn non_ascii_text_survives() {
        assert_eq!(scrub("合同 v4.local.abc 文件"), "合同 REDACTED 文件");
    }
}
