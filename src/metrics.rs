//! Prometheus metrics, served at `GET /metrics` in the OpenMetrics text
//! format. Label values are words of this program (route patterns, error
//! codes, store operations, configured connector ids), never tokens, keys,
//! client ids or other client input.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RequestLabels {
    /// The matched route pattern, or `unmatched`.
    pub route: String,
    /// GET, HEAD, POST, … or `other` (methods are client input).
    pub method: &'static str,
    pub status: u16,
}

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

/// One token store operation (`is_revoked`, `record_issued`, …).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OperationLabel {
    pub operation: &'static str,
}

/// A configured connector, as `type/name`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ConnectorLabel {
    pub connector: String,
}

/// A revocation: `token` (one, by id) or `bulk`.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RevocationLabel {
    pub kind: &'static str,
}

/// Latencies from 0.25 ms to about 4 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_25, 2.0, 15))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    bytes_served: Counter,
    mints: Counter,
    revocations: Family<RevocationLabel, Counter>,
    token_check_failures: Family<ReasonLabel, Counter>,
    oauth_throttled: Family<LimitLabel, Counter>,
    store_seconds: Family<OperationLabel, Histogram, fn() -> Histogram>,
    store_up: Gauge,
    backend_seconds: Family<ConnectorLabel, Histogram, fn() -> Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("sharetoken");
        let metrics = Self {
            requests: Family::default(),
            bytes_served: Counter::default(),
            mints: Counter::default(),
            revocations: Family::default(),
            token_check_failures: Family::default(),
            oauth_throttled: Family::default(),
            store_seconds: Family::new_with_constructor(latency_histogram),
            store_up: Gauge::default(),
            backend_seconds: Family::new_with_constructor(latency_histogram),
            registry: Registry::default(),
        };
        registry.register(
            "http_requests",
            "HTTP requests answered, by route pattern, method and status",
            metrics.requests.clone(),
        );
        registry.register(
            "bytes_served",
            "Object bytes sent to viewers",
            metrics.bytes_served.clone(),
        );
        registry.register("mints", "Share tokens minted", metrics.mints.clone());
        registry.register(
            "revocations",
            "Revocations: one token by id, or bulk",
            metrics.revocations.clone(),
        );
        registry.register(
            "token_check_failures",
            "Views refused because of the share token or its scope, by reason",
            metrics.token_check_failures.clone(),
        );
        registry.register(
            "oauth_throttled",
            "OAuth token requests refused by a rate limit",
            metrics.oauth_throttled.clone(),
        );
        registry.register(
            "store_operation_seconds",
            "Token store operation latency, by operation",
            metrics.store_seconds.clone(),
        );
        registry.register(
            "store_up",
            "1 when the token store answered its last operation, 0 when it failed",
            metrics.store_up.clone(),
        );
        registry.register(
            "backend_open_seconds",
            "Time for a connector's backend to answer an object request (headers), by connector",
            metrics.backend_seconds.clone(),
        );
        Self {
            registry,
            ..metrics
        }
    }
}

impl Metrics {
    /// Counts one answered request.
    pub fn request_answered(&self, route: &str, method: &str, status: u16) {
        let method = match method {
            "GET" => "GET",
            "HEAD" => "HEAD",
            "POST" => "POST",
            "PUT" => "PUT",
            "DELETE" => "DELETE",
            "PATCH" => "PATCH",
            "OPTIONS" => "OPTIONS",
            _ => "other",
        };
        self.requests
            .get_or_create(&RequestLabels {
                route: route.to_owned(),
                method,
                status,
            })
            .inc();
    }

    pub fn bytes_served(&self, bytes: u64) {
        self.bytes_served.inc_by(bytes);
    }

    pub fn minted(&self) {
        self.mints.inc();
    }

    /// Counts a revocation of `kind` (`token` or `bulk`).
    pub fn revoked(&self, kind: &'static str) {
        self.revocations
            .get_or_create(&RevocationLabel { kind })
            .inc();
    }

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

    /// Records a store operation's latency and whether the store answered.
    pub fn store_operation(&self, operation: &'static str, took: Duration, answered: bool) {
        self.store_seconds
            .get_or_create(&OperationLabel { operation })
            .observe(took.as_secs_f64());
        self.store_up.set(i64::from(answered));
    }

    /// Records how long a connector's backend took to answer.
    pub fn backend_answered(&self, connector: &str, took: Duration) {
        self.backend_seconds
            .get_or_create(&ConnectorLabel {
                connector: connector.to_owned(),
            })
            .observe(took.as_secs_f64());
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
