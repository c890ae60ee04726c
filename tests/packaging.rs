//! The container packaging in `docker/`. No container engine runs on this
//! machine, so this checks what can be checked without one: the compose
//! file parses and wires what the README says; every file it mounts
//! exists; the image is built in stages and runs as a non-root user; and
//! the very configuration compose gives both instances runs the real
//! binary, twice, against a real Redis and the S3 test server, as one
//! service.

mod support;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

use object_store::aws::AmazonS3Builder;
use object_store::{ObjectStoreExt, PutPayload};
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::instance::Instance;
use support::redis::RedisServer;
use support::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};

const BIN: &str = env!("CARGO_BIN_EXE_sharetoken");

fn docker_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("docker")
}

fn read(name: &str) -> String {
    std::fs::read_to_string(docker_dir().join(name))
        .unwrap_or_else(|e| panic!("docker/{name}: {e}"))
}

/// docker/compose.yml as JSON, read by PyYAML (merge keys included), which
/// `make test` has with schemathesis.
fn compose() -> Value {
    let output = Command::new("python3")
        .args([
            "-c",
            "import json, sys, yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))",
        ])
        .arg(docker_dir().join("compose.yml"))
        .output()
        .expect("python3 runs");
    assert!(
        output.status.success(),
        "compose.yml does not parse: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .unwrap_or_else(|| panic!("a list: {value}"))
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect()
}

/// Runs docker/init-secrets.sh into `out` with the test binary; its output.
fn init_secrets(out: &Path) -> String {
    let output = Command::new(docker_dir().join("init-secrets.sh"))
        .arg(out)
        .env("SHARETOKEN", BIN)
        .output()
        .expect("init-secrets.sh runs");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "init-secrets.sh failed: {text}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    text
}

/// The client secret init-secrets.sh printed for `client`.
fn printed_secret(output: &str, client: &str) -> String {
    let prefix = format!("client {client}: client_secret=");
    let line = output
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("no secret printed for {client}: {output}"));
    line.split_whitespace().next().unwrap().to_owned()
}

#[test]
fn the_compose_file_runs_two_instances_on_redis_and_minio_behind_nginx() {
    let compose = compose();
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    let expected = [
        "lb",
        "minio",
        "minio-init",
        "redis",
        "sharetoken-a",
        "sharetoken-b",
    ];
    assert_eq!(names, expected.into_iter().collect());

    let declared: BTreeSet<String> = compose["secrets"]
        .as_object()
        .expect("secrets")
        .keys()
        .cloned()
        .collect();
    for (name, secret) in compose["secrets"].as_object().unwrap() {
        assert_eq!(secret["file"], format!("./secrets/{name}"), "{name}");
    }
    for instance in ["sharetoken-a", "sharetoken-b"] {
        let service = &services[instance];
        assert_eq!(service["build"]["context"], "..", "{instance}");
        assert_eq!(service["build"]["dockerfile"], "docker/Dockerfile");
        assert_eq!(
            strings(&service["command"]),
            ["--config", "/etc/sharetoken/sharetoken.toml", "serve"]
        );
        assert_eq!(
            strings(&service["volumes"]),
            ["./sharetoken.toml:/etc/sharetoken/sharetoken.toml:ro"]
        );
        let secrets: BTreeSet<String> = strings(&service["secrets"]).into_iter().collect();
        assert_eq!(secrets, declared, "{instance} mounts every secret");
        assert_eq!(
            service["depends_on"]["redis"]["condition"],
            "service_healthy"
        );
    }
    assert_eq!(strings(&services["lb"]["ports"]), ["8080:8080"]);
    assert_eq!(
        strings(&services["lb"]["volumes"]),
        ["./nginx.conf:/etc/nginx/nginx.conf:ro"]
    );
    // Redis keeps acknowledged revocations across its restarts.
    let redis = strings(&services["redis"]["command"]).join(" ");
    assert!(
        redis.contains("--appendonly yes --appendfsync always"),
        "{redis}"
    );

    // Every file the services mount is in the repository.
    for file in [
        "Dockerfile",
        "sharetoken.toml",
        "nginx.conf",
        "init-secrets.sh",
    ] {
        assert!(docker_dir().join(file).is_file(), "docker/{file}");
    }
}

#[test]
fn the_load_balancer_sends_to_both_instances_and_never_logs_the_query() {
    let nginx = read("nginx.conf");
    assert!(nginx.contains("server sharetoken-a:8080"), "{nginx}");
    assert!(nginx.contains("server sharetoken-b:8080"), "{nginx}");
    // Without a URI part, nginx passes the encoded object key unchanged.
    assert!(nginx.contains("proxy_pass http://sharetoken;"), "{nginx}");
    assert!(nginx.contains("proxy_buffering off;"), "{nginx}");
    // The query holds the share token: no logged variable may carry it.
    for line in nginx.lines().filter(|l| !l.trim_start().starts_with('#')) {
        for leaky in [
            "$request ",
            "$request\"",
            "$request'",
            "$args",
            "$query_string",
            "$request_uri",
        ] {
            assert!(!line.contains(leaky), "{leaky} in: {line}");
        }
    }
    assert!(
        nginx.contains("access_log /dev/stdout sharetoken;"),
        "{nginx}"
    );
}

#[test]
fn the_image_is_built_in_stages_and_runs_as_a_user_that_is_not_root() {
    let dockerfile = read("Dockerfile");
    let stages = dockerfile
        .lines()
        .filter(|l| l.starts_with("FROM "))
        .count();
    assert_eq!(stages, 2, "{dockerfile}");
    let user = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("USER "))
        .next_back()
        .expect("a USER line");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "{user}"
    );
    assert!(dockerfile.contains("cargo build --release --locked"));
    assert!(dockerfile.contains(r#"ENTRYPOINT ["/usr/local/bin/sharetoken"]"#));
}

#[test]
fn init_secrets_writes_every_secret_once_and_keeps_them_on_a_second_run() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("secrets");
    let first = init_secrets(&out);
    let files: BTreeSet<String> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    let declared: BTreeSet<String> = compose()["secrets"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(files, declared);
    let key = std::fs::read_to_string(out.join("token-keys")).unwrap();
    assert!(key.starts_with("k4.local."), "a PASERK key");
    let hash = std::fs::read_to_string(out.join("app-secret-hash")).unwrap();
    assert!(hash.starts_with("$argon2id$"), "{hash}");
    // The secret is printed, never written; the hash is of it.
    let secret = printed_secret(&first, "app");
    for file in &files {
        let text = std::fs::read_to_string(out.join(file)).unwrap();
        assert!(!text.contains(&secret), "{file} holds the client secret");
    }
    // The directory is closed to other users of the host.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700);

    let second = init_secrets(&out);
    assert!(!second.contains("client_secret="), "{second}");
    assert_eq!(
        std::fs::read_to_string(out.join("token-keys")).unwrap(),
        key
    );
    assert_eq!(
        std::fs::read_to_string(out.join("app-secret-hash")).unwrap(),
        hash
    );
}

/// docker/sharetoken.toml with the compose network's names replaced by the
/// test servers' addresses and /run/secrets by `secrets`; nothing else changed.
fn compose_configuration(redis: &str, s3: &str, bucket: &str, secrets: &Path) -> String {
    let original = read("sharetoken.toml");
    for name in [
        "redis://redis:6379",
        "http://minio:9000",
        "bucket = \"media\"",
        "/run/secrets/",
    ] {
        assert!(
            original.contains(name),
            "docker/sharetoken.toml names {name}"
        );
    }
    original
        .replace("redis://redis:6379", redis)
        .replace("http://minio:9000", s3)
        .replace("bucket = \"media\"", &format!("bucket = \"{bucket}\""))
        .replace("/run/secrets/", &format!("{}/", secrets.display()))
}

#[tokio::test]
async fn the_compose_configuration_serves_through_two_instances_on_redis_and_s3() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    let printed = init_secrets(&secrets);
    // The operator's MinIO has its own credentials; the test server has these.
    std::fs::write(secrets.join("minio-access-key"), ACCESS_KEY).unwrap();
    std::fs::write(secrets.join("minio-secret-key"), SECRET_KEY).unwrap();
    let redis = tokio::task::spawn_blocking(RedisServer::start)
        .await
        .unwrap();
    let s3 = tokio::task::spawn_blocking(S3Server::shared).await.unwrap();
    let bucket = s3.bucket("compose");
    let store = AmazonS3Builder::new()
        .with_endpoint(s3.endpoint())
        .with_region(REGION)
        .with_bucket_name(&bucket)
        .with_access_key_id(ACCESS_KEY)
        .with_secret_access_key(SECRET_KEY)
        .with_allow_http(true)
        .build()
        .unwrap();
    let key = "films/trailer 1.mp4";
    store
        .put(
            &object_store::path::Path::parse(key).unwrap(),
            PutPayload::from("not really a film"),
        )
        .await
        .unwrap();

    let config = dir.path().join("sharetoken.toml");
    std::fs::write(
        &config,
        compose_configuration(&redis.url(), &s3.endpoint(), &bucket, &secrets),
    )
    .unwrap();
    let check = Command::new(BIN)
        .args(["--config", config.to_str().unwrap(), "check-config"])
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "check-config: {}{}",
        String::from_utf8_lossy(&check.stdout),
        String::from_utf8_lossy(&check.stderr)
    );

    let a = Instance::start(&config, dir.path(), "a").await;
    let b = Instance::start(&config, dir.path(), "b").await;
    let app = a
        .access_token("app", &printed_secret(&printed, "app"))
        .await;
    let minted = a
        .http
        .post(format!(
            "{}/u-route/baas/sys/v1.1/connectors/minio/media/sharetoken",
            a.base
        ))
        .header("access-token", &app)
        .json(&json!({"shareType": 0, "key": key, "timeoutInMinutes": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(minted.status(), StatusCode::OK);
    let minted: Value = minted.json().await.unwrap();
    let token = minted["result"]["shareToken"].as_str().unwrap().to_owned();
    let jti = minted["result"]["tokenId"].as_str().unwrap().to_owned();

    // Minted on A, read through B: one key, one store, one bucket.
    let view = b.view(key, &token).await;
    assert_eq!(view.status(), StatusCode::OK);
    assert_eq!(view.text().await.unwrap(), "not really a film");

    // Revoked through B by the operator client, refused on A at once.
    let ops = b
        .access_token("ops", &printed_secret(&printed, "ops"))
        .await;
    let revoked = b
        .admin_post(&ops, &format!("/admin/v1/tokens/{jti}/revoke"), None)
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let refused = a.view(key, &token).await;
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
    let body: Value = refused.json().await.unwrap();
    assert_eq!(body["resCode"], "ST.ShareTokenRevoked");

    // The compose configuration logs JSON, and never the token.
    let log = a.log_text();
    let access: Vec<Value> = log
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|record| record["type"] == "access")
        .collect();
    assert!(
        access.iter().any(|r| r["token_id"] == jti.as_str()),
        "a JSON access line with the token id: {log}"
    );
    assert!(!log.contains("v4.local."), "{log}");
}
