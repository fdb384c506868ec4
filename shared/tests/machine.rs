//! Machine authentication (shared::machine) against a fake Backend API that counts its calls and
//! a manual clock: what a caller notices (accepted or which reason) and how many calls reached
//! Clerk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use shared::auth::Authenticator;
use shared::clerk_api::{ClerkApiError, MachineEndpoint, MachineTokenRecord, MachineTokenVerifier};
use shared::clock::ManualClock;
use shared::config::Config;
use shared::error::{AuthError, Reason};
use shared::keys::SecretKey;
use shared::machine::{MachineAuth, MachineSettings, Owner, Principal, TokenType};
use shared::secret::{SecretCache, SecretError};
use shared::verify::Verifier;
use test_support::{AZP, FakeSecretSource, ISS, NOW, PK, TestKey, session_claims};

const ALL: &[TokenType] = &TokenType::ALL;
const SESSION: &[TokenType] = &[TokenType::SessionToken];
const API_KEY: &[TokenType] = &[TokenType::ApiKey];

/// A Backend API: an answer per token, counted calls.
#[derive(Debug, Default)]
struct FakeClerk {
    answers: Mutex<HashMap<String, Result<MachineTokenRecord, ClerkApiError>>>,
    calls: AtomicU64,
    endpoints: Mutex<Vec<MachineEndpoint>>,
}

impl FakeClerk {
    fn answer(&self, token: &str, record: Result<Value, ClerkApiError>) {
        let r = record.map(|v| serde_json::from_value(v).unwrap());
        self.answers.lock().unwrap().insert(token.into(), r);
    }
    fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }
}

#[async_trait]
impl MachineTokenVerifier for FakeClerk {
    async fn verify_machine_token(
        &self,
        _secret: &SecretKey,
        endpoint: MachineEndpoint,
        token: &str,
    ) -> Result<MachineTokenRecord, ClerkApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.endpoints.lock().unwrap().push(endpoint);
        self.answers
            .lock()
            .unwrap()
            .get(token)
            .cloned()
            .unwrap_or(Err(ClerkApiError::NotFound))
    }
}

struct Rig {
    key: TestKey,
    clock: Arc<ManualClock>,
    clerk: Arc<FakeClerk>,
    secrets: Arc<FakeSecretSource>,
    sessions: Authenticator,
    machine: MachineAuth,
}

fn rig_with(settings: MachineSettings) -> Rig {
    let key = TestKey::generate("ins_machine");
    let clock = ManualClock::new((NOW * 1000) as u64);
    let env: HashMap<&str, &str> = HashMap::from([
        ("CLERK_PUBLISHABLE_KEY", PK),
        ("CLERK_AUTHORIZED_PARTIES", AZP),
    ]);
    let config = Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
    let verifier = Verifier::new(ISS, vec![AZP.into()])
        .unwrap()
        .with_clock(clock.clone());
    let sessions = Authenticator::networkless(verifier, key.rsa_key());
    let secrets = FakeSecretSource::new("sk_test_machineRig");
    let cache = Arc::new(SecretCache::new(
        secrets.clone(),
        Duration::from_secs(300),
        clock.clone(),
    ));
    let clerk = Arc::new(FakeClerk::default());
    let machine = MachineAuth::new(
        &config,
        &settings,
        Some(cache),
        clerk.clone(),
        clock.clone(),
    );
    Rig {
        key,
        clock,
        clerk,
        secrets,
        sessions,
        machine,
    }
}

fn rig() -> Rig {
    rig_with(MachineSettings::default())
}

fn now_ms() -> u64 {
    (NOW * 1000) as u64
}

fn api_key_record(subject: &str) -> Value {
    json!({
        "object": "api_key", "id": "ak_id_1", "type": "api_key", "name": "ci",
        "subject": subject, "scopes": ["read:reports"], "claims": {"team": "ops"},
        "revoked": false, "revocation_reason": null, "expired": false, "expiration": null,
        "created_by": "user_1", "created_at": 1, "updated_at": 1,
    })
}

impl Rig {
    async fn auth(&self, token: &str, accepts: &[TokenType]) -> Result<Principal, AuthError> {
        self.machine
            .authenticate(&self.sessions, token, accepts)
            .await
    }

    fn session_token(&self) -> String {
        self.key.sign(&session_claims(ISS, AZP, NOW))
    }

    fn m2m_jwt(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut c = json!({
            "iss": ISS, "sub": "mch_caller", "aud": ["mch_api"], "scopes": "mch_api",
            "iat": NOW, "nbf": NOW - 10, "exp": NOW + 3600, "jti": "mt_jwt_1",
        });
        edit(&mut c);
        let mut h = self.key.header();
        h["cat"] = json!("cl_B7d4PD333AAA");
        self.key.sign_json(&h, &c)
    }

    fn oauth_jwt(&self, edit: impl FnOnce(&mut Value)) -> String {
        let mut h = self.key.header();
        h["typ"] = json!("at+jwt");
        h.as_object_mut().unwrap().remove("cat");
        let mut c = json!({
            "iss": ISS, "sub": "user_grantor", "client_id": "client_app", "scp": ["read", "write"],
            "iat": NOW, "exp": NOW + 600, "jti": "oat_jwt_1",
        });
        edit(&mut c);
        self.key.sign_json(&h, &c)
    }
}

/// A change to a Backend API answer.
type Edit = Box<dyn Fn(&mut Value)>;

fn reason(r: Result<Principal, AuthError>) -> Reason {
    r.expect_err("refused").reason().expect("a reason")
}

#[tokio::test]
async fn a_type_the_route_does_not_accept_is_refused_before_any_network_call() {
    let r = rig();
    r.clerk.answer("ak_good", Ok(api_key_record("user_1")));
    assert_eq!(
        reason(r.auth("ak_good", SESSION).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        reason(r.auth("mt_good", API_KEY).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        reason(r.auth("oat_good", API_KEY).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(
        reason(r.auth(&r.session_token(), API_KEY).await),
        Reason::TokenTypeMismatch
    );
    let m2m = r.m2m_jwt(|_| {});
    assert_eq!(
        reason(r.auth(&m2m, SESSION).await),
        Reason::TokenTypeMismatch
    );
    let oauth = r.oauth_jwt(|_| {});
    assert_eq!(
        reason(r.auth(&oauth, SESSION).await),
        Reason::TokenTypeMismatch
    );
    assert_eq!(r.clerk.calls(), 0);
    assert_eq!(r.secrets.reads(), 0, "not even the secret is read");
}

#[tokio::test]
async fn a_session_token_still_signs_a_user_in_where_sessions_are_accepted() {
    let r = rig();
    let p = r.auth(&r.session_token(), ALL).await.unwrap();
    assert_eq!(p.token_type(), TokenType::SessionToken);
    assert!(p.session().is_some());
    assert_eq!(r.clerk.calls(), 0);
}

#[tokio::test]
async fn a_session_jwt_with_a_machine_category_is_a_type_mismatch() {
    let r = rig();
    let mut h = r.key.header();
    h["cat"] = json!("cl_B7d4PD333AAA");
    let t = r.key.sign_json(&h, &session_claims(ISS, AZP, NOW));
    assert_eq!(reason(r.auth(&t, ALL).await), Reason::TokenTypeMismatch);
}

#[tokio::test]
async fn an_api_key_names_its_owner_and_100_requests_make_one_clerk_call() {
    let r = rig();
    r.clerk.answer("ak_good", Ok(api_key_record("org_acme")));
    for _ in 0..100 {
        let p = r.auth("ak_good", API_KEY).await.unwrap();
        let Principal::ApiKey { owner, scopes, .. } = &p else {
            panic!("{p:?}")
        };
        assert_eq!(owner, &Owner::Organization("org_acme".into()));
        assert_eq!(scopes, &["read:reports"]);
        assert!(p.has_scopes(&["read:reports"]));
        assert!(!p.has_scopes(&["write:reports"]));
    }
    assert_eq!(r.clerk.calls(), 1);
    assert_eq!(
        r.clerk.endpoints.lock().unwrap()[0],
        MachineEndpoint::ApiKey
    );
}

#[tokio::test]
async fn a_revoked_key_stops_working_within_the_cache_ttl() {
    let r = rig_with(MachineSettings {
        cache_ttl: Duration::from_secs(10),
        ..MachineSettings::default()
    });
    r.clerk.answer("ak_good", Ok(api_key_record("user_1")));
    r.auth("ak_good", API_KEY).await.unwrap();
    r.clerk.answer("ak_good", Err(ClerkApiError::NotFound));
    r.clock.advance(9_999);
    assert!(r.auth("ak_good", API_KEY).await.is_ok(), "inside the bound");
    r.clock.advance(1);
    assert_eq!(
        reason(r.auth("ak_good", API_KEY).await),
        Reason::MachineTokenInvalid
    );
    assert_eq!(r.clerk.calls(), 2);
}

#[tokio::test]
async fn a_token_expiring_before_the_ttl_is_cached_until_its_expiry_only() {
    let r = rig();
    let mut rec = api_key_record("user_1");
    rec["expiration"] = json!(now_ms() + 2_000);
    r.clerk.answer("ak_short", Ok(rec));
    r.auth("ak_short", API_KEY).await.unwrap();
    r.clock.advance(2_000);
    assert_eq!(
        reason(r.auth("ak_short", API_KEY).await),
        Reason::MachineTokenInvalid
    );
    assert_eq!(
        r.clerk.calls(),
        2,
        "asked Clerk again after the token's expiry"
    );
}

#[tokio::test]
async fn refusals_are_not_cached() {
    let r = rig();
    for _ in 0..3 {
        assert_eq!(
            reason(r.auth("ak_unknown", API_KEY).await),
            Reason::MachineTokenInvalid
        );
    }
    assert_eq!(r.clerk.calls(), 3);
    r.clerk.answer("ak_unknown", Ok(api_key_record("user_1")));
    assert!(
        r.auth("ak_unknown", API_KEY).await.is_ok(),
        "a new key works at once"
    );
}

#[tokio::test]
async fn only_a_200_not_revoked_not_expired_active_with_a_subject_is_accepted() {
    let r = rig();
    let cases: Vec<(&str, Edit)> = vec![
        ("revoked", Box::new(|v| v["revoked"] = json!(true))),
        ("expired", Box::new(|v| v["expired"] = json!(true))),
        (
            "no revoked flag",
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("revoked")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        (
            "no expired flag",
            Box::new(|v| {
                v.as_object_mut()
                    .unwrap()
                    .remove("expired")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        ("inactive", Box::new(|v| v["active"] = json!(false))),
        (
            "past expiration",
            Box::new(|v| v["expiration"] = json!(now_ms() - 1)),
        ),
        ("no subject", Box::new(|v| v["subject"] = Value::Null)),
        ("empty subject", Box::new(|v| v["subject"] = json!(""))),
        (
            "owner not a user or org",
            Box::new(|v| v["subject"] = json!("mch_x")),
        ),
        (
            "revoked as a string",
            Box::new(|v| v["revoked"] = json!("false")),
        ),
    ];
    for (name, edit) in cases {
        let mut rec = api_key_record("user_1");
        edit(&mut rec);
        let token = format!("ak_{}", name.replace(' ', "_"));
        match serde_json::from_value::<MachineTokenRecord>(rec.clone()) {
            Ok(_) => r.clerk.answer(&token, Ok(rec)),
            // A body that is not a resource is an outage, never an acceptance.
            Err(_) => {
                r.clerk
                    .answer(&token, Err(ClerkApiError::Unavailable("bad body".into())));
            }
        }
        let got = r.auth(&token, API_KEY).await;
        assert!(got.is_err(), "{name}: {got:?}");
    }
}

#[tokio::test]
async fn an_m2m_token_names_a_machine_and_an_oauth_token_a_user_and_its_client() {
    let r = rig();
    r.clerk.answer(
        "mt_good",
        Ok(
            json!({"object": "machine_to_machine_token", "id": "mt_id", "subject": "mch_caller",
                  "scopes": ["mch_api"], "claims": null, "revoked": false, "expired": false,
                  "expiration": null}),
        ),
    );
    let p = r.auth("mt_good", ALL).await.unwrap();
    assert_eq!(
        (p.token_type(), p.subject()),
        (TokenType::M2mToken, "mch_caller")
    );
    r.clerk.answer(
        "mt_user_subject",
        Ok(json!({"subject": "user_1", "revoked": false, "expired": false})),
    );
    assert_eq!(
        reason(r.auth("mt_user_subject", ALL).await),
        Reason::MachineTokenInvalid
    );
    r.clerk.answer(
        "oat_good",
        Ok(
            json!({"object": "oauth_access_token", "id": "oat_id", "client_id": "client_app",
                  "subject": "user_grantor", "scopes": ["profile", "email"], "revoked": false,
                  "expired": false, "expiration": now_ms() + 60_000}),
        ),
    );
    let p = r.auth("oat_good", ALL).await.unwrap();
    let Principal::OAuth {
        user_id,
        client_id,
        scopes,
        ..
    } = &p
    else {
        panic!("{p:?}")
    };
    assert_eq!(
        (user_id.as_str(), client_id.as_deref()),
        ("user_grantor", Some("client_app"))
    );
    assert_eq!(scopes, &["profile", "email"]);
    let endpoints = r.clerk.endpoints.lock().unwrap().clone();
    assert_eq!(
        endpoints,
        [
            MachineEndpoint::M2mToken,
            MachineEndpoint::M2mToken,
            MachineEndpoint::OAuthToken
        ]
    );
}

#[tokio::test]
async fn clerk_down_throttling_or_rejecting_our_key_is_503_never_401() {
    let r = rig();
    r.clerk.answer(
        "ak_down",
        Err(ClerkApiError::Unavailable("HTTP 502".into())),
    );
    r.clerk.answer(
        "ak_throttled",
        Err(ClerkApiError::RateLimited {
            retry_after: Duration::from_secs(7),
        }),
    );
    r.clerk
        .answer("ak_badkey", Err(ClerkApiError::SecretKeyInvalid));
    let down = r.auth("ak_down", API_KEY).await.unwrap_err();
    assert_eq!(down.reason(), Some(Reason::ClerkUnavailable));
    let throttled = r.auth("ak_throttled", API_KEY).await.unwrap_err();
    let AuthError::Unavailable {
        reason,
        retry_after,
        ..
    } = throttled
    else {
        panic!("{throttled:?}")
    };
    assert_eq!(
        (reason, retry_after),
        (Reason::ClerkRateLimited, Duration::from_secs(7))
    );
    assert_eq!(reason.status(), 503);
    let bad = r.auth("ak_badkey", API_KEY).await.unwrap_err();
    assert_eq!(bad.reason(), Some(Reason::SecretKeyInvalid));
    assert_eq!(bad.reason().unwrap().status(), 503);
    // Secrets Manager down, before the first read.
    let r = rig();
    r.secrets
        .set(Err(SecretError::Transient("throttled".into())));
    let e = r.auth("ak_any", API_KEY).await.unwrap_err();
    assert_eq!(e.reason(), Some(Reason::SecretUnavailable));
    assert_eq!(r.clerk.calls(), 0);
}

#[tokio::test]
async fn jwt_forms_are_verified_with_the_instance_keys_and_no_clerk_call() {
    let r = rig();
    let p = r.auth(&r.m2m_jwt(|_| {}), ALL).await.unwrap();
    let Principal::Machine {
        machine_id,
        scopes,
        token_id,
        ..
    } = &p
    else {
        panic!("{p:?}")
    };
    assert_eq!(
        (machine_id.as_str(), token_id.as_deref()),
        ("mch_caller", Some("mt_jwt_1"))
    );
    assert_eq!(scopes, &["mch_api"]);
    let p = r.auth(&r.oauth_jwt(|_| {}), ALL).await.unwrap();
    assert_eq!(p.scopes(), ["read", "write"]);
    assert_eq!(p.subject(), "user_grantor");
    assert_eq!(r.clerk.calls(), 0);
}

#[tokio::test]
async fn jwt_forms_are_refused_for_any_failed_check() {
    let r = rig();
    let attacker = TestKey::generate("ins_machine");
    let forged = attacker.sign_json(
        &attacker.header(),
        &json!({"iss": ISS, "sub": "mch_caller", "exp": NOW + 60, "iat": NOW}),
    );
    let bad = [
        ("foreign key", forged),
        (
            "other issuer",
            r.m2m_jwt(|c| c["iss"] = json!("https://evil.clerk.accounts.dev")),
        ),
        (
            "no issuer",
            r.m2m_jwt(|c| {
                c.as_object_mut()
                    .unwrap()
                    .remove("iss")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        ("expired", r.m2m_jwt(|c| c["exp"] = json!(NOW - 6))),
        (
            "no exp",
            r.m2m_jwt(|c| {
                c.as_object_mut()
                    .unwrap()
                    .remove("exp")
                    .map(drop)
                    .unwrap_or(())
            }),
        ),
        ("not yet", r.m2m_jwt(|c| c["nbf"] = json!(NOW + 60))),
        (
            "iat in the future",
            r.m2m_jwt(|c| c["iat"] = json!(NOW + 60)),
        ),
        ("oauth expired", r.oauth_jwt(|c| c["exp"] = json!(NOW - 6))),
        (
            "oauth other issuer",
            r.oauth_jwt(|c| c["iss"] = json!("https://x.example")),
        ),
    ];
    for (name, token) in bad {
        assert_eq!(
            reason(r.auth(&token, ALL).await),
            Reason::MachineTokenInvalid,
            "{name}"
        );
    }
    let mut h = r.key.header();
    h["alg"] = json!("HS256");
    let hs = r
        .key
        .sign_json(&h, &json!({"iss": ISS, "sub": "mch_x", "exp": NOW + 60}));
    assert_eq!(reason(r.auth(&hs, ALL).await), Reason::MachineTokenInvalid);
    assert_eq!(r.clerk.calls(), 0);
}

#[tokio::test]
async fn with_a_machine_id_an_m2m_jwt_must_name_it_in_aud() {
    let r = rig_with(MachineSettings {
        machine_id: Some("mch_api".into()),
        ..MachineSettings::default()
    });
    assert!(r.auth(&r.m2m_jwt(|_| {}), ALL).await.is_ok());
    let other = r.m2m_jwt(|c| c["aud"] = json!(["mch_other"]));
    assert_eq!(
        reason(r.auth(&other, ALL).await),
        Reason::MachineTokenInvalid
    );
    let none = r.m2m_jwt(|c| {
        c.as_object_mut()
            .unwrap()
            .remove("aud")
            .map(drop)
            .unwrap_or(())
    });
    assert_eq!(
        reason(r.auth(&none, ALL).await),
        Reason::MachineTokenInvalid
    );
    let single = r.m2m_jwt(|c| c["aud"] = json!("mch_api"));
    assert!(r.auth(&single, ALL).await.is_ok());
    // The opaque form: its scopes (the machines it may call) must name this one too.
    for (token, scopes, ok) in [
        ("mt_for_us", json!(["mch_other", "mch_api"]), true),
        ("mt_for_other", json!(["mch_other"]), false),
        ("mt_no_scopes", json!(null), false),
    ] {
        r.clerk.answer(
            token,
            Ok(
                json!({"object": "machine_to_machine_token", "id": "mt_id", "subject": "mch_caller",
                      "scopes": scopes, "revoked": false, "expired": false, "expiration": null}),
            ),
        );
        let got = r.auth(token, ALL).await;
        assert_eq!(got.is_ok(), ok, "{token}");
        if !ok {
            assert_eq!(reason(got), Reason::MachineTokenInvalid);
        }
    }
}

#[test]
fn settings_are_read_and_checked_once() {
    let s = MachineSettings::from_lookup(|_| None).unwrap();
    assert_eq!(s, MachineSettings::default());
    assert_eq!(s.cache_ttl, Duration::from_secs(30));
    let env = |k: &str, v: &str| {
        let (k, v) = (k.to_owned(), v.to_owned());
        MachineSettings::from_lookup(move |q| (q == k).then(|| v.clone()))
    };
    assert_eq!(
        env("CLERK_MACHINE_CACHE_TTL_SECS", "0").unwrap().cache_ttl,
        Duration::ZERO
    );
    let e = env("CLERK_MACHINE_CACHE_TTL_SECS", "61").unwrap_err();
    assert_eq!(e.var, "CLERK_MACHINE_CACHE_TTL_SECS");
    assert_eq!(env("CLERK_MACHINE_CACHE_SIZE", "5").unwrap().cache_size, 5);
    assert!(env("CLERK_MACHINE_CACHE_SIZE", "0").is_err());
    assert_eq!(
        env("CLERK_MACHINE_ID", "mch_abc123")
            .unwrap()
            .machine_id
            .as_deref(),
        Some("mch_abc123")
    );
    let e = env("CLERK_MACHINE_ID", "user_abc").unwrap_err();
    assert_eq!(e.var, "CLERK_MACHINE_ID");
}

// ---------------------------------------------------------------- the route table's guards

use lambda_http::http::Method;
use shared::routes::{Ctx, ReplyFuture, Require, Route, Routes};

const GET: &[Method] = &[Method::GET];

fn echo<'a>(_: &'a (), _: Ctx<'a>, p: Principal) -> ReplyFuture<'a> {
    Box::pin(async move {
        Ok(shared::http::json(
            lambda_http::http::StatusCode::OK,
            &json!({"type": p.token_type(), "subject": p.subject()}),
        ))
    })
}

fn session_echo<'a>(_: &'a (), _: Ctx<'a>, _: shared::Session) -> ReplyFuture<'a> {
    Box::pin(async move {
        Ok(shared::http::json(
            lambda_http::http::StatusCode::OK,
            &json!({}),
        ))
    })
}

async fn call(routes: &Routes<()>, r: &Rig, path: &str, token: &str) -> (u16, String) {
    let auth = format!("Bearer {token}");
    let req = test_support::apigw_v2_request("GET", path, &[("authorization", &auth)]);
    let resp = routes.dispatch(&(), Some(&r.sessions), &req).await;
    let body = test_support::json_body(&resp);
    let reason = body["reason"].as_str().unwrap_or("").to_owned();
    (resp.status().as_u16(), reason)
}

fn table(r: Rig) -> (Routes<()>, Rig) {
    let routes = Routes::new(vec![
        Route::principal(
            "/reports",
            GET,
            Require::session()
                .accepts(&[TokenType::ApiKey, TokenType::OAuthToken])
                .scopes(&["read:reports"]),
            echo,
        ),
        Route::principal(
            "/admin",
            GET,
            Require::session()
                .accepts(&TokenType::ALL)
                .role("org:admin"),
            echo,
        ),
    ])
    .unwrap();
    // A second MachineAuth on the rig's fake Clerk: the table owns its own.
    let env: HashMap<&str, &str> = HashMap::from([
        ("CLERK_PUBLISHABLE_KEY", PK),
        ("CLERK_AUTHORIZED_PARTIES", AZP),
    ]);
    let config = Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
    let secrets = Arc::new(SecretCache::new(
        r.secrets.clone(),
        Duration::from_secs(300),
        r.clock.clone(),
    ));
    let machine = MachineAuth::new(
        &config,
        &MachineSettings::default(),
        Some(secrets),
        r.clerk.clone(),
        r.clock.clone(),
    );
    (routes.with_machine(machine), r)
}

#[tokio::test]
async fn a_route_requires_its_scopes_of_machine_tokens_and_its_types() {
    let (routes, r) = table(rig());
    r.clerk.answer("ak_reader", Ok(api_key_record("user_1")));
    let mut writer = api_key_record("user_1");
    writer["scopes"] = json!(["write:reports"]);
    r.clerk.answer("ak_writer", Ok(writer));
    assert_eq!(
        call(&routes, &r, "/reports", "ak_reader").await,
        (200, String::new())
    );
    assert_eq!(
        call(&routes, &r, "/reports", "ak_writer").await,
        (403, "insufficient-scope".into())
    );
    let calls = r.clerk.calls();
    assert_eq!(
        call(&routes, &r, "/reports", &r.session_token()).await,
        (401, "token-type-mismatch".into())
    );
    assert_eq!(
        call(&routes, &r, "/reports", &r.m2m_jwt(|_| {})).await,
        (401, "token-type-mismatch".into())
    );
    assert_eq!(r.clerk.calls(), calls, "a mismatch makes no call");
    // A session condition no machine can meet: 403 for the key, the session's own check for users.
    assert_eq!(
        call(&routes, &r, "/admin", "ak_reader").await,
        (403, "forbidden".into())
    );
    assert_eq!(
        call(&routes, &r, "/admin", &r.session_token()).await,
        (403, "forbidden".into())
    );
}

#[test]
fn a_session_handler_cannot_be_given_machine_tokens_or_scopes() {
    for require in [
        Require::session().accepts(&[TokenType::ApiKey]),
        Require::session().accepts(&TokenType::ALL),
        Require::session().scopes(&["read"]),
    ] {
        let e = Routes::new(vec![Route::session("/x", GET, require, session_echo)]).unwrap_err();
        assert!(e.to_string().contains("Route::principal"), "{e}");
    }
    assert!(
        Routes::new(vec![Route::session(
            "/x",
            GET,
            Require::session(),
            session_echo
        )])
        .is_ok()
    );
}
