//! Share tokens: who may read which objects of which connector, until when.

use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, Purpose};
use super::{new_token_id, TokenError};
use crate::clock::{from_rfc3339, to_rfc3339, UnixSeconds};
use crate::share::Scope;
use crate::storage::ConnectorId;

/// The claims of a share token, with times as Unix seconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShareClaims {
    /// Random token id, the unit of revocation and audit.
    pub jti: String,
    pub issued_at: UnixSeconds,
    pub not_before: UnixSeconds,
    /// `issued_at + timeoutInMinutes·60`; valid while `now < expires_at`.
    pub expires_at: UnixSeconds,
    /// The client that minted it.
    pub subject: String,
    pub connector: ConnectorId,
    pub scope: Scope,
}

/// The token payload as it travels: PASETO registered claims as RFC 3339.
#[derive(Serialize, Deserialize)]
struct Wire {
    jti: String,
    iat: String,
    nbf: String,
    exp: String,
    sub: String,
    /// Connector type and name.
    con: (String, String),
    scp: Scope,
}

impl ShareClaims {
    /// Claims for a new token minted at `now`, living `timeout_minutes`.
    pub fn new(
        subject: &str,
        connector: ConnectorId,
        scope: Scope,
        now: UnixSeconds,
        timeout_minutes: u64,
    ) -> Self {
        Self {
            jti: new_token_id(),
            issued_at: now,
            not_before: now,
            expires_at: now + (timeout_minutes as i64) * 60,
            subject: subject.to_owned(),
            connector,
            scope,
        }
    }

    pub fn seal(&self, ring: &KeyRing) -> String {
        let wire = Wire {
            jti: self.jti.clone(),
            iat: to_rfc3339(self.issued_at),
            nbf: to_rfc3339(self.not_before),
            exp: to_rfc3339(self.expires_at),
            sub: self.subject.clone(),
            con: (
                self.connector.kind.as_str().to_owned(),
                self.connector.name.clone(),
            ),
            scp: self.scope.clone(),
        };
        let payload = serde_json::to_vec(&wire).expect("claims always serialise");
        ring.seal(Purpose::Share, &payload)
    }

    /// Opens a share token and checks its times against `now`.
    pub fn open(
        ring: &KeyRing,
        token: &str,
        now: UnixSeconds,
        nbf_skew: i64,
    ) -> Result<Self, TokenError> {
        let payload = ring.open(Purpose::Share, token)?;
        let wire: Wire = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        let time = |text: &str| from_rfc3339(text).ok_or(TokenError::Invalid);
        let claims = Self {
            issued_at: time(&wire.iat)?,
            not_before: time(&wire.nbf)?,
            expires_at: time(&wire.exp)?,
            connector: ConnectorId::parse(&wire.con.0, &wire.con.1).ok_or(TokenError::Invalid)?,
            jti: wire.jti,
            subject: wire.sub,
            scope: wire.scp,
        };
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        if now < claims.not_before - nbf_skew {
            return Err(TokenError::NotYetValid);
        }
        Ok(claims)
    }
}
