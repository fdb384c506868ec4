//! Signatures already verified in this container (docs/contract.md, section 4).
//!
//! A warm function sees the same session token many times: Clerk's tokens live 60 s and a page
//! makes several calls with one. The RSA check is nearly all of the cost of a verification, so a
//! token whose signature this container has checked with a key is not checked again with that
//! key. Every other check (structure, `alg`, claims, time) still runs on every request, so the
//! outcome is the same as without the cache.
//!
//! An entry is the SHA-256 digest of (the key's SPKI digest, the signed part, the signature): a hit
//! needs this exact token and this exact key material, so a rotated key, even under the same
//! `kid`, never matches. No token is stored, only digests, each with its `exp` for eviction.
//! Bounded: at capacity, expired entries go first, then everything.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use aws_lc_rs::digest;

use crate::rsa_key::RsaKey;

/// Default number of entries (a digest and an `exp` each: about 100 KiB at most).
pub const DEFAULT_CAPACITY: usize = 1024;

pub(crate) type Digest = [u8; 32];

/// See the module documentation.
pub struct SignatureCache {
    capacity: usize,
    entries: Mutex<HashMap<Digest, i64>>,
    hits: AtomicU64,
    misses: AtomicU64,
}

impl SignatureCache {
    /// A cache of at most `capacity` entries (at least 1).
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        }
    }

    pub(crate) fn digest(key: &RsaKey, signing_input: &str, signature: &[u8]) -> Digest {
        let mut ctx = digest::Context::new(&digest::SHA256);
        ctx.update(key.fingerprint());
        ctx.update(signing_input.as_bytes());
        ctx.update(b".");
        ctx.update(signature);
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        out
    }

    pub(crate) fn contains(&self, d: &Digest) -> bool {
        let hit = self.lock().contains_key(d);
        let counter = if hit { &self.hits } else { &self.misses };
        counter.fetch_add(1, Ordering::Relaxed);
        crate::metrics::count(if hit {
            crate::metrics::Counter::SignatureCacheHits
        } else {
            crate::metrics::Counter::SignatureCacheMisses
        });
        hit
    }

    /// Records a token that passed every check; `exp` and `now` in seconds.
    pub(crate) fn insert(&self, d: Digest, exp: i64, now: i64) {
        let mut entries = self.lock();
        if entries.len() >= self.capacity && !entries.contains_key(&d) {
            entries.retain(|_, e| *e >= now);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(d, exp);
    }

    /// Entries held now.
    pub fn len(&self) -> usize {
        self.lock().len()
    }
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Lookups that skipped the RSA check, and lookups that did not.
    pub fn stats(&self) -> (u64, u64) {
        (
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed),
        )
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Digest, i64>> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl fmt::Debug for SignatureCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (hits, misses) = self.stats();
        f.debug_struct("SignatureCache")
            .field("capacity", &self.capacity)
            .field("len", &self.len())
            .field("hits", &hits)
            .field("misses", &misses)
            .finish()
    }
}
