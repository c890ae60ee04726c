//! The embedded store: a redb file in the data directory. Single node, no
//! server to run, crash-safe (every commit is durable before it returns).

use std::path::Path;
use std::sync::Arc;

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, TableDefinition};

use std::ops::Bound;

use super::{Revocation, StoreError, TokenFilter, TokenRecord, TokenStore};
use crate::clock::UnixSeconds;
use crate::token::ShareClaims;

/// jti → JSON [`TokenRecord`].
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens_v1");
/// (expires_at, jti) → (): the expiry index that pruning walks.
const EXPIRIES: TableDefinition<(i64, &str), ()> = TableDefinition::new("expiries_v1");

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the store file.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let db = Database::create(path).map_err(|e| {
            StoreError(format!(
                "cannot open the embedded store {}: {e}",
                path.display()
            ))
        })?;
        // Create the tables up front so that readers never meet a missing one.
        let txn = db.begin_write().map_err(unavailable)?;
        txn.open_table(TOKENS).map_err(unavailable)?;
        txn.open_table(EXPIRIES).map_err(unavailable)?;
        txn.commit().map_err(unavailable)?;
        Ok(Self { db: Arc::new(db) })
    }

    /// Runs blocking redb work off the async workers.
    async fn blocking<T, F>(&self, work: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnOnce(&Database) -> Result<T, StoreError> + Send + 'static,
    {
        let db = Arc::clone(&self.db);
        tokio::task::spawn_blocking(move || work(&db))
            .await
            .map_err(unavailable)?
    }
}

fn read_record(db: &Database, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
    let txn = db.begin_read().map_err(unavailable)?;
    let table = txn.open_table(TOKENS).map_err(unavailable)?;
    let Some(bytes) = table.get(jti).map_err(unavailable)? else {
        return Ok(None);
    };
    serde_json::from_slice(bytes.value())
        .map(Some)
        .map_err(unavailable)
}

#[async_trait]
impl TokenStore for EmbeddedStore {
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let record = record.clone();
        self.blocking(move |db| {
            let bytes = serde_json::to_vec(&record).map_err(unavailable)?;
            let txn = db.begin_write().map_err(unavailable)?;
            {
                let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
                tokens
                    .insert(record.jti.as_str(), bytes.as_slice())
                    .map_err(unavailable)?;
                let mut expiries = txn.open_table(EXPIRIES).map_err(unavailable)?;
                expiries
                    .insert((record.expires_at, record.jti.as_str()), ())
                    .map_err(unavailable)?;
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError> {
        let jti = claims.jti.clone();
        self.blocking(move |db| Ok(read_record(db, &jti)?.is_some_and(|r| r.revoked_at.is_some())))
            .await
    }

    async fn revoke(&self, jti: &str, now: UnixSeconds) -> Result<Revocation, StoreError> {
        let jti = jti.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let outcome = {
                let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
                let existing = match tokens.get(jti.as_str()).map_err(unavailable)? {
                    Some(bytes) => Some(
                        serde_json::from_slice::<TokenRecord>(bytes.value())
                            .map_err(unavailable)?,
                    ),
                    None => None,
                };
                match existing {
                    None => Revocation::Unknown,
                    Some(record) if record.revoked_at.is_some() => {
                        Revocation::AlreadyRevoked(record)
                    }
                    Some(mut record) => {
                        record.revoked_at = Some(now);
                        let bytes = serde_json::to_vec(&record).map_err(unavailable)?;
                        tokens
                            .insert(jti.as_str(), bytes.as_slice())
                            .map_err(unavailable)?;
                        Revocation::Revoked(record)
                    }
                }
            };
            txn.commit().map_err(unavailable)?;
            Ok(outcome)
        })
        .await
    }

    async fn token(&self, jti: &str) -> Result<Option<TokenRecord>, StoreError> {
        let jti = jti.to_owned();
        self.blocking(move |db| read_record(db, &jti)).await
    }

    async fn list_tokens(
        &self,
        filter: &TokenFilter,
        now: UnixSeconds,
        after: Option<&str>,
        limit: usize,
    ) -> Result<Vec<TokenRecord>, StoreError> {
        let filter = filter.clone();
        let after = after.map(str::to_owned);
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let tokens = txn.open_table(TOKENS).map_err(unavailable)?;
            let start: Bound<&str> = match &after {
                Some(jti) => Bound::Excluded(jti.as_str()),
                None => Bound::Unbounded,
            };
            let mut page = Vec::new();
            for entry in tokens
                .range((start, Bound::<&str>::Unbounded))
                .map_err(unavailable)?
            {
                let (_, bytes) = entry.map_err(unavailable)?;
                let record: TokenRecord =
                    serde_json::from_slice(bytes.value()).map_err(unavailable)?;
                if filter.matches(&record, now) {
                    page.push(record);
                    if page.len() >= limit {
                        break;
                    }
                }
            }
            Ok(page)
        })
        .await
    }

    async fn prune_expired(&self, now: UnixSeconds) -> Result<u64, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_write().map_err(unavailable)?;
            let mut pruned = 0;
            {
                let mut expiries = txn.open_table(EXPIRIES).map_err(unavailable)?;
                let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
                // Valid while now < exp: everything with exp <= now is done.
                let expired: Vec<(i64, String)> = expiries
                    .range(..(now.saturating_add(1), ""))
                    .map_err(unavailable)?
                    .map(|entry| entry.map(|(k, _)| (k.value().0, k.value().1.to_owned())))
                    .collect::<Result<_, _>>()
                    .map_err(unavailable)?;
                for (exp, jti) in &expired {
                    expiries.remove((*exp, jti.as_str())).map_err(unavailable)?;
                    tokens.remove(jti.as_str()).map_err(unavailable)?;
                    pruned += 1;
                }
            }
            txn.commit().map_err(unavailable)?;
            Ok(pruned)
        })
        .await
    }
}
