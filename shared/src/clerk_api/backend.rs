//! The Backend API client over the process's HTTP stack ([`crate::https`]). Feature `aws`.
//! The calls and their answers: docs/contract.md, section 7.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use super::{
    CLERK_API_VERSION, ClerkApiError, ClerkUser, KeyFetcher, MAX_ATTEMPTS, MAX_BODY_BYTES,
    UserDirectory, UserProfile, is_valid_user_id, parse_jwks,
};
use crate::keys::SecretKey;
use crate::rsa_key::RsaKey;

type Client = hyper_util::client::legacy::Client<
    crate::https::Connector,
    http_body_util::Empty<bytes::Bytes>,
>;

/// A whole request, body included (connection set-up: [`crate::https::CONNECT_TIMEOUT`]).
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

/// The Backend API over HTTPS (or plain HTTP to a loopback stand-in). Redirects are never
/// followed (hyper does not), so a 3xx is an error like any non-200.
#[derive(Clone)]
pub struct ClerkBackend {
    http: Client,
    api_url: String,
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
            api_url: api_url.into().trim_end_matches('/').to_owned(),
            retry_backoff: (Duration::from_millis(50), Duration::from_millis(150)),
        })
    }

    /// The wait before a retry, drawn between `min` and `max` (default 50 to 150 ms). Tests on a
    /// manual clock set zero, so that no test sleeps in real time.
    pub fn with_retry_backoff(mut self, min: Duration, max: Duration) -> Self {
        self.retry_backoff = (min, max.max(min));
        self
    }

    async fn get(&self, path: &str, secret: &SecretKey) -> Result<Vec<u8>, ClerkApiError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.get_once(path, secret).await {
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

    async fn get_once(&self, path: &str, secret: &SecretKey) -> Result<Vec<u8>, ClerkApiError> {
        match tokio::time::timeout(REQUEST_TIMEOUT, self.get_within_timeout(path, secret)).await {
            Ok(result) => result,
            Err(_) => Err(ClerkApiError::Unavailable(format!("{path}: timeout"))),
        }
    }

    async fn get_within_timeout(
        &self,
        path: &str,
        secret: &SecretKey,
    ) -> Result<Vec<u8>, ClerkApiError> {
        use http_body_util::BodyExt as _;
        let url = format!("{}{}", self.api_url, path);
        let bearer = http::HeaderValue::from_str(&format!("Bearer {}", secret.expose()))
            .map_err(|_| ClerkApiError::SecretKeyInvalid)?;
        let req = http::Request::get(url)
            .header(http::header::AUTHORIZATION, bearer)
            .header("clerk-api-version", CLERK_API_VERSION)
            .header(http::header::ACCEPT, "application/json")
            .header(
                http::header::USER_AGENT,
                concat!("clerk-lambda-rust/", env!("CARGO_PKG_VERSION")),
            )
            .body(http_body_util::Empty::new())
            .map_err(|_| ClerkApiError::Unavailable(format!("{path}: bad request")))?;
        let resp = self.http.request(req).await.map_err(|e| {
            ClerkApiError::Unavailable(if e.is_connect() {
                "connection failed".into()
            } else {
                "request failed".into()
            })
        })?;
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
                ClerkApiError::Unavailable(format!(
                    "{path}: unreadable or over {MAX_BODY_BYTES} bytes"
                ))
            })?
            .to_bytes()
            .to_vec();
        match status.as_u16() {
            200 => Ok(body),
            401 | 403 if is_key_invalid(&body) || status.as_u16() == 401 => {
                Err(ClerkApiError::SecretKeyInvalid)
            }
            404 => Err(ClerkApiError::NotFound),
            429 => Err(ClerkApiError::RateLimited {
                retry_after: retry.unwrap_or(Duration::from_secs(10)),
            }),
            code => Err(ClerkApiError::Unavailable(format!("{path}: HTTP {code}"))),
        }
    }
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
        let body = self.get("/v1/jwks", secret).await?;
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
        let body = self.get(&format!("/v1/users/{user_id}"), secret).await?;
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
