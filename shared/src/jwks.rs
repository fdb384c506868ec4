//! The key set cache (docs/contract.md, section 4):
//! TTL; a known `kid` never waits on the network while the set is fresh; an unknown `kid` or a bad
//! signature under a cached key triggers at most one refetch per cool-down; concurrent misses
//! share one fetch; a failed refresh keeps serving the last good set up to a hard maximum age.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::Clock;
use crate::error::{AuthError, Reason};
use crate::rsa_key::RsaKey;
use crate::secret::ms;
use crate::ttl_cell::{Failed, Timing, TtlCell};

/// Cache tunables. Every default is the contract's.
#[derive(Debug, Clone, Copy)]
pub struct KeyCacheSettings {
    /// Refresh after this long. Default 5 min.
    pub ttl: Duration,
    /// At most one refetch for an unknown `kid` or a bad signature per this interval. Default 30 s.
    pub cooldown: Duration,
    /// Serve the last good set at most this long after it was fetched while refreshes fail,
    /// then fail closed. Default 1 h.
    pub max_age: Duration,
    /// After a failed fetch, callers get that failure for this long before the next try. Default 1 s.
    pub retry_backoff: Duration,
}

impl Default for KeyCacheSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(300),
            cooldown: Duration::from_secs(30),
            max_age: Duration::from_secs(3600),
            retry_backoff: Duration::from_secs(1),
        }
    }
}

/// A loaded key set. `any_kid`: one networkless key that answers every `kid` (the secret's
/// `CLERK_JWT_KEY`).
#[derive(Debug)]
pub struct KeySet {
    keys: Vec<Arc<RsaKey>>,
    any_kid: bool,
}

impl KeySet {
    pub fn new(keys: Vec<RsaKey>) -> Self {
        Self {
            keys: keys.into_iter().map(Arc::new).collect(),
            any_kid: false,
        }
    }

    pub fn networkless(key: RsaKey) -> Self {
        Self {
            keys: vec![Arc::new(key)],
            any_kid: true,
        }
    }

    /// The keys a token with `kid` may be signed with: every key under that `kid` (the contract
    /// allows two while Clerk rotates under one `kid`), or the networkless key whatever the `kid`.
    pub fn matching<'a>(&'a self, kid: Option<&'a str>) -> impl Iterator<Item = &'a RsaKey> + 'a {
        self.keys
            .iter()
            .filter(move |k| self.any_kid || (kid.is_some() && k.kid() == kid))
            .map(|k| &**k)
    }

    /// Whether some key may have signed a token with `kid`.
    pub fn has(&self, kid: Option<&str>) -> bool {
        self.matching(kid).next().is_some()
    }

    /// Whether `self` has a key for `kid` that `other` lacks.
    fn has_new_key(&self, kid: Option<&str>, other: &KeySet) -> bool {
        self.matching(kid)
            .any(|k| !other.matching(kid).any(|o| o.same_key(k)))
    }

    pub fn len(&self) -> usize {
        self.keys.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }
}

/// The key set cache. The loader (secret + Backend API call) is passed in by the caller, so the
/// state machine is tested with any loader and any clock.
#[derive(Debug)]
pub struct KeyCache {
    settings: KeyCacheSettings,
    cell: TtlCell<KeySet, AuthError>,
}

impl KeyCache {
    pub fn new(settings: KeyCacheSettings, clock: Arc<dyn Clock>) -> Self {
        Self {
            settings,
            cell: TtlCell::new(
                Timing {
                    ttl_ms: ms(settings.ttl),
                    max_age_ms: ms(settings.max_age),
                    retry_backoff_ms: ms(settings.retry_backoff),
                },
                clock,
            ),
        }
    }

    /// A key set with at least one key for `kid`. `load` fetches a whole set; it runs only when
    /// the set is missing or stale, or (once per cool-down) when `kid` is unknown.
    pub async fn keys<F, Fut>(&self, kid: Option<&str>, load: F) -> Result<Arc<KeySet>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<KeySet, AuthError>>,
    {
        let snap = self.cell.snapshot();
        if snap.fresh
            && let Some(set) = &snap.value
        {
            if set.has(kid) {
                return Ok(set.clone());
            }
            if !self.cell.claim_forced(ms(self.settings.cooldown)) {
                return Err(AuthError::unauthorized(Reason::JwkKidMismatch));
            }
            tracing::info!(kid, "unknown kid: refetching the key set");
        }
        match self.cell.refresh(snap.generation, || counted(load())).await {
            Ok(set) if set.has(kid) => Ok(set),
            Ok(_) => Err(AuthError::unauthorized(Reason::JwkKidMismatch)),
            Err(Failed { error, stale }) => match stale.filter(|set| set.has(kid)) {
                Some(set) => {
                    tracing::warn!(error = %error, "key set refresh failed; serving the cached set");
                    Ok(set)
                }
                None => Err(error),
            },
        }
    }

    /// After a bad signature under every key of `used` for `kid` (a rotated key can keep its
    /// `kid`): refetches at most once per cool-down and returns the newer set when it has a key
    /// for `kid` that `used` lacks. A refetch that fails is an outage (the token may be signed by
    /// a key we cannot load), never "signed out".
    pub async fn keys_after_bad_signature<F, Fut>(
        &self,
        kid: Option<&str>,
        used: &KeySet,
        load: F,
    ) -> Result<Option<Arc<KeySet>>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<KeySet, AuthError>>,
    {
        let snap = self.cell.snapshot();
        // Someone already refreshed since this set was read.
        if let Some(set) = snap.value.as_ref().filter(|s| s.has_new_key(kid, used)) {
            return Ok(Some(set.clone()));
        }
        if !self.cell.claim_forced(ms(self.settings.cooldown)) {
            return Ok(None);
        }
        let set = self
            .cell
            .refresh(snap.generation, || counted(load()))
            .await
            .map_err(|Failed { error, .. }| error)?;
        Ok(set.has_new_key(kid, used).then_some(set))
    }
}

/// A key set load, counted in the invocation's metrics (`KeySetFetches`, `KeySetFetchFailures`).
async fn counted(
    load: impl Future<Output = Result<KeySet, AuthError>>,
) -> Result<KeySet, AuthError> {
    let result = load.await;
    crate::metrics::count(crate::metrics::Counter::KeySetFetches);
    if result.is_err() {
        crate::metrics::count(crate::metrics::Counter::KeySetFetchFailures);
    }
    result
}
