//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text
//! format. Label values are fixed words of this program (error codes,
//! limit names), never tokens, keys, client ids or other client input.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::registry::Registry;

/// Why a share token did not open the object: a stable `ST.*` code.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: &'static str,
}

/// Which rate limit refused a request: `address` or `client`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct LimitLabel {
    pub limit: &'static str,
}

pub struct Metrics {
    registry: Registry,
    /// Views refused with 401 or 403, by reason.
    token_check_failures: Family<ReasonLabel, Counter>,
    /// OAuth token requests refused with 429, by limit.
    oauth_throttled: Family<LimitLabel, Counter>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sharetoken");
        let token_check_failures = Family::<ReasonLabel, Counter>::default();
        registry.register(
            "token_check_failures",
            "Views refused because of the share token or its scope, by reason",
            token_check_failures.clone(),
        );
        let oauth_throttled = Family::<LimitLabel, Counter>::default();
        registry.register(
            "oauth_throttled",
            "OAuth token requests refused by a rate limit",
            oauth_throttled.clone(),
        );
        Self {
            registry,
            token_check_failures,
            oauth_throttled,
        }
    }
}

impl Metrics {
    /// Counts a view refused for `reason` (an `ST.*` code).
    pub fn token_check_failed(&self, reason: &'static str) {
        self.token_check_failures
            .get_or_create(&ReasonLabel { reason })
            .inc();
    }

    /// Counts a token request refused by the `limit` rate limit.
    pub fn oauth_throttled(&self, limit: &'static str) {
        self.oauth_throttled
            .get_or_create(&LimitLabel { limit })
            .inc();
    }

    /// The OpenMetrics text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry)
            .expect("writing to a String cannot fail");
        text
    }
}

/// `Content-Type` of [`Metrics::render`].
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";
