//! Builds the application from settings and binds its listener, so tests
//! can start the real server on port 0 and ask for its port.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use secrecy::ExposeSecret;

use crate::api::rate_limit::LoginLimiter;
use crate::api::{self, AppState};
use crate::audit::AuditSink;
use crate::auth::Clients;
use crate::bootstrap::{self, DemoClient};
use crate::clock::{Clock, SystemClock};
use crate::logging::LogFormat;
use crate::metrics::Metrics;
use crate::settings::Settings;
use crate::storage::{ConnectorId, Connectors};
use crate::store::{EmbeddedStore, MeteredStore, RedisStore, TokenStore};
use crate::token::KeyRing;

/// Threads each worker may use for blocking work (files, the embedded store).
const BLOCKING_THREADS_PER_WORKER: usize = 16;

pub struct Application {
    port: u16,
    server: Server,
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    login_limiter: Arc<LoginLimiter>,
    prune_every: Duration,
    audit_writer: tokio::task::JoinHandle<()>,
    demo_client: Option<DemoClient>,
    connectors: Vec<ConnectorId>,
}

impl Application {
    pub async fn build(settings: Settings) -> Result<Self, String> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`build`](Self::build), with a clock of the caller's (tests).
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let prepared = bootstrap::prepare(settings)?;
        let settings = prepared.settings;
        let key_texts: Vec<&str> = prepared.keys.iter().map(|k| k.expose_secret()).collect();
        let keys = KeyRing::from_paserk(&key_texts).map_err(|e| e.to_string())?;
        let clients = Clients::from_settings(&settings.clients)?;
        let connectors = Connectors::from_settings(&settings.connectors)?;
        let metrics = Arc::new(Metrics::default());
        let store: Arc<dyn TokenStore> = Arc::new(MeteredStore::new(
            open_store(&settings).await?,
            Arc::clone(&metrics),
        ));
        let (audit, audit_writer) = AuditSink::start(Arc::clone(&store));
        let connector_ids = connectors.ids().cloned().collect();
        // Each connector is probed once; a failing one is logged by name and
        // keeps answering 502 while the others serve.
        connectors.probe_all().await;
        // Prune once before serving, then periodically (run_until_stopped).
        prune_once(store.as_ref(), clock.as_ref()).await;

        let login_limiter = Arc::new(LoginLimiter::new(&settings.oauth));
        let state = web::Data::new(AppState {
            keys,
            clients,
            connectors,
            store: Arc::clone(&store),
            audit,
            clock: Arc::clone(&clock),
            nbf_skew_seconds: settings.tokens.nbf_skew_seconds,
            access_token_ttl_seconds: settings.tokens.access_token_ttl_seconds,
            max_body_bytes: settings.server.max_body_bytes,
            login_limiter: Arc::clone(&login_limiter),
            trust_forwarded_for: settings.oauth.trust_forwarded_for,
            metrics,
        });

        let log_format = LogFormat::from_setting(&settings.log.format)?;
        let listener = TcpListener::bind(&settings.server.listen)
            .map_err(|e| format!("cannot listen on {}: {e}", settings.server.listen))?;
        let port = listener.local_addr().map_err(|e| e.to_string())?.port();
        // The level is fixed once logging starts: with access lines off
        // (RUST_LOG=warn), no request pays for building and redacting one.
        let access_lines =
            log::log_enabled!(target: crate::logging::ACCESS_TARGET, log::Level::Info);
        let mut server = HttpServer::new(move || {
            App::new()
                .wrap(actix_web::middleware::from_fn(api::count_requests))
                .wrap(actix_web::middleware::from_fn(api::assign_request_id))
                .wrap(actix_web::middleware::Condition::new(
                    access_lines,
                    api::access_logger(log_format),
                ))
                .app_data(state.clone())
                .app_data(api::query_config())
                .app_data(api::path_config())
                .configure(api::routes)
                .default_service(web::to(api::not_found))
        })
        // NOTE: headers and body go out in separate writes; with Nagle's
        // algorithm on, the body waits for the client's delayed ACK (up to
        // 40 ms per request on a kept-alive connection).
        .on_connect(|connection, _| {
            if let Some(tcp) = connection.downcast_ref::<actix_web::rt::net::TcpStream>() {
                let _ = tcp.set_nodelay(true);
            }
        })
        // Each worker's blocking pool (file opens, redb) stays small: idle
        // threads and their malloc arenas are resident memory.
        .worker_max_blocking_threads(BLOCKING_THREADS_PER_WORKER)
        // actix-server handles SIGTERM/SIGINT: stop accepting, then wait
        // for connections in flight up to the grace period.
        .shutdown_timeout(settings.server.shutdown_grace_seconds)
        .client_request_timeout(Duration::from_millis(
            settings.server.client_request_timeout_ms,
        ))
        .listen(listener)
        .map_err(|e| e.to_string())?;
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        Ok(Self {
            port,
            server: server.run(),
            store,
            clock,
            login_limiter,
            prune_every: Duration::from_secs(settings.store.prune_interval_seconds.max(1)),
            audit_writer,
            demo_client: prepared.demo_client,
            connectors: connector_ids,
        })
    }

    /// Stops the server (tests: restarts on the same data directory).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn demo_client(&self) -> Option<&DemoClient> {
        self.demo_client.as_ref()
    }

    pub fn connectors(&self) -> &[ConnectorId] {
        &self.connectors
    }

    /// Serves until the server stops; prunes expired tokens meanwhile.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let pruner = tokio::spawn(prune_forever(
            self.store,
            self.clock,
            self.login_limiter,
            self.prune_every,
        ));
        let result = self.server.await;
        pruner.abort();
        // The handlers' audit sinks are gone with the server: the writer
        // flushes what is queued and ends.
        if tokio::time::timeout(Duration::from_secs(5), self.audit_writer)
            .await
            .is_err()
        {
            log::warn!("the audit writer did not finish within 5 s");
        }
        result
    }
}

/// The configured token store.
pub async fn open_store(settings: &Settings) -> Result<Arc<dyn TokenStore>, String> {
    let retention = settings.store.retention();
    Ok(match settings.store.kind.as_str() {
        "embedded" => Arc::new(
            EmbeddedStore::open(&settings.in_data_dir(bootstrap::STORE_FILE), retention)
                .map_err(|e| e.0)?,
        ),
        "redis" => Arc::new(
            RedisStore::connect(&settings.store.redis, retention)
                .await
                .map_err(|e| e.0)?,
        ),
        other => {
            return Err(format!(
                "unknown store kind '{other}' (use embedded or redis)"
            ))
        }
    })
}

async fn prune_forever(
    store: Arc<dyn TokenStore>,
    clock: Arc<dyn Clock>,
    login_limiter: Arc<LoginLimiter>,
    every: Duration,
) {
    // The first pruning ran at start (in `build`): begin one period later.
    let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    loop {
        ticks.tick().await;
        prune_once(store.as_ref(), clock.as_ref()).await;
        login_limiter.forget_idle();
    }
}

async fn prune_once(store: &dyn TokenStore, clock: &dyn Clock) {
    match store.prune_expired(clock.now()).await {
        Ok(0) => {}
        Ok(n) => log::info!("pruned {n} expired token records"),
        Err(e) => log::warn!("pruning expired tokens failed: {e}"),
    }
}
