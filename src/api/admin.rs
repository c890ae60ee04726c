//! The admin API (DESIGN §6), for access tokens with role `admin`.

use actix_web::{web, HttpResponse};
use serde::Serialize;

use super::caller::Caller;
use super::{ApiError, AppState, Success};
use crate::auth::Role;
use crate::clock::to_rfc3339;
use crate::store::{Revocation, TokenRecord};

/// A token record as the admin API shows it.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct TokenView {
    token_id: String,
    client: String,
    connector: String,
    share_type: u8,
    scope: String,
    issued_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    state: &'static str,
}

fn view(record: TokenRecord, now: i64) -> TokenView {
    let state = if record.revoked_at.is_some() {
        "revoked"
    } else if now >= record.expires_at {
        "expired"
    } else {
        "active"
    };
    TokenView {
        token_id: record.jti,
        client: record.client,
        connector: record.connector,
        share_type: record.share_type,
        scope: record.scope,
        issued_at: to_rfc3339(record.issued_at),
        expires_at: to_rfc3339(record.expires_at),
        revoked_at: record.revoked_at.map(to_rfc3339),
        state,
    }
}

pub async fn token_details(
    caller: Caller,
    jti: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let record = state
        .store
        .token(&jti)
        .await?
        .ok_or(ApiError::TokenNotFound)?;
    Ok(HttpResponse::Ok().json(Success::new(view(record, state.clock.now()))))
}

pub async fn revoke_token(
    caller: Caller,
    jti: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let now = state.clock.now();
    let record = match state.store.revoke(&jti, now).await? {
        Revocation::Revoked(record) => {
            log::info!("share token {} revoked by {}", record.jti, caller.client_id);
            record
        }
        Revocation::AlreadyRevoked(record) => record,
        Revocation::Unknown => return Err(ApiError::TokenNotFound),
    };
    Ok(HttpResponse::Ok().json(Success::new(view(record, now))))
}
