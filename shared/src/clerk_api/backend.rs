//! The Backend API client over the process's HTTP stack ([`crate::https`]). Feature `aws`.
//! The calls and their answers: docs/contract.md, section 7.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    CLERK_API_VERSION, ClerkApiError, ClerkUser, KeyFetcher, MAX_ATTEMPTS, MAX_BODY_BYTES,
    MachineEndpoint, MachineTokenRecord, MachineTokenVerifier, UserDirectory, UserProfile,
    is_valid_user_id, parse_jwks, parse_machine_record,
};
use crate::keys::SecretKey;
use crate::rsa_key::RsaKey;

// One client for every call: a GET sends an empty body.
type Client =
    hyper_util::client::legacy::Client<crate::https::Connector, http_body_util::Full<bytes::Bytes>>;

/// A whole request, body included (connection set-up: [`crate::https::CONNECT_TIMEOUT`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The Backend API over HTTPS (or plain HTTP to a loopback stand-in). Redirects are never
/// followed (hyper does not), so a 3xx is an error like any non-200.
#[derive(Clone)]
pub struct ClerkBackend {
    http: Client,
    // `Arc<str>`: keeps the client small (clerk-token holds it in an enum beside a key set).
    api_url: std::sync::Arc<str>,
    /// The wait before the retry of a transient failure, drawn between these two.
    retry_backoff: (Duration, Duration),
}

impl fmt::Debug for ClerkBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClerkBackend")
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl ClerkBackend {
    /// `api_url` as validated by [`crate::config::Config`] (no trailing slash).
    pub fn new(api_url: impl Into<String>) -> Result<Self, ClerkApiError> {
        let http = crate::https::client().map_err(ClerkApiError::Unavailable)?;
        Ok(Self {
            http,
            api_url: api_url.into().trim_end_matches('/').into(),
            retry_backoff: (Duration::from_millis(50), Duration::from_millis(150)),
        })
    }

    /// The wait before a retry, drawn between `min` and `max` (default 50 to 150 ms). Tests on a
    /// manual clock set zero, so that no test sleeps in real time.
    pub fn with_retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_backoff = (min, max.max(min));
        self
    }

    /// `GET path` (no `body`) or `POST path` with a JSON `body`, each attempt bounded by
    /// [`REQUEST_TIMEOUT`]; a transient failure is tried once more (both are idempotent).
    async fn call(
        &self,
        kind: Answer,
        path: &str,
        body: Option<bytes::Bytes>,
        secret: &SecretKey,
    ) -> Result<Vec<u8>, ClerkApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.attempt(kind, path, body.clone(), secret).await {
                Err(ClerkApiError::Unavailable(detail)) if attempt < MAX_ATTEMPTS => {
                    tracing::debug!(path, attempt, detail, "retrying Clerk call");
                    let (min, max) = self.retry_backoff;
                    if !max.is_zero() {
                        tokio::time::sleep(jitter(min, max)).await;
                    }
                }
                other => return other,
            }
        }
    }

    async fn attempt(
        &self,
        kind: Answer,
        path: &str,
        body: Option<bytes::Bytes>,
        secret: &SecretKey,
    ) -> Result<Vec<u8>, ClerkApiError> {
        // Each attempt: its latency in the invocation's metrics, a subsegment when traced.
        let started = std::time::Instant::now();
        let method = if body.is_some() { "POST" } else { "GET" };
        let trace = crate::xray::call(
            TRACE_NAME,
            crate::xray::Service::Remote,
            method,
            &format!("{}{}", self.api_url, path),
        );
        let result = tokio::time::timeout(
            REQUEST_TIMEOUT,
            self.send(kind, path, body, secret, trace.header()),
        )
        .await
        .unwrap_or_else(|_| Err(ClerkApiError::Unavailable(format!("{path}: timeout"))));
        crate::metrics::clerk_api_call(started.elapsed(), kind.answered(&result));
        trace.finish(trace_outcome(&result));
        result
    }

    async fn send(
        &self,
        kind: Answer,
        path: &str,
        body: Option<bytes::Bytes>,
        secret: &SecretKey,
        trace: Option<&str>,
    ) -> Result<Vec<u8>, ClerkApiError> {
        let bearer = http::HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
            .map_err(|_| ClerkApiError::SecretKeyInvalid)?;
        let url = format!("{}{}", self.api_url, path);
        let mut req = match body {
            Some(_) => {
                http::Request::post(url).header(http::header::CONTENT_TYPE, "application/json")
            }
            None => http::Request::get(url),
        };
        if let Some(trace) = trace.and_then(|t| http::HeaderValue::from_str(t).ok()) {
            req = req.header(crate::xray::TRACE_HEADER, trace);
        }
        let req = req
            .header(http::header::AUTHORIZATION, bearer)
            .header("clerk-api-version", CLERK_API_VERSION)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("clerk-lambda-rust/", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Full::new(body.unwrap_or_default()))
            .map_err(|_| ClerkApiError::Unavailable(format!("{path}: bad request")))?;
        let resp = self.http.request(req).await.map_err(|e| {
            ClerkApiError::Unavailable(if e.is_connect() {
                "connection failed".into()
            } else {
                "request failed".into()
            })
        })?;
        let (status, retry, body) = read_answer(path, resp).await?;
        match status.as_u16() {
            200 => Ok(body),
            401 => Err(ClerkApiError::SecretKeyInvalid),
            403 if is_key_invalid(&body) => Err(ClerkApiError::SecretKeyInvalid),
            404 => Err(ClerkApiError::NotFound),
            // Clerk refuses the token itself: unknown, revoked, expired, or not a token at all.
            400 | 422 if kind == Answer::Verification => Err(ClerkApiError::NotFound),
            429 => Err(ClerkApiError::RateLimited {
                retry_after: retry.unwrap_or(Duration::from_secs(10)),
            }),
            code => Err(ClerkApiError::Unavailable(format!("{path}: HTTP {code}"))),
        }
    }
}

/// What a call reads: a resource (the key set, a user), or a machine token's verification, where
/// Clerk refusing the token (400, 404, 422) is an answer about the token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Resource,
    Verification,
}

impl Answer {
    /// Whether an attempt counts as answered in the metrics (a refused token is; a missing user
    /// counts as a failed read, as it always has).
    fn answered(self, result: &Result<Vec<u8>, ClerkApiError>) -> bool {
        match result {
            Ok(_) => true,
            Err(ClerkApiError::NotFound) => self == Answer::Verification,
            Err(_) => false,
        }
    }
}

/// Status, `Retry-After` and body (capped at [`MAX_BODY_BYTES`]) of an answer.
async fn read_answer(
    path: &str,
    resp: http::Response<hyper::body::Incoming>,
) -> Result<(http::StatusCode, Option<Duration>, Vec<u8>), ClerkApiError> {
    use http_body_util::BodyExt as _;
    let status = resp.status();
    let retry = retry_after(resp.headers());
    let too_big = resp
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .is_some_and(|n| n > MAX_BODY_BYTES as u64);
    if too_big {
        return Err(ClerkApiError::Unavailable(format!(
            "{path}: body over {MAX_BODY_BYTES} bytes"
        )));
    }
    let body = http_body_util::Limited::new(resp.into_body(), MAX_BODY_BYTES)
        .collect()
        .await
        .map_err(|_| {
            ClerkApiError::Unavailable(format!("{path}: unreadable or over {MAX_BODY_BYTES} bytes"))
        })?
        .to_bytes()
        .to_vec();
    Ok((status, retry, body))
}

fn retry_after(headers: &http::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.clamp(1, 3600)))
}

fn is_key_invalid(body: &[u8]) -> bool {
    #[derive(Deserialize)]
    struct Errors {
        errors: Vec<ErrorItem>,
    }
    #[derive(Deserialize)]
    struct ErrorItem {
        code: Option<String>,
    }
    serde_json::from_slice::<Errors>(body).is_ok_and(|e| {
        e.errors
            .iter()
            .any(|i| i.code.as_deref() == Some("clerk_key_invalid"))
    })
}

fn jitter(min: Duration, max: Duration) -> Duration {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::from(d.subsec_nanos()));
    let span = u64::try_from((max - min).as_millis()).unwrap_or(1).max(1);
    min + Duration::from_millis(nanos % span)
}

#[async_trait]
impl KeyFetcher for ClerkBackend {
    async fn fetch_keys(&self, secret: &SecretKey) -> Result<Vec<RsaKey>, ClerkApiError> {
        let body = self
            .call(Answer::Resource, "/v1/jwks", None, secret)
            .await?;
        parse_jwks(&body)
    }
}

#[async_trait]
impl UserDirectory for ClerkBackend {
    async fn get_user(
        &self,
        secret: &SecretKey,
        user_id: &str,
    ) -> Result<UserProfile, ClerkApiError> {
        if !is_valid_user_id(user_id) {
            return Err(ClerkApiError::NotFound);
        }
        let body = self
            .call(
                Answer::Resource,
                &format!("/v1/users/{user_id}"),
                None,
                secret,
            )
            .await?;
        let user: ClerkUser = serde_json::from_slice(&body)
            .map_err(|_| ClerkApiError::Unavailable("user body is not a Clerk User".into()))?;
        if user.id != user_id {
            return Err(ClerkApiError::Unavailable(
                "Clerk returned another user".into(),
            ));
        }
        Ok(user.into())
    }
}

// ---------------------------------------------------------------- machine tokens (issue 15)

#[async_trait]
impl MachineTokenVerifier for ClerkBackend {
    async fn verify_machine_token(
        &self,
        secret: &SecretKey,
        endpoint: MachineEndpoint,
        token: &str,
    ) -> Result<MachineTokenRecord, ClerkApiError> {
        let (path, field) = endpoint.path_and_field();
        let body = self
            .call(
                Answer::Verification,
                path,
                Some(serde_json::json!({ field: token }).to_string().into()),
                secret,
            )
            .await?;
        parse_machine_record(&body)
    }
}

// ---------------------------------------------------------------- tracing (issue 17)

/// The subsegment name of a Backend API call in X-Ray.
const TRACE_NAME: &str = "Clerk Backend API";

/// How an attempt ended, for its subsegment (the status it implies).
fn trace_outcome<T>(result: &Result<T, ClerkApiError>) -> crate::xray::Outcome {
    use crate::xray::Outcome;
    match result {
        Ok(_) => Outcome::status(200),
        Err(ClerkApiError::SecretKeyInvalid) => Outcome::status(401),
        Err(ClerkApiError::NotFound) => Outcome::status(404),
        Err(ClerkApiError::RateLimited { .. }) => Outcome::status(429),
        Err(_) => Outcome::fault(),
    }
}
