//! The `local` backend: a directory on disk, through object_store.

use std::path::Path as FsPath;
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::ObjectStore;

pub(crate) fn open(root: &FsPath) -> Result<Arc<dyn ObjectStore>, String> {
    LocalFileSystem::new_with_prefix(root)
        .map(|fs| Arc::new(fs) as Arc<dyn ObjectStore>)
        .map_err(|e| e.to_string())
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
            let path = object_store::path::Path::parse(key.as_str()).unwrap();
            let file = fs.path_to_filesystem(&path).unwrap();
            assert_eq!(file, dir.path().canonicalize().unwrap().join(raw), "{raw}");
        }
    }
}
