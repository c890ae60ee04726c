//! The admin API (DESIGN §6), for access tokens with role `admin`.

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};

use super::caller::Caller;
use super::{read_body, ApiError, AppState, Success};
use crate::audit::{AuditEvent, AuditKind};
use crate::auth::Role;
use crate::clock::{from_rfc3339, from_rfc3339_rounded_up, to_rfc3339};
use crate::storage::ConnectorId;
use crate::store::{BulkScope, Revocation, TokenFilter, TokenRecord, TokenState, Watermarks};

/// Largest page the token list and the audit log return.
const MAX_PAGE: usize = 1000;

/// The `limit` asked for: 1 to 1000, default 100.
fn page_size(limit: Option<usize>) -> Result<usize, ApiError> {
    match limit {
        None => Ok(100),
        Some(n) if (1..=MAX_PAGE).contains(&n) => Ok(n),
        Some(_) => Err(ApiError::BadRequest(format!(
            "'limit' must be from 1 to {MAX_PAGE}"
        ))),
    }
}

/// A token record as the admin API shows it.
#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct TokenView {
    token_id: String,
    client: String,
    connector: String,
    share_type: u8,
    scope: String,
    issued_at: String,
    expires_at: String,
    revoked_at: Option<String>,
    /// What revoked it: `id` (by its token id), or the bulk revocation
    /// (`connector <type/name>`, `client <id>` or `all`, issued before a time).
    revoked_by: Option<String>,
    state: TokenState,
}

fn view(record: TokenRecord, now: i64, marks: &Watermarks) -> TokenView {
    let state = record.state(now, marks);
    let revoked_by = if record.revoked_at.is_some() {
        Some("id".to_owned())
    } else {
        marks
            .covering(&record.connector, &record.client, record.issued_at)
            .map(|(field, before)| format!("{} before {}", bulk_label(&field), to_rfc3339(before)))
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
        revoked_by,
        state,
    }
}

/// A watermark's name as the bulk answer's `scope` says it.
fn bulk_label(field: &str) -> String {
    match field.split_once(':') {
        Some(("c", connector)) => format!("connector {connector}"),
        Some(("u", client)) => format!("client {client}"),
        _ => "all".to_owned(),
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenDetails {
    #[serde(flatten)]
    token: TokenView,
    /// The token's audit trail, oldest first.
    audit: Vec<serde_json::Value>,
}

/// One token's record and audit trail
#[utoipa::path(
    method(get, head),
    path = "/admin/v1/tokens/{jti}",
    tag = "admin",
    params(("jti" = String, Path, description = "The token id")),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The token", body = Success<TokenDetails>),
        (status = 404, description = "No token with this id", body = super::openapi::ErrorBody),
        super::openapi::AdminErrors,
    )
)]
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
    let (marks, mut trail) =
        tokio::try_join!(state.store.watermarks(), state.store.audit_for_token(&jti))?;
    crate::audit::into_event_order(&mut trail);
    Ok(HttpResponse::Ok().json(Success::new(TokenDetails {
        token: view(record, state.clock.now(), &marks),
        audit: trail.iter().map(AuditEvent::to_json).collect(),
    })))
}

/// Revoke one share token by id
#[utoipa::path(
    post,
    path = "/admin/v1/tokens/{jti}/revoke",
    tag = "admin",
    params(("jti" = String, Path, description = "The token id")),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The revoked token", body = Success<TokenView>),
        (status = 404, description = "No token with this id", body = super::openapi::ErrorBody),
        super::openapi::AdminErrors,
    )
)]
/// `POST /admin/v1/tokens/{jti}/revoke`
pub async fn revoke_token(
    req: HttpRequest,
    caller: Caller,
    jti: web::Path<String>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let now = state.clock.now();
    let record = match state.store.revoke(&jti, now).await? {
        Revocation::Revoked(record) => {
            state.metrics.revoked("token");
            log::info!("share token {} revoked by {}", record.jti, caller.client_id);
            state.audit.record(AuditEvent {
                token_id: Some(record.jti.clone()),
                client: Some(record.client.clone()),
                actor: Some(caller.client_id.clone()),
                connector: Some(record.connector.clone()),
                token_expires_at: Some(record.expires_at),
                ..AuditEvent::from_request(AuditKind::Revoke, now, &req)
            });
            record
        }
        Revocation::AlreadyRevoked(record) => record,
        Revocation::Unknown => return Err(ApiError::TokenNotFound),
    };
    let marks = state.store.watermarks().await?;
    Ok(HttpResponse::Ok().json(Success::new(view(record, now, &marks))))
}

/// The body of a bulk revocation: a connector, a client, or neither (every
/// token), optionally only those issued before a time (default: now).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub(crate) struct BulkRequest {
    connector: Option<String>,
    client: Option<String>,
    issued_before: Option<String>,
}

// Written by hand: which fields may go together is more than a derive says.
impl utoipa::PartialSchema for BulkRequest {
    /// One of: a connector, a client, or neither (then `issuedBefore` is
    /// required); `null` counts as absent.
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        use utoipa::openapi::schema::{
            AdditionalProperties, KnownFormat, ObjectBuilder, OneOfBuilder, SchemaFormat,
            SchemaType, Type,
        };
        let null = || ObjectBuilder::new().schema_type(Type::Null);
        let connector = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("Every token of this connector, as type/name"))
            .pattern(Some("^(obs|minio|objectstorageproxy)/.+$"));
        let client = ObjectBuilder::new()
            .schema_type(Type::String)
            .description(Some("Every token of this client"))
            .min_length(Some(1));
        let issued_before = |types: &[Type]| {
            ObjectBuilder::new()
                .schema_type(SchemaType::from_iter(types.iter().cloned()))
                .description(Some(
                    "Only tokens issued before this instant (RFC 3339, not in the future); default: now",
                ))
                .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
        };
        let object = || {
            ObjectBuilder::new()
                .schema_type(Type::Object)
                .additional_properties(Some(AdditionalProperties::FreeForm(false)))
        };
        let optional_time = [Type::String, Type::Null];
        OneOfBuilder::new()
            .item(
                object()
                    .property("connector", connector)
                    .required("connector")
                    .property("client", null())
                    .property("issuedBefore", issued_before(&optional_time)),
            )
            .item(
                object()
                    .property("client", client)
                    .required("client")
                    .property("connector", null())
                    .property("issuedBefore", issued_before(&optional_time)),
            )
            .item(
                object()
                    .property("issuedBefore", issued_before(&[Type::String]))
                    .required("issuedBefore")
                    .property("connector", null())
                    .property("client", null()),
            )
            .description(Some(
                "A connector, a client, or neither (every token); optionally only tokens issued before a time",
            ))
            .into()
    }
}

impl utoipa::ToSchema for BulkRequest {}

#[derive(Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub(crate) struct BulkAnswer {
    /// `connector <type/name>`, `client <id>` or `all`.
    scope: String,
    /// Tokens in the scope issued before this instant are revoked.
    revoked_before: String,
}

/// `POST /admin/v1/revocations` with `{"connector": "type/name"}`,
/// `{"client": "id"}` or `{"issuedBefore": "RFC 3339"}` (combinable with
/// either). Costs one watermark write, however many tokens it covers.
#[utoipa::path(
    post,
    path = "/admin/v1/revocations",
    tag = "admin",
    request_body(content = BulkRequest, content_type = "application/json"),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "The watermark now in force", body = Success<BulkAnswer>),
        (status = 400, description = "Malformed request", body = super::openapi::ErrorBody),
        (status = 413, description = "Body over the limit", body = super::openapi::ErrorBody),
        super::openapi::AdminErrors,
    )
)]
pub async fn revoke_in_bulk(
    req: HttpRequest,
    caller: Caller,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let body = read_body(&req, payload, state.max_body_bytes).await?;
    let shape = "the body must be {\"connector\"|\"client\"|\"issuedBefore\": …}";
    if !serde_json::from_slice::<serde_json::Value>(&body).is_ok_and(|v| v.is_object()) {
        return Err(ApiError::BadRequest(format!("{shape}, a JSON object")));
    }
    let request: BulkRequest =
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(format!("{shape}: {e}")))?;
    let now = state.clock.now();
    let (scope, label) = match (&request.connector, &request.client) {
        (Some(_), Some(_)) => {
            return Err(ApiError::BadRequest(
                "give 'connector' or 'client', not both".into(),
            ))
        }
        (Some(c), None) => {
            // Any well-formed connector id, configured or not: tokens of a
            // connector that is configured again later must stay revoked.
            let well_formed = c
                .split_once('/')
                .and_then(|(kind, name)| ConnectorId::parse(kind, name))
                .is_some_and(|id| !id.name.is_empty());
            if !well_formed {
                return Err(ApiError::BadRequest(
                    "'connector' must be '<type>/<name>' with type obs, minio or objectstorageproxy"
                        .into(),
                ));
            }
            (BulkScope::Connector(c.clone()), format!("connector {c}"))
        }
        (None, Some(u)) if u.is_empty() => {
            return Err(ApiError::BadRequest("'client' is empty".into()))
        }
        (None, Some(u)) => (BulkScope::Client(u.clone()), format!("client {u}")),
        (None, None) if request.issued_before.is_none() => {
            return Err(ApiError::BadRequest(
                "give 'connector', 'client' or 'issuedBefore'".into(),
            ))
        }
        (None, None) => (BulkScope::All, "all".to_owned()),
    };
    // Tokens carry whole seconds: "now" covers every token issued this second.
    let before = match &request.issued_before {
        None => now + 1,
        Some(text) => {
            let t = from_rfc3339_rounded_up(text)
                .ok_or_else(|| ApiError::BadRequest("'issuedBefore' must be RFC 3339".into()))?;
            if t > now + 1 {
                return Err(ApiError::BadRequest(
                    "'issuedBefore' cannot be in the future".into(),
                ));
            }
            t
        }
    };
    let in_force = state
        .store
        .revoke_issued_before(&scope, before, now)
        .await?;
    state.metrics.revoked("bulk");
    log::info!(
        "bulk revocation by {}: {} issued before {}",
        caller.client_id,
        crate::redact::scrub(&label),
        to_rfc3339(in_force)
    );
    state.audit.record(AuditEvent {
        actor: Some(caller.client_id.clone()),
        reason: Some(format!(
            "bulk: {} issued before {}",
            crate::redact::scrub(&label),
            to_rfc3339(in_force)
        )),
        ..AuditEvent::from_request(AuditKind::Revoke, now, &req)
    });
    Ok(HttpResponse::Ok().json(Success::new(BulkAnswer {
        scope: label,
        revoked_before: to_rfc3339(in_force),
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this connector (`type/name`).
    connector: Option<String>,
    /// Only this client.
    client: Option<String>,
    /// Only tokens in this state.
    state: Option<TokenState>,
    /// Page size (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
    /// The `next` of the previous page.
    after: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct TokenPage {
    tokens: Vec<TokenView>,
    /// Pass as `after` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// List issued tokens, filtered, by pages
#[utoipa::path(
    method(get, head),
    path = "/admin/v1/tokens",
    tag = "admin",
    params(ListQuery),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "A page of tokens", body = Success<TokenPage>),
        (status = 400, description = "Malformed query", body = super::openapi::ErrorBody),
        super::openapi::AdminErrors,
    )
)]
pub async fn list_tokens(
    caller: Caller,
    query: web::Query<ListQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let query = query.into_inner();
    let limit = page_size(query.limit)?;
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
    let marks = state.store.watermarks().await?;
    let next = (records.len() == limit)
        .then(|| records.last().map(|r| r.jti.clone()))
        .flatten();
    Ok(HttpResponse::Ok().json(Success::new(TokenPage {
        tokens: records.into_iter().map(|r| view(r, now, &marks)).collect(),
        next,
    })))
}

#[derive(Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// RFC 3339; default: everything kept.
    #[param(format = DateTime)]
    since: Option<String>,
    /// At most this many events (default 100).
    #[param(minimum = 1, maximum = 1000)]
    limit: Option<usize>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub(crate) struct AuditPage {
    events: Vec<serde_json::Value>,
}

/// The audit log, oldest first
#[utoipa::path(
    method(get, head),
    path = "/admin/v1/audit",
    tag = "admin",
    params(AuditQuery),
    security(("access_token" = []), ("bearer" = [])),
    responses(
        (status = 200, description = "Audit events", body = Success<AuditPage>),
        (status = 400, description = "Malformed query", body = super::openapi::ErrorBody),
        super::openapi::AdminErrors,
    )
)]
pub async fn audit_log(
    caller: Caller,
    query: web::Query<AuditQuery>,
    state: web::Data<AppState>,
) -> Result<HttpResponse, ApiError> {
    caller.require(&state, Role::Admin)?;
    let since = match &query.since {
        Some(text) => from_rfc3339(text)
            .ok_or_else(|| ApiError::BadRequest("'since' must be RFC 3339".into()))?,
        None => 0,
    };
    let limit = page_size(query.limit)?;
    let events = state.store.audit_since(since, limit).await?;
    Ok(HttpResponse::Ok().json(Success::new(AuditPage {
        events: events.iter().map(AuditEvent::to_json).collect(),
    })))
}
