//! Minting per DESIGN §1: path, body rules, success body, refusals.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sharetoken::token::{KeyRing, ShareClaims};

use crate::helpers::*;

#[tokio::test]
async fn a_mint_answers_the_documented_body() {
    let app = spawn_app().await;
    let response = app
        .mint_raw(
            SHARER,
            LOCAL,
            r#"{"shareType":0,"key":"share/a.txt","timeoutInMinutes":60}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resCode"], "0");
    assert_eq!(body["resMsg"], "Success");
    let token = body["result"]["shareToken"].as_str().unwrap();
    assert!(token.starts_with("v4.local."));
    assert!(token.len() < 4096);
    let id = body["result"]["tokenId"].as_str().unwrap();
    assert_eq!(
        id.len(),
        44,
        "{id}: 48 bits of time, 128 random bits, in hex"
    );
    assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
    let object = body.as_object().unwrap();
    assert_eq!(object.len(), 3, "{body}");
}

#[tokio::test]
async fn connector_names_are_percent_decoded_from_the_path() {
    let app = spawn_app().await;
    app.put(OBS, "doc.txt", "from obs");
    let response = app
        .mint_raw(
            SHARER,
            OBS,
            r#"{"shareType":0,"key":"doc.txt","timeoutInMinutes":5}"#,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(app
        .mint_url("obs", "Namespace __TestOBS")
        .contains("/obs/Namespace%20%5F%5FTestOBS/"));
    let body: Value = response.json().await.unwrap();
    let token = body["result"]["shareToken"].as_str().unwrap();
    assert_eq!(
        app.view("doc.txt", token).await.bytes().await.unwrap(),
        "from obs"
    );
}

#[tokio::test]
async fn the_token_carries_the_client_connector_and_scope() {
    let app = spawn_app().await;
    let ring = KeyRing::from_paserk(&app.keys).unwrap();
    let (token, jti) = app
        .mint(
            OBS,
            json!({"shareType": 1, "key": "d/", "keys": "[\"e/\"]", "timeoutInMinutes": 7}),
        )
        .await;
    let claims = ShareClaims::open(&ring, &token, T0, 0).unwrap();
    assert_eq!(claims.jti, jti);
    assert_eq!(claims.subject, SHARER);
    assert_eq!(claims.connector.to_string(), "obs/Namespace __TestOBS");
    assert_eq!(claims.scope.entries(), ["d/", "e/"]);
    assert_eq!(claims.not_before, T0);
    assert_eq!(claims.expires_at, T0 + 7 * 60);
}

#[tokio::test]
async fn unknown_connectors_are_404() {
    let app = spawn_app().await;
    for connector in [
        ("s3", "local"),
        ("obs", "nope"),
        ("objectstorageproxy", "Local"),
    ] {
        let response = app
            .mint_raw(
                SHARER,
                connector,
                r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#,
            )
            .await;
        assert_eq!(
            assert_error(response, StatusCode::NOT_FOUND).await,
            "ST.ConnectorNotFound",
            "{connector:?}"
        );
    }
}

#[tokio::test]
async fn a_client_may_share_only_from_its_connectors() {
    let app = spawn_app().await;
    let body = r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#;
    let response = app.mint_raw(LIMITED, LOCAL, body).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ConnectorForbidden"
    );
    assert_eq!(
        app.mint_raw(LIMITED, OBS, body).await.status(),
        StatusCode::OK
    );
    let response = app.mint_raw(ADMIN, LOCAL, body).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.RoleRequired"
    );
}

#[tokio::test]
async fn minting_needs_a_valid_access_token_in_either_header() {
    let app = spawn_app().await;
    let url = app.mint_url(LOCAL.0, LOCAL.1);
    let body = r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#;
    let response = app.http.post(&url).body(body).send().await.unwrap();
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.AccessTokenMissing"
    );
    for bad in ["garbage", "v4.local.AAAA"] {
        let response = app
            .http
            .post(&url)
            .header("access-token", bad)
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(response, StatusCode::UNAUTHORIZED).await,
            "ST.AccessTokenInvalid"
        );
    }
    let token = app.access_token(SHARER).await;
    let response = app
        .http
        .post(&url)
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn body_rules_are_enforced_with_clear_messages() {
    let app = spawn_app().await;
    let cases: [(&str, &str); 9] = [
        ("not json", "the body is not valid JSON"),
        ("[]", "the body must be a JSON object"),
        (
            r#"{"key":"a","timeoutInMinutes":5}"#,
            "'shareType' is required",
        ),
        (
            r#"{"shareType":4,"key":"a","timeoutInMinutes":5}"#,
            "'shareType' must be 0 (file), 1 (directory) or 2 (files)",
        ),
        (
            r#"{"shareType":0,"timeoutInMinutes":5}"#,
            "at least one key is required",
        ),
        (
            r#"{"shareType":1,"key":"dir","timeoutInMinutes":5}"#,
            "directory 'dir' must end with '/'",
        ),
        (
            r#"{"shareType":0,"key":"a/../b","timeoutInMinutes":5}"#,
            "key 'a/../b' cannot be shared: the key holds a '.' or '..' segment",
        ),
        (
            r#"{"shareType":0,"key":"/a","timeoutInMinutes":5}"#,
            "key '/a' cannot be shared: the key starts with '/'",
        ),
        (
            r#"{"shareType":2,"keys":[1],"timeoutInMinutes":5}"#,
            "'keys' must be an array of strings, or a string",
        ),
    ];
    for (body, message) in cases {
        let response = app.mint_raw(SHARER, LOCAL, body).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["resCode"], "ST.InvalidMintRequest");
        assert_eq!(answer["resMsg"], message, "{body}");
    }
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn keys_at_and_past_the_length_limit() {
    let app = spawn_app().await;
    let at_limit = "k".repeat(1024);
    let body = json!({"shareType": 0, "key": at_limit, "timeoutInMinutes": 5});
    assert_eq!(
        app.mint_raw(SHARER, LOCAL, &body.to_string())
            .await
            .status(),
        StatusCode::OK
    );
    let past = "k".repeat(1025);
    let body = json!({"shareType": 0, "key": past, "timeoutInMinutes": 5});
    let response = app.mint_raw(SHARER, LOCAL, &body.to_string()).await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.InvalidMintRequest"
    );
}

#[tokio::test]
async fn a_scope_too_big_for_a_url_is_refused() {
    let app = spawn_app().await;
    let keys: Vec<String> = (0..100)
        .map(|i| format!("folder/file-number-{i:04}.txt"))
        .collect();
    let body = json!({"shareType": 2, "keys": keys, "timeoutInMinutes": 5});
    let response = app.mint_raw(SHARER, LOCAL, &body.to_string()).await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.ScopeTooLarge"
    );
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn an_oversized_body_is_413() {
    let app = spawn_app().await;
    let huge = format!(
        r#"{{"shareType":0,"key":"{}","timeoutInMinutes":5}}"#,
        "a".repeat(70_000)
    );
    let response = app.mint_raw(SHARER, LOCAL, &huge).await;
    assert_eq!(
        assert_error(response, StatusCode::PAYLOAD_TOO_LARGE).await,
        "ST.PayloadTooLarge"
    );
}

#[tokio::test]
async fn every_mint_is_recorded_with_its_metadata() {
    let app = spawn_app().await;
    let (_, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 2, "keys": ["x", "y"], "timeoutInMinutes": 2}),
        )
        .await;
    let records = app.token_records().await;
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(r["tokenId"], jti.as_str());
    assert_eq!(r["client"], SHARER);
    assert_eq!(r["connector"], "objectstorageproxy/local");
    assert_eq!(r["shareType"], 2);
    assert_eq!(r["scope"], "files: x, y");
    assert_eq!(r["issuedAt"], "2026-12-03T00:00:00Z");
    assert_eq!(r["expiresAt"], "2026-12-03T00:02:00Z");
    assert_eq!(r["state"], "active");
}

#[tokio::test]
async fn a_field_given_twice_is_refused() {
    let app = spawn_app().await;
    let body = r#"{"shareType":0,"key":"a","timeoutInMinutes":5000,"timeoutInMinutes":6}"#;
    let response = app.mint_raw(SHARER, LOCAL, body).await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.InvalidMintRequest"
    );
    assert!(app.token_records().await.is_empty());
}

#[tokio::test]
async fn an_empty_access_token_header_falls_back_to_bearer() {
    let app = spawn_app().await;
    let token = app.access_token(SHARER).await;
    let body = r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#;
    let response = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .header("access-token", "")
        .header("authorization", format!("Bearer {token}"))
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let response = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .header(
            "access-token",
            reqwest::header::HeaderValue::from_bytes(b"\xff\xfe").unwrap(),
        )
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.AccessTokenInvalid"
    );
}
