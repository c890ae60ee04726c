//! The key ring: the first key mints, every key verifies (rotation).

use std::fmt;

use pasetors::keys::{Generate, SymmetricKey};
use pasetors::paserk::{FormatAsPaserk, Id};
use pasetors::token::UntrustedToken;
use pasetors::version4::{LocalToken, V4};
use pasetors::Local;

use super::TokenError;

/// Tokens longer than this are refused before any parsing.
pub const MAX_TOKEN_LEN: usize = 8 * 1024;

/// What a token is for. Each purpose is bound into the token as its PASETO
/// implicit assertion, so a token of one purpose never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    Share,
    Access,
}

impl Purpose {
    fn implicit_assertion(self) -> &'static [u8] {
        match self {
            Purpose::Share => b"sharetoken:share-token:v1",
            Purpose::Access => b"sharetoken:access-token:v1",
        }
    }
}

struct RingKey {
    kid: String,
    key: SymmetricKey<V4>,
}

/// Symmetric PASETO v4 keys, the minting key first.
pub struct KeyRing {
    keys: Vec<RingKey>,
}

/// Why a key ring could not be built.
#[derive(Debug, thiserror::Error)]
pub enum KeyRingError {
    #[error("no token key is configured")]
    Empty,
    /// The n-th configured key (from 1) is not a PASERK `k4.local` string.
    /// The key itself is never echoed.
    #[error("token key #{0} is not a PASERK k4.local key")]
    NotPaserk(usize),
}

impl fmt::Debug for KeyRing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kids: Vec<&str> = self.keys.iter().map(|k| k.kid.as_str()).collect();
        f.debug_struct("KeyRing").field("kids", &kids).finish()
    }
}

impl KeyRing {
    /// Builds a ring from PASERK `k4.local.…` strings, the minting key first.
    pub fn from_paserk<S: AsRef<str>>(keys: &[S]) -> Result<Self, KeyRingError> {
        if keys.is_empty() {
            return Err(KeyRingError::Empty);
        }
        let keys = keys
            .iter()
            .enumerate()
            .map(|(i, text)| {
                let key = SymmetricKey::<V4>::try_from(text.as_ref().trim())
                    .map_err(|_| KeyRingError::NotPaserk(i + 1))?;
                Ok(RingKey {
                    kid: key_id(&key),
                    key,
                })
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { keys })
    }

    /// A new random key as a PASERK `k4.local` string (`sharetoken keygen`).
    pub fn generate_paserk() -> String {
        let key =
            SymmetricKey::<V4>::generate().expect("the operating system's random source failed");
        paserk(&key)
    }

    /// The PASERK id (`k4.lid.…`) of the minting key.
    pub fn minting_kid(&self) -> &str {
        &self.keys[0].kid
    }

    /// Encrypts `payload` under the minting key, with its `kid` in the footer.
    pub(crate) fn seal(&self, purpose: Purpose, payload: &[u8]) -> String {
        let minting = &self.keys[0];
        let footer = format!(r#"{{"kid":"{}"}}"#, minting.kid);
        LocalToken::encrypt(
            &minting.key,
            payload,
            Some(footer.as_bytes()),
            Some(purpose.implicit_assertion()),
        )
        .expect("sealing a non-empty payload cannot fail")
    }

    /// Decrypts a token of the given purpose with the key its footer names.
    pub(crate) fn open(&self, purpose: Purpose, token: &str) -> Result<Vec<u8>, TokenError> {
        if token.len() > MAX_TOKEN_LEN || !token.starts_with(LocalToken::HEADER) {
            return Err(TokenError::Invalid);
        }
        let untrusted =
            UntrustedToken::<Local, V4>::try_from(token).map_err(|_| TokenError::Invalid)?;
        let kid = footer_kid(untrusted.untrusted_footer()).ok_or(TokenError::Invalid)?;
        let ring_key = self
            .keys
            .iter()
            .find(|k| k.kid == kid)
            .ok_or(TokenError::Invalid)?;
        let trusted = LocalToken::decrypt(
            &ring_key.key,
            &untrusted,
            None,
            Some(purpose.implicit_assertion()),
        )
        .map_err(|_| TokenError::Invalid)?;
        Ok(trusted.payload().as_bytes().to_vec())
    }
}

/// The footer's `kid`. The footer is untrusted until the token is opened,
/// so it is bounded and must be exactly `{"kid": "<string>"}`.
// NOTE: pasetors' `Footer::parse_bytes` compiles a regex on every call,
// which cost more than the whole decryption; this is a plain JSON parse.
fn footer_kid(footer: &[u8]) -> Option<String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct KidFooter {
        kid: String,
    }
    if footer.len() > MAX_FOOTER_LEN {
        return None;
    }
    serde_json::from_slice::<KidFooter>(footer)
        .ok()
        .map(|f| f.kid)
}

/// Longest footer accepted: `{"kid":"k4.lid.…"}` is about 60 bytes.
const MAX_FOOTER_LEN: usize = 256;

fn paserk(key: &SymmetricKey<V4>) -> String {
    let mut out = String::new();
    key.fmt(&mut out).expect("writing to a String cannot fail");
    out
}

fn key_id(key: &SymmetricKey<V4>) -> String {
    let mut out = String::new();
    Id::from(key)
        .fmt(&mut out)
        .expect("writing to a String cannot fail");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_are_paserk_and_round_trip() {
        let text = KeyRing::generate_paserk();
        assert!(text.starts_with("k4.local."), "{text}");
        let ring = KeyRing::from_paserk(&[text]).unwrap();
        assert!(ring.minting_kid().starts_with("k4.lid."));
        let token = ring.seal(Purpose::Share, b"{\"a\":1}");
        assert!(token.starts_with("v4.local."));
        assert_eq!(ring.open(Purpose::Share, &token).unwrap(), b"{\"a\":1}");
    }

    #[test]
    fn a_token_of_one_purpose_never_opens_as_the_other() {
        let ring = KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap();
        let share = ring.seal(Purpose::Share, b"{}");
        let access = ring.seal(Purpose::Access, b"{}");
        assert_eq!(ring.open(Purpose::Access, &share), Err(TokenError::Invalid));
        assert_eq!(ring.open(Purpose::Share, &access), Err(TokenError::Invalid));
    }

    #[test]
    fn rotation_keeps_old_tokens_open_and_mints_with_the_new_key() {
        let old = KeyRing::generate_paserk();
        let new = KeyRing::generate_paserk();
        let before = KeyRing::from_paserk(std::slice::from_ref(&old)).unwrap();
        let old_token = before.seal(Purpose::Share, b"{}");

        let after = KeyRing::from_paserk(&[new, old]).unwrap();
        assert_eq!(after.open(Purpose::Share, &old_token).unwrap(), b"{}");
        let new_token = after.seal(Purpose::Share, b"{}");
        assert!(new_token.ends_with(&base64_footer(after.minting_kid())));
        assert_eq!(
            before.open(Purpose::Share, &new_token),
            Err(TokenError::Invalid)
        );
    }

    fn base64_footer(kid: &str) -> String {
        // The footer is the last dot-separated part, base64url without padding.
        use ct_codecs::{Base64UrlSafeNoPadding, Encoder};
        Base64UrlSafeNoPadding::encode_to_string(format!(r#"{{"kid":"{kid}"}}"#)).unwrap()
    }

    #[test]
    fn bad_keys_are_reported_by_position_without_echoing_them() {
        let err = KeyRing::from_paserk(&["k4.local.secretbutbroken"]).unwrap_err();
        assert_eq!(err.to_string(), "token key #1 is not a PASERK k4.local key");
        assert!(matches!(
            KeyRing::from_paserk::<&str>(&[]),
            Err(KeyRingError::Empty)
        ));
    }

    #[test]
    fn foreign_and_malformed_tokens_are_invalid() {
        let ring = KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap();
        let other = KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap();
        let foreign = other.seal(Purpose::Share, b"{}");
        for token in [
            foreign.as_str(),
            "",
            "v4.local.",
            "v4.public.abc",
            "v2.local.abc",
            "eyJhbGciOiJIUzI1NiJ9.e30.abc",
            &"v4.local.".repeat(2000),
        ] {
            assert_eq!(
                ring.open(Purpose::Share, token),
                Err(TokenError::Invalid),
                "{token}"
            );
        }
    }
}
