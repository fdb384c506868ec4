//! Whole handler: an API Gateway v2 event for `GET /api/protected` to the serialized response, in
//! process (event JSON parsed, token verified with the cached key, session serialized), against
//! the floor (the raw aws-lc-rs RS256 check of the same token). Prints the ratio.
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
use shared::testing::{Floor, TestKey, apigw_v2_event, session_claims};

const AZP: &str = "https://app.example.com";
const NOW: i64 = 1_800_000_000;

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
    let env: HashMap<&str, String> = HashMap::from([
        ("CLERK_PUBLISHABLE_KEY", pk),
        ("CLERK_AUTHORIZED_PARTIES", AZP.into()),
        ("CLERK_SECRET_ID", "bench".into()),
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
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(app.warm());
    let auth = format!("Bearer {token}");
    let event = apigw_v2_event("GET", "/api/protected", &[("authorization", &auth)]);
    let handle = |event: &str| {
        let req = lambda_http::request::from_str(event).unwrap();
        let resp = rt.block_on(app.handle(&req));
        assert_eq!(resp.status(), 200);
        match resp.into_body() {
            lambda_http::Body::Binary(b) => b,
            _ => unreachable!(),
        }
    };
    assert!(String::from_utf8_lossy(&handle(&event)).contains("user_2testUser"));

    let floor = Floor::new(&key, &token);
    assert!(floor.verify());

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    c.bench_function("floor_aws_lc_rs_rs256", |b| {
        b.iter(|| black_box(&floor).verify())
    });
    c.bench_function("handler_event_to_response", |b| {
        b.iter(|| handle(black_box(&event)))
    });
    c.final_summary();
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/criterion");
    let mean = |name: &str| -> Option<f64> {
        let v: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(format!("{dir}/{name}/new/estimates.json")).ok()?,
        )
        .ok()?;
        v["mean"]["point_estimate"].as_f64()
    };
    if let (Some(floor), Some(h)) = (
        mean("floor_aws_lc_rs_rs256"),
        mean("handler_event_to_response"),
    ) {
        println!(
            "\nfloor_aws_lc_rs_rs256      {:>9.2} us {:>8.3} x floor",
            floor / 1000.0,
            1.0
        );
        println!(
            "handler_event_to_response  {:>9.2} us {:>8.3} x floor",
            h / 1000.0,
            h / floor
        );
    }
}
