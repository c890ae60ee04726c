//! Where "now" comes from, so that tests can control time instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, UTC.
pub type UnixSeconds = i64;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> UnixSeconds;
}

/// The real wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixSeconds {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to (tests, simulations).
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    pub fn new(start: UnixSeconds) -> Self {
        Self(AtomicI64::new(start))
    }

    pub fn set(&self, now: UnixSeconds) {
        self.0.store(now, Ordering::SeqCst);
    }

    pub fn advance(&self, seconds: i64) {
        self.0.fetch_add(seconds, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> UnixSeconds {
        self.0.load(Ordering::SeqCst)
    }
}

/// RFC 3339 text for a Unix time, as PASETO's registered claims want it.
pub fn to_rfc3339(t: UnixSeconds) -> String {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|dt| dt.format(&Rfc3339).ok())
        .unwrap_or_default()
}

/// The Unix time of RFC 3339 text; `None` when it is not RFC 3339.
pub fn from_rfc3339(text: &str) -> Option<UnixSeconds> {
    use time::format_description::well_known::Rfc3339;
    time::OffsetDateTime::parse(text, &Rfc3339)
        .ok()
        .map(|dt| dt.unix_timestamp())
}

/// As [`from_rfc3339`], rounded up to a whole second. Tokens carry whole
/// seconds, so "issued before 12:00:00.5" must take in every token of
/// 12:00:00: some were issued before the half second.
pub fn from_rfc3339_rounded_up(text: &str) -> Option<UnixSeconds> {
    use time::format_description::well_known::Rfc3339;
    let dt = time::OffsetDateTime::parse(text, &Rfc3339).ok()?;
    Some(dt.unix_timestamp() + i64::from(dt.nanosecond() > 0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_time_with_a_fraction_rounds_up_to_the_next_second() {
        let whole = from_rfc3339("2026-12-04T05:20:32Z").unwrap();
        assert_eq!(from_rfc3339_rounded_up("2026-12-04T05:20:32Z"), Some(whole));
        assert_eq!(
            from_rfc3339_rounded_up("2026-12-04T05:20:32.500Z"),
            Some(whole + 1)
        );
        assert_eq!(from_rfc3339_rounded_up("not a time"), None);
    }

    #[test]
    fn rfc3339_round_trips_whole_seconds() {
        assert_eq!(to_rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(
            from_rfc3339(&to_rfc3339(1_796_000_000)),
            Some(1_796_000_000)
        );
        assert_eq!(from_rfc3339("yesterday"), None);
    }

    #[test]
    fn a_manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(100);
        assert_eq!(clock.now(), 100);
        clock.advance(59);
        assert_eq!(clock.now(), 159);
        clock.set(5);
        assert_eq!(clock.now(), 5);
    }
}
