//! Property tests (proptest) for the pure parts: key validation, scope
//! matching, range answers, mint body parsing and the token round trip.
//! Each property states the rule as a small reference model, and proptest
//! looks for an input where the code and the model disagree.

use proptest::prelude::*;
use sharetoken::http::range::{answer, RangeAnswer};
use sharetoken::share::{KeyError, MintRequest, MintRequestError, ObjectKey, Scope, ShareType};
use sharetoken::storage::{ConnectorId, ConnectorType};
use sharetoken::token::{KeyRing, ShareClaims};

/// Characters that make keys interesting: separators, dots, URL
/// metacharacters, controls, non-ASCII.
fn key_text() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            4 => proptest::char::range('a', 'e'),
            2 => Just('/'),
            2 => Just('.'),
            1 => proptest::sample::select(vec![
                ' ', '+', '%', '?', '#', '~', '"', '\\', '文', 'é', '\u{1F600}',
                '\0', '\n', '\r', '\t', '\u{7f}', '\u{85}',
            ]),
        ],
        0..24,
    )
    .prop_map(|chars| chars.into_iter().collect())
}

/// A valid key: segments of plain characters joined by `/`.
fn valid_key() -> impl Strategy<Value = String> {
    proptest::collection::vec("[a-c文 +%?#~]{1,4}", 1..4).prop_map(|segments| {
        segments
            .into_iter()
            .map(|s| if s == "." || s == ".." { "x".into() } else { s })
            .collect::<Vec<_>>()
            .join("/")
    })
}

/// The key rules of DESIGN §4, written out plainly: every rule the key
/// breaks (the code reports one of them).
fn broken_key_rules(raw: &str) -> Vec<KeyError> {
    let mut broken = Vec::new();
    if raw.is_empty() {
        return vec![KeyError::Empty];
    }
    if raw.len() > 1024 {
        broken.push(KeyError::TooLong);
    }
    if raw.chars().any(|c| c.is_control()) {
        broken.push(KeyError::ControlCharacter);
    }
    if raw.starts_with('/') {
        broken.push(KeyError::LeadingSlash);
    }
    if raw.split('/').any(|s| s.is_empty()) {
        broken.push(KeyError::EmptySegment);
    }
    if raw.split('/').any(|s| s == "." || s == "..") {
        broken.push(KeyError::DotSegment);
    }
    broken
}

fn ring() -> KeyRing {
    KeyRing::from_paserk(&[KeyRing::generate_paserk()]).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn keys_are_accepted_exactly_when_the_rules_allow_and_kept_byte_for_byte(raw in key_text()) {
        let broken = broken_key_rules(&raw);
        match ObjectKey::parse(&raw) {
            Ok(key) => {
                prop_assert!(broken.is_empty(), "{raw:?} breaks {broken:?}");
                prop_assert_eq!(key.as_str(), raw.as_str());
            }
            Err(found) => prop_assert!(broken.contains(&found), "{raw:?}: {found:?}, rules say {broken:?}"),
        }
    }

    #[test]
    fn long_keys_are_measured_in_bytes(ascii in 0usize..1100, wide in 0usize..400) {
        let raw = format!("{}{}", "a".repeat(ascii), "文".repeat(wide));
        let bytes = ascii + 3 * wide;
        let parsed = ObjectKey::parse(&raw);
        if bytes == 0 {
            prop_assert_eq!(parsed, Err(KeyError::Empty));
        } else if bytes > 1024 {
            prop_assert_eq!(parsed, Err(KeyError::TooLong));
        } else {
            prop_assert!(parsed.is_ok());
        }
    }

    #[test]
    fn a_directory_scope_never_matches_outside_its_prefix(
        dir in valid_key(),
        key in valid_key(),
        suffix in valid_key(),
    ) {
        let prefix = format!("{dir}/");
        let scope = Scope::new(ShareType::Directory, [prefix.clone()]).unwrap();
        let key = ObjectKey::parse(&key).unwrap();
        let inside = key.as_str().starts_with(&prefix);
        prop_assert_eq!(scope.allows(&key), inside, "{} in {}", key, prefix);
        // Everything below the prefix is inside.
        let below = ObjectKey::parse(&format!("{prefix}{suffix}")).unwrap();
        prop_assert!(scope.allows(&below));
        // The directory's own name, and its siblings sharing the text, are not.
        prop_assert!(!scope.allows(&ObjectKey::parse(&dir).unwrap()));
        let sibling = ObjectKey::parse(&format!("{dir}x/{suffix}")).unwrap();
        prop_assert!(!scope.allows(&sibling));
    }

    #[test]
    fn a_file_scope_matches_only_its_own_keys(
        shared in proptest::collection::vec(valid_key(), 1..5),
        asked in valid_key(),
        files in any::<bool>(),
    ) {
        let kind = if files { ShareType::Files } else { ShareType::File };
        let scope = Scope::new(kind, shared.clone()).unwrap();
        let asked_key = ObjectKey::parse(&asked).unwrap();
        prop_assert_eq!(scope.allows(&asked_key), shared.contains(&asked));
        for key in &shared {
            prop_assert!(scope.allows(&ObjectKey::parse(key).unwrap()));
            // A key that extends a shared one (S2) is another file.
            let longer = ObjectKey::parse(&format!("{key}c")).unwrap();
            prop_assert_eq!(scope.allows(&longer), shared.contains(&format!("{key}c")));
        }
    }

    #[test]
    fn a_range_answer_never_leaves_the_object(header in ".{0,40}", size in 0u64..5000) {
        match answer(Some(&header), size) {
            RangeAnswer::Partial(range) => {
                prop_assert!(range.start < range.end, "{header:?}: {range:?}");
                prop_assert!(range.end <= size, "{header:?}: {range:?} of {size}");
            }
            RangeAnswer::Whole | RangeAnswer::Unsatisfiable => {}
        }
    }

    #[test]
    fn single_byte_ranges_answer_as_rfc_9110_says(first in 0u64..3000, last in 0u64..3000, size in 0u64..2000) {
        let got = answer(Some(&format!("bytes={first}-{last}")), size);
        let expected = if first > last {
            RangeAnswer::Whole // not a valid range: ignored
        } else if first >= size {
            RangeAnswer::Unsatisfiable
        } else {
            RangeAnswer::Partial(first..(last + 1).min(size))
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn suffix_ranges_select_the_last_bytes(suffix in 0u64..3000, size in 1u64..2000) {
        let got = answer(Some(&format!("bytes=-{suffix}")), size);
        let expected = if suffix == 0 {
            RangeAnswer::Unsatisfiable
        } else {
            RangeAnswer::Partial(size.saturating_sub(suffix)..size)
        };
        prop_assert_eq!(got, expected);
    }

    #[test]
    fn any_bytes_as_a_mint_body_are_an_answer_never_a_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = MintRequest::from_json(&body);
    }

    #[test]
    fn well_formed_mint_bodies_give_the_scope_asked_for(
        keys in proptest::collection::vec(valid_key(), 1..5),
        timeout in 1u64..=1440,
        as_string in any::<bool>(),
    ) {
        // `keys` as an array, or as a string holding a JSON array.
        let keys_value = if as_string {
            serde_json::Value::String(serde_json::to_string(&keys).unwrap())
        } else {
            serde_json::json!(keys)
        };
        let body = serde_json::json!({"shareType": 2, "keys": keys_value, "timeoutInMinutes": timeout});
        let request = MintRequest::from_json(body.to_string().as_bytes()).unwrap();
        prop_assert_eq!(request.timeout_minutes, timeout);
        let mut expected = keys.clone();
        expected.sort();
        expected.dedup();
        prop_assert_eq!(request.scope.entries(), expected.as_slice());
    }

    #[test]
    fn timeouts_outside_1_to_1440_are_refused(timeout in prop_oneof![-100_000i64..1, 1441i64..i64::MAX]) {
        let body = serde_json::json!({"shareType": 0, "key": "a", "timeoutInMinutes": timeout});
        prop_assert_eq!(
            MintRequest::from_json(body.to_string().as_bytes()),
            Err(MintRequestError::TimeoutOutOfRange)
        );
    }
}

proptest! {
    // Sealing and opening costs a few microseconds; fewer cases suffice.
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn a_sealed_share_token_opens_to_the_same_claims(
        keys in proptest::collection::vec(valid_key(), 1..4),
        subject in "[a-z]{1,12}",
        name in "[a-zA-Z _]{1,16}",
        now in 1_700_000_000i64..1_900_000_000,
        minutes in 1u64..=1440,
    ) {
        let ring = ring();
        let connector = ConnectorId::new(ConnectorType::Obs, name);
        let scope = Scope::new(ShareType::Files, keys).unwrap();
        let claims = ShareClaims::new(&subject, connector, scope, now, minutes);
        let token = claims.seal(&ring);
        prop_assert_eq!(ShareClaims::open(&ring, &token, now, 0).unwrap(), claims.clone());
        // Valid until the last second before exp, not at it.
        let exp = now + minutes as i64 * 60;
        prop_assert!(ShareClaims::open(&ring, &token, exp - 1, 0).is_ok());
        prop_assert!(ShareClaims::open(&ring, &token, exp, 0).is_err());
        // Another key never opens it.
        prop_assert!(ShareClaims::open(&self::ring(), &token, now, 0).is_err());
    }

    #[test]
    fn any_change_to_a_share_token_is_refused(position in any::<prop::sample::Index>(), replacement in "[A-Za-z0-9_.-]") {
        let ring = ring();
        let scope = Scope::new(ShareType::File, ["a/b"]).unwrap();
        let claims = ShareClaims::new("app", ConnectorId::new(ConnectorType::Obs, "x"), scope, 1_800_000_000, 5);
        let token = claims.seal(&ring);
        let at = position.index(token.len());
        let mut altered = token.clone();
        altered.replace_range(at..at + 1, &replacement);
        match ShareClaims::open(&ring, &altered, 1_800_000_000, 0) {
            // Only the very same token may open (a replacement equal to the
            // original character), and then to the same claims.
            Ok(opened) => {
                prop_assert_eq!(opened, claims);
                // Base64url's last character can carry unused bits (case R1):
                // a different text that decodes to the same bytes is the
                // same token, and revocation is by its id.
            }
            Err(_) => prop_assert_ne!(altered, token),
        }
    }
}
