//! What operators watch: `/metrics` and `/readyz`.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

async fn metrics_text(app: &TestApp) -> String {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), StatusCode::OK);
    response.text().await.unwrap()
}

/// The value of the sample named `name` whose labels hold every `labels`
/// part, if there is one.
fn sample(text: &str, name: &str, labels: &[&str]) -> Option<f64> {
    text.lines()
        .filter(|l| l.starts_with(name))
        .filter(|l| {
            let rest = &l[name.len()..];
            rest.starts_with('{') || rest.starts_with(' ')
        })
        .find(|l| labels.iter().all(|part| l.contains(part)))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_mints_revocations_bytes_and_store_and_backend_latency() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "hello");
    let (token, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 5}),
        )
        .await;
    let response = app.view("k", &token).await;
    assert_eq!(response.text().await.unwrap(), "hello");
    assert_eq!(app.revoke(&jti).await.status(), StatusCode::OK);
    app.view("k", &token).await;
    // A method and a path that are client input: neither becomes a label.
    app.http
        .request(
            reqwest::Method::from_bytes(b"BREW").unwrap(),
            format!("{}/no/such/v4.local.path", app.address),
        )
        .send()
        .await
        .unwrap();

    // Bytes are counted when the body is done: wait for it (bounded).
    let deadline = Instant::now() + Duration::from_secs(5);
    let text = loop {
        let text = metrics_text(&app).await;
        if sample(&text, "sharetoken_bytes_served_total", &[]) == Some(5.0) {
            break text;
        }
        assert!(Instant::now() < deadline, "bytes not counted: {text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let view_route = r#"route="/u-route/baas/sys/v1.1/objectstorage/viewshareobject""#;
    let requests = "sharetoken_http_requests_total";
    assert_eq!(
        sample(
            &text,
            requests,
            &[view_route, r#"method="GET""#, r#"status="200""#]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(&text, requests, &[view_route, r#"status="401""#]),
        Some(1.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            requests,
            &[
                r#"route="unmatched""#,
                r#"method="other""#,
                r#"status="404""#
            ]
        ),
        Some(1.0),
        "{text}"
    );
    assert_eq!(sample(&text, "sharetoken_mints_total", &[]), Some(1.0));
    assert_eq!(
        sample(&text, "sharetoken_revocations_total", &[r#"kind="token""#]),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &text,
            "sharetoken_token_check_failures_total",
            &[r#"reason="ST.ShareTokenRevoked""#]
        ),
        Some(1.0)
    );
    assert_eq!(sample(&text, "sharetoken_store_up", &[]), Some(1.0));
    assert!(
        sample(
            &text,
            "sharetoken_store_operation_seconds_count",
            &[r#"operation="is_revoked""#]
        ) >= Some(2.0),
        "{text}"
    );
    assert_eq!(
        sample(
            &text,
            "sharetoken_backend_open_seconds_count",
            &[r#"connector="objectstorageproxy/local""#]
        ),
        Some(1.0),
        "{text}"
    );
    // Nothing secret, and no client input, in any sample.
    for secret in ["v4.local", "app-secret", "ops-secret", "BREW", "no/such"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
}

#[tokio::test]
async fn readyz_sees_a_local_directory_moved_away_but_not_a_link_loop_inside_it() {
    let app = spawn_app().await;
    let objects = app.object_file(LOCAL, "");
    app.put(LOCAL, "here.txt", "here");
    std::os::unix::fs::symlink(".", objects.join("self")).unwrap();
    std::os::unix::fs::symlink("..", objects.join("up")).unwrap();
    let state = |body: Value| body["result"]["connectors"]["objectstorageproxy/local"].clone();
    let body: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(state(body), "ready");
    let moved = app.scratch().join("moved-objects");
    std::fs::rename(&objects, &moved).unwrap();
    std::fs::create_dir(&objects).unwrap();
    let body: Value = app.get("/readyz").await.json().await.unwrap();
    assert_eq!(
        state(body),
        "unavailable",
        "a new directory under the old path needs a restart"
    );
}

#[tokio::test]
async fn readyz_reports_the_store_and_each_connector() {
    let app = spawn_app().await;
    let response = app.get("/readyz").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body,
        json!({
            "resCode": "0",
            "resMsg": "ready",
            "result": {
                "store": "up",
                "connectors": {
                    "minio/broken": "unavailable",
                    "obs/Namespace __TestOBS": "ready",
                    "objectstorageproxy/local": "ready",
                }
            }
        })
    );
    let response = app
        .http
        .head(format!("{}/readyz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_get_endpoint_answers_head_alike_with_no_body() {
    let app = spawn_app().await;
    let admin = app.access_token(ADMIN).await;
    for path in [
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
        "/admin/v1/tokens",
        "/admin/v1/audit",
    ] {
        let url = format!("{}{path}", app.address);
        let send = |method| {
            app.http
                .request(method, &url)
                .header("access-token", &admin)
                .send()
        };
        let get = send(reqwest::Method::GET).await.unwrap();
        let head = send(reqwest::Method::HEAD).await.unwrap();
        assert_eq!(get.status(), StatusCode::OK, "GET {path}");
        assert_eq!(head.status(), StatusCode::OK, "HEAD {path}");
        assert_eq!(
            head.headers()["content-type"],
            get.headers()["content-type"],
            "{path}"
        );
        assert!(
            head.bytes().await.unwrap().is_empty(),
            "HEAD {path} has a body"
        );
    }
}
