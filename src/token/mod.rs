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

/// A fresh token id, 44 hex digits: the time in milliseconds (48 bits),
/// then 128 random bits (DESIGN §3). Leading with the time keeps every new
/// id at the end of the stores' ordered indexes (Redis sorted sets, redb
/// tables), where inserting is cheap because the path there is always in
/// the cache, and lists tokens in the order they were made. The random
/// part alone makes ids unique and unguessable.
pub fn new_token_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let mut bytes = [0u8; 22];
    bytes[..6].copy_from_slice(&millis.to_be_bytes()[2..]);
    getrandom::fill(&mut bytes[6..]).expect("the operating system's random source failed");
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::new_token_id;

    #[test]
    fn token_ids_are_unique_hex_and_ordered_by_time() {
        let first = new_token_id();
        std::thread::sleep(std::time::Duration::from_millis(2));
        let ids: Vec<String> = (0..1000).map(|_| new_token_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 44);
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
            assert!(*id > first, "{id} was made after {first}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
        // Ids made in the same millisecond differ in their random part.
        assert!(ids.windows(2).any(|w| w[0][..12] == w[1][..12]));
    }
}
