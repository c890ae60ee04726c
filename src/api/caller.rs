//! The authenticated caller of mint and admin endpoints.

use std::future::{ready, Ready};

use actix_web::dev::Payload;
use actix_web::http::header::{HeaderMap, AUTHORIZATION};
use actix_web::{web, FromRequest, HttpRequest};

use super::{ApiError, AppState};
use crate::auth::{Client, Role};
use crate::token::{AccessClaims, TokenError};

/// The client behind a valid access token, sent as `access-token: …`
/// (Astro Zero's header) or `Authorization: Bearer …`.
pub struct Caller {
    pub client_id: String,
}

impl Caller {
    /// The caller's client, which must have `role`.
    pub fn require<'s>(&self, state: &'s AppState, role: Role) -> Result<&'s Client, ApiError> {
        let client = state
            .clients
            .get(&self.client_id)
            .ok_or(ApiError::AccessTokenRefused(
                "for a client that no longer exists",
            ))?;
        if !client.has_role(role) {
            return Err(ApiError::RoleRequired(match role {
                Role::Share => "share",
                Role::Admin => "admin",
            }));
        }
        Ok(client)
    }
}

/// The caller's address: the TCP peer, or (behind a trusted proxy) the
/// address `Forwarded` / `X-Forwarded-For` names.
pub fn client_address(req: &HttpRequest, trust_forwarded_for: bool) -> Option<std::net::IpAddr> {
    if trust_forwarded_for {
        let info = req.connection_info();
        if let Some(address) = info.realip_remote_addr() {
            // An address with a port, a bracketed IPv6 address, or a bare one.
            let parsed = address
                .parse::<std::net::SocketAddr>()
                .map(|a| a.ip())
                .or_else(|_| address.trim_matches(['[', ']']).parse());
            if let Ok(ip) = parsed {
                return Some(ip);
            }
        }
    }
    req.peer_addr().map(|a| a.ip())
}

/// The access token sent, if any: `access-token` first (when not empty),
/// else `Authorization: Bearer`. A header that is not text is refused.
fn presented_token(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let not_text = || ApiError::AccessTokenRefused("not valid");
    if let Some(value) = headers.get("access-token") {
        let token = value.to_str().map_err(|_| not_text())?.trim();
        if !token.is_empty() {
            return Ok(Some(token));
        }
    }
    let Some(value) = headers.get(AUTHORIZATION) else {
        return Ok(None);
    };
    let value = value.to_str().map_err(|_| not_text())?.trim();
    Ok(value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|token| !token.is_empty()))
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(authenticate(req))
    }
}

fn authenticate(req: &HttpRequest) -> Result<Caller, ApiError> {
    let state = req
        .app_data::<web::Data<AppState>>()
        .ok_or(ApiError::Internal)?;
    let token = presented_token(req.headers())?.ok_or(ApiError::AccessTokenMissing)?;
    let claims = AccessClaims::open(&state.keys, token, state.clock.now()).map_err(|e| {
        ApiError::AccessTokenRefused(match e {
            TokenError::Expired => "expired",
            _ => "not valid",
        })
    })?;
    Ok(Caller {
        client_id: claims.client_id,
    })
}
