//! `POST …/connectors/{connector_type}/{connector_name}/sharetoken`.

use actix_web::{web, HttpMessage, HttpRequest, HttpResponse};
use serde::Serialize;

use super::caller::Caller;
use super::{read_body, ApiError, AppState, Success};
use crate::audit::{AuditEvent, AuditKind};
use crate::auth::Role;
use crate::clock::to_rfc3339;
use crate::share::MintRequest;
use crate::storage::ConnectorId;
use crate::store::TokenRecord;
use crate::token::ShareClaims;

/// Longest share token handed out, so that view URLs pass proxies
/// (DESIGN §3); a larger scope is refused with 400.
pub const MAX_SHARE_TOKEN_LEN: usize = 3 * 1024;

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Minted {
    share_token: String,
    /// Extra fields (allowed by the contract): the id to revoke by, and times.
    token_id: String,
    issued_at: String,
    expires_at: String,
}

/// The connector named by the path. actix has already percent-decoded the
/// segments once (`Namespace%20__TestOBS` is `Namespace __TestOBS`).
fn connector_from_path(req: &HttpRequest) -> Result<ConnectorId, ApiError> {
    let (kind, name): (String, String) = req
        .match_info()
        .load()
        .map_err(|_| ApiError::BadRequest("the connector path is not valid".into()))?;
    ConnectorId::parse(&kind, &name).ok_or_else(|| {
        ApiError::ConnectorNotFound(format!(
            "no connector type '{kind}' (the types are obs, minio and objectstorageproxy)"
        ))
    })
}

/// Mint a share token for a file, a directory or a list of files
///
/// Astro Zero's Sharing Token API. The token lives 1 to 1440 minutes.
#[utoipa::path(
    post,
    path = "/u-route/baas/sys/v1.1/connectors/{connector_type}/{connector_name}/sharetoken",
    tag = "share",
    params(
        ("connector_type" = String, Path, description = "obs, minio or objectstorageproxy"),
        ("connector_name" = String, Path, description = "The connector's name (percent-encoded)"),
    ),
    request_body(content = super::openapi::MintBody, content_type = "application/json"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A share token", body = Success<Minted>),
        (status = 400, description = "The body breaks a rule", body = super::openapi::ErrorBody),
        (status = 401, description = "No valid access token", body = super::openapi::ErrorBody),
        (status = 403, description = "The client may not share from this connector", body = super::openapi::ErrorBody),
        (status = 404, description = "No such connector", body = super::openapi::ErrorBody),
        (status = 413, description = "Body over the limit", body = super::openapi::ErrorBody),
        (status = 503, description = "The token store is unavailable", body = super::openapi::ErrorBody),
    )
)]
pub async fn mint_share_token(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    let client = caller.require(&state, Role::Share)?;
    let connector = connector_from_path(&req)?;
    if state.connectors.get(&connector).is_none() {
        return Err(ApiError::ConnectorNotFound(format!(
            "no connector '{connector}' is configured"
        )));
    }
    if !client.may_share_from(&connector) {
        return Err(ApiError::ConnectorForbidden(connector.to_string()));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let request = MintRequest::from_json(&body)?;

    let issued_at = first_second_not_revoked(&state, &connector, &client.id).await?;
    let claims = ShareClaims::new(
        &client.id,
        connector,
        request.scope,
        issued_at,
        request.timeout_minutes,
    );
    let token = claims.seal(&state.keys);
    if token.len() > MAX_SHARE_TOKEN_LEN {
        return Err(ApiError::ScopeTooLarge);
    }
    // Recorded before it is handed out: a token the store never saw cannot
    // be audited or revoked by id.
    let record = TokenRecord::from_claims(&claims);
    state.store.record_issued(&record).await?;
    req.extensions_mut()
        .insert(super::access_log::TokenId(claims.jti.clone()));
    state.audit.record(AuditEvent {
        token_id: Some(record.jti),
        client: Some(record.client),
        connector: Some(crate::redact::scrub(&record.connector).into_owned()),
        scope: Some(crate::redact::scrub(&record.scope).into_owned()),
        status: Some(200),
        token_expires_at: Some(record.expires_at),
        ..AuditEvent::from_request(AuditKind::Mint, claims.issued_at, &req)
    });
    state.metrics.minted();
    log::info!(
        "minted share token {} for client {} on {} ({}), expires {}",
        claims.jti,
        claims.subject,
        crate::redact::scrub(&claims.connector.to_string()),
        crate::redact::scrub(&claims.scope.summary()),
        to_rfc3339(claims.expires_at)
    );
    Ok(HttpResponse::Ok().json(Success::new(Minted {
        share_token: token,
        token_id: claims.jti.clone(),
        issued_at: to_rfc3339(claims.issued_at),
        expires_at: to_rfc3339(claims.expires_at),
    })))
}

/// The issue time for a new token: now, unless a bulk revocation covers
/// now. Tokens carry whole seconds, so a revocation "before now" covers the
/// rest of its second too, and a token minted in that second would be
/// handed out already revoked. Then the mint waits for the watermark's
/// second (at most about one second: a watermark is never in the future
/// by more than that, bar clock skew between instances).
async fn first_second_not_revoked(
    state: &AppState,
    connector: &ConnectorId,
    client: &str,
) -> Result<i64, ApiError> {
    let connector = connector.to_string();
    let covered = |marks: &crate::store::Watermarks, now| marks.covers(&connector, client, now);
    let marks = state.store.watermarks().await?;
    let mut now = state.clock.now();
    let give_up = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while covered(&marks, now) && tokio::time::Instant::now() < give_up {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        now = state.clock.now();
    }
    if covered(&marks, now) {
        log::warn!(
            "a bulk revocation of {connector} or {client} lies ahead of this clock: the token is issued revoked"
        );
    }
    Ok(now)
}
