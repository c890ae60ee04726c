//! The `local` backend: a directory on disk, through object_store.

use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::share::ObjectKey;

pub(crate) fn open(root: &FsPath) -> Result<Arc<dyn ObjectStore>, String> {
    LocalFileSystem::new_with_prefix(root)
        .map(|fs| Arc::new(fs) as Arc<dyn ObjectStore>)
        .map_err(|e| e.to_string())
}

/// The object_store path of a key on the local file system.
///
/// NOTE: the key is taken as it is (`Path::parse`, never `Path::from`, which
/// would percent-encode `%`, `?`, `#`, `~`… into the name). The local backend
/// encodes each segment into a file URL and decodes it back, so the file
/// name is the key, byte for byte. One limit is object_store's own: a file
/// name ending in `#` and digits (`a#1`) is reserved for its temporary
/// upload files and reads as not found.
pub(crate) fn path(key: &ObjectKey) -> Path {
    // A valid ObjectKey has no empty, `.` or `..` segment and no control
    // character, which is all that `Path::parse` refuses.
    Path::parse(key.as_str()).expect("an ObjectKey is a valid object_store path")
}

#[cfg(test)]
mod tests {
    use super::*;

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
            let file = fs.path_to_filesystem(&path(&key)).unwrap();
            assert_eq!(file, dir.path().canonicalize().unwrap().join(raw), "{raw}");
        }
    }
}
