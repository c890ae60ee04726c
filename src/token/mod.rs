//! PASETO v4.local tokens: the key ring, and the two token kinds
//! (share tokens and access tokens) that can never stand in for each other.

pub mod access;
pub mod keys;
pub mod share;

pub use access::AccessClaims;
pub use keys::{KeyRing, KeyRingError};
pub use share::ShareClaims;

/// Why a token was refused. Messages never include the token text.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Not a well-formed token of the expected kind, or not made with any of
    /// our keys, or made for another purpose.
    #[error("the token is not valid")]
    Invalid,
    /// Valid, but `now >= exp`.
    #[error("the token has expired")]
    Expired,
    /// Valid, but `now < nbf - skew`.
    #[error("the token is not valid yet")]
    NotYetValid,
}

/// A fresh random token id: 128 bits, hex.
pub fn new_token_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex::encode(bytes)
}
