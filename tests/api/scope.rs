//! Cases S1–S2: scopes match exactly what they name.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

on_every_backend! {
// Case S1 (../shared/cases/README.md).
async fn s1_a_directory_token_does_not_match_a_sibling_prefix_or_itself() {
    let app = spawn_app().await;
    app.put(LOCAL, "food/salad/lettuce", "green");
    app.put(LOCAL, "food/saladdressing/dijon", "mustard");
    // NOTE: a file system cannot hold both `food/salad` and `food/salad/…`;
    // unshared, `food/salad` would be 404 (a directory): 403 shows the scope
    // refused it first.
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 1, "key": "food/salad/", "timeoutInMinutes": 10}),
        )
        .await;

    let response = app.view("food/salad/lettuce", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), "green");
    for outside in ["food/saladdressing/dijon", "food/salad"] {
        let response = app.view(outside, &token).await;
        assert_eq!(
            assert_error(response, StatusCode::FORBIDDEN).await,
            "ST.ObjectOutOfScope"
        );
    }
}

// Case S2 (../shared/cases/README.md).
async fn s2_a_file_token_does_not_match_a_longer_key() {
    let app = spawn_app().await;
    app.put(LOCAL, "a/b", "b");
    app.put(LOCAL, "a/bc", "bc");
    let token = app.share_files(&["a/b"]).await;
    let response = app.view("a/bc", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ObjectOutOfScope"
    );
    assert_eq!(app.view("a/b", &token).await.status(), StatusCode::OK);
}

async fn the_whole_bucket_can_be_shared_with_a_lone_slash() {
    let app = spawn_app().await;
    app.put(LOCAL, "x", "1");
    app.put(LOCAL, "deep/down/y", "2");
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 1, "key": "/", "timeoutInMinutes": 10}),
        )
        .await;
    assert_eq!(app.view("x", &token).await.bytes().await.unwrap(), "1");
    assert_eq!(
        app.view("deep/down/y", &token).await.bytes().await.unwrap(),
        "2"
    );
}

async fn a_token_reads_only_from_its_own_connector() {
    let app = spawn_app().await;
    app.put(LOCAL, "same/key", "local");
    app.put(OBS, "same/key", "obs");
    let (token, _) = app
        .mint(
            OBS,
            json!({"shareType": 0, "key": "same/key", "timeoutInMinutes": 10}),
        )
        .await;
    assert_eq!(
        app.view("same/key", &token).await.bytes().await.unwrap(),
        "obs"
    );
}

async fn key_and_keys_together_make_one_allowed_set() {
    let app = spawn_app().await;
    for k in ["one", "two", "three"] {
        app.put(LOCAL, k, k);
    }
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "one", "keys": ["two"], "timeoutInMinutes": 10}),
        )
        .await;
    assert_eq!(app.view("one", &token).await.bytes().await.unwrap(), "one");
    assert_eq!(app.view("two", &token).await.bytes().await.unwrap(), "two");
    assert_eq!(
        app.view("three", &token).await.status(),
        StatusCode::FORBIDDEN
    );
}
}
