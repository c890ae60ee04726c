//! The `s3` backend against a real S3-compatible server (s3s-fs): exact
//! keys, failures with clear answers, timeouts, streaming and memory.

mod support;

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use support::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};

/// An object_store client of the test server, to put objects the way any
/// S3 client would.
fn client(server: &S3Server, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(server.endpoint())
            .with_region(REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

/// Every key shape the service accepts.
pub const KEY_SHAPES: &[&str] = &[
    "plain.txt",
    "share/test 1.txt",
    "share/test+1.txt",
    "ftp/3js%205-report.jpg",
    "folder/what?.png",
    "report#1.pdf",
    "x#1",
    "tilde~and`back`",
    "合同/文件 v2.doc",
    "emoji/😀.png",
    "quote\"and\\backslash",
    "brackets[{<>}]|^*",
    "semi;colon,comma=equals&amp",
    "...dots/.hidden",
];

#[tokio::test]
async fn keys_reach_the_s3_server_byte_for_byte() {
    let server = tokio::task::spawn_blocking(S3Server::shared).await.unwrap();
    let bucket = server.bucket("exact");
    let s3 = client(server, &bucket);
    for (i, key) in KEY_SHAPES.iter().enumerate() {
        let path = Path::parse(key).unwrap();
        s3.put(&path, PutPayload::from(format!("object {i}")))
            .await
            .unwrap();
        let on_disk = std::fs::read_to_string(server.object_file(&bucket, key))
            .unwrap_or_else(|e| panic!("{key}: not stored under its own name: {e}"));
        assert_eq!(on_disk, format!("object {i}"), "{key}");
    }
}

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sharetoken::auth::hash_secret;
use support::instance::{rss_kib, Instance};
use support::proxy::{Faults, Relay, Silent};
use tempfile::TempDir;

const CLIENT: (&str, &str) = ("app", "app-secret");

/// One `[[connectors]]` table of type minio.
fn s3_connector(
    name: &str,
    endpoint: &str,
    bucket: &str,
    secret: &str,
    first_byte_ms: u64,
) -> String {
    format!(
        r#"
[[connectors]]
type = "minio"
name = "{name}"
backend = "s3"
endpoint = "{endpoint}"
region = "{REGION}"
bucket = "{bucket}"
access_key_id = "{ACCESS_KEY}"
secret_access_key = "{secret}"
allow_http = true
connect_timeout_ms = 1000
first_byte_timeout_ms = {first_byte_ms}
"#
    )
}

/// A running instance with these connectors and the embedded store.
async fn serve(connectors: &str) -> (Instance, TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let config = format!(
        r#"
[server]
demo_client = false
workers = 2

[[clients]]
id = "{id}"
secret_hash = "{hash}"
roles = ["share"]
connectors = ["*"]
{connectors}
"#,
        id = CLIENT.0,
        hash = hash_secret(CLIENT.1),
    );
    let path = dir.path().join("sharetoken.toml");
    std::fs::write(&path, config).unwrap();
    let instance = Instance::start(&path, dir.path(), "s3").await;
    (instance, dir)
}

/// A whole-bucket share token on `minio/<name>`.
async fn share(instance: &Instance, name: &str) -> String {
    let access = instance.access_token(CLIENT.0, CLIENT.1).await;
    let response = instance
        .http
        .post(format!(
            "{}/u-route/baas/sys/v1.1/connectors/minio/{name}/sharetoken",
            instance.base
        ))
        .header("access-token", access)
        .json(&json!({"shareType": 1, "key": "/", "timeoutInMinutes": 30}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", instance.log_text());
    let body: Value = response.json().await.unwrap();
    body["result"]["shareToken"].as_str().unwrap().to_owned()
}

async fn answer(response: reqwest::Response) -> (StatusCode, String, String) {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or_default();
    (
        status,
        body["resCode"].as_str().unwrap_or_default().to_owned(),
        body["resMsg"].as_str().unwrap_or_default().to_owned(),
    )
}

fn server() -> &'static S3Server {
    S3Server::shared()
}

#[tokio::test]
async fn backend_failures_get_clear_answers_that_name_only_the_connector() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("failures");
    std::fs::write(s3.object_file(&bucket, "here.txt"), "here").unwrap();
    let closed_port = support::redis::free_port();
    let connectors = [
        s3_connector("good", &s3.endpoint(), &bucket, SECRET_KEY, 2000),
        s3_connector(
            "nobucket",
            &s3.endpoint(),
            "no-such-bucket",
            SECRET_KEY,
            2000,
        ),
        s3_connector(
            "badkey",
            &s3.endpoint(),
            &bucket,
            "wrong-secret-value",
            2000,
        ),
        s3_connector(
            "down",
            &format!("http://127.0.0.1:{closed_port}"),
            &bucket,
            SECRET_KEY,
            2000,
        ),
    ]
    .concat();
    let (instance, _dir) = serve(&connectors).await;

    let good = share(&instance, "good").await;
    assert_eq!(
        instance.view("here.txt", &good).await.text().await.unwrap(),
        "here"
    );
    let missing = answer(instance.view("missing.txt", &good).await).await;
    assert_eq!(
        (missing.0, missing.1.as_str()),
        (StatusCode::NOT_FOUND, "ST.ObjectNotFound")
    );

    for name in ["nobucket", "badkey", "down"] {
        let token = share(&instance, name).await;
        let started = Instant::now();
        let (status, code, message) = answer(instance.view("here.txt", &token).await).await;
        assert_eq!(
            (status, code.as_str()),
            (StatusCode::BAD_GATEWAY, "ST.BackendUnavailable"),
            "{name}"
        );
        assert_eq!(message, format!("connector minio/{name} is unavailable"));
        // "Quickly": a bound on the answer, not a performance figure.
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{name}: {:?}",
            started.elapsed()
        );
    }
    // The start-up probe named each failing connector, and no secret.
    let log = instance.log_text();
    for name in ["nobucket", "badkey", "down"] {
        assert!(
            log.contains(&format!("connector minio/{name}: not ready")),
            "{log}"
        );
    }
    assert!(log.contains("connector minio/good: ready"));
    // The cause of a failed connection is said, not only "Connect".
    assert!(log.contains("Connection refused"), "{log}");
    assert!(!log.contains(SECRET_KEY) && !log.contains("wrong-secret-value"));
}

#[tokio::test]
async fn without_allow_http_a_plain_http_endpoint_is_never_sent_a_request() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("tlsonly");
    std::fs::write(s3.object_file(&bucket, "here.txt"), "here").unwrap();
    // A listener that counts what reaches it: the endpoint is plain HTTP.
    let listener = Silent::start().await;
    let endpoint = listener.endpoint();
    let connectors = [
        s3_connector("tls", &endpoint, &bucket, SECRET_KEY, 2000)
            .replace("allow_http = true", "allow_http = false"),
        s3_connector("plain", &s3.endpoint(), &bucket, SECRET_KEY, 2000),
    ]
    .concat();
    let (instance, _dir) = serve(&connectors).await;
    let token = share(&instance, "tls").await;
    let (status, code, _) = answer(instance.view("here.txt", &token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_GATEWAY, "ST.BackendUnavailable")
    );
    assert_eq!(
        listener.accepted.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no connection in clear"
    );
    // The same client with allow_http reads the bytes.
    let plain = share(&instance, "plain").await;
    assert_eq!(
        instance
            .view("here.txt", &plain)
            .await
            .text()
            .await
            .unwrap(),
        "here"
    );
}

#[tokio::test]
async fn a_silent_backend_is_a_504_after_the_first_byte_timeout() {
    let silent = Silent::start().await;
    let (instance, _dir) = serve(&s3_connector(
        "silent",
        &silent.endpoint(),
        "b",
        SECRET_KEY,
        500,
    ))
    .await;
    let token = share(&instance, "silent").await;
    let started = Instant::now();
    let (status, code, _) = answer(instance.view("x.txt", &token).await).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::GATEWAY_TIMEOUT, "ST.BackendTimeout")
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

// Case M2 (../shared/cases/README.md).
#[tokio::test]
async fn m2_a_slow_steady_download_is_never_cut() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("slow");
    let size = 2 * 1024 * 1024;
    let bytes: Vec<u8> = (0..size).map(|i| (i % 253) as u8).collect();
    std::fs::write(s3.object_file(&bucket, "big.bin"), &bytes).unwrap();
    // First byte within 500 ms, and a download that lasts far longer.
    let (instance, _dir) = serve(&s3_connector(
        "slow",
        &s3.endpoint(),
        &bucket,
        SECRET_KEY,
        500,
    ))
    .await;
    let token = share(&instance, "slow").await;
    let mut response = instance.view("big.bin", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    let mut received = Vec::with_capacity(size);
    while let Some(chunk) = response.chunk().await.unwrap() {
        received.extend_from_slice(&chunk);
        // About 512 KiB/s: four seconds for the whole object.
        tokio::time::sleep(Duration::from_millis(
            chunk.len() as u64 * 1000 / (512 * 1024),
        ))
        .await;
    }
    assert!(started.elapsed() > Duration::from_secs(3));
    assert_eq!(received.len(), size);
    assert!(received == bytes, "every byte, in order");
}

// Case M3 (../shared/cases/README.md).
#[tokio::test]
async fn m3_a_client_that_goes_away_releases_the_backend_request() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("abort");
    let size = 64 * 1024 * 1024;
    std::fs::write(s3.object_file(&bucket, "huge.bin"), vec![1u8; size]).unwrap();
    let relay = Relay::start(s3.port).await;
    let (instance, _dir) = serve(&s3_connector(
        "relayed",
        &relay.endpoint(),
        &bucket,
        SECRET_KEY,
        2000,
    ))
    .await;
    let token = share(&instance, "relayed").await;

    let mut response = instance.view("huge.bin", &token).await;
    let mut read = 0;
    while read < 1024 * 1024 {
        read += response.chunk().await.unwrap().unwrap().len();
    }
    let open_while_reading = relay
        .counters
        .open
        .load(std::sync::atomic::Ordering::SeqCst);
    assert!(open_while_reading >= 1);
    drop(response);

    // The backend connection that carried the body is closed, and the
    // backend stops sending: far less than the object crossed the relay.
    let deadline = Instant::now() + Duration::from_secs(10);
    while relay
        .counters
        .open
        .load(std::sync::atomic::Ordering::SeqCst)
        >= open_while_reading
    {
        assert!(
            Instant::now() < deadline,
            "the backend connection was kept open"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let sent = relay
        .counters
        .downstream_bytes
        .load(std::sync::atomic::Ordering::SeqCst);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let later = relay
        .counters
        .downstream_bytes
        .load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(sent, later, "the backend is no longer read");
    assert!(
        later < (size / 2) as u64,
        "{later} of {size} bytes were fetched"
    );
}

// Case M1 (../shared/cases/README.md).
#[tokio::test]
async fn m1_memory_stays_bounded_while_eight_clients_download_256_mib() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("memory");
    let size: usize = 256 * 1024 * 1024;
    {
        use std::io::Write;
        let mut file = std::fs::File::create(s3.object_file(&bucket, "large.bin")).unwrap();
        let block = vec![0x5au8; 1024 * 1024];
        for _ in 0..256 {
            file.write_all(&block).unwrap();
        }
    }
    // A generous first byte: s3s-fs hashes all 256 MiB before it answers
    // each GET, eight at once, on a machine that may be busy.
    let (instance, _dir) = serve(&s3_connector(
        "large",
        &s3.endpoint(),
        &bucket,
        SECRET_KEY,
        30_000,
    ))
    .await;
    let token = share(&instance, "large").await;
    // Warm up (connection pools, allocator), then take the idle size.
    instance.view("large.bin", &token).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let pid = instance.pid();
    let idle = rss_kib(pid);

    let peak = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(idle));
    let sampling = {
        let peak = std::sync::Arc::clone(&peak);
        tokio::spawn(async move {
            loop {
                peak.fetch_max(rss_kib(pid), std::sync::atomic::Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        })
    };
    let downloads = (0..8).map(|_| {
        let request = instance.view("large.bin", &token);
        async move {
            let mut response = request.await;
            assert_eq!(response.status(), StatusCode::OK);
            let mut total = 0usize;
            while let Some(chunk) = response.chunk().await.unwrap() {
                total += chunk.len();
            }
            total
        }
    });
    let totals = futures_util::future::join_all(downloads).await;
    sampling.abort();
    assert!(totals.iter().all(|&t| t == size), "{totals:?}");
    let grew_mib = (peak
        .load(std::sync::atomic::Ordering::SeqCst)
        .saturating_sub(idle))
        / 1024;
    assert!(
        grew_mib < 64,
        "resident memory grew by {grew_mib} MiB over {} MiB idle",
        idle / 1024
    );
}

#[tokio::test]
async fn the_backend_stopped_and_restarted_is_a_502_then_served_again_with_no_restart() {
    let s3 = tokio::task::spawn_blocking(S3Server::start).await.unwrap();
    let bucket = s3.bucket("restart");
    let file = s3.object_file(&bucket, "a.txt");
    std::fs::write(&file, "still here").unwrap();
    let (instance, _dir) = serve(&s3_connector(
        "store",
        &s3.endpoint(),
        &bucket,
        SECRET_KEY,
        5_000,
    ))
    .await;
    let token = share(&instance, "store").await;
    let view = || instance.view("a.txt", &token);
    assert_eq!(view().await.text().await.unwrap(), "still here");

    s3.kill();
    let started = Instant::now();
    let (status, code, message) = answer(view().await).await;
    assert_eq!(
        (status, code.as_str(), message.as_str()),
        (
            StatusCode::BAD_GATEWAY,
            "ST.BackendUnavailable",
            "connector minio/store is unavailable"
        )
    );
    // A bound, not a performance figure: a refused connection fails fast.
    assert!(started.elapsed() < Duration::from_secs(5));

    s3.restart();
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = view().await;
        if response.status() == StatusCode::OK {
            assert_eq!(response.text().await.unwrap(), "still here");
            break;
        }
        assert!(Instant::now() < deadline, "not served after the restart");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_range_read_of_an_object_replaced_after_its_head_is_a_502_not_the_new_bytes() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("swapped");
    let file = s3.object_file(&bucket, "doc.bin");
    std::fs::write(&file, vec![b'1'; 4096]).unwrap();
    let swap_to = file.clone();
    // Only the object's own GET (the start-up probe lists the bucket).
    let replace = Arc::new(move |head: &[u8]| {
        if String::from_utf8_lossy(head).contains("/doc.bin") {
            std::fs::write(&swap_to, vec![b'2'; 4096]).unwrap();
        }
    });
    let faults = Faults {
        on_get: Some(replace),
        stall_after: None,
    };
    let relay = Relay::start_with(s3.port, faults).await;
    let endpoint = relay.endpoint();
    let (instance, _dir) = serve(&s3_connector(
        "swapped", &endpoint, &bucket, SECRET_KEY, 2000,
    ))
    .await;
    let token = share(&instance, "swapped").await;
    // HEAD (version 1), then the ranged GET finds version 2.
    let response = instance
        .http
        .get(instance.view_url("doc.bin", &token))
        .header("Range", "bytes=0-99")
        .send()
        .await
        .unwrap();
    let (status, code, _) = answer(response).await;
    assert_eq!(
        (status, code.as_str()),
        (StatusCode::BAD_GATEWAY, "ST.ObjectChanged")
    );
}

#[tokio::test]
async fn a_backend_that_goes_silent_mid_body_is_cut_after_the_timeout() {
    let s3 = tokio::task::spawn_blocking(server).await.unwrap();
    let bucket = s3.bucket("stall");
    let size = 4 * 1024 * 1024;
    std::fs::write(s3.object_file(&bucket, "big.bin"), vec![7u8; size]).unwrap();
    let faults = Faults {
        on_get: None,
        stall_after: Some(1024 * 1024),
    };
    let relay = Relay::start_with(s3.port, faults).await;
    let endpoint = relay.endpoint();
    let (instance, _dir) = serve(&s3_connector("stall", &endpoint, &bucket, SECRET_KEY, 700)).await;
    let token = share(&instance, "stall").await;
    let mut response = instance.view("big.bin", &token).await;
    assert_eq!(response.status(), StatusCode::OK);
    let started = Instant::now();
    let (received, outcome) =
        support::read_until_end_or_cut(&mut response, Duration::from_secs(10)).await;
    assert!(outcome.is_err(), "a cut body is an error, not a clean end");
    assert!(received < size, "{received}");
    // "After the timeout": a bound on the answer, not a performance figure.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(
        instance
            .log_text()
            .contains("sent nothing for 700 ms mid-body"),
        "{}",
        instance.log_text()
    );
}
