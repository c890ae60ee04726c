//! The headers that describe a served object: type, disposition, and the
//! sandbox that keeps shared active content from running on our origin.

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

/// RFC 8187 `attr-char`: ALPHA / DIGIT / "!#$&+-.^_`|~"; everything else
/// is percent-encoded in `filename*`.
// NOTE: actix-web's `ExtendedValue` leaves `=` (and others) unencoded, which
// RFC 8187 does not allow, hence this set.
const NOT_ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Type`: the backend's, else a guess from the key's extension,
/// else `application/octet-stream`.
///
/// Guessed plain-text types get `charset=utf-8`: they carry no charset of
/// their own, and browsers would otherwise read UTF-8 text as Windows-1252.
pub fn content_type(stored: Option<&str>, key: &str) -> String {
    // S3 stores `binary/octet-stream` (or `application/octet-stream`) for
    // objects uploaded without a type: that says nothing, so guess instead.
    if let Some(stored) = stored
        .map(str::trim)
        .filter(|t| !t.is_empty() && !is_generic_binary(t))
    {
        return stored.to_owned();
    }
    let guessed = mime_guess::from_path(key)
        .first_raw()
        .unwrap_or("application/octet-stream");
    match guessed {
        "text/plain" | "text/csv" | "text/markdown" => format!("{guessed}; charset=utf-8"),
        other => other.to_owned(),
    }
}

fn is_generic_binary(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    essence.eq_ignore_ascii_case("binary/octet-stream")
        || essence.eq_ignore_ascii_case("application/octet-stream")
}

/// The name a `download=<name>` asks for, made safe to offer: its last
/// path segment, cleaned as [`safe_file_name`]. `None` when nothing usable
/// is left.
pub fn download_name(requested: &str) -> Option<String> {
    let last = requested.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned = safe_file_name(last);
    match cleaned.trim() {
        "" | "." | ".." => None,
        _ => Some(cleaned),
    }
}

/// A file name to offer a browser: control and bidirectional-override
/// characters become `_`, so that no name can pose as another (`txt.exe`
/// shown as `exe.txt`). Applied to every name, the key's own included.
pub fn safe_file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_control() || matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}') {
                '_'
            } else {
                c
            }
        })
        .collect()
}

/// Whether a browser could run script from a body of this type: HTML, XML
/// (SVG, XHTML, XSLT, any `+xml`), JavaScript.
pub fn is_active_content(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    matches!(
        essence.as_str(),
        "text/html"
            | "text/xml"
            | "application/xml"
            | "text/xsl"
            | "text/javascript"
            | "application/javascript"
            | "application/x-javascript"
            | "text/ecmascript"
            | "application/ecmascript"
            | "multipart/x-mixed-replace"
    ) || essence.ends_with("+xml")
        // An unparseable type could be sniffed as anything.
        || !essence.contains('/')
}

/// `Content-Disposition` in the RFC 6266 form: an ASCII `filename=` that
/// cannot break the header, plus `filename*=UTF-8''…` with the real name.
pub fn content_disposition(file_name: &str, attachment: bool) -> String {
    let file_name = safe_file_name(file_name);
    format!(
        "{}; filename=\"{}\"; filename*=UTF-8''{}",
        if attachment { "attachment" } else { "inline" },
        ascii_fallback(&file_name),
        utf8_percent_encode(&file_name, NOT_ATTR_CHAR)
    )
}

/// Printable ASCII except `"`, `\` and `%`; everything else becomes `_`.
/// (RFC 6266 appendix D: some browsers percent-decode `filename=`, so a
/// `%41` in it could be saved as `A`.)
fn ascii_fallback(name: &str) -> String {
    name.chars()
        .map(|c| match c {
            ' '..='~' if !matches!(c, '"' | '\\' | '%') => c,
            _ => '_',
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h9_non_ascii_names_get_an_ascii_fallback_and_a_utf8_form() {
        let header = content_disposition("文件 v2.doc", false);
        assert_eq!(
            header,
            "inline; filename=\"__ v2.doc\"; filename*=UTF-8''%E6%96%87%E4%BB%B6%20v2.doc"
        );
    }

    #[test]
    fn h9_quotes_backslashes_and_line_breaks_cannot_inject() {
        let header = content_disposition("a\"b\\c\r\nSet-Cookie: x=1", true);
        assert_eq!(
            header,
            "attachment; filename=\"a_b_c__Set-Cookie: x=1\"; filename*=UTF-8''a%22b%5Cc__Set-Cookie%3A%20x%3D1"
        );
        assert!(actix_web::http::header::HeaderValue::from_str(&header).is_ok());
    }

    #[test]
    fn the_keys_own_name_cannot_pose_as_another_nor_be_decoded_twice() {
        assert_eq!(
            content_disposition("evil\u{202E}txt.exe", false),
            "inline; filename=\"evil_txt.exe\"; filename*=UTF-8''evil_txt.exe"
        );
        assert_eq!(
            content_disposition("50%41.txt", false),
            "inline; filename=\"50_41.txt\"; filename*=UTF-8''50%2541.txt"
        );
    }

    #[test]
    fn types_come_from_the_backend_then_the_extension() {
        assert_eq!(content_type(Some("video/mp4"), "x.bin"), "video/mp4");
        assert_eq!(content_type(None, "a/b.svg"), "image/svg+xml");
        assert_eq!(content_type(None, "a/b.txt"), "text/plain; charset=utf-8");
        assert_eq!(content_type(Some("text/plain"), "a/b.txt"), "text/plain");
        assert_eq!(
            content_type(Some("binary/octet-stream"), "clip.mp4"),
            "video/mp4"
        );
        assert_eq!(
            content_type(Some("application/octet-stream"), "x.bin"),
            "application/octet-stream"
        );
        assert_eq!(content_type(None, "a/noext"), "application/octet-stream");
    }

    #[test]
    fn download_names_lose_paths_controls_and_bidi_overrides() {
        assert_eq!(download_name("../../etc/passwd").as_deref(), Some("passwd"));
        assert_eq!(download_name("a\\b\\c.txt").as_deref(), Some("c.txt"));
        assert_eq!(
            download_name("invoice\u{202E}fdp.exe").as_deref(),
            Some("invoice_fdp.exe")
        );
        assert_eq!(download_name("x\r\ny.pdf").as_deref(), Some("x__y.pdf"));
        assert_eq!(download_name("dir/"), None);
        assert_eq!(download_name(".."), None);
        assert_eq!(download_name("résumé.pdf").as_deref(), Some("résumé.pdf"));
    }

    #[test]
    fn active_types_are_recognised() {
        for t in [
            "text/html; charset=utf-8",
            "image/svg+xml",
            "application/xhtml+xml",
            "text/javascript",
            "TEXT/HTML",
            "nonsense",
        ] {
            assert!(is_active_content(t), "{t}");
        }
        for t in [
            "text/plain",
            "image/png",
            "video/mp4",
            "application/pdf",
            "application/octet-stream",
        ] {
            assert!(!is_active_content(t), "{t}");
        }
    }
}
