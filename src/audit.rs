//! Audit events (DESIGN §5): mint, view, deny and revoke, with the token id
//! and never the token text. Written off the request path: handlers hand
//! events to an [`AuditSink`], a background task writes them in batches.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::clock::UnixSeconds;
use crate::store::TokenStore;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AuditKind {
    Mint,
    View,
    Deny,
    Revoke,
}

/// One audited action. Text fields that may hold client input are scrubbed
/// of anything token-like before they get here.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEvent {
    pub at: UnixSeconds,
    pub kind: Option<AuditKind>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_id: Option<String>,
    /// The client the token belongs to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// Who acted, when not the token's holder (an admin revoking).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connector: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub object: Option<String>,
    /// A mint's scope summary.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub range: Option<String>,
    /// Why a request was denied, or what a bulk revocation covered.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// The token's expiry, so a store can keep its trail as long as needed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub token_expires_at: Option<UnixSeconds>,
}

/// Queue size between handlers and the writer; a full queue drops events
/// (counted and logged) rather than slowing a view down.
const QUEUE: usize = 16 * 1024;
const BATCH: usize = 1024;
/// How long the writer waits to fill a batch once one event is there.
const GATHER: Duration = Duration::from_millis(20);

/// Where handlers send audit events.
#[derive(Clone)]
pub struct AuditSink {
    tx: mpsc::Sender<AuditEvent>,
    dropped: Arc<AtomicU64>,
}

impl AuditSink {
    /// A sink and its writer task, which ends when every sink is dropped.
    pub fn start(store: Arc<dyn TokenStore>) -> (Self, tokio::task::JoinHandle<()>) {
        let (tx, rx) = mpsc::channel(QUEUE);
        let dropped = Arc::new(AtomicU64::new(0));
        let writer = tokio::spawn(write_batches(rx, store, Arc::clone(&dropped)));
        (Self { tx, dropped }, writer)
    }

    /// Queues an event; never waits.
    pub fn record(&self, event: AuditEvent) {
        if self.tx.try_send(event).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed) + 1;
            if n.is_power_of_two() {
                log::warn!("audit queue full or closed: {n} events dropped so far");
            }
        }
    }

    /// Events lost so far (queue full, or the store refused them).
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }
}

async fn write_batches(
    mut rx: mpsc::Receiver<AuditEvent>,
    store: Arc<dyn TokenStore>,
    dropped: Arc<AtomicU64>,
) {
    let mut batch = Vec::with_capacity(BATCH);
    while rx.recv_many(&mut batch, BATCH).await > 0 {
        // Under load, gather a little longer: one store write per batch is
        // what audit costs, so fewer, larger batches cost less. The writer
        // sleeps while it gathers rather than wake for every event: a
        // wake-up from another thread costs a view more than its audit.
        if batch.len() < BATCH {
            tokio::time::sleep(GATHER).await;
            while batch.len() < BATCH {
                match rx.try_recv() {
                    Ok(event) => batch.push(event),
                    Err(_) => break,
                }
            }
        }
        let mut attempt = 0;
        loop {
            match store.append_audit(&batch).await {
                Ok(()) => break,
                Err(e) if attempt < 3 => {
                    attempt += 1;
                    log::warn!("audit write failed (attempt {attempt}): {e}");
                    tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                }
                Err(e) => {
                    dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    log::error!("audit write failed, {} events dropped: {e}", batch.len());
                    break;
                }
            }
        }
        batch.clear();
    }
}

/// Puts one token's trail in the order things happened. A store keeps a
/// trail in the order events were written, and instances write theirs in
/// batches of their own: a view on one instance may be written before the
/// mint another instance audited first. So: by time (whole seconds), and
/// within a second the mint first (nothing happens to a token before it
/// exists), then in the order written.
pub fn into_event_order(trail: &mut [AuditEvent]) {
    trail.sort_by_key(|event| (event.at, event.kind != Some(AuditKind::Mint)));
}

impl AuditEvent {
    /// An event of `kind` at `at`, from the request's peer and user agent.
    pub fn from_request(kind: AuditKind, at: UnixSeconds, req: &actix_web::HttpRequest) -> Self {
        use crate::redact::scrub;
        Self {
            at,
            kind: Some(kind),
            address: req.peer_addr().map(|a| a.ip().to_string()),
            user_agent: req
                .headers()
                .get(actix_web::http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|ua| scrub(ua).chars().take(256).collect()),
            ..Self::default()
        }
    }

    /// The event as the admin API shows it: times as RFC 3339.
    pub fn to_json(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(self).unwrap_or_default();
        value["at"] = crate::clock::to_rfc3339(self.at).into();
        if let Some(exp) = self.token_expires_at {
            value["tokenExpiresAt"] = crate::clock::to_rfc3339(exp).into();
        }
        value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(at: UnixSeconds, kind: AuditKind, status: u16) -> AuditEvent {
        AuditEvent {
            at,
            kind: Some(kind),
            status: Some(status),
            ..AuditEvent::default()
        }
    }

    #[test]
    fn a_trail_is_put_in_time_order_with_the_mint_first_within_its_second() {
        let mut trail = vec![
            event(11, AuditKind::Deny, 401),
            event(10, AuditKind::View, 200),
            event(10, AuditKind::View, 206),
            event(10, AuditKind::Mint, 200),
            event(11, AuditKind::Revoke, 200),
        ];
        into_event_order(&mut trail);
        let order: Vec<(UnixSeconds, Option<AuditKind>, Option<u16>)> =
            trail.iter().map(|e| (e.at, e.kind, e.status)).collect();
        assert_eq!(
            order,
            [
                (10, Some(AuditKind::Mint), Some(200)),
                (10, Some(AuditKind::View), Some(200)),
                (10, Some(AuditKind::View), Some(206)),
                (11, Some(AuditKind::Deny), Some(401)),
                (11, Some(AuditKind::Revoke), Some(200)),
            ]
        );
    }
}
