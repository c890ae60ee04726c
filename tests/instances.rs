//! Several real sharetoken processes on one Redis behave as one (case R2),
//! and fail closed while Redis is down or slow, recovering by themselves
//! (case R3).

mod support;

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::instance::{configure_store, Instance, ADMIN, CONTENT, OBJECT, SHARER};
use support::redis::{unique_prefix, RedisServer};
use tempfile::TempDir;

/// The bound on every Redis command in these tests.
const COMMAND_TIMEOUT_MS: u64 = 300;

/// Writes a configuration for instances sharing `redis_url` and returns
/// the directory holding it, the objects and each instance's data.
fn configure(redis_url: &str) -> TempDir {
    configure_with(redis_url, "")
}

/// As [`configure`], with more `[store.redis]` settings.
fn configure_with(redis_url: &str, more: &str) -> TempDir {
    configure_store(&format!(
        r#"
[store]
kind = "redis"
prune_interval_seconds = 1

[store.redis]
url = "{redis_url}"
key_prefix = "{prefix}"
connect_timeout_ms = {COMMAND_TIMEOUT_MS}
command_timeout_ms = {COMMAND_TIMEOUT_MS}
{more}
"#,
        prefix = unique_prefix("instances"),
    ))
}

/// A configuration for one instance on the embedded store.
fn configure_embedded() -> TempDir {
    configure_store("[store]\nkind = \"embedded\"\n")
}

/// The Redis key prefix of a configuration written by [`configure`].
fn key_prefix(dir: &TempDir) -> String {
    let config = std::fs::read_to_string(config_of(dir)).unwrap();
    config
        .lines()
        .find_map(|l| l.strip_prefix("key_prefix = \""))
        .unwrap()
        .trim_end_matches('"')
        .to_owned()
}

fn config_of(dir: &TempDir) -> std::path::PathBuf {
    dir.path().join("sharetoken.toml")
}

async fn start(dir: &TempDir, name: &str) -> Instance {
    Instance::start(&config_of(dir), dir.path(), name).await
}

/// Mints a file share of OBJECT on `instance`; returns (token, id).
async fn mint(instance: &Instance) -> (String, String) {
    let access = instance.access_token(SHARER.0, SHARER.1).await;
    let body = json!({"shareType": 0, "key": OBJECT, "timeoutInMinutes": 30});
    let response = instance.mint(&access, &body).await;
    assert_eq!(response.status(), StatusCode::OK, "{}", instance.log_text());
    let answer: Value = response.json().await.unwrap();
    (
        answer["result"]["shareToken"].as_str().unwrap().to_owned(),
        answer["result"]["tokenId"].as_str().unwrap().to_owned(),
    )
}

async fn revoke(instance: &Instance, jti: &str) {
    let admin = instance.access_token(ADMIN.0, ADMIN.1).await;
    let response = instance
        .admin_post(&admin, &format!("/admin/v1/tokens/{jti}/revoke"), None)
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

async fn status_and_code(response: reqwest::Response) -> (StatusCode, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (status, body["resCode"].as_str().unwrap_or("").to_owned())
}

async fn assert_served(instance: &Instance, token: &str) {
    let response = instance.view(OBJECT, token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), CONTENT);
}

async fn assert_revoked(instance: &Instance, token: &str) {
    let answer = status_and_code(instance.view(OBJECT, token).await).await;
    assert_eq!(
        answer,
        (StatusCode::UNAUTHORIZED, "ST.ShareTokenRevoked".into())
    );
}

// Case R2 (../shared/cases/README.md).
#[tokio::test]
async fn r2_a_revocation_through_one_instance_holds_on_every_instance_and_across_restarts() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let mut a = start(&dir, "a").await;
    let mut b = start(&dir, "b").await;

    let (token, jti) = mint(&a).await;
    let (other, _) = mint(&a).await;
    assert_served(&b, &token).await;
    revoke(&a, &jti).await;
    // At once, on the other instance.
    assert_revoked(&b, &token).await;
    assert_revoked(&a, &token).await;
    assert_served(&b, &other).await;

    a.restart().await;
    b.restart().await;
    assert_revoked(&a, &token).await;
    assert_revoked(&b, &token).await;
    assert_served(&a, &other).await;
}

/// Calls of one command Redis has answered since its last `CONFIG RESETSTAT`.
fn command_calls(redis: &RedisServer, command: &str) -> u64 {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .find_map(|l| l.strip_prefix(&format!("cmdstat_{command}:calls=")))
        .and_then(|rest| rest.split(',').next()?.parse().ok())
        .unwrap_or(0)
}

#[tokio::test]
async fn views_are_checked_against_the_revocation_view_without_a_round_trip_to_redis() {
    let redis = RedisServer::start();
    // A lease far longer than the default's 200 ms, so that a busy machine
    // cannot delay a read of the log past it (which would rightly send
    // views to Redis); the revoke below waits that long.
    let dir = configure_with(&redis.url(), "revocation_lease_ms = 3000");
    let a = start(&dir, "a").await;
    let b = start(&dir, "b").await;
    let (token, jti) = mint(&a).await;
    let (other, _) = mint(&a).await;
    redis.cli(&["CONFIG", "RESETSTAT"]);
    // Both instances follow the log (four times a lease) and hold a lease.
    tokio::time::sleep(Duration::from_millis(1000)).await;
    for _ in 0..10 {
        assert_served(&a, &token).await;
        assert_served(&b, &token).await;
    }
    // The direct check reads the watermarks (HMGET) with the revocation
    // key (EXISTS, which the log's script also runs).
    assert_eq!(command_calls(&redis, "hmget"), 0);
    assert!(command_calls(&redis, "evalsha") > 0);

    // A revoke answers once both views have it: refused at once on both,
    // still without asking Redis.
    revoke(&b, &jti).await;
    assert_revoked(&a, &token).await;
    assert_revoked(&b, &token).await;
    assert_served(&a, &other).await;
    assert_eq!(command_calls(&redis, "hmget"), 0);
}

#[tokio::test]
async fn a_revocation_log_that_goes_back_is_read_again_from_its_start() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let a = start(&dir, "a").await;
    let b = start(&dir, "b").await;
    let prefix = key_prefix(&dir);
    // An entry with an id from the future, as a replica whose clock is
    // ahead could have written it before a failover lost it.
    redis.cli(&[
        "XADD",
        &format!("{prefix}:{{rev}}:log"),
        "99999999999999-0",
        "note",
        "ahead",
    ]);
    let (first, first_id) = mint(&a).await;
    revoke(&b, &first_id).await;
    assert_revoked(&a, &first).await;

    // Redis loses everything (a restart without persistence, a failover
    // to an empty replica): new entries get ids below the one the views
    // read last, and must still be read.
    redis.cli(&["FLUSHALL"]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (token, jti) = mint(&a).await;
    assert_served(&a, &token).await;
    revoke(&b, &jti).await;
    assert_revoked(&a, &token).await;
    assert_revoked(&b, &token).await;
}

#[tokio::test]
async fn a_revoke_waits_for_the_longest_lease_any_instance_runs_with() {
    let redis = RedisServer::start();
    // a keeps no view at all; b trusts its view for 2 s after each read.
    let dir = configure_with(&redis.url(), "revocation_lease_ms = 0");
    let long = dir.path().join("long-lease.toml");
    let config = std::fs::read_to_string(config_of(&dir)).unwrap();
    std::fs::write(
        &long,
        config.replace("revocation_lease_ms = 0", "revocation_lease_ms = 2000"),
    )
    .unwrap();
    let a = start(&dir, "a").await;
    let b = Instance::start(&long, dir.path(), "b").await;
    let (token, jti) = mint(&a).await;
    // b reads the log every 500 ms.
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert_served(&b, &token).await;
    revoke(&a, &jti).await;
    assert_revoked(&b, &token).await;
    assert_revoked(&a, &token).await;
}

#[tokio::test]
async fn a_revocation_log_that_lost_entries_sends_the_tokens_they_covered_to_redis() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let a = start(&dir, "a").await;
    let mut b = start(&dir, "b").await;
    let log = format!("{}:{{rev}}:log", key_prefix(&dir));
    let (trimmed, trimmed_id) = mint(&a).await;
    let (deleted, deleted_id) = mint(&a).await;
    revoke(&a, &trimmed_id).await;
    // Every entry trimmed away (by hand, or by a memory policy).
    redis.cli(&["XTRIM", &log, "MAXLEN", "0"]);
    b.restart().await;
    assert_revoked(&a, &trimmed).await;
    assert_revoked(&b, &trimmed).await;
    // The whole log deleted: it begins again, whole from then on.
    revoke(&b, &deleted_id).await;
    redis.cli(&["DEL", &log]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    b.restart().await;
    for instance in [&a, &b] {
        assert_revoked(instance, &trimmed).await;
        assert_revoked(instance, &deleted).await;
    }
    // Tokens minted after are revoked through the new log at once.
    let (later, later_id) = mint(&b).await;
    assert_served(&a, &later).await;
    revoke(&b, &later_id).await;
    assert_revoked(&a, &later).await;
}

#[tokio::test]
async fn once_redis_is_back_after_a_restart_no_request_pays_for_the_broken_connection() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    let instance = start(&dir, "a").await;
    let (token, _) = mint(&instance).await;
    // Every worker thread has used its connection.
    for _ in 0..8 {
        assert_served(&instance, &token).await;
        mint(&instance).await;
    }
    redis.kill();
    redis.restart();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Each worker's connection broke with the restart: each is made again
    // by the request that finds it broken, which is then served.
    for _ in 0..8 {
        mint(&instance).await;
        assert_served(&instance, &token).await;
    }
}

#[tokio::test]
async fn with_no_revocation_lease_every_view_asks_redis() {
    let redis = RedisServer::start();
    let dir = configure_with(&redis.url(), "revocation_lease_ms = 0");
    let a = start(&dir, "a").await;
    let (token, jti) = mint(&a).await;
    redis.cli(&["CONFIG", "RESETSTAT"]);
    for _ in 0..5 {
        assert_served(&a, &token).await;
    }
    assert_eq!(command_calls(&redis, "hmget"), 5);
    assert_eq!(command_calls(&redis, "evalsha"), 0);
    revoke(&a, &jti).await;
    assert_revoked(&a, &token).await;
}

#[tokio::test]
async fn a_bulk_revocation_on_one_instance_holds_on_the_other() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let a = start(&dir, "a").await;
    let b = start(&dir, "b").await;
    let (token, jti) = mint(&a).await;
    assert_served(&b, &token).await;

    let admin = b.access_token(ADMIN.0, ADMIN.1).await;
    let response = b
        .admin_post(
            &admin,
            "/admin/v1/revocations",
            Some(json!({"client": SHARER.0})),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["result"]["scope"], "client app");
    assert_revoked(&a, &token).await;

    // The admin API on either instance sees the same records and trail.
    let details: Value = a
        .admin_get(
            &a.access_token(ADMIN.0, ADMIN.1).await,
            &format!("/admin/v1/tokens/{jti}"),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(details["result"]["state"], "revoked");
    // Audit is written off the request path: give the writer a moment.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let details: Value = b
            .admin_get(&admin, &format!("/admin/v1/tokens/{jti}"))
            .await
            .json()
            .await
            .unwrap();
        let kinds: Vec<String> = details["result"]["audit"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["kind"].as_str().unwrap().to_owned())
            .collect();
        if kinds == ["mint", "view", "deny"] || Instant::now() > deadline {
            assert_eq!(kinds, ["mint", "view", "deny"]);
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Waits (bounded) until Redis answers again: the valid token is served
/// and the revoked one refused as revoked. Meanwhile the connection may
/// still be re-establishing (503), but the revoked token is never served.
async fn wait_until_recovered(instance: &Instance, revoked: &str, valid: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let (revoked_status, revoked_code) =
            status_and_code(instance.view(OBJECT, revoked).await).await;
        assert_ne!(revoked_status, StatusCode::OK, "a revoked token was served");
        let valid_response = instance.view(OBJECT, valid).await;
        let valid_status = valid_response.status();
        if valid_status == StatusCode::OK {
            assert_eq!(valid_response.text().await.unwrap(), CONTENT);
            if revoked_code == "ST.ShareTokenRevoked" {
                return;
            }
        }
        assert!(
            Instant::now() < deadline,
            "did not recover: revoked {revoked_status}, valid {valid_status}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// A view while Redis cannot answer: never 200 for the revoked token, 503
/// for every token, and quickly.
async fn assert_fails_closed(instance: &Instance, revoked: &str, valid: &str) {
    for token in [revoked, valid] {
        let started = Instant::now();
        let answer = status_and_code(instance.view(OBJECT, token).await).await;
        let elapsed = started.elapsed();
        assert_eq!(
            answer,
            (
                StatusCode::SERVICE_UNAVAILABLE,
                "ST.StoreUnavailable".into()
            )
        );
        // A bound on the answer, not a performance figure: no hang.
        assert!(
            elapsed < Duration::from_secs(3),
            "answered after {elapsed:?}"
        );
    }
}

// Case R3 (../shared/cases/README.md).
#[tokio::test]
async fn r3_while_redis_is_down_views_fail_closed_and_recover_without_a_restart() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    let instance = start(&dir, "a").await;
    let (t1, jti1) = mint(&instance).await;
    let (t2, _) = mint(&instance).await;
    revoke(&instance, &jti1).await;

    redis.kill();
    // For the revocation view's lease (200 ms) views are still answered
    // from it, rightly: no revoke can complete while Redis is down.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_fails_closed(&instance, &t1, &t2).await;
    let access = instance.access_token(SHARER.0, SHARER.1).await;
    let body = json!({"shareType": 0, "key": OBJECT, "timeoutInMinutes": 5});
    let answer = status_and_code(instance.mint(&access, &body).await).await;
    assert_eq!(
        answer,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ST.StoreUnavailable".into()
        )
    );

    redis.restart();
    wait_until_recovered(&instance, &t1, &t2).await;
    assert!(!instance.log_text().contains("v4.local."));
}

// Case R3 (../shared/cases/README.md).
#[tokio::test]
async fn r3_while_redis_answers_late_views_fail_closed_and_recover() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let instance = start(&dir, "a").await;
    let (t1, jti1) = mint(&instance).await;
    let (t2, _) = mint(&instance).await;
    revoke(&instance, &jti1).await;

    for stall in [
        vec!["DEBUG", "SLEEP", "3"],
        vec!["CLIENT", "PAUSE", "3000", "ALL"],
    ] {
        let port = redis.port;
        let stalled = std::thread::spawn(move || {
            std::process::Command::new("redis-cli")
                .args(["-p", &port.to_string()])
                .args(&stall)
                .output()
                .unwrap()
        });
        // Let the stall begin.
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_fails_closed(&instance, &t1, &t2).await;
        stalled.join().unwrap();
        wait_until_recovered(&instance, &t1, &t2).await;
    }
}

#[tokio::test]
async fn an_instance_starts_while_redis_is_down_and_serves_once_it_is_up() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    redis.kill();
    let instance = start(&dir, "a").await;
    let access = instance.access_token(SHARER.0, SHARER.1).await;
    let body = json!({"shareType": 0, "key": OBJECT, "timeoutInMinutes": 5});
    let answer = status_and_code(instance.mint(&access, &body).await).await;
    assert_eq!(
        answer,
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "ST.StoreUnavailable".into()
        )
    );
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = instance.mint(&access, &body).await;
        if response.status() == StatusCode::OK {
            break;
        }
        assert!(Instant::now() < deadline, "mint did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // The layout version was recorded once Redis answered.
    let deadline = Instant::now() + Duration::from_secs(5);
    while redis.cli(&["KEYS", "*:{meta}:layout"]).trim().is_empty() {
        assert!(Instant::now() < deadline, "layout never recorded");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn an_instance_refuses_a_newer_redis_layout() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let prefix = key_prefix(&dir);
    redis.cli(&["SET", &format!("{prefix}:{{meta}}:layout"), "99"]);
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_sharetoken"))
        .args(["--config", config_of(&dir).to_str().unwrap(), "serve"])
        .env("SHARETOKEN__SERVER__LISTEN", "127.0.0.1:0")
        .env("SHARETOKEN__SERVER__DATA_DIR", dir.path().join("data"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("holds layout 99"), "{stderr}");
    assert!(
        stderr.contains("newer than this sharetoken knows (2)"),
        "{stderr}"
    );
}

/// A view through `base` that tolerates a server that is gone: the status,
/// or None when the connection failed.
async fn view_status(http: &reqwest::Client, base: &str, token: &str) -> Option<StatusCode> {
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("object", OBJECT)
        .append_pair("shareToken", token)
        .finish();
    http.get(format!(
        "{base}/u-route/baas/sys/v1.1/objectstorage/viewshareobject?{query}"
    ))
    .timeout(Duration::from_secs(5))
    .send()
    .await
    .ok()
    .map(|r| r.status())
}

/// Views `revoked` and `valid` through every base until `stop`; returns
/// each answer as (token was revoked, status, how long it took).
fn view_traffic(
    bases: Vec<String>,
    revoked: String,
    valid: String,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> tokio::task::JoinHandle<Vec<(bool, Option<StatusCode>, Duration)>> {
    tokio::spawn(async move {
        let http = reqwest::Client::builder().no_proxy().build().unwrap();
        let mut answers = Vec::new();
        while !stop.load(std::sync::atomic::Ordering::Relaxed) {
            for base in &bases {
                for (is_revoked, token) in [(true, &revoked), (false, &valid)] {
                    let started = Instant::now();
                    let status = view_status(&http, base, token).await;
                    answers.push((is_revoked, status, started.elapsed()));
                }
            }
        }
        answers
    })
}

#[tokio::test]
async fn redis_stopped_paused_and_restarted_under_traffic_never_serves_a_revoked_token() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    let a = start(&dir, "a").await;
    let b = start(&dir, "b").await;
    let (revoked, jti) = mint(&a).await;
    let (valid, _) = mint(&b).await;
    revoke(&b, &jti).await;

    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let traffic: Vec<_> = (0..4)
        .map(|_| {
            view_traffic(
                vec![a.base.clone(), b.base.clone()],
                revoked.clone(),
                valid.clone(),
                stop.clone(),
            )
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.kill();
    tokio::time::sleep(Duration::from_secs(1)).await;
    redis.restart();
    tokio::time::sleep(Duration::from_millis(500)).await;
    redis.cli(&["CLIENT", "PAUSE", "1000", "ALL"]);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    redis.cli(&["DEBUG", "SLEEP", "1"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    // Both instances recover by themselves.
    wait_until_recovered(&a, &revoked, &valid).await;
    wait_until_recovered(&b, &revoked, &valid).await;
    stop.store(true, std::sync::atomic::Ordering::Relaxed);

    let mut answers = Vec::new();
    for task in traffic {
        answers.extend(task.await.unwrap());
    }
    let mut refused_while_down = 0;
    for (is_revoked, status, took) in &answers {
        let status = status.expect("the instances stayed up");
        // A bound, not a performance figure: nobody waits on a dead Redis.
        assert!(*took < Duration::from_secs(3), "an answer took {took:?}");
        if *is_revoked {
            assert!(
                status == StatusCode::UNAUTHORIZED || status == StatusCode::SERVICE_UNAVAILABLE,
                "a revoked token got {status}"
            );
        } else {
            assert!(
                status == StatusCode::OK || status == StatusCode::SERVICE_UNAVAILABLE,
                "a valid token got {status}"
            );
        }
        refused_while_down += usize::from(status == StatusCode::SERVICE_UNAVAILABLE);
    }
    // The faults were really seen by the traffic.
    assert!(
        refused_while_down > 0,
        "{} answers, none 503",
        answers.len()
    );
    assert!(answers
        .iter()
        .any(|(r, s, _)| !r && *s == Some(StatusCode::OK)));
}

#[tokio::test]
async fn once_a_revoke_has_answered_no_instance_serves_the_token() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    let a = start(&dir, "a").await;
    let b = start(&dir, "b").await;
    let admin = a.access_token(ADMIN.0, ADMIN.1).await;
    for round in 0..5 {
        let (token, jti) = mint(&a).await;
        let revoked_at: std::sync::Arc<std::sync::Mutex<Option<Instant>>> = Default::default();
        let viewers: Vec<_> = [a.base.clone(), b.base.clone()]
            .into_iter()
            .cycle()
            .take(4)
            .map(|base| {
                let token = token.clone();
                let revoked_at = revoked_at.clone();
                tokio::spawn(async move {
                    let http = reqwest::Client::builder().no_proxy().build().unwrap();
                    let deadline = Instant::now() + Duration::from_secs(20);
                    loop {
                        let started = Instant::now();
                        let status = view_status(&http, &base, &token).await.unwrap();
                        // A store slower than its command timeout (a busy
                        // machine) fails closed: 503, never a serve.
                        let answers = [
                            StatusCode::OK,
                            StatusCode::UNAUTHORIZED,
                            StatusCode::SERVICE_UNAVAILABLE,
                        ];
                        assert!(answers.contains(&status), "{status}");
                        let acknowledged = *revoked_at.lock().unwrap();
                        if let Some(at) = acknowledged {
                            // Sent after the revoke answered: must be refused.
                            if started > at {
                                assert_ne!(
                                    status,
                                    StatusCode::OK,
                                    "served through {base} after the revoke answered"
                                );
                                if status == StatusCode::UNAUTHORIZED {
                                    return;
                                }
                            }
                        }
                        assert!(Instant::now() < deadline, "never refused as revoked");
                    }
                })
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50 * (round + 1))).await;
        // A revoke that failed closed (503) was not acknowledged: retry it.
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let response = a
                .admin_post(&admin, &format!("/admin/v1/tokens/{jti}/revoke"), None)
                .await;
            if response.status() == StatusCode::OK {
                break;
            }
            assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
            assert!(Instant::now() < deadline, "the revoke never answered");
        }
        *revoked_at.lock().unwrap() = Some(Instant::now());
        for viewer in viewers {
            viewer.await.unwrap();
        }
    }
}

/// Mints and revokes on `instance` while it is killed with SIGKILL, then
/// restarts it: every revocation that was answered 200 still holds.
async fn kill_9_keeps_every_acknowledged_revocation(mut instance: Instance) {
    let admin = instance.access_token(ADMIN.0, ADMIN.1).await;
    let access = instance.access_token(SHARER.0, SHARER.1).await;
    let mut tokens = Vec::new();
    for _ in 0..60 {
        tokens.push(mint(&instance).await);
    }
    let base = instance.base.clone();
    let acknowledged: std::sync::Arc<std::sync::Mutex<Vec<(String, String)>>> = Default::default();
    let revoker = {
        let (base, admin, acknowledged) = (base.clone(), admin.clone(), acknowledged.clone());
        let tokens = tokens.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            for (token, jti) in tokens {
                let answer = http
                    .post(format!("{base}/admin/v1/tokens/{jti}/revoke"))
                    .header("access-token", &admin)
                    .send()
                    .await;
                match answer {
                    Ok(r) if r.status() == StatusCode::OK => {
                        acknowledged.lock().unwrap().push((token, jti))
                    }
                    _ => return,
                }
            }
        })
    };
    let minter = {
        let base = base.clone();
        tokio::spawn(async move {
            let http = reqwest::Client::builder().no_proxy().build().unwrap();
            let body = json!({"shareType": 0, "key": OBJECT, "timeoutInMinutes": 30});
            loop {
                let answer = http
                    .post(format!(
                        "{base}/u-route/baas/sys/v1.1/connectors/objectstorageproxy/local/sharetoken"
                    ))
                    .header("access-token", &access)
                    .json(&body)
                    .send()
                    .await;
                if answer.is_err() {
                    return;
                }
            }
        })
    };
    // Kill in the middle of the revocations.
    let deadline = Instant::now() + Duration::from_secs(20);
    while acknowledged.lock().unwrap().len() < 20 {
        assert!(Instant::now() < deadline, "revocations did not proceed");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    instance.stop(); // SIGKILL
    revoker.await.unwrap();
    minter.await.unwrap();
    let acknowledged = acknowledged.lock().unwrap().clone();
    assert!(acknowledged.len() >= 20 && acknowledged.len() < tokens.len());

    instance.restart().await;
    for (token, _) in &acknowledged {
        assert_revoked(&instance, token).await;
    }
    // A token that was never revoked is still served.
    assert_served(&instance, &tokens.last().unwrap().0).await;
}

#[tokio::test]
async fn kill_9_while_minting_and_revoking_on_the_embedded_store_loses_no_revocation() {
    let dir = configure_embedded();
    kill_9_keeps_every_acknowledged_revocation(start(&dir, "a").await).await;
}

#[tokio::test]
async fn kill_9_while_minting_and_revoking_on_redis_loses_no_revocation() {
    let redis = RedisServer::start();
    let dir = configure(&redis.url());
    kill_9_keeps_every_acknowledged_revocation(start(&dir, "a").await).await;
}

#[tokio::test]
async fn readyz_is_503_while_redis_is_down_and_200_again_after() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    let instance = start(&dir, "a").await;
    let ready = |instance: &Instance| {
        let url = format!("{}/readyz", instance.base);
        let http = instance.http.clone();
        async move {
            let response = http.get(url).send().await.unwrap();
            let status = response.status();
            let body: Value = response.json().await.unwrap();
            (status, body["result"]["store"].as_str().unwrap().to_owned())
        }
    };
    assert_eq!(ready(&instance).await, (StatusCode::OK, "up".into()));
    redis.kill();
    assert_eq!(
        ready(&instance).await,
        (StatusCode::SERVICE_UNAVAILABLE, "down".into())
    );
    redis.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    while ready(&instance).await.0 != StatusCode::OK {
        assert!(Instant::now() < deadline, "not ready after Redis returned");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// An instance on the embedded store with `grace` seconds to shut down,
/// serving a 64 MiB object; returns it with a share token for that object.
async fn serving_a_large_object(dir: &TempDir, grace: u64) -> (Instance, String) {
    let config = config_of(dir);
    let text = std::fs::read_to_string(&config).unwrap().replacen(
        "[server]\n",
        &format!("[server]\nshutdown_grace_seconds = {grace}\n"),
        1,
    );
    std::fs::write(&config, text).unwrap();
    let big: Vec<u8> = (0..64 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(dir.path().join("objects/docs/big.bin"), big).unwrap();
    let instance = start(dir, "a").await;
    let access = instance.access_token(SHARER.0, SHARER.1).await;
    let body = json!({"shareType": 0, "key": "docs/big.bin", "timeoutInMinutes": 30});
    let answer: Value = instance.mint(&access, &body).await.json().await.unwrap();
    let token = answer["result"]["shareToken"].as_str().unwrap().to_owned();
    (instance, token)
}

/// Reads a response at about `per_second` bytes a second; the bytes read,
/// or the error that cut it.
async fn read_slowly(
    mut response: reqwest::Response,
    per_second: usize,
) -> Result<Vec<u8>, reqwest::Error> {
    let mut body = Vec::new();
    let started = Instant::now();
    while let Some(chunk) = response.chunk().await? {
        body.extend_from_slice(&chunk);
        let due = Duration::from_secs_f64(body.len() as f64 / per_second as f64);
        if let Some(wait) = due.checked_sub(started.elapsed()) {
            tokio::time::sleep(wait).await;
        }
    }
    Ok(body)
}

#[tokio::test]
async fn a_download_is_cut_once_its_instance_cannot_reach_redis_for_two_checks() {
    let mut redis = RedisServer::start();
    let dir = configure(&redis.url());
    let (instance, token) = serving_a_large_object(&dir, 30).await;
    let response = instance.view("docs/big.bin", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    // 64 MiB at 2 MiB/s: half a minute, were it not cut.
    let reading = tokio::spawn(read_slowly(response, 2 * 1024 * 1024));
    tokio::time::sleep(Duration::from_millis(500)).await;
    // A partition: a revoke made elsewhere meanwhile could not be seen.
    redis.kill();
    let cut = tokio::time::timeout(Duration::from_secs(20), reading)
        .await
        .expect("the download is cut, not left running")
        .unwrap();
    assert!(cut.is_err(), "the body ended as if whole");
    assert!(instance
        .log_text()
        .contains("checks in a row unanswered during a download"));
}

#[tokio::test]
async fn on_sigterm_a_download_in_flight_finishes_then_the_server_exits() {
    let dir = configure_embedded();
    let (mut instance, token) = serving_a_large_object(&dir, 30).await;
    let response = instance.view("docs/big.bin", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    // About 2 s of download at 32 MiB/s.
    let download = tokio::spawn(read_slowly(response, 32 * 1024 * 1024));
    tokio::time::sleep(Duration::from_millis(300)).await;
    instance.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // No new connections are taken.
    let refused = reqwest::Client::new()
        .get(format!("{}/healthz", instance.base))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    assert!(
        refused.is_err(),
        "a new request was answered during shutdown"
    );
    // The download in flight completes, byte for byte.
    let body = download.await.unwrap().expect("the download finished");
    assert_eq!(body.len(), 64 * 1024 * 1024);
    assert!(body.iter().enumerate().all(|(i, &b)| b == (i % 251) as u8));
    let status = instance.wait_for_exit(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");
}

#[tokio::test]
async fn on_sigterm_a_download_longer_than_the_grace_period_is_cut_at_its_end() {
    let dir = configure_embedded();
    let (mut instance, token) = serving_a_large_object(&dir, 1).await;
    let response = instance.view("docs/big.bin", &token).await;
    // About 16 s of download at 4 MiB/s: far past the 1 s grace.
    let download = tokio::spawn(read_slowly(response, 4 * 1024 * 1024));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let asked = Instant::now();
    instance.terminate();
    instance.wait_for_exit(Duration::from_secs(15)).await;
    // A bound, not a performance figure: the grace period, not the download.
    assert!(
        asked.elapsed() < Duration::from_secs(10),
        "{:?}",
        asked.elapsed()
    );
    let cut = download.await.unwrap();
    assert!(
        cut.as_ref().map_or(true, |b| b.len() < 64 * 1024 * 1024),
        "the download was not cut"
    );
}
