//! The store of issued tokens and revocations (DESIGN §5): one contract,
//! several implementations.

mod embedded;

pub use embedded::EmbeddedStore;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::clock::UnixSeconds;
use crate::token::ShareClaims;

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenState {
    Active,
    Revoked,
    Expired,
}

impl TokenRecord {
    pub fn state(&self, now: UnixSeconds) -> TokenState {
        if self.revoked_at.is_some() {
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
    pub fn matches(&self, record: &TokenRecord, now: UnixSeconds) -> bool {
        self.connector
            .as_ref()
            .is_none_or(|c| *c == record.connector)
            && self.client.as_ref().is_none_or(|c| *c == record.client)
            && self.state.is_none_or(|s| s == record.state(now))
    }
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
#[derive(Debug, thiserror::Error)]
#[error("the token store is unavailable: {0}")]
pub struct StoreError(pub String);

#[async_trait]
pub trait TokenStore: Send + Sync + 'static {
    /// Records a newly minted token; the token is handed out only after this
    /// returns `Ok`.
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError>;

    /// Whether this token has been revoked.
    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError>;

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

    /// Forgets tokens whose expiry has passed; returns how many.
    async fn prune_expired(&self, now: UnixSeconds) -> Result<u64, StoreError>;
}
