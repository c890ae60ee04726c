//! Connectors: named object stores that shares are read from (DESIGN §7).
//!
//! Backend errors are translated here, where they enter, into
//! [`StorageError`]; handlers never see `object_store` errors.

mod connector;
mod http_client;
mod local;
mod s3;

pub use connector::{ByteStream, Connector, Connectors, ObjectInfo};

use std::fmt;

/// The Astro Zero connector types.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ConnectorType {
    Obs,
    Minio,
    ObjectStorageProxy,
}

impl ConnectorType {
    pub const ALL: [ConnectorType; 3] = [
        ConnectorType::Obs,
        ConnectorType::Minio,
        ConnectorType::ObjectStorageProxy,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ConnectorType::Obs => "obs",
            ConnectorType::Minio => "minio",
            ConnectorType::ObjectStorageProxy => "objectstorageproxy",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.as_str() == text)
    }
}

/// A connector's identity: its type and its name, as in the mint path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectorId {
    pub kind: ConnectorType,
    pub name: String,
}

impl ConnectorId {
    pub fn new(kind: ConnectorType, name: impl Into<String>) -> Self {
        Self {
            kind,
            name: name.into(),
        }
    }

    pub fn parse(kind: &str, name: &str) -> Option<Self> {
        Some(Self::new(ConnectorType::parse(kind)?, name))
    }
}

impl fmt::Display for ConnectorId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), self.name)
    }
}

/// A read from a connector failed.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    /// No object at that key.
    #[error("object not found")]
    NotFound,
    /// The object changed between reading its metadata and its bytes.
    #[error("the object changed while it was being read")]
    Changed,
    /// The backend did not answer within the first-byte bound.
    #[error("connector {connector} did not answer in time")]
    Timeout { connector: String },
    /// The backend failed or could not be reached. Only the connector is
    /// named; the cause is logged, never sent.
    #[error("connector {connector} is unavailable")]
    Unavailable { connector: String },
}
