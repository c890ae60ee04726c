//! The `local` backend: a directory on disk, through object_store.

use std::io::ErrorKind;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use super::{ConnectorId, StorageError};

pub(crate) struct LocalBackend {
    fs: Arc<LocalFileSystem>,
    store: Arc<dyn ObjectStore>,
    /// The directory, with symbolic links resolved.
    root: PathBuf,
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

    /// Refuses a path that leaves the directory through a symbolic link
    /// (a link to `/etc`, or to the data directory's token key), and names
    /// object_store reserves (`a#1`), as not found.
    pub(crate) async fn check_inside(
        &self,
        id: &ConnectorId,
        path: &Path,
    ) -> Result<(), StorageError> {
        if is_reserved_name(path) {
            return Err(StorageError::NotFound);
        }
        let file = self
            .fs
            .path_to_filesystem(path)
            .map_err(|_| StorageError::NotFound)?;
        let real = tokio::fs::canonicalize(&file)
            .await
            .map_err(|_| StorageError::NotFound)?;
        if real.starts_with(&self.root) {
            Ok(())
        } else {
            log::warn!("connector {id}: refused a key whose file lies outside the directory (symbolic link)");
            Err(StorageError::NotFound)
        }
    }
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
            return matches!(
                io.kind(),
                ErrorKind::NotFound
                    | ErrorKind::NotADirectory
                    | ErrorKind::IsADirectory
                    | ErrorKind::InvalidFilename
                    | ErrorKind::InvalidInput
            );
        }
        source = e.source();
    }
    false
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
