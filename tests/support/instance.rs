//! Real `sharetoken serve` processes, configured by a TOML file, for tests
//! that need several instances or restarts.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::{Response, StatusCode};
use serde_json::Value;
use sharetoken::auth::hash_secret;
use sharetoken::token::KeyRing;
use tempfile::TempDir;

use super::redis::free_port;

const BIN: &str = env!("CARGO_BIN_EXE_sharetoken");

/// The clients of [`configure_store`]'s configuration: (id, secret).
pub const SHARER: (&str, &str) = ("app", "app-secret");
pub const ADMIN: (&str, &str) = ("ops", "ops-secret");
/// A client with both roles.
pub const OPERATOR: (&str, &str) = ("both", "both-secret");
/// The one object of its local connector, and its content.
pub const OBJECT: &str = "docs/report.txt";
pub const CONTENT: &str = "quarterly numbers";

/// Writes `sharetoken.toml` for instances with `store_section`, a local
/// connector holding OBJECT, and the SHARER and ADMIN clients; returns the
/// directory holding it, the objects and each instance's data.
pub fn configure_store(store_section: &str) -> TempDir {
    let dir = tempfile::tempdir().unwrap();
    let objects = dir.path().join("objects");
    std::fs::create_dir_all(objects.join("docs")).unwrap();
    std::fs::write(objects.join(OBJECT), CONTENT).unwrap();
    let config = format!(
        r#"
[server]
demo_client = false
workers = 2

[oauth]
per_address_per_minute = 0
per_client_per_minute = 0

[tokens]
keys = ["{key}"]

{store_section}

[[connectors]]
type = "objectstorageproxy"
name = "local"
backend = "local"
root = "{objects}"

[[clients]]
id = "{sharer}"
secret_hash = "{sharer_hash}"
roles = ["share"]
connectors = ["*"]

[[clients]]
id = "{admin}"
secret_hash = "{admin_hash}"
roles = ["admin"]

[[clients]]
id = "{operator}"
secret_hash = "{operator_hash}"
roles = ["share", "admin"]
connectors = ["*"]
"#,
        key = KeyRing::generate_paserk(),
        objects = objects.display(),
        sharer = SHARER.0,
        sharer_hash = hash_secret(SHARER.1),
        admin = ADMIN.0,
        admin_hash = hash_secret(ADMIN.1),
        operator = OPERATOR.0,
        operator_hash = hash_secret(OPERATOR.1),
    );
    std::fs::write(dir.path().join("sharetoken.toml"), config).unwrap();
    dir
}

/// One running instance; killed on drop.
pub struct Instance {
    pub base: String,
    port: u16,
    config: PathBuf,
    data_dir: PathBuf,
    log: PathBuf,
    child: Option<Child>,
    pub http: reqwest::Client,
}

impl Instance {
    /// Starts an instance with `config` and its own data directory under `dir`.
    pub async fn start(config: &Path, dir: &Path, name: &str) -> Self {
        let mut instance = Self {
            base: String::new(),
            port: free_port(),
            config: config.to_owned(),
            data_dir: dir.join(format!("data-{name}")),
            log: dir.join(format!("{name}.log")),
            child: None,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        instance.base = format!("http://127.0.0.1:{}", instance.port);
        instance.launch().await;
        instance
    }

    async fn launch(&mut self) {
        let log = File::options()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(BIN)
            .args(["--config", self.config.to_str().unwrap(), "serve"])
            .env(
                "SHARETOKEN__SERVER__LISTEN",
                format!("127.0.0.1:{}", self.port),
            )
            .env("SHARETOKEN__SERVER__DATA_DIR", &self.data_dir)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("the sharetoken binary starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            if let Ok(r) = self.http.get(format!("{}/healthz", self.base)).send().await {
                if r.status() == StatusCode::OK {
                    return;
                }
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("sharetoken exited with {status}: {}", self.log_text());
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("sharetoken did not answer: {}", self.log_text());
    }

    /// The server process's id.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    /// Sends SIGTERM, as a service manager stopping it would.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.pid().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    /// Waits (bounded) for the process to exit on its own; its exit status.
    pub async fn wait_for_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            let child = self.child.as_mut().expect("running");
            if let Some(status) = child.try_wait().unwrap() {
                self.child = None;
                return status;
            }
            assert!(Instant::now() < deadline, "did not exit within {within:?}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub async fn restart(&mut self) {
        self.stop();
        self.launch().await;
    }

    pub async fn access_token(&self, client: &str, secret: &str) -> String {
        let body: Value = self
            .http
            .post(format!("{}/baas/auth/v1.0/oauth2/token", self.base))
            .form(&[
                ("grant_type", "client_credentials"),
                ("client_id", client),
                ("client_secret", secret),
            ])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        body["access_token"]
            .as_str()
            .expect("an access token")
            .to_owned()
    }

    /// POSTs a mint body on the local connector.
    pub async fn mint(&self, access: &str, body: &Value) -> Response {
        self.http
            .post(format!(
                "{}/u-route/baas/sys/v1.1/connectors/objectstorageproxy/local/sharetoken",
                self.base
            ))
            .header("access-token", access)
            .json(body)
            .send()
            .await
            .unwrap()
    }

    #[allow(dead_code)] // not every test binary builds its own requests
    pub fn view_url(&self, object: &str, token: &str) -> String {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .append_pair("object", object)
            .append_pair("shareToken", token)
            .finish();
        format!(
            "{}/u-route/baas/sys/v1.1/objectstorage/viewshareobject?{query}",
            self.base
        )
    }

    pub async fn view(&self, object: &str, token: &str) -> Response {
        self.http
            .get(self.view_url(object, token))
            .send()
            .await
            .unwrap()
    }

    pub async fn admin_post(&self, access: &str, path: &str, body: Option<Value>) -> Response {
        let mut request = self
            .http
            .post(format!("{}{path}", self.base))
            .header("access-token", access);
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.unwrap()
    }

    pub async fn admin_get(&self, access: &str, path: &str) -> Response {
        self.http
            .get(format!("{}{path}", self.base))
            .header("access-token", access)
            .send()
            .await
            .unwrap()
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Resident memory of a process, in KiB (from /proc).
pub fn rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap()
}
