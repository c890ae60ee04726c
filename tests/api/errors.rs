//! Every error, on every endpoint, is the project's error body.

use reqwest::StatusCode;

use crate::helpers::*;

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_the_error_body() {
    let app = spawn_app().await;
    let response = app.get("/nope").await;
    assert_eq!(
        assert_error(response, StatusCode::NOT_FOUND).await,
        "ST.NotFound"
    );
    let response = app
        .http
        .delete(format!("{}{VIEW}", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "ST.MethodNotAllowed"
    );
    let response = app
        .http
        .get(app.mint_url(LOCAL.0, LOCAL.1))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED).await,
        "ST.MethodNotAllowed"
    );
}

#[tokio::test]
async fn missing_and_duplicated_view_parameters_are_400() {
    let app = spawn_app().await;
    let token = app.share_files(&["k"]).await;
    let t = encode(&token);
    for query in [
        String::new(),
        "object=k".into(),
        format!("shareToken={t}"),
        format!("object=k&object=k&shareToken={t}"),
        format!("object=k&shareToken={t}&shareToken={t}"),
        format!("object=%FF&shareToken={t}"),
    ] {
        let response = app.view_raw(&query).await;
        assert_eq!(
            assert_error(response, StatusCode::BAD_REQUEST).await,
            "ST.BadRequest",
            "{query}"
        );
    }
    // Unknown extra parameters are ignored.
    app.put(LOCAL, "k", "ok");
    let response = app
        .view_raw(&format!("utm=1&object=k&shareToken={t}&x"))
        .await;
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn checks_run_in_order_so_a_bad_token_never_reaches_scope_or_backend() {
    let app = spawn_app().await;
    let (token, jti) = app
        .mint(
            BROKEN,
            serde_json::json!({"shareType": 0, "key": "k", "timeoutInMinutes": 5}),
        )
        .await;
    // Out of scope: 403 before the (broken) backend is asked.
    let response = app.view("other", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ObjectOutOfScope"
    );
    // In scope: the backend is asked and fails.
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_GATEWAY).await,
        "ST.BackendUnavailable"
    );
    // Revoked: 401 before scope or backend.
    app.revoke(&jti).await;
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
    let response = app.view("..", "not-a-token").await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );
}

#[tokio::test]
async fn backend_errors_name_the_connector_and_nothing_else() {
    let app = spawn_app().await;
    let token = app
        .mint(
            BROKEN,
            serde_json::json!({"shareType": 0, "key": "k", "timeoutInMinutes": 5}),
        )
        .await
        .0;
    let response = app.view("k", &token).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["resMsg"], "connector minio/broken is unavailable");
    assert!(!body.to_string().contains("does-not-exist"));
}

#[tokio::test]
async fn a_405_says_which_methods_are_allowed() {
    let app = spawn_app().await;
    for (method, url, allow) in [
        (
            reqwest::Method::DELETE,
            format!("{}{VIEW}", app.address),
            "GET, HEAD, OPTIONS",
        ),
        (reqwest::Method::GET, app.mint_url(LOCAL.0, LOCAL.1), "POST"),
        (
            reqwest::Method::PUT,
            format!("{}/admin/v1/tokens", app.address),
            "GET, HEAD",
        ),
        (
            reqwest::Method::POST,
            format!("{}/healthz", app.address),
            "GET, HEAD",
        ),
    ] {
        let response = app.http.request(method, &url).send().await.unwrap();
        assert_eq!(response.headers()["allow"], allow, "{url}");
        assert_error(response, StatusCode::METHOD_NOT_ALLOWED).await;
    }
    let response = app
        .http
        .head(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
}

#[tokio::test]
async fn every_401_says_how_to_authenticate() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let view = app.view("k", "v4.local.nope").await;
    assert_eq!(view.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        view.headers()["www-authenticate"],
        "ShareToken realm=\"sharetoken\""
    );
    let mint = app
        .http
        .post(app.mint_url(LOCAL.0, LOCAL.1))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(mint.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(mint.headers()["www-authenticate"], "Bearer");
    let oauth = app
        .http
        .post(format!("{}/baas/auth/v1.0/oauth2/token", app.address))
        .basic_auth(SHARER, Some("wrong"))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap();
    assert_eq!(oauth.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        oauth.headers()["www-authenticate"],
        "Basic realm=\"sharetoken\""
    );
}
