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

/// One token request from `forwarded_for` (if any) for `client`.
async fn token_request(
    app: &TestApp,
    client: &str,
    secret: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let mut request = app
        .http
        .post(format!("{}{TOKEN_PATH}", app.address))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", client),
            ("client_secret", secret),
        ]);
    if let Some(address) = forwarded_for {
        request = request.header("x-forwarded-for", address);
    }
    request.send().await.unwrap()
}

/// Asserts a 429 in the error body with a `Retry-After` of 1 to 60 seconds
/// (the buckets below refill one request a minute).
async fn assert_throttled(response: reqwest::Response) {
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert_eq!(
        assert_error(response, StatusCode::TOO_MANY_REQUESTS).await,
        "ST.TooManyRequests"
    );
}

#[tokio::test]
async fn one_address_gets_a_burst_of_token_requests_then_429_with_retry_after() {
    let app = spawn_with_settings(&Setup::new(), |s| {
        s.oauth.per_address_per_minute = 1;
        s.oauth.per_address_burst = 3;
    })
    .await;
    // Right or wrong, each request spends one from the address's bucket.
    let statuses = [
        token_request(&app, SHARER, "wrong", None).await.status(),
        token_request(&app, "nobody", "x", None).await.status(),
        token_request(&app, SHARER, secret_of(SHARER), None)
            .await
            .status(),
    ];
    assert_eq!(
        statuses,
        [
            StatusCode::UNAUTHORIZED,
            StatusCode::UNAUTHORIZED,
            StatusCode::OK
        ]
    );
    // Past the burst even the right secret waits, and so does any client.
    assert_throttled(token_request(&app, SHARER, secret_of(SHARER), None).await).await;
    assert_throttled(token_request(&app, ADMIN, secret_of(ADMIN), None).await).await;
    // Forwarded headers are not trusted by default: no way around the limit.
    assert_throttled(token_request(&app, ADMIN, secret_of(ADMIN), Some("10.9.9.9")).await).await;
}

#[tokio::test]
async fn one_client_gets_a_burst_of_token_requests_then_429_from_any_address() {
    let app = spawn_with_settings(&Setup::new(), |s| {
        s.oauth.per_client_per_minute = 1;
        s.oauth.per_client_burst = 2;
        s.oauth.trust_forwarded_for = true;
    })
    .await;
    for address in ["10.0.0.1", "10.0.0.2"] {
        let response = token_request(&app, SHARER, "wrong", Some(address)).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(token_request(&app, SHARER, secret_of(SHARER), Some("10.0.0.3")).await).await;
    // Another client has its own bucket.
    let response = token_request(&app, ADMIN, secret_of(ADMIN), Some("10.0.0.3")).await;
    assert_eq!(response.status(), StatusCode::OK);
    // Made-up client ids share one bucket, so they cannot grow memory.
    for id in ["nobody-1", "nobody-2"] {
        let response = token_request(&app, id, "x", None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_throttled(token_request(&app, "nobody-3", "x", None).await).await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_forwarded_address_has_its_own_bucket() {
    let app = spawn_with_settings(&Setup::new(), |s| {
        s.oauth.per_address_per_minute = 1;
        s.oauth.per_address_burst = 1;
        s.oauth.trust_forwarded_for = true;
    })
    .await;
    let first = token_request(&app, SHARER, secret_of(SHARER), Some("10.0.0.1")).await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_throttled(token_request(&app, SHARER, secret_of(SHARER), Some("10.0.0.1")).await).await;
    let other = token_request(&app, SHARER, secret_of(SHARER), Some("10.0.0.2")).await;
    assert_eq!(other.status(), StatusCode::OK);
}

/// Wall time of one refused token request for `client` with `secret`.
async fn refused_time(app: &TestApp, client: &str, secret: &str) -> f64 {
    let started = std::time::Instant::now();
    let response = token_request(app, client, secret, None).await;
    let elapsed = started.elapsed().as_secs_f64();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    elapsed
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

#[tokio::test]
async fn an_unknown_client_costs_as_much_time_as_a_wrong_secret() {
    let app = spawn_app().await;
    // Warm up connections and caches.
    refused_time(&app, SHARER, "wrong").await;
    // Interleaved, so that whatever else loads the machine weighs on both.
    let (mut wrong, mut unknown) = (Vec::new(), Vec::new());
    for _ in 0..9 {
        wrong.push(refused_time(&app, SHARER, "wrong").await);
        unknown.push(refused_time(&app, "nobody", "wrong").await);
    }
    let (wrong_secret, unknown_client) = (median(wrong), median(unknown));
    // Without the decoy verification an unknown client would answer about a
    // hundred times sooner (no argon2 at all); the bound is loose on
    // purpose, since the machine may be busy.
    let ratio = unknown_client / wrong_secret;
    assert!(
        (0.33..3.0).contains(&ratio),
        "unknown client {unknown_client:.4}s vs wrong secret {wrong_secret:.4}s"
    );
}

#[tokio::test]
async fn a_json_token_request_is_told_to_send_a_form() {
    let app = spawn_app().await;
    let url = format!("{}{TOKEN_PATH}", app.address);
    let json = serde_json::json!({
        "grant_type": "client_credentials",
        "client_id": SHARER,
        "client_secret": secret_of(SHARER),
    });
    let response = app.http.post(&url).json(&json).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["resCode"], "ST.BadRequest");
    assert_eq!(
        body["resMsg"],
        "the token request must be a form (Content-Type: application/x-www-form-urlencoded)"
    );
    // The same fields as a form, labelled with a charset or not labelled.
    let form = format!(
        "grant_type=client_credentials&client_id={SHARER}&client_secret={}",
        secret_of(SHARER)
    );
    for content_type in [
        Some("application/x-www-form-urlencoded; charset=UTF-8"),
        None,
    ] {
        let mut request = app.http.post(&url).body(form.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{content_type:?}");
    }
}
