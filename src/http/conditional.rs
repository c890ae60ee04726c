//! Conditional requests (RFC 9110 §13): `If-Match`, `If-Unmodified-Since`,
//! `If-None-Match`, `If-Modified-Since` and `If-Range`, evaluated in the
//! order §13.2.2 gives, against the object's validators.

use std::time::{SystemTime, UNIX_EPOCH};

/// The conditional headers of a request, as sent (absent when not UTF-8).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Conditions<'a> {
    pub if_match: Option<&'a str>,
    pub if_unmodified_since: Option<&'a str>,
    pub if_none_match: Option<&'a str>,
    pub if_modified_since: Option<&'a str>,
    pub if_range: Option<&'a str>,
}

/// The object's validators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validators<'a> {
    /// Quoted, as in the `ETag` header.
    pub etag: Option<&'a str>,
    pub last_modified: Option<SystemTime>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go on and serve the object.
    Proceed,
    /// 304 Not Modified.
    NotModified,
    /// 412 Precondition Failed.
    PreconditionFailed,
}

/// Evaluates the preconditions of a GET or HEAD.
pub fn evaluate(c: &Conditions<'_>, v: &Validators<'_>) -> Outcome {
    if let Some(list) = c.if_match {
        if !matches_list(list, v.etag, Comparison::Strong) {
            return Outcome::PreconditionFailed;
        }
    } else if let (Some(date), Some(modified)) =
        (c.if_unmodified_since.and_then(parse_date), v.last_modified)
    {
        if whole_seconds(modified) > date {
            return Outcome::PreconditionFailed;
        }
    }
    if let Some(list) = c.if_none_match {
        if matches_list(list, v.etag, Comparison::Weak) {
            return Outcome::NotModified;
        }
    } else if let (Some(date), Some(modified)) =
        (c.if_modified_since.and_then(parse_date), v.last_modified)
    {
        if whole_seconds(modified) <= date {
            return Outcome::NotModified;
        }
    }
    Outcome::Proceed
}

/// Whether a `Range` may be honoured given `If-Range` (§13.1.5): an entity
/// tag must match strongly, a date must equal `Last-Modified` exactly.
pub fn range_applies(c: &Conditions<'_>, v: &Validators<'_>) -> bool {
    let Some(value) = c.if_range.map(str::trim) else {
        return true;
    };
    if value.starts_with('"') || value.starts_with("W/") {
        return matches!(v.etag, Some(etag) if strong_eq(value, etag));
    }
    match (parse_date(value), v.last_modified) {
        (Some(date), Some(modified)) => whole_seconds(modified) == date,
        _ => false,
    }
}

#[derive(Clone, Copy)]
enum Comparison {
    Strong,
    Weak,
}

/// `*` or a comma-separated list of entity tags.
fn matches_list(list: &str, etag: Option<&str>, how: Comparison) -> bool {
    let Some(etag) = etag else {
        // No current representation tag: `*` still means "exists".
        return list.trim() == "*";
    };
    if list.trim() == "*" {
        return true;
    }
    entity_tags(list).any(|candidate| match how {
        Comparison::Strong => strong_eq(candidate, etag),
        Comparison::Weak => opaque(candidate) == opaque(etag),
    })
}

/// Splits a list of entity tags; commas inside quotes do not split.
fn entity_tags(list: &str) -> impl Iterator<Item = &str> {
    let mut tags = Vec::new();
    let mut start = 0;
    let mut quoted = false;
    for (i, ch) in list.char_indices() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                tags.push(list[start..i].trim());
                start = i + 1;
            }
            _ => {}
        }
    }
    tags.push(list[start..].trim());
    tags.into_iter().filter(|t| !t.is_empty())
}

fn opaque(tag: &str) -> &str {
    tag.strip_prefix("W/").unwrap_or(tag)
}

fn strong_eq(a: &str, b: &str) -> bool {
    !a.starts_with("W/") && !b.starts_with("W/") && a == b
}

fn parse_date(text: &str) -> Option<u64> {
    httpdate::parse_http_date(text.trim())
        .ok()
        .map(whole_seconds)
}

/// HTTP dates have one-second resolution.
fn whole_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const E1: Validators<'static> = Validators {
        etag: Some("\"e1\""),
        last_modified: None,
    };

    fn inm(list: &str) -> Outcome {
        let c = Conditions {
            if_none_match: Some(list),
            ..Default::default()
        };
        evaluate(&c, &E1)
    }

    #[test]
    fn h7_if_none_match_compares_weakly_and_reads_lists() {
        for list in ["\"e1\"", "W/\"e1\"", "\"x\", \"e1\"", "*", "\"a,b\",\"e1\""] {
            assert_eq!(inm(list), Outcome::NotModified, "{list}");
        }
        assert_eq!(inm("\"x\""), Outcome::Proceed);
        assert_eq!(inm("\"a,\"e1\"\""), Outcome::Proceed);
    }

    #[test]
    fn if_match_compares_strongly() {
        let c = |v| Conditions {
            if_match: Some(v),
            ..Default::default()
        };
        assert_eq!(evaluate(&c("\"e1\""), &E1), Outcome::Proceed);
        assert_eq!(evaluate(&c("*"), &E1), Outcome::Proceed);
        assert_eq!(evaluate(&c("W/\"e1\""), &E1), Outcome::PreconditionFailed);
        assert_eq!(evaluate(&c("\"x\""), &E1), Outcome::PreconditionFailed);
    }

    #[test]
    fn dates_compare_at_one_second_resolution() {
        let modified = UNIX_EPOCH + Duration::from_millis(1_000_000_500);
        let v = Validators {
            etag: None,
            last_modified: Some(modified),
        };
        let same = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_000_000));
        let earlier = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(999_999));
        fn ims(d: &str) -> Conditions<'_> {
            Conditions {
                if_modified_since: Some(d),
                ..Default::default()
            }
        }
        assert_eq!(evaluate(&ims(&same), &v), Outcome::NotModified);
        assert_eq!(evaluate(&ims(&earlier), &v), Outcome::Proceed);
        assert_eq!(evaluate(&ims("not a date"), &v), Outcome::Proceed);
        let ius = Conditions {
            if_unmodified_since: Some(&earlier),
            ..Default::default()
        };
        assert_eq!(evaluate(&ius, &v), Outcome::PreconditionFailed);
    }

    #[test]
    fn if_none_match_wins_over_if_modified_since() {
        let v = Validators {
            etag: Some("\"e1\""),
            last_modified: Some(UNIX_EPOCH),
        };
        let c = Conditions {
            if_none_match: Some("\"x\""),
            if_modified_since: Some("Thu, 01 Jan 2099 00:00:00 GMT"),
            ..Default::default()
        };
        assert_eq!(evaluate(&c, &v), Outcome::Proceed);
    }

    #[test]
    fn if_range_needs_a_strong_match_or_the_exact_date() {
        let v = Validators {
            etag: Some("\"e1\""),
            last_modified: Some(UNIX_EPOCH + Duration::from_secs(1_000_000)),
        };
        fn ir(value: &str) -> Conditions<'_> {
            Conditions {
                if_range: Some(value),
                ..Default::default()
            }
        }
        assert!(range_applies(&Conditions::default(), &v));
        assert!(range_applies(&ir("\"e1\""), &v));
        assert!(!range_applies(&ir("W/\"e1\""), &v));
        assert!(!range_applies(&ir("\"x\""), &v));
        let date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(1_000_000));
        assert!(range_applies(&ir(&date), &v));
        assert!(!range_applies(&ir("garbage"), &v));
    }
}
