//! The one HTTP-facing error: every failure on every endpoint answers
//! `{"resCode": "<stable code>", "resMsg": "<human message>"}`.
//!
//! Codes are stable and listed in the README. Messages never carry
//! internals: no backend addresses, no causes, no tokens, no secrets.

use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use serde::Serialize;

use crate::share::MintRequestError;
use crate::storage::StorageError;
use crate::store::StoreError;
use crate::token::TokenError;

// NOTE: Debug is written by hand (below): actix logs every error response
// with `{:?}` at debug level, and variants may hold client input.
#[derive(thiserror::Error)]
pub enum ApiError {
    /// 400: a malformed request; the message says what is wrong.
    #[error("{0}")]
    BadRequest(String),
    /// 400: the mint body broke a rule.
    #[error("{0}")]
    InvalidMintRequest(#[from] MintRequestError),
    /// 400: the scope is too large for a token that fits in a URL.
    #[error("the share scope is too large for one token; share fewer or shorter keys")]
    ScopeTooLarge,
    /// 401: no access token was sent.
    #[error("an access token is required (header 'access-token' or 'Authorization: Bearer')")]
    AccessTokenMissing,
    /// 401: the access token is not valid or has expired.
    #[error("the access token is {0}")]
    AccessTokenRefused(&'static str),
    /// 401: wrong client id or secret.
    #[error("unknown client or wrong secret")]
    InvalidClient,
    /// 401: the share token is not valid, has expired or is not valid yet.
    #[error("the share token is {0}")]
    ShareTokenRefused(&'static str),
    /// 401: the share token was revoked.
    #[error("the share token has been revoked")]
    ShareTokenRevoked,
    /// 403: the client may not share from this connector.
    #[error("this client may not share from connector {0}")]
    ConnectorForbidden(String),
    /// 403: the caller lacks a role.
    #[error("this client lacks the '{0}' role")]
    RoleRequired(&'static str),
    /// 403: the object key was not percent-encoded (a raw `?`), so the key
    /// it names cannot be trusted.
    #[error("{0}")]
    UnencodedKey(String),
    /// 403: the object is outside the token's scope.
    #[error("the share token does not cover this object")]
    OutOfScope,
    /// 404: no such connector.
    #[error("{0}")]
    ConnectorNotFound(String),
    /// 404: the object does not exist.
    #[error("the object does not exist")]
    ObjectNotFound,
    /// 404: no such token id.
    #[error("no token with this id is known")]
    TokenNotFound,
    /// 404: no such route.
    #[error("no such endpoint")]
    RouteNotFound,
    /// 405: the route exists, but not for this method.
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed(&'static str),
    /// 412: `If-Match` did not match.
    #[error("the object does not match the request's preconditions")]
    PreconditionFailed,
    /// 413: the body is larger than the configured limit.
    #[error("the request body is too large")]
    PayloadTooLarge,
    /// 429: too many OAuth token requests from this address or for this
    /// client; retry after the given number of seconds.
    #[error("too many token requests; retry after {0} s (Retry-After)")]
    TooManyRequests(u64),
    /// 416: the requested range lies outside the object.
    #[error("the requested range is not satisfiable")]
    RangeNotSatisfiable { size: u64 },
    /// 502: the object changed between its metadata and its bytes.
    #[error("the object changed while it was being read; try again")]
    ObjectChanged,
    /// 502: the connector's backend failed.
    #[error("connector {0} is unavailable")]
    BackendUnavailable(String),
    /// 504: the connector's backend did not answer in time.
    #[error("connector {0} did not answer in time")]
    BackendTimeout(String),
    /// 503: the token store cannot answer; fail closed.
    #[error("the token store is unavailable; try again later")]
    StoreUnavailable,
    /// 500: a fault of ours; details are in the server log only.
    #[error("internal error")]
    Internal,
}

impl ApiError {
    /// The stable machine code.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "ST.BadRequest",
            ApiError::InvalidMintRequest(_) => "ST.InvalidMintRequest",
            ApiError::ScopeTooLarge => "ST.ScopeTooLarge",
            ApiError::AccessTokenMissing => "ST.AccessTokenMissing",
            ApiError::AccessTokenRefused(_) => "ST.AccessTokenInvalid",
            ApiError::InvalidClient => "ST.InvalidClient",
            ApiError::ShareTokenRefused("expired") => "ST.ShareTokenExpired",
            ApiError::ShareTokenRefused(_) => "ST.ShareTokenInvalid",
            ApiError::ShareTokenRevoked => "ST.ShareTokenRevoked",
            ApiError::ConnectorForbidden(_) => "ST.ConnectorForbidden",
            ApiError::RoleRequired(_) => "ST.RoleRequired",
            ApiError::UnencodedKey(_) => "ST.KeyNotEncoded",
            ApiError::OutOfScope => "ST.ObjectOutOfScope",
            ApiError::ConnectorNotFound(_) => "ST.ConnectorNotFound",
            ApiError::ObjectNotFound => "ST.ObjectNotFound",
            ApiError::TokenNotFound => "ST.TokenNotFound",
            ApiError::RouteNotFound => "ST.NotFound",
            ApiError::MethodNotAllowed(_) => "ST.MethodNotAllowed",
            ApiError::PreconditionFailed => "ST.PreconditionFailed",
            ApiError::PayloadTooLarge => "ST.PayloadTooLarge",
            ApiError::RangeNotSatisfiable { .. } => "ST.RangeNotSatisfiable",
            ApiError::TooManyRequests(_) => "ST.TooManyRequests",
            ApiError::ObjectChanged => "ST.ObjectChanged",
            ApiError::BackendUnavailable(_) => "ST.BackendUnavailable",
            ApiError::BackendTimeout(_) => "ST.BackendTimeout",
            ApiError::StoreUnavailable => "ST.StoreUnavailable",
            ApiError::Internal => "ST.Internal",
        }
    }
}

impl ApiError {
    /// The human message, with anything token-like taken out: messages may
    /// quote client input (a connector name, a key, a query error).
    pub fn message(&self) -> String {
        crate::redact::scrub(&self.to_string()).into_owned()
    }
}

impl std::fmt::Debug for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code(), self.message())
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    #[serde(rename = "resCode")]
    res_code: &'a str,
    #[serde(rename = "resMsg")]
    res_msg: String,
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::BadRequest(_) | ApiError::InvalidMintRequest(_) | ApiError::ScopeTooLarge => {
                StatusCode::BAD_REQUEST
            }
            ApiError::AccessTokenMissing
            | ApiError::AccessTokenRefused(_)
            | ApiError::InvalidClient
            | ApiError::ShareTokenRefused(_)
            | ApiError::ShareTokenRevoked => StatusCode::UNAUTHORIZED,
            ApiError::ConnectorForbidden(_)
            | ApiError::RoleRequired(_)
            | ApiError::UnencodedKey(_)
            | ApiError::OutOfScope => StatusCode::FORBIDDEN,
            ApiError::ConnectorNotFound(_)
            | ApiError::ObjectNotFound
            | ApiError::TokenNotFound
            | ApiError::RouteNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::PreconditionFailed => StatusCode::PRECONDITION_FAILED,
            ApiError::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RangeNotSatisfiable { .. } => StatusCode::RANGE_NOT_SATISFIABLE,
            ApiError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::ObjectChanged | ApiError::BackendUnavailable(_) => StatusCode::BAD_GATEWAY,
            ApiError::BackendTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            ApiError::StoreUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status_code());
        response.insert_header((header::CACHE_CONTROL, "no-store"));
        response.insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"));
        match self {
            ApiError::RangeNotSatisfiable { size } => {
                response.insert_header((header::CONTENT_RANGE, format!("bytes */{size}")));
                response.insert_header((header::ACCEPT_RANGES, "bytes"));
            }
            ApiError::TooManyRequests(seconds) => {
                response.insert_header((header::RETRY_AFTER, seconds.to_string()));
            }
            ApiError::MethodNotAllowed(allow) => {
                response.insert_header((header::ALLOW, *allow));
            }
            // RFC 9110 §11.6.1: every 401 names how to authenticate.
            ApiError::AccessTokenMissing | ApiError::AccessTokenRefused(_) => {
                response
                    .insert_header((header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer")));
            }
            ApiError::InvalidClient => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"sharetoken\""),
                ));
            }
            // The share token travels in the query, not in a header: a
            // scheme of its own, which no browser turns into a login prompt.
            ApiError::ShareTokenRefused(_) | ApiError::ShareTokenRevoked => {
                response.insert_header((
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("ShareToken realm=\"sharetoken\""),
                ));
            }
            _ => {}
        }
        response.json(ErrorBody {
            res_code: self.code(),
            res_msg: self.message(),
        })
    }
}

impl From<TokenError> for ApiError {
    fn from(e: TokenError) -> Self {
        ApiError::ShareTokenRefused(match e {
            TokenError::Invalid => "not valid",
            TokenError::Expired => "expired",
            TokenError::NotYetValid => "not valid yet",
        })
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        log::error!("{e}");
        ApiError::StoreUnavailable
    }
}

impl From<StorageError> for ApiError {
    fn from(e: StorageError) -> Self {
        match e {
            StorageError::NotFound => ApiError::ObjectNotFound,
            StorageError::Changed => ApiError::ObjectChanged,
            StorageError::Unavailable { connector } => ApiError::BackendUnavailable(connector),
            StorageError::Timeout { connector } => ApiError::BackendTimeout(connector),
        }
    }
}
