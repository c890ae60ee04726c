//! The embedded store: a redb file in the data directory. Single node, no
//! server to run, crash-safe (every commit is durable before it returns).

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::{Arc, Mutex, RwLock};

use async_trait::async_trait;
use redb::{Database, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition};

use super::{
    BulkScope, Retention, Revocation, StoreError, TokenFilter, TokenRecord, TokenStore, Watermarks,
    MAX_TOKEN_LIFE,
};
use crate::audit::AuditEvent;
use crate::clock::UnixSeconds;
use crate::token::ShareClaims;

/// Memory redb may use to cache pages. Views never read redb (revocations
/// are answered from memory) and mints only append, so a small cache
/// costs little; its default (1 GiB) would dominate resident memory.
const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// The layout version this code writes (see `migrations/README.md`).
pub const EMBEDDED_LAYOUT: u64 = 1;

/// jti → JSON [`TokenRecord`].
const TOKENS: TableDefinition<&str, &[u8]> = TableDefinition::new("tokens_v1");
/// (expires_at, jti) → (): the expiry index that pruning walks.
const EXPIRIES: TableDefinition<(i64, &str), ()> = TableDefinition::new("expiries_v1");
/// Watermark name (`all`, `c:<connector>`, `u:<client>`) → revoked-before.
const WATERMARKS: TableDefinition<&str, i64> = TableDefinition::new("watermarks_v1");
/// (at, sequence) → JSON [`AuditEvent`].
const AUDIT: TableDefinition<(i64, u64), &[u8]> = TableDefinition::new("audit_v1");
/// (jti, sequence) → JSON [`AuditEvent`]: each token's trail, kept as long
/// as the token's record (not bounded by the log).
const AUDIT_BY_TOKEN: TableDefinition<(&str, u64), &[u8]> =
    TableDefinition::new("audit_by_token_v1");
/// `layout` → version; `audit_seq` → next audit sequence number.
const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// jti → how many events its trail holds (at most [`TRAIL_MAX`]).
const TRAIL_LENGTHS: TableDefinition<&str, u64> = TableDefinition::new("trail_lengths_v1");
/// Most audit events kept per token (as on Redis).
const TRAIL_MAX: u64 = 1000;

#[derive(Clone)]
pub struct EmbeddedStore {
    db: Arc<Database>,
    retention: Retention,
    /// What views check, kept in memory. NOTE: exact, because this process
    /// is the only writer: redb locks the file against other processes, and
    /// every write below updates the view after its commit.
    revocations: Arc<RwLock<RevocationView>>,
    /// Where mints wait for their durable commit.
    minting: Arc<GroupCommit>,
}

type PendingMint = (
    TokenRecord,
    tokio::sync::oneshot::Sender<Result<(), StoreError>>,
);

/// Mints are written by one thread, which commits every mint waiting at
/// that moment in one durable transaction: each mint is still on disk
/// before it is answered, at the cost of one fsync per group, not per mint.
struct GroupCommit {
    queue: Mutex<Option<std::sync::mpsc::Sender<PendingMint>>>,
    writer: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// Most mints committed together.
const GROUP_MAX: usize = 512;

impl GroupCommit {
    fn start(db: Arc<Database>) -> Self {
        let (queue, pending) = std::sync::mpsc::channel::<PendingMint>();
        let writer = std::thread::Builder::new()
            .name("sharetoken-mint-commit".into())
            .spawn(move || {
                while let Ok(first) = pending.recv() {
                    let mut group = vec![first];
                    while group.len() < GROUP_MAX {
                        match pending.try_recv() {
                            Ok(next) => group.push(next),
                            Err(_) => break,
                        }
                    }
                    let records: Vec<&TokenRecord> = group.iter().map(|(r, _)| r).collect();
                    let outcome = write_records(&db, &records);
                    for (_, done) in group {
                        let _ = done.send(outcome.clone());
                    }
                }
            })
            .expect("a thread for the embedded store");
        Self {
            queue: Mutex::new(Some(queue)),
            writer: Mutex::new(Some(writer)),
        }
    }
}

impl Drop for GroupCommit {
    /// Closes the queue and waits for the writer, so that the database file
    /// is released when the store is dropped (a restart can reopen it).
    fn drop(&mut self) {
        if let Ok(mut queue) = self.queue.lock() {
            queue.take();
        }
        if let Some(writer) = self.writer.lock().ok().and_then(|mut w| w.take()) {
            let _ = writer.join();
        }
    }
}

/// Records minted tokens in one durable transaction.
fn write_records(db: &Database, records: &[&TokenRecord]) -> Result<(), StoreError> {
    let txn = db.begin_write().map_err(unavailable)?;
    {
        let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
        let mut expiries = txn.open_table(EXPIRIES).map_err(unavailable)?;
        for record in records {
            let bytes = serde_json::to_vec(record).map_err(unavailable)?;
            tokens
                .insert(record.jti.as_str(), bytes.as_slice())
                .map_err(unavailable)?;
            expiries
                .insert((record.expires_at, record.jti.as_str()), ())
                .map_err(unavailable)?;
        }
    }
    txn.commit().map_err(unavailable)
}

#[derive(Default)]
struct RevocationView {
    /// Ids of tokens revoked one by one (until they are pruned).
    revoked: HashSet<String>,
    watermarks: Watermarks,
}

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError(e.to_string())
}

impl EmbeddedStore {
    /// Opens (or creates) the store file, refusing a newer layout.
    pub fn open(path: &Path, retention: Retention) -> Result<Self, StoreError> {
        // NOTE: redb caches up to 1 GiB by default; the store is small and
        // views never read it (revocations are answered from memory).
        let db = Database::builder()
            .set_cache_size(CACHE_BYTES)
            .create(path)
            .map_err(|e| {
                StoreError(format!(
                    "cannot open the embedded store {}: {e}",
                    path.display()
                ))
            })?;
        let txn = db.begin_write().map_err(unavailable)?;
        {
            let mut meta = txn.open_table(META).map_err(unavailable)?;
            let layout = meta.get("layout").map_err(unavailable)?.map(|v| v.value());
            match layout {
                Some(v) if v > EMBEDDED_LAYOUT => {
                    return Err(StoreError(format!(
                        "the embedded store {} has layout {v}, newer than this sharetoken knows ({EMBEDDED_LAYOUT}); upgrade sharetoken",
                        path.display()
                    )));
                }
                Some(_) => {}
                None => {
                    meta.insert("layout", EMBEDDED_LAYOUT)
                        .map_err(unavailable)?;
                }
            }
            // Create every table up front so that readers never meet a missing one.
            txn.open_table(TOKENS).map_err(unavailable)?;
            txn.open_table(EXPIRIES).map_err(unavailable)?;
            txn.open_table(WATERMARKS).map_err(unavailable)?;
            txn.open_table(AUDIT).map_err(unavailable)?;
            txn.open_table(AUDIT_BY_TOKEN).map_err(unavailable)?;
            txn.open_table(TRAIL_LENGTHS).map_err(unavailable)?;
        }
        txn.commit().map_err(unavailable)?;
        let revocations = load_revocations(&db)?;
        let db = Arc::new(db);
        Ok(Self {
            minting: Arc::new(GroupCommit::start(Arc::clone(&db))),
            db,
            retention,
            revocations: Arc::new(RwLock::new(revocations)),
        })
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

/// The revoked ids and watermarks on disk, read once at open.
fn load_revocations(db: &Database) -> Result<RevocationView, StoreError> {
    let mut view = RevocationView {
        watermarks: read_watermarks(db)?,
        ..RevocationView::default()
    };
    let txn = db.begin_read().map_err(unavailable)?;
    let tokens = txn.open_table(TOKENS).map_err(unavailable)?;
    for entry in tokens.iter().map_err(unavailable)? {
        let (jti, bytes) = entry.map_err(unavailable)?;
        let record: TokenRecord = serde_json::from_slice(bytes.value()).map_err(unavailable)?;
        if record.revoked_at.is_some() {
            view.revoked.insert(jti.value().to_owned());
        }
    }
    Ok(view)
}

fn read_watermarks(db: &Database) -> Result<Watermarks, StoreError> {
    let txn = db.begin_read().map_err(unavailable)?;
    let table = txn.open_table(WATERMARKS).map_err(unavailable)?;
    let mut marks = Watermarks::default();
    for entry in table.iter().map_err(unavailable)? {
        let (name, before) = entry.map_err(unavailable)?;
        marks.0.insert(name.value().to_owned(), before.value());
    }
    Ok(marks)
}

fn decode_events<'a>(
    values: impl Iterator<Item = Result<Vec<u8>, StoreError>> + 'a,
) -> Result<Vec<AuditEvent>, StoreError> {
    values
        .map(|bytes| serde_json::from_slice(&bytes?).map_err(unavailable))
        .collect()
}

#[async_trait]
impl TokenStore for EmbeddedStore {
    async fn record_issued(&self, record: &TokenRecord) -> Result<(), StoreError> {
        let (done, committed) = tokio::sync::oneshot::channel();
        self.minting
            .queue
            .lock()
            .map_err(unavailable)?
            .as_ref()
            .ok_or_else(|| StoreError("the store is closing".into()))?
            .send((record.clone(), done))
            .map_err(unavailable)?;
        committed.await.map_err(unavailable)?
    }

    async fn is_revoked(&self, claims: &ShareClaims) -> Result<bool, StoreError> {
        // Answered from memory: no file access and no thread hop per view.
        let view = self.revocations.read().map_err(unavailable)?;
        if view.revoked.contains(&claims.jti) {
            return Ok(true);
        }
        // Usually there is no bulk revocation at all: skip building names.
        if view.watermarks.0.is_empty() {
            return Ok(false);
        }
        Ok(view.watermarks.covers(
            &claims.connector.to_string(),
            &claims.subject,
            claims.issued_at,
        ))
    }

    async fn revoke(&self, jti: &str, now: UnixSeconds) -> Result<Revocation, StoreError> {
        let jti = jti.to_owned();
        let outcome = self
            .blocking(move |db| {
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
            .await?;
        if let Revocation::Revoked(record) = &outcome {
            self.revocations
                .write()
                .map_err(unavailable)?
                .revoked
                .insert(record.jti.clone());
        }
        Ok(outcome)
    }

    async fn revoke_issued_before(
        &self,
        scope: &BulkScope,
        before: UnixSeconds,
        _now: UnixSeconds,
    ) -> Result<UnixSeconds, StoreError> {
        let field = scope.field();
        let name = field.clone();
        let in_force = self
            .blocking(move |db| {
                let txn = db.begin_write().map_err(unavailable)?;
                let in_force = {
                    let mut marks = txn.open_table(WATERMARKS).map_err(unavailable)?;
                    let current = marks
                        .get(field.as_str())
                        .map_err(unavailable)?
                        .map(|v| v.value());
                    let in_force = current.map_or(before, |c| c.max(before));
                    marks
                        .insert(field.as_str(), in_force)
                        .map_err(unavailable)?;
                    in_force
                };
                txn.commit().map_err(unavailable)?;
                Ok(in_force)
            })
            .await?;
        self.revocations
            .write()
            .map_err(unavailable)?
            .watermarks
            .0
            .insert(name, in_force);
        Ok(in_force)
    }

    async fn watermarks(&self) -> Result<Watermarks, StoreError> {
        // From memory, like the revocation check (every mint asks).
        Ok(self
            .revocations
            .read()
            .map_err(unavailable)?
            .watermarks
            .clone())
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
            let marks = read_watermarks(db)?;
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
                if filter.matches(&record, now, &marks) {
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
        let keep = self.retention.keep_expired_seconds;
        let pruned = self
            .blocking(move |db| {
                let txn = db.begin_write().map_err(unavailable)?;
                let mut pruned = Vec::new();
                {
                    let mut expiries = txn.open_table(EXPIRIES).map_err(unavailable)?;
                    let mut tokens = txn.open_table(TOKENS).map_err(unavailable)?;
                    // Valid while now < exp; kept `keep` seconds longer.
                    let expired: Vec<(i64, String)> = expiries
                        .range(..(now.saturating_sub(keep).saturating_add(1), ""))
                        .map_err(unavailable)?
                        .map(|entry| entry.map(|(k, _)| (k.value().0, k.value().1.to_owned())))
                        .collect::<Result<_, _>>()
                        .map_err(unavailable)?;
                    let mut trails = txn.open_table(AUDIT_BY_TOKEN).map_err(unavailable)?;
                    let mut trail_lengths = txn.open_table(TRAIL_LENGTHS).map_err(unavailable)?;
                    for (exp, jti) in &expired {
                        expiries.remove((*exp, jti.as_str())).map_err(unavailable)?;
                        tokens.remove(jti.as_str()).map_err(unavailable)?;
                        trails
                            .retain_in((jti.as_str(), 0)..=(jti.as_str(), u64::MAX), |_, _| false)
                            .map_err(unavailable)?;
                        trail_lengths.remove(jti.as_str()).map_err(unavailable)?;
                        pruned.push(jti.clone());
                    }
                    // A watermark older than any token can live covers nothing.
                    let mut marks = txn.open_table(WATERMARKS).map_err(unavailable)?;
                    marks
                        .retain(|_, before| before + MAX_TOKEN_LIFE > now)
                        .map_err(unavailable)?;
                }
                txn.commit().map_err(unavailable)?;
                Ok(pruned)
            })
            .await?;
        let mut view = self.revocations.write().map_err(unavailable)?;
        for jti in &pruned {
            view.revoked.remove(jti);
        }
        view.watermarks
            .0
            .retain(|_, before| *before + MAX_TOKEN_LIFE > now);
        Ok(pruned.len() as u64)
    }

    async fn append_audit(&self, events: &[AuditEvent]) -> Result<(), StoreError> {
        let events = events.to_vec();
        let max = self.retention.audit_max_events.max(1);
        self.blocking(move |db| {
            let mut txn = db.begin_write().map_err(unavailable)?;
            // Audit batches need no fsync of their own: they reach the disk
            // with the next durable commit (a mint or a revocation).
            txn.set_durability(redb::Durability::None)
                .map_err(unavailable)?;
            {
                let mut meta = txn.open_table(META).map_err(unavailable)?;
                let mut seq = meta
                    .get("audit_seq")
                    .map_err(unavailable)?
                    .map_or(0, |v| v.value());
                let mut audit = txn.open_table(AUDIT).map_err(unavailable)?;
                let mut by_token = txn.open_table(AUDIT_BY_TOKEN).map_err(unavailable)?;
                let mut trail_lengths = txn.open_table(TRAIL_LENGTHS).map_err(unavailable)?;
                for event in &events {
                    let bytes = serde_json::to_vec(event).map_err(unavailable)?;
                    audit
                        .insert((event.at, seq), bytes.as_slice())
                        .map_err(unavailable)?;
                    if let Some(jti) = &event.token_id {
                        by_token
                            .insert((jti.as_str(), seq), bytes.as_slice())
                            .map_err(unavailable)?;
                        let length = trail_lengths
                            .get(jti.as_str())
                            .map_err(unavailable)?
                            .map_or(0, |v| v.value())
                            + 1;
                        if length > TRAIL_MAX {
                            // Keep the newest TRAIL_MAX events of a token.
                            let oldest = by_token
                                .range((jti.as_str(), 0)..=(jti.as_str(), u64::MAX))
                                .map_err(unavailable)?
                                .next()
                                .transpose()
                                .map_err(unavailable)?
                                .map(|(key, _)| key.value().1);
                            if let Some(oldest) = oldest {
                                by_token
                                    .remove((jti.as_str(), oldest))
                                    .map_err(unavailable)?;
                            }
                        }
                        trail_lengths
                            .insert(jti.as_str(), length.min(TRAIL_MAX))
                            .map_err(unavailable)?;
                    }
                    seq += 1;
                }
                meta.insert("audit_seq", seq).map_err(unavailable)?;
                // Keep the log bounded: drop the oldest beyond the bound.
                let excess = audit.len().map_err(unavailable)?.saturating_sub(max);
                for _ in 0..excess {
                    if audit.pop_first().map_err(unavailable)?.is_none() {
                        break;
                    }
                }
            }
            txn.commit().map_err(unavailable)
        })
        .await
    }

    async fn audit_since(
        &self,
        since: UnixSeconds,
        limit: usize,
    ) -> Result<Vec<AuditEvent>, StoreError> {
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let audit = txn.open_table(AUDIT).map_err(unavailable)?;
            let range = audit.range((since, 0)..).map_err(unavailable)?;
            decode_events(
                range
                    .take(limit)
                    .map(|entry| entry.map(|(_, v)| v.value().to_vec()).map_err(unavailable)),
            )
        })
        .await
    }

    async fn audit_for_token(&self, jti: &str) -> Result<Vec<AuditEvent>, StoreError> {
        let jti = jti.to_owned();
        self.blocking(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let by_token = txn.open_table(AUDIT_BY_TOKEN).map_err(unavailable)?;
            let mut out = Vec::new();
            for entry in by_token
                .range((jti.as_str(), 0)..=(jti.as_str(), u64::MAX))
                .map_err(unavailable)?
            {
                let (_, bytes) = entry.map_err(unavailable)?;
                out.push(serde_json::from_slice(bytes.value()).map_err(unavailable)?);
            }
            Ok(out)
        })
        .await
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.blocking(|db| db.begin_read().map(|_| ()).map_err(unavailable))
            .await
    }
}
