//! `GET|HEAD …/objectstorage/viewshareobject?object=X&shareToken=Y`.
//!
//! Checks run in the order DESIGN §1 fixes: parse → open token → expiry →
//! revocation → scope → backend. No backend request is made for a request
//! that fails an earlier step, and a revoked token never reaches the
//! conditional logic (so it never gets a 304). Every outcome is audited; a
//! streamed body is audited when it ends, with the bytes really sent.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use actix_web::http::header::{self, HeaderMap, HeaderName, HttpDate};
use actix_web::http::{Method, StatusCode};
use actix_web::{web, HttpMessage, HttpRequest, HttpResponse, HttpResponseBuilder, ResponseError};
use futures_util::Stream;

use super::revocation_watch::RevocationWatch;
use super::{ApiError, AppState};
use crate::audit::{AuditEvent, AuditKind, AuditSink};
use crate::http::conditional::{self, Conditions, Outcome, Validators};
use crate::http::headers::{content_disposition, content_type, download_name, is_active_content};
use crate::http::query::{QueryError, ViewQuery};
use crate::http::range::{self, RangeAnswer};
use crate::metrics::Metrics;
use crate::redact::scrub;
use crate::share::ObjectKey;
use crate::storage::{ByteStream, ObjectInfo, StorageError};
use crate::token::ShareClaims;

/// Browsers may keep the bytes but must come back, and meet any
/// revocation, before reusing them.
const CACHE_CONTROL: &str = "private, no-cache";

/// What a successful view sends.
enum Reply {
    /// Headers only (HEAD, 304).
    Done(HttpResponse),
    /// Headers, then the object's bytes, for the holder of these claims.
    Stream(HttpResponseBuilder, ByteStream, ShareClaims),
}

/// Read a shared object
///
/// Streams the object to whoever holds the share token, with HTTP's file
/// semantics: single byte ranges, validators and conditional requests.
#[utoipa::path(
    method(get, head),
    path = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject",
    tag = "share",
    params(
        ("object" = String, Query, description = "The object's key, percent-encoded once"),
        ("shareToken" = String, Query, description = "The share token"),
        ("download" = Option<String>, Query, description = "Present: serve as an attachment; a value renames the file"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. bytes=0-1"),
    ),
    responses(
        (status = 200, description = "The object", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 206, description = "A byte range of the object", content_type = "application/octet-stream", body = Vec<u8>),
        (status = 304, description = "Not modified"),
        (status = 400, description = "Missing or repeated parameters", body = super::openapi::ErrorBody),
        (status = 401, description = "The share token is not valid, has expired or was revoked", body = super::openapi::ErrorBody),
        (status = 403, description = "The token does not cover this object", body = super::openapi::ErrorBody),
        (status = 404, description = "No such object", body = super::openapi::ErrorBody),
        (status = 412, description = "A precondition failed", body = super::openapi::ErrorBody),
        (status = 416, description = "The range lies outside the object", body = super::openapi::ErrorBody),
        (status = 502, description = "The connector's storage failed", body = super::openapi::ErrorBody),
        (status = 503, description = "The token store is unavailable", body = super::openapi::ErrorBody),
        (status = 504, description = "The connector's storage did not answer in time", body = super::openapi::ErrorBody),
    )
)]
pub async fn view_shared_object(
    req: HttpRequest,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let mut event = AuditEvent::from_request(AuditKind::View, state.clock.now(), &req);
    match serve(&req, &state, &mut event).await {
        Ok(Reply::Done(response)) => {
            event.status = Some(response.status().as_u16());
            event.bytes = Some(0);
            state.audit.record(event);
            Ok(response)
        }
        Ok(Reply::Stream(mut response, body, claims)) => {
            let audited = AuditedBody {
                inner: body,
                sent: 0,
                finished: false,
                pending: Some((event, state.audit.clone())),
                metrics: Arc::clone(&state.metrics),
                watch: RevocationWatch::new(claims, Arc::clone(&state.store)),
                revoked: false,
            };
            Ok(response.streaming(audited))
        }
        Err(error) => {
            let status = error.status_code();
            if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
                event.kind = Some(AuditKind::Deny);
                state.metrics.token_check_failed(error.code());
            }
            event.status = Some(status.as_u16());
            event.reason = Some(error.code().to_owned());
            state.audit.record(event);
            Err(error)
        }
    }
}

async fn serve(
    req: &HttpRequest,
    state: &AppState,
    event: &mut AuditEvent,
) -> Result<Reply, ApiError> {
    let query = ViewQuery::parse(req.query_string()).map_err(|e| match e {
        QueryError::UnencodedObject => ApiError::UnencodedKey(e.to_string()),
        _ => ApiError::BadRequest(e.to_string()),
    })?;
    event.object = Some(scrub(&query.object).into_owned());
    let claims = ShareClaims::open(
        &state.keys,
        &query.share_token,
        state.clock.now(),
        state.nbf_skew_seconds,
    )?;
    event.token_id = Some(claims.jti.clone());
    req.extensions_mut()
        .insert(super::access_log::TokenId(claims.jti.clone()));
    event.client = Some(claims.subject.clone());
    event.connector = Some(scrub(&claims.connector.to_string()).into_owned());
    event.token_expires_at = Some(claims.expires_at);
    if state.store.is_revoked(&claims).await? {
        return Err(ApiError::ShareTokenRevoked);
    }
    // A string that is not a valid key (`..`, `a//b`, …) is in no scope.
    let key = ObjectKey::parse(&query.object).map_err(|_| ApiError::OutOfScope)?;
    if !claims.scope.allows(&key) {
        return Err(ApiError::OutOfScope);
    }
    let connector = state.connectors.get(&claims.connector).ok_or_else(|| {
        ApiError::ConnectorNotFound(format!("no connector '{}' is configured", claims.connector))
    })?;
    let headers = req.headers();
    // A GET without Range will most likely send the whole object.
    let whole = req.method() == Method::GET && !headers.contains_key(header::RANGE);
    let asked = std::time::Instant::now();
    let opened = connector.open(&key, whole).await;
    state
        .metrics
        .backend_answered(&claims.connector.to_string(), asked.elapsed());
    let info = opened?;

    let (if_match, if_none_match) = (
        list_header(headers, &header::IF_MATCH),
        list_header(headers, &header::IF_NONE_MATCH),
    );
    let conditions = Conditions {
        if_match: if_match.as_deref(),
        if_unmodified_since: single_header(headers, &header::IF_UNMODIFIED_SINCE),
        if_none_match: if_none_match.as_deref(),
        if_modified_since: single_header(headers, &header::IF_MODIFIED_SINCE),
        if_range: single_header(headers, &header::IF_RANGE),
    };
    let validators = Validators {
        etag: info.etag.as_deref(),
        last_modified: info.last_modified,
    };
    let mut response = match conditional::evaluate(&conditions, &validators) {
        Outcome::PreconditionFailed => return Err(ApiError::PreconditionFailed),
        Outcome::NotModified => {
            let mut not_modified = HttpResponse::NotModified();
            validator_headers(&mut not_modified, &info);
            return Ok(Reply::Done(not_modified.finish()));
        }
        Outcome::Proceed => HttpResponse::Ok(),
    };

    let range_header = conditional::range_applies(&conditions, &validators)
        .then(|| single_header(headers, &header::RANGE))
        .flatten();
    let bytes = match range::answer(range_header, info.size) {
        RangeAnswer::Unsatisfiable => {
            return Err(ApiError::RangeNotSatisfiable { size: info.size });
        }
        RangeAnswer::Whole => 0..info.size,
        RangeAnswer::Partial(bytes) => {
            let content_range = format!("bytes {}-{}/{}", bytes.start, bytes.end - 1, info.size);
            response.status(StatusCode::PARTIAL_CONTENT);
            response.insert_header((header::CONTENT_RANGE, content_range.clone()));
            event.range = Some(content_range);
            bytes
        }
    };
    event.status = Some(if event.range.is_some() { 206 } else { 200 });

    validator_headers(&mut response, &info);
    let mime = content_type(info.content_type.as_deref(), key.as_str());
    if is_active_content(&mime) {
        response.insert_header((header::CONTENT_SECURITY_POLICY, "sandbox"));
    }
    let file_name = query
        .download
        .as_deref()
        .and_then(download_name)
        .unwrap_or_else(|| key.file_name().to_owned());
    response
        .insert_header((header::CONTENT_TYPE, mime))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::ACCEPT_RANGES, "bytes"))
        .insert_header((
            header::CONTENT_DISPOSITION,
            content_disposition(&file_name, query.download.is_some()),
        ))
        .no_chunking(bytes.end - bytes.start);

    if req.method() == Method::HEAD {
        // Same headers as GET, real Content-Length, no body.
        let empty = futures_util::stream::empty::<Result<web::Bytes, ApiError>>();
        return Ok(Reply::Done(response.streaming(empty)));
    }
    let body = connector.read(&key, &info, bytes).await?;
    Ok(Reply::Stream(response, body, claims))
}

/// The object's bytes on their way out, counted, and cut if the token is
/// revoked meanwhile; the view is audited when the body ends or the client
/// goes away.
struct AuditedBody {
    inner: ByteStream,
    sent: u64,
    finished: bool,
    pending: Option<(AuditEvent, AuditSink)>,
    metrics: Arc<Metrics>,
    watch: RevocationWatch,
    revoked: bool,
}

/// Why a body ended before its promised length.
#[derive(Debug, thiserror::Error)]
enum BodyCut {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error("the share token was revoked during the download")]
    Revoked,
}

impl Stream for AuditedBody {
    type Item = Result<web::Bytes, BodyCut>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // NOTE: every field is Unpin (the inner stream and the check are boxed).
        let this = self.get_mut();
        if this.revoked {
            return Poll::Ready(None);
        }
        if this.watch.poll_revoked(cx) {
            // An error, not an end: the client must not take a cut body
            // for the whole object (its length was promised).
            this.revoked = true;
            return Poll::Ready(Some(Err(BodyCut::Revoked)));
        }
        let next = this.inner.as_mut().poll_next(cx);
        match &next {
            Poll::Ready(Some(Ok(chunk))) => this.sent += chunk.len() as u64,
            Poll::Ready(None) => this.finished = true,
            _ => {}
        }
        next.map(|item| item.map(|chunk| chunk.map_err(BodyCut::from)))
    }
}

impl Drop for AuditedBody {
    fn drop(&mut self) {
        self.metrics.bytes_served(self.sent);
        if let Some((mut event, sink)) = self.pending.take() {
            event.bytes = Some(self.sent);
            if self.revoked {
                event.reason = Some("cut: the token was revoked during the download".into());
            } else if !self.finished {
                event.reason =
                    Some("body not completed (client went away or backend failed)".into());
            }
            sink.record(event);
        }
    }
}

/// A list header (`If-Match`, `If-None-Match`): every line it came in,
/// joined as one list, as RFC 9110 §5.3 reads them.
fn list_header(headers: &HeaderMap, name: &HeaderName) -> Option<String> {
    let lines: Vec<&str> = headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok())
        .collect();
    (!lines.is_empty()).then(|| lines.join(", "))
}

/// A header that holds one value: sent twice, it is invalid and ignored
/// (a range or a date cannot be two at once).
fn single_header<'a>(headers: &'a HeaderMap, name: &HeaderName) -> Option<&'a str> {
    let mut lines = headers.get_all(name);
    let first = lines.next()?;
    if lines.next().is_some() {
        return None;
    }
    first.to_str().ok()
}

/// Headers every answer about the object carries, 304 included.
fn validator_headers(response: &mut HttpResponseBuilder, info: &ObjectInfo) {
    response.insert_header((header::CACHE_CONTROL, CACHE_CONTROL));
    if let Some(etag) = &info.etag {
        response.insert_header((header::ETAG, etag.as_str()));
    }
    if let Some(modified) = info.last_modified {
        response.insert_header((header::LAST_MODIFIED, HttpDate::from(modified)));
    }
}
