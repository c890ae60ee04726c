//! Configuration: built-in defaults → optional TOML file (`--config`) →
//! environment `SHARETOKEN__SECTION__KEY` (DESIGN §9).

use std::fmt;
use std::path::{Path, PathBuf};

use secrecy::SecretString;
use serde::Deserialize;

pub use crate::store::RedisSettings;

#[derive(Debug, Clone, Deserialize, Default)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    pub server: ServerSettings,
    pub tokens: TokenSettings,
    /// `[oauth]`: rate limits of the OAuth token endpoint.
    pub oauth: OauthSettings,
    /// `[log]`: how log lines are written.
    pub log: LogSettings,
    pub store: StoreSettings,
    /// Object storage connectors. None configured: the embedded default,
    /// `objectstorageproxy/local` on `<data_dir>/objects`.
    pub connectors: Vec<ConnectorSettings>,
    /// OAuth clients allowed to mint. None configured (and
    /// `server.demo_client` on): a demo client is made in the data directory.
    pub clients: Vec<ClientSettings>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerSettings {
    /// Address to listen on; port 0 picks a free port.
    pub listen: String,
    /// Where the embedded default keeps its key, store, demo client and objects.
    pub data_dir: PathBuf,
    /// Largest request body accepted, in bytes (413 beyond).
    pub max_body_bytes: usize,
    /// Worker threads; 0 means one per core.
    pub workers: usize,
    /// Make (and print) a demo client when no client is configured.
    pub demo_client: bool,
    /// Time a client has to send its request head, in milliseconds; a
    /// client that dribbles headers gets 408 and is disconnected.
    pub client_request_timeout_ms: u64,
    /// On SIGTERM or SIGINT the server stops accepting at once and gives
    /// requests in flight (downloads included) this long to finish.
    pub shutdown_grace_seconds: u64,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: "127.0.0.1:8080".into(),
            data_dir: PathBuf::from("./var"),
            max_body_bytes: 64 * 1024,
            workers: 0,
            demo_client: true,
            client_request_timeout_ms: 5000,
            shutdown_grace_seconds: 30,
        }
    }
}

#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TokenSettings {
    /// PASERK `k4.local` keys, the minting key first; every key verifies.
    pub keys: Vec<SecretString>,
    /// A file with one PASERK key a line (same order rule), instead of `keys`.
    pub key_file: Option<PathBuf>,
    /// Leeway for `nbf` only, in seconds; expiry never has leeway.
    pub nbf_skew_seconds: i64,
    /// Life of an OAuth access token, in seconds.
    pub access_token_ttl_seconds: i64,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            keys: Vec::new(),
            key_file: None,
            nbf_skew_seconds: 0,
            access_token_ttl_seconds: 1800,
        }
    }
}

// Hand-written so that keys can never be printed.
impl fmt::Debug for TokenSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSettings")
            .field("keys", &format_args!("[{} redacted]", self.keys.len()))
            .field("key_file", &self.key_file)
            .field("nbf_skew_seconds", &self.nbf_skew_seconds)
            .field("access_token_ttl_seconds", &self.access_token_ttl_seconds)
            .finish()
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `text` (one line a record) or `json` (one JSON object a line, for
    /// log shippers; access lines carry request id, route, status, bytes,
    /// latency and token id).
    pub format: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: "text".into(),
        }
    }
}

/// The OAuth token endpoint verifies an argon2 hash, slow by design, on
/// every request: each caller address and each client id gets a token
/// bucket (`burst` requests at once, refilled at `per_minute`); past it,
/// 429 with `Retry-After`. A `per_minute` of 0 turns that limit off.
#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OauthSettings {
    pub per_address_per_minute: u32,
    pub per_address_burst: u32,
    pub per_client_per_minute: u32,
    pub per_client_burst: u32,
    /// Take the caller's address from `Forwarded` / `X-Forwarded-For`: only
    /// behind a proxy that sets them (otherwise callers could pick their own).
    pub trust_forwarded_for: bool,
}

impl Default for OauthSettings {
    fn default() -> Self {
        Self {
            per_address_per_minute: 60,
            per_address_burst: 30,
            per_client_per_minute: 60,
            per_client_burst: 30,
            trust_forwarded_for: false,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreSettings {
    /// `embedded` (a redb file in the data directory) or `redis`.
    pub kind: String,
    /// How often expired tokens are pruned, in seconds.
    pub prune_interval_seconds: u64,
    /// Bound on the audit log: older events are dropped past it.
    pub audit_max_events: u64,
    /// How long token records and trails outlive expiry, in seconds.
    pub keep_expired_seconds: i64,
    /// `[store.redis]`, for `kind = "redis"`.
    pub redis: RedisSettings,
}

impl Default for StoreSettings {
    fn default() -> Self {
        Self {
            kind: "embedded".into(),
            prune_interval_seconds: 60,
            audit_max_events: 100_000,
            keep_expired_seconds: 24 * 3600,
            redis: RedisSettings::default(),
        }
    }
}

// NOTE: no deny_unknown_fields here: serde cannot combine it with flatten.
#[derive(Debug, Clone, Deserialize)]
pub struct ConnectorSettings {
    /// `obs`, `minio` or `objectstorageproxy`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The name used in the mint path (may hold spaces).
    pub name: String,
    #[serde(flatten)]
    pub backend: BackendSettings,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "backend", rename_all = "lowercase")]
pub enum BackendSettings {
    /// A directory on this machine.
    Local { root: PathBuf },
    /// An S3-compatible store: MinIO, Huawei OBS, AWS S3, …
    S3(S3Settings),
    /// Another connector's store, with another bucket: Astro Zero's
    /// object storage proxy in front of an OBS or MinIO connector.
    Proxy {
        /// The underlying connector, `type/name` (its backend must be `s3`).
        target: String,
        /// The bucket to read from.
        bucket: String,
    },
}

/// An S3-compatible backend. Credentials may be given here, in files, or in
/// the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`); they are never logged.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Settings {
    /// Base URL, e.g. `http://127.0.0.1:9000` (MinIO) or
    /// `https://<bucket>.obs.<region>.myhuaweicloud.com` (OBS, virtual-hosted).
    /// Omitted: AWS S3 for the region.
    pub endpoint: Option<String>,
    pub region: String,
    pub bucket: String,
    pub access_key_id: Option<SecretString>,
    pub secret_access_key: Option<SecretString>,
    /// Files holding the key id and secret instead (e.g. container secrets).
    pub access_key_id_file: Option<PathBuf>,
    pub secret_access_key_file: Option<PathBuf>,
    /// `true`: `https://<bucket>.<host>/key` (OBS, AWS); `false`:
    /// `https://<host>/<bucket>/key` (MinIO and most local servers).
    #[serde(default)]
    pub virtual_hosted_style: bool,
    /// Allow plain `http://` endpoints (local MinIO, test servers).
    #[serde(default)]
    pub allow_http: bool,
    /// Bound on connecting to the backend, in milliseconds.
    #[serde(default = "default_connect_timeout_ms")]
    pub connect_timeout_ms: u64,
    /// Bound on waiting for the backend's first byte (its response
    /// headers), in milliseconds: past it, 504. There is no bound on the
    /// whole transfer, so a slow, steady download is never cut.
    #[serde(default = "default_first_byte_timeout_ms")]
    pub first_byte_timeout_ms: u64,
}

impl S3Settings {
    /// A plain `http://` endpoint without `allow_http`: the connector would
    /// refuse to send anything to it.
    pub fn plain_http_refused(&self) -> bool {
        let plain = self.endpoint.as_deref().is_some_and(|e| {
            e.get(..7)
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"))
        });
        plain && !self.allow_http
    }
}

fn default_connect_timeout_ms() -> u64 {
    2_000
}

fn default_first_byte_timeout_ms() -> u64 {
    10_000
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientSettings {
    /// The OAuth `client_id`.
    pub id: String,
    /// argon2 PHC string of the secret (`sharetoken hash-secret`).
    #[serde(default)]
    pub secret_hash: String,
    /// A file holding `secret_hash` instead (e.g. a container secret).
    #[serde(default)]
    pub secret_hash_file: Option<PathBuf>,
    /// `share` (mint) and/or `admin` (revoke, list, audit).
    #[serde(default = "default_roles")]
    pub roles: Vec<String>,
    /// Connectors this client may share from, as `type/name`; `*` for all.
    #[serde(default)]
    pub connectors: Vec<String>,
}

fn default_roles() -> Vec<String> {
    vec!["share".into()]
}

impl StoreSettings {
    pub fn retention(&self) -> crate::store::Retention {
        crate::store::Retention {
            audit_max_events: self.audit_max_events,
            keep_expired_seconds: self.keep_expired_seconds,
        }
    }
}

impl Settings {
    /// Loads defaults, then the file (if any), then the environment.
    pub fn load(file: Option<&Path>) -> Result<Self, config::ConfigError> {
        let mut builder = config::Config::builder();
        if let Some(file) = file {
            builder = builder.add_source(config::File::from(file).required(true));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("SHARETOKEN")
                .prefix_separator("__")
                .separator("__")
                .list_separator(",")
                .with_list_parse_key("tokens.keys")
                .with_list_parse_key("store.redis.cluster_nodes")
                .try_parsing(true),
        );
        let mut settings: Self = builder.build()?.try_deserialize()?;
        settings.read_client_hash_files()?;
        Ok(settings)
    }

    /// Fills in `secret_hash` of the clients that name a `secret_hash_file`.
    fn read_client_hash_files(&mut self) -> Result<(), config::ConfigError> {
        for client in &mut self.clients {
            let Some(file) = &client.secret_hash_file else {
                continue;
            };
            let problem = |what: String| {
                config::ConfigError::Message(format!("client '{}': {what}", client.id))
            };
            if !client.secret_hash.is_empty() {
                return Err(problem(
                    "give secret_hash or secret_hash_file, not both".into(),
                ));
            }
            let text = std::fs::read_to_string(file).map_err(|e| {
                problem(format!(
                    "cannot read secret_hash_file {}: {e}",
                    file.display()
                ))
            })?;
            client.secret_hash = text.trim().to_owned();
        }
        Ok(())
    }

    /// A file path from the configuration, relative to the data directory
    /// when it is not absolute.
    pub fn in_data_dir(&self, name: &str) -> PathBuf {
        self.server.data_dir.join(name)
    }
}
