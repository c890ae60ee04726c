//! Token buckets in front of the OAuth token endpoint: argon2 is costly by
//! design, so neither one address nor one client id may make the server
//! verify secrets without bound.

use std::net::IpAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota};

use crate::settings::OauthSettings;

/// Unknown client ids share one bucket, so that made-up ids cannot grow the
/// limiter's memory (the per-address limit still applies to each caller).
const UNKNOWN_CLIENT: &str = "";

pub struct LoginLimiter {
    by_address: Option<DefaultKeyedRateLimiter<IpAddr>>,
    by_client: Option<DefaultKeyedRateLimiter<String>>,
    clock: DefaultClock,
}

fn limiter<K>(per_minute: u32, burst: u32) -> Option<DefaultKeyedRateLimiter<K>>
where
    K: std::hash::Hash + Eq + Clone,
{
    let rate = NonZeroU32::new(per_minute)?;
    let burst = NonZeroU32::new(burst).unwrap_or(NonZeroU32::MIN);
    Some(DefaultKeyedRateLimiter::keyed(
        Quota::per_minute(rate).allow_burst(burst),
    ))
}

impl LoginLimiter {
    pub fn new(settings: &OauthSettings) -> Self {
        Self {
            by_address: limiter(settings.per_address_per_minute, settings.per_address_burst),
            by_client: limiter(settings.per_client_per_minute, settings.per_client_burst),
            clock: DefaultClock::default(),
        }
    }

    /// Takes one request from the address's bucket, or says how long to wait.
    pub fn check_address(&self, address: IpAddr) -> Result<(), Duration> {
        match &self.by_address {
            Some(limiter) => self.wait_time(limiter.check_key(&address)),
            None => Ok(()),
        }
    }

    /// Takes one request from the client's bucket (`known` says whether the
    /// id is configured), or says how long to wait.
    pub fn check_client(&self, client_id: &str, known: bool) -> Result<(), Duration> {
        let key = if known { client_id } else { UNKNOWN_CLIENT };
        match &self.by_client {
            Some(limiter) => self.wait_time(limiter.check_key(&key.to_owned())),
            None => Ok(()),
        }
    }

    fn wait_time<T>(
        &self,
        outcome: Result<T, governor::NotUntil<<DefaultClock as Clock>::Instant>>,
    ) -> Result<(), Duration> {
        outcome
            .map(|_| ())
            .map_err(|not_until| not_until.wait_time_from(self.clock.now()))
    }

    /// Drops buckets that are full again (callers not seen lately), so that
    /// many addresses do not grow memory for ever. Called by the pruner.
    pub fn forget_idle(&self) {
        if let Some(limiter) = &self.by_address {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
        if let Some(limiter) = &self.by_client {
            limiter.retain_recent();
            limiter.shrink_to_fit();
        }
    }
}
