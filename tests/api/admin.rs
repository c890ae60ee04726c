//! The admin API (DESIGN §6): bulk revocation, token details with their
//! audit trail, the audit log, and who may use it.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

impl TestApp {
    async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> reqwest::Response {
        let token = self.access_token(ADMIN).await;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.address))
            .header("access-token", token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    async fn bulk(&self, body: Value) -> reqwest::Response {
        self.admin(reqwest::Method::POST, "/admin/v1/revocations", Some(body))
            .await
    }

    /// The audit log, waiting (bounded) until it holds `count` events:
    /// events are written off the request path.
    async fn audit_events(&self, count: usize) -> Vec<Value> {
        for _ in 0..100 {
            let body: Value = self
                .admin(reqwest::Method::GET, "/admin/v1/audit?limit=1000", None)
                .await
                .json()
                .await
                .unwrap();
            let events = body["result"]["events"].as_array().unwrap().clone();
            if events.len() >= count {
                return events;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the audit log never reached {count} events");
    }
}

#[tokio::test]
async fn revoking_a_connector_revokes_its_tokens_and_no_others() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "local");
    app.put(OBS, "k", "obs");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30});
    let (on_local, _) = app.mint(LOCAL, body.clone()).await;
    let (on_obs, _) = app.mint(OBS, body.clone()).await;
    app.clock.set(T0 + 10);
    let response = app
        .bulk(json!({"connector": "objectstorageproxy/local"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["result"]["scope"],
        "connector objectstorageproxy/local"
    );
    assert_eq!(answer["result"]["revokedBefore"], "2026-12-03T00:00:11Z");
    let response = app.view("k", &on_local).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
    assert_eq!(app.view("k", &on_obs).await.status(), StatusCode::OK);

    // Tokens minted afterwards work.
    app.clock.set(T0 + 11);
    let (fresh, _) = app.mint(LOCAL, body).await;
    assert_eq!(app.view("k", &fresh).await.status(), StatusCode::OK);
    let revoked: Vec<Value> = app.token_records().await;
    let states: Vec<&str> = revoked
        .iter()
        .map(|r| r["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.iter().filter(|s| **s == "revoked").count(), 1);
}

#[tokio::test]
async fn a_time_with_a_fraction_revokes_every_token_of_its_second() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30});
    app.clock.set(T0 + 50);
    // Issued at 00:00:50 (tokens carry whole seconds): perhaps before .5.
    let (same_second, _) = app.mint(LOCAL, body.clone()).await;
    app.clock.set(T0 + 51);
    let (next_second, _) = app.mint(LOCAL, body).await;
    let response = app
        .bulk(json!({"issuedBefore": "2026-12-03T00:00:50.500Z"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(answer["result"]["revokedBefore"], "2026-12-03T00:00:51Z");
    assert_eq!(
        app.view("k", &same_second).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.view("k", &next_second).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_a_client_or_everything_issued_before_a_time() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    app.put(OBS, "k", "x");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30});
    let (early, _) = app.mint(LOCAL, body.clone()).await;
    app.clock.set(T0 + 100);
    let (late, _) = app.mint(LOCAL, body.clone()).await;
    let response = app
        .bulk(json!({"issuedBefore": "2026-12-03T00:00:50Z"}))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.view("k", &early).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.view("k", &late).await.status(), StatusCode::OK);

    let limited_token = {
        let response = app.mint_raw(LIMITED, OBS, &body.to_string()).await;
        let answer: Value = response.json().await.unwrap();
        answer["result"]["shareToken"].as_str().unwrap().to_owned()
    };
    let response = app.bulk(json!({"client": SHARER})).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        app.view("k", &late).await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(app.view("k", &limited_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn bulk_revocation_requests_are_validated() {
    let app = spawn_app().await;
    for body in [
        json!({}),
        json!({"connector": "a/b", "client": "c"}),
        json!({"issuedBefore": "yesterday"}),
        json!({"issuedBefore": "2099-01-01T00:00:00Z"}),
        json!({"tenant": "x"}),
        json!("all"),
    ] {
        let response = app.bulk(body.clone()).await;
        assert_eq!(
            assert_error(response, StatusCode::BAD_REQUEST).await,
            "ST.BadRequest",
            "{body}"
        );
    }
}

#[tokio::test]
async fn token_details_carry_the_audit_trail() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "0123456789");
    let (token, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    app.view("k", &token).await.bytes().await.unwrap();
    app.view_request(reqwest::Method::GET, "k", &token)
        .header("range", "bytes=2-4")
        .header("user-agent", "test-agent/1.0")
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    app.view("other", &token).await;
    app.revoke(&jti).await;
    app.view("k", &token).await;

    let events = app.audit_events(6).await;
    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["mint", "view", "view", "deny", "revoke", "deny"]);
    let ranged = &events[2];
    assert_eq!(ranged["status"], 206);
    assert_eq!(ranged["bytes"], 3);
    assert_eq!(ranged["range"], "bytes 2-4/10");
    assert_eq!(ranged["userAgent"], "test-agent/1.0");
    assert_eq!(ranged["address"], "127.0.0.1");
    assert_eq!(ranged["object"], "k");
    assert_eq!(events[1]["bytes"], 10);
    assert_eq!(events[3]["reason"], "ST.ObjectOutOfScope");
    assert_eq!(events[4]["actor"], ADMIN);
    assert_eq!(events[5]["reason"], "ST.ShareTokenRevoked");
    for event in &events {
        assert_eq!(event["tokenId"], jti.as_str());
        assert!(!event.to_string().contains("v4.local."));
    }

    let details: Value = app
        .admin(
            reqwest::Method::GET,
            &format!("/admin/v1/tokens/{jti}"),
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(details["result"]["tokenId"], jti.as_str());
    assert_eq!(details["result"]["state"], "revoked");
    assert_eq!(details["result"]["audit"].as_array().unwrap().len(), 6);
}

#[tokio::test]
async fn the_audit_log_reads_since_a_time() {
    let app = spawn_app().await;
    app.mint(
        LOCAL,
        json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
    )
    .await;
    app.clock.set(T0 + 3600);
    app.mint(
        LOCAL,
        json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
    )
    .await;
    app.audit_events(2).await;
    let body: Value = app
        .admin(
            reqwest::Method::GET,
            "/admin/v1/audit?since=2026-12-03T00:30:00Z",
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let events = body["result"]["events"].as_array().unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["at"], "2026-12-03T01:00:00Z");
    let response = app
        .admin(reqwest::Method::GET, "/admin/v1/audit?since=soon", None)
        .await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.BadRequest"
    );
}

#[tokio::test]
async fn every_admin_route_needs_the_admin_role() {
    let app = spawn_app().await;
    let sharer = app.access_token(SHARER).await;
    for (method, path) in [
        (reqwest::Method::GET, "/admin/v1/tokens"),
        (reqwest::Method::GET, "/admin/v1/tokens/abc"),
        (reqwest::Method::POST, "/admin/v1/tokens/abc/revoke"),
        (reqwest::Method::POST, "/admin/v1/revocations"),
        (reqwest::Method::GET, "/admin/v1/audit"),
    ] {
        let response = app
            .http
            .request(method.clone(), format!("{}{path}", app.address))
            .header("access-token", &sharer)
            .json(&json!({"client": "x"}))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(response, StatusCode::FORBIDDEN).await,
            "ST.RoleRequired",
            "{path}"
        );
        let response = app
            .http
            .request(method, format!("{}{path}", app.address))
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(response, StatusCode::UNAUTHORIZED).await,
            "ST.AccessTokenMissing",
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_page_size_outside_1_to_1000_is_refused_not_silently_changed() {
    let app = spawn_app().await;
    for path in ["/admin/v1/tokens", "/admin/v1/audit"] {
        for limit in ["0", "1001"] {
            let response = app
                .admin(reqwest::Method::GET, &format!("{path}?limit={limit}"), None)
                .await;
            let code = assert_error(response, StatusCode::BAD_REQUEST).await;
            assert_eq!(code, "ST.BadRequest", "{path}?limit={limit}");
        }
        for limit in ["1", "1000"] {
            let response = app
                .admin(reqwest::Method::GET, &format!("{path}?limit={limit}"), None)
                .await;
            assert_eq!(response.status(), StatusCode::OK, "{path}?limit={limit}");
        }
    }
}

#[tokio::test]
async fn a_token_minted_in_the_second_of_a_bulk_revocation_is_not_handed_out_revoked() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "kept");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30});
    let (before, _) = app.mint(LOCAL, body.clone()).await;
    let response = app.bulk(json!({"client": SHARER})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let answer: Value = response.json().await.unwrap();
    // "Now" covers the whole current second: tokens carry whole seconds.
    assert_eq!(answer["result"]["revokedBefore"], "2026-12-03T00:00:01Z");

    // Minted in that second: the mint waits for the next one (here the
    // test's clock, moved on while the mint waits).
    let clock = app.clock.clone();
    let ticker = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        clock.advance(1);
    });
    let response = app.mint_raw(SHARER, LOCAL, &body.to_string()).await;
    assert_eq!(response.status(), StatusCode::OK);
    let minted: Value = response.json().await.unwrap();
    ticker.await.unwrap();
    assert_eq!(minted["result"]["issuedAt"], "2026-12-03T00:00:01Z");
    assert_eq!(minted["result"]["expiresAt"], "2026-12-03T00:30:01Z");
    let after = minted["result"]["shareToken"].as_str().unwrap();

    let refused = app.view("k", &before).await;
    assert_eq!(
        assert_error(refused, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
    let served = app.view("k", after).await;
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.text().await.unwrap(), "kept");
}

#[tokio::test]
async fn admin_input_errors_say_what_is_wrong_in_the_callers_terms() {
    let app = spawn_app().await;
    for body in [json!([]), json!("all"), json!(1)] {
        let response = app.bulk(body.clone()).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(
            answer["resMsg"],
            "the body must be {\"connector\"|\"client\"|\"issuedBefore\": …}, a JSON object",
            "{body}"
        );
    }
    let response = app
        .admin(
            reqwest::Method::GET,
            "/admin/v1/tokens?state=sleeping",
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let answer: Value = response.json().await.unwrap();
    assert_eq!(
        answer["resMsg"],
        "bad query: unknown variant `sleeping`, expected one of `active`, `revoked`, `expired`"
    );
}

#[tokio::test]
async fn answers_holding_tokens_or_records_may_not_be_stored_by_any_cache() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 5});
    let minted = app.mint_raw(SHARER, LOCAL, &body.to_string()).await;
    assert_eq!(minted.status(), StatusCode::OK);
    assert_eq!(minted.headers()["cache-control"], "no-store");
    let jti = minted.json::<Value>().await.unwrap()["result"]["tokenId"]
        .as_str()
        .unwrap()
        .to_owned();
    for path in [
        "/admin/v1/tokens".to_owned(),
        format!("/admin/v1/tokens/{jti}"),
        "/admin/v1/audit".to_owned(),
    ] {
        let response = app.admin(reqwest::Method::GET, &path, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
        assert_eq!(response.headers()["cache-control"], "no-store", "{path}");
    }
    // Unknown admin paths are still the API's 404.
    let response = app
        .admin(reqwest::Method::GET, "/admin/v1/nothing", None)
        .await;
    assert_eq!(
        assert_error(response, StatusCode::NOT_FOUND).await,
        "ST.NotFound"
    );
}

#[tokio::test]
async fn a_record_says_what_revoked_it() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let body = json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30});
    let (_, by_id) = app.mint(LOCAL, body.clone()).await;
    let (_, in_bulk) = app.mint(LOCAL, body).await;
    assert_eq!(app.revoke(&by_id).await.status(), StatusCode::OK);
    let response = app.bulk(json!({"client": SHARER})).await;
    assert_eq!(response.status(), StatusCode::OK);
    let app = &app;
    let record = |jti: String| async move {
        let response = app
            .admin(
                reqwest::Method::GET,
                &format!("/admin/v1/tokens/{jti}"),
                None,
            )
            .await;
        response.json::<Value>().await.unwrap()["result"].clone()
    };
    let first = record(by_id).await;
    assert_eq!(first["state"], "revoked");
    assert_eq!(first["revokedBy"], "id");
    assert_eq!(first["revokedAt"], "2026-12-03T00:00:00Z");
    let second = record(in_bulk).await;
    assert_eq!(second["state"], "revoked");
    assert_eq!(
        second["revokedBy"],
        "client app before 2026-12-03T00:00:01Z"
    );
    assert_eq!(second["revokedAt"], Value::Null);
}
