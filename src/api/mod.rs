//! The HTTP surface: routes, extractors, handlers and error mapping.

mod access_log;
mod admin;
mod caller;
pub mod error;
mod mint;
mod oauth;
mod view;

use std::sync::Arc;

use actix_web::web::{self, ServiceConfig};
use actix_web::{guard, HttpResponse};
use futures_util::StreamExt;
use serde::Serialize;

pub use access_log::{access_logger, redact_request_line};
pub use error::ApiError;

use crate::audit::AuditSink;
use crate::auth::Clients;
use crate::clock::Clock;
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
}

pub const MINT_PATH: &str =
    "/u-route/baas/sys/v1.1/connectors/{connector_type}/{connector_name}/sharetoken";
pub const VIEW_PATH: &str = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject";
pub const OAUTH_TOKEN_PATH: &str = "/baas/auth/v1.0/oauth2/token";

/// Registers every route. The app's default service answers 404 in our
/// error body; each resource answers 405 for other methods.
pub fn routes(cfg: &mut ServiceConfig) {
    cfg.service(
        web::resource(OAUTH_TOKEN_PATH)
            .route(web::post().to(oauth::issue_access_token))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(MINT_PATH)
            .route(web::post().to(mint::mint_share_token))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource(VIEW_PATH)
            .route(
                web::route()
                    .guard(guard::Any(guard::Get()).or(guard::Head()))
                    .to(view::view_shared_object),
            )
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/v1/tokens")
            .route(web::get().to(admin::list_tokens))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/v1/tokens/{jti}")
            .route(web::get().to(admin::token_details))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/v1/tokens/{jti}/revoke")
            .route(web::post().to(admin::revoke_token))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/v1/revocations")
            .route(web::post().to(admin::revoke_in_bulk))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/admin/v1/audit")
            .route(web::get().to(admin::audit_log))
            .default_service(web::to(method_not_allowed)),
    )
    .service(
        web::resource("/healthz")
            .route(web::get().to(|| async { HttpResponse::Ok().json(Success::new("ok")) }))
            .default_service(web::to(method_not_allowed)),
    );
}

pub async fn not_found() -> Result<HttpResponse, ApiError> {
    Err(ApiError::RouteNotFound)
}

async fn method_not_allowed() -> Result<HttpResponse, ApiError> {
    Err(ApiError::MethodNotAllowed)
}

/// Astro Zero's success envelope.
#[derive(Serialize)]
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
    mut payload: web::Payload,
    limit: usize,
) -> Result<web::Bytes, ApiError> {
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
    web::QueryConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("bad query: {err}")).into())
}

/// Path segments that do not fit a handler's type answer in our body.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _| ApiError::BadRequest(format!("bad path: {err}")).into())
}
