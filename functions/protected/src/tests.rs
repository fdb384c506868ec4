//! The handlers, called directly with API Gateway v2 events, against the Clerk stand-in (a real
//! HTTP server in-process) and a counting secret source.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use serde_json::{Value, json};
use shared::clerk_api::ClerkBackend;
use shared::clerk_api::UserProfile;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::config::Config;
use shared::secret::SecretError;
use shared::users_table::{Lookup, TableError, UserReader};
use test_support::{FakeSecretSource, apigw_v2_request, json_body};

use crate::App;

struct Rig {
    stub: Stub,
    app: App,
    secrets: Arc<FakeSecretSource>,
    _clock: Arc<ManualClock>,
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
    let secrets = FakeSecretSource::new(stub.secret_key());
    // Manual clock: a retry does not wait in real time either.
    let backend = Arc::new(
        ClerkBackend::new(stub.api_url())
            .unwrap()
            .with_retry_backoff(Duration::ZERO, Duration::ZERO),
    );
    let clock = ManualClock::new(SystemClock.now_ms());
    let app = App::new(
        &config,
        secrets.clone(),
        backend.clone(),
        backend,
        clock.clone(),
    )
    .unwrap();
    Rig {
        stub,
        app,
        secrets,
        _clock: clock,
    }
}

impl Rig {
    async fn get(
        &self,
        path: &str,
        token: Option<&str>,
    ) -> (u16, Value, lambda_http::Response<lambda_http::Body>) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let resp = self
            .app
            .handle(&apigw_v2_request("GET", path, &headers))
            .await;
        (resp.status().as_u16(), json_body(&resp), resp)
    }
    fn mint(&self, req: Value) -> String {
        self.stub
            .mint(&serde_json::from_value::<MintRequest>(req).unwrap())
    }
}

#[tokio::test]
async fn protected_returns_the_verified_session() {
    let r = rig().await;
    let t = r.mint(json!({"sub": "user_demoBob", "org": {"id": "org_1", "slug": "acme", "role": "admin", "fea": "o:dash", "per": "read,manage", "fpm": "1"}}));
    let (status, body, resp) = r.get("/api/protected", Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["userId"], "user_demoBob");
    assert!(body["sessionId"].as_str().unwrap().starts_with("sess_"));
    assert_eq!(body["sessionStatus"], "active");
    assert_eq!(body["orgId"], "org_1");
    assert_eq!(body["orgRole"], "org:admin");
    assert_eq!(body["orgPermissions"], json!(["org:dash:read"]));
    assert!(body["issuedAt"].is_i64() && body["expiresAt"].is_i64());
    assert_eq!(body["actor"], Value::Null);
    assert_eq!(resp.headers()["cache-control"], "no-store");
}

#[tokio::test]
async fn protected_refuses_bad_tokens_with_their_reason() {
    let r = rig().await;
    let (status, body, resp) = r.get("/api/protected", None).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("session-token-missing"))
    );
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    for (req, reason) in [
        (json!({"offset_secs": -120}), "token-expired"),
        (
            json!({"azp": "https://evil.example.com"}),
            "token-invalid-authorized-parties",
        ),
        (
            json!({"iss": "https://other.clerk.accounts.dev"}),
            "token-invalid-issuer",
        ),
        (json!({"sts": "pending"}), "session-pending"),
        (json!({"key": "foreign"}), "token-invalid-signature"),
        (
            json!({"header": {"alg": "HS256"}}),
            "token-invalid-algorithm",
        ),
    ] {
        let (status, body, resp) = r.get("/api/protected", Some(&r.mint(req.clone()))).await;
        assert_eq!(status, 401, "{req}");
        assert_eq!(body["reason"], reason, "{req}");
        assert_eq!(body["error"], "unauthorized");
        assert_eq!(
            resp.headers()["www-authenticate"],
            "Bearer error=\"invalid_token\""
        );
    }
    let (status, body, _) = r.get("/api/protected", Some("garbage")).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("token-invalid"))
    );
}

#[tokio::test]
async fn warm_requests_make_no_network_calls() {
    let r = rig().await;
    r.app.warm().await;
    assert_eq!((r.stub.jwks_calls(), r.secrets.reads()), (1, 1));
    let t = r.mint(json!({}));
    for _ in 0..25 {
        assert_eq!(r.get("/api/protected", Some(&t)).await.0, 200);
    }
    assert_eq!((r.stub.jwks_calls(), r.secrets.reads()), (1, 1));
}

#[tokio::test]
async fn me_returns_the_whitelisted_profile_and_caches_it() {
    let r = rig().await;
    let t = r.mint(json!({"sub": "user_demoAlice"}));
    let (status, body, _) = r.get("/api/me", Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body,
        json!({
            "id": "user_demoAlice",
            "firstName": "Alice",
            "lastName": "Anders",
            "username": "alice",
            "imageUrl": "https://img.clerk.com/demo/alice.png",
            "primaryEmail": "alice@example.com",
            "publicMetadata": {"plan": "pro"},
        })
    );
    assert!(!body.to_string().contains("PRIVATE"));
    for _ in 0..3 {
        assert_eq!(r.get("/api/me", Some(&t)).await.0, 200);
    }
    assert_eq!(r.stub.user_calls(), 1, "profile served from the cache");
}

#[tokio::test]
async fn me_maps_clerk_answers() {
    let r = rig().await;
    let (status, body, _) = r
        .get("/api/me", Some(&r.mint(json!({"sub": "user_gone"}))))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (404, Some("user-not-found"))
    );
    let (status, body, resp) = r
        .get("/api/me", Some(&r.mint(json!({"sub": "user_ratelimited"}))))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("clerk-rate-limited"))
    );
    assert_eq!(resp.headers()["retry-after"], "7");
    let (status, _, _) = r.get("/api/me", None).await;
    assert_eq!(status, 401);
    assert_eq!(r.stub.user_calls(), 2);
}

#[tokio::test]
async fn outages_are_503_never_401() {
    let r = rig().await;
    r.stub.set_fault(Fault::Down, 0);
    let t = r.mint(json!({}));
    let (status, body, resp) = r.get("/api/protected", Some(&t)).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("jwk-remote-failed-to-load"))
    );
    assert_eq!(body["error"], "service_unavailable");
    assert_eq!(resp.headers()["retry-after"], "2");
    // Secrets Manager throttling on a cold container.
    let r = rig().await;
    r.secrets
        .set(Err(SecretError::Transient("ThrottlingException".into())));
    let (status, body, _) = r.get("/api/protected", Some(&r.mint(json!({})))).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("secret-unavailable"))
    );
    // A deleted secret is a 500 with a generic body.
    let r = rig().await;
    r.secrets
        .set(Err(SecretError::NotFound("clerk/secret".into())));
    let (status, body, _) = r.get("/api/protected", Some(&r.mint(json!({})))).await;
    assert_eq!(status, 500);
    assert_eq!(
        body,
        json!({"error": "internal_error", "reason": "internal", "message": "Internal server error."})
    );
}

#[tokio::test]
async fn unlisted_paths_and_methods_are_told_only_to_a_session() {
    let r = rig().await;
    let t = r.mint(json!({}));
    let bearer = format!("Bearer {t}");
    for (method, path, token, status, reason) in [
        // Secure by default: a stranger learns nothing about which routes exist.
        ("POST", "/api/protected", None, 401, "session-token-missing"),
        ("GET", "/api/unknown", None, 401, "session-token-missing"),
        ("GET", "/api/orgs/org_1", None, 401, "session-token-missing"),
        (
            "POST",
            "/api/protected",
            Some(&bearer),
            405,
            "method-not-allowed",
        ),
        ("GET", "/api/unknown", Some(&bearer), 404, "route-not-found"),
        ("GET", "/api/me/", Some(&bearer), 404, "route-not-found"),
        (
            "GET",
            "/api/sensitive",
            Some(&bearer),
            405,
            "method-not-allowed",
        ),
    ] {
        let headers: Vec<(&str, &str)> = token
            .map(|t| ("authorization", t.as_str()))
            .into_iter()
            .collect();
        let resp = r
            .app
            .handle(&apigw_v2_request(method, path, &headers))
            .await;
        let body = json_body(&resp);
        assert_eq!(
            (resp.status().as_u16(), body["reason"].as_str()),
            (status, Some(reason)),
            "{method} {path}"
        );
        if status == 405 {
            let allow = if path == "/api/sensitive" {
                "POST"
            } else {
                "GET, HEAD"
            };
            assert_eq!(resp.headers()["allow"], allow);
        }
    }
}

/// Alice administers org_1, whose plan has the `reports` feature, and verified 3 minutes ago.
fn alice() -> Value {
    json!({"sub": "user_2guarded", "org": {"id": "org_1", "slug": "acme", "role": "admin"},
           "claims": {"fea": "o:reports", "fva": [3, -1]}})
}

#[tokio::test]
async fn guards_answer_before_the_handler() {
    let r = rig().await;
    let with = |edit: Value| {
        let mut req = alice();
        for (k, v) in edit.as_object().unwrap() {
            req[k] = v.clone();
        }
        r.mint(req)
    };
    let alice = r.mint(alice());
    let member = with(json!({"org": {"id": "org_1", "slug": "acme", "role": "member"}}));
    let no_org = with(json!({"org": null}));
    let no_plan = with(json!({"claims": {"fea": "o:dashboard", "fva": [3, -1]}}));
    let user_plan = with(json!({"org": null, "claims": {"fea": "u:reports", "fva": [3, -1]}}));
    let stale = with(json!({"claims": {"fea": "o:reports", "fva": [11, -1]}}));
    let stale_2fa = with(json!({"claims": {"fea": "o:reports", "fva": [0, 12]}}));
    let fresh_2fa = with(json!({"claims": {"fea": "o:reports", "fva": [500, 9.5]}}));
    for (method, path, token, status, reason) in [
        ("GET", "/api/orgs/org_1/admin", &alice, 200, None),
        (
            "GET",
            "/api/orgs/org_2/admin",
            &alice,
            403,
            Some("forbidden"),
        ),
        (
            "GET",
            "/api/orgs/org_1/admin",
            &member,
            403,
            Some("forbidden"),
        ),
        (
            "GET",
            "/api/orgs/org_1/admin",
            &no_org,
            403,
            Some("forbidden"),
        ),
        (
            "GET",
            "/api/orgs/org_%31/admin",
            &alice,
            403,
            Some("forbidden"),
        ),
        ("GET", "/api/reports", &alice, 200, None),
        ("GET", "/api/reports", &user_plan, 200, None),
        ("GET", "/api/reports", &no_plan, 403, Some("forbidden")),
        ("POST", "/api/sensitive", &alice, 200, None),
        ("POST", "/api/sensitive", &fresh_2fa, 200, None),
        (
            "POST",
            "/api/sensitive",
            &stale,
            403,
            Some("reverification-error"),
        ),
        (
            "POST",
            "/api/sensitive",
            &stale_2fa,
            403,
            Some("reverification-error"),
        ),
    ] {
        let bearer = format!("Bearer {token}");
        let resp = r
            .app
            .handle(&apigw_v2_request(
                method,
                path,
                &[("authorization", &bearer)],
            ))
            .await;
        let body = json_body(&resp);
        assert_eq!(
            (resp.status().as_u16(), body["reason"].as_str()),
            (status, reason),
            "{method} {path}: {body}"
        );
        match reason {
            None => assert!(body["message"].is_string()),
            Some("forbidden") => {
                assert_eq!(body["error"], "forbidden");
                assert!(body.get("clerk_error").is_none());
                assert!(resp.headers().get("www-authenticate").is_none());
            }
            Some(_) => assert_eq!(
                body["clerk_error"],
                json!({"type": "forbidden", "reason": "reverification-error",
                       "metadata": {"reverification": "strict"}})
            ),
        }
    }
    let (_, body, _) = r.get("/api/orgs/org_1/admin", Some(&alice)).await;
    assert_eq!(body["org_id"], "org_1");
    assert_eq!(body["role"], "org:admin");
    // No guard made a network call: one key set for every answer.
    assert_eq!((r.stub.jwks_calls(), r.stub.user_calls()), (1, 0));
}

/// The webhooks function's table, as `/api/me` reads it: a fixed answer per user, counted.
#[derive(Debug, Default)]
struct FakeTable {
    reads: std::sync::atomic::AtomicU64,
}

#[async_trait::async_trait]
impl UserReader for FakeTable {
    async fn get_user(&self, user_id: &str) -> Result<Lookup, TableError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        match user_id {
            "user_stored" => Ok(Lookup::Found(UserProfile {
                id: user_id.into(),
                first_name: Some("Stored".into()),
                last_name: None,
                username: None,
                image_url: None,
                primary_email: Some("stored@example.com".into()),
                public_metadata: json!({"from": "table"}),
            })),
            "user_tombstoned" => Ok(Lookup::Deleted),
            "user_demoBob" => Err(TableError::Unavailable("throttled".into())),
            _ => Ok(Lookup::Missing),
        }
    }
}

#[tokio::test]
async fn me_reads_the_users_table_before_clerk() {
    let Rig {
        stub,
        app,
        secrets,
        _clock,
    } = rig().await;
    let table = Arc::new(FakeTable::default());
    let r = Rig {
        stub,
        app: app.with_users_table(table.clone()),
        secrets,
        _clock,
    };
    let reads = || table.reads.load(std::sync::atomic::Ordering::SeqCst);
    // In the table: answered from it, Clerk not asked; then from the in-memory cache.
    let t = r.mint(json!({"sub": "user_stored"}));
    let (status, body, _) = r.get("/api/me", Some(&t)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["primaryEmail"], "stored@example.com");
    assert_eq!(body["publicMetadata"], json!({"from": "table"}));
    assert_eq!(r.get("/api/me", Some(&t)).await.0, 200);
    assert_eq!((reads(), r.stub.user_calls()), (1, 0));
    // Deleted (a user.deleted event arrived): 404 without asking Clerk.
    let (status, body, _) = r
        .get("/api/me", Some(&r.mint(json!({"sub": "user_tombstoned"}))))
        .await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (404, Some("user-not-found"))
    );
    assert_eq!((reads(), r.stub.user_calls()), (2, 0));
    // Not there yet: Clerk answers.
    let (status, body, _) = r
        .get("/api/me", Some(&r.mint(json!({"sub": "user_demoAlice"}))))
        .await;
    assert_eq!(
        (status, body["primaryEmail"].as_str()),
        (200, Some("alice@example.com"))
    );
    assert_eq!((reads(), r.stub.user_calls()), (3, 1));
    // The table throttled: it is a copy, so Clerk answers (not a 503).
    let (status, body, _) = r
        .get("/api/me", Some(&r.mint(json!({"sub": "user_demoBob"}))))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((reads(), r.stub.user_calls()), (4, 2));
}
