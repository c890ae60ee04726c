//! A token store that reports each operation's latency, and whether the
//! store answered, to the metrics (`sharetoken_store_*`).

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;

use super::{BulkScope, Revocation, StoreError, TokenFilter, TokenRecord, TokenStore, Watermarks};
use crate::audit::AuditEvent;
use crate::clock::UnixSeconds;
use crate::metrics::Metrics;
use crate::token::ShareClaims;

pub struct MeteredStore {
    inner: Arc<dyn TokenStore>,
    metrics: Arc<Metrics>,
}

impl MeteredStore {
    pub fn new(inner: Arc<dyn TokenStore>, metrics: Arc<Metrics>) -> Self {
        Self { inner, metrics }
    }

    async fn measure<T>(
        &self,
        operation: &'static str,
        work: impl Future<Output = Result<T, StoreError>>,
    ) -> Result<T, StoreError> {
        let started = Instant::now();
        let result = work.await;
        self.metrics
            .store_operation(operation, started.elapsed(), result.is_ok());
        result
    }
}

#[async_trait]
impl TokenStore for MeteredStore {
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError> {
        self.measure("record_issued", self.inner.record_issued(record))
            .await
    }

    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError> {
        self.measure("is_revoked", self.inner.is_revoked(claims))
            .await
    }

    async fn revoke_issued_before(
        &self,
        scope: &BulkScope,
        before: UnixSeconds,
        now: UnixSeconds,
    ) -> Result<UnixSeconds, StoreError> {
        self.measure(
            "revoke_issued_before",
            self.inner.revoke_issued_before(scope, before, now),
        )
        .await
    }

    async fn watermarks(&self) -> Result<Watermarks, StoreError> {
        self.measure("watermarks", self.inner.watermarks()).await
    }

    async fn revoke(&self, jti: &str, now: UnixSeconds) -> Result<Revocation, StoreError> {
        self.measure("revoke", self.inner.revoke(jti, now)).await
    }

    async fn token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.measure("token", self.inner.token(jti)).await
    }

    async fn list_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixSeconds,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        self.measure(
            "list_tokens",
            self.inner.list_tokens(filter, now, after, limit),
        )
        .await
    }

    async fn prune_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        self.measure("prune_expired", self.inner.prune_expired(now))
            .await
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        self.measure("append_audit", self.inner.append_audit(events))
            .await
    }

    async fn audit_since(
        &self,
        since: UnixSeconds,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.measure("audit_since", self.inner.audit_since(since, limit))
            .await
    }

    async fn audit_for_token(&self, jti: &str) -> Result<Vec<AuditEvent>, StoreError> {
        self.measure("audit_for_token", self.inner.audit_for_token(jti))
            .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.measure("ping", self.inner.ping()).await
    }
}
