//! The OpenAPI 3 document, generated from the handlers' annotations and
//! their types, served at `GET /openapi.json`.

use actix_web::HttpResponse;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error: a stable code and a human message.
#[derive(ToSchema)]
#[schema(as = Error)]
#[allow(dead_code)] // documents the wire shape of api::error
pub struct ErrorBody {
    /// A stable `ST.*` code (see the README's table).
    #[schema(rename = "resCode", example = "ST.ShareTokenInvalid")]
    res_code: String,
    #[schema(rename = "resMsg", example = "the share token is not valid")]
    res_msg: String,
}

/// The error answers every admin endpoint can give, besides its own.
#[derive(utoipa::IntoResponses)]
#[allow(dead_code)] // documents answers of api::error
pub enum AdminErrors {
    /// No valid access token
    #[response(status = 401)]
    Unauthorized(ErrorBody),
    /// The client lacks the admin role
    #[response(status = 403)]
    Forbidden(ErrorBody),
    /// The token store is unavailable
    #[response(status = 503)]
    StoreUnavailable(ErrorBody),
}

/// OAuth 2 client credentials (RFC 6749 §4.4). The id and secret may
/// instead come as HTTP Basic authentication, with only `grant_type` in
/// the form.
#[derive(ToSchema)]
#[allow(dead_code)] // documents the form api::oauth reads
pub struct TokenRequest {
    #[schema(pattern = "^client_credentials$", example = "client_credentials")]
    grant_type: String,
    client_id: String,
    client_secret: String,
}

/// The mint body (Astro Zero): `key` and/or `keys` name what is shared.
#[derive(ToSchema)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code)] // documents the body share::MintRequest parses
pub struct MintBody {
    /// 0: one file, 1: directories (keys ending in `/`), 2: a list of files.
    #[schema(minimum = 0, maximum = 2)]
    share_type: u8,
    /// One key.
    key: Option<String>,
    /// Several keys: an array, or a string holding one key or a JSON array.
    #[schema(value_type = Option<Vec<String>>)]
    keys: Option<serde_json::Value>,
    /// The token's life, in whole minutes.
    #[schema(minimum = 1, maximum = 1440)]
    timeout_in_minutes: u64,
}

struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "access_token",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("access-token"))),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sharetoken",
        description = "Temporary share links for files in object storage: Huawei Cloud Astro Zero's Sharing Token API, with revocation and audit."
    ),
    paths(
        super::oauth::issue_access_token,
        super::mint::mint_share_token,
        super::view::view_shared_object,
        super::cors::preflight,
        super::admin::list_tokens,
        super::admin::token_details,
        super::admin::revoke_token,
        super::admin::revoke_in_bulk,
        super::admin::audit_log,
        super::health,
        super::readiness,
        super::metrics,
        document,
    ),
    modifiers(&SecuritySchemes),
    tags(
        (name = "share", description = "Astro Zero's Sharing Token API"),
        (name = "auth", description = "OAuth 2 access tokens"),
        (name = "admin", description = "Revocation and audit (role admin)"),
        (name = "operations", description = "Health, readiness, metrics"),
    )
)]
pub struct ApiDoc;

/// This document
#[utoipa::path(
    method(get, head),
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3 document", content_type = "application/json", body = Object))
)]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}
