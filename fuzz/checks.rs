//! The properties each fuzz target checks, shared with the regression test
//! (`tests/fuzz_regressions.rs`) that replays every kept input through them.
//! Each takes raw bytes, as libFuzzer hands them.

use std::sync::LazyLock;

use sharetoken::http::query::ViewQuery;
use sharetoken::http::range::{answer, RangeAnswer};
use sharetoken::share::{MintRequest, ObjectKey, Scope, ShareType};
use sharetoken::token::{AccessClaims, KeyRing, ShareClaims};

static RING: LazyLock<KeyRing> =
    LazyLock::new(|| KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap());

/// Any text as a share token or an access token. The key is fresh, so no
/// input can be a valid token: each must be refused, never a panic.
pub fn token_open(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    assert!(ShareClaims::open(&RING, text, 1_800_000_000, 0).is_err());
    assert!(AccessClaims::open(&RING, text, 1_800_000_000).is_err());
}

/// `<scope entry>\n<asked key>`: the key rules hold for what is accepted,
/// a directory scope never matches outside its prefix, a file scope only
/// itself.
pub fn key_and_scope(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (entry, asked) = text.split_once('\n').unwrap_or((text, text));
    let Ok(key) = ObjectKey::parse(asked) else {
        return;
    };
    assert_eq!(key.as_str(), asked);
    assert!(!asked.is_empty() && asked.len() <= 1024);
    assert!(!asked.starts_with('/'));
    assert!(asked
        .split('/')
        .all(|s| !s.is_empty() && s != "." && s != ".."));
    assert!(!asked.chars().any(char::is_control));
    if let Ok(dir) = Scope::new(ShareType::Directory, [entry]) {
        if dir.allows(&key) {
            assert!(entry == "/" || (asked.starts_with(entry) && asked.len() > entry.len()));
        }
    }
    if let Ok(files) = Scope::new(ShareType::Files, [entry]) {
        assert_eq!(files.allows(&key), entry == asked);
    }
}

/// Eight bytes of object size (little-endian), then a `Range` header: a
/// partial answer always lies inside the object.
pub fn range(data: &[u8]) {
    if data.len() < 8 {
        return;
    }
    let size = u64::from_le_bytes(data[..8].try_into().unwrap());
    let Ok(header) = std::str::from_utf8(&data[8..]) else {
        return;
    };
    if let RangeAnswer::Partial(range) = answer(Some(header), size) {
        assert!(range.start < range.end && range.end <= size);
    }
}

/// Any bytes as a mint body: an accepted body has a timeout in range and a
/// non-empty scope.
pub fn mint_body(data: &[u8]) {
    if let Ok(request) = MintRequest::from_json(data) {
        assert!((1..=1440).contains(&request.timeout_minutes));
        assert!(!request.scope.entries().is_empty());
    }
}

/// Any text as the view query: parsed or refused. Values are decoded once
/// and never lossily (invalid UTF-8 is refused, not replaced).
pub fn view_query(data: &[u8]) {
    let Ok(query) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(parsed) = ViewQuery::parse(query) {
        let replacement_sent =
            query.contains('\u{fffd}') || query.to_ascii_uppercase().contains("%EF%BF%BD");
        assert!(replacement_sent || !parsed.object.contains('\u{fffd}'));
        assert!(replacement_sent || !parsed.share_token.contains('\u{fffd}'));
    }
}
