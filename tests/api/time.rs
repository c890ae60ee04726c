//! Cases E1–E3: expiry is exact, with a clock the test controls.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sharetoken::token::{KeyRing, ShareClaims};

use crate::helpers::*;

// Case E1 (../shared/cases/README.md).
#[tokio::test]
async fn e1_a_one_minute_token_expires_at_exactly_sixty_seconds() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 1}),
        )
        .await;
    app.clock.set(T0 + 59);
    assert_eq!(app.view("k", &token).await.status(), StatusCode::OK);
    app.clock.set(T0 + 60);
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenExpired"
    );
    app.clock.set(T0 + 90);
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenExpired"
    );
}

// Case E2 (../shared/cases/README.md).
#[tokio::test]
async fn e2_expiry_is_exactly_the_timeout_after_issue() {
    let app = spawn_app().await;
    let ring = KeyRing::from_paserk(&app.keys).unwrap();
    for (minutes, seconds) in [(1, 60), (1440, 86_400)] {
        let response = app
            .mint_raw(
                SHARER,
                LOCAL,
                &json!({"shareType": 0, "key": "k", "timeoutInMinutes": minutes}).to_string(),
            )
            .await;
        let body: Value = response.json().await.unwrap();
        let token = body["result"]["shareToken"].as_str().unwrap();
        let claims = ShareClaims::open(&ring, token, T0, 0).unwrap();
        assert_eq!(claims.issued_at, T0);
        assert_eq!(claims.expires_at - claims.issued_at, seconds);
        assert_eq!(body["result"]["issuedAt"], "2026-12-03T00:00:00Z");
        assert_eq!(claims.subject, SHARER);
    }
    let body: Value = app
        .mint_raw(
            SHARER,
            LOCAL,
            &json!({"shareType": 0, "key": "k", "timeoutInMinutes": 1440}).to_string(),
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(body["result"]["expiresAt"], "2026-12-04T00:00:00Z");
}

// Case E3 (../shared/cases/README.md).
#[tokio::test]
async fn e3_out_of_range_timeouts_issue_nothing_and_write_nothing() {
    let app = spawn_app().await;
    for timeout in [
        "0",
        "-1",
        "1441",
        "9223372036854775808",
        "1.5",
        "\"60m\"",
        "\"60\"",
        "null",
    ] {
        let body = format!(r#"{{"shareType":0,"key":"k","timeoutInMinutes":{timeout}}}"#);
        let response = app.mint_raw(SHARER, LOCAL, &body).await;
        assert_eq!(
            assert_error(response, StatusCode::BAD_REQUEST).await,
            "ST.InvalidMintRequest",
            "{timeout}"
        );
    }
    let response = app
        .mint_raw(SHARER, LOCAL, r#"{"shareType":0,"key":"k"}"#)
        .await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.InvalidMintRequest"
    );
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn expired_records_are_kept_a_day_then_pruned() {
    let setup = Setup::new();
    let app = spawn_with(&setup).await;
    app.mint(
        LOCAL,
        json!({"shareType": 0, "key": "k", "timeoutInMinutes": 1}),
    )
    .await;
    app.mint(
        LOCAL,
        json!({"shareType": 0, "key": "k", "timeoutInMinutes": 1440}),
    )
    .await;
    assert_eq!(app.token_records().await.len(), 2);
    app.clock.set(T0 + 60);
    let states: Vec<Value> = app
        .token_records()
        .await
        .iter()
        .map(|r| r["state"].clone())
        .collect();
    assert!(states.contains(&json!("expired")) && states.contains(&json!("active")));

    // A day after the short one expired, it goes; the long one has just
    // expired and stays listed. Pruning runs at start: a restart prunes now.
    app.stop().await;
    app.clock.set(T0 + 60 + 86_400);
    let app = spawn_with(&setup).await;
    let records = app.token_records().await;
    assert_eq!(records.len(), 1);
    assert_eq!(records[0]["state"], "expired");
    assert_eq!(records[0]["expiresAt"], "2026-12-04T00:00:00Z");
}
