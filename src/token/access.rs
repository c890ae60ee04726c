//! Access tokens: proof that an OAuth client authenticated (DESIGN §2).
//!
//! They carry only the client id; roles and allowed connectors are read from
//! the configuration at each use, so removing a client ends its tokens.

use serde::{Deserialize, Serialize};

use super::keys::{KeyRing, Purpose};
use super::{new_token_id, TokenError};
use crate::clock::{from_rfc3339, to_rfc3339, UnixSeconds};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessClaims {
    pub jti: String,
    pub client_id: String,
    pub issued_at: UnixSeconds,
    pub expires_at: UnixSeconds,
}

#[derive(Serialize, Deserialize)]
struct Wire {
    jti: String,
    sub: String,
    iat: String,
    exp: String,
}

impl AccessClaims {
    pub fn new(client_id: &str, now: UnixSeconds, ttl_seconds: i64) -> Self {
        Self {
            jti: new_token_id(),
            client_id: client_id.to_owned(),
            issued_at: now,
            expires_at: now + ttl_seconds,
        }
    }

    pub fn seal(&self, ring: &KeyRing) -> String {
        let wire = Wire {
            jti: self.jti.clone(),
            sub: self.client_id.clone(),
            iat: to_rfc3339(self.issued_at),
            exp: to_rfc3339(self.expires_at),
        };
        let payload = serde_json::to_vec(&wire).expect("claims always serialise");
        ring.seal(Purpose::Access, &payload)
    }

    pub fn open(ring: &KeyRing, token: &str, now: UnixSeconds) -> Result<Self, TokenError> {
        let payload = ring.open(Purpose::Access, token)?;
        let wire: Wire = serde_json::from_slice(&payload).map_err(|_| TokenError::Invalid)?;
        let time = |text: &str| from_rfc3339(text).ok_or(TokenError::Invalid);
        let claims = Self {
            issued_at: time(&wire.iat)?,
            expires_at: time(&wire.exp)?,
            jti: wire.jti,
            client_id: wire.sub,
        };
        if now >= claims.expires_at {
            return Err(TokenError::Expired);
        }
        Ok(claims)
    }
}
