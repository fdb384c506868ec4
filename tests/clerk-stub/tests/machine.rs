//! The stand-in's machine tokens, verified by shared::machine through the real Backend API client:
//! each type and form, each refusal, each fault, and the calls counted at the stand-in.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clerk_stub::machine::{Kind, MachineTokenRequest};
use clerk_stub::{Fault, Stub, StubConfig};
use shared::auth::Authenticator;
use shared::clerk_api::ClerkBackend;
use shared::clock::SystemClock;
use shared::config::Config;
use shared::error::{AuthError, Reason};
use shared::machine::{MachineAuth, MachineSettings, Owner, Principal, TokenType};
use shared::secret::SecretCache;
use test_support::FakeSecretSource;

struct Rig {
    stub: Stub,
    sessions: Authenticator,
    machine: MachineAuth,
}

async fn rig() -> Rig {
    let stub = Stub::start(StubConfig::default()).await.unwrap();
    let env: HashMap<&str, String> = HashMap::from([
        ("CLERK_PUBLISHABLE_KEY", stub.publishable_key()),
        ("CLERK_AUTHORIZED_PARTIES", "http://localhost:5173".into()),
        ("CLERK_SECRET_ID", "clerk/secret".into()),
        ("CLERK_API_URL", stub.api_url()),
    ]);
    let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
    let clock: Arc<SystemClock> = Arc::new(SystemClock);
    let secrets = Arc::new(SecretCache::new(
        FakeSecretSource::new(stub.secret_key()),
        Duration::from_secs(300),
        clock.clone(),
    ));
    let backend = Arc::new(
        ClerkBackend::new(stub.api_url())
            .unwrap()
            .with_retry_backoff(Duration::ZERO, Duration::ZERO),
    );
    let sessions = Authenticator::from_config(
        &config,
        Some(secrets.clone()),
        backend.clone(),
        clock.clone(),
    )
    .unwrap();
    let machine = MachineAuth::new(
        &config,
        &MachineSettings::default(),
        Some(secrets),
        backend,
        clock,
    );
    Rig {
        stub,
        sessions,
        machine,
    }
}

impl Rig {
    async fn auth(&self, token: &str) -> Result<Principal, AuthError> {
        self.machine
            .authenticate(&self.sessions, token, &TokenType::ALL)
            .await
    }
    fn create(&self, kind: Kind, edit: impl FnOnce(&mut MachineTokenRequest)) -> String {
        let mut req = MachineTokenRequest::default();
        edit(&mut req);
        self.stub.create_machine_token(kind, &req)
    }
}

fn reason(r: Result<Principal, AuthError>) -> Reason {
    r.expect_err("refused").reason().expect("a reason")
}

#[tokio::test]
async fn each_opaque_type_is_verified_at_its_endpoint_and_names_its_principal() {
    let r = rig().await;
    let key = r.create(Kind::ApiKey, |q| q.subject = Some("org_acme".into()));
    assert!(key.starts_with("ak_"));
    let p = r.auth(&key).await.unwrap();
    let Principal::ApiKey { owner, scopes, .. } = &p else {
        panic!("{p:?}")
    };
    assert_eq!(owner, &Owner::Organization("org_acme".into()));
    assert_eq!(scopes, &["read:reports"]);
    let m2m = r.create(Kind::M2mToken, |_| {});
    assert!(m2m.starts_with("mt_"));
    assert_eq!(r.auth(&m2m).await.unwrap().subject(), "mch_demoWorker");
    let oauth = r.create(Kind::OauthToken, |_| {});
    assert!(oauth.starts_with("oat_"));
    let p = r.auth(&oauth).await.unwrap();
    assert_eq!(
        (p.token_type(), p.subject()),
        (TokenType::OAuthToken, "user_demoAlice")
    );
    assert_eq!(p.scopes(), ["profile", "email"]);
    assert_eq!(r.stub.machine_verify_calls(), 3);
}

#[tokio::test]
async fn a_hundred_identical_requests_make_one_verify_call() {
    let r = rig().await;
    let key = r.create(Kind::ApiKey, |_| {});
    for _ in 0..100 {
        r.auth(&key).await.unwrap();
    }
    assert_eq!(r.stub.machine_verify_calls(), 1);
}

#[tokio::test]
async fn unknown_revoked_expired_and_misrouted_tokens_are_refused() {
    let r = rig().await;
    assert_eq!(
        reason(r.auth("ak_unknown").await),
        Reason::MachineTokenInvalid
    );
    let expired = r.create(Kind::M2mToken, |q| q.ttl_secs = Some(-1));
    assert_eq!(reason(r.auth(&expired).await), Reason::MachineTokenInvalid);
    let revoked = r.create(Kind::OauthToken, |_| {});
    assert!(r.stub.revoke_machine_token(&revoked));
    assert_eq!(reason(r.auth(&revoked).await), Reason::MachineTokenInvalid);
    // An API key's secret with another prefix goes to another endpoint, which does not know it.
    let key = r.create(Kind::ApiKey, |_| {});
    let as_m2m = format!("mt_{}", &key[3..]);
    assert_eq!(reason(r.auth(&as_m2m).await), Reason::MachineTokenInvalid);
}

#[tokio::test]
async fn a_200_that_is_revoked_expired_inactive_or_without_subject_is_still_refused() {
    let r = rig().await;
    for answer in [
        "revoked_200",
        "expired_200",
        "inactive_200",
        "no_subject_200",
    ] {
        for kind in [Kind::ApiKey, Kind::M2mToken, Kind::OauthToken] {
            let t = r.create(kind, |q| q.answer = Some(answer.into()));
            assert_eq!(
                reason(r.auth(&t).await),
                Reason::MachineTokenInvalid,
                "{answer} {kind:?}"
            );
        }
    }
}

#[tokio::test]
async fn clerk_throttling_or_down_is_503_with_retry_after() {
    let r = rig().await;
    let t = r.create(Kind::ApiKey, |q| q.answer = Some("ratelimited".into()));
    let e = r.auth(&t).await.unwrap_err();
    let AuthError::Unavailable {
        reason,
        retry_after,
        ..
    } = e
    else {
        panic!("{e:?}")
    };
    assert_eq!(
        (reason, retry_after),
        (Reason::ClerkRateLimited, Duration::from_secs(7))
    );
    let key = r.create(Kind::ApiKey, |_| {});
    for fault in [
        Fault::Error500,
        Fault::Garbage,
        Fault::Oversized,
        Fault::Redirect,
        Fault::Down,
    ] {
        r.stub.set_fault_async(fault, 0).await;
        let e = r.auth(&key).await.unwrap_err();
        assert_eq!(e.reason(), Some(Reason::ClerkUnavailable), "{fault:?}");
        assert_eq!(e.reason().unwrap().status(), 503);
    }
    r.stub.set_fault_async(Fault::None, 0).await;
    assert!(r.auth(&key).await.is_ok(), "back once Clerk is");
    assert_eq!(r.stub.redirects_followed(), 0);
}

#[tokio::test]
async fn a_rotated_secret_key_is_503_secret_key_invalid() {
    let r = rig().await;
    let key = r.create(Kind::ApiKey, |_| {});
    r.stub
        .set_secret_key("sk_test_rotatedAway000000000000000000000000000");
    assert_eq!(reason(r.auth(&key).await), Reason::SecretKeyInvalid);
}

#[tokio::test]
async fn jwt_forms_are_verified_with_the_key_set_and_no_verify_call() {
    let r = rig().await;
    let m2m = r.create(Kind::M2mToken, |q| q.jwt = true);
    assert_eq!(m2m.split('.').count(), 3);
    let p = r.auth(&m2m).await.unwrap();
    assert_eq!(
        (p.token_type(), p.subject()),
        (TokenType::M2mToken, "mch_demoWorker")
    );
    let oauth = r.create(Kind::OauthToken, |q| q.jwt = true);
    let p = r.auth(&oauth).await.unwrap();
    assert_eq!(
        (p.token_type(), p.subject()),
        (TokenType::OAuthToken, "user_demoAlice")
    );
    let expired = r.create(Kind::OauthToken, |q| {
        q.jwt = true;
        q.ttl_secs = Some(-60);
    });
    assert_eq!(reason(r.auth(&expired).await), Reason::MachineTokenInvalid);
    assert_eq!(r.stub.machine_verify_calls(), 0);
    assert_eq!(r.stub.jwks_calls(), 1);
}
