//! The `s3` backend: MinIO, Huawei OBS or any S3-compatible store, through
//! object_store's S3 client.

use std::sync::Arc;
use std::time::Duration;

use object_store::aws::AmazonS3Builder;
use object_store::{BackoffConfig, ClientOptions, ObjectStore, RetryConfig};
use secrecy::{ExposeSecret, SecretString};

use crate::settings::S3Settings;

/// Opens an S3 client for `settings`, reading `bucket` (the proxy
/// connector's own bucket may differ from its target's).
pub(crate) fn open(settings: &S3Settings, bucket: &str) -> Result<Arc<dyn ObjectStore>, String> {
    if settings.plain_http_refused() {
        // Said at start, rather than as a 502 on every view.
        return Err("the endpoint is plain http:// and allow_http is false (set allow_http = true to allow it)".into());
    }
    // The HTTP client is our own (http_client.rs): the connect timeout and
    // the pool are set there; there is no total timeout, since a slow,
    // steady download must never be cut (the first byte is bounded by the
    // connector, first_byte_timeout_ms).
    let options = ClientOptions::new().with_allow_http(settings.allow_http);
    // A backend that is down must answer 502 quickly, not after minutes of
    // retries: one quick retry at most.
    let retry = RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(50),
            max_backoff: Duration::from_millis(200),
            base: 2.0,
        },
        max_retries: 1,
        retry_timeout: Duration::from_millis(settings.first_byte_timeout_ms.max(1)),
    };
    let mut builder = AmazonS3Builder::from_env()
        .with_region(&settings.region)
        .with_bucket_name(bucket)
        .with_virtual_hosted_style_request(settings.virtual_hosted_style)
        .with_allow_http(settings.allow_http)
        .with_client_options(options)
        .with_http_connector(super::http_client::BoundedConnector {
            connect_timeout: Duration::from_millis(settings.connect_timeout_ms.max(1)),
            allow_http: settings.allow_http,
        })
        .with_retry(retry);
    if let Some(endpoint) = &settings.endpoint {
        builder = builder.with_endpoint(endpoint);
    }
    if let Some(id) = secret(&settings.access_key_id, &settings.access_key_id_file)? {
        builder = builder.with_access_key_id(id.expose_secret());
    }
    if let Some(key) = secret(
        &settings.secret_access_key,
        &settings.secret_access_key_file,
    )? {
        builder = builder.with_secret_access_key(key.expose_secret());
    }
    builder
        .build()
        .map(|s3| Arc::new(s3) as Arc<dyn ObjectStore>)
        // The builder's messages name settings, never their values.
        .map_err(|e| e.to_string())
}

/// A credential from the configuration, else from a file.
fn secret(
    value: &Option<SecretString>,
    file: &Option<std::path::PathBuf>,
) -> Result<Option<SecretString>, String> {
    if let Some(value) = value {
        return Ok(Some(value.clone()));
    }
    let Some(file) = file else {
        return Ok(None);
    };
    std::fs::read_to_string(file)
        .map(|text| Some(SecretString::from(text.trim().to_owned())))
        .map_err(|e| format!("cannot read {}: {e}", file.display()))
}
