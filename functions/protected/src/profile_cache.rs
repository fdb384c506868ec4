//! A short per-user cache of Clerk profiles: a page that calls `/api/me` on every render must not
//! spend the instance's Backend API rate limit (100 requests / 10 s in development).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::clerk_api::UserProfile;
use shared::clock::Clock;

/// How long a profile is served from memory.
pub const PROFILE_TTL: Duration = Duration::from_secs(30);
/// Most profiles kept; beyond it expired entries go first, then everything.
pub const MAX_PROFILES: usize = 1024;

#[derive(Debug)]
pub struct ProfileCache {
    clock: Arc<dyn Clock>,
    entries: Mutex<HashMap<String, (Arc<UserProfile>, u64)>>,
}

impl ProfileCache {
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self {
            clock,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn ttl_ms() -> u64 {
        u64::try_from(PROFILE_TTL.as_millis()).unwrap_or(u64::MAX)
    }

    pub fn get(&self, user_id: &str) -> Option<Arc<UserProfile>> {
        let now = self.clock.now_ms();
        let entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries
            .get(user_id)
            .filter(|(_, at)| now.saturating_sub(*at) < Self::ttl_ms())
            .map(|(p, _)| p.clone())
    }

    pub fn put(&self, profile: Arc<UserProfile>) {
        let now = self.clock.now_ms();
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if entries.len() >= MAX_PROFILES {
            entries.retain(|_, (_, at)| now.saturating_sub(*at) < Self::ttl_ms());
            if entries.len() >= MAX_PROFILES {
                entries.clear();
            }
        }
        entries.insert(profile.id.clone(), (profile, now));
    }

    pub fn remove(&self, user_id: &str) {
        let mut entries = self
            .entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        entries.remove(user_id);
    }
}
