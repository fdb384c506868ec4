//! One refreshable value with a TTL: the common core of the secret cache and the key cache
//! (docs/contract.md, section 4).
//!
//! - Readers never wait while the value is fresh: a read lock, an `Arc` clone.
//! - Refreshes are single flight: one caller fetches, concurrent callers wait on the gate and then
//!   take its result (the generation tells them a refresh happened meanwhile).
//! - A failed refresh is remembered for `retry_backoff`: callers inside that window get the same
//!   error at once instead of piling onto a struggling server.
//! - The last good value stays usable up to `max_age` after it was fetched (stale on error); the
//!   caller decides whether a given error allows it.
//!
//! The data lock is never held across an `.await`; only the refresh gate is.

use std::future::Future;
use std::sync::{Arc, RwLock};

use crate::clock::Clock;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Timing {
    pub ttl_ms: u64,
    pub max_age_ms: u64,
    pub retry_backoff_ms: u64,
}

#[derive(Debug)]
struct State<T, E> {
    value: Option<(Arc<T>, u64)>,
    generation: u64,
    last_failure: Option<(u64, E)>,
    last_forced_ms: Option<u64>,
}

/// A snapshot of the cell.
#[derive(Debug)]
pub(crate) struct Snapshot<T> {
    pub value: Option<Arc<T>>,
    pub fresh: bool,
    pub generation: u64,
}

/// A refresh that failed, with the last good value when it is still within `max_age`.
#[derive(Debug)]
pub(crate) struct Failed<T, E> {
    pub error: E,
    pub stale: Option<Arc<T>>,
}

#[derive(Debug)]
pub(crate) struct TtlCell<T, E> {
    timing: Timing,
    clock: Arc<dyn Clock>,
    state: RwLock<State<T, E>>,
    gate: tokio::sync::Mutex<()>,
}

impl<T, E: Clone> TtlCell<T, E> {
    pub fn new(timing: Timing, clock: Arc<dyn Clock>) -> Self {
        Self {
            timing,
            clock,
            state: RwLock::new(State {
                value: None,
                generation: 0,
                last_failure: None,
                last_forced_ms: None,
            }),
            gate: tokio::sync::Mutex::new(()),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State<T, E>> {
        // A panic while holding the lock cannot leave the state half-written (plain stores).
        self.state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, State<T, E>> {
        self.state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub fn snapshot(&self) -> Snapshot<T> {
        let now = self.clock.now_ms();
        let st = self.read();
        match &st.value {
            Some((v, at)) => Snapshot {
                value: Some(v.clone()),
                fresh: now.saturating_sub(*at) < self.timing.ttl_ms,
                generation: st.generation,
            },
            None => Snapshot {
                value: None,
                fresh: false,
                generation: st.generation,
            },
        }
    }

    fn usable_stale(&self, st: &State<T, E>, now: u64) -> Option<Arc<T>> {
        st.value
            .as_ref()
            .filter(|(_, at)| now.saturating_sub(*at) < self.timing.max_age_ms)
            .map(|(v, _)| v.clone())
    }

    /// Claims the right to a forced refresh (unknown `kid`, bad signature, invalid secret): true
    /// at most once per `cooldown_ms`.
    pub fn claim_forced(&self, cooldown_ms: u64) -> bool {
        let now = self.clock.now_ms();
        let mut st = self.write();
        match st.last_forced_ms {
            Some(at) if now.saturating_sub(at) < cooldown_ms => false,
            _ => {
                st.last_forced_ms = Some(now);
                true
            }
        }
    }

    /// Refreshes, unless another caller refreshed since `seen_generation` (then its value is
    /// returned) or a refresh failed within the retry back-off (then its error is).
    pub async fn refresh<F, Fut>(
        &self,
        seen_generation: u64,
        fetch: F,
    ) -> Result<Arc<T>, Failed<T, E>>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let _gate = self.gate.lock().await;
        let now = self.clock.now_ms();
        {
            let st = self.read();
            if st.generation != seen_generation
                && let Some((v, _)) = &st.value
            {
                return Ok(v.clone());
            }
            if let Some((at, error)) = &st.last_failure
                && now.saturating_sub(*at) < self.timing.retry_backoff_ms
            {
                return Err(Failed {
                    error: error.clone(),
                    stale: self.usable_stale(&st, now),
                });
            }
        }
        let result = fetch().await;
        let now = self.clock.now_ms();
        let mut st = self.write();
        match result {
            Ok(v) => {
                let v = Arc::new(v);
                st.value = Some((v.clone(), now));
                st.generation += 1;
                st.last_failure = None;
                Ok(v)
            }
            Err(error) => {
                st.last_failure = Some((now, error.clone()));
                Err(Failed {
                    error,
                    stale: self.usable_stale(&st, now),
                })
            }
        }
    }

    /// Drops the value (a permanent error such as a deleted secret).
    pub fn clear(&self) {
        let mut st = self.write();
        st.value = None;
        st.generation += 1;
    }
}
