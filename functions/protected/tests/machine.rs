//! `/api/machine` and the token types of the protected function's routes, called directly with
//! API Gateway events, against the Clerk stand-in: what a caller sees, and how many calls reached
//! Clerk.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clerk_stub::machine::{Kind, MachineTokenRequest};
use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use protected::App;
use serde_json::{Value, json};
use shared::clerk_api::ClerkBackend;
use shared::clock::SystemClock;
use shared::config::Config;
use shared::machine::MachineSettings;
use test_support::{FakeSecretSource, apigw_v2_request, json_body};

struct Rig {
    stub: Stub,
    app: App,
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
    let backend = Arc::new(
        ClerkBackend::new(stub.api_url())
            .unwrap()
            .with_retry_backoff(Duration::ZERO, Duration::ZERO),
    );
    let app = App::new(
        &config,
        FakeSecretSource::new(stub.secret_key()),
        backend.clone(),
        backend.clone(),
        Arc::new(SystemClock),
    )
    .unwrap()
    .with_machine(&config, &MachineSettings::default(), backend);
    Rig { stub, app }
}

impl Rig {
    async fn get(
        &self,
        path: &str,
        token: &str,
    ) -> (u16, Value, lambda_http::Response<lambda_http::Body>) {
        let auth = format!("Bearer {token}");
        let resp = self
            .app
            .handle(&apigw_v2_request("GET", path, &[("authorization", &auth)]))
            .await;
        (resp.status().as_u16(), json_body(&resp), resp)
    }
    fn token(&self, kind: Kind, edit: impl FnOnce(&mut MachineTokenRequest)) -> String {
        let mut req = MachineTokenRequest::default();
        edit(&mut req);
        self.stub.create_machine_token(kind, &req)
    }
}

#[tokio::test]
async fn api_machine_answers_the_principal_of_every_type() {
    let r = rig().await;
    let key = r.token(Kind::ApiKey, |q| q.subject = Some("org_acme".into()));
    let (status, body, _) = r.get("/api/machine", &key).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["type"], "api_key");
    assert_eq!(
        body["owner"],
        json!({"kind": "organization", "id": "org_acme"})
    );
    assert_eq!(body["scopes"], json!(["read:reports"]));
    let (_, body, _) = r
        .get("/api/machine", &r.token(Kind::M2mToken, |_| {}))
        .await;
    assert_eq!(
        (body["type"].as_str(), body["machineId"].as_str()),
        (Some("m2m_token"), Some("mch_demoWorker"))
    );
    let (_, body, _) = r
        .get("/api/machine", &r.token(Kind::OauthToken, |q| q.jwt = true))
        .await;
    assert_eq!(
        (body["type"].as_str(), body["userId"].as_str()),
        (Some("oauth_token"), Some("user_demoAlice"))
    );
    assert_eq!(body["clientId"], "client_demoApp");
    let session = r.stub.mint(&MintRequest::default());
    let (status, body, _) = r.get("/api/machine", &session).await;
    assert_eq!(
        (status, body["type"].as_str()),
        (200, Some("session_token")),
        "{body}"
    );
    assert_eq!(body["userId"], "user_demoAlice");
    // Nothing in an answer is the token.
    assert!(!body.to_string().contains(&key));
}

#[tokio::test]
async fn machine_tokens_on_session_routes_are_type_mismatches_without_a_clerk_call() {
    let r = rig().await;
    let key = r.token(Kind::ApiKey, |_| {});
    let m2m_jwt = r.token(Kind::M2mToken, |q| q.jwt = true);
    let oauth_jwt = r.token(Kind::OauthToken, |q| q.jwt = true);
    r.stub.reset_stats();
    for token in [key.as_str(), "mt_x", "oat_x", &m2m_jwt, &oauth_jwt] {
        for path in ["/api/protected", "/api/me", "/api/reports", "/api/nowhere"] {
            let (status, body, resp) = r.get(path, token).await;
            assert_eq!(
                (status, body["reason"].as_str()),
                (401, Some("token-type-mismatch")),
                "{path}"
            );
            assert_eq!(
                resp.headers()["www-authenticate"],
                "Bearer error=\"invalid_token\""
            );
        }
    }
    assert_eq!(r.stub.machine_verify_calls(), 0);
    assert_eq!(r.stub.jwks_calls(), 0, "not even the key set");
    assert_eq!(r.stub.user_calls(), 0);
}

#[tokio::test]
async fn a_hundred_identical_requests_make_one_verify_call_and_revocation_is_seen_after_the_cache()
{
    let r = rig().await;
    let key = r.token(Kind::ApiKey, |_| {});
    for _ in 0..100 {
        assert_eq!(r.get("/api/machine", &key).await.0, 200);
    }
    assert_eq!(r.stub.machine_verify_calls(), 1);
    let other = r.token(Kind::ApiKey, |_| {});
    assert!(r.stub.revoke_machine_token(&other));
    let (status, body, _) = r.get("/api/machine", &other).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (401, Some("machine-token-invalid"))
    );
}

#[tokio::test]
async fn clerk_down_or_throttling_is_503_with_retry_after() {
    let r = rig().await;
    let throttled = r.token(Kind::ApiKey, |q| q.answer = Some("ratelimited".into()));
    let (status, body, resp) = r.get("/api/machine", &throttled).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("clerk-rate-limited"))
    );
    assert_eq!(resp.headers()["retry-after"], "7");
    let key = r.token(Kind::M2mToken, |_| {});
    r.stub.set_fault_async(Fault::Down, 0).await;
    let (status, body, resp) = r.get("/api/machine", &key).await;
    assert_eq!(
        (status, body["reason"].as_str()),
        (503, Some("clerk-unavailable"))
    );
    assert!(resp.headers().contains_key("retry-after"));
}
