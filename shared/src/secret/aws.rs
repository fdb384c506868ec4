//! Secrets Manager through the AWS SDK, on the process's HTTP stack. Feature `aws`. Which
//! errors are transient (stale secret served, 503) and which are not (500): docs/contract.md, section 4.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_secretsmanager::error::SdkError;

use super::{SecretError, SecretSource};

/// Secrets Manager through the AWS SDK (standard AWS environment: region, credentials,
/// `AWS_ENDPOINT_URL` for a local server).
#[derive(Debug, Clone)]
pub struct AwsSecretSource {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
}

impl AwsSecretSource {
    /// With a client of your own: give its config [`crate::https::sdk_http_client`] (the SDK's
    /// default HTTPS client is not compiled in).
    pub fn new(client: aws_sdk_secretsmanager::Client, secret_id: impl Into<String>) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
        }
    }

    /// A client configured from the standard AWS environment variables, as Lambda provides them
    /// (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`;
    /// `AWS_ENDPOINT_URL_SECRETS_MANAGER` or `AWS_ENDPOINT_URL` for a local server), with short
    /// timeouts and few retries: a Lambda request must not hang on it. No credential chain beyond
    /// the environment (that is what keeps `aws-config` and its STS/SSO clients out of the binary).
    pub fn from_env(secret_id: impl Into<String>) -> Self {
        use aws_sdk_secretsmanager::config::{
            BehaviorVersion, Credentials, Region, retry::RetryConfig, timeout::TimeoutConfig,
        };
        let env = crate::https::AwsEnv::read("AWS_ENDPOINT_URL_SECRETS_MANAGER");
        let mut builder = aws_sdk_secretsmanager::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(env.region))
            .timeout_config(
                TimeoutConfig::builder()
                    // Informational: connections are set up by `crate::https`, with this bound.
                    .connect_timeout(crate::https::CONNECT_TIMEOUT)
                    .operation_attempt_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(5))
                    .build(),
            )
            .retry_config(RetryConfig::standard().with_max_attempts(2));
        match crate::https::sdk_http_client() {
            Ok(client) => builder = builder.http_client(client),
            // Without TLS roots every call fails; the SDK reports it per request (a 503).
            Err(e) => tracing::error!(error = %e, "no HTTPS client for Secrets Manager"),
        }
        if let Some((id, key, token)) = env.credentials {
            builder =
                builder.credentials_provider(Credentials::new(id, key, token, None, "environment"));
        }
        if let Some(url) = env.endpoint {
            builder = builder.endpoint_url(url);
        }
        Self::new(
            aws_sdk_secretsmanager::Client::from_conf(builder.build()),
            secret_id,
        )
    }
}

#[async_trait]
impl SecretSource for AwsSecretSource {
    async fn fetch(&self) -> Result<String, SecretError> {
        let trace = crate::xray::call(
            "SecretsManager",
            crate::xray::Service::Aws,
            "POST",
            &self.trace_url(),
        )
        .with_operation("GetSecretValue");
        let mut op = self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .customize();
        // The SDK itself sends `_X_AMZN_TRACE_ID` in Lambda (its recursion detection); this
        // header names our subsegment as the parent instead, and works outside Lambda's variable.
        if let Some(header) = trace.header() {
            let header = header.to_owned();
            op = op.mutate_request(move |req| {
                let _ = req
                    .headers_mut()
                    .try_insert(crate::xray::TRACE_HEADER, header.clone());
            });
        }
        let result = op.send().await;
        trace.finish(trace_outcome(&result));
        let out = result.map_err(|e| classify(&self.secret_id, &e))?;
        out.secret_string
            .ok_or_else(|| SecretError::Malformed("the secret has no string value".into()))
    }
}

impl AwsSecretSource {
    /// The endpoint named in a trace: the region's, never the secret's name.
    fn trace_url(&self) -> String {
        match self.client.config().region() {
            Some(region) => format!("https://secretsmanager.{region}.amazonaws.com/"),
            None => "https://secretsmanager.amazonaws.com/".to_owned(),
        }
    }
}

/// How a call ended, for its subsegment.
fn trace_outcome<T, E: aws_sdk_secretsmanager::error::ProvideErrorMetadata, R>(
    result: &Result<T, SdkError<E, R>>,
) -> crate::xray::Outcome
where
    R: HasStatus,
{
    use crate::xray::Outcome;
    match result {
        Ok(_) => Outcome::status(200),
        Err(SdkError::ServiceError(se)) => {
            let mut out = Outcome::status(se.raw().status_code());
            out.throttle |= se.err().code() == Some("ThrottlingException");
            out
        }
        Err(SdkError::ResponseError(e)) => Outcome::status(e.raw().status_code()),
        Err(_) => Outcome::fault(),
    }
}

/// The HTTP status of a raw SDK response.
trait HasStatus {
    fn status_code(&self) -> u16;
}

impl HasStatus for aws_smithy_runtime_api::client::orchestrator::HttpResponse {
    fn status_code(&self) -> u16 {
        self.status().as_u16()
    }
}

fn classify<E: aws_sdk_secretsmanager::error::ProvideErrorMetadata + fmt::Debug, R: fmt::Debug>(
    id: &str,
    err: &SdkError<E, R>,
) -> SecretError {
    match err {
        SdkError::ServiceError(se) => {
            let code = se.err().code().unwrap_or("Unknown");
            match code {
                "ResourceNotFoundException" | "InvalidRequestException" => {
                    SecretError::NotFound(format!("{id}: {code}"))
                }
                "AccessDeniedException" | "DecryptionFailure" | "UnrecognizedClientException" => {
                    SecretError::AccessDenied(format!("{id}: {code}"))
                }
                _ => SecretError::Transient(format!("{id}: {code}")),
            }
        }
        SdkError::TimeoutError(_) => SecretError::Transient(format!("{id}: timeout")),
        SdkError::DispatchFailure(_) => SecretError::Transient(format!("{id}: connection failed")),
        other => SecretError::Transient(format!("{id}: {}", short_kind(other))),
    }
}

fn short_kind<E, R>(err: &SdkError<E, R>) -> &'static str {
    match err {
        SdkError::ConstructionFailure(_) => "request construction failed",
        SdkError::ResponseError(_) => "unreadable response",
        _ => "error",
    }
}
