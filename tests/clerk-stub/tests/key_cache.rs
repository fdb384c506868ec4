//! The key cache and the secret cache against a real local HTTP server (the stand-in), counting
//! the requests that reach it. Time is a manual clock: no sleeping for TTLs or cool-downs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use serde_json::json;
use shared::auth::Authenticator;
use shared::clerk_api::ClerkBackend;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::error::{AuthError, Reason};
use shared::jwks::KeyCacheSettings;
use shared::secret::{SecretCache, SecretError};
use shared::verify::Verifier;
use test_support::FakeSecretSource;

struct Rig {
    stub: Stub,
    clock: Arc<ManualClock>,
    secrets: Arc<FakeSecretSource>,
    auth: Arc<Authenticator>,
}

const AZP: &str = "http://localhost:5173";

async fn rig() -> Rig {
    let stub = Stub::start(StubConfig::default()).await.unwrap();
    let clock = ManualClock::new(SystemClock.now_ms());
    let secrets = FakeSecretSource::new(stub.secret_key());
    let cache = Arc::new(SecretCache::new(
        secrets.clone(),
        Duration::from_secs(300),
        clock.clone(),
    ));
    let verifier = Verifier::new(stub.issuer(), vec![AZP.into()])
        .unwrap()
        .with_clock(clock.clone());
    let auth = Arc::new(Authenticator::remote(
        verifier,
        cache,
        Arc::new(
            ClerkBackend::new(stub.api_url())
                .unwrap()
                .with_retry_backoff(Duration::ZERO, Duration::ZERO),
        ),
        KeyCacheSettings::default(),
    ));
    Rig {
        stub,
        clock,
        secrets,
        auth,
    }
}

impl Rig {
    fn token(&self) -> String {
        self.stub.mint(&MintRequest::default())
    }
    fn token_with(&self, req: serde_json::Value) -> String {
        self.stub.mint(&serde_json::from_value(req).unwrap())
    }
    async fn reason(&self, token: &str) -> Reason {
        self.auth
            .authenticate(token)
            .await
            .unwrap_err()
            .reason()
            .unwrap()
    }
    fn advance(&self, d: Duration) {
        self.clock.advance(u64::try_from(d.as_millis()).unwrap());
    }
}

fn is_503(e: &AuthError, reason: Reason) -> bool {
    matches!(e, AuthError::Unavailable { reason: r, .. } if *r == reason)
}

#[tokio::test]
async fn fresh_set_serves_known_kids_without_network() {
    let r = rig().await;
    let t = r.token();
    for _ in 0..20 {
        r.auth.authenticate(&t).await.unwrap();
    }
    assert_eq!(r.stub.jwks_calls(), 1);
    assert_eq!(r.secrets.reads(), 1);
}

#[tokio::test]
async fn set_is_refetched_after_the_ttl() {
    let r = rig().await;
    r.auth.authenticate(&r.token()).await.unwrap();
    r.advance(Duration::from_secs(299));
    r.auth
        .authenticate(&r.token_with(json!({"offset_secs": 299})))
        .await
        .unwrap();
    assert_eq!(r.stub.jwks_calls(), 1);
    r.advance(Duration::from_secs(2));
    r.auth
        .authenticate(&r.token_with(json!({"offset_secs": 301})))
        .await
        .unwrap();
    assert_eq!(r.stub.jwks_calls(), 2);
    // The secret (TTL 300 s as well) was read again too.
    assert_eq!(r.secrets.reads(), 2);
}

#[tokio::test]
async fn unknown_kid_refetches_once_per_cooldown() {
    let r = rig().await;
    r.auth.authenticate(&r.token()).await.unwrap();
    let stranger = r.token_with(json!({"header": {"kid": "ins_unknown"}}));
    assert_eq!(r.reason(&stranger).await, Reason::JwkKidMismatch);
    assert_eq!(r.stub.jwks_calls(), 2, "one refetch for the unknown kid");
    for _ in 0..5 {
        assert_eq!(r.reason(&stranger).await, Reason::JwkKidMismatch);
    }
    assert_eq!(r.stub.jwks_calls(), 2, "no refetch inside the cool-down");
    r.advance(Duration::from_secs(31));
    assert_eq!(r.reason(&stranger).await, Reason::JwkKidMismatch);
    assert_eq!(r.stub.jwks_calls(), 3, "one more after the cool-down");
    // A token without kid never matches a key set.
    let no_kid = r.token_with(json!({"header": {"kid": null}}));
    assert_eq!(r.reason(&no_kid).await, Reason::JwkKidMismatch);
}

#[tokio::test]
async fn rotation_to_a_new_kid_is_picked_up() {
    let r = rig().await;
    r.auth.authenticate(&r.token()).await.unwrap();
    r.stub.rotate(false);
    let t = r.token();
    r.auth.authenticate(&t).await.unwrap();
    assert_eq!(r.stub.jwks_calls(), 2);
    // Tokens from the previous key still verify (Clerk keeps publishing it for a while).
    let old = r.token_with(json!({"key": "previous"}));
    r.auth.authenticate(&old).await.unwrap();
    assert_eq!(r.stub.jwks_calls(), 2);
}

#[tokio::test]
async fn rotation_under_the_same_kid_is_picked_up_after_a_bad_signature() {
    let r = rig().await;
    r.auth.authenticate(&r.token()).await.unwrap();
    r.stub.rotate(true);
    r.auth.authenticate(&r.token()).await.unwrap();
    assert_eq!(r.stub.jwks_calls(), 2);
    // A forged token (foreign key, same kid) is refused; the cool-down holds further refetches.
    let forged = r.token_with(json!({"key": "foreign"}));
    for _ in 0..5 {
        assert_eq!(r.reason(&forged).await, Reason::TokenInvalidSignature);
    }
    assert_eq!(r.stub.jwks_calls(), 2);
}

#[tokio::test]
async fn a_key_rotated_while_clerk_fails_is_an_outage_not_signed_out() {
    let r = rig().await;
    r.auth.authenticate(&r.token()).await.unwrap();
    r.stub.rotate(true);
    r.stub.set_fault(Fault::Error500, 0);
    // Signed by the new key, which cannot be loaded: 503, never 401.
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(is_503(&e, Reason::JwkRemoteFailedToLoad), "{e:?}");
    r.stub.set_fault(Fault::None, 0);
    r.advance(Duration::from_secs(31));
    r.auth.authenticate(&r.token()).await.unwrap();
}

#[tokio::test]
async fn two_keys_under_one_kid_both_verify_from_one_fetch() {
    let r = rig().await;
    let before = r.token();
    r.stub.rotate(true);
    // The set now holds the new key first and the old one after it, both under one kid.
    let after = r.token();
    let old = r.token_with(json!({"key": "previous"}));
    for _ in 0..3 {
        r.auth.authenticate(&after).await.unwrap();
        r.auth.authenticate(&old).await.unwrap();
        r.auth.authenticate(&before).await.unwrap();
    }
    assert_eq!(r.stub.jwks_calls(), 1);
    // Neither key signed this one: refused, and the cool-down allows one refetch at most.
    let forged = r.token_with(json!({"key": "foreign"}));
    for _ in 0..3 {
        assert_eq!(r.reason(&forged).await, Reason::TokenInvalidSignature);
    }
    assert_eq!(r.stub.jwks_calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_misses_share_one_fetch() {
    let r = rig().await;
    r.stub.set_fault_async(Fault::Slow, 300).await;
    let t = r.token();
    let mut tasks = Vec::new();
    for _ in 0..32 {
        let auth = r.auth.clone();
        let t = t.clone();
        tasks.push(tokio::spawn(async move { auth.authenticate(&t).await }));
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(r.stub.jwks_calls(), 1);
    assert_eq!(r.secrets.reads(), 1);
}

#[tokio::test]
async fn stale_keys_serve_while_down_until_the_maximum_age() {
    let r = rig().await;
    let t = r.token();
    r.auth.authenticate(&t).await.unwrap();
    r.stub.set_fault_async(Fault::Down, 0).await;
    r.advance(Duration::from_secs(301));
    // Past the TTL, Clerk down: the last good set keeps serving.
    let t = r.token_with(json!({"offset_secs": 301}));
    r.auth.authenticate(&t).await.unwrap();
    r.advance(Duration::from_secs(3300));
    let t = r.token_with(json!({"offset_secs": 3601}));
    let e = r.auth.authenticate(&t).await.unwrap_err();
    assert!(is_503(&e, Reason::JwkRemoteFailedToLoad), "{e:?}");
    // Recovery once Clerk is back (after the retry back-off).
    r.stub.set_fault_async(Fault::None, 0).await;
    r.advance(Duration::from_secs(2));
    r.auth.authenticate(&t).await.unwrap();
}

#[tokio::test]
async fn cold_start_with_clerk_down_is_503_then_recovers() {
    let r = rig().await;
    r.stub.set_fault_async(Fault::Down, 0).await;
    let t = r.token();
    let e = r.auth.authenticate(&t).await.unwrap_err();
    assert!(is_503(&e, Reason::JwkRemoteFailedToLoad), "{e:?}");
    // Inside the retry back-off: the same answer at once, no new attempt.
    let e = r.auth.authenticate(&t).await.unwrap_err();
    assert!(is_503(&e, Reason::JwkRemoteFailedToLoad));
    r.stub.set_fault_async(Fault::None, 0).await;
    r.advance(Duration::from_millis(1001));
    r.auth.authenticate(&t).await.unwrap();
    assert_eq!(r.stub.jwks_calls(), 1);
}

/// A bad answer from Clerk is 503; 500s and unreadable bodies are retried once, nothing else
/// reaches the stand-in, and no redirect is followed.
async fn bad_answer_is_503(fault: Fault) {
    let r = rig().await;
    r.stub.set_fault_async(fault, 0).await;
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(
        is_503(&e, Reason::JwkRemoteFailedToLoad),
        "{fault:?}: {e:?}"
    );
    assert!(
        r.stub.jwks_calls() <= 2,
        "{fault:?}: {}",
        r.stub.jwks_calls()
    );
    assert_eq!(
        r.stub.redirects_followed(),
        0,
        "{fault:?}: redirect followed"
    );
}

#[tokio::test]
async fn clerk_500_is_503() {
    bad_answer_is_503(Fault::Error500).await;
}

#[tokio::test]
async fn clerk_garbage_is_503() {
    bad_answer_is_503(Fault::Garbage).await;
}

#[tokio::test]
async fn clerk_oversized_body_is_503() {
    bad_answer_is_503(Fault::Oversized).await;
}

#[tokio::test]
async fn clerk_redirect_is_503_and_not_followed() {
    bad_answer_is_503(Fault::Redirect).await;
}

#[tokio::test]
async fn slow_clerk_is_cut_off() {
    let r = rig().await;
    // Far beyond the client's two attempts of at most 3 s each, so that the bound holds on a busy
    // machine and still proves that the request did not wait for the server.
    r.stub.set_fault_async(Fault::Slow, 30_000).await;
    let started = std::time::Instant::now();
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(is_503(&e, Reason::JwkRemoteFailedToLoad), "{e:?}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn clerk_key_invalid_rereads_the_secret_once() {
    let r = rig().await;
    // The secret was rotated at Clerk; our cached copy is the old one.
    r.stub.set_secret_key("sk_test_rotatedKey123");
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(is_503(&e, Reason::SecretKeyInvalid), "{e:?}");
    assert_eq!(r.secrets.reads(), 2, "one forced re-read");
    // Secrets Manager now holds the new key: the next forced re-read (after the cool-down) uses it.
    r.secrets.set(Ok("sk_test_rotatedKey123".into()));
    r.advance(Duration::from_secs(31));
    r.auth.authenticate(&r.token()).await.unwrap();
    assert_eq!(r.secrets.reads(), 3);
}

#[tokio::test]
async fn secret_unavailable_is_503_and_a_cached_secret_keeps_serving() {
    let r = rig().await;
    r.secrets
        .set(Err(SecretError::Transient("throttled".into())));
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(is_503(&e, Reason::SecretUnavailable), "{e:?}");
    assert_eq!(r.stub.jwks_calls(), 0);
    r.secrets.set(Ok(r.stub.secret_key()));
    r.advance(Duration::from_secs(2));
    r.auth.authenticate(&r.token()).await.unwrap();
    // Secrets Manager throttles again after the TTL: the cached secret and keys keep serving.
    r.secrets
        .set(Err(SecretError::Transient("throttled".into())));
    r.advance(Duration::from_secs(301));
    let t = r.token_with(json!({"offset_secs": 303}));
    r.auth.authenticate(&t).await.unwrap();
}

#[tokio::test]
async fn a_deleted_secret_is_a_misconfiguration_not_an_outage() {
    // 500, not a transient 503.
    let r = rig().await;
    r.secrets
        .set(Err(SecretError::NotFound("clerk/secret".into())));
    let e = r.auth.authenticate(&r.token()).await.unwrap_err();
    assert!(matches!(e, AuthError::Misconfigured(_)), "{e:?}");
}

#[tokio::test]
async fn json_secret_with_a_pem_verifies_networkless() {
    let r = rig().await;
    let secret =
        json!({"CLERK_SECRET_KEY": r.stub.secret_key(), "CLERK_JWT_KEY": r.stub.public_pem()});
    r.secrets.set(Ok(secret.to_string()));
    r.auth.authenticate(&r.token()).await.unwrap();
    assert_eq!(r.stub.jwks_calls(), 0, "no key set call with a PEM");
}
