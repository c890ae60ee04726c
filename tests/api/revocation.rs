//! Revocation by token id (case R1), through the admin API, lasting across
//! restarts.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// The segment with its last character's unused low bits changed, if the
/// segment's length leaves any unused.
fn flip_padding_bits(segment: &str) -> Option<String> {
    let unused_bits = match segment.len() % 4 {
        2 => 4,
        3 => 2,
        _ => return None,
    };
    let last = *segment.as_bytes().last()?;
    let index = B64URL.iter().position(|&c| c == last)?;
    let flipped = index ^ ((1 << unused_bits) - 1);
    let mut out = segment[..segment.len() - 1].to_owned();
    out.push(B64URL[flipped] as char);
    Some(out)
}

// Case R1 (../shared/cases/README.md).
#[tokio::test]
async fn r1_re_encoded_tokens_stay_revoked() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "x");
    let (token, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    assert_eq!(app.view("k", &token).await.status(), StatusCode::OK);
    assert_eq!(app.revoke(&jti).await.status(), StatusCode::OK);

    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 4, "v4.local.payload.footer");
    let mut variants = vec![format!("{token}=="), format!("{token}=")];
    for index in [2, 3] {
        if let Some(flipped) = flip_padding_bits(parts[index]) {
            let mut changed = parts.clone();
            changed[index] = &flipped;
            variants.push(changed.join("."));
        }
    }
    assert!(variants.len() >= 3, "at least one segment has unused bits");
    for variant in variants {
        let response = app.view("k", &variant).await;
        let code = assert_error(response, StatusCode::UNAUTHORIZED).await;
        assert!(
            code == "ST.ShareTokenRevoked" || code == "ST.ShareTokenInvalid",
            "{code}"
        );
    }
    let response = app.view("k", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
}

#[tokio::test]
async fn revocations_survive_a_restart() {
    let setup = Setup::new();
    let app = spawn_with(&setup).await;
    app.put(LOCAL, "k", "x");
    let (revoked, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let (kept, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    assert_eq!(app.revoke(&jti).await.status(), StatusCode::OK);
    app.stop().await;

    let app = spawn_with(&setup).await;
    let response = app.view("k", &revoked).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
    assert_eq!(app.view("k", &kept).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn revoking_answers_the_record_and_is_idempotent() {
    let app = spawn_app().await;
    let (_, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 2, "keys": ["a", "b"], "timeoutInMinutes": 30}),
        )
        .await;
    app.clock.set(T0 + 5);
    for _ in 0..2 {
        let response = app.revoke(&jti).await;
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["resCode"], "0");
        let record = &body["result"];
        assert_eq!(record["tokenId"], jti.as_str());
        assert_eq!(record["state"], "revoked");
        assert_eq!(record["client"], SHARER);
        assert_eq!(record["connector"], "objectstorageproxy/local");
        assert_eq!(record["scope"], "files: a, b");
        assert_eq!(record["revokedAt"], "2026-12-03T00:00:05Z");
    }
}

#[tokio::test]
async fn revoking_an_unknown_token_is_404() {
    let app = spawn_app().await;
    let response = app.revoke("0123456789abcdef0123456789abcdef").await;
    assert_eq!(
        assert_error(response, StatusCode::NOT_FOUND).await,
        "ST.TokenNotFound"
    );
}

#[tokio::test]
async fn only_admins_may_revoke() {
    let app = spawn_app().await;
    let (_, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "k", "timeoutInMinutes": 30}),
        )
        .await;
    let token = app.access_token(SHARER).await;
    let response = app
        .http
        .post(format!("{}/admin/v1/tokens/{jti}/revoke", app.address))
        .header("access-token", token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.RoleRequired"
    );
    let response = app
        .http
        .post(format!("{}/admin/v1/tokens/{jti}/revoke", app.address))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.AccessTokenMissing"
    );
}

#[tokio::test]
async fn the_admin_api_lists_and_filters_tokens() {
    let app = spawn_app().await;
    let (_, first) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "a", "timeoutInMinutes": 30}),
        )
        .await;
    app.mint(
        OBS,
        json!({"shareType": 0, "key": "b", "timeoutInMinutes": 30}),
    )
    .await;
    app.revoke(&first).await;
    let admin = app.access_token(ADMIN).await;
    let list = |query: &'static str| {
        app.http
            .get(format!("{}/admin/v1/tokens?{query}", app.address))
            .header("access-token", admin.clone())
            .send()
    };
    let ids = |body: Value| -> Vec<String> {
        body["result"]["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["tokenId"].as_str().unwrap().to_owned())
            .collect()
    };
    let revoked = ids(list("state=revoked").await.unwrap().json().await.unwrap());
    assert_eq!(revoked, vec![first.clone()]);
    let on_obs: Value = list("connector=obs/Namespace%20__TestOBS")
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(on_obs["result"]["tokens"][0]["state"], "active");
    assert_eq!(ids(on_obs).len(), 1);
    let page: Value = list("limit=1").await.unwrap().json().await.unwrap();
    assert_eq!(ids(page.clone()).len(), 1);
    assert!(page["result"]["next"].is_string());
    let response = list("state=bogus").await.unwrap();
    assert_eq!(
        assert_error(response, StatusCode::BAD_REQUEST).await,
        "ST.BadRequest"
    );
}

#[tokio::test]
async fn a_download_under_way_is_cut_soon_after_its_token_is_revoked() {
    let app = spawn_app().await;
    let size = 64 * 1024 * 1024;
    app.put(LOCAL, "big/film.bin", vec![0x42u8; size]);
    let body = json!({"shareType": 0, "key": "big/film.bin", "timeoutInMinutes": 30});
    let (token, jti) = app.mint(LOCAL, body).await;
    let mut download = app.view("big/film.bin", &token).await;
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(
        download.headers()["content-length"],
        size.to_string().as_str()
    );

    // A reader paced at 8 MiB/s: the whole object would take 8 s.
    let started = std::time::Instant::now();
    let pace = |received: usize| {
        let due = std::time::Duration::from_secs_f64(received as f64 / (8.0 * 1024.0 * 1024.0));
        due.saturating_sub(started.elapsed())
    };
    let mut received = 0usize;
    while received < 4 * 1024 * 1024 {
        received += download.chunk().await.unwrap().expect("more bytes").len();
        tokio::time::sleep(pace(received)).await;
    }
    assert_eq!(app.revoke(&jti).await.status(), StatusCode::OK);
    let revoked_at = std::time::Instant::now();
    let outcome = loop {
        match download.chunk().await {
            Ok(Some(chunk)) => {
                received += chunk.len();
                tokio::time::sleep(pace(received)).await;
            }
            other => break other,
        }
    };
    assert!(
        outcome.is_err(),
        "a cut body is an error, not a clean end ({received} bytes, {:?})",
        revoked_at.elapsed()
    );
    assert!(received < size, "the whole object was sent");
    // Within the recheck interval (2 s), plus what the sockets held.
    assert!(
        revoked_at.elapsed() < std::time::Duration::from_secs(5),
        "cut after {:?}",
        revoked_at.elapsed()
    );
    // A new request is refused as before.
    let again = app.view("big/film.bin", &token).await;
    assert_eq!(
        assert_error(again, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
}
