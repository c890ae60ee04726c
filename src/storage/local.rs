//! The `local` backend: a directory on disk, through object_store.

use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path as FsPath, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::StreamExt;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use super::{ByteStream, ConnectorId, StorageError};

pub(crate) struct LocalBackend {
    fs: Arc<LocalFileSystem>,
    store: Arc<dyn ObjectStore>,
    /// The directory, with symbolic links resolved.
    root: PathBuf,
}

/// Objects this small are read whole when opened: one trip to the blocking
/// pool serves the request.
const READ_WHOLE_UP_TO: u64 = 64 * 1024;
/// Larger objects stream in chunks of this size.
const CHUNK: usize = 128 * 1024;

/// An opened file: what the view needs to decide, and the bytes to send.
#[derive(Debug)]
pub(crate) struct OpenedFile {
    pub size: u64,
    pub etag: String,
    pub last_modified: SystemTime,
    body: Mutex<Body>,
}

#[derive(Debug)]
enum Body {
    /// The whole (small) object, read when opened.
    Read(Bytes),
    /// The open file, read when streamed (once).
    File(std::fs::File),
    Taken,
}

impl LocalBackend {
    pub(crate) fn open(root: &FsPath) -> Result<Self, String> {
        let root = std::fs::canonicalize(root).map_err(|e| e.to_string())?;
        let fs = Arc::new(LocalFileSystem::new_with_prefix(&root).map_err(|e| e.to_string())?);
        Ok(Self {
            store: Arc::clone(&fs) as Arc<dyn ObjectStore>,
            fs,
            root,
        })
    }

    pub(crate) fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// Opens the file behind `path` in one blocking step: the key-to-file
    /// mapping is object_store's (so names are exact), the checks are ours.
    /// Refused as not found: names that leave the directory through a
    /// symbolic link (a link to `/etc`, or to the token key), names
    /// object_store reserves (`a#1`), directories, impossible paths.
    pub(crate) async fn open_file(
        &self,
        id: &ConnectorId,
        path: &Path,
    ) -> Result<OpenedFile, StorageError> {
        if is_reserved_name(path) {
            return Err(StorageError::NotFound);
        }
        let file = self
            .fs
            .path_to_filesystem(path)
            .map_err(|_| StorageError::NotFound)?;
        let root = self.root.clone();
        let id = id.clone();
        tokio::task::spawn_blocking(move || open_inside(&root, &file, &id))
            .await
            .map_err(|_| StorageError::Unavailable {
                connector: String::new(),
            })?
    }
}

fn open_inside(root: &FsPath, file: &FsPath, id: &ConnectorId) -> Result<OpenedFile, StorageError> {
    let missing = |e: std::io::Error| -> StorageError {
        if is_missing_kind(e.kind()) {
            StorageError::NotFound
        } else {
            log::error!("connector {id}: cannot open a file: {e}");
            StorageError::Unavailable {
                connector: id.to_string(),
            }
        }
    };
    // NOTE: open first, then ask where the opened file really is. Checking
    // the path before opening it would race with a rename that swaps a
    // symbolic link in between. O_NONBLOCK: opening a FIFO must not wait
    // for a writer (it is refused below as not a file).
    let mut handle = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(file)
        .map_err(missing)?;
    let meta = handle.metadata().map_err(missing)?;
    if !meta.is_file() {
        return Err(StorageError::NotFound);
    }
    let real = opened_path(&handle).map_err(missing)?;
    if !real.starts_with(root) {
        log::warn!(
            "connector {id}: refused a key whose file lies outside the directory (symbolic link)"
        );
        return Err(StorageError::NotFound);
    }
    let size = meta.len();
    let last_modified = meta.modified().unwrap_or(UNIX_EPOCH);
    let body = if size <= READ_WHOLE_UP_TO {
        let mut bytes = Vec::with_capacity(size as usize);
        handle.read_to_end(&mut bytes).map_err(missing)?;
        Body::Read(Bytes::from(bytes))
    } else {
        Body::File(handle)
    };
    Ok(OpenedFile {
        size,
        etag: etag(&meta, last_modified),
        last_modified,
        body: Mutex::new(body),
    })
}

/// Where an open file really is, every link resolved: Linux names it in
/// `/proc/self/fd`. This is the file that will be read, whatever happens
/// to its path afterwards.
fn opened_path(file: &std::fs::File) -> std::io::Result<PathBuf> {
    use std::os::fd::AsRawFd;
    std::fs::read_link(format!("/proc/self/fd/{}", file.as_raw_fd()))
}

/// The ETag object_store gives local files: inode, mtime (µs) and size.
fn etag(meta: &std::fs::Metadata, modified: SystemTime) -> String {
    use std::os::unix::fs::MetadataExt;
    let micros = modified
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_micros();
    format!("\"{:x}-{micros:x}-{:x}\"", meta.ino(), meta.len())
}

impl OpenedFile {
    /// Streams `range` of the file: from memory for a small object, else
    /// in large chunks from the file opened for this request.
    pub(crate) fn stream(&self, range: Range<u64>) -> ByteStream {
        let body = std::mem::replace(&mut *self.body.lock().expect("not poisoned"), Body::Taken);
        match body {
            Body::Read(bytes) => {
                let end = range.end.min(bytes.len() as u64) as usize;
                let start = (range.start as usize).min(end);
                futures_util::stream::once(async move { Ok(bytes.slice(start..end)) }).boxed()
            }
            Body::File(file) => {
                // Each chunk is read by one blocking call straight into the
                // buffer that is sent: one buffer and no copy per chunk.
                let reading = Arc::new(Mutex::new(file));
                let first = range.start;
                futures_util::stream::try_unfold(range, move |left| {
                    let reading = Arc::clone(&reading);
                    async move {
                        if left.is_empty() {
                            return Ok(None);
                        }
                        let want = (left.end - left.start).min(CHUNK as u64);
                        let start = left.start;
                        // Reads follow each other: only the first seeks.
                        let seek = (start == first).then_some(start);
                        let chunk = tokio::task::spawn_blocking(move || {
                            read_chunk(&mut reading.lock().expect("not poisoned"), seek, want)
                        })
                        .await
                        .map_err(|_| StorageError::Changed)??;
                        Ok(Some((chunk, start + want..left.end)))
                    }
                })
                .boxed()
            }
            Body::Taken => futures_util::stream::once(async { Err(StorageError::Changed) }).boxed(),
        }
    }
}

/// The next `want` bytes of `file` (from `seek`, when given); a file that
/// has become shorter than promised is `Changed` (the answer's length is
/// already sent).
fn read_chunk(
    file: &mut std::fs::File,
    seek: Option<u64>,
    want: u64,
) -> Result<Bytes, StorageError> {
    if let Some(start) = seek {
        file.seek(SeekFrom::Start(start))
            .map_err(|_| StorageError::Changed)?;
    }
    let mut chunk = Vec::with_capacity(want as usize);
    file.take(want)
        .read_to_end(&mut chunk)
        .map_err(|_| StorageError::Changed)?;
    if chunk.len() as u64 != want {
        return Err(StorageError::Changed);
    }
    Ok(Bytes::from(chunk))
}

/// object_store keeps local names ending in `#` and digits for its own
/// temporary upload files, and refuses to read them.
fn is_reserved_name(path: &Path) -> bool {
    match path.filename().and_then(|name| name.rsplit_once('#')) {
        Some((_, suffix)) => !suffix.is_empty() && suffix.bytes().all(|b| b.is_ascii_digit()),
        None => false,
    }
}

/// Whether a backend error is a file that cannot exist: a segment under a
/// file (ENOTDIR), a name too long, a directory where a file should be.
pub(crate) fn is_missing_file(error: &object_store::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = source {
        if let Some(io) = e.downcast_ref::<std::io::Error>() {
            return is_missing_kind(io.kind());
        }
        source = e.source();
    }
    false
}

fn is_missing_kind(kind: ErrorKind) -> bool {
    matches!(
        kind,
        ErrorKind::NotFound
            | ErrorKind::NotADirectory
            | ErrorKind::IsADirectory
            | ErrorKind::InvalidFilename
            | ErrorKind::InvalidInput
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::share::ObjectKey;

    #[test]
    fn keys_map_to_files_of_exactly_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let fs = LocalFileSystem::new_with_prefix(dir.path()).unwrap();
        for raw in [
            "ftp/3js%205-report.jpg",
            "folder/what?.png",
            "report#1.pdf",
            "a b+c",
            "合同/文件 v2.doc",
            "x~y\\z",
            "%7E%25",
            "{}^`[]<>|*\"",
        ] {
            let key = ObjectKey::parse(raw).unwrap();
            let path = Path::parse(key.as_str()).unwrap();
            let file = fs.path_to_filesystem(&path).unwrap();
            assert_eq!(file, dir.path().canonicalize().unwrap().join(raw), "{raw}");
        }
    }

    #[test]
    fn names_ending_in_hash_digits_are_reserved() {
        assert!(is_reserved_name(&Path::parse("a#1").unwrap()));
        assert!(is_reserved_name(&Path::parse("d/x#12").unwrap()));
        assert!(!is_reserved_name(&Path::parse("a#1.pdf").unwrap()));
        assert!(!is_reserved_name(&Path::parse("a#").unwrap()));
        assert!(!is_reserved_name(&Path::parse("a#1/b").unwrap()));
    }
}
