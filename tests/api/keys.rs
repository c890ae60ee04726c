//! Cases K1–K7: keys are decoded exactly once and compared byte for byte.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::*;

async fn body(response: reqwest::Response) -> (StatusCode, Vec<u8>) {
    (response.status(), response.bytes().await.unwrap().to_vec())
}

on_every_backend! {
// Case K1 (../shared/cases/README.md).
async fn k1_an_encoded_plus_reads_the_plus_key() {
    let app = spawn_app().await;
    app.put(LOCAL, "share/test 1.txt", "A");
    app.put(LOCAL, "share/test+1.txt", "B");
    let token = app.share_files(&["share/test+1.txt"]).await;
    let got = body(
        app.view_raw(&view_query("share%2Ftest%2B1.txt", &token))
            .await,
    )
    .await;
    assert_eq!(got, (StatusCode::OK, b"B".to_vec()));
}

// Case K2 (../shared/cases/README.md).
async fn k2_a_raw_plus_is_a_space_and_never_reads_the_other_key() {
    let app = spawn_app().await;
    app.put(LOCAL, "share/test 1.txt", "A");
    app.put(LOCAL, "share/test+1.txt", "B");
    let token = app.share_files(&["share/test+1.txt"]).await;
    let response = app.view_raw(&view_query("share/test+1.txt", &token)).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ObjectOutOfScope"
    );
}

// Case K3 (../shared/cases/README.md).
async fn k3_a_real_percent_sign_in_a_key_is_served() {
    let app = spawn_app().await;
    app.put(LOCAL, "ftp/3js%205-report.jpg", "jpeg bytes");
    let token = app.share_files(&["ftp/3js%205-report.jpg"]).await;
    let response = app
        .view_raw(&view_query("ftp%2F3js%25205-report.jpg", &token))
        .await;
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    assert_eq!(
        body(response).await,
        (StatusCode::OK, b"jpeg bytes".to_vec())
    );
}

// Case K4 (../shared/cases/README.md).
async fn k4_the_key_is_decoded_once_not_twice() {
    let app = spawn_app().await;
    app.put(LOCAL, "ftp/3js%205-report.jpg", "jpeg bytes");
    app.put(LOCAL, "ftp/3js 5-report.jpg", "other");
    let token = app.share_files(&["ftp/3js%205-report.jpg"]).await;
    let response = app
        .view_raw(&view_query("ftp/3js%205-report.jpg", &token))
        .await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ObjectOutOfScope"
    );
}

// Case K5 (../shared/cases/README.md).
async fn k5_an_encoded_question_mark_is_part_of_the_key() {
    let app = spawn_app().await;
    app.put(LOCAL, "folder/what", "X");
    app.put(LOCAL, "folder/what?.png", "Y");
    let token = app.share_files(&["folder/what?.png"]).await;
    let got = body(
        app.view_raw(&view_query("folder%2Fwhat%3F.png", &token))
            .await,
    )
    .await;
    assert_eq!(got, (StatusCode::OK, b"Y".to_vec()));
}

// Case K6 (../shared/cases/README.md).
async fn k6_an_unencoded_question_mark_or_hash_never_reads_another_object() {
    let app = spawn_app().await;
    app.put(LOCAL, "folder/what", "X");
    app.put(LOCAL, "folder/what?.png", "Y");
    app.put(LOCAL, "report#1.pdf", "PDF");
    let token = app.share_files(&["folder/what?.png", "report#1.pdf"]).await;
    // A raw '?' means the key was never encoded: refused, never "X".
    let raw = format!("object=folder/what?.png&shareToken={}", encode(&token));
    let response = app.view_raw(&raw).await;
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.KeyNotEncoded"
    );

    // A raw '#' starts the fragment: the client never sends the rest.
    let response = app
        .http
        .get(format!(
            "{}{VIEW}?shareToken={}&object=report#1.pdf",
            app.address,
            encode(&token)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(
        assert_error(response, StatusCode::FORBIDDEN).await,
        "ST.ObjectOutOfScope"
    );
    let encoded = body(app.view_raw(&view_query("report%231.pdf", &token)).await).await;
    assert_eq!(encoded, (StatusCode::OK, b"PDF".to_vec()));
}

// Case K7 (../shared/cases/README.md).
async fn k7_dot_segments_never_reach_the_backend() {
    let app = spawn_app().await;
    // The broken connector answers 502 to any backend call: a 403 here proves
    // the request was refused before the backend.
    let (token, _) = app
        .mint(
            BROKEN,
            json!({"shareType": 1, "key": "share/", "timeoutInMinutes": 5}),
        )
        .await;
    for object in [
        "share/../other/x",
        "share%2F..%2Fother%2Fx",
        "share/%2e%2e/other/x",
        "..",
        "../bucket2/x",
        "share/./x",
        "share//x",
        "/share/x",
    ] {
        let response = app.view_raw(&view_query(object, &token)).await;
        assert_eq!(
            assert_error(response, StatusCode::FORBIDDEN).await,
            "ST.ObjectOutOfScope",
            "{object}"
        );
    }
    // A key inside the scope does reach the (broken) backend.
    let response = app.view_raw(&view_query("share/x", &token)).await;
    assert_eq!(
        assert_error(response, StatusCode::BAD_GATEWAY).await,
        "ST.BackendUnavailable"
    );
}

// Case K7 (../shared/cases/README.md).
async fn k7_dot_segments_cannot_escape_the_local_directory() {
    let app = spawn_app().await;
    app.put(OBS, "other/x", "secret in another connector");
    app.put(LOCAL, "share/x", "ok");
    let (token, _) = app
        .mint(
            LOCAL,
            json!({"shareType": 1, "key": "share/", "timeoutInMinutes": 5}),
        )
        .await;
    for object in ["share/../../obs/other/x", "share/%2e%2e/%2e%2e/obs/other/x"] {
        let response = app.view_raw(&view_query(object, &token)).await;
        assert_eq!(
            assert_error(response, StatusCode::FORBIDDEN).await,
            "ST.ObjectOutOfScope"
        );
    }
    assert_eq!(
        body(app.view("share/x", &token).await).await,
        (StatusCode::OK, b"ok".to_vec())
    );
}

async fn keys_of_every_shape_are_served_byte_for_byte() {
    let app = spawn_app().await;
    let keys = [
        "spaces in/a name.txt",
        "plus+sign",
        "percent%41",
        "question?mark",
        "hash#tag.x",
        "tilde~and`back`",
        "合同/文件 v2.doc",
        "emoji/😀.png",
        "quote\"and\\backslash",
        "brackets[{<>}]|^*",
        "semi;colon,comma=equals&amp",
    ];
    // 1024 bytes, in segments a file system accepts (255 bytes each at most).
    let long = format!("{}/{}", vec!["s".repeat(200); 4].join("/"), "k".repeat(220));
    assert_eq!(long.len(), 1024);
    let mut all: Vec<&str> = keys.to_vec();
    all.push(&long);
    for (i, key) in all.iter().enumerate() {
        app.put(LOCAL, key, format!("object {i}"));
    }
    for (i, key) in all.iter().enumerate() {
        let token = app.share_files(&[key]).await;
        let got = body(app.view(key, &token).await).await;
        assert_eq!(
            got,
            (StatusCode::OK, format!("object {i}").into_bytes()),
            "{key}"
        );
    }
}
}
