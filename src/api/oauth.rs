//! `POST /baas/auth/v1.0/oauth2/token`: OAuth 2 client credentials.

use actix_web::http::header::{self, HeaderMap};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use serde::Serialize;

use super::{read_body, ApiError, AppState};
use crate::token::AccessClaims;

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AccessTokenResponse {
    access_token: String,
    expires_in: i64,
    token_type: &'static str,
}

/// Client credentials from the form body, or from HTTP Basic
/// authentication as RFC 6749 §2.3.1 also allows.
#[derive(Default)]
struct Credentials {
    grant_type: Option<String>,
    client_id: Option<String>,
    client_secret: Option<String>,
}

fn parse_form(body: &[u8]) -> Result<Credentials, ApiError> {
    let mut creds = Credentials::default();
    for (name, value) in form_urlencoded::parse(body) {
        let slot = match name.as_ref() {
            "grant_type" => &mut creds.grant_type,
            "client_id" => &mut creds.client_id,
            "client_secret" => &mut creds.client_secret,
            _ => continue,
        };
        if slot.is_some() {
            return Err(ApiError::BadRequest(format!(
                "form field '{name}' is given more than once"
            )));
        }
        *slot = Some(value.into_owned());
    }
    Ok(creds)
}

/// RFC 6749 §4.4.2: the request is a form. A body without a type is read
/// as one too (some clients do not label it); JSON or anything else is not.
fn is_form_or_unlabelled(headers: &HeaderMap) -> bool {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return true;
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim();
    essence.eq_ignore_ascii_case("application/x-www-form-urlencoded")
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, encoded) = value.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (id, secret) = text.split_once(':')?;
    Some((id.to_owned(), secret.to_owned()))
}

/// A 429 telling the caller to wait (whole seconds, rounded up).
fn too_many(wait: std::time::Duration) -> ApiError {
    ApiError::TooManyRequests(wait.as_secs() + u64::from(wait.subsec_nanos() > 0))
}

/// Get an access token (OAuth 2 client credentials)
///
/// The client's credentials in the form, or as HTTP Basic authentication
/// (not both). Rate limited per caller address and per client id.
#[utoipa::path(
    post,
    path = "/baas/auth/v1.0/oauth2/token",
    tag = "auth",
    request_body(content = super::openapi::TokenRequest, content_type = "application/x-www-form-urlencoded"),
    responses(
        (status = 200, description = "An access token", body = AccessTokenResponse),
        (status = 400, description = "Malformed form", body = super::openapi::ErrorBody),
        (status = 401, description = "Unknown client or wrong secret", body = super::openapi::ErrorBody),
        (status = 413, description = "Body over the limit", body = super::openapi::ErrorBody),
        (status = 429, description = "Rate limited; see Retry-After", body = super::openapi::ErrorBody),
    )
)]
pub async fn issue_access_token(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    // Limits first: a refused caller costs no body read and no argon2.
    if let Some(address) = super::caller::client_address(&req, state.trust_forwarded_for) {
        state.login_limiter.check_address(address).map_err(|wait| {
            state.metrics.oauth_throttled("address");
            too_many(wait)
        })?;
    }
    if !is_form_or_unlabelled(req.headers()) {
        return Err(ApiError::BadRequest(
            "the token request must be a form (Content-Type: application/x-www-form-urlencoded)"
                .into(),
        ));
    }
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let mut creds = parse_form(&body)?;
    if let Some((id, secret)) = basic_credentials(req.headers()) {
        // RFC 6749 §2.3: one client authentication method per request.
        if creds.client_id.is_some() || creds.client_secret.is_some() {
            return Err(ApiError::BadRequest(
                "send client credentials either in the form or as HTTP Basic, not both".into(),
            ));
        }
        creds.client_id = Some(id);
        creds.client_secret = Some(secret);
    }
    match creds.grant_type.as_deref() {
        Some("client_credentials") => {}
        Some(_) => {
            return Err(ApiError::BadRequest(
                "grant_type must be client_credentials".into(),
            ))
        }
        None => {
            return Err(ApiError::BadRequest(
                "form field 'grant_type' is required".into(),
            ))
        }
    }
    let (Some(client_id), Some(secret)) = (creds.client_id, creds.client_secret) else {
        return Err(ApiError::BadRequest(
            "form fields 'client_id' and 'client_secret' are required".into(),
        ));
    };
    let known = state.clients.get(&client_id).is_some();
    state
        .login_limiter
        .check_client(&client_id, known)
        .map_err(|wait| {
            state.metrics.oauth_throttled("client");
            too_many(wait)
        })?;
    // argon2 is slow on purpose: keep it off the async workers.
    let verifier = state.clone();
    let authenticated = web::block(move || {
        verifier
            .clients
            .authenticate(&client_id, &secret)
            .map(|c| c.id.clone())
    })
    .await
    .map_err(|_| ApiError::Internal)?;
    let client_id = authenticated.ok_or(ApiError::InvalidClient)?;

    let claims = AccessClaims::new(
        &client_id,
        state.clock.now(),
        state.access_token_ttl_seconds,
    );
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(AccessTokenResponse {
            access_token: claims.seal(&state.keys),
            expires_in: state.access_token_ttl_seconds,
            token_type: "Bearer",
        }))
}
