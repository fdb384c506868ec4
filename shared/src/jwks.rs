//! The key set cache (contract section 2, cache rules):
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

    pub fn find(&self, kid: Option<&str>) -> Option<Arc<RsaKey>> {
        if self.any_kid {
            return self.keys.first().cloned();
        }
        let kid = kid?;
        self.keys.iter().find(|k| k.kid() == Some(kid)).cloned()
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

    /// The key for `kid`. `load` fetches a whole set; it runs only when the set is missing or
    /// stale, or (once per cool-down) when `kid` is unknown.
    pub async fn key<F, Fut>(&self, kid: Option<&str>, load: F) -> Result<Arc<RsaKey>, AuthError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<KeySet, AuthError>>,
    {
        let snap = self.cell.snapshot();
        if snap.fresh
            && let Some(set) = &snap.value
        {
            if let Some(key) = set.find(kid) {
                return Ok(key);
            }
            if !self.cell.claim_forced(ms(self.settings.cooldown)) {
                return Err(AuthError::unauthorized(Reason::JwkKidMismatch));
            }
            tracing::info!(kid, "unknown kid: refetching the key set");
        }
        match self.cell.refresh(snap.generation, load).await {
            Ok(set) => set
                .find(kid)
                .ok_or(AuthError::unauthorized(Reason::JwkKidMismatch)),
            Err(Failed { error, stale }) => match stale.and_then(|set| set.find(kid)) {
                Some(key) => {
                    tracing::warn!(error = %error, "key set refresh failed; serving the cached set");
                    Ok(key)
                }
                None => Err(error),
            },
        }
    }

    /// After a bad signature under `used` (a rotated key can keep its `kid`): refetches at most
    /// once per cool-down and returns the new key for `kid` if it differs.
    pub async fn key_after_bad_signature<F, Fut>(
        &self,
        kid: Option<&str>,
        used: &RsaKey,
        load: F,
    ) -> Option<Arc<RsaKey>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<KeySet, AuthError>>,
    {
        let snap = self.cell.snapshot();
        // Someone already refreshed since this key was read.
        if let Some(key) = snap.value.as_ref().and_then(|s| s.find(kid))
            && !key.same_key(used)
        {
            return Some(key);
        }
        if !self.cell.claim_forced(ms(self.settings.cooldown)) {
            return None;
        }
        let set = self.cell.refresh(snap.generation, load).await.ok()?;
        set.find(kid).filter(|k| !k.same_key(used))
    }
}
