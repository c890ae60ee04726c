//! One access-log line per request, with share tokens redacted.
//!
//! The line never holds a header value other than the user agent (so never
//! `access-token` or `Authorization`), and the request line is rewritten so
//! that neither `shareToken` nor any PASETO string appears in it.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Logger;
use actix_web::HttpMessage;
use percent_encoding::percent_decode_str;

use crate::logging::{LogFormat, ACCESS_TARGET};
use crate::redact::{looks_secret, REDACTED};

/// The id of a request: the caller's `X-Request-Id` when it is a plain
/// token of up to 64 characters, else a new random one. Echoed in the
/// answer's `X-Request-Id` and logged.
#[derive(Clone)]
pub struct RequestId(pub String);

/// The share token a request was about (its id, never the token).
#[derive(Clone)]
pub struct TokenId(pub String);

/// Gives each request its [`RequestId`] and echoes it in the answer.
pub async fn assign_request_id(
    req: ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let given = req
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .filter(|id| {
            (1..=64).contains(&id.len())
                && id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
                && !looks_secret(id)
        })
        .map(str::to_owned);
    let id = given.unwrap_or_else(new_request_id);
    req.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.call(req).await?;
    if let Ok(value) = actix_web::http::header::HeaderValue::from_str(&id) {
        response.headers_mut().insert(
            actix_web::http::header::HeaderName::from_static("x-request-id"),
            value,
        );
    }
    Ok(response)
}

/// 16 hex digits: a random prefix drawn once per process (so instances do
/// not collide) and a counter. Request ids need to be unique, not secret,
/// and drawing randomness costs a system call per request.
fn new_request_id() -> String {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    // The last digits of a token id are random (its first are the time).
    let prefix = PREFIX.get_or_init(|| crate::token::new_token_id()[38..].to_owned());
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{prefix}{:010x}", n & 0xff_ffff_ffff)
}

fn request_line(req: &ServiceRequest) -> String {
    redact_request_line(req.method().as_str(), &req.uri().to_string())
}

fn user_agent(req: &ServiceRequest) -> String {
    let agent = req
        .headers()
        .get(actix_web::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    crate::redact::scrub(agent).into_owned()
}

/// A request extension's text, or `-`.
fn extension<T: Clone + 'static>(res: &ServiceResponse, text: impl Fn(T) -> String) -> String {
    res.request()
        .extensions()
        .get::<T>()
        .cloned()
        .map(text)
        .unwrap_or_else(|| "-".into())
}

/// A string as the inside of a JSON string literal.
fn json_text(text: &str) -> String {
    let quoted = serde_json::Value::from(text).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

pub fn access_logger(format: LogFormat) -> Logger {
    let logger = match format {
        // Request and token ids (plain characters only) tie a line to the
        // answer's X-Request-Id and to the audit log.
        LogFormat::Text => Logger::new(concat!(
            r#"%a "%{request_line}xi" %s %b %Dms "%{user_agent}xi" "#,
            "request_id=%{request_id}xo token_id=%{token_id}xo"
        ))
        .custom_request_replace("request_line", request_line)
        .custom_request_replace("user_agent", user_agent)
        .custom_response_replace("request_id", |res| extension(res, |RequestId(id)| id))
        .custom_response_replace("token_id", |res| extension(res, |TokenId(id)| id)),
        // One JSON object a line; every custom value is escaped.
        LogFormat::Json => Logger::new(concat!(
            r#"{"ts":"%{ts}xi","type":"access","request_id":"%{request_id}xo","#,
            r#""address":"%a","request":"%{request_line}xi","route":"%{route}xo","#,
            r#""status":%s,"bytes":%b,"latency_ms":%D,"token_id":"%{token_id}xo","#,
            r#""user_agent":"%{user_agent}xi"}"#
        ))
        .custom_request_replace("ts", |_| {
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
        })
        .custom_request_replace("request_line", |req| json_text(&request_line(req)))
        .custom_request_replace("user_agent", |req| json_text(&user_agent(req)))
        .custom_response_replace("request_id", |res| {
            extension(res, |RequestId(id)| json_text(&id))
        })
        .custom_response_replace("route", |res| {
            json_text(
                res.request()
                    .match_pattern()
                    .as_deref()
                    .unwrap_or("unmatched"),
            )
        })
        .custom_response_replace("token_id", |res| {
            extension(res, |TokenId(id)| json_text(&id))
        }),
    };
    logger.log_target(ACCESS_TARGET)
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

/// Query parameters whose values are secrets whatever they look like: the
/// share token, and credentials a client may wrongly put in a URL. Names
/// are compared without case, `_` or `-` (`Client_Secret`, `clientSecret`).
const SECRET_PARAMETERS: [&str; 8] = [
    "sharetoken",
    "clientsecret",
    "accesstoken",
    "token",
    "password",
    "secret",
    "apikey",
    "key",
];

fn redact_pair(pair: &str) -> String {
    let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
    if looks_secret(name) {
        return REDACTED.to_owned();
    }
    let normalised: String = percent_decode_str(&name.replace('+', " "))
        .decode_utf8_lossy()
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect();
    if SECRET_PARAMETERS.contains(&normalised.as_str()) || looks_secret(value) {
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
            "/baas/auth/v1.0/oauth2/token?client_id=demo&client_secret=abc",
            "/baas/auth/v1.0/oauth2/token?CLIENT%5FSECRET=abc",
            "/x?access_token=abc&password=abc",
            "/x?clientSecret=abc&Client-Secret=abc&api_key=abc",
            "/x?t=v4%252Elocal%252Eabc",
        ] {
            let line = redact_request_line("GET", uri);
            assert!(
                !line.to_ascii_lowercase().contains("abc"),
                "{uri} -> {line}"
            );
        }
    }
}
