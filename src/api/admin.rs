//! The admin API (DESIGN §6), for access tokens with role `admin`.

use actix_web::{web, HttpResponse};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::{ApiError, AppState, Success};
use crate::auth::Role;
use crate::clock::to_rfc3339;
use crate::store::{Revocation, TokenFilter, TokenRecord, TokenState};

/// Largest page the token list returns.
const MAX_PAGE: usize = 1000;

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
    state: TokenState,
}

fn view(record: TokenRecord, now: i64) -> TokenView {
    let state = record.state(now);
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    connector: Option<String>,
    client: Option<String>,
    state: Option<TokenState>,
    limit: Option<usize>,
    after: Option<String>,
}

#[derive(Serialize)]
struct TokenPage {
    tokens: Vec<TokenView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// `GET /admin/v1/tokens?connector=&client=&state=&limit=&after=`
pub async fn list_tokens(
    caller: Caller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let query = query.into_inner();
    let limit = query.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let filter = TokenFilter {
        connector: query.connector,
        client: query.client,
        state: query.state,
    };
    let now = state.clock.now();
    let records = state
        .store
        .list_tokens(&filter, now, query.after.as_deref(), limit)
        .await?;
    let next = (records.len() == limit)
        .then(|| records.last().map(|r| r.jti.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(Success::new(TokenPage {
        tokens: records.into_iter().map(|r| view(r, now)).collect(),
        next,
    })))
}
