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

use super::{ByteStream, ConnectorId, StorageError};

pub(crate) struct LocalBackend {
    fs: Arc<LocalFileSystem>,
    /// The directory, with symbolic links resolved.
    root: PathBuf,
    /// The directory, opened: names are looked up beneath it.
    root_dir: std::fs::File,
}

/// Objects this small are read whole when opened, before the answer's
/// headers (so a file that shrinks meanwhile is a clean 502).
const READ_WHOLE_UP_TO: u64 = 64 * 1024;
/// Objects this small are read on the worker thread when cached; larger
/// ones on the blocking pool, where the copy does not hold up the worker
/// (measured: 64 KiB views +45 % requests/s read there, 1 KiB views no
/// different either way).
const READ_INLINE_UP_TO: u64 = 16 * 1024;
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
        let root_dir = std::fs::File::open(&root).map_err(|e| e.to_string())?;
        Ok(Self { fs, root, root_dir })
    }

    /// Whether the directory opened at start can still be read, and is
    /// still the one its path names (views read the one opened at start:
    /// a directory swapped in under the same path needs a restart).
    pub(crate) fn probe(&self, id: &ConnectorId) -> Result<(), StorageError> {
        use std::os::fd::AsRawFd;
        use std::os::unix::fs::MetadataExt;
        let unavailable = |why: String| {
            log::warn!("connector {id}: {why}");
            StorageError::Unavailable {
                connector: id.to_string(),
            }
        };
        std::fs::read_dir(format!("/proc/self/fd/{}", self.root_dir.as_raw_fd()))
            .map_err(|e| unavailable(format!("cannot read its directory: {e}")))?;
        let opened = self
            .root_dir
            .metadata()
            .map_err(|e| unavailable(format!("cannot read its directory: {e}")))?;
        let named = std::fs::metadata(&self.root).map_err(|e| {
            unavailable(format!(
                "{} is gone ({e}); restart to serve a new one",
                self.root.display()
            ))
        })?;
        if (opened.dev(), opened.ino()) != (named.dev(), named.ino()) {
            return Err(unavailable(format!(
                "{} is no longer the directory opened at start; restart to serve the new one",
                self.root.display()
            )));
        }
        Ok(())
    }

    /// Opens the file behind `path` and, when small, reads it: the
    /// key-to-file mapping is object_store's (so names are exact), the
    /// checks are ours.
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
        // Opened on this thread, as nginx does: name lookups and a small
        // file's bytes are almost always in the kernel's caches, and a trip
        // to the blocking pool and back costs more than the work. Only bytes
        // that would have to come from the disk are read on the pool.
        let (handle, meta) = open_inside(&self.root, &self.root_dir, &file, id)?;
        let size = meta.len();
        let last_modified = meta.modified().unwrap_or(UNIX_EPOCH);
        let body = if size <= READ_WHOLE_UP_TO {
            let cached = if size <= READ_INLINE_UP_TO {
                read_cached(&handle, size)
            } else {
                Ok(Cached::Partly(Vec::with_capacity(size as usize)))
            };
            match cached {
                Ok(Cached::Whole(bytes)) if bytes.len() as u64 == size => Body::Read(bytes),
                // Shorter than when opened: it changed while read, and no
                // header is sent yet, so the answer can say so.
                Ok(Cached::Whole(_)) => return Err(changed_while_read(id)),
                Ok(Cached::Partly(bytes)) => {
                    let owner = id.clone();
                    let bytes = tokio::task::spawn_blocking(move || {
                        read_rest(&handle, bytes, size).map_err(|e| io_failure(&owner, e))
                    })
                    .await
                    .map_err(|_| StorageError::Changed)??;
                    if bytes.len() as u64 != size {
                        return Err(changed_while_read(id));
                    }
                    Body::Read(Bytes::from(bytes))
                }
                Err(e) => return Err(io_failure(id, e)),
            }
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
}

/// What of a small file the page cache could give without waiting.
enum Cached {
    Whole(Bytes),
    /// The bytes read so far; the rest must come from the disk.
    Partly(Vec<u8>),
}

/// Reads up to `size` bytes with `RWF_NOWAIT`: the kernel copies what is
/// cached and refuses (EAGAIN) rather than wait for the disk.
fn read_cached(file: &std::fs::File, size: u64) -> std::io::Result<Cached> {
    use rustix::io::{preadv2, Errno, ReadWriteFlags};
    // The size the file had when opened is the size promised: bytes
    // appended since are not sent.
    let mut bytes = vec![0; size as usize];
    let mut filled = 0;
    loop {
        if filled == bytes.len() {
            return Ok(Cached::Whole(Bytes::from(bytes)));
        }
        let slice = &mut [std::io::IoSliceMut::new(&mut bytes[filled..])];
        match preadv2(file, slice, filled as u64, ReadWriteFlags::NOWAIT) {
            // Shorter than when opened: what is there (the view sees the
            // short body as a changed object).
            Ok(0) => {
                bytes.truncate(filled);
                return Ok(Cached::Whole(Bytes::from(bytes)));
            }
            Ok(n) => filled += n,
            Err(Errno::INTR) => continue,
            // Not cached, or a filesystem that cannot say (then the pool
            // reads it all).
            Err(Errno::AGAIN) | Err(Errno::OPNOTSUPP) => {
                bytes.truncate(filled);
                return Ok(Cached::Partly(bytes));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// The rest of a small file after the `bytes` read so far, up to `size`.
fn read_rest(mut file: &std::fs::File, mut bytes: Vec<u8>, size: u64) -> std::io::Result<Vec<u8>> {
    let have = bytes.len() as u64;
    file.seek(SeekFrom::Start(have))?;
    file.take(size.saturating_sub(have))
        .read_to_end(&mut bytes)?;
    Ok(bytes)
}

fn changed_while_read(id: &ConnectorId) -> StorageError {
    log::warn!("connector {id}: a file became shorter while it was read");
    StorageError::Changed
}

fn io_failure(id: &ConnectorId, e: std::io::Error) -> StorageError {
    // A link loop, or a name that is a socket or a device without its
    // driver (ENXIO), is no object: 404 like any other non-file (and the
    // answer tells nothing about what a link points to).
    let not_an_object = matches!(e.raw_os_error(), Some(libc::ELOOP | libc::ENXIO));
    if is_missing_kind(e.kind()) || not_an_object {
        StorageError::NotFound
    } else {
        log::error!("connector {id}: cannot open a file: {e}");
        StorageError::Unavailable {
            connector: id.to_string(),
        }
    }
}

/// Opens `file` and checks that it is a regular file inside `root`.
fn open_inside(
    root: &FsPath,
    root_dir: &std::fs::File,
    file: &FsPath,
    id: &ConnectorId,
) -> Result<(std::fs::File, std::fs::Metadata), StorageError> {
    let missing = |e: std::io::Error| io_failure(id, e);
    let handle = match open_beneath(root_dir, file.strip_prefix(root).unwrap_or(file)) {
        Beneath::Opened(handle) => handle,
        Beneath::Failed(e) => return Err(missing(e)),
        Beneath::CannotTell => open_then_check(root, file, id)?,
    };
    let meta = handle.metadata().map_err(missing)?;
    if !meta.is_file() {
        return Err(StorageError::NotFound);
    }
    Ok((handle, meta))
}

enum Beneath {
    Opened(std::fs::File),
    Failed(std::io::Error),
    /// The name needs the slower check: it goes through an absolute or
    /// leaving symbolic link, or the kernel has no `openat2`.
    CannotTell,
}

/// Opens `relative` under `root_dir` with `openat2(RESOLVE_BENEATH)`: the
/// kernel refuses any resolution that would leave the directory, so the
/// common case is one system call with no race. O_NONBLOCK: opening a FIFO
/// must not wait for a writer (it is refused as not a file).
fn open_beneath(root_dir: &std::fs::File, relative: &FsPath) -> Beneath {
    use rustix::fs::{openat2, Mode, OFlags, ResolveFlags};
    use rustix::io::Errno;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
    let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_MAGICLINKS;
    match openat2(root_dir, relative, flags, Mode::empty(), resolve) {
        Ok(fd) => Beneath::Opened(std::fs::File::from(fd)),
        // EXDEV: the name leaves the directory (or uses an absolute link);
        // ELOOP: a magic link; ENOSYS/EPERM: no openat2 (old kernel,
        // seccomp). The slower check decides.
        Err(Errno::XDEV | Errno::LOOP | Errno::NOSYS | Errno::PERM) => Beneath::CannotTell,
        Err(Errno::AGAIN | Errno::INTR) => Beneath::CannotTell,
        Err(e) => Beneath::Failed(e.into()),
    }
}

/// The slower check: locates `file`, asks where the located file really
/// is, then opens that very file. Checking the path before locating it
/// would race with a rename that swaps a symbolic link in between.
fn open_then_check(
    root: &FsPath,
    file: &FsPath,
    id: &ConnectorId,
) -> Result<std::fs::File, StorageError> {
    let missing = |e: std::io::Error| io_failure(id, e);
    // O_PATH names the file without opening it: no device driver runs, no
    // automount fires, for a link to something outside the directory.
    let located = std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_PATH)
        .open(file)
        .map_err(missing)?;
    let real = opened_path(&located).map_err(missing)?;
    if !real.starts_with(root) {
        log::warn!(
            "connector {id}: refused a key whose file lies outside the directory (symbolic link)"
        );
        return Err(StorageError::NotFound);
    }
    if !located.metadata().map_err(missing)?.is_file() {
        return Err(StorageError::NotFound);
    }
    // Then the very file located is opened, through its descriptor.
    use std::os::fd::AsRawFd;
    std::fs::File::options()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(format!("/proc/self/fd/{}", located.as_raw_fd()))
        .map_err(missing)
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
    use std::io::Write;

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
    fn a_small_file_comes_whole_from_the_cache_or_is_finished_from_the_disk() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("f.bin");
        let content: Vec<u8> = (0..40_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &content).unwrap();
        let file = std::fs::File::open(&path).unwrap();
        // Whatever the page cache holds, the bytes end up whole and exact.
        let bytes = match read_cached(&file, content.len() as u64).unwrap() {
            Cached::Whole(bytes) => bytes.to_vec(),
            Cached::Partly(prefix) => {
                assert!(content.starts_with(&prefix));
                read_rest(&file, prefix, content.len() as u64).unwrap()
            }
        };
        assert_eq!(bytes, content);
        // Finishing from any point gives the same bytes, and never more
        // than the size the file had when opened.
        for have in [0, 1, 4096, 39_999, 40_000] {
            let rest = read_rest(&file, content[..have].to_vec(), content.len() as u64).unwrap();
            assert_eq!(rest, content, "from {have}");
        }
        std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap()
            .write_all(b"grown")
            .unwrap();
        assert_eq!(
            read_rest(&file, vec![], content.len() as u64).unwrap(),
            content
        );
        match read_cached(&file, content.len() as u64).unwrap() {
            Cached::Whole(bytes) => assert_eq!(bytes, content),
            Cached::Partly(prefix) => assert!(content.starts_with(&prefix)),
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
