//! Authentication: token -> verified [`Session`], with keys from the PEM or from the cached key
//! set (filled from Clerk with the secret from Secrets Manager): docs/contract.md, sections 2 and 3.

use std::fmt;
use std::sync::Arc;

use crate::clerk_api::{Call, KeyFetcher};
use crate::clock::Clock;
use crate::config::{Config, ConfigError};
use crate::error::{AuthError, DEFAULT_RETRY_AFTER, Reason};
use crate::jwks::{KeyCache, KeyCacheSettings, KeySet};
use crate::rsa_key::RsaKey;
use crate::secret::{SecretCache, SecretCallError, SecretError};
use crate::session::Session;
use crate::verify::Verifier;

/// Verifies session tokens. Cheap to share (`Arc`) across requests.
#[derive(Debug)]
pub struct Authenticator {
    verifier: Verifier,
    source: KeySource,
}

enum KeySource {
    /// Networkless: `CLERK_JWT_KEY`.
    Pem(Arc<RsaKey>),
    /// The Backend API key set (or the secret's own `CLERK_JWT_KEY`).
    Remote(Box<Remote>),
}

impl fmt::Debug for KeySource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeySource::Pem(k) => f.debug_tuple("Pem").field(k).finish(),
            KeySource::Remote(r) => f.debug_tuple("Remote").field(&r.cache).finish(),
        }
    }
}

struct Remote {
    secrets: Arc<SecretCache>,
    fetcher: Arc<dyn KeyFetcher>,
    cache: KeyCache,
}

impl Authenticator {
    /// Networkless verification with the instance's PEM key: no network call at all.
    pub fn networkless(verifier: Verifier, key: RsaKey) -> Self {
        Self {
            verifier,
            source: KeySource::Pem(Arc::new(key)),
        }
    }

    /// Verification against the Backend API key set, read with the cached secret.
    pub fn remote(
        verifier: Verifier,
        secrets: Arc<SecretCache>,
        fetcher: Arc<dyn KeyFetcher>,
        settings: KeyCacheSettings,
    ) -> Self {
        let cache = KeyCache::new(settings, verifier.clock().clone());
        Self {
            verifier,
            source: KeySource::Remote(Box::new(Remote {
                secrets,
                fetcher,
                cache,
            })),
        }
    }

    /// The authenticator a configuration describes: networkless when `CLERK_JWT_KEY` is set,
    /// else the key set through `secrets` (required then) and `fetcher`.
    pub fn from_config(
        config: &Config,
        secrets: Option<Arc<SecretCache>>,
        fetcher: Arc<dyn KeyFetcher>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let verifier = Verifier::from_config(config)?.with_clock(clock);
        if let Some(key) = &config.jwt_key {
            return Ok(Self::networkless(verifier, key.clone()));
        }
        let secrets = secrets.ok_or_else(|| {
            ConfigError::new(
                "CLERK_SECRET_ID",
                "is required when CLERK_JWT_KEY is not set (the key set is read with the secret key)",
            )
        })?;
        Ok(Self::remote(verifier, secrets, fetcher, config.key_cache))
    }

    pub fn verifier(&self) -> &Verifier {
        &self.verifier
    }

    /// Verifies `token`: every check of the contract, in its order.
    pub async fn authenticate(&self, token: &str) -> Result<Session, AuthError> {
        let decoded = self.verifier.decode(token).map_err(token_error)?;
        match &self.source {
            KeySource::Pem(key) => self
                .verifier
                .verify_decoded(&decoded, key)
                .map_err(token_error),
            KeySource::Remote(remote) => {
                let kid = decoded.kid();
                let keys = remote.cache.keys(kid, || remote.load()).await?;
                match self.verifier.verify_with(&decoded, &keys) {
                    Err(Reason::TokenInvalidSignature) => {
                        match remote
                            .cache
                            .keys_after_bad_signature(kid, &keys, || remote.load())
                            .await?
                        {
                            Some(newer) => {
                                tracing::info!(kid, "signing key changed under the same kid");
                                self.verifier
                                    .verify_with(&decoded, &newer)
                                    .map_err(token_error)
                            }
                            None => Err(token_error(Reason::TokenInvalidSignature)),
                        }
                    }
                    other => other.map_err(token_error),
                }
            }
        }
    }

    /// The instance's keys that may have signed a token with `kid`, from the same PEM or cached
    /// key set as session tokens: the JWT forms of machine tokens ([`crate::machine`]).
    pub async fn instance_keys(&self, kid: Option<&str>) -> Result<Arc<KeySet>, AuthError> {
        match &self.source {
            KeySource::Pem(key) => Ok(Arc::new(KeySet::networkless((**key).clone()))),
            KeySource::Remote(remote) => remote.cache.keys(kid, || remote.load()).await,
        }
    }

    /// Loads the secret and the key set ahead of the first request (Lambda init phase). An error
    /// is for the log: the next request tries again.
    pub async fn warm(&self) -> Result<(), AuthError> {
        match &self.source {
            KeySource::Pem(_) => Ok(()),
            KeySource::Remote(remote) => {
                // Any kid: a miss still loads the set.
                match remote.cache.keys(Some(""), || remote.load()).await {
                    Ok(_) => Ok(()),
                    Err(AuthError::Unauthorized { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            }
        }
    }
}

fn token_error(reason: Reason) -> AuthError {
    AuthError::Unauthorized {
        reason,
        token_sent: true,
    }
}

impl Remote {
    async fn load(&self) -> Result<KeySet, AuthError> {
        let fetcher = &self.fetcher;
        self.secrets
            .call(|secret| async move {
                if let Some(key) = &secret.jwt_key {
                    return Ok(KeySet::networkless(key.clone()));
                }
                fetcher
                    .fetch_keys(&secret.secret_key)
                    .await
                    .map(KeySet::new)
            })
            .await
            .map_err(|e| match e {
                SecretCallError::Secret(e) => secret_error(e),
                SecretCallError::Clerk(e) => AuthError::Unavailable {
                    reason: e.reason(Call::KeySet),
                    retry_after: e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
                    detail: e.to_string(),
                },
            })
    }
}

/// A secret that cannot be read: transient -> 503; gone, denied or malformed -> 500.
pub fn secret_error(e: SecretError) -> AuthError {
    if e.is_transient() {
        AuthError::unavailable(Reason::SecretUnavailable, e.to_string())
    } else {
        AuthError::Misconfigured(e.to_string())
    }
}
