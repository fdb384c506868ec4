//! The signing secret, from Secrets Manager (readable by this function only), cached per
//! container and read again after a TTL so that a rotation reaches a warm container.
//!
//! The secret's value: `{"CLERK_WEBHOOK_SIGNING_SECRET": "whsec_..."}`, or the bare `whsec_...`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::Deserialize;
use shared::clock::Clock;
use shared::secret::SecretSource;

use crate::signature::{KeyError, WebhookKey};

/// The name the secret's field (and every message about it) goes by.
pub const SECRET_FIELD: &str = "CLERK_WEBHOOK_SIGNING_SECRET";
/// How long a read secret is used before it is read again.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);

/// The signing secret from the secret's text.
pub fn parse(raw: &str) -> Result<WebhookKey, String> {
    let raw = raw.trim();
    let key = if raw.starts_with('{') {
        #[derive(Deserialize)]
        struct Json {
            #[serde(rename = "CLERK_WEBHOOK_SIGNING_SECRET")]
            secret: Option<String>,
        }
        let json: Json = serde_json::from_str(raw)
            .map_err(|_| format!("the secret is JSON but not an object with {SECRET_FIELD}"))?;
        json.secret
            .ok_or_else(|| format!("the JSON secret has no {SECRET_FIELD}"))?
    } else {
        raw.to_owned()
    };
    WebhookKey::parse(&key).map_err(|e: KeyError| format!("{SECRET_FIELD} {e}"))
}

#[derive(Debug)]
struct Cached {
    key: Arc<WebhookKey>,
    read_at_ms: u64,
}

/// The secret, cached: fresh for the TTL; while Secrets Manager fails transiently, the last one
/// read keeps serving. One request at a time per container: no lock is held across the read.
#[derive(Debug)]
pub struct WebhookSecret {
    source: Arc<dyn SecretSource>,
    ttl_ms: u64,
    clock: Arc<dyn Clock>,
    cached: Mutex<Option<Cached>>,
}

/// Why there is no signing secret to check with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretReadError {
    /// Secrets Manager is unavailable and nothing is cached: 503.
    #[error("{0}")]
    Unavailable(String),
    /// The secret is missing, denied or not a signing secret: a deployment error, 500.
    #[error("{0}")]
    Invalid(String),
}

impl WebhookSecret {
    pub fn new(source: Arc<dyn SecretSource>, ttl: Duration, clock: Arc<dyn Clock>) -> Self {
        Self {
            source,
            ttl_ms: u64::try_from(ttl.as_millis()).unwrap_or(u64::MAX),
            clock,
            cached: Mutex::new(None),
        }
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Cached>> {
        self.cached
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The signing secret: cached while fresh, else read (the stale one on a transient failure).
    pub async fn get(&self) -> Result<Arc<WebhookKey>, SecretReadError> {
        let now = self.clock.now_ms();
        let stale = match &*self.slot() {
            Some(c) if now.saturating_sub(c.read_at_ms) < self.ttl_ms => return Ok(c.key.clone()),
            Some(c) => Some(c.key.clone()),
            None => None,
        };
        match self.source.fetch().await {
            Ok(raw) => {
                let key = Arc::new(parse(&raw).map_err(SecretReadError::Invalid)?);
                *self.slot() = Some(Cached {
                    key: key.clone(),
                    read_at_ms: self.clock.now_ms(),
                });
                Ok(key)
            }
            Err(e) if e.is_transient() => match stale {
                Some(key) => {
                    tracing::warn!(error = %e, "signing secret refresh failed; using the cached one");
                    Ok(key)
                }
                None => Err(SecretReadError::Unavailable(e.to_string())),
            },
            Err(e) => {
                *self.slot() = None;
                Err(SecretReadError::Invalid(e.to_string()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use shared::clock::ManualClock;

    const KEY: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

    use shared::secret::SecretError;
    use test_support::FakeSecretSource;

    #[tokio::test]
    async fn cached_for_the_ttl_then_read_again_and_stale_only_on_transient_errors() {
        let source = FakeSecretSource::new(KEY);
        let clock = ManualClock::new(1_000_000);
        let secret = WebhookSecret::new(source.clone(), Duration::from_secs(300), clock.clone());
        secret.get().await.unwrap();
        secret.get().await.unwrap();
        assert_eq!(source.reads(), 1);
        clock.advance(299_999);
        secret.get().await.unwrap();
        assert_eq!(source.reads(), 1);
        clock.advance(1);
        source.set(Err(SecretError::Transient("throttled".into())));
        secret.get().await.unwrap();
        assert_eq!(
            source.reads(),
            2,
            "read again after the TTL; the cached one served"
        );
        source.set(Err(SecretError::NotFound("webhooks/x".into())));
        assert!(matches!(
            secret.get().await,
            Err(SecretReadError::Invalid(_))
        ));
        source.set(Err(SecretError::Transient("down".into())));
        assert!(
            matches!(secret.get().await, Err(SecretReadError::Unavailable(_))),
            "a deleted secret is not served stale"
        );
        source.set(Ok("whsec_c2hvcnQ=".into()));
        let e = secret.get().await.unwrap_err();
        assert!(
            matches!(&e, SecretReadError::Invalid(m) if m.contains(SECRET_FIELD)),
            "{e:?}"
        );
    }

    #[test]
    fn both_forms_parse_and_errors_name_the_field_not_the_key() {
        assert!(parse(KEY).is_ok());
        assert!(parse(&format!(r#"{{"CLERK_WEBHOOK_SIGNING_SECRET":"{KEY}"}}"#)).is_ok());
        for bad in [
            "",
            "{}",
            r#"{"CLERK_WEBHOOK_SIGNING_SECRET": 5}"#,
            r#"{"CLERK_WEBHOOK_SIGNING_SECRET": "whsec_c2hvcnQ="}"#,
            "whsec_c2hvcnQ=",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "{not json",
        ] {
            let e = parse(bad).unwrap_err();
            assert!(e.contains(SECRET_FIELD), "{bad}: {e}");
            assert!(!e.contains("c2hvcnQ") && !e.contains("MfKQ"), "{e}");
        }
    }
}
