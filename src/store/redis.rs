//! The Redis store: revocations, records and audit shared by every instance
//! behind one Redis or one Redis Cluster (layout: `migrations/redis/`).
//!
//! Every command runs under a timeout: when Redis is down or slow, callers
//! get [`StoreError`] quickly (the API answers 503, failing closed), and the
//! connection re-establishes itself when Redis returns.

use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use futures_util::future::try_join_all;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::cluster_async::ClusterConnection;
use redis::{Cmd, FromRedisValue, Pipeline, Script};
use serde::Deserialize;

use super::revocation_view::{Entry, RevocationView, BATCH};
use super::{
    watermark_values_cover, BulkScope, Retention, Revocation, StoreError, TokenFilter, TokenRecord,
    TokenStore, Watermarks, MAX_TOKEN_LIFE,
};
use crate::audit::AuditEvent;
use crate::clock::{Clock, SystemClock, UnixSeconds};
use crate::token::ShareClaims;

/// The layout this code writes; see `migrations/redis/0001_layout.md` and
/// `0002_revocation_log.md`.
pub const REDIS_LAYOUT: u64 = 2;
const RAISE_WATERMARK: &str = include_str!("../../migrations/redis/raise_watermark.lua");
const READ_REVOCATION_LOG: &str = include_str!("../../migrations/redis/read_revocation_log.lua");
const WAIT_FOR_FOLLOWERS: &str = include_str!("../../migrations/redis/wait_for_followers.lua");
/// The longest lease honoured: every revoke may wait this long.
const MAX_LEASE: Duration = Duration::from_secs(10);
/// Most audit events kept per token.
const TRAIL_MAX: isize = 1000;

/// `[store.redis]`.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// One Redis: `redis://[:password@]host:port[/db]` (or `rediss://`).
    pub url: String,
    /// A Redis Cluster: its seed nodes' URLs; when set, `url` is ignored.
    pub cluster_nodes: Vec<String>,
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// Bound on connecting, in milliseconds.
    pub connect_timeout_ms: u64,
    /// Bound on every command, in milliseconds: past it, fail closed (503).
    pub command_timeout_ms: u64,
    /// How long a read of the revocation log vouches for this instance's
    /// in-process view of revocations, and how long a revoke waits before
    /// it answers; the same on every instance. 0: no view, every view asks
    /// Redis (`revocation_view`).
    pub revocation_lease_ms: u64,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            cluster_nodes: Vec::new(),
            key_prefix: "sharetoken".into(),
            connect_timeout_ms: 1000,
            command_timeout_ms: 1000,
            revocation_lease_ms: 200,
        }
    }
}

// Hand-written so that a password in a URL never prints.
impl fmt::Debug for RedisSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisSettings")
            .field("url", &redact_url(&self.url))
            .field(
                "cluster_nodes",
                &self
                    .cluster_nodes
                    .iter()
                    .map(|u| redact_url(u))
                    .collect::<Vec<_>>(),
            )
            .field("key_prefix", &self.key_prefix)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("command_timeout_ms", &self.command_timeout_ms)
            .field("revocation_lease_ms", &self.revocation_lease_ms)
            .finish()
    }
}

/// `redis://user:secret@host` → `redis://***@host`.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}***{}", &url[..scheme + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[derive(Clone)]
enum Connection {
    Single(ConnectionManager),
    Cluster(ClusterConnection),
}

/// Where each thread gets its connection. One Redis: a connection per
/// thread, made on first use, so that the connection's driver runs on the
/// thread that asks (an actix worker) and a round trip wakes no other
/// thread. A cluster: one shared connection (it keeps one per node).
enum ConnectionSource {
    PerThread {
        id: u64,
        settings: Box<(redis::Client, ConnectionManagerConfig)>,
    },
    Shared(Connection),
}

thread_local! {
    /// This thread's connection to each single-Redis store, by store id.
    static THREAD_CONNECTIONS: std::cell::RefCell<std::collections::HashMap<u64, ConnectionManager>> =
        std::cell::RefCell::new(std::collections::HashMap::new());
}

/// A connection to one Redis, made on first use on the thread that uses it.
fn new_manager(
    client: &redis::Client,
    config: &ConnectionManagerConfig,
) -> Result<ConnectionManager, StoreError> {
    ConnectionManager::new_lazy_with_config(client.clone(), config.clone())
        .map_err(|e| StoreError(format!("cannot set up Redis: {}", e.kind_str())))
}

impl ConnectionSource {
    fn per_thread(
        client: redis::Client,
        config: ConnectionManagerConfig,
    ) -> Result<Self, StoreError> {
        static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        // Made once here so that a bad setting is refused at start; each
        // thread's own is then made with the same, valid, settings.
        let first = new_manager(&client, &config)?;
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        THREAD_CONNECTIONS.with(|c| c.borrow_mut().insert(id, first));
        Ok(Self::PerThread {
            id,
            settings: Box::new((client, config)),
        })
    }

    fn get(&self) -> Result<Connection, StoreError> {
        match self {
            Self::Shared(conn) => Ok(conn.clone()),
            Self::PerThread { id, settings } => THREAD_CONNECTIONS.with(|c| {
                let (client, config) = &**settings;
                let mut connections = c.borrow_mut();
                if let Some(conn) = connections.get(id) {
                    return Ok(Connection::Single(conn.clone()));
                }
                let conn = new_manager(client, config)?;
                connections.insert(*id, conn.clone());
                Ok(Connection::Single(conn))
            }),
        }
    }

    fn is_cluster(&self) -> bool {
        matches!(self, Self::Shared(Connection::Cluster(_)))
    }
}

#[derive(Clone)]
pub struct RedisStore {
    connections: Arc<ConnectionSource>,
    prefix: String,
    timeout: Duration,
    retention: Retention,
    raise_watermark: Script,
    read_revocation_log: Script,
    wait_for_followers: Script,
    /// This process, among the instances that follow the revocation log.
    instance_id: String,
    /// Whether the layout migration has run against this Redis.
    migrated: Arc<AtomicBool>,
    /// Where the settings point, without credentials, for messages.
    target: String,
    /// Revocations as last read from the log, for views without a round trip.
    view: Arc<RevocationView>,
}

impl RedisStore {
    /// Connects lazily (an instance starts even while Redis is down, and
    /// answers 503 until it is up), then applies the layout migration if
    /// Redis answers.
    pub async fn connect(
        settings: &RedisSettings,
        retention: Retention,
    ) -> Result<Self, StoreError> {
        if settings.key_prefix.contains(['{', '}']) || settings.key_prefix.is_empty() {
            return Err(StoreError(
                "store.redis.key_prefix must be non-empty and hold no '{' or '}'".into(),
            ));
        }
        let connect = Duration::from_millis(settings.connect_timeout_ms.max(1));
        let timeout = Duration::from_millis(settings.command_timeout_ms.max(1));
        let (conn, target) = if settings.cluster_nodes.is_empty() {
            let client = redis::Client::open(settings.url.as_str()).map_err(|e| {
                StoreError(format!("store.redis.url is not valid: {}", e.kind_str()))
            })?;
            let config = ConnectionManagerConfig::new()
                .set_connection_timeout(Some(connect))
                .set_response_timeout(Some(timeout))
                .set_number_of_retries(2)
                .set_max_delay(Duration::from_millis(500));
            (
                ConnectionSource::per_thread(client, config)?,
                redact_url(&settings.url),
            )
        } else {
            let client = ClusterClientBuilder::new(settings.cluster_nodes.clone())
                .connection_timeout(connect)
                .response_timeout(timeout)
                .retries(2)
                .build()
                .map_err(|e| {
                    StoreError(format!(
                        "store.redis.cluster_nodes are not valid: {}",
                        e.kind_str()
                    ))
                })?;
            let config = redis::cluster::ClusterConfig::new()
                .set_connection_timeout(connect)
                .set_response_timeout(timeout);
            let conn = client.get_pending_async_connection_with_config(config);
            let target = settings
                .cluster_nodes
                .iter()
                .map(|u| redact_url(u))
                .collect::<Vec<_>>()
                .join(",");
            (
                ConnectionSource::Shared(Connection::Cluster(conn)),
                format!("cluster {target}"),
            )
        };
        let store = Self {
            connections: Arc::new(conn),
            prefix: settings.key_prefix.clone(),
            timeout,
            retention,
            raise_watermark: Script::new(RAISE_WATERMARK),
            read_revocation_log: Script::new(READ_REVOCATION_LOG),
            wait_for_followers: Script::new(WAIT_FOR_FOLLOWERS),
            instance_id: new_instance_id(),
            migrated: Arc::new(AtomicBool::new(false)),
            target,
            view: Arc::new(RevocationView::new(
                Duration::from_millis(settings.revocation_lease_ms).min(MAX_LEASE),
            )),
        };
        match store.migrate().await {
            Ok(()) => {}
            Err(MigrateError::TooNew(v)) => {
                return Err(StoreError(format!(
                    "Redis at {} holds layout {v} under prefix '{}', newer than this sharetoken knows ({REDIS_LAYOUT}); upgrade sharetoken",
                    store.target, store.prefix
                )))
            }
            Err(MigrateError::Store(e)) => log::warn!(
                "Redis at {} is not reachable yet ({e}); requests will answer 503 until it is",
                store.target
            ),
        }
        if settings.revocation_lease_ms > 0 {
            tokio::spawn(store.clone().follow_revocations());
        }
        Ok(store)
    }

    /// Records the layout version (idempotent) and refuses a newer one.
    async fn migrate(&self) -> Result<(), MigrateError> {
        let key = self.key_layout();
        let recorded: Option<u64> = self.query(redis::cmd("GET").arg(&key)).await?;
        if let Some(version) = recorded.filter(|&v| v > REDIS_LAYOUT) {
            return Err(MigrateError::TooNew(version));
        }
        // Layout 2: the revocation log holds every revocation made since it
        // began (kept once set). On a Redis of layout 1, that is now, and
        // tokens issued until then are checked in Redis (`revocation_view`);
        // on a new Redis, the log holds them all.
        let since = match recorded {
            None => 0,
            Some(_) => SystemClock.now(),
        };
        let _: Option<String> = self
            .query(
                redis::cmd("SET")
                    .arg(self.key_log_since())
                    .arg(since)
                    .arg("NX"),
            )
            .await?;
        // The log's first entry says from when it is whole: from the first
        // second after `since` (a layout-1 revocation may share its second).
        let since: UnixSeconds = self
            .query(redis::cmd("GET").arg(self.key_log_since()))
            .await?;
        let log_exists: bool = self
            .query(redis::cmd("EXISTS").arg(self.key_revocation_log()))
            .await?;
        if !log_exists {
            let from = if since == 0 { 0 } else { since + 1 };
            let _: String = self
                .query(
                    redis::cmd("XADD")
                        .arg(self.key_revocation_log())
                        .arg("*")
                        .arg("from")
                        .arg(from),
                )
                .await?;
        }
        if recorded != Some(REDIS_LAYOUT) {
            let _: () = self
                .query(redis::cmd("SET").arg(&key).arg(REDIS_LAYOUT))
                .await?;
        }
        self.migrated.store(true, Ordering::Relaxed);
        Ok(())
    }

    /// Reads the revocation log four times a lease, for as long as the
    /// store is in use (this task holds the last clone once every other is
    /// dropped).
    async fn follow_revocations(self) {
        let mut ticks = tokio::time::interval(self.view.lease() / 4);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            if Arc::strong_count(&self.view) == 1 {
                return;
            }
            let sent = super::revocation_view::now();
            match self.follow_log_once().await {
                Ok(true) => self.view.vouch(sent),
                Ok(false) => {}
                // Views ask Redis until a read from the start succeeds: a
                // failed read may be a failover to a replica that lacks
                // entries this view holds, and lacks entries made since.
                Err(e) => {
                    log::debug!("revocation log not read: {e}");
                    self.view.reset();
                }
            }
        }
    }

    /// Applies what the log holds beyond the view; `true` once the read
    /// reached the end of the log and the view holds all of it.
    async fn follow_log_once(&self) -> Result<bool, StoreError> {
        if !self.view.begun() {
            let marks = self.watermarks_in_redis().await?;
            self.view.begin(marks);
        }
        let lease_ms = u64::try_from(self.view.lease().as_millis()).unwrap_or(u64::MAX);
        let mut read = 0;
        loop {
            let mut invocation = self.read_revocation_log.key(self.key_revocation_log());
            invocation
                .key(self.key_log_since())
                .key(self.key_followers())
                .arg(self.view.last_id())
                .arg(BATCH)
                .arg(&self.instance_id)
                .arg(lease_ms);
            let (added, last_generated, complete_from, range): (
                i64,
                String,
                UnixSeconds,
                redis::streams::StreamRangeReply,
            ) = self.invoke(&invocation).await?;
            // Not migrated: Redis was down at start, or restarted empty.
            let Ok(added) = u64::try_from(added) else {
                self.migrate().await?;
                return Ok(false);
            };
            let entries = range.ids;
            read += entries.len() as u64;
            let full = entries.len() == BATCH;
            let last_id = entries.last().map(|e| e.id.clone());
            let parsed = entries.iter().filter_map(log_entry).collect();
            self.view.apply(parsed, last_id, SystemClock.now());
            if !full {
                return Ok(self
                    .view
                    .reached_end(added, &last_generated, complete_from, read));
            }
        }
    }

    /// Appends to the revocation log, before the revocation itself is
    /// written: a revocation in Redis is never missing from the log.
    async fn log_revocation(&self, fields: &[(&str, String)]) -> Result<(), StoreError> {
        // Entries older than the longest token life revoke nothing that is
        // still valid (an hour's margin for clocks).
        let keep_from_ms = (SystemClock.now() - MAX_TOKEN_LIFE - 3600).max(0) * 1000;
        let mut xadd = redis::cmd("XADD");
        xadd.arg(self.key_revocation_log())
            .arg("MINID")
            .arg("~")
            .arg(keep_from_ms)
            .arg("*");
        for (name, value) in fields {
            xadd.arg(*name).arg(value);
        }
        self.query::<String>(&xadd).await.map(|_| ())
    }

    /// Waits, once a revocation is written, until no instance trusts a view
    /// read before it (`wait_for_followers.lua`): then every instance
    /// refuses the token.
    async fn wait_for_followers(&self) -> Result<(), StoreError> {
        let invocation = self.wait_for_followers.key(self.key_followers());
        let wait_ms: u64 = self.invoke(&invocation).await?;
        tokio::time::sleep(Duration::from_millis(wait_ms).min(MAX_LEASE)).await;
        Ok(())
    }

    async fn watermarks_in_redis(&self) -> Result<Watermarks, StoreError> {
        let all: std::collections::BTreeMap<String, i64> = self
            .query(redis::cmd("HGETALL").arg(self.key_watermarks()))
            .await?;
        Ok(Watermarks(all))
    }

    /// When a token's record and trail may go.
    fn forget_at(&self, expires_at: UnixSeconds) -> UnixSeconds {
        expires_at + self.retention.keep_expired_seconds.max(0)
    }

    fn key_token(&self, jti: &str) -> String {
        format!("{}:tok:{{{jti}}}", self.prefix)
    }
    fn key_revoked(&self, jti: &str) -> String {
        format!("{}:rev:{{{jti}}}", self.prefix)
    }
    fn key_trail(&self, jti: &str) -> String {
        format!("{}:aud:{{{jti}}}", self.prefix)
    }
    fn key_watermarks(&self) -> String {
        format!("{}:{{wm}}:marks", self.prefix)
    }
    fn key_index(&self, name: &str) -> String {
        format!("{}:{{idx}}:{name}", self.prefix)
    }
    fn key_audit_log(&self) -> String {
        format!("{}:{{audit}}:log", self.prefix)
    }
    fn key_layout(&self) -> String {
        format!("{}:{{meta}}:layout", self.prefix)
    }
    fn key_revocation_log(&self) -> String {
        format!("{}:{{rev}}:log", self.prefix)
    }
    fn key_log_since(&self) -> String {
        format!("{}:{{rev}}:since", self.prefix)
    }
    fn key_followers(&self) -> String {
        format!("{}:{{rev}}:followers", self.prefix)
    }

    /// Runs one command under the timeout.
    async fn query<T: FromRedisValue>(&self, cmd: &Cmd) -> Result<T, StoreError> {
        self.on_connection(Work::Command(cmd)).await
    }

    /// Runs a Lua script under the timeout; its keys must share a slot.
    async fn invoke<T: FromRedisValue>(
        &self,
        invocation: &redis::ScriptInvocation<'_>,
    ) -> Result<T, StoreError> {
        self.on_connection(Work::Script(invocation)).await
    }

    /// Runs a pipeline under the timeout; every key in it must share a slot.
    async fn pipeline<T: FromRedisValue>(&self, pipe: &Pipeline) -> Result<T, StoreError> {
        self.on_connection(Work::Pipeline(pipe)).await
    }

    /// Runs `work` on this thread's connection under the timeout. A
    /// connection found broken (Redis restarted since its last use) is
    /// tried once more, on the connection made again in its place, so that
    /// a restart costs no request a 503. Everything sent is idempotent but
    /// audit appends, which may then record an event twice.
    async fn on_connection<T: FromRedisValue>(&self, work: Work<'_>) -> Result<T, StoreError> {
        let conn = self.connections.get()?;
        self.bounded(async {
            match work.send(conn.clone()).await {
                Err(e) if e.is_connection_dropped() || e.is_io_error() => work.send(conn).await,
                other => other,
            }
        })
        .await
    }

    async fn bounded<T>(
        &self,
        work: impl Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, StoreError> {
        match tokio::time::timeout(self.timeout, work).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(e)) => Err(StoreError(format!(
                "Redis at {}: {}",
                self.target,
                describe(&e)
            ))),
            Err(_) => Err(StoreError(format!(
                "Redis at {} did not answer within {} ms",
                self.target,
                self.timeout.as_millis()
            ))),
        }
    }

    async fn read_record(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        let json: Option<String> = self
            .query(redis::cmd("GET").arg(self.key_token(jti)))
            .await?;
        json.map(|j| {
            serde_json::from_str(&j).map_err(|e| StoreError(format!("bad token record: {e}")))
        })
        .transpose()
    }
}

/// A random name for this process among the log's followers.
fn new_instance_id() -> String {
    let mut bytes = [0u8; 8];
    // Uniqueness, not secrecy: a failure leaves the process id alone.
    let _ = getrandom::fill(&mut bytes);
    format!("{}-{}", std::process::id(), hex::encode(bytes))
}

/// A revocation log entry, as [`RedisStore::log_revocation`] wrote it.
fn log_entry(entry: &redis::streams::StreamId) -> Option<Entry> {
    if let (Some(jti), Some(expires_at)) = (entry.get("j"), entry.get("x")) {
        return Some(Entry::Token { jti, expires_at });
    }
    match (entry.get("w"), entry.get("b")) {
        (Some(field), Some(before)) => Some(Entry::Watermark { field, before }),
        _ => None,
    }
}

/// What one round trip sends.
enum Work<'a> {
    Command(&'a Cmd),
    Pipeline(&'a Pipeline),
    Script(&'a redis::ScriptInvocation<'a>),
}

impl Work<'_> {
    async fn send<T: FromRedisValue>(&self, conn: Connection) -> redis::RedisResult<T> {
        match (self, conn) {
            (Work::Command(cmd), Connection::Single(mut c)) => cmd.query_async(&mut c).await,
            (Work::Command(cmd), Connection::Cluster(mut c)) => cmd.query_async(&mut c).await,
            (Work::Pipeline(pipe), Connection::Single(mut c)) => pipe.query_async(&mut c).await,
            (Work::Pipeline(pipe), Connection::Cluster(mut c)) => pipe.query_async(&mut c).await,
            (Work::Script(script), Connection::Single(mut c)) => script.invoke_async(&mut c).await,
            (Work::Script(script), Connection::Cluster(mut c)) => script.invoke_async(&mut c).await,
        }
    }
}

enum MigrateError {
    TooNew(u64),
    Store(StoreError),
}

impl From<MigrateError> for StoreError {
    fn from(e: MigrateError) -> Self {
        match e {
            MigrateError::TooNew(v) => StoreError(format!(
                "Redis holds a newer layout ({v}); upgrade sharetoken"
            )),
            MigrateError::Store(e) => e,
        }
    }
}

impl From<StoreError> for MigrateError {
    fn from(e: StoreError) -> Self {
        MigrateError::Store(e)
    }
}

/// An error's kind and detail, never the command (which may hold keys).
fn describe(e: &redis::RedisError) -> String {
    match e.detail() {
        Some(detail) => format!("{}: {detail}", e.kind_str()),
        None => e.kind_str().to_owned(),
    }
}

trait KindStr {
    fn kind_str(&self) -> &'static str;
}

impl KindStr for redis::RedisError {
    fn kind_str(&self) -> &'static str {
        if self.is_timeout() {
            "timed out"
        } else if self.is_connection_refusal() {
            "connection refused"
        } else if self.is_connection_dropped() || self.is_io_error() {
            "connection lost"
        } else {
            "error"
        }
    }
}

#[async_trait]
impl TokenStore for RedisStore {
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError(e.to_string()))?;
        let mut set = redis::cmd("SET");
        set.arg(self.key_token(&record.jti))
            .arg(&json)
            .arg("EXAT")
            .arg(self.forget_at(record.expires_at));
        let exp_member = serde_json::to_string(&(&record.jti, &record.connector, &record.client))
            .map_err(|e| StoreError(e.to_string()))?;
        let mut index = redis::pipe();
        index
            .atomic()
            .zadd(self.key_index("all"), &record.jti, 0)
            .ignore()
            .zadd(
                self.key_index(&format!("c:{}", record.connector)),
                &record.jti,
                0,
            )
            .ignore()
            .zadd(
                self.key_index(&format!("u:{}", record.client)),
                &record.jti,
                0,
            )
            .ignore()
            .zadd(
                self.key_index("exp"),
                exp_member,
                self.forget_at(record.expires_at),
            )
            .ignore();
        match self.connections.is_cluster() {
            // One Redis: record and index in one round trip (the record
            // first; the index is only for listing).
            false => {
                let mut both = redis::pipe();
                both.add_command(set).ignore();
                both.cmd("MULTI").ignore();
                for cmd in index.cmd_iter() {
                    both.add_command(cmd.clone()).ignore();
                }
                both.cmd("EXEC").ignore();
                self.pipeline::<()>(&both).await
            }
            // A cluster: the record's slot, then the index's slot.
            true => {
                self.query::<()>(&set).await?;
                self.pipeline::<()>(&index).await
            }
        }
    }

    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError> {
        if let Some(revoked) = self.view.is_revoked(claims) {
            return Ok(revoked);
        }
        let connector = claims.connector.to_string();
        let fields = Watermarks::fields_for(&connector, &claims.subject);
        let mut exists = redis::cmd("EXISTS");
        exists.arg(self.key_revoked(&claims.jti));
        let mut hmget = redis::cmd("HMGET");
        hmget.arg(self.key_watermarks()).arg(&fields[..]);
        let (revoked, marks): (bool, Vec<Option<i64>>) = match self.connections.is_cluster() {
            // One Redis: both in one round trip.
            false => {
                let mut pipe = redis::pipe();
                pipe.add_command(exists).add_command(hmget);
                self.pipeline(&pipe).await?
            }
            // A cluster: two slots ({jti} and {wm}), two commands at once.
            true => tokio::try_join!(
                self.query::<bool>(&exists),
                self.query::<Vec<Option<i64>>>(&hmget)
            )?,
        };
        Ok(revoked || watermark_values_cover(&marks, claims.issued_at))
    }

    async fn revoke(&self, jti: &str, now: UnixSeconds) -> Result<Revocation, StoreError> {
        let Some(mut record) = self.read_record(jti).await? else {
            return Ok(Revocation::Unknown);
        };
        if record.revoked_at.is_some() {
            // An earlier attempt may have failed after writing: it is
            // waited for here (see below).
            self.wait_for_followers().await?;
            return Ok(Revocation::AlreadyRevoked(record));
        }
        self.log_revocation(&[("j", jti.to_owned()), ("x", record.expires_at.to_string())])
            .await?;
        record.revoked_at = Some(now);
        let json = serde_json::to_string(&record).map_err(|e| StoreError(e.to_string()))?;
        // Both keys carry the {jti} tag: one slot, one atomic step.
        let mut pipe = redis::pipe();
        pipe.atomic()
            .cmd("SET")
            .arg(self.key_revoked(jti))
            .arg(now)
            .arg("EXAT")
            .arg(record.expires_at)
            .ignore()
            .cmd("SET")
            .arg(self.key_token(jti))
            .arg(json)
            .arg("KEEPTTL")
            .ignore();
        self.pipeline::<()>(&pipe).await?;
        // Then every instance has read the log, or no longer trusts what it
        // read and asks Redis (`revocation_view`).
        self.wait_for_followers().await?;
        Ok(Revocation::Revoked(record))
    }

    async fn revoke_issued_before(
        &self,
        scope: &BulkScope,
        before: UnixSeconds,
        _now: UnixSeconds,
    ) -> Result<UnixSeconds, StoreError> {
        self.log_revocation(&[("w", scope.field()), ("b", before.to_string())])
            .await?;
        let mut invocation = self.raise_watermark.key(self.key_watermarks());
        invocation.arg(scope.field()).arg(before);
        let raised = self.invoke(&invocation).await?;
        // As for one token: every instance's view has it, or asks Redis.
        self.wait_for_followers().await?;
        Ok(raised)
    }

    async fn watermarks(&self) -> Result<Watermarks, StoreError> {
        match self.view.watermarks() {
            Some(marks) => Ok(marks),
            None => self.watermarks_in_redis().await,
        }
    }

    async fn token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        self.read_record(jti).await
    }

    async fn list_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixSeconds,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let index = match (&filter.connector, &filter.client) {
            (Some(c), _) => self.key_index(&format!("c:{c}")),
            (None, Some(u)) => self.key_index(&format!("u:{u}")),
            (None, None) => self.key_index("all"),
        };
        let marks = self.watermarks().await?;
        let mut cursor = match after {
            Some(jti) => format!("({jti}"),
            None => "-".to_owned(),
        };
        let batch = limit.clamp(10, 500);
        let mut page = Vec::new();
        loop {
            let ids: Vec<String> = self
                .query(
                    redis::cmd("ZRANGEBYLEX")
                        .arg(&index)
                        .arg(&cursor)
                        .arg("+")
                        .arg("LIMIT")
                        .arg(0)
                        .arg(batch),
                )
                .await?;
            let Some(last) = ids.last() else {
                return Ok(page);
            };
            cursor = format!("({last}");
            // Records live in different slots: one GET each, concurrently.
            let records = try_join_all(ids.iter().map(|jti| self.read_record(jti))).await?;
            for record in records.into_iter().flatten() {
                if filter.matches(&record, now, &marks) {
                    page.push(record);
                    if page.len() >= limit {
                        return Ok(page);
                    }
                }
            }
            if ids.len() < batch {
                return Ok(page);
            }
        }
    }

    async fn prune_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        // An instance that started while Redis was down records the layout
        // now (pruning runs at start and then periodically).
        if !self.migrated.load(Ordering::Relaxed) {
            self.migrate().await?;
        }
        // Records expire by themselves (EXAT); only the index needs pruning.
        // Index scores are already "expiry + retention".
        let expired: Vec<String> = self
            .query(
                redis::cmd("ZRANGEBYSCORE")
                    .arg(self.key_index("exp"))
                    .arg("-inf")
                    .arg(now)
                    .arg("LIMIT")
                    .arg(0)
                    .arg(10_000),
            )
            .await?;
        if !expired.is_empty() {
            let mut pipe = redis::pipe();
            pipe.atomic();
            for member in &expired {
                if let Ok((jti, connector, client)) =
                    serde_json::from_str::<(String, String, String)>(member)
                {
                    pipe.zrem(self.key_index("all"), &jti).ignore();
                    pipe.zrem(self.key_index(&format!("c:{connector}")), &jti)
                        .ignore();
                    pipe.zrem(self.key_index(&format!("u:{client}")), &jti)
                        .ignore();
                }
                pipe.zrem(self.key_index("exp"), member).ignore();
            }
            self.pipeline::<()>(&pipe).await?;
        }
        let marks = self.watermarks_in_redis().await?;
        let stale: Vec<&String> = marks
            .0
            .iter()
            .filter(|(_, &before)| before + MAX_TOKEN_LIFE <= now)
            .map(|(field, _)| field)
            .collect();
        if !stale.is_empty() {
            let _: () = self
                .query(redis::cmd("HDEL").arg(self.key_watermarks()).arg(stale))
                .await?;
        }
        Ok(expired.len() as u64)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let texts = events
            .iter()
            .map(serde_json::to_string)
            .collect::<Result<Vec<String>, _>>()
            .map_err(|e| StoreError(e.to_string()))?;
        let mut log = redis::pipe();
        for json in &texts {
            log.cmd("XADD")
                .arg(self.key_audit_log())
                .arg("MAXLEN")
                .arg(self.retention.audit_max_events.max(1))
                .arg("*")
                .arg("e")
                .arg(json)
                .ignore();
        }
        // Each token's trail lives in its own slot: one pipeline per token,
        // its events in order (pipelines to different slots may interleave).
        let mut by_token: std::collections::BTreeMap<&str, (Vec<&str>, i64)> =
            std::collections::BTreeMap::new();
        for (event, json) in events.iter().zip(&texts) {
            let Some(jti) = event.token_id.as_deref() else {
                continue;
            };
            let until =
                event.token_expires_at.unwrap_or(event.at) + self.retention.keep_expired_seconds;
            let entry = by_token.entry(jti).or_default();
            entry.0.push(json.as_str());
            entry.1 = entry.1.max(until);
        }
        let trails: Vec<Pipeline> = by_token
            .into_iter()
            .map(|(jti, (entries, until))| {
                let key = self.key_trail(jti);
                let mut pipe = redis::pipe();
                pipe.rpush(&key, entries)
                    .ignore()
                    .ltrim(&key, -TRAIL_MAX, -1)
                    .ignore()
                    .cmd("EXPIREAT")
                    .arg(&key)
                    .arg(until)
                    .ignore();
                pipe
            })
            .collect();
        if !self.connections.is_cluster() {
            // One Redis: the log and every trail in one round trip.
            for pipe in &trails {
                for cmd in pipe.cmd_iter() {
                    log.add_command(cmd.clone()).ignore();
                }
            }
            return self.pipeline::<()>(&log).await;
        }
        self.pipeline::<()>(&log).await?;
        try_join_all(trails.iter().map(|pipe| self.pipeline::<()>(pipe))).await?;
        Ok(())
    }

    async fn audit_since(
        &self,
        since: UnixSeconds,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        // Stream ids are Redis's clock; events carry ours. Start a little
        // early (clocks differ) and filter on the events' own time.
        const SKEW_MS: i64 = 5 * 60 * 1000;
        let mut cursor = format!("{}", (since * 1000 - SKEW_MS).max(0));
        let mut out = Vec::new();
        loop {
            let entries: Vec<(String, Vec<(String, String)>)> = self
                .query(
                    redis::cmd("XRANGE")
                        .arg(self.key_audit_log())
                        .arg(&cursor)
                        .arg("+")
                        .arg("COUNT")
                        .arg(500),
                )
                .await?;
            let Some((last_id, _)) = entries.last() else {
                return Ok(out);
            };
            cursor = format!("({last_id}");
            let full = entries.len() == 500;
            for (_, fields) in entries {
                let Some((_, json)) = fields.into_iter().find(|(name, _)| name == "e") else {
                    continue;
                };
                let Ok(event) = serde_json::from_str::<AuditEvent>(&json) else {
                    continue;
                };
                if event.at >= since {
                    out.push(event);
                    if out.len() >= limit {
                        return Ok(out);
                    }
                }
            }
            if !full {
                return Ok(out);
            }
        }
    }

    async fn audit_for_token(&self, jti: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let entries: Vec<String> = self
            .query(redis::cmd("LRANGE").arg(self.key_trail(jti)).arg(0).arg(-1))
            .await?;
        Ok(entries
            .iter()
            .filter_map(|json| serde_json::from_str(json).ok())
            .collect())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        let _: String = self.query(&redis::cmd("PING")).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_print_without_credentials() {
        assert_eq!(
            redact_url("redis://:hunter2@cache:6379/0"),
            "redis://***@cache:6379/0"
        );
        assert_eq!(redact_url("redis://cache:6379"), "redis://cache:6379");
        let settings = RedisSettings {
            url: "rediss://user:hunter2@cache".into(),
            ..RedisSettings::default()
        };
        assert!(!format!("{settings:?}").contains("hunter2"));
    }
}
