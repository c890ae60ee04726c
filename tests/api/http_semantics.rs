//! Cases H1–H9 and the other file-serving rules of DESIGN §1.

use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::{Method, StatusCode};

use crate::helpers::*;

fn header<'a>(headers: &'a HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
        .to_str()
        .unwrap()
}

fn thousand_bytes() -> Vec<u8> {
    (0..1000u32).map(|i| (i % 251) as u8).collect()
}

on_every_backend! {
// Case H1 (../shared/cases/README.md).
async fn h1_a_suffix_range_on_an_empty_object_never_says_0_to_minus_1() {
    let app = spawn_app().await;
    app.put(LOCAL, "empty", "");
    let token = app.share_files(&["empty"]).await;
    let response = app.get_with("empty", &token, "range", "bytes=-5").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("content-range").is_none());
    assert_eq!(header(response.headers(), "content-length"), "0");
    assert!(response.bytes().await.unwrap().is_empty());

    let response = app.get_with("empty", &token, "range", "bytes=0-").await;
    assert_eq!(header(response.headers(), "content-range"), "bytes */0");
    assert_error(response, StatusCode::RANGE_NOT_SATISFIABLE).await;
}

// Case H2 (../shared/cases/README.md).
async fn h2_an_overlong_range_is_clipped_to_the_object() {
    let app = spawn_app().await;
    let bytes = thousand_bytes();
    app.put(LOCAL, "k", &bytes);
    let token = app.share_files(&["k"]).await;
    let response = app.get_with("k", &token, "range", "bytes=800-1500").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(response.headers(), "content-range"),
        "bytes 800-999/1000"
    );
    assert_eq!(header(response.headers(), "content-length"), "200");
    assert_eq!(response.bytes().await.unwrap(), bytes[800..]);
}

// Case H3 (../shared/cases/README.md).
async fn h3_ranges_past_the_end_and_empty_suffixes_are_416() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", thousand_bytes());
    let token = app.share_files(&["k"]).await;
    for range in ["bytes=1000-", "bytes=-0", "bytes=5000-6000"] {
        let response = app.get_with("k", &token, "range", range).await;
        assert_eq!(
            header(response.headers(), "content-range"),
            "bytes */1000",
            "{range}"
        );
        assert_eq!(
            assert_error(response, StatusCode::RANGE_NOT_SATISFIABLE).await,
            "ST.RangeNotSatisfiable"
        );
    }
}

// Case H4 (../shared/cases/README.md).
async fn h4_reversed_garbled_and_multiple_ranges_get_the_whole_body() {
    let app = spawn_app().await;
    let bytes = thousand_bytes();
    app.put(LOCAL, "k", &bytes);
    let token = app.share_files(&["k"]).await;
    for range in ["bytes=5-2", "bytes=abc", "lines=1-2", "bytes=0-1,5-6"] {
        let response = app.get_with("k", &token, "range", range).await;
        assert_eq!(response.status(), StatusCode::OK, "{range}");
        assert_eq!(header(response.headers(), "content-length"), "1000");
        assert_eq!(response.bytes().await.unwrap(), bytes, "{range}");
    }
}

// Case H5 (../shared/cases/README.md).
async fn h5_the_first_two_bytes_of_a_video_let_browsers_play_it() {
    let app = spawn_app().await;
    let video: Vec<u8> = (0..VIDEO_LEN).map(|i| (i * 7 % 256) as u8).collect();
    app.put(LOCAL, "media/clip.mp4", &video);
    let token = app.share_files(&["media/clip.mp4"]).await;
    let response = app.get_with("media/clip.mp4", &token, "range", "bytes=0-1").await;
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        header(response.headers(), "content-range"),
        "bytes 0-1/5975596"
    );
    assert_eq!(header(response.headers(), "content-length"), "2");
    assert_eq!(header(response.headers(), "content-type"), "video/mp4");
    assert_eq!(header(response.headers(), "accept-ranges"), "bytes");
    assert_eq!(response.bytes().await.unwrap(), video[..2]);

    // And a seek into the middle, as players do.
    let response = app.get_with("media/clip.mp4", &token, "range", "bytes=3000000-").await;
    assert_eq!(
        header(response.headers(), "content-range"),
        "bytes 3000000-5975595/5975596"
    );
    assert_eq!(response.bytes().await.unwrap(), video[3_000_000..]);
}

// Case H6 (../shared/cases/README.md).
async fn h6_head_has_the_same_headers_as_get_and_no_body() {
    let app = spawn_app().await;
    app.put(LOCAL, "media/clip.mp4", vec![9u8; VIDEO_LEN]);
    let token = app.share_files(&["media/clip.mp4"]).await;
    let get = app
        .view_request(Method::GET, "media/clip.mp4", &token)
        .send()
        .await
        .unwrap();
    let head = app
        .view_request(Method::HEAD, "media/clip.mp4", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), StatusCode::OK);
    for name in [
        "content-length",
        "content-type",
        "etag",
        "last-modified",
        "accept-ranges",
        "cache-control",
        "content-disposition",
        "x-content-type-options",
    ] {
        assert_eq!(
            header(head.headers(), name),
            header(get.headers(), name),
            "{name}"
        );
    }
    assert_eq!(header(head.headers(), "content-length"), "5975596");
    assert!(head.bytes().await.unwrap().is_empty());
    assert_eq!(get.bytes().await.unwrap().len(), VIDEO_LEN);
}

// Case H7 (../shared/cases/README.md).
async fn h7_if_none_match_with_the_etag_answers_304() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "content");
    let token = app.share_files(&["k"]).await;
    let first = app.view("k", &token).await;
    let etag = header(first.headers(), "etag").to_owned();
    assert!(etag.starts_with('"') && etag.ends_with('"'), "{etag}");
    let weak = format!("W/{etag}");
    let listed = format!("\"x\", {etag}");
    for value in [etag.as_str(), &weak, &listed, "*"] {
        let response = app.get_with("k", &token, "if-none-match", value).await;
        assert_eq!(response.status(), StatusCode::NOT_MODIFIED, "{value}");
        assert_eq!(header(response.headers(), "etag"), etag);
        assert_eq!(
            header(response.headers(), "cache-control"),
            "private, no-cache"
        );
        assert!(response.bytes().await.unwrap().is_empty());
    }
    let response = app.get_with("k", &token, "if-none-match", "\"x\"").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.bytes().await.unwrap(), "content");
}

// Case H7 (../shared/cases/README.md).
async fn h7_if_modified_since_and_if_match_are_honoured() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "content");
    let token = app.share_files(&["k"]).await;
    let first = app.view("k", &token).await;
    let modified = header(first.headers(), "last-modified").to_owned();
    let response = app.get_with("k", &token, "if-modified-since", &modified).await;
    assert_eq!(response.status(), StatusCode::NOT_MODIFIED);

    let response = app.get_with("k", &token, "if-match", "\"not-it\"").await;
    assert_eq!(
        assert_error(response, StatusCode::PRECONDITION_FAILED).await,
        "ST.PreconditionFailed"
    );
}

async fn if_range_with_a_stale_etag_sends_the_whole_object() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "0123456789");
    let token = app.share_files(&["k"]).await;
    let etag = header(app.view("k", &token).await.headers(), "etag").to_owned();
    let ranged = |validator: String| {
        app.view_request(Method::GET, "k", &token)
            .header("range", "bytes=2-3")
            .header("if-range", validator)
            .send()
    };
    let fresh = ranged(etag).await.unwrap();
    assert_eq!(fresh.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(fresh.bytes().await.unwrap(), "23");
    let stale = ranged("\"old\"".into()).await.unwrap();
    assert_eq!(stale.status(), StatusCode::OK);
    assert_eq!(stale.bytes().await.unwrap(), "0123456789");
}

// Case H8 (../shared/cases/README.md).
async fn h8_a_revoked_token_gets_401_not_304() {
    let app = spawn_app().await;
    app.put(LOCAL, "k", "content");
    let (token, jti) = app
        .mint(
            LOCAL,
            serde_json::json!({"shareType": 0, "key": "k", "timeoutInMinutes": 5}),
        )
        .await;
    let etag = header(app.view("k", &token).await.headers(), "etag").to_owned();
    assert_eq!(app.revoke(&jti).await.status(), StatusCode::OK);
    let response = app.get_with("k", &token, "if-none-match", etag).await;
    assert_eq!(
        assert_error(response, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenRevoked"
    );
}

// Case H9 (../shared/cases/README.md).
async fn h9_file_names_use_rfc_6266_and_cannot_inject_headers() {
    let app = spawn_app().await;
    let cases = [
        (
            "合同/文件 v2.doc",
            "inline; filename=\"__ v2.doc\"; filename*=UTF-8''%E6%96%87%E4%BB%B6%20v2.doc",
        ),
        (
            "q/say \"hi\".txt",
            "inline; filename=\"say _hi_.txt\"; filename*=UTF-8''say%20%22hi%22.txt",
        ),
        (
            "q/back\\slash.txt",
            "inline; filename=\"back_slash.txt\"; filename*=UTF-8''back%5Cslash.txt",
        ),
        // A bidirectional override cannot make "txt.exe" show as "exe.txt".
        (
            "q/invoice\u{202E}txt.exe",
            "inline; filename=\"invoice_txt.exe\"; filename*=UTF-8''invoice_txt.exe",
        ),
        // Some browsers decode `filename=`: no `%` in it.
        (
            "q/50%41.txt",
            "inline; filename=\"50_41.txt\"; filename*=UTF-8''50%2541.txt",
        ),
    ];
    for (key, expected) in cases {
        app.put(LOCAL, key, "x");
        let token = app.share_files(&[key]).await;
        let response = app.view(key, &token).await;
        assert_eq!(response.status(), StatusCode::OK, "{key}");
        assert_eq!(header(response.headers(), "content-disposition"), expected);
    }
    // Keys with CR or LF cannot be shared at all.
    for key in ["bad\r\nSet-Cookie: a=b", "bad\nname"] {
        let body = serde_json::json!({"shareType": 0, "key": key, "timeoutInMinutes": 5});
        let response = app.mint_raw(SHARER, LOCAL, &body.to_string()).await;
        assert_eq!(
            assert_error(response, StatusCode::BAD_REQUEST).await,
            "ST.InvalidMintRequest"
        );
    }
}

// Case H9 (../shared/cases/README.md).
async fn h9_a_download_name_cannot_inject_headers_either() {
    let app = spawn_app().await;
    app.put(LOCAL, "report.pdf", "%PDF");
    let token = app.share_files(&["report.pdf"]).await;
    let query = format!(
        "{}&download={}",
        view_query("report.pdf", &token),
        encode("x\r\nSet-Cookie: a=b.pdf")
    );
    let response = app.view_raw(&query).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get("set-cookie").is_none());
    assert_eq!(
        header(response.headers(), "content-disposition"),
        "attachment; filename=\"x__Set-Cookie: a=b.pdf\"; filename*=UTF-8''x__Set-Cookie%3A%20a%3Db.pdf"
    );
}

async fn download_turns_inline_into_attachment_and_may_rename() {
    let app = spawn_app().await;
    app.put(LOCAL, "docs/report.pdf", "%PDF");
    let token = app.share_files(&["docs/report.pdf"]).await;
    let base = view_query("docs%2Freport.pdf", &token);
    let plain = app.view_raw(&base).await;
    assert_eq!(
        header(plain.headers(), "content-disposition"),
        "inline; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    );
    assert_eq!(header(plain.headers(), "content-type"), "application/pdf");
    let download = app.view_raw(&format!("{base}&download")).await;
    assert_eq!(
        header(download.headers(), "content-disposition"),
        "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf"
    );
    let renamed = app
        .view_raw(&format!("{base}&download=r%C3%A9sum%C3%A9.pdf"))
        .await;
    assert_eq!(
        header(renamed.headers(), "content-disposition"),
        "attachment; filename=\"r_sum_.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9.pdf"
    );
}

async fn active_content_is_sandboxed_and_nothing_is_sniffed() {
    let app = spawn_app().await;
    let files = [
        ("page.html", "text/html", true),
        ("image.svg", "image/svg+xml", true),
        ("data.xml", "text/xml", true),
        ("app.js", "text/javascript", true),
        ("notes.txt", "text/plain; charset=utf-8", false),
        ("photo.png", "image/png", false),
        ("blob", "application/octet-stream", false),
    ];
    for (key, _, _) in files {
        app.put(LOCAL, key, "<script>alert(1)</script>");
    }
    let keys: Vec<&str> = files.iter().map(|f| f.0).collect();
    let token = app.share_files(&keys).await;
    for (key, mime, active) in files {
        let response = app.view(key, &token).await;
        assert_eq!(header(response.headers(), "content-type"), mime, "{key}");
        assert_eq!(
            header(response.headers(), "x-content-type-options"),
            "nosniff"
        );
        assert_eq!(
            header(response.headers(), "cache-control"),
            "private, no-cache"
        );
        let csp = response.headers().get("content-security-policy");
        assert_eq!(
            csp.map(|v| v.to_str().unwrap()),
            active.then_some("sandbox"),
            "{key}"
        );
    }
}

async fn a_missing_object_is_404_in_the_error_body() {
    let app = spawn_app().await;
    let token = app.share_files(&["not/there.txt"]).await;
    let response = app.view("not/there.txt", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::NOT_FOUND).await,
        "ST.ObjectNotFound"
    );
}


async fn a_download_name_keeps_only_its_last_segment() {
    let app = spawn_app().await;
    app.put(LOCAL, "report.pdf", "%PDF");
    let token = app.share_files(&["report.pdf"]).await;
    for (requested, expected) in [
        (
            "../../etc/passwd",
            "attachment; filename=\"passwd\"; filename*=UTF-8''passwd",
        ),
        (
            "dir/",
            "attachment; filename=\"report.pdf\"; filename*=UTF-8''report.pdf",
        ),
        (
            "invoice\u{202E}fdp.exe",
            "attachment; filename=\"invoice_fdp.exe\"; filename*=UTF-8''invoice_fdp.exe",
        ),
    ] {
        let query = format!(
            "{}&download={}",
            view_query("report.pdf", &token),
            encode(requested)
        );
        let response = app.view_raw(&query).await;
        assert_eq!(
            header(response.headers(), "content-disposition"),
            expected,
            "{requested}"
        );
    }
}
}

const VIDEO_LEN: usize = 5_975_596;

#[tokio::test]
async fn a_file_shortened_mid_download_ends_the_body_instead_of_hanging() {
    let app = spawn_app().await;
    let size = 20 * 1024 * 1024;
    app.put(LOCAL, "grow.bin", vec![7u8; size]);
    let token = app.share_files(&["grow.bin"]).await;
    let mut response = app.view("grow.bin", &token).await;
    assert_eq!(
        header(response.headers(), "content-length"),
        size.to_string()
    );
    let first = response.chunk().await.unwrap().unwrap();
    assert!(!first.is_empty());
    std::fs::write(app.object_file(LOCAL, "grow.bin"), b"").unwrap();
    let (rest, outcome) =
        crate::support::read_until_end_or_cut(&mut response, std::time::Duration::from_secs(20))
            .await;
    let received = first.len() + rest;
    assert!(
        outcome.is_err(),
        "a short body is an error, not a clean end"
    );
    assert!(received < size);
}

#[tokio::test]
async fn symbolic_links_out_of_the_directory_are_not_followed() {
    let app = spawn_app().await;
    let outside = app.scratch().join("outside-secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    app.put(LOCAL, "inside.txt", "fine");
    let objects = app.object_file(LOCAL, "");
    std::os::unix::fs::symlink(&outside, objects.join("link.txt")).unwrap();
    std::os::unix::fs::symlink(app.scratch(), objects.join("escape")).unwrap();
    std::os::unix::fs::symlink(objects.join("inside.txt"), objects.join("alias.txt")).unwrap();
    // Relative links: one that stays inside, one that climbs out.
    std::fs::create_dir(objects.join("sub")).unwrap();
    std::os::unix::fs::symlink("../inside.txt", objects.join("sub/relative.txt")).unwrap();
    std::os::unix::fs::symlink("../../outside-secret.txt", objects.join("sub/climb.txt")).unwrap();
    // Not objects either: a link loop, a socket, a link to a terminal.
    std::os::unix::fs::symlink("loop2", objects.join("loop1")).unwrap();
    std::os::unix::fs::symlink("loop1", objects.join("loop2")).unwrap();
    let _socket = std::os::unix::net::UnixListener::bind(objects.join("sock")).unwrap();
    std::os::unix::fs::symlink("/dev/tty", objects.join("tty")).unwrap();
    let climb = objects.join("sub/climb.txt");
    assert_eq!(
        std::fs::read_to_string(&climb).unwrap(),
        "secret",
        "{climb:?} must really lead out"
    );
    let (token, _) = app
        .mint(
            LOCAL,
            serde_json::json!({"shareType": 1, "key": "/", "timeoutInMinutes": 5}),
        )
        .await;
    for key in [
        "link.txt",
        "escape/outside-secret.txt",
        "escape/data/token-keys",
        "sub/climb.txt",
        "loop1",
        "loop1/x",
        "sock",
        "tty",
    ] {
        let response = app.view(key, &token).await;
        assert_eq!(
            assert_error(response, StatusCode::NOT_FOUND).await,
            "ST.ObjectNotFound",
            "{key}"
        );
    }
    // A link that stays inside the directory is an ordinary name.
    for key in ["alias.txt", "sub/relative.txt"] {
        assert_eq!(
            app.view(key, &token).await.bytes().await.unwrap(),
            "fine",
            "{key}"
        );
    }
}

#[tokio::test]
async fn a_symbolic_link_swapped_in_while_views_run_is_never_followed_out() {
    let app = spawn_app().await;
    let outside = app.scratch().join("outside-secret.txt");
    std::fs::write(&outside, "secret").unwrap();
    app.put(LOCAL, "race/plain.txt", "plain");
    let objects = app.object_file(LOCAL, "race");
    let (token, _) = app
        .mint(
            LOCAL,
            serde_json::json!({"shareType": 1, "key": "race/", "timeoutInMinutes": 5}),
        )
        .await;
    // Swap race/x between a regular file and a link out of the directory,
    // as an uploader or a sync job could, while views of it run.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (file, link, target) = (
                objects.join(".file"),
                objects.join(".link"),
                objects.join("x"),
            );
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                std::fs::write(&file, "plain").unwrap();
                std::fs::rename(&file, &target).unwrap();
                let _ = std::fs::remove_file(&link);
                std::os::unix::fs::symlink(&outside, &link).unwrap();
                std::fs::rename(&link, &target).unwrap();
            }
        })
    };
    let mut served = 0;
    for _ in 0..400 {
        let response = app.view("race/x", &token).await;
        let status = response.status();
        let body = response.bytes().await.unwrap();
        assert_ne!(&body[..], b"secret", "the link was followed");
        if status == StatusCode::OK {
            assert_eq!(&body[..], b"plain");
            served += 1;
        } else {
            assert_eq!(status, StatusCode::NOT_FOUND);
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(served > 0, "the regular file was never served");
}

#[tokio::test]
async fn a_fifo_is_not_an_object_and_never_blocks_a_view() {
    let app = spawn_app().await;
    app.put(LOCAL, "pipes/plain.txt", "plain");
    let fifo = app.object_file(LOCAL, "pipes/fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let token = app.share_files(&["pipes/fifo", "pipes/plain.txt"]).await;
    // More than the blocking threads there are: none may be held by the FIFO.
    for _ in 0..40 {
        let response = tokio::time::timeout(Duration::from_secs(5), app.view("pipes/fifo", &token))
            .await
            .expect("a FIFO answers at once");
        assert_eq!(
            assert_error(response, StatusCode::NOT_FOUND).await,
            "ST.ObjectNotFound"
        );
    }
    let response = app.view("pipes/plain.txt", &token).await;
    assert_eq!(response.text().await.unwrap(), "plain");
}

#[tokio::test]
async fn keys_that_cannot_exist_on_disk_are_404_not_502() {
    let app = spawn_app().await;
    app.put(LOCAL, "samples/hello.txt", "hi");
    let (token, _) = app
        .mint(
            LOCAL,
            serde_json::json!({"shareType": 1, "key": "/", "timeoutInMinutes": 5}),
        )
        .await;
    let long = format!("dir/{}", "n".repeat(300));
    for key in [
        "samples/hello.txt/x",
        long.as_str(),
        "x#1",
        "docs/nothing#12",
    ] {
        let response = app.view(key, &token).await;
        assert_eq!(
            assert_error(response, StatusCode::NOT_FOUND).await,
            "ST.ObjectNotFound",
            "{key}"
        );
    }
}

// NOTE: local only: s3s-fs answers 500 for a key naming one of its
// directories, where S3 itself has no directories and says 404.
#[tokio::test]
async fn a_directory_is_not_an_object() {
    let app = spawn_app().await;
    app.put(LOCAL, "dir/inner", "x");
    let (token, _) = app
        .mint(
            LOCAL,
            serde_json::json!({"shareType": 1, "key": "/", "timeoutInMinutes": 5}),
        )
        .await;
    let response = app.view("dir", &token).await;
    assert_eq!(
        assert_error(response, StatusCode::NOT_FOUND).await,
        "ST.ObjectNotFound"
    );
}

#[tokio::test]
async fn a_shared_object_can_be_read_from_another_origin_and_nothing_else_can() {
    let app = spawn_app().await;
    app.put(LOCAL, "v/clip.mp4", vec![7u8; 1000]);
    let token = app.share_files(&["v/clip.mp4"]).await;
    let origin = "https://app.example";

    // The preflight a page's fetch() with a Range header sends first.
    let preflight = app
        .view_request(reqwest::Method::OPTIONS, "v/clip.mp4", &token)
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "range")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    let headers = preflight.headers();
    assert_eq!(header(headers, "access-control-allow-origin"), "*");
    assert_eq!(header(headers, "access-control-allow-methods"), "GET, HEAD");
    assert!(header(headers, "access-control-allow-headers").starts_with("Range, If-Range"));
    assert_eq!(header(headers, "access-control-max-age"), "86400");
    assert!(headers.get("access-control-allow-credentials").is_none());

    let ranged = app
        .view_request(reqwest::Method::GET, "v/clip.mp4", &token)
        .header("origin", origin)
        .header("range", "bytes=0-1")
        .send()
        .await
        .unwrap();
    assert_eq!(ranged.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(header(ranged.headers(), "access-control-allow-origin"), "*");
    let exposed = header(ranged.headers(), "access-control-expose-headers");
    for name in ["Content-Range", "Content-Disposition", "ETag"] {
        assert!(exposed.contains(name), "{exposed}");
    }
    assert_eq!(&ranged.bytes().await.unwrap()[..], &[7u8, 7]);

    // A page can read why a link failed, too.
    let refused = app
        .view_request(reqwest::Method::GET, "v/clip.mp4", "v4.local.nope")
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(
        header(refused.headers(), "access-control-allow-origin"),
        "*"
    );
    assert_eq!(
        assert_error(refused, StatusCode::UNAUTHORIZED).await,
        "ST.ShareTokenInvalid"
    );

    // Minting is for servers: no CORS there.
    let mint = app
        .http
        .request(
            reqwest::Method::OPTIONS,
            app.mint_url("objectstorageproxy", "local"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(mint.headers().get("access-control-allow-origin").is_none());
    assert_eq!(
        assert_error(mint, StatusCode::METHOD_NOT_ALLOWED).await,
        "ST.MethodNotAllowed"
    );
}

#[tokio::test]
async fn list_headers_sent_on_several_lines_are_one_list_and_single_ones_twice_are_ignored() {
    let app = spawn_app().await;
    app.put(LOCAL, "r/x.txt", "012345678");
    let token = app.share_files(&["r/x.txt"]).await;
    let etag = header(app.view("r/x.txt", &token).await.headers(), "etag").to_owned();
    let send = |lines: Vec<(&'static str, String)>| {
        let mut request = app.view_request(Method::GET, "r/x.txt", &token);
        for (name, value) in lines {
            request = request.header(name, value);
        }
        request.send()
    };
    let status = |lines| async { send(lines).await.unwrap().status() };
    // If-Match "x" on one line and the real ETag on the next: it matches.
    let if_match = vec![("if-match", "\"x\"".to_owned()), ("if-match", etag.clone())];
    assert_eq!(status(if_match).await, StatusCode::OK);
    let if_none_match = vec![
        ("if-none-match", "\"x\"".to_owned()),
        ("if-none-match", etag.clone()),
    ];
    assert_eq!(status(if_none_match).await, StatusCode::NOT_MODIFIED);
    // Two dates, or two ranges, are no date and no range.
    let dates = vec![
        (
            "if-modified-since",
            "Thu, 01 Jan 2099 00:00:00 GMT".to_owned(),
        ),
        (
            "if-modified-since",
            "Thu, 01 Jan 1970 00:00:00 GMT".to_owned(),
        ),
    ];
    assert_eq!(status(dates).await, StatusCode::OK);
    let ranges = vec![
        ("range", "bytes=2-3".to_owned()),
        ("range", "bytes=0-1".to_owned()),
    ];
    let response = send(ranges).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.text().await.unwrap(), "012345678");
}
