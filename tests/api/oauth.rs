//! Access tokens per DESIGN §2: client credentials, expiry, purpose.

use reqwest::StatusCode;
use serde_json::Value;

use crate::helpers::*;

const TOKEN_PATH: &str = "/baas/auth/v1.0/oauth2/token";

#[tokio::test]
async fn client_credentials_get_a_bearer_token() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}{TOKEN_PATH}", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", SHARER),
            ("client_secret", secret_of(SHARER)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 1800);
    assert!(body["access_token"]
        .as_str()
        .unwrap()
        .starts_with("v4.local."));
}

#[tokio::test]
async fn http_basic_client_authentication_works_too() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}{TOKEN_PATH}", app.address))
        .basic_auth(SHARER, Some(secret_of(SHARER)))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn wrong_secrets_and_unknown_clients_are_401() {
    let app = spawn_app().await;
    for (id, secret) in [(SHARER, "wrong"), ("nobody", "app-secret"), (SHARER, "")] {
        let response = app
            .http
            .post(format!("{}{TOKEN_PATH}", app.address))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", id),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            assert_error(response, StatusCode::UNAUTHORIZED).await,
            "ST.InvalidClient"
        );
    }
}

#[tokio::test]
async fn malformed_token_requests_are_400() {
    let app = spawn_app().await;
    for form in [
        "client_id=app&client_secret=app-secret",
        "grant_type=password&client_id=app&client_secret=app-secret",
        "grant_type=client_credentials",
        "grant_type=client_credentials&grant_type=client_credentials&client_id=app&client_secret=app-secret",
    ] {
        let response = app
            .http
            .post(format!("{}{TOKEN_PATH}", app.address))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .unwrap();
        assert_eq!(assert_error(response, StatusCode::BAD_REQUEST).await, "ST.BadRequest", "{form}");
    }
}

#[tokio::test]
async fn access_tokens_expire_after_their_lifetime() {
    let app = spawn_app().await;
    let token = app.access_token(SHARER).await;
    let mint = |token: String| {
        app.http
            .post(app.mint_url(LOCAL.0, LOCAL.1))
            .header("access-token", token)
            .body(r#"{"shareType":0,"key":"a","timeoutInMinutes":5}"#)
            .send()
    };
    app.clock.set(T0 + 1799);
    assert_eq!(mint(token.clone()).await.unwrap().status(), StatusCode::OK);
    app.clock.set(T0 + 1800);
    let response = mint(token).await.unwrap();
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.AccessTokenInvalid"
    );
}

#[tokio::test]
async fn credentials_in_both_the_form_and_basic_are_refused() {
    let app = spawn_app().await;
    let response = app
        .http
        .post(format!("{}{TOKEN_PATH}", app.address))
        .basic_auth("nobody", Some(secret_of(SHARER)))
        .form(&[("grant_type", "client_credentials"), ("client_id", SHARER)])
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.BadRequest"
    );
}
