//! One access-log line per request, with share tokens redacted.
//!
//! The line never holds a header value other than the user agent (so never
//! `access-token` or `Authorization`), and the request line is rewritten so
//! that neither `shareToken` nor any PASETO string appears in it.

use actix_web::middleware::Logger;
use percent_encoding::percent_decode_str;

use crate::redact::{looks_secret, REDACTED};

pub fn access_logger() -> Logger {
    Logger::new(r#"%a "%{request_line}xi" %s %b %Dms "%{user_agent}xi""#)
        .custom_request_replace("request_line", |req| {
            redact_request_line(req.method().as_str(), &req.uri().to_string())
        })
        .custom_request_replace("user_agent", |req| {
            let agent = req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-");
            crate::redact::scrub(agent).into_owned()
        })
}

/// `METHOD path?query` with every secret-looking part replaced: the value of
/// `shareToken`, and any path segment, parameter name or value that holds a
/// token.
pub fn redact_request_line(method: &str, uri: &str) -> String {
    let (path, query) = match uri.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (uri, None),
    };
    let mut line = format!("{method} {}", redact_path(path));
    if let Some(query) = query {
        let pairs: Vec<String> = query.split('&').map(redact_pair).collect();
        line.push('?');
        line.push_str(&pairs.join("&"));
    }
    line
}

fn redact_path(path: &str) -> String {
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

fn redact_pair(pair: &str) -> String {
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    if looks_secret(name) {
        return REDACTED.to_owned();
    }
    let decoded_name = percent_decode_str(name).decode_utf8_lossy();
    if decoded_name.eq_ignore_ascii_case("shareToken") || looks_secret(value) {
        format!("{name}={REDACTED}")
    } else {
        pair.to_owned()
    }
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
            "/healthz?v4.local.abc",
            "/x?object=a&v4.local.abc=1",
        ] {
            let line = redact_request_line("GET", uri);
            assert!(
                !line.to_ascii_lowercase().contains("abc"),
                "{uri} -> {line}"
            );
        }
    }
}
