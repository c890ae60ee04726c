//! The store of issued tokens and revocations (DESIGN §5): one contract,
//! several implementations.

mod embedded;
mod metered;
mod redis;
mod revocation_view;

pub use self::redis::{RedisSettings, RedisStore};
pub use embedded::EmbeddedStore;
pub use metered::MeteredStore;

use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::audit::AuditEvent;
use crate::clock::UnixSeconds;
use crate::token::ShareClaims;

/// How much history a store keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Bound on the audit log: older events are dropped past it.
    pub audit_max_events: u64,
    /// How long a token's record and audit trail outlive its expiry, so
    /// that operators can still list it (state `expired`) and read its
    /// trail. Its revocation entry itself ends with the token.
    pub keep_expired_seconds: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self {
            audit_max_events: 100_000,
            keep_expired_seconds: 24 * 3600,
        }
    }
}

/// Longest a share token lives (1440 minutes), and so the longest a bulk
/// revocation watermark needs keeping.
pub const MAX_TOKEN_LIFE: i64 = 1440 * 60;

/// What the store keeps of each minted share token. Never the token text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenRecord {
    pub jti: String,
    /// The client that minted it.
    pub client: String,
    /// `type/name`.
    pub connector: String,
    pub share_type: u8,
    /// A short description of the scope, e.g. `files: a.txt, b.txt`.
    pub scope: String,
    pub issued_at: UnixSeconds,
    pub expires_at: UnixSeconds,
    /// When it was revoked, if it was.
    pub revoked_at: Option<UnixSeconds>,
}

impl TokenRecord {
    pub fn from_claims(claims: &ShareClaims) -> Self {
        Self {
            jti: claims.jti.clone(),
            client: claims.subject.clone(),
            connector: claims.connector.to_string(),
            share_type: claims.scope.share_type().code(),
            scope: claims.scope.summary(),
            issued_at: claims.issued_at,
            expires_at: claims.expires_at,
            revoked_at: None,
        }
    }
}

/// Where a token stands at some moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Active,
    Revoked,
    Expired,
}

impl TokenRecord {
    /// The token's state, counting bulk revocations.
    pub fn state(&self, now: UnixSeconds, watermarks: &Watermarks) -> TokenState {
        if self.revoked_at.is_some()
            || watermarks.covers(&self.connector, &self.client, self.issued_at)
        {
            TokenState::Revoked
        } else if now >= self.expires_at {
            TokenState::Expired
        } else {
            TokenState::Active
        }
    }
}

/// Which tokens to list; `None` fields match everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFilter {
    /// `type/name`.
    pub connector: Option<String>,
    pub client: Option<String>,
    pub state: Option<TokenState>,
}

impl TokenFilter {
    pub fn matches(&self, record: &TokenRecord, now: UnixSeconds, wm: &Watermarks) -> bool {
        self.connector
            .as_ref()
            .is_none_or(|c| *c == record.connector)
            && self.client.as_ref().is_none_or(|c| *c == record.client)
            && self.state.is_none_or(|s| s == record.state(now, wm))
    }
}

/// What a bulk revocation covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BulkScope {
    /// Every token of one connector (`type/name`).
    Connector(String),
    /// Every token of one client.
    Client(String),
    /// Every token.
    All,
}

impl BulkScope {
    /// The watermark's name in the store.
    pub fn field(&self) -> String {
        match self {
            BulkScope::Connector(c) => format!("c:{c}"),
            BulkScope::Client(u) => format!("u:{u}"),
            BulkScope::All => "all".into(),
        }
    }
}

/// Bulk revocations: a token is revoked when it was issued before the
/// watermark of its connector, of its client, or of everything. Checking
/// them costs the same however many tokens they cover.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Watermarks(pub BTreeMap<String, UnixSeconds>);

impl Watermarks {
    /// The names of the watermarks that can cover a token.
    pub fn fields_for(connector: &str, client: &str) -> [String; 3] {
        [
            BulkScope::All.field(),
            BulkScope::Connector(connector.to_owned()).field(),
            BulkScope::Client(client.to_owned()).field(),
        ]
    }

    /// The first watermark that revokes a token of `connector` and `client`
    /// issued at `issued_at`: its name and its revoked-before time.
    pub fn covering(
        &self,
        connector: &str,
        client: &str,
        issued_at: UnixSeconds,
    ) -> Option<(String, UnixSeconds)> {
        Self::fields_for(connector, client)
            .into_iter()
            .find_map(|field| match self.0.get(&field) {
                Some(&before) if issued_at < before => Some((field, before)),
                _ => None,
            })
    }

    /// Whether a token of `connector` and `client` issued at `issued_at` is
    /// revoked by a watermark.
    pub fn covers(&self, connector: &str, client: &str, issued_at: UnixSeconds) -> bool {
        let values: Vec<Option<UnixSeconds>> = Self::fields_for(connector, client)
            .iter()
            .map(|f| self.0.get(f).copied())
            .collect();
        watermark_values_cover(&values, issued_at)
    }
}

/// Whether watermark values read for a token's three fields cover it.
pub fn watermark_values_cover(values: &[Option<UnixSeconds>], issued_at: UnixSeconds) -> bool {
    values.iter().flatten().any(|&before| issued_at < before)
}

/// The result of revoking one token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revocation {
    /// Revoked now.
    Revoked(TokenRecord),
    /// It had been revoked before; nothing changed.
    AlreadyRevoked(TokenRecord),
    /// No such token: never issued here, or expired and pruned.
    Unknown,
}

/// The store could not answer. Requests that need it fail closed (503).
#[derive(Debug, Clone, thiserror::Error)]
#[error("the token store is unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Records a newly minted token; the token is handed out only after this
    /// returns `Ok`.
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// Whether this token has been revoked, by id or in bulk.
    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError>;

    /// Revokes every token in `scope` issued before `before`; a watermark
    /// only ever moves forward. Returns the watermark now in force.
    async fn revoke_issued_before(
        &self,
        scope: &BulkScope,
        before: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<UnixSeconds, StoreError>;

    /// Every bulk-revocation watermark still in force.
    async fn watermarks(&self) -> Result<Watermarks, StoreError>;

    /// Revokes a token by id, until its expiry; durable once this returns.
    async fn revoke(&self, jti: &str, now: UnixSeconds) -> Result<Revocation, StoreError>;

    /// One token's record.
    async fn token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError>;

    /// Up to `limit` records matching `filter`, ordered by token id, starting
    /// after the id `after` (the previous page's last).
    async fn list_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixSeconds,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, StoreError>;

    /// Forgets tokens expired longer ago than the retention, and watermarks
    /// older than any token can live; returns how many tokens.
    async fn prune_expired(&self, now: UnixSeconds) -> Result<u64, StoreError>;

    /// Appends audit events (called by the audit writer, in batches).
    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError>;

    /// Up to `limit` audit events at or after `since`, oldest first.
    async fn audit_since(
        &self,
        since: UnixSeconds,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError>;

    /// One token's audit trail, oldest first.
    async fn audit_for_token(&self, jti: &str) -> Result<Vec<AuditEvent>, StoreError>;

    /// Answers when the store is reachable.
    async fn ping(&self) -> Result<(), StoreError>;
}
