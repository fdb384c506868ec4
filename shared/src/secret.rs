//! The Clerk secret key, read from AWS Secrets Manager and cached per container (docs/contract.md,
//! section 4).

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;

use crate::clerk_api::ClerkApiError;
use crate::clock::Clock;
use crate::keys::SecretKey;
use crate::rsa_key::RsaKey;
use crate::ttl_cell::{Failed, Timing, TtlCell};

/// How long a cached secret keeps serving while Secrets Manager has transient errors.
pub const SECRET_MAX_STALE: Duration = Duration::from_secs(6 * 3600);
/// At most one forced re-read (Clerk said `clerk_key_invalid`) per this interval.
pub const SECRET_FORCED_REREAD_COOLDOWN: Duration = Duration::from_secs(30);
/// After a failed read, callers get that failure for this long before the next try.
pub const SECRET_RETRY_BACKOFF: Duration = Duration::from_secs(1);

/// Why the secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SecretError {
    #[error("secret not found (or scheduled for deletion): {0}")]
    NotFound(String),
    #[error("access to the secret was denied: {0}")]
    AccessDenied(String),
    #[error("the secret is not a Clerk secret key: {0}")]
    Malformed(String),
    #[error("Secrets Manager is unavailable: {0}")]
    Transient(String),
}

impl SecretError {
    /// Transient errors let a cached secret keep serving; the others mean the secret is gone.
    pub fn is_transient(&self) -> bool {
        matches!(self, SecretError::Transient(_))
    }
}

/// A Backend API call made with the secret failed, or the secret could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretCallError {
    #[error(transparent)]
    Secret(SecretError),
    #[error(transparent)]
    Clerk(ClerkApiError),
}

/// What the secret holds: the secret key, and optionally the instance's PEM public key.
#[derive(Clone)]
pub struct SecretMaterial {
    pub secret_key: SecretKey,
    pub jwt_key: Option<RsaKey>,
}

impl fmt::Debug for SecretMaterial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretMaterial")
            .field("secret_key", &self.secret_key)
            .field("jwt_key", &self.jwt_key)
            .finish()
    }
}

impl SecretMaterial {
    /// The bare `sk_...` string, or JSON `{"CLERK_SECRET_KEY": "sk_...", "CLERK_JWT_KEY": "-----BEGIN..."}`.
    pub fn parse(raw: &str) -> Result<Self, SecretError> {
        let raw = raw.trim();
        if raw.starts_with('{') {
            #[derive(Deserialize)]
            struct Json {
                #[serde(rename = "CLERK_SECRET_KEY")]
                secret_key: Option<String>,
                #[serde(rename = "CLERK_JWT_KEY")]
                jwt_key: Option<String>,
            }
            let json: Json = serde_json::from_str(raw).map_err(|_| {
                SecretError::Malformed("JSON secret is not an object of strings".into())
            })?;
            let secret_key = json.secret_key.ok_or_else(|| {
                SecretError::Malformed("JSON secret has no CLERK_SECRET_KEY".into())
            })?;
            let secret_key = SecretKey::parse(&secret_key)
                .map_err(|e| SecretError::Malformed(format!("CLERK_SECRET_KEY {e}")))?;
            let jwt_key = match json.jwt_key.filter(|k| !k.trim().is_empty()) {
                Some(pem) => Some(
                    RsaKey::from_pem(&pem, None)
                        .map_err(|e| SecretError::Malformed(format!("CLERK_JWT_KEY: {e}")))?,
                ),
                None => None,
            };
            Ok(Self {
                secret_key,
                jwt_key,
            })
        } else {
            let secret_key = SecretKey::parse(raw).map_err(|e| {
                SecretError::Malformed(format!("expected sk_... or a JSON object: {e}"))
            })?;
            Ok(Self {
                secret_key,
                jwt_key: None,
            })
        }
    }
}

#[cfg(feature = "aws")]
mod aws;
#[cfg(feature = "aws")]
pub use aws::AwsSecretSource;

/// The seam in front of Secrets Manager.
#[async_trait]
pub trait SecretSource: Send + Sync + fmt::Debug {
    /// The secret's string value.
    async fn fetch(&self) -> Result<String, SecretError>;
}

/// The secret, cached per container: TTL, stale on transient errors, single flight, and a forced,
/// rate-limited re-read when Clerk rejects the key.
#[derive(Debug)]
pub struct SecretCache {
    source: Arc<dyn SecretSource>,
    cell: TtlCell<SecretMaterial, SecretError>,
}

impl SecretCache {
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            cell: TtlCell::new(
                Timing {
                    ttl_ms: ms(ttl),
                    max_age_ms: ms(SECRET_MAX_STALE),
                    retry_backoff_ms: ms(SECRET_RETRY_BACKOFF),
                },
                clock,
            ),
        }
    }

    /// The current secret: cached while fresh, read again after the TTL.
    pub async fn get(&self) -> Result<Arc<SecretMaterial>, SecretError> {
        let snap = self.cell.snapshot();
        if snap.fresh
            && let Some(v) = snap.value
        {
            return Ok(v);
        }
        self.refresh(snap.generation).await
    }

    /// Runs a Backend API `call` with the current secret. When Clerk rejects the key
    /// (`clerk_key_invalid`: rotated since it was read), reads the secret again (at most once per
    /// cool-down) and, when it changed, calls once more with the new one.
    pub async fn call<T, F, Fut>(&self, call: F) -> Result<T, SecretCallError>
    where
        F: Fn(Arc<SecretMaterial>) -> Fut,
        Fut: Future<Output = Result<T, ClerkApiError>>,
    {
        let secret = self.get().await.map_err(SecretCallError::Secret)?;
        let rejected = match call(secret.clone()).await {
            Err(ClerkApiError::SecretKeyInvalid) => secret.secret_key.clone(),
            other => return other.map_err(SecretCallError::Clerk),
        };
        let Some(newer) = self.reread_after_rejection(&rejected).await else {
            return Err(SecretCallError::Clerk(ClerkApiError::SecretKeyInvalid));
        };
        tracing::info!("secret key changed after clerk_key_invalid; retrying with the new one");
        call(newer).await.map_err(SecretCallError::Clerk)
    }

    /// Called when Clerk answered `clerk_key_invalid` for `rejected`: reads the secret again (at
    /// most once per cool-down) and returns it if it changed.
    pub async fn reread_after_rejection(
        &self,
        rejected: &SecretKey,
    ) -> Option<Arc<SecretMaterial>> {
        let snap = self.cell.snapshot();
        if let Some(current) = &snap.value
            && current.secret_key != *rejected
        {
            return Some(current.clone());
        }
        if !self.cell.claim_forced(ms(SECRET_FORCED_REREAD_COOLDOWN)) {
            return None;
        }
        let fresh = self.refresh(snap.generation).await.ok()?;
        (fresh.secret_key != *rejected).then_some(fresh)
    }

    async fn refresh(&self, seen: u64) -> Result<Arc<SecretMaterial>, SecretError> {
        let source = self.source.clone();
        let result = self
            .cell
            .refresh(seen, || async move {
                let read = match source.fetch().await {
                    Ok(raw) => SecretMaterial::parse(&raw),
                    Err(e) => Err(e),
                };
                crate::metrics::count(crate::metrics::Counter::SecretFetches);
                if read.is_err() {
                    crate::metrics::count(crate::metrics::Counter::SecretFetchFailures);
                }
                read
            })
            .await;
        match result {
            Ok(v) => Ok(v),
            Err(Failed { error, stale }) => match stale {
                Some(v) if error.is_transient() => {
                    tracing::warn!(error = %error, "secret refresh failed; serving the cached secret");
                    Ok(v)
                }
                _ => {
                    if !error.is_transient() {
                        self.cell.clear();
                    }
                    Err(error)
                }
            },
        }
    }
}

pub(crate) fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_both_forms_and_redacts() {
        let m = SecretMaterial::parse("  sk_test_abc123\n").unwrap();
        assert_eq!(m.secret_key.expose(), "sk_test_abc123");
        assert!(m.jwt_key.is_none());
        let m = SecretMaterial::parse(r#"{"CLERK_SECRET_KEY":"sk_live_xyz"}"#).unwrap();
        assert_eq!(m.secret_key.expose(), "sk_live_xyz");
        assert!(!format!("{m:?}").contains("xyz"));
        for bad in [
            "",
            "pk_test_abc",
            "{}",
            r#"{"CLERK_SECRET_KEY": 5}"#,
            r#"{"CLERK_SECRET_KEY":"sk_test_a","CLERK_JWT_KEY":"nope"}"#,
            "{not json",
        ] {
            let err = SecretMaterial::parse(bad).unwrap_err();
            assert!(matches!(err, SecretError::Malformed(_)), "{bad}: {err}");
            assert!(!err.to_string().contains("sk_test_a"), "{err}");
        }
    }
}
