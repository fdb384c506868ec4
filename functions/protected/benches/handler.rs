//! Whole handler: the bytes of an API Gateway v2 event for `GET /api/protected` to the bytes the
//! function sends back, in process and as the Lambda runtime does it (event parsed into the HTTP
//! API's event type, converted to a request, token verified with the cached key, the response
//! serialized for API Gateway), against the floor (the raw aws-lc-rs RS256 check of the same
//! token). With every check (signature cache off) and for a repeated token (cache on); the event
//! alone (parsed and converted) and lambda_http's own parse show where the rest goes.
//! Criterion's figures, then the ratios from an interleaved run (each batch next to a batch of
//! the floor), which is what the README reports.
//!
//! Run: `cargo bench -p protected --bench handler` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use criterion::Criterion;
use protected::App;
use shared::clerk_api::{ClerkApiError, KeyFetcher, UserDirectory, UserProfile};
use shared::clock::ManualClock;
use shared::config::Config;
use shared::keys::{Instance, PublishableKey, SecretKey};
use shared::rsa_key::RsaKey;
use shared::secret::{SecretError, SecretSource};
use test_support::bench::{Floor, interleaved, print_interleaved};
use test_support::{
    AZP, NOW, TestKey, apigw_v2_event, event_to_request, serialize_response, session_claims,
};

#[derive(Debug)]
struct Secret;
#[async_trait]
impl SecretSource for Secret {
    async fn fetch(&self) -> Result<String, SecretError> {
        Ok("sk_test_bench".into())
    }
}

#[derive(Debug)]
struct Keys(String);
#[async_trait]
impl KeyFetcher for Keys {
    async fn fetch_keys(&self, _: &SecretKey) -> Result<Vec<RsaKey>, ClerkApiError> {
        Ok(vec![
            RsaKey::from_pem(&self.0, Some("ins_bench".into())).unwrap(),
        ])
    }
}
#[async_trait]
impl UserDirectory for Keys {
    async fn get_user(&self, _: &SecretKey, _: &str) -> Result<UserProfile, ClerkApiError> {
        Err(ClerkApiError::NotFound)
    }
}

fn main() {
    let key = TestKey::generate("ins_bench");
    let pk = PublishableKey::encode(Instance::Development, "bench-00.clerk.accounts.dev");
    let iss = "https://bench-00.clerk.accounts.dev";
    let token = key.sign(&session_claims(iss, AZP, NOW));
    // The same session as an organization's admin, for a route whose guards check it.
    let mut admin = session_claims(iss, AZP, NOW);
    admin["o"] = serde_json::json!({"id": "org_bench", "slg": "bench", "rol": "admin"});
    let admin = key.sign(&admin);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let app = |cache: &str| {
        let env: HashMap<&str, String> = HashMap::from([
            ("CLERK_PUBLISHABLE_KEY", pk.clone()),
            ("CLERK_AUTHORIZED_PARTIES", AZP.into()),
            ("CLERK_SECRET_ID", "bench".into()),
            ("CLERK_SIGNATURE_CACHE_SIZE", cache.into()),
        ]);
        let config = Config::from_lookup(|k| env.get(k).cloned()).unwrap();
        let keys = Arc::new(Keys(key.public_pem()));
        let app = App::new(
            &config,
            Arc::new(Secret),
            keys.clone(),
            keys,
            ManualClock::new(NOW as u64 * 1000),
        )
        .unwrap();
        rt.block_on(app.warm());
        app
    };
    let full = app("0");
    let cached = app("1024");
    let auth = format!("Bearer {token}");
    let event = apigw_v2_event("GET", "/api/protected", &[("authorization", &auth)]);
    let admin_auth = format!("Bearer {admin}");
    let guarded = apigw_v2_event(
        "GET",
        "/api/orgs/org_bench/admin",
        &[("authorization", &admin_auth)],
    );
    let to_request = |event: &str| event_to_request(event.as_bytes()).unwrap();
    let handle = |app: &App, event: &str| {
        let req = to_request(event);
        serialize_response(poll_ready(&rt, app.handle(&req)))
    };
    for app in [&full, &cached] {
        let out: serde_json::Value = serde_json::from_slice(&handle(app, &event)).unwrap();
        assert_eq!(out["statusCode"], 200);
        let body = test_support::json_body(&rt.block_on(app.handle(&to_request(&event))));
        assert_eq!(body["userId"], "user_2testUser");
        let body = test_support::json_body(&rt.block_on(app.handle(&to_request(&guarded))));
        assert_eq!(body["org_id"], "org_bench", "{body}");
    }

    let floor = Floor::new(&key, &token);
    assert!(floor.verify());

    // `HANDLER_PROFILE=<name>`: only that benchmark, 2,000 calls inside `profiled_loop`, for
    // `valgrind --tool=callgrind --toggle-collect='*profiled_loop*'` (instruction counts).
    let profile = std::env::var("HANDLER_PROFILE").ok();
    // Each request's EMF line (shared::metrics) is built as in Lambda, then dropped instead of
    // printed. `HANDLER_METRICS=off`: not built, to measure what it costs.
    let _metrics = (std::env::var("HANDLER_METRICS").as_deref() != Ok("off"))
        .then(shared::metrics::Capture::discard);
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    // Each benchmark once: criterion measures them one after the other, then the interleaved run
    // (what the README reports) measures them next to the floor.
    let mut benches: [(&'static str, &mut dyn FnMut()); 6] = [
        ("floor_aws_lc_rs_rs256", &mut || {
            black_box(black_box(&floor).verify());
        }),
        ("handler_event_to_response", &mut || {
            black_box(handle(&full, black_box(&event)));
        }),
        // Organization in the path and role guards before the handler (every check, no cache).
        ("handler_guarded_route", &mut || {
            black_box(handle(&full, black_box(&guarded)));
        }),
        ("handler_repeated_token", &mut || {
            black_box(handle(&cached, black_box(&event)));
        }),
        ("event_to_request_only", &mut || {
            black_box(to_request(black_box(&event)));
        }),
        ("lambda_http_event_parse", &mut || {
            black_box(lambda_http::request::from_str(black_box(&event)).unwrap());
        }),
    ];
    if let Some(name) = profile {
        let (_, f) = benches
            .iter_mut()
            .find(|(n, _)| *n == name)
            .expect("a benchmark name");
        profiled_loop(2000, &mut **f);
        return;
    }
    for (name, f) in &mut benches {
        c.bench_function(name, |b| b.iter(&mut *f));
    }
    c.final_summary();
    let lines = interleaved(60, 200, &mut benches);
    print_interleaved("interleaved (60 rounds x 200 calls, medians)", &lines);
}

#[inline(never)]
fn profiled_loop(n: usize, f: &mut dyn FnMut()) {
    for _ in 0..n {
        f();
    }
}

/// Polls a handler's future as the Lambda runtime's task does: once, in place. A warm handler
/// never waits (key and secret cached), so it is ready at the first poll; entering the Tokio
/// runtime per call (`block_on`) would add work that Lambda never does per request. A future
/// that does wait is finished on `rt`.
fn poll_ready<F: Future>(rt: &tokio::runtime::Runtime, future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match future.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(out) => out,
        std::task::Poll::Pending => rt.block_on(future),
    }
}
