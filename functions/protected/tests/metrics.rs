//! The protected function's EMF lines (docs/observability.md): each request through
//! `App::handle`, against the Clerk stand-in, writes one line that CloudWatch accepts, with the
//! route's pattern, the status class, the reason, and what the request cost (fetches,
//! signature-cache hits, Backend API latency); never a user id, token or raw path.

#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use clerk_stub::{Fault, MintRequest, Stub, StubConfig};
use protected::App;
use serde_json::{Value, json};
use shared::clerk_api::ClerkBackend;
use shared::clock::{Clock as _, ManualClock, SystemClock};
use shared::config::Config;
use shared::metrics::Capture;
use shared::secret::SecretError;
use test_support::{FakeSecretSource, apigw_v2_request};

struct Rig {
    stub: Stub,
    app: App,
    secrets: Arc<FakeSecretSource>,
    capture: Capture,
    /// Every token sent, and the user ids minted: none may appear in a line.
    sent: Vec<String>,
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
    let backend = Arc::new(
        ClerkBackend::new(stub.api_url())
            .unwrap()
            .with_retry_backoff(Duration::ZERO, Duration::ZERO),
    );
    let app = App::new(
        &config,
        secrets.clone(),
        backend.clone(),
        backend,
        ManualClock::new(SystemClock.now_ms()),
    )
    .unwrap();
    Rig {
        stub,
        app,
        secrets,
        capture: Capture::start(),
        sent: Vec::new(),
    }
}

impl Rig {
    fn mint(&mut self, req: Value) -> String {
        if let Some(sub) = req["sub"].as_str() {
            self.sent.push(sub.to_owned());
        }
        let t = self
            .stub
            .mint(&serde_json::from_value::<MintRequest>(req).unwrap());
        self.sent.push(t.clone());
        self.sent.push(t.rsplit('.').next().unwrap().to_owned());
        t
    }

    /// Sends `method path` (with `token`) and returns the status and the request's one EMF line,
    /// checked against the EMF specification and for leaks.
    async fn line(&self, method: &str, path: &str, token: Option<&str>) -> (u16, Value) {
        let auth = token.map(|t| format!("Bearer {t}"));
        let headers: Vec<(&str, &str)> =
            auth.iter().map(|a| ("authorization", a.as_str())).collect();
        let resp = self
            .app
            .handle(&apigw_v2_request(method, path, &headers))
            .await;
        let lines = self.capture.lines();
        assert_eq!(lines.len(), 1, "one EMF line per request: {lines:?}");
        let text = &lines[0];
        assert!(!text.contains('\n'));
        for secret in self.sent.iter().chain([&self.stub.secret_key()]) {
            assert!(!text.contains(secret.as_str()), "{secret} in {text}");
        }
        let v: Value = serde_json::from_str(text).unwrap();
        test_support::emf::check(&v).unwrap_or_else(|e| panic!("{e}: {text}"));
        // Only these dimensions, each a short code.
        let dims: Vec<String> = v["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["Dimensions"].as_array().unwrap().iter())
            .flat_map(|set| set.as_array().unwrap().iter())
            .map(|k| k.as_str().unwrap().to_owned())
            .collect();
        for d in &dims {
            assert!(
                ["Function", "Route", "StatusClass", "Reason"].contains(&d.as_str()),
                "{d}"
            );
        }
        assert_eq!(
            v["StatusClass"],
            format!("{}xx", resp.status().as_u16() / 100)
        );
        (resp.status().as_u16(), v)
    }
}

#[tokio::test]
async fn a_cold_request_counts_its_fetches_and_a_warm_one_its_cache_hit() {
    let mut r = rig().await;
    let t = r.mint(json!({"sub": "user_demoAlice"}));
    let (status, v) = r.line("GET", "/api/protected", Some(&t)).await;
    assert_eq!(status, 200);
    assert_eq!(v["Route"], "/api/protected");
    assert_eq!(v["Requests"], 1);
    assert_eq!(v["SecretFetches"], 1);
    assert_eq!(v["KeySetFetches"], 1);
    assert_eq!(v["ClerkApiCalls"], 1);
    assert_eq!(v["ClerkApiLatency"].as_array().unwrap().len(), 1);
    assert_eq!(v["SignatureCacheMisses"], 1);
    assert!(v.get("Reason").is_none());
    // Warm: the same token skips the RSA check and reaches nothing.
    let (_, v) = r.line("GET", "/api/protected", Some(&t)).await;
    assert_eq!(v["SignatureCacheHits"], 1);
    for gone in [
        "SecretFetches",
        "KeySetFetches",
        "ClerkApiCalls",
        "ClerkApiLatency",
    ] {
        assert!(v.get(gone).is_none(), "{gone}: {v}");
    }
    // /api/me asks Clerk for the profile: one Backend API call, timed.
    let (status, v) = r.line("GET", "/api/me", Some(&t)).await;
    assert_eq!(status, 200);
    assert_eq!(v["Route"], "/api/me");
    assert_eq!(v["ClerkApiCalls"], 1);
    assert_eq!(r.stub.user_calls(), 1);
}

#[tokio::test]
async fn auth_failures_by_reason_and_routes_by_pattern_never_by_path() {
    let mut r = rig().await;
    let forged = r.mint(json!({"sub": "user_metricsMallory", "key": "foreign"}));
    let (status, v) = r.line("GET", "/api/protected", Some(&forged)).await;
    assert_eq!(status, 401);
    assert_eq!(v["Reason"], "token-invalid-signature");
    assert_eq!(v["AuthFailures"], 1);
    let (status, v) = r.line("GET", "/api/protected", None).await;
    assert_eq!(status, 401);
    assert_eq!(v["Reason"], "session-token-missing");
    // A route with a parameter: its pattern, not the organization asked for.
    let t = r.mint(json!({"sub": "user_metricsBob"}));
    let (status, v) = r
        .line("GET", "/api/orgs/org_metrics42/admin", Some(&t))
        .await;
    assert_eq!(status, 403);
    assert_eq!(v["Route"], "/api/orgs/{org_id}/admin");
    assert_eq!(v["AuthFailures"], 1);
    let (_, v) = r.line("GET", "/api/orgs/org_metrics42/admin", None).await;
    assert!(!v.to_string().contains("org_metrics42"));
    // No route: "unmatched", whatever the path holds, signed in or not.
    for token in [None, Some(t.as_str())] {
        let (_, v) = r.line("GET", "/api/users/user_metricsBob/raw", token).await;
        assert_eq!(v["Route"], "unmatched");
        assert!(!v.to_string().contains("user_metricsBob"), "{v}");
    }
}

#[tokio::test]
async fn outages_by_cause() {
    let mut r = rig().await;
    r.stub.set_fault(Fault::Down, 0);
    let t = r.mint(json!({}));
    let (status, v) = r.line("GET", "/api/protected", Some(&t)).await;
    assert_eq!(status, 503);
    assert_eq!(v["Outages"], 1);
    assert_eq!(v["Reason"], "jwk-remote-failed-to-load");
    assert_eq!(v["KeySetFetchFailures"], 1);
    assert!(v["ClerkApiFailures"].as_u64().unwrap() >= 1);
    assert!(v.get("AuthFailures").is_none());

    let mut r = rig().await;
    r.secrets
        .set(Err(SecretError::Transient("ThrottlingException".into())));
    let t = r.mint(json!({}));
    let (status, v) = r.line("GET", "/api/protected", Some(&t)).await;
    assert_eq!(status, 503);
    assert_eq!(v["Reason"], "secret-unavailable");
    assert_eq!(v["SecretFetchFailures"], 1);
    assert!(
        v.get("ClerkApiCalls").is_none(),
        "Clerk is not called without the secret"
    );
}
