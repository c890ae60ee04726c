//! The `s3` backend's HTTP client: hyper with a bounded read buffer.
//!
//! object_store's own client (reqwest) lets hyper grow each connection's
//! read buffer to about 400 KiB when the backend sends faster than the
//! viewer reads, and neither exposes the limit: 100 downloads then hold
//! 40 MiB of bytes that are only on their way. This is the same stack
//! (hyper-util's pooled client, rustls with the platform's certificate
//! roots) with the buffer capped, and the connect timeout and idle pool
//! the connector's settings ask for.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use http_body_util::BodyExt;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use object_store::client::{
    HttpClient, HttpError, HttpErrorKind, HttpRequest, HttpRequestBody, HttpResponse,
    HttpResponseBody, HttpService,
};
use object_store::ClientOptions;

/// Most bytes hyper reads ahead on one backend connection (its floor is
/// 8 KiB). Larger reads mean fewer wake-ups per download and more memory
/// per download; measured (BENCHMARKS.md), 100 downloads of 10 MiB peak at
/// 49 / 59 / 66-69 / 98-111 MiB with 64 / 128 / 256 / 408 KiB (hyper's own
/// limit), and 32 downloads reach 0.41-0.48 / 0.49-0.56 / 0.49-0.50 /
/// 0.60-0.62 of the backend's own rate.
const READ_BUFFER: usize = 128 * 1024;
/// How long an unused backend connection stays in the pool.
const POOL_IDLE: Duration = Duration::from_secs(30);

type HyperClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, HttpRequestBody>;

/// Makes the client object_store asks for.
#[derive(Debug)]
pub(crate) struct BoundedConnector {
    pub connect_timeout: Duration,
    pub allow_http: bool,
}

impl object_store::client::HttpConnector for BoundedConnector {
    fn connect(&self, _options: &ClientOptions) -> object_store::Result<HttpClient> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_connect_timeout(Some(self.connect_timeout));
        http.set_nodelay(true);
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let tls = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_platform_verifier(provider)
            .map_err(|e| object_store::Error::Generic {
                store: "S3",
                source: format!("cannot set up TLS: {e}").into(),
            })?;
        let schemes = if self.allow_http {
            tls.https_or_http()
        } else {
            tls.https_only()
        };
        let client = Client::builder(TokioExecutor::new())
            .http1_max_buf_size(READ_BUFFER)
            .pool_idle_timeout(POOL_IDLE)
            .build(schemes.enable_http1().wrap_connector(http));
        Ok(HttpClient::new(Bounded(client)))
    }
}

#[derive(Debug)]
struct Bounded(HyperClient);

#[async_trait]
impl HttpService for Bounded {
    async fn call(&self, req: HttpRequest) -> Result<HttpResponse, HttpError> {
        let response = self.0.request(req).await.map_err(|e| {
            let kind = if e.is_connect() {
                HttpErrorKind::Connect
            } else {
                HttpErrorKind::Request
            };
            // hyper's own text is only "client error (Connect)": the
            // causes (refused, reset, certificate…) are in its sources.
            HttpError::new(kind, std::io::Error::other(with_causes(&e)))
        })?;
        let (parts, body) = response.into_parts();
        let body = body.map_err(|e| HttpError::new(HttpErrorKind::Interrupted, e));
        Ok(HttpResponse::from_parts(parts, HttpResponseBody::new(body)))
    }
}

/// An error's text followed by each of its causes.
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(e) = cause {
        text.push_str(": ");
        text.push_str(&e.to_string());
        cause = e.source();
    }
    text
}
