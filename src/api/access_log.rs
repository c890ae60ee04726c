//! One access-log line per request, with share tokens redacted.
//!
//! The line never holds a header value other than the user agent (so never
//! `access-token` or `Authorization`), and the request line is rewritten so
//! that neither `shareToken` nor any PASETO string appears in it.

use actix_web::middleware::Logger;
use percent_encoding::percent_decode_str;

const REDACTED: &str = "REDACTED";

pub fn access_logger() -> Logger {
    Logger::new(r#"%a "%{request_line}xi" %s %b %Dms "%{User-Agent}i""#)
        .custom_request_replace("request_line", |req| {
            redact_request_line(req.method().as_str(), &req.uri().to_string())
        })
}

/// `METHOD path?query` with every secret-looking value replaced.
pub fn redact_request_line(method: &str, uri: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    };
    let mut line = format!("{method} {}", redact_component(path));
    if let Some(query) = query {
        let pairs: Vec<String> = query
            .split('&')
            .map(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decoded_name = percent_decode_str(name).decode_utf8_lossy();
                if decoded_name.eq_ignore_ascii_case("shareToken") || looks_secret(value) {
                    format!("{name}={REDACTED}")
                } else {
                    pair.to_owned()
                }
            })
            .collect();
        line.push('?');
        line.push_str(&pairs.join("&"));
    }
    line
}

fn redact_component(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if looks_secret(segment) {
                REDACTED
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// Whether a raw (still encoded) value holds a PASETO token.
fn looks_secret(raw: &str) -> bool {
    let decoded = percent_decode_str(&raw.replace('+', " "))
        .decode_utf8_lossy()
        .to_ascii_lowercase();
    ["v4.local.", "v4.public.", "v3.", "v2.local.", "v1.local."]
        .iter()
        .any(|marker| decoded.contains(marker))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn l1_share_tokens_never_reach_the_log_line() {
        let line = redact_request_line(
            "GET",
            "/u-route/baas/sys/v1.1/objectstorage/viewshareobject?object=a%2Fb&shareToken=v4.local.abc.def",
        );
        assert_eq!(
            line,
            "GET /u-route/baas/sys/v1.1/objectstorage/viewshareobject?object=a%2Fb&shareToken=REDACTED"
        );
    }

    #[test]
    fn l1_tokens_under_other_names_or_encodings_are_redacted_too() {
        for uri in [
            "/x?sharetoken=abc",
            "/x?t=v4%2Elocal%2Eabc",
            "/x?t=V4.LOCAL.abc",
            "/v4.local.abc/y",
            "/x?share%54oken=abc",
        ] {
            let line = redact_request_line("GET", uri);
            assert!(
                !line.to_ascii_lowercase().contains("abc"),
                "{uri} -> {line}"
            );
        }
    }
}
