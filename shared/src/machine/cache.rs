//! The positive cache of opaque machine tokens: a verified answer is reused for at most
//! min(configured TTL, [`MAX_TTL`], the token's own expiry), so a revoked key stops working
//! within that bound. Keyed by the SHA-256 of the token: the token itself is never kept.
//! Refusals are not cached: a key Clerk does not know yet (just created) works at once, and a
//! flood of bad keys costs Clerk calls, not wrong answers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use super::principal::Principal;
use crate::clock::Clock;

/// The longest an answer is reused, whatever is configured.
pub const MAX_TTL: Duration = Duration::from_secs(60);

/// A token's cache key: SHA-256 of its bytes.
pub type Digest = [u8; 32];

pub fn digest(token: &str) -> Digest {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, token.as_bytes());
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

#[derive(Debug)]
pub struct TokenCache {
    clock: Arc<dyn Clock>,
    ttl_ms: u64,
    capacity: usize,
    entries: Mutex<HashMap<Digest, (Arc<Principal>, u64)>>,
}

impl TokenCache {
    /// `ttl` is capped at [`MAX_TTL`]; zero (or a zero capacity) caches nothing.
    pub fn new(ttl: Duration, capacity: usize, clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            ttl_ms: u64::try_from(ttl.min(MAX_TTL).as_millis()).unwrap_or(0),
            capacity,
            entries: Mutex::new(HashMap::new()),
        }
    }

    pub fn get(&self, key: &Digest) -> Option<Arc<Principal>> {
        let now = self.clock.now_ms();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        match entries.get(key) {
            Some((p, until)) if now < *until => Some(p.clone()),
            Some(_) => {
                entries.remove(key);
                None
            }
            None => None,
        }
    }

    /// Keeps `principal` until the TTL or `expires_at_ms` (the token's expiry), whichever is
    /// first. When full: expired entries go, then the one closest to expiry.
    pub fn put(&self, key: Digest, principal: Arc<Principal>, expires_at_ms: Option<u64>) {
        if self.ttl_ms == 0 || self.capacity == 0 {
            return;
        }
        let now = self.clock.now_ms();
        let until = now
            .saturating_add(self.ttl_ms)
            .min(expires_at_ms.unwrap_or(u64::MAX));
        if until <= now {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity && !entries.contains_key(&key) {
            entries.retain(|_, (_, u)| now < *u);
            if entries.len() >= self.capacity
                && let Some(first) = entries.iter().min_by_key(|(_, (_, u))| *u).map(|(k, _)| *k)
            {
                entries.remove(&first);
            }
        }
        entries.insert(key, (principal, until));
    }

    pub fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::ManualClock;
    use crate::machine::principal::Owner;
    use serde_json::Value;

    fn key_principal(n: u32) -> Arc<Principal> {
        Arc::new(Principal::ApiKey {
            key_id: Some(format!("ak_id_{n}")),
            name: None,
            owner: Owner::User("user_1".into()),
            scopes: vec![],
            claims: Value::Null,
        })
    }

    #[test]
    fn an_answer_lives_until_the_ttl_or_the_token_expiry_whichever_is_first() {
        let clock = ManualClock::new(1_000_000);
        let cache = TokenCache::new(Duration::from_secs(30), 10, clock.clone());
        cache.put(digest("ak_a"), key_principal(1), None);
        cache.put(digest("ak_b"), key_principal(2), Some(1_000_000 + 5_000));
        clock.advance(4_999);
        assert!(cache.get(&digest("ak_a")).is_some());
        assert!(cache.get(&digest("ak_b")).is_some());
        clock.advance(1);
        assert!(
            cache.get(&digest("ak_b")).is_none(),
            "token expiry bounds the cache"
        );
        clock.advance(25_000 - 1);
        assert!(cache.get(&digest("ak_a")).is_some());
        clock.advance(1);
        assert!(cache.get(&digest("ak_a")).is_none(), "ttl bounds the cache");
    }

    #[test]
    fn the_ttl_is_capped_at_a_minute_and_zero_disables() {
        let clock = ManualClock::new(0);
        let cache = TokenCache::new(Duration::from_secs(3600), 10, clock.clone());
        cache.put(digest("ak_a"), key_principal(1), None);
        clock.advance(60_000);
        assert!(cache.get(&digest("ak_a")).is_none());
        let off = TokenCache::new(Duration::ZERO, 10, clock.clone());
        off.put(digest("ak_a"), key_principal(1), None);
        assert!(off.is_empty());
        // An already expired token is never cached.
        let cache = TokenCache::new(Duration::from_secs(30), 10, clock.clone());
        cache.put(digest("ak_a"), key_principal(1), Some(clock.now_ms()));
        assert!(cache.is_empty());
    }

    #[test]
    fn the_size_is_bounded_and_the_soonest_to_expire_goes_first() {
        let clock = ManualClock::new(0);
        let cache = TokenCache::new(Duration::from_secs(30), 3, clock.clone());
        cache.put(digest("a"), key_principal(1), Some(10_000));
        cache.put(digest("b"), key_principal(2), None);
        cache.put(digest("c"), key_principal(3), None);
        cache.put(digest("d"), key_principal(4), None);
        assert_eq!(cache.len(), 3);
        assert!(cache.get(&digest("a")).is_none());
        assert!(cache.get(&digest("d")).is_some());
    }

    #[test]
    fn the_key_is_a_digest_not_the_token() {
        let d = digest("ak_secret");
        assert_eq!(d.len(), 32);
        assert_ne!(&d[..9], b"ak_secret");
        assert_ne!(digest("ak_secret"), digest("ak_secreT"));
    }
}
