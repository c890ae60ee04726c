//! The `s3` backend against a real S3-compatible server (s3s-fs): exact
//! keys, failures with clear answers, timeouts, streaming and memory.

mod support;

use std::sync::Arc;

use object_store::aws::AmazonS3Builder;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use support::s3::{S3Server, ACCESS_KEY, REGION, SECRET_KEY};

/// An object_store client of the test server, to put objects the way any
/// S3 client would.
fn client(server: &S3Server, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_endpoint(server.endpoint())
            .with_region(REGION)
            .with_bucket_name(bucket)
            .with_access_key_id(ACCESS_KEY)
            .with_secret_access_key(SECRET_KEY)
            .with_allow_http(true)
            .build()
            .unwrap(),
    )
}

/// Every key shape the service accepts.
pub const KEY_SHAPES: &[&str] = &[
    "plain.txt",
    "share/test 1.txt",
    "share/test+1.txt",
    "ftp/3js%205-report.jpg",
    "folder/what?.png",
    "report#1.pdf",
    "x#1",
    "tilde~and`back`",
    "合同/文件 v2.doc",
    "emoji/😀.png",
    "quote\"and\\backslash",
    "brackets[{<>}]|^*",
    "semi;colon,comma=equals&amp",
    "...dots/.hidden",
];

#[tokio::test]
async fn keys_reach_the_s3_server_byte_for_byte() {
    let server = tokio::task::spawn_blocking(S3Server::shared).await.unwrap();
    let bucket = server.bucket("exact");
    let s3 = client(server, &bucket);
    for (i, key) in KEY_SHAPES.iter().enumerate() {
        let path = Path::parse(key).unwrap();
        s3.put(&path, PutPayload::from(format!("object {i}")))
            .await
            .unwrap();
        let on_disk = std::fs::read_to_string(server.object_file(&bucket, key))
            .unwrap_or_else(|e| panic!("{key}: not stored under its own name: {e}"));
        assert_eq!(on_disk, format!("object {i}"), "{key}");
    }
}
