//! Share tokens per DESIGN §3: key rotation, and access and share tokens
//! never standing in for each other.

use reqwest::StatusCode;
use serde_json::json;
use sharetoken::token::KeyRing;

use crate::helpers::*;

#[tokio::test]
async fn rotation_keeps_old_tokens_valid_and_mints_with_the_new_key() {
    let mut setup = Setup::new();
    let old_key = setup.keys[0].clone();
    let app = spawn_with(&setup).await;
    app.put(LOCAL, "k", "x");
    let (old_token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    app.stop().await;

    let new_key = KeyRing::generate_paserk();
    setup.keys = vec![new_key.clone(), old_key.clone()];
    let app = spawn_with(&setup).await;
    assert_eq!(app.view("k", &old_token).await.status(), StatusCode::OK);
    let (new_token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let new_kid = KeyRing::from_paserk(std::slice::from_ref(&new_key))
        .unwrap()
        .minting_kid()
        .to_owned();
    let footer = new_token.rsplit('.').next().unwrap();
    let footer = String::from_utf8(
        base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, footer).unwrap(),
    )
    .unwrap();
    assert_eq!(footer, format!(r#"{{"kid":"{new_kid}"}}"#));
    app.stop().await;

    // Once the old key is retired, its tokens stop opening.
    setup.keys = vec![new_key];
    let app = spawn_with(&setup).await;
    let response = app.view("k", &old_token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );
    assert_eq!(app.view("k", &new_token).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn an_access_token_is_not_a_share_token_and_back() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let access = app.access_token(SHARER).await;
    let response = app.view("k", &access).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );

    let (share, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let response = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .header("access-token", share)
        .body(r#"{"shareType":0,"key":"k","timeoutInMinutes":5}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.AccessTokenInvalid"
    );
}

#[tokio::test]
async fn foreign_altered_and_truncated_tokens_are_invalid() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let other = spawn_app().await;
    let (foreign, _) = other
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let mut altered = token.clone().into_bytes();
    altered[20] = if altered[20] == b'A' { b'B' } else { b'A' };
    let altered = String::from_utf8(altered).unwrap();
    for bad in [
        foreign.as_str(),
        &altered,
        &token[..token.len() - 10],
        "",
        "v4.local.",
        "v4.public.eyJ9",
        "v2.local.AAAA",
        "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl",
    ] {
        let response = app.view("k", bad).await;
        assert_eq!(
            assert_error(response, StatusCode::UNAUTHORIZED).await,
            "ST.ShareTokenInvalid"
        );
    }
}

#[tokio::test]
async fn a_not_yet_valid_token_is_refused() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    app.clock.set(T0 - 1);
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );
}
