//! The Redis store's in-process view of revocations, so that a view's
//! revocation check needs no round trip to Redis.
//!
//! Every revocation (one token, or a bulk watermark) is also appended to a
//! Redis stream, `<p>:{rev}:log`, which every instance reads four times a
//! lease (`store.redis.revocation_lease_ms`, 200 ms by default, so every
//! 50 ms). The view is trusted on that lease: a read that reached the end of
//! the log, sent at time t, vouches for the view until t + lease. Each read
//! also records in Redis until when its instance may trust it, and a revoke,
//! once written, waits until every instance's trust from before has lapsed,
//! so by then every instance has either read the entry or stopped trusting
//! its view and asks Redis itself (case R2, "at once"), whatever lease each
//! instance runs with. When Redis stops answering, the lease lapses and
//! checks fail closed as before (case R3).
//!
//! A log that went back (Redis restarted empty, flushed, or failed over to
//! a replica that lacked entries) is noticed by the log's own counters,
//! `entries-added` and `last-generated-id`, or by the failed read: the view
//! is then dropped and read again from the start. A log that lost entries
//! (trimmed, deleted, evicted) says from when it is whole again
//! (`complete-from`); older tokens are checked in Redis.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::RwLock;
use std::time::Duration;

use super::{Watermarks, MAX_TOKEN_LIFE};
use crate::clock::UnixSeconds;
use crate::token::ShareClaims;

/// Entries read at once.
pub const BATCH: usize = 1000;

/// One entry of the revocation log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// One token, revoked until it expires.
    Token {
        jti: String,
        expires_at: UnixSeconds,
    },
    /// A bulk revocation: watermark `field` raised to `before`.
    Watermark { field: String, before: UnixSeconds },
}

#[derive(Default)]
struct State {
    /// Whether the watermarks Redis holds have been loaded.
    begun: bool,
    /// The first second from which the log holds every revocation, as the
    /// last whole read found it: tokens issued before may have revocations
    /// that are not in it (made by an earlier version, which kept no log, or
    /// trimmed or deleted), so they are checked in Redis.
    complete_from: Option<UnixSeconds>,
    /// Revoked token ids and when each token expires.
    revoked: HashMap<String, UnixSeconds>,
    marks: Watermarks,
    /// The id of the last entry applied (`0-0`: none yet).
    last_id: String,
    /// The log's `entries-added` when the view last held all of it; `None`
    /// until a first read from the start has reached its end.
    added_seen: Option<u64>,
    /// When expired entries were last forgotten.
    pruned_at: UnixSeconds,
}

impl State {
    fn empty() -> Self {
        Self {
            last_id: "0-0".into(),
            ..Self::default()
        }
    }
}

/// Now, in ns of `CLOCK_BOOTTIME`. Unlike `Instant` (`CLOCK_MONOTONIC`), it
/// counts time spent suspended: a machine or VM that sleeps past its lease
/// must not wake up trusting a view that revokes made meanwhile left behind.
pub fn now() -> u64 {
    let t = rustix::time::clock_gettime(rustix::time::ClockId::Boottime);
    u64::try_from(t.tv_sec).unwrap_or(0) * 1_000_000_000 + u64::try_from(t.tv_nsec).unwrap_or(0)
}

pub struct RevocationView {
    /// How long a read of the whole log vouches for the view; a revoke
    /// waits this long before it answers.
    lease: Duration,
    state: RwLock<State>,
    /// Until when ([`now`]) the view is known current; 0: never.
    trusted_until: AtomicU64,
}

impl RevocationView {
    pub fn new(lease: Duration) -> Self {
        Self {
            lease,
            state: RwLock::new(State::empty()),
            trusted_until: AtomicU64::new(0),
        }
    }

    pub fn lease(&self) -> Duration {
        self.lease
    }

    fn trusted(&self) -> bool {
        now() < self.trusted_until.load(Ordering::Acquire)
    }

    /// Whether the token is revoked, when the view can tell; `None`: ask Redis.
    pub fn is_revoked(&self, claims: &ShareClaims) -> Option<bool> {
        if !self.trusted() {
            return None;
        }
        let state = self.state.read().ok()?;
        if claims.issued_at < state.complete_from? {
            return None;
        }
        Some(
            state.revoked.contains_key(&claims.jti)
                || state.marks.covers(
                    &claims.connector.to_string(),
                    &claims.subject,
                    claims.issued_at,
                ),
        )
    }

    /// Every watermark, when the view can tell.
    pub fn watermarks(&self) -> Option<Watermarks> {
        if !self.trusted() {
            return None;
        }
        let state = self.state.read().ok()?;
        state.complete_from?;
        Some(state.marks.clone())
    }

    /// Whether the view has been started ([`begin`](Self::begin)).
    pub fn begun(&self) -> bool {
        self.state.read().is_ok_and(|s| s.begun)
    }

    /// Starts the view with the watermarks Redis holds (some may predate
    /// the log).
    pub fn begin(&self, marks: Watermarks) {
        if let Ok(mut state) = self.state.write() {
            state.begun = true;
            for (field, before) in marks.0 {
                raise(&mut state.marks, field, before);
            }
        }
    }

    /// The id after which the log is read next.
    pub fn last_id(&self) -> String {
        self.state
            .read()
            .map(|s| s.last_id.clone())
            .unwrap_or_else(|_| "0-0".into())
    }

    /// Applies entries read from the log, the last of them `last_id`, and
    /// forgets what no longer matters at `now`: watermarks older than the
    /// longest token life, and (once a minute) expired tokens.
    pub fn apply(&self, entries: Vec<Entry>, last_id: Option<String>, now: UnixSeconds) {
        let Ok(mut state) = self.state.write() else {
            return;
        };
        for entry in entries {
            match entry {
                // An expired token is refused as expired: no need to hold it.
                Entry::Token { jti, expires_at } if expires_at > now => {
                    state.revoked.insert(jti, expires_at);
                }
                Entry::Token { .. } => {}
                Entry::Watermark { field, before } => raise(&mut state.marks, field, before),
            }
        }
        if let Some(id) = last_id {
            state.last_id = id;
        }
        // Watermarks are a few (one per connector or client at most).
        state
            .marks
            .0
            .retain(|_, before| *before + MAX_TOKEN_LIFE > now);
        // Revoked tokens, once a minute: they may be a day of revocations,
        // and a read comes four times a lease.
        if now >= state.pruned_at + 60 {
            state.pruned_at = now;
            state.revoked.retain(|_, expires_at| *expires_at > now);
        }
    }

    /// A read reached the end of the log, which then held `added` entries
    /// in all (`entries-added`), the newest `last_generated`, and was whole
    /// from `complete_from`, after `read` new ones applied since the last
    /// such read: whether the view now holds the whole log. When it does not
    /// (the log went back, or entries were missed), the view is dropped
    /// ([`reset`](Self::reset)).
    pub fn reached_end(
        &self,
        added: u64,
        last_generated: &str,
        complete_from: UnixSeconds,
        read: u64,
    ) -> bool {
        let Ok(mut state) = self.state.write() else {
            return false;
        };
        let whole = match state.added_seen {
            // A read from the start holds everything the log still has.
            None => {
                state.last_id = last_generated.to_owned();
                true
            }
            Some(seen) => added.checked_sub(seen) == Some(read) && state.last_id == last_generated,
        };
        if whole {
            state.added_seen = Some(added);
            state.complete_from = Some(complete_from);
            return true;
        }
        drop(state);
        self.reset();
        false
    }

    /// Forgets everything and trusts nothing until a read from the start.
    pub fn reset(&self) {
        self.trusted_until.store(0, Ordering::Release);
        if let Ok(mut state) = self.state.write() {
            *state = State::empty();
        }
    }

    /// A read of the whole log was sent at `sent` ([`now`]): the view is
    /// current until a lease later.
    pub fn vouch(&self, sent: u64) {
        let lease = u64::try_from(self.lease.as_nanos()).unwrap_or(u64::MAX);
        self.trusted_until
            .fetch_max(sent.saturating_add(lease), Ordering::AcqRel);
    }
}

/// Watermarks only rise (as `raise_watermark.lua` keeps them in Redis).
fn raise(marks: &mut Watermarks, field: String, before: UnixSeconds) {
    let mark = marks.0.entry(field).or_insert(before);
    *mark = (*mark).max(before);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::{Scope, ShareType};
    use crate::storage::ConnectorId;

    fn claims(jti: &str, issued_at: UnixSeconds) -> ShareClaims {
        let mut claims = ShareClaims::new(
            "app",
            ConnectorId::parse("minio", "files").unwrap(),
            Scope::new(ShareType::File, ["a.txt"]).unwrap(),
            issued_at,
            10,
        );
        claims.jti = jti.into();
        claims
    }

    const LEASE: Duration = Duration::from_millis(200);

    /// A view begun with no watermarks, whole from `from` after a first read.
    fn begun_at(from: UnixSeconds) -> RevocationView {
        let view = RevocationView::new(LEASE);
        view.begin(Watermarks::default());
        assert!(view.reached_end(0, "0-0", from, 0));
        view
    }

    #[test]
    fn it_answers_only_while_a_read_vouches_for_it() {
        let view = begun_at(100);
        assert_eq!(view.is_revoked(&claims("t1", 200)), None);
        view.vouch(now());
        assert_eq!(view.is_revoked(&claims("t1", 200)), Some(false));
        view.apply(
            vec![Entry::Token {
                jti: "t1".into(),
                expires_at: 900,
            }],
            Some("5-0".into()),
            200,
        );
        assert_eq!(view.is_revoked(&claims("t1", 200)), Some(true));
        assert_eq!(view.last_id(), "5-0");
        // A lease that lapsed: ask Redis.
        let stale = begun_at(100);
        stale.vouch(now() - 201_000_000);
        assert_eq!(stale.is_revoked(&claims("t1", 200)), None);
    }

    #[test]
    fn tokens_issued_before_the_log_is_whole_are_checked_in_redis() {
        let view = begun_at(100);
        view.vouch(now());
        assert_eq!(view.is_revoked(&claims("t1", 99)), None);
        assert_eq!(view.is_revoked(&claims("t1", 100)), Some(false));
        // A later read finds entries deleted up to second 149.
        assert!(view.reached_end(0, "0-0", 150, 0));
        assert_eq!(view.is_revoked(&claims("t1", 149)), None);
        assert_eq!(view.is_revoked(&claims("t1", 150)), Some(false));
        // Not begun: never answers.
        let unbegun = RevocationView::new(LEASE);
        unbegun.vouch(now());
        assert_eq!(unbegun.is_revoked(&claims("t1", 101)), None);
        assert_eq!(unbegun.watermarks(), None);
    }

    #[test]
    fn watermarks_only_rise_and_cover_earlier_tokens() {
        let mut held = Watermarks::default();
        held.0.insert("u:app".into(), 300);
        let view = RevocationView::new(LEASE);
        view.begin(held);
        assert!(view.reached_end(0, "0-0", 100, 0));
        view.vouch(now());
        view.apply(
            vec![Entry::Watermark {
                field: "u:app".into(),
                before: 250,
            }],
            None,
            200,
        );
        assert_eq!(view.watermarks().unwrap().0["u:app"], 300);
        assert_eq!(view.is_revoked(&claims("t1", 299)), Some(true));
        assert_eq!(view.is_revoked(&claims("t1", 300)), Some(false));
    }

    fn token(jti: &str) -> Entry {
        Entry::Token {
            jti: jti.into(),
            expires_at: 900,
        }
    }

    #[test]
    fn a_log_that_went_back_or_skipped_entries_drops_the_view() {
        // The first read, from the start, is taken as the whole log.
        let view = RevocationView::new(LEASE);
        view.begin(Watermarks::default());
        view.apply(vec![token("t1")], Some("10-0".into()), 200);
        assert!(view.reached_end(7, "10-0", 100, 1));
        view.vouch(now());
        assert_eq!(view.is_revoked(&claims("t1", 200)), Some(true));
        // One more entry, read: whole.
        view.apply(vec![token("t2")], Some("11-0".into()), 200);
        assert!(view.reached_end(8, "11-0", 100, 1));
        // Two added, one read (another had an id below ours): dropped.
        view.apply(vec![token("t3")], Some("12-0".into()), 200);
        assert!(!view.reached_end(10, "12-0", 100, 1));
        assert_eq!(view.is_revoked(&claims("t1", 200)), None);
        assert!(!view.begun());
        assert_eq!(view.last_id(), "0-0");

        // A log that went back (fewer entries ever added, or a newest id
        // that is not ours): dropped.
        for (added, newest) in [(5, "11-0"), (8, "9-0")] {
            let view = RevocationView::new(LEASE);
            view.begin(Watermarks::default());
            view.apply(vec![token("t1")], Some("11-0".into()), 200);
            assert!(view.reached_end(8, "11-0", 100, 1));
            assert!(!view.reached_end(added, newest, 100, 0));
            assert!(!view.begun());
        }
    }

    #[test]
    fn expired_tokens_and_old_watermarks_are_forgotten() {
        let view = begun_at(100);
        view.apply(
            vec![
                Entry::Token {
                    jti: "t1".into(),
                    expires_at: 150,
                },
                Entry::Watermark {
                    field: "all".into(),
                    before: 120,
                },
            ],
            None,
            200,
        );
        view.apply(Vec::new(), None, 120 + MAX_TOKEN_LIFE);
        view.vouch(now());
        assert_eq!(view.watermarks().unwrap(), Watermarks::default());
        assert_eq!(view.state.read().unwrap().revoked.len(), 0);
    }
}
