//! One outbound HTTP stack for the whole process: HTTP/1.1 over rustls with aws-lc-rs, the
//! platform's root certificates loaded once. The Clerk Backend API client and the Secrets Manager
//! SDK client both use it, so a cold start reads the roots once and the binary carries one HTTP
//! client (no HTTP/2: neither service needs it).

use std::fmt;
use std::sync::OnceLock;
use std::time::Duration;

use aws_smithy_runtime_api::client::http::{
    HttpClient, HttpConnector, HttpConnectorFuture, HttpConnectorSettings, SharedHttpClient,
    SharedHttpConnector,
};
use aws_smithy_runtime_api::client::orchestrator::{HttpRequest, HttpResponse};
use aws_smithy_runtime_api::client::result::ConnectorError;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::body::SdkBody;

/// Connection set-up, for every outbound call.
pub const CONNECT_TIMEOUT: Duration = Duration::from_millis(1500);
/// Idle pooled connections are dropped after this (below the usual 60 s server-side limits).
pub const POOL_IDLE_TIMEOUT: Duration = Duration::from_secs(50);

/// TCP + TLS (or plain HTTP, for loopback stand-ins).
pub type Connector =
    hyper_rustls::HttpsConnector<hyper_util::client::legacy::connect::HttpConnector>;

/// The process's connector: built once (root certificates read once), then cloned (cheap: the
/// TLS configuration is shared).
pub fn connector() -> Result<Connector, String> {
    static CONNECTOR: OnceLock<Result<Connector, String>> = OnceLock::new();
    CONNECTOR
        .get_or_init(|| {
            let mut tcp = hyper_util::client::legacy::connect::HttpConnector::new();
            tcp.set_connect_timeout(Some(CONNECT_TIMEOUT));
            tcp.set_nodelay(true);
            tcp.enforce_http(false);
            Ok(hyper_rustls::HttpsConnectorBuilder::new()
                .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
                .map_err(|e| format!("TLS roots: {e}"))?
                .https_or_http()
                .enable_http1()
                .wrap_connector(tcp))
        })
        .clone()
}

/// A pooled client over [`connector`] for request bodies of type `B`.
pub fn client<B>() -> Result<hyper_util::client::legacy::Client<Connector, B>, String>
where
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
{
    Ok(
        hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
            .pool_idle_timeout(POOL_IDLE_TIMEOUT)
            .build(connector()?),
    )
}

/// What our AWS SDK clients are built from: the standard environment variables, as Lambda sets
/// them. No credential chain beyond the environment (that keeps `aws-config` and its STS/SSO
/// clients out of the binary).
#[derive(Debug)]
pub struct AwsEnv {
    /// `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub region: String,
    /// `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, when the first two are set.
    pub credentials: Option<(String, String, Option<String>)>,
    /// The service's own endpoint variable (e.g. `AWS_ENDPOINT_URL_DYNAMODB`), else
    /// `AWS_ENDPOINT_URL`: a local server.
    pub endpoint: Option<String>,
}

impl AwsEnv {
    pub fn read(service_endpoint_var: &str) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Self {
            region: var("AWS_REGION")
                .or_else(|| var("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_owned()),
            credentials: var("AWS_ACCESS_KEY_ID")
                .zip(var("AWS_SECRET_ACCESS_KEY"))
                .map(|(id, key)| (id, key, var("AWS_SESSION_TOKEN"))),
            endpoint: var(service_endpoint_var).or_else(|| var("AWS_ENDPOINT_URL")),
        }
    }
}

/// The AWS SDK's HTTP client, on the process's stack. Attempt and operation timeouts are the
/// SDK's (its orchestrator enforces them); connection set-up is bounded by [`CONNECT_TIMEOUT`].
pub fn sdk_http_client() -> Result<SharedHttpClient, String> {
    Ok(SharedHttpClient::new(SdkClient {
        connector: SharedHttpConnector::new(SdkConnector { client: client()? }),
    }))
}

#[derive(Debug)]
struct SdkClient {
    connector: SharedHttpConnector,
}

impl HttpClient for SdkClient {
    fn http_connector(
        &self,
        _settings: &HttpConnectorSettings,
        _components: &RuntimeComponents,
    ) -> SharedHttpConnector {
        self.connector.clone()
    }
}

struct SdkConnector {
    client: hyper_util::client::legacy::Client<Connector, SdkBody>,
}

impl fmt::Debug for SdkConnector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SdkConnector")
    }
}

impl HttpConnector for SdkConnector {
    fn call(&self, request: HttpRequest) -> HttpConnectorFuture {
        let request = match request.try_into_http1x() {
            Ok(request) => request,
            Err(e) => return HttpConnectorFuture::ready(Err(ConnectorError::user(e.into()))),
        };
        let fut = self.client.request(request);
        HttpConnectorFuture::new(async move {
            match fut.await {
                Ok(response) => HttpResponse::try_from(response.map(SdkBody::from_body_1_x))
                    .map_err(|e| ConnectorError::other(e.into(), None)),
                Err(e) => Err(connector_error(e)),
            }
        })
    }
}

/// Connection failures and dropped connections are I/O errors (the SDK retries those); anything
/// else is reported as is.
fn connector_error(e: hyper_util::client::legacy::Error) -> ConnectorError {
    use std::error::Error as _;
    let io = e.is_connect()
        || std::iter::successors(e.source(), |&s| s.source()).any(|s| {
            s.is::<std::io::Error>()
                || s.downcast_ref::<hyper::Error>()
                    .is_some_and(|h| h.is_closed() || h.is_canceled() || h.is_incomplete_message())
        });
    if io {
        ConnectorError::io(e.into())
    } else {
        ConnectorError::other(e.into(), None)
    }
}
