//! The HTTP surface: routes, extractors, handlers and error mapping.

mod access_log;
mod admin;
mod caller;
mod cors;
pub mod error;
mod mint;
mod oauth;
pub mod openapi;
pub mod rate_limit;
mod revocation_watch;
mod view;

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{guard, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

pub use access_log::{access_logger, assign_request_id, redact_request_line};
pub use error::ApiError;

use crate::audit::AuditSink;
use crate::auth::Clients;
use crate::clock::Clock;
use crate::metrics::Metrics;
use crate::storage::Connectors;
use crate::store::TokenStore;
use crate::token::KeyRing;

/// Everything a handler needs, shared by all workers.
pub struct AppState {
    pub keys: KeyRing,
    pub clients: Clients,
    pub connectors: Connectors,
    pub store: Arc<dyn TokenStore>,
    /// Where audit events go (written off the request path).
    pub audit: AuditSink,
    pub clock: Arc<dyn Clock>,
    /// Leeway for share tokens' `nbf`, in seconds.
    pub nbf_skew_seconds: i64,
    /// Life of access tokens, in seconds.
    pub access_token_ttl_seconds: i64,
    /// Largest request body accepted, in bytes.
    pub max_body_bytes: usize,
    /// Rate limits of the OAuth token endpoint.
    pub login_limiter: Arc<rate_limit::LoginLimiter>,
    /// Take callers' addresses from `Forwarded` / `X-Forwarded-For`.
    pub trust_forwarded_for: bool,
    pub metrics: Arc<Metrics>,
}

pub const MINT_PATH: &str =
    "/u-route/baas/sys/v1.1/connectors/{connector_type}/{connector_name}/sharetoken";
pub const VIEW_PATH: &str = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject";
pub const OAUTH_TOKEN_PATH: &str = "/baas/auth/v1.0/oauth2/token";

/// Registers every route. The app's default service answers 404 in our
/// error body; each resource answers 405, with `Allow`, for other methods.
/// Every GET also answers HEAD (RFC 9110 §9.3.2: same headers, no body).
pub fn routes(cfg: &mut ServiceConfig) {
    let get_or_head = || web::route().guard(guard::Any(guard::Get()).or(guard::Head()));
    // Views first: the busiest route, matched without a regex (the mint
    // path's segments are one, tried on every request ahead of it).
    cfg.service(
        resource(VIEW_PATH, "GET, HEAD, OPTIONS")
            .wrap(cors::view_headers())
            .route(get_or_head().to(view::view_shared_object))
            .route(web::route().guard(guard::Options()).to(cors::preflight)),
    )
    .service(resource(OAUTH_TOKEN_PATH, "POST").route(web::post().to(oauth::issue_access_token)))
    .service(
        resource(MINT_PATH, "POST")
            .wrap(no_store())
            .route(web::post().to(mint::mint_share_token)),
    )
    .service(
        web::scope("/admin/v1")
            .wrap(no_store())
            .service(resource("/tokens", "GET, HEAD").route(get_or_head().to(admin::list_tokens)))
            .service(
                resource("/tokens/{jti}", "GET, HEAD")
                    .route(get_or_head().to(admin::token_details)),
            )
            .service(
                resource("/tokens/{jti}/revoke", "POST").route(web::post().to(admin::revoke_token)),
            )
            .service(resource("/revocations", "POST").route(web::post().to(admin::revoke_in_bulk)))
            .service(resource("/audit", "GET, HEAD").route(get_or_head().to(admin::audit_log))),
    )
    .service(resource("/metrics", "GET, HEAD").route(get_or_head().to(metrics)))
    .service(resource("/openapi.json", "GET, HEAD").route(get_or_head().to(openapi::document)))
    .service(resource("/readyz", "GET, HEAD").route(get_or_head().to(readiness)))
    .service(resource("/healthz", "GET, HEAD").route(get_or_head().to(health)));
}

/// Answers that hold bearer tokens (a minted share token) or the token
/// records: no cache, shared or private, may keep them.
fn no_store() -> actix_web::middleware::DefaultHeaders {
    actix_web::middleware::DefaultHeaders::new()
        .add((actix_web::http::header::CACHE_CONTROL, "no-store"))
}

/// A resource whose other methods answer 405 with `Allow: <allow>`.
fn resource(path: &str, allow: &'static str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(move || async move {
        Err::<HttpResponse, _>(ApiError::MethodNotAllowed(allow))
    }))
}

/// Liveness: the process answers
#[utoipa::path(
    method(get, head),
    path = "/healthz",
    tag = "operations",
    responses((status = 200, description = "The process serves", body = Success<String>))
)]
async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Success::new("ok"))
}

/// Prometheus metrics (OpenMetrics text)
#[utoipa::path(
    method(get, head),
    path = "/metrics",
    tag = "operations",
    responses((status = 200, description = "The metrics", content_type = "application/openmetrics-text", body = String))
)]
async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(crate::metrics::CONTENT_TYPE)
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .body(state.metrics.render())
}

#[derive(Serialize, utoipa::ToSchema)]
struct Readiness {
    /// `up` or `down`.
    store: &'static str,
    /// Each connector, `type/name` → `ready` or `unavailable`.
    connectors: std::collections::BTreeMap<String, &'static str>,
}

/// `GET /readyz`: 200 while the token store answers, else 503 (every view
/// and mint would fail closed). Connectors are probed and reported, but a
/// failing connector does not take the instance out of a load balancer:
/// every instance shares it, and the others keep serving.
#[utoipa::path(
    method(get, head),
    path = "/readyz",
    tag = "operations",
    responses(
        (status = 200, description = "Ready: the token store answers", body = Success<Readiness>),
        (status = 503, description = "Not ready: the token store is unavailable", body = Success<Readiness>),
    )
)]
async fn readiness(state: web::Data<AppState>) -> HttpResponse {
    let (store, probes) = futures_util::join!(state.store.ping(), state.connectors.probe_each());
    let ready = store.is_ok();
    let body = Readiness {
        store: if ready { "up" } else { "down" },
        connectors: probes
            .into_iter()
            .map(|(id, outcome)| {
                let word = if outcome.is_ok() {
                    "ready"
                } else {
                    "unavailable"
                };
                (id.to_string(), word)
            })
            .collect(),
    };
    let mut response = if ready {
        HttpResponse::Ok()
    } else {
        HttpResponse::ServiceUnavailable()
    };
    response
        .insert_header((actix_web::http::header::CACHE_CONTROL, "no-store"))
        .json(serde_json::json!({
            "resCode": if ready { "0" } else { "ST.NotReady" },
            "resMsg": if ready { "ready" } else { "the token store is unavailable" },
            "result": body,
        }))
}

/// Counts every answered request by route pattern, method and status.
pub async fn count_requests(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let response = next.call(req).await?;
    if let Some(state) = state {
        // The pattern is known once routing is done: read it off the answer.
        let request = response.request();
        let route = request.match_pattern();
        state.metrics.request_answered(
            route.as_deref().unwrap_or("unmatched"),
            request.method().as_str(),
            response.status().as_u16(),
        );
    }
    Ok(response)
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

/// Astro Zero's success envelope.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Success<T: Serialize> {
    #[serde(rename = "resCode")]
    res_code: &'static str,
    #[serde(rename = "resMsg")]
    res_msg: &'static str,
    result: T,
}

impl<T: Serialize> Success<T> {
    pub fn new(result: T) -> Self {
        Self {
            res_code: "0",
            res_msg: "Success",
            result,
        }
    }
}

/// Reads a request body up to `limit` bytes; larger is a 413 in our body.
pub(crate) async fn read_body(
    req: &actix_web::HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
    // A declared length over the limit is refused before reading (and
    // before `Expect: 100-continue` is answered).
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit as u64) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = web::BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|_| ApiError::BadRequest("the request body could not be read".into()))?;
        if body.len() + chunk.len() > limit {
            return Err(ApiError::PayloadTooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// Query strings that do not fit a handler's type answer in our body.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _| {
        // serde_urlencoded's own words, without actix's prefix.
        let text = err.to_string();
        let cause = text
            .strip_prefix("Query deserialize error: ")
            .unwrap_or(&text);
        ApiError::BadRequest(format!("bad query: {cause}")).into()
    })
}

/// Path segments that do not fit a handler's type answer in our body.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("bad path: {err}")).into())
}
