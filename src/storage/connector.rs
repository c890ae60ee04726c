//! One configured connector, and the set of them.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{Attribute, GetOptions, GetRange, ObjectStore};

use super::{local, ConnectorId, StorageError};
use crate::settings::{BackendSettings, ConnectorSettings};
use crate::share::ObjectKey;

/// An object's bytes, streamed as the backend delivers them.
pub type ByteStream = BoxStream<'static, Result<Bytes, StorageError>>;

/// What the backend knows of an object, enough to answer HEAD and
/// conditional requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    pub size: u64,
    /// Strong entity tag, quoted as HTTP wants it (`"…"`).
    pub etag: Option<String>,
    pub last_modified: Option<SystemTime>,
    /// `Content-Type` stored with the object, if the backend keeps one.
    pub content_type: Option<String>,
    /// The entity tag exactly as the backend gave it, for `If-Match` on the read.
    backend_etag: Option<String>,
}

/// Where a connector reads from, and how keys become backend paths.
enum Backend {
    Local(Arc<dyn ObjectStore>),
    /// Misconfigured at start (reason logged then); every read answers 502.
    Broken,
}

pub struct Connector {
    id: ConnectorId,
    backend: Backend,
}

impl Connector {
    /// Builds a connector; a backend that cannot be opened is logged by
    /// connector name and leaves that connector answering 502, not the
    /// server refusing to start.
    pub fn from_settings(settings: &ConnectorSettings) -> Result<Self, String> {
        let id = ConnectorId::parse(&settings.kind, &settings.name).ok_or_else(|| {
            format!(
                "connector '{}': unknown type '{}' (use obs, minio or objectstorageproxy)",
                settings.name, settings.kind
            )
        })?;
        let backend = match &settings.backend {
            BackendSettings::Local { root } => match local::open(root) {
                Ok(store) => Backend::Local(store),
                Err(reason) => {
                    log::error!(
                        "connector {id}: cannot open local directory {}: {reason}",
                        root.display()
                    );
                    Backend::Broken
                }
            },
        };
        Ok(Self { id, backend })
    }

    pub fn id(&self) -> &ConnectorId {
        &self.id
    }

    fn store_and_path(
        &self,
        key: &ObjectKey,
    ) -> Result<(&Arc<dyn ObjectStore>, Path), StorageError> {
        match &self.backend {
            Backend::Local(store) => Ok((store, local::path(key))),
            Backend::Broken => Err(self.unavailable()),
        }
    }

    fn unavailable(&self) -> StorageError {
        StorageError::Unavailable {
            connector: self.id.to_string(),
        }
    }

    /// Translates a backend error where it enters; causes are logged here.
    fn translate(&self, error: object_store::Error) -> StorageError {
        match error {
            object_store::Error::NotFound { .. } | object_store::Error::InvalidPath { .. } => {
                StorageError::NotFound
            }
            object_store::Error::Precondition { .. } => StorageError::Changed,
            other => {
                // The cause may quote the key, which is client input.
                log::error!(
                    "connector {}: backend error: {}",
                    self.id,
                    crate::redact::scrub(&other.to_string())
                );
                self.unavailable()
            }
        }
    }

    /// The object's metadata, without its bytes.
    pub async fn head(&self, key: &ObjectKey) -> Result<ObjectInfo, StorageError> {
        let (store, path) = self.store_and_path(key)?;
        let options = GetOptions {
            head: true,
            ..GetOptions::default()
        };
        let result = store
            .get_opts(&path, options)
            .await
            .map_err(|e| self.translate(e))?;
        let content_type = result
            .attributes
            .get(&Attribute::ContentType)
            .map(|v| v.as_ref().to_owned());
        let meta = result.meta;
        Ok(ObjectInfo {
            size: meta.size,
            etag: meta.e_tag.clone().map(quote_etag),
            backend_etag: meta.e_tag,
            last_modified: Some(meta.last_modified.into()),
            content_type,
        })
    }

    /// Streams `range` of the object, refusing (as [`StorageError::Changed`])
    /// if it is no longer the version `info` described.
    pub async fn read(
        &self,
        key: &ObjectKey,
        info: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<ByteStream, StorageError> {
        let (store, path) = self.store_and_path(key)?;
        let whole = range.start == 0 && range.end == info.size;
        let options = GetOptions {
            range: (!whole && !range.is_empty()).then(|| GetRange::Bounded(range.clone())),
            if_match: info.backend_etag.clone(),
            ..GetOptions::default()
        };
        if range.is_empty() {
            return Ok(futures_util::stream::empty().boxed());
        }
        let result = store
            .get_opts(&path, options)
            .await
            .map_err(|e| self.translate(e))?;
        let id = self.id.clone();
        Ok(result
            .into_stream()
            .map_err(move |e| {
                log::warn!(
                    "connector {id}: read failed mid-body: {}",
                    crate::redact::scrub(&e.to_string())
                );
                StorageError::Unavailable {
                    connector: id.to_string(),
                }
            })
            .boxed())
    }
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
        let mut by_id = BTreeMap::new();
        for s in settings {
            let connector = Connector::from_settings(s)?;
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
}
