//! `Range: bytes=…` against an object of known size (RFC 9110 §14), parsed
//! by the `http-range-header` crate; this module only picks the answer.

use std::ops::Range;

use http_range_header::RangeUnsatisfiableError;

/// What to send for a request's `Range` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeAnswer {
    /// 200 with the whole object (no Range, or one we may and do ignore:
    /// malformed, multi-range, or on an empty object).
    Whole,
    /// 206 with these bytes (end exclusive).
    Partial(Range<u64>),
    /// 416 with `Content-Range: bytes */size`.
    Unsatisfiable,
}

pub fn answer(range_header: Option<&str>, size: u64) -> RangeAnswer {
    let Some(value) = range_header else {
        return RangeAnswer::Whole;
    };
    let Ok(parsed) = http_range_header::parse_range_header(value) else {
        // Malformed ranges may be ignored (RFC 9110 §14.2).
        return RangeAnswer::Whole;
    };
    match parsed.validate(size) {
        Ok(ranges) => match ranges.as_slice() {
            [one] => RangeAnswer::Partial(*one.start()..*one.end() + 1),
            // Empty object with a suffix range, or several ranges: the whole.
            _ => RangeAnswer::Whole,
        },
        Err(RangeUnsatisfiableError::Unsatisfiable) => RangeAnswer::Unsatisfiable,
        Err(_) => RangeAnswer::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use RangeAnswer::*;

    #[test]
    fn h1_a_suffix_range_on_an_empty_object_is_never_0_to_minus_1() {
        assert_eq!(answer(Some("bytes=-5"), 0), Whole);
        assert_eq!(answer(Some("bytes=0-"), 0), Unsatisfiable);
    }

    #[test]
    fn h2_an_overlong_end_is_clipped() {
        assert_eq!(answer(Some("bytes=800-1500"), 1000), Partial(800..1000));
    }

    #[test]
    fn h3_ranges_past_the_end_and_zero_suffixes_are_unsatisfiable() {
        assert_eq!(answer(Some("bytes=1000-"), 1000), Unsatisfiable);
        assert_eq!(answer(Some("bytes=-0"), 1000), Unsatisfiable);
    }

    #[test]
    fn h4_reversed_and_garbled_ranges_are_ignored() {
        assert_eq!(answer(Some("bytes=5-2"), 1000), Whole);
        assert_eq!(answer(Some("bytes=abc"), 1000), Whole);
        assert_eq!(answer(Some("items=0-1"), 1000), Whole);
    }

    #[test]
    fn h5_the_first_two_bytes_of_a_video() {
        assert_eq!(answer(Some("bytes=0-1"), 5_975_596), Partial(0..2));
    }

    #[test]
    fn suffixes_longer_than_the_object_select_all_of_it() {
        assert_eq!(answer(Some("bytes=-5000"), 1000), Partial(0..1000));
        assert_eq!(answer(Some("bytes=-10"), 1000), Partial(990..1000));
    }

    #[test]
    fn several_ranges_get_the_whole_object() {
        assert_eq!(answer(Some("bytes=0-1, 5-6"), 1000), Whole);
        assert_eq!(answer(None, 1000), Whole);
    }
}
