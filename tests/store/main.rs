//! One store contract, one suite, run against every store: the embedded
//! store, a single Redis, and a Redis Cluster of three masters.
//!
//! Times are real (Redis expires keys by the wall clock).

#[path = "../support/mod.rs"]
mod support;

use std::sync::Arc;

use sharetoken::audit::{AuditEvent, AuditKind};
use sharetoken::clock::{Clock, SystemClock};
use sharetoken::share::{Scope, ShareType};
use sharetoken::storage::ConnectorId;
use sharetoken::store::{
    BulkScope, EmbeddedStore, RedisSettings, RedisStore, Retention, Revocation, TokenFilter,
    TokenRecord, TokenState, TokenStore,
};
use sharetoken::token::ShareClaims;
use support::redis::{unique_prefix, RedisCluster, RedisServer};
use tempfile::TempDir;

const RETENTION: Retention = Retention {
    audit_max_events: 50,
    keep_expired_seconds: 3600,
};

/// A store under test, with whatever keeps it alive.
struct Subject {
    store: Arc<dyn TokenStore>,
    _dir: Option<TempDir>,
    _redis: Option<RedisServer>,
}

fn embedded() -> Subject {
    let dir = tempfile::tempdir().unwrap();
    let store = EmbeddedStore::open(&dir.path().join("store.redb"), RETENTION).unwrap();
    Subject {
        store: Arc::new(store),
        _dir: Some(dir),
        _redis: None,
    }
}

fn redis_settings(prefix: &str) -> RedisSettings {
    RedisSettings {
        key_prefix: unique_prefix(prefix),
        ..RedisSettings::default()
    }
}

async fn single_redis() -> Subject {
    let server = RedisServer::start();
    let settings = RedisSettings {
        url: server.url(),
        ..redis_settings("single")
    };
    let store = RedisStore::connect(&settings, RETENTION).await.unwrap();
    Subject {
        store: Arc::new(store),
        _dir: None,
        _redis: Some(server),
    }
}

async fn cluster_redis() -> Subject {
    let cluster = tokio::task::spawn_blocking(RedisCluster::shared)
        .await
        .unwrap();
    let settings = RedisSettings {
        cluster_nodes: cluster.urls(),
        ..redis_settings("cluster")
    };
    let store = RedisStore::connect(&settings, RETENTION).await.unwrap();
    Subject {
        store: Arc::new(store),
        _dir: None,
        _redis: None,
    }
}

fn now() -> i64 {
    SystemClock.now()
}

fn claims(connector: &str, client: &str, issued_at: i64, minutes: u64) -> ShareClaims {
    let (kind, name) = connector.split_once('/').unwrap();
    ShareClaims::new(
        client,
        ConnectorId::parse(kind, name).unwrap(),
        Scope::new(ShareType::File, ["a/b.txt"]).unwrap(),
        issued_at,
        minutes,
    )
}

async fn issue(
    store: &dyn TokenStore,
    connector: &str,
    client: &str,
    issued_at: i64,
) -> ShareClaims {
    let claims = claims(connector, client, issued_at, 60);
    store
        .record_issued(&TokenRecord::from_claims(&claims))
        .await
        .unwrap();
    claims
}

/// Generates one test per store for each case.
macro_rules! store_suite {
    ($($case:ident),* $(,)?) => {
        mod embedded_store {
            $(#[tokio::test] async fn $case() { super::$case(super::embedded().store.as_ref()).await })*
        }
        mod single_redis {
            $(#[tokio::test] async fn $case() {
                let subject = super::single_redis().await;
                super::$case(subject.store.as_ref()).await
            })*
        }
        mod redis_cluster {
            $(#[tokio::test] async fn $case() {
                let subject = super::cluster_redis().await;
                super::$case(subject.store.as_ref()).await
            })*
        }
    };
}

store_suite!(
    a_minted_token_is_recorded_with_its_metadata,
    revocation_by_id_holds_and_is_idempotent,
    unknown_tokens_cannot_be_revoked,
    bulk_revocation_by_connector_spares_other_connectors_and_later_tokens,
    bulk_revocation_by_client_and_by_time,
    watermarks_never_move_back,
    listing_filters_and_pages,
    pruning_forgets_old_records_and_watermarks,
    the_audit_log_is_bounded_and_per_token_trails_are_kept,
    the_store_answers_ping,
    a_token_trail_keeps_its_newest_thousand_events,
);

async fn a_minted_token_is_recorded_with_its_metadata(store: &dyn TokenStore) {
    let t = now();
    let claims = issue(store, "obs/Namespace __TestOBS", "app", t).await;
    let record = store.token(&claims.jti).await.unwrap().expect("recorded");
    assert_eq!(record, TokenRecord::from_claims(&claims));
    assert_eq!(record.connector, "obs/Namespace __TestOBS");
    assert_eq!(record.scope, "file: a/b.txt");
    assert_eq!(record.expires_at - record.issued_at, 3600);
    assert!(!store.is_revoked(&claims).await.unwrap());
}

async fn revocation_by_id_holds_and_is_idempotent(store: &dyn TokenStore) {
    let t = now();
    let revoked = issue(store, "minio/m", "app", t).await;
    let kept = issue(store, "minio/m", "app", t).await;
    let Revocation::Revoked(record) = store.revoke(&revoked.jti, t + 1).await.unwrap() else {
        panic!("first revocation");
    };
    assert_eq!(record.revoked_at, Some(t + 1));
    assert!(store.is_revoked(&revoked).await.unwrap());
    assert!(!store.is_revoked(&kept).await.unwrap());
    assert!(matches!(
        store.revoke(&revoked.jti, t + 2).await.unwrap(),
        Revocation::AlreadyRevoked(r) if r.revoked_at == Some(t + 1)
    ));
    let stored = store.token(&revoked.jti).await.unwrap().unwrap();
    assert_eq!(stored.revoked_at, Some(t + 1));
}

async fn unknown_tokens_cannot_be_revoked(store: &dyn TokenStore) {
    assert_eq!(
        store
            .revoke("00000000000000000000000000000000", now())
            .await
            .unwrap(),
        Revocation::Unknown
    );
    assert_eq!(store.token("nope").await.unwrap(), None);
}

async fn bulk_revocation_by_connector_spares_other_connectors_and_later_tokens(
    store: &dyn TokenStore,
) {
    let t = now();
    let on_a = issue(store, "obs/a", "app", t - 10).await;
    let on_b = issue(store, "obs/b", "app", t - 10).await;
    let in_force = store
        .revoke_issued_before(&BulkScope::Connector("obs/a".into()), t - 5, t)
        .await
        .unwrap();
    assert_eq!(in_force, t - 5);
    assert!(store.is_revoked(&on_a).await.unwrap());
    assert!(!store.is_revoked(&on_b).await.unwrap());
    // Issued at or after the watermark: not covered.
    let later = issue(store, "obs/a", "app", t - 5).await;
    assert!(!store.is_revoked(&later).await.unwrap());
    let marks = store.watermarks().await.unwrap();
    let record = store.token(&on_a.jti).await.unwrap().unwrap();
    assert_eq!(record.state(t, &marks), TokenState::Revoked);
}

async fn bulk_revocation_by_client_and_by_time(store: &dyn TokenStore) {
    let t = now();
    let mine = issue(store, "obs/a", "alice", t - 100).await;
    let theirs = issue(store, "obs/a", "bob", t - 100).await;
    store
        .revoke_issued_before(&BulkScope::Client("alice".into()), t, t)
        .await
        .unwrap();
    assert!(store.is_revoked(&mine).await.unwrap());
    assert!(!store.is_revoked(&theirs).await.unwrap());

    let old = issue(store, "obs/c", "carol", t - 50).await;
    let new = issue(store, "obs/c", "carol", t - 10).await;
    store
        .revoke_issued_before(&BulkScope::All, t - 20, t)
        .await
        .unwrap();
    assert!(store.is_revoked(&old).await.unwrap());
    assert!(!store.is_revoked(&new).await.unwrap());
}

async fn watermarks_never_move_back(store: &dyn TokenStore) {
    let t = now();
    let scope = BulkScope::Client("dave".into());
    assert_eq!(store.revoke_issued_before(&scope, t, t).await.unwrap(), t);
    assert_eq!(
        store
            .revoke_issued_before(&scope, t - 100, t)
            .await
            .unwrap(),
        t
    );
    let early = issue(store, "obs/a", "dave", t - 50).await;
    assert!(store.is_revoked(&early).await.unwrap());
    assert_eq!(store.watermarks().await.unwrap().0.get("u:dave"), Some(&t));
}

async fn listing_filters_and_pages(store: &dyn TokenStore) {
    let t = now();
    let mut ids = Vec::new();
    for (connector, client) in [
        ("obs/x", "erin"),
        ("obs/x", "frank"),
        ("minio/y", "erin"),
        ("minio/y", "frank"),
        ("obs/x", "erin"),
    ] {
        ids.push(issue(store, connector, client, t).await.jti);
    }
    store.revoke(&ids[0], t).await.unwrap();
    let everything = TokenFilter::default();
    let all = store.list_tokens(&everything, t, None, 100).await.unwrap();
    let mut expected = ids.clone();
    expected.sort();
    let listed: Vec<String> = all.iter().map(|r| r.jti.clone()).collect();
    assert_eq!(listed, expected, "ordered by id");

    let page1 = store.list_tokens(&everything, t, None, 2).await.unwrap();
    let page2 = store
        .list_tokens(&everything, t, Some(&page1[1].jti), 2)
        .await
        .unwrap();
    assert_eq!(page1.len(), 2);
    assert_eq!(page2[0].jti, expected[2]);

    let erin_on_x = TokenFilter {
        connector: Some("obs/x".into()),
        client: Some("erin".into()),
        state: None,
    };
    assert_eq!(
        store
            .list_tokens(&erin_on_x, t, None, 100)
            .await
            .unwrap()
            .len(),
        2
    );
    let revoked = TokenFilter {
        state: Some(TokenState::Revoked),
        ..TokenFilter::default()
    };
    let revoked = store.list_tokens(&revoked, t, None, 100).await.unwrap();
    assert_eq!(
        revoked.iter().map(|r| &r.jti).collect::<Vec<_>>(),
        vec![&ids[0]]
    );
    // An hour later (inside the retention) they are listed as expired.
    let expired = TokenFilter {
        state: Some(TokenState::Expired),
        ..TokenFilter::default()
    };
    assert_eq!(
        store
            .list_tokens(&expired, t + 3600, None, 100)
            .await
            .unwrap()
            .len(),
        4
    );
}

async fn pruning_forgets_old_records_and_watermarks(store: &dyn TokenStore) {
    let t = now();
    // Expired longer ago than the retention (3600 s): gone after pruning.
    let old = claims("obs/p", "gina", t - 3 * 3600, 60);
    store
        .record_issued(&TokenRecord::from_claims(&old))
        .await
        .unwrap();
    let fresh = issue(store, "obs/p", "gina", t).await;
    store
        .revoke_issued_before(&BulkScope::Client("ancient".into()), t - 2 * 86_400, t)
        .await
        .unwrap();
    store.prune_expired(t).await.unwrap();
    assert_eq!(store.token(&old.jti).await.unwrap(), None);
    assert!(store.token(&fresh.jti).await.unwrap().is_some());
    let listed = store
        .list_tokens(
            &TokenFilter {
                client: Some("gina".into()),
                ..TokenFilter::default()
            },
            t,
            None,
            10,
        )
        .await
        .unwrap();
    assert_eq!(listed.len(), 1);
    assert!(!store
        .watermarks()
        .await
        .unwrap()
        .0
        .contains_key("u:ancient"));
}

async fn the_audit_log_is_bounded_and_per_token_trails_are_kept(store: &dyn TokenStore) {
    let t = now();
    let token = issue(store, "obs/q", "hank", t).await;
    let event = |i: i64, kind| AuditEvent {
        at: t + i,
        kind: Some(kind),
        token_id: (i % 10 == 0).then(|| token.jti.clone()),
        status: Some(200),
        token_expires_at: Some(token.expires_at),
        ..AuditEvent::default()
    };
    let batch: Vec<AuditEvent> = (0..80).map(|i| event(i, AuditKind::View)).collect();
    store.append_audit(&batch[..40]).await.unwrap();
    store.append_audit(&batch[40..]).await.unwrap();

    let kept = store.audit_since(t - 60, 1000).await.unwrap();
    assert_eq!(kept.len(), 50, "bounded at audit_max_events");
    assert_eq!(kept[0].at, t + 30, "the oldest are dropped");
    assert_eq!(kept.last().unwrap().at, t + 79);
    let since = store.audit_since(t + 70, 5).await.unwrap();
    assert_eq!(
        since.iter().map(|e| e.at).collect::<Vec<_>>(),
        (70..75).map(|i| t + i).collect::<Vec<_>>()
    );

    // A token's trail is kept with the token, whatever the log's bound.
    let trail = store.audit_for_token(&token.jti).await.unwrap();
    let expected: Vec<i64> = (0..80).step_by(10).map(|i| t + i).collect();
    assert_eq!(trail.iter().map(|e| e.at).collect::<Vec<_>>(), expected);
}

async fn a_token_trail_keeps_its_newest_thousand_events(store: &dyn TokenStore) {
    let t = now();
    let token = issue(store, "obs/busy", "ivy", t).await;
    let events: Vec<AuditEvent> = (0..1010)
        .map(|i| AuditEvent {
            at: t + i,
            kind: Some(AuditKind::View),
            token_id: Some(token.jti.clone()),
            token_expires_at: Some(token.expires_at),
            ..AuditEvent::default()
        })
        .collect();
    for chunk in events.chunks(300) {
        store.append_audit(chunk).await.unwrap();
    }
    let trail = store.audit_for_token(&token.jti).await.unwrap();
    assert_eq!(trail.len(), 1000);
    assert_eq!(trail[0].at, t + 10);
    assert_eq!(trail.last().unwrap().at, t + 1009);
}

async fn the_store_answers_ping(store: &dyn TokenStore) {
    store.ping().await.unwrap();
}
