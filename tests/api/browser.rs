//! Headless Chromium (Debian's `chromium`, installed by `make test`) opens
//! shared files as a person would: a shared HTML page or SVG image cannot
//! run script against the service's origin, and a shared video plays
//! through Range requests (case H5).

use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::*;

/// A shared page whose script, if it ran, would write a marker into the
/// document (with the page's origin and whether it reached storage).
/// The marker is built at run time, so the source never holds it.
const ATTACK_HTML: &str = r#"<!doctype html>
<html><head><title>static</title></head>
<body><p id="status">static</p>
<script>
  var marker = 'MARK' + 'ER-SET origin=' + location.origin;
  try { localStorage.setItem('m', '1'); marker += ' storage'; } catch (e) {}
  try { marker += ' cookie=' + document.cookie; } catch (e) {}
  document.getElementById('status').textContent = marker;
</script>
</body></html>
"#;

const ATTACK_SVG: &str = r#"<svg xmlns="http://www.w3.org/2000/svg" width="200" height="50">
  <text id="status" x="0" y="20">static</text>
  <script>
    document.getElementById('status').textContent = 'MARK' + 'ER-SET origin=' + location.origin;
  </script>
</svg>
"#;

const MARKER: &str = "MARKER-SET";

/// The document Chromium ends with after loading `url` (scripts included).
async fn dump_dom(url: String, profile: &Path) -> String {
    let profile = profile.to_owned();
    tokio::task::spawn_blocking(move || {
        let output = std::process::Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--mute-audio",
                "--virtual-time-budget=10000",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("--dump-dom")
            .arg(&url)
            .output()
            .expect("chromium is installed (make test installs Debian's chromium)");
        assert!(output.status.success(), "chromium failed on {url}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    })
    .await
    .unwrap()
}

fn view_url(app: &TestApp, object: &str, token: &str) -> String {
    format!(
        "{}{VIEW}?{}",
        app.address,
        view_query(&encode(object), token)
    )
}

#[tokio::test]
async fn a_shared_html_page_or_svg_cannot_run_script_in_the_browser() {
    let app = spawn_app().await;
    app.put(LOCAL, "web/attack.html", ATTACK_HTML);
    app.put(LOCAL, "web/attack.svg", ATTACK_SVG);
    let token = app
        .mint(
            LOCAL,
            json!({"shareType": 1, "key": "web/", "timeoutInMinutes": 30}),
        )
        .await
        .0;
    let profile = app.scratch().join("chromium-profile");
    for object in ["web/attack.html", "web/attack.svg"] {
        let shared = dump_dom(view_url(&app, object, &token), &profile).await;
        // The file was opened and rendered (its static text is there) ...
        assert!(shared.contains(r#"id="status""#), "{object}: {shared}");
        // ... but its script never ran.
        assert!(!shared.contains(MARKER), "{object}: {shared}");

        // Control: the same file opened from disk, where scripts run,
        // sets the marker, so the check above can fail.
        let on_disk = app.object_file(LOCAL, object);
        let control = dump_dom(format!("file://{}", on_disk.display()), &profile).await;
        assert!(control.contains(MARKER), "{object} control: {control}");
    }
}

// Case H5 (../shared/cases/README.md), in a real browser.
#[tokio::test]
async fn h5_a_shared_video_plays_in_the_browser_through_range_requests() {
    let app = spawn_app().await;
    let video =
        std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/clip.webm"))
            .unwrap();
    app.put(LOCAL, "media/clip.webm", &video);
    let (token, jti) = app
        .mint(
            LOCAL,
            json!({"shareType": 0, "key": "media/clip.webm", "timeoutInMinutes": 30}),
        )
        .await;
    // A page on another origin (a local file) embeds the shared link.
    let page = app.scratch().join("player.html");
    std::fs::write(
        &page,
        format!(
            r#"<!doctype html><html><body>
<video id="v" preload="metadata" muted src="{src}"></video>
<p id="result">waiting</p>
<script>
  var v = document.getElementById('v');
  var result = document.getElementById('result');
  v.addEventListener('loadedmetadata', function () {{ result.textContent = 'duration=' + v.duration; }});
  v.addEventListener('error', function () {{ result.textContent = 'error=' + (v.error && v.error.code); }});
</script></body></html>"#,
            src = view_url(&app, "media/clip.webm", &token).replace('&', "&amp;")
        ),
    )
    .unwrap();
    let profile = app.scratch().join("chromium-profile");
    let dom = dump_dom(format!("file://{}", page.display()), &profile).await;
    assert!(
        dom.contains(r#"<p id="result">duration=4</p>"#),
        "the player did not report the 4-second duration: {dom}"
    );

    // The browser asked for byte ranges, and got 206s.
    let admin = app.access_token(ADMIN).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let response = app
            .http
            .get(format!("{}/admin/v1/tokens/{jti}", app.address))
            .header("access-token", &admin)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        let ranged = body["result"]["audit"].as_array().unwrap().iter().any(|e| {
            e["status"] == 206
                && e["range"]
                    .as_str()
                    .is_some_and(|r| r.starts_with("bytes 0-"))
        });
        if ranged {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no ranged view was audited: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
