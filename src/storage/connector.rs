//! One configured connector, and the set of them.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Range;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{Attribute, GetOptions, GetRange, ObjectStore};

use super::{local, s3, ConnectorId, StorageError};
use crate::redact::scrub;
use crate::settings::{BackendSettings, ConnectorSettings, S3Settings};
use crate::share::ObjectKey;

/// An object's bytes, streamed as the backend delivers them.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// What the backend knows of an object, enough to answer HEAD and
/// conditional requests.
#[derive(Debug, Clone)]
pub struct ObjectInfo {
    pub size: u64,
    /// Strong entity tag, quoted as HTTP wants it (`"…"`).
    pub etag: Option<String>,
    pub last_modified: Option<SystemTime>,
    /// `Content-Type` stored with the object, if the backend keeps one.
    pub content_type: Option<String>,
    /// The entity tag exactly as the backend gave it, for `If-Match` on the read.
    backend_etag: Option<String>,
    /// A local file opened (and, if small, read) with its metadata.
    local: Option<Arc<local::OpenedFile>>,
    /// A whole-object GET already answered by an S3 backend, its body not
    /// yet read (see [`Connector::open`]).
    pending: Option<Arc<std::sync::Mutex<Option<object_store::GetResult>>>>,
}

/// Where a connector reads from.
enum Backend {
    Local(local::LocalBackend),
    S3 {
        store: Arc<dyn ObjectStore>,
        /// Bound on waiting for the backend's response headers.
        first_byte: Duration,
    },
    /// Misconfigured at start (reason logged then); every read answers 502.
    Broken,
}

pub struct Connector {
    id: ConnectorId,
    backend: Backend,
}

impl Connector {
    /// Builds a connector; a backend that cannot be opened is logged by
    /// connector name and leaves that connector answering 502, rather than
    /// the server refusing to start. `targets` resolves proxy connectors.
    fn from_settings(
        settings: &ConnectorSettings,
        targets: &BTreeMap<ConnectorId, S3Settings>,
    ) -> Result<Self, String> {
        let id = ConnectorId::parse(&settings.kind, &settings.name).ok_or_else(|| {
            format!(
                "connector '{}': unknown type '{}' (use obs, minio or objectstorageproxy)",
                settings.name, settings.kind
            )
        })?;
        let opened = match &settings.backend {
            BackendSettings::Local { root } => local::LocalBackend::open(root)
                .map(Backend::Local)
                .map_err(|reason| {
                    format!("cannot open local directory {}: {reason}", root.display())
                }),
            BackendSettings::S3(s3_settings) => {
                s3::open(s3_settings, &s3_settings.bucket).map(|store| Backend::S3 {
                    store,
                    first_byte: first_byte(s3_settings),
                })
            }
            BackendSettings::Proxy { target, bucket } => {
                let target_id = target
                    .split_once('/')
                    .and_then(|(kind, name)| ConnectorId::parse(kind, name))
                    .ok_or_else(|| {
                        format!("connector {id}: proxy target '{target}' is not 'type/name'")
                    })?;
                let target_settings = targets.get(&target_id).ok_or_else(|| {
                    format!("connector {id}: proxy target {target_id} is not an s3 connector")
                })?;
                s3::open(target_settings, bucket).map(|store| Backend::S3 {
                    store,
                    first_byte: first_byte(target_settings),
                })
            }
        };
        let backend = opened.unwrap_or_else(|reason| {
            log::error!("connector {id}: {reason}; it will answer 502");
            Backend::Broken
        });
        Ok(Self { id, backend })
    }

    pub fn id(&self) -> &ConnectorId {
        &self.id
    }

    /// Where a key is read from on an object_store backend (the local
    /// backend reads its files itself: see `head`).
    fn target(&self, key: &ObjectKey) -> Result<Target<'_>, StorageError> {
        match &self.backend {
            Backend::S3 { store, first_byte } => Ok(Target {
                store,
                path: object_path(key),
                first_byte: Some(*first_byte),
            }),
            Backend::Local(_) | Backend::Broken => Err(self.unavailable()),
        }
    }

    fn unavailable(&self) -> StorageError {
        StorageError::Unavailable {
            connector: self.id.to_string(),
        }
    }

    /// Translates a backend error where it enters; causes are logged here,
    /// scrubbed (they may quote the key, which is client input).
    fn translate(&self, error: object_store::Error) -> StorageError {
        match error {
            // NOTE: S3 says 404 for a missing bucket too; the error body
            // tells them apart where there is one (a HEAD has none: `head`).
            ref e if e.to_string().contains("NoSuchBucket") => {
                log::error!("connector {}: the bucket does not exist", self.id);
                self.unavailable()
            }
            object_store::Error::NotFound { .. } | object_store::Error::InvalidPath { .. } => {
                StorageError::NotFound
            }
            // A key whose path cannot exist on a file system (a segment
            // under a file, a name too long): not found, not a backend fault.
            ref e if local::is_missing_file(e) => StorageError::NotFound,
            object_store::Error::Precondition { .. } => StorageError::Changed,
            other => {
                log::error!(
                    "connector {}: backend error: {}",
                    self.id,
                    scrub(&other.to_string())
                );
                self.unavailable()
            }
        }
    }

    /// Awaits a backend call, within the first-byte bound if there is one.
    async fn bounded<T>(
        &self,
        first_byte: Option<Duration>,
        call: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T, StorageError> {
        let result = match first_byte {
            Some(limit) => match tokio::time::timeout(limit, call).await {
                Ok(result) => result,
                Err(_) => {
                    log::warn!(
                        "connector {}: no answer within {} ms",
                        self.id,
                        limit.as_millis()
                    );
                    return Err(StorageError::Timeout {
                        connector: self.id.to_string(),
                    });
                }
            },
            None => call.await,
        };
        result.map_err(|e| self.translate(e))
    }

    /// The object's metadata, ready for its bytes to be read. When the
    /// whole object will most likely be sent (`whole`: a GET without
    /// `Range`), an S3 backend is asked for it at once: one request instead
    /// of a HEAD and a GET; the body is streamed only if it is sent.
    pub async fn open(&self, key: &ObjectKey, whole: bool) -> Result<ObjectInfo, StorageError> {
        if !whole {
            return self.head(key).await;
        }
        let Ok(Target {
            store,
            path,
            first_byte,
        }) = self.target(key)
        else {
            return self.head(key).await;
        };
        let result = match self
            .bounded(first_byte, store.get_opts(&path, GetOptions::default()))
            .await
        {
            // Missing object or missing bucket: `head` tells which.
            Err(StorageError::NotFound) => return self.head(key).await,
            other => other?,
        };
        let mut info = info_from(&result);
        info.pending = Some(Arc::new(std::sync::Mutex::new(Some(result))));
        Ok(info)
    }

    /// The object's metadata, without its bytes. A local file is opened
    /// here (and a small one read), in one trip to the blocking pool.
    pub async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StorageError> {
        if let Backend::Local(local) = &self.backend {
            let opened = local.open_file(&self.id, &object_path(key)).await?;
            return Ok(ObjectInfo {
                size: opened.size,
                etag: Some(opened.etag.clone()),
                last_modified: Some(opened.last_modified),
                content_type: None,
                backend_etag: None,
                local: Some(Arc::new(opened)),
                pending: None,
            });
        }
        let Target {
            store,
            path,
            first_byte,
        } = self.target(key)?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let result = match self
            .bounded(first_byte, store.get_opts(&path, options))
            .await
        {
            Err(StorageError::NotFound) if first_byte.is_some() => {
                // A HEAD cannot tell a missing object from a missing bucket
                // (S3 says 404 to both, without a body); a listing under the
                // key can (only on this not-found path).
                let listing = async { store.list(Some(&path)).next().await.transpose() };
                self.bounded(first_byte, listing).await?;
                return Err(StorageError::NotFound);
            }
            other => other?,
        };
        Ok(info_from(&result))
    }

    /// Streams `range` of the object with a ranged GET (never reading from
    /// the start and skipping), refusing (as [`StorageError::Changed`]) if
    /// it is no longer the version `info` described.
    pub async fn read(
        &self,
        key: &ObjectKey,
        info: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let length = range.end - range.start;
        if let Some(opened) = &info.local {
            let stream = opened.stream(range);
            return Ok(ExactLength::new(stream, length, self.id.to_string()).boxed());
        }
        let whole = range.start == 0 && range.end == info.size;
        let pending = info.pending.as_ref().and_then(|p| p.lock().ok()?.take());
        if let (true, Some(result)) = (whole, pending) {
            return Ok(self.body(result, length));
        }
        let Target {
            store,
            path,
            first_byte,
        } = self.target(key)?;
        let options = GetOptions {
            range: (!whole).then(|| GetRange::Bounded(range.clone())),
            if_match: info.backend_etag.clone(),
            ..GetOptions::default()
        };
        let result = self
            .bounded(first_byte, store.get_opts(&path, options))
            .await?;
        // Not every backend enforces If-Match (s3s-fs does not): the answer
        // must itself be the version the headers describe.
        let same_tag = match (&info.backend_etag, &result.meta.e_tag) {
            (Some(expected), Some(got)) => expected == got,
            _ => true,
        };
        if !same_tag || result.meta.size != info.size {
            log::warn!(
                "connector {}: the object changed between its metadata and its read",
                self.id
            );
            return Err(StorageError::Changed);
        }
        Ok(self.body(result, length))
    }

    /// A backend answer's body, exactly `length` bytes long.
    fn body(&self, result: object_store::GetResult, length: u64) -> ByteStream {
        let idle = match &self.backend {
            Backend::S3 { first_byte, .. } => Some(*first_byte),
            _ => None,
        };
        let id = self.id.clone();
        let stream = result.into_stream().map_err(move |e| {
            log::warn!(
                "connector {id}: read failed mid-body: {}",
                scrub(&e.to_string())
            );
            StorageError::Unavailable {
                connector: id.to_string(),
            }
        });
        let mut body = ExactLength::new(stream.boxed(), length, self.id.to_string());
        body.idle = idle.map(|limit| (limit, Box::pin(tokio::time::sleep(limit))));
        body.boxed()
    }

    /// Checks once that the backend answers (and the bucket exists); used at
    /// start so that a failing connector is reported by name.
    pub async fn probe(&self) -> Result<(), StorageError> {
        let (store, first_byte) = match &self.backend {
            // The directory can be read: no listing of its entries, which
            // would stumble on a link loop that views never follow.
            Backend::Local(local) => return local.probe(&self.id),
            // Bounded tighter than a view: readiness probes come from load
            // balancers with short timeouts of their own, and start-up
            // waits for this.
            Backend::S3 { store, first_byte } => (store, Some((*first_byte).min(PROBE_LIMIT))),
            Backend::Broken => return Err(self.unavailable()),
        };
        self.bounded(first_byte, store.list_with_delimiter(None))
            .await
            .map(|_| ())
    }
}

/// What an object_store answer says of the object.
fn info_from(result: &object_store::GetResult) -> ObjectInfo {
    let content_type = result
        .attributes
        .get(&Attribute::ContentType)
        .map(|v| v.as_ref().to_owned());
    let meta = &result.meta;
    ObjectInfo {
        size: meta.size,
        etag: meta.e_tag.clone().map(quote_etag),
        backend_etag: meta.e_tag.clone(),
        last_modified: Some(meta.last_modified.into()),
        content_type,
        local: None,
        pending: None,
    }
}

/// Where one key is read from.
struct Target<'a> {
    store: &'a Arc<dyn ObjectStore>,
    path: Path,
    first_byte: Option<Duration>,
}

/// Ends a body at exactly the length its headers promised: an object that
/// shrinks mid-read fails the body (the connection is closed) instead of
/// leaving the client waiting, and one that grows is cut at the length.
// NOTE: object_store's local reader yields empty chunks forever when a file
// is truncated under it; this is what stops that.
struct ExactLength {
    inner: ByteStream,
    remaining: u64,
    connector: String,
    done: bool,
    /// A backend body that sends nothing for this long is cut: a backend
    /// gone silent (or a network partition) must not hold the request, its
    /// connections and a viewer who has left, forever. It counts only
    /// while the body waits for the backend, so a slow, steady download is
    /// never cut.
    idle: Option<(Duration, Pin<Box<tokio::time::Sleep>>)>,
    waiting: bool,
}

impl ExactLength {
    fn new(inner: ByteStream, length: u64, connector: String) -> Self {
        Self {
            inner,
            remaining: length,
            connector,
            done: false,
            idle: None,
            waiting: false,
        }
    }

    fn shrank(&mut self) -> Option<Result<Bytes, StorageError>> {
        self.done = true;
        log::warn!(
            "connector {}: the object changed during a read; the body was cut",
            self.connector
        );
        Some(Err(StorageError::Changed))
    }
}

impl Stream for ExactLength {
    type Item = Result<Bytes, StorageError>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        // NOTE: every field is Unpin (the inner stream is boxed).
        let this = self.get_mut();
        if this.done || this.remaining == 0 {
            this.done = true;
            return Poll::Ready(None);
        }
        let next = match this.inner.as_mut().poll_next(cx) {
            Poll::Ready(next) => next,
            Poll::Pending => {
                if let Some((limit, timer)) = &mut this.idle {
                    // The clock runs only while the body waits for the
                    // backend, not while the viewer is slow to take bytes.
                    if !this.waiting {
                        this.waiting = true;
                        timer.as_mut().reset(tokio::time::Instant::now() + *limit);
                    }
                    if timer.as_mut().poll(cx).is_ready() {
                        this.done = true;
                        log::warn!(
                            "connector {}: the backend sent nothing for {} ms mid-body; the body was cut",
                            this.connector,
                            limit.as_millis()
                        );
                        return Poll::Ready(Some(Err(StorageError::Timeout {
                            connector: this.connector.clone(),
                        })));
                    }
                }
                return Poll::Pending;
            }
        };
        this.waiting = false;
        Poll::Ready(match next {
            Some(Ok(chunk)) if chunk.is_empty() => this.shrank(),
            Some(Ok(mut chunk)) => {
                if chunk.len() as u64 > this.remaining {
                    chunk.truncate(this.remaining as usize);
                }
                this.remaining -= chunk.len() as u64;
                Some(Ok(chunk))
            }
            Some(Err(e)) => {
                this.done = true;
                Some(Err(e))
            }
            None => this.shrank(),
        })
    }
}

/// Longest a connector's readiness probe waits for the backend.
const PROBE_LIMIT: Duration = Duration::from_secs(2);

fn first_byte(settings: &S3Settings) -> Duration {
    Duration::from_millis(settings.first_byte_timeout_ms.max(1))
}

/// The object_store path of a key, on every backend.
///
/// NOTE: the key is taken as it is (`Path::parse`, never `Path::from`, which
/// would percent-encode `%`, `?`, `#`, `~`… into the name): S3 receives the
/// key byte for byte, and the local backend encodes each segment into a file
/// URL and decodes it back, so the file name is the key. One limit is
/// object_store's own: a local file name ending in `#` and digits (`a#1`) is
/// reserved for its temporary upload files and reads as not found.
fn object_path(key: &ObjectKey) -> Path {
    // A valid ObjectKey has no empty, `.` or `..` segment and no control
    // character, which is all that `Path::parse` refuses.
    Path::parse(key.as_str()).expect("an ObjectKey is a valid object_store path")
}

fn quote_etag(tag: String) -> String {
    if tag.starts_with('"') || tag.starts_with("W/\"") {
        tag
    } else {
        format!("\"{tag}\"")
    }
}

/// Every configured connector, by (type, name).
#[derive(Default)]
pub struct Connectors {
    by_id: BTreeMap<ConnectorId, Arc<Connector>>,
}

impl Connectors {
    pub fn from_settings(settings: &[ConnectorSettings]) -> Result<Self, String> {
        // Proxy connectors borrow an s3 connector's endpoint and credentials.
        let targets: BTreeMap<ConnectorId, S3Settings> = settings
            .iter()
            .filter_map(|s| match &s.backend {
                BackendSettings::S3(s3) => {
                    Some((ConnectorId::parse(&s.kind, &s.name)?, s3.clone()))
                }
                _ => None,
            })
            .collect();
        let mut by_id = BTreeMap::new();
        for s in settings {
            let connector = Connector::from_settings(s, &targets)?;
            let id = connector.id().clone();
            if by_id.insert(id.clone(), Arc::new(connector)).is_some() {
                return Err(format!("connector {id} is configured twice"));
            }
        }
        Ok(Self { by_id })
    }

    pub fn get(&self, id: &ConnectorId) -> Option<&Arc<Connector>> {
        self.by_id.get(id)
    }

    pub fn ids(&self) -> impl Iterator<Item = &ConnectorId> {
        self.by_id.keys()
    }

    /// Probes every connector once, concurrently; failures are logged by
    /// connector name and do not stop the others. Returns the failing ones.
    pub async fn probe_all(&self) -> Vec<ConnectorId> {
        let mut failing = Vec::new();
        for (id, outcome) in self.probe_each().await {
            match outcome {
                Ok(()) => log::info!("connector {id}: ready"),
                Err(e) => {
                    log::error!("connector {id}: not ready: {e}");
                    failing.push(id);
                }
            }
        }
        failing
    }

    /// Each connector probed once, all at the same time, in id order.
    pub async fn probe_each(&self) -> Vec<(ConnectorId, Result<(), StorageError>)> {
        let probes = self
            .by_id
            .values()
            .map(|c| async move { (c.id().clone(), c.probe().await) });
        futures_util::future::join_all(probes).await
    }
}
