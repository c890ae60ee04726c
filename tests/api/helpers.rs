//! Starts the real server on port 0 with a clock the test controls, its own
//! data directory and objects, and offers request helpers.

use std::path::Path;
use std::sync::{Arc, LazyLock};

use reqwest::{Response, StatusCode};
use secrecy::SecretString;
use serde_json::{json, Value};
use sharetoken::clock::ManualClock;
use sharetoken::settings::{BackendSettings, ClientSettings, ConnectorSettings, Settings};
use sharetoken::startup::Application;
use sharetoken::token::KeyRing;
use tempfile::TempDir;

use crate::support::s3::S3Server;

/// 2026-12-03T00:00:00Z: tests start here and move the clock themselves.
pub const T0: i64 = 1_796_256_000;

pub const VIEW: &str = "/u-route/baas/sys/v1.1/objectstorage/viewshareobject";
pub const LOCAL: (&str, &str) = ("objectstorageproxy", "local");
pub const OBS: (&str, &str) = ("obs", "Namespace __TestOBS");
/// A connector whose directory does not exist: any backend call is a 502,
/// which shows when a request never reached the backend.
pub const BROKEN: (&str, &str) = ("minio", "broken");

/// The test clients: (id, secret, roles, connectors).
pub const SHARER: &str = "app";
pub const ADMIN: &str = "ops";
pub const LIMITED: &str = "limited";
const CLIENTS: [(&str, &str, &[&str], &[&str]); 3] = [
    (SHARER, "app-secret", &["share"], &["*"]),
    (ADMIN, "ops-secret", &["admin"], &[]),
    (
        LIMITED,
        "limited-secret",
        &["share"],
        &["obs/Namespace __TestOBS"],
    ),
];

/// argon2 is slow: hash the test secrets once per test binary.
static CLIENT_SETTINGS: LazyLock<Vec<ClientSettings>> = LazyLock::new(|| {
    CLIENTS
        .iter()
        .map(|(id, secret, roles, connectors)| ClientSettings {
            id: id.to_string(),
            secret_hash: sharetoken::auth::hash_secret(secret),
            secret_hash_file: None,
            roles: roles.iter().map(|r| r.to_string()).collect(),
            connectors: connectors.iter().map(|c| c.to_string()).collect(),
        })
        .collect()
});

pub fn secret_of(client: &str) -> &'static str {
    CLIENTS
        .iter()
        .find(|c| c.0 == client)
        .map(|c| c.1)
        .expect("a test client")
}

pub struct TestApp {
    pub address: String,
    pub clock: Arc<ManualClock>,
    pub http: reqwest::Client,
    pub keys: Vec<String>,
    pub storage: Storage,
    handle: actix_web::dev::ServerHandle,
    running: std::sync::Mutex<Option<tokio::task::JoinHandle<std::io::Result<()>>>>,
    // Kept alive for the test's duration; removed on drop.
    _dir: Arc<TempDir>,
}

/// Options for [`spawn_with`].
pub struct Setup {
    pub keys: Vec<String>,
    pub dir: Arc<TempDir>,
    pub clock: Arc<ManualClock>,
    pub storage: Storage,
}

/// Which backend serves the LOCAL and OBS connectors of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// Directories on disk (object_store's local backend).
    Local,
    /// Buckets of the shared s3s-fs server (object_store's S3 backend).
    S3,
}

tokio::task_local! {
    /// Set by `on_every_backend!`; tests outside it run on `Local`.
    pub static BACKEND: Backend;
}

/// Where the test's objects live.
#[derive(Debug, Clone)]
pub enum Storage {
    Local,
    S3 {
        local_bucket: String,
        obs_bucket: String,
    },
}

impl Setup {
    pub fn new() -> Self {
        let storage = match BACKEND.try_with(|b| *b).unwrap_or(Backend::Local) {
            Backend::Local => Storage::Local,
            Backend::S3 => {
                let server = S3Server::shared();
                Storage::S3 {
                    local_bucket: server.bucket("local"),
                    obs_bucket: server.bucket("obs"),
                }
            }
        };
        Self {
            keys: vec![KeyRing::generate_paserk()],
            dir: Arc::new(tempfile::tempdir().expect("a temporary directory")),
            clock: Arc::new(ManualClock::new(T0)),
            storage,
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_with(&Setup::new()).await
}

pub fn settings_for(setup: &Setup) -> Settings {
    let dir = setup.dir.path();
    let mut settings = Settings::default();
    settings.server.listen = "127.0.0.1:0".into();
    settings.server.data_dir = dir.join("data");
    settings.server.workers = 2;
    settings.server.demo_client = false;
    settings.tokens.keys = setup
        .keys
        .iter()
        .map(|k| SecretString::from(k.clone()))
        .collect();
    settings.connectors = match &setup.storage {
        Storage::Local => vec![
            local_connector(LOCAL, &dir.join("objects")),
            local_connector(OBS, &dir.join("obs")),
        ],
        Storage::S3 {
            local_bucket,
            obs_bucket,
        } => vec![
            s3_connector(LOCAL, local_bucket),
            s3_connector(OBS, obs_bucket),
        ],
    };
    settings
        .connectors
        .push(local_connector(BROKEN, &dir.join("does-not-exist")));
    settings.clients = CLIENT_SETTINGS.clone();
    // Tests ask for many access tokens from one address; the limits have
    // their own tests (oauth.rs), which turn them on.
    settings.oauth.per_address_per_minute = 0;
    settings.oauth.per_client_per_minute = 0;
    for sub in ["objects", "obs"] {
        std::fs::create_dir_all(dir.join(sub)).expect("objects directory");
    }
    settings
}

fn s3_connector((kind, name): (&str, &str), bucket: &str) -> ConnectorSettings {
    ConnectorSettings {
        kind: kind.into(),
        name: name.into(),
        backend: BackendSettings::S3(S3Server::shared().settings(bucket)),
    }
}

fn local_connector((kind, name): (&str, &str), root: &Path) -> ConnectorSettings {
    ConnectorSettings {
        kind: kind.into(),
        name: name.into(),
        backend: BackendSettings::Local {
            root: root.to_owned(),
        },
    }
}

pub async fn spawn_with(setup: &Setup) -> TestApp {
    spawn_with_settings(setup, |_| {}).await
}

/// As [`spawn_with`], with settings the test adjusts first.
pub async fn spawn_with_settings(setup: &Setup, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_test_log();
    let mut settings = settings_for(setup);
    adjust(&mut settings);
    let app = Application::build_with_clock(settings, setup.clock.clone())
        .await
        .expect("the application builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let handle = app.handle();
    let running = tokio::spawn(app.run_until_stopped());
    TestApp {
        address,
        clock: setup.clock.clone(),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        keys: setup.keys.clone(),
        storage: setup.storage.clone(),
        handle,
        running: std::sync::Mutex::new(Some(running)),
        _dir: setup.dir.clone(),
    }
}

/// Server logs in tests only when TEST_LOG is set.
fn init_test_log() {
    if std::env::var_os("TEST_LOG").is_some() {
        let _ = env_logger::builder().is_test(true).try_init();
    }
}

/// A share token's view URL query, with the object already encoded by the caller.
pub fn view_query(encoded_object: &str, token: &str) -> String {
    format!("object={encoded_object}&shareToken={}", encode(token))
}

/// Form-encodes one query value (`/` becomes `%2F`, space `+`).
pub fn encode(raw: &str) -> String {
    form_urlencoded::byte_serialize(raw.as_bytes()).collect()
}

impl TestApp {
    /// The file behind a key of a local connector.
    pub fn object_file(&self, (kind, name): (&str, &str), key: &str) -> std::path::PathBuf {
        match (&self.storage, (kind, name)) {
            (Storage::Local, LOCAL) => self._dir.path().join("objects").join(key),
            (Storage::Local, OBS) => self._dir.path().join("obs").join(key),
            (Storage::S3 { local_bucket, .. }, LOCAL) => {
                S3Server::shared().object_file(local_bucket, key)
            }
            (Storage::S3 { obs_bucket, .. }, OBS) => {
                S3Server::shared().object_file(obs_bucket, key)
            }
            _ => panic!("no objects for {kind}/{name}"),
        }
    }

    /// The test's own directory (outside every connector).
    pub fn scratch(&self) -> &Path {
        self._dir.path()
    }

    /// Writes an object into a connector's directory.
    pub fn put(&self, connector: (&str, &str), key: &str, bytes: impl AsRef<[u8]>) {
        let path = self.object_file(connector, key);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    /// Stops the server and waits until it has let go of its data directory.
    pub async fn stop(&self) {
        self.handle.stop(true).await;
        let running = self.running.lock().unwrap().take();
        if let Some(running) = running {
            running.await.unwrap().unwrap();
        }
    }

    pub async fn access_token(&self, client: &str) -> String {
        let response = self
            .http
            .post(format!("{}/baas/auth/v1.0/oauth2/token", self.address))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret_of(client)),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.status(),
            StatusCode::OK,
            "access token for {client}"
        );
        let body: Value = response.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_owned()
    }

    /// POSTs a raw mint body for `client` on a connector (name percent-encoded here).
    pub async fn mint_raw(&self, client: &str, (kind, name): (&str, &str), body: &str) -> Response {
        let token = self.access_token(client).await;
        self.http
            .post(self.mint_url(kind, name))
            .header("access-token", token)
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .await
            .unwrap()
    }

    pub fn mint_url(&self, kind: &str, name: &str) -> String {
        let name: String =
            percent_encoding::utf8_percent_encode(name, percent_encoding::NON_ALPHANUMERIC)
                .collect();
        format!(
            "{}/u-route/baas/sys/v1.1/connectors/{kind}/{name}/sharetoken",
            self.address
        )
    }

    /// Mints a token that must succeed; returns (shareToken, tokenId).
    pub async fn mint(&self, connector: (&str, &str), body: Value) -> (String, String) {
        let response = self.mint_raw(SHARER, connector, &body.to_string()).await;
        let status = response.status();
        let answer: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "{answer}");
        (
            answer["result"]["shareToken"].as_str().unwrap().to_owned(),
            answer["result"]["tokenId"].as_str().unwrap().to_owned(),
        )
    }

    /// Mints a file share of `keys` on the local connector for 60 minutes.
    pub async fn share_files(&self, keys: &[&str]) -> String {
        self.mint(
            LOCAL,
            json!({"shareType": 2, "keys": keys, "timeoutInMinutes": 60}),
        )
        .await
        .0
    }

    /// GETs a view URL with a raw (already encoded) query.
    /// A GET of `path` with no credentials.
    pub async fn get(&self, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.address))
            .send()
            .await
            .unwrap()
    }

    pub async fn view_raw(&self, raw_query: &str) -> Response {
        self.http
            .get(format!("{}{VIEW}?{raw_query}", self.address))
            .send()
            .await
            .unwrap()
    }

    /// GETs a view URL, encoding the object properly.
    pub async fn view(&self, object: &str, token: &str) -> Response {
        self.view_raw(&view_query(&encode(object), token)).await
    }

    /// GETs a view URL with one extra request header.
    pub async fn get_with(
        &self,
        object: &str,
        token: &str,
        name: &str,
        value: impl AsRef<str>,
    ) -> Response {
        self.view_request(reqwest::Method::GET, object, token)
            .header(name, value.as_ref())
            .send()
            .await
            .unwrap()
    }

    /// A request builder for a view URL (for headers and methods).
    pub fn view_request(
        &self,
        method: reqwest::Method,
        object: &str,
        token: &str,
    ) -> reqwest::RequestBuilder {
        self.http.request(
            method,
            format!(
                "{}{VIEW}?{}",
                self.address,
                view_query(&encode(object), token)
            ),
        )
    }

    pub async fn revoke(&self, jti: &str) -> Response {
        let token = self.access_token(ADMIN).await;
        self.http
            .post(format!("{}/admin/v1/tokens/{jti}/revoke", self.address))
            .header("access-token", token)
            .send()
            .await
            .unwrap()
    }

    /// Every token record the server holds, through the admin API.
    pub async fn token_records(&self) -> Vec<Value> {
        let token = self.access_token(ADMIN).await;
        let response = self
            .http
            .get(format!("{}/admin/v1/tokens?limit=1000", self.address))
            .header("access-token", token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body: Value = response.json().await.unwrap();
        body["result"]["tokens"].as_array().unwrap().clone()
    }
}

/// Asserts status and the project's error body, returning `resCode`.
pub async fn assert_error(response: Response, status: StatusCode) -> String {
    assert_eq!(response.status(), status, "status");
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.unwrap();
    let code = body["resCode"].as_str().expect("resCode").to_owned();
    assert!(code.starts_with("ST."), "{body}");
    assert!(!body["resMsg"].as_str().expect("resMsg").is_empty());
    assert!(!body.to_string().contains("v4.local."), "{body}");
    code
}

/// Runs each test once per backend, as `<test>::local` and `<test>::s3`:
/// the same requests and assertions against the local directory and the
/// S3 server.
macro_rules! on_every_backend {
    ($( $(#[$meta:meta])* async fn $name:ident() $body:block )*) => {
        $(
            $(#[$meta])*
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                #[tokio::test]
                async fn local() {
                    crate::helpers::BACKEND
                        .scope(crate::helpers::Backend::Local, async $body)
                        .await
                }

                #[tokio::test]
                async fn s3() {
                    crate::helpers::BACKEND
                        .scope(crate::helpers::Backend::S3, async $body)
                        .await
                }
            }
        )*
    };
}
pub(crate) use on_every_backend;
