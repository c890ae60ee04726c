//! Third-party judges of the HTTP surface, run against a real instance:
//! schemathesis (the OpenAPI document at /openapi.json against what the
//! server answers) and REDbot (HTTP semantics of a view URL). `make test`
//! installs both from PyPI when they are missing.

mod support;

use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};
use support::instance::{configure_store, Instance, OPERATOR};

async fn instance(dir: &tempfile::TempDir) -> Instance {
    Instance::start(&dir.path().join("sharetoken.toml"), dir.path(), "a").await
}

/// Runs a command to its end off the async workers; (success, output).
async fn run(mut command: Command) -> (bool, String) {
    tokio::task::spawn_blocking(move || {
        let output = command
            .output()
            .expect("the tool is installed (make test installs it)");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn schemathesis_finds_no_server_error_and_every_answer_conforms_to_the_document() {
    let dir = configure_store("[store]\nkind = \"embedded\"\n");
    let server = instance(&dir).await;
    let access = server.access_token(OPERATOR.0, OPERATOR.1).await;
    let mut command = Command::new("schemathesis");
    command
        .arg("run")
        .arg(format!("{}/openapi.json", server.base))
        .args(["--header", &format!("access-token: {access}")])
        // Bounded and reproducible: a fixed seed and example budget.
        .args(["--max-examples", "30", "--seed", "7"])
        .args([
            "--checks",
            "not_a_server_error,status_code_conformance,content_type_conformance,\
             response_headers_conformance,response_schema_conformance,negative_data_rejection",
        ])
        .env("NO_COLOR", "1");
    let (passed, output) = run(command).await;
    assert!(passed, "schemathesis found problems:\n{output}");
    assert!(output.contains("passed"), "{output}");
}

#[tokio::test]
async fn redbot_rates_nothing_bad_in_plain_ranged_and_conditional_views() {
    let dir = configure_store("[store]\nkind = \"embedded\"\n");
    // Large enough for a meaningful partial response.
    let text: String = (0..2000).map(|i| format!("line {i}\n")).collect();
    std::fs::write(dir.path().join("objects/docs/long.txt"), &text).unwrap();
    let server = instance(&dir).await;
    let access = server.access_token(OPERATOR.0, OPERATOR.1).await;
    let body = json!({"shareType": 0, "key": "docs/long.txt", "timeoutInMinutes": 30});
    let minted = server.mint(&access, &body).await;
    assert_eq!(minted.status(), StatusCode::OK);
    let answer: Value = minted.json().await.unwrap();
    let token = answer["result"]["shareToken"].as_str().unwrap();
    let query: String = form_urlencoded::Serializer::new(String::new())
        .append_pair("object", "docs/long.txt")
        .append_pair("shareToken", token)
        .finish();
    let url = format!(
        "{}/u-route/baas/sys/v1.1/objectstorage/viewshareobject?{query}",
        server.base
    );
    let mut command = Command::new("redbot");
    command.args(["--output-format", "har"]).arg(&url);
    let (ran, output) = run(command).await;
    assert!(ran, "redbot failed:\n{output}");
    let har: Value = serde_json::from_str(&output).expect("REDbot's HAR output");
    let notes: Vec<(String, String)> = har["log"]["entries"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|entry| {
            entry["_red_messages"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|note| {
            (
                note["level"].as_str().unwrap_or_default().to_owned(),
                note["summary"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let bad: Vec<&(String, String)> = notes.iter().filter(|(level, _)| level == "BAD").collect();
    assert!(bad.is_empty(), "REDbot rates these bad: {bad:?}");
    // REDbot made its ranged and conditional requests, and liked them.
    for expected in [
        "A ranged request returned the correct partial content.",
        "If-None-Match conditional requests are supported.",
        "If-Modified-Since conditional requests are supported.",
        "The Content-Length header is correct.",
    ] {
        assert!(
            notes
                .iter()
                .any(|(level, summary)| level == "GOOD" && summary == expected),
            "missing GOOD note {expected:?} in {notes:?}"
        );
    }
}
