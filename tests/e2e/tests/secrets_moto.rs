//! The secret source against moto's Secrets Manager server (a real Secrets Manager API), one test
//! per case: plain and JSON secrets, a missing secret, rotation after the TTL, the server down,
//! nothing listening, the secret deleted. Time is a manual clock: no sleeping for TTLs.
//!
//! The tests share one moto server (each with secret names of its own) and each has its own
//! proxy, which counts the `GetSecretValue` calls of that test only.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::config::retry::RetryConfig;
use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use e2e::{CountingProxy, Moto, free_port};
use serde_json::json;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::secret::{AwsSecretSource, SecretCache, SecretError, SecretMaterial, SecretSource};
use test_support::TestKey;

const TTL: Duration = Duration::from_secs(300);
/// Past the TTL.
const PAST_TTL_MS: u64 = 300_001;

/// A client without the SDK's own retries: what is tested is how each answer is classified and
/// cached, and a retry would sleep in real time (its back-off) inside these manual-clock tests.
fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .retry_config(RetryConfig::disabled())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "e2e"))
        .endpoint_url(endpoint)
        .http_client(shared::https::sdk_http_client().unwrap())
        .build();
    aws_sdk_secretsmanager::Client::from_conf(conf)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap()
}

/// moto behind a counting proxy of this test's own.
struct Rig {
    moto: Arc<Moto>,
    proxy: CountingProxy,
    rt: tokio::runtime::Runtime,
}

impl Rig {
    fn new() -> Self {
        let moto = Moto::shared();
        let rt = rt();
        let proxy = CountingProxy::start(moto.port);
        Self { moto, proxy, rt }
    }

    fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.proxy.port)
    }

    fn source(&self, id: &str) -> AwsSecretSource {
        AwsSecretSource::new(client(&self.endpoint()), id)
    }

    fn fetch(&self, id: &str) -> Result<String, SecretError> {
        self.rt.block_on(self.source(id).fetch())
    }

    /// A cache of `id` on a manual clock.
    fn cache(&self, id: &str) -> (SecretCache, Arc<ManualClock>) {
        let clock = ManualClock::new(SystemClock.now_ms());
        let cache = SecretCache::new(Arc::new(self.source(id)), TTL, clock.clone());
        (cache, clock)
    }

    fn cached_key(&self, cache: &SecretCache) -> String {
        self.rt
            .block_on(cache.get())
            .unwrap()
            .secret_key
            .expose()
            .to_owned()
    }
}

#[test]
fn a_plain_secret_is_the_secret_key() {
    let r = Rig::new();
    r.moto.create_secret("clerk/plain", "sk_test_plainKey123");
    let m = SecretMaterial::parse(&r.fetch("clerk/plain").unwrap()).unwrap();
    assert_eq!(m.secret_key.expose(), "sk_test_plainKey123");
    assert!(m.jwt_key.is_none());
}

#[test]
fn a_json_secret_carries_the_instance_pem() {
    let r = Rig::new();
    let key = TestKey::generate("ins_moto");
    r.moto.create_secret(
        "clerk/json",
        &json!({"CLERK_SECRET_KEY": "sk_live_jsonKey456", "CLERK_JWT_KEY": key.public_pem()})
            .to_string(),
    );
    let m = SecretMaterial::parse(&r.fetch("clerk/json").unwrap()).unwrap();
    assert_eq!(m.secret_key.expose(), "sk_live_jsonKey456");
    assert!(m.jwt_key.unwrap().same_key(&key.rsa_key()));
}

#[test]
fn a_missing_secret_is_permanent_and_named_by_its_id() {
    let r = Rig::new();
    let e = r.fetch("clerk/missing").unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");
    assert!(!e.is_transient());
    assert!(e.to_string().contains("clerk/missing"), "{e}");
}

#[test]
fn rotation_is_read_after_the_ttl_and_not_before() {
    let r = Rig::new();
    r.moto
        .create_secret("clerk/rotating", "sk_test_plainKey123");
    let (cache, clock) = r.cache("clerk/rotating");
    assert_eq!(r.cached_key(&cache), "sk_test_plainKey123");
    assert_eq!(r.proxy.count(), 1);
    r.moto.put_secret("clerk/rotating", "sk_test_rotatedKey789");
    for _ in 0..10 {
        assert_eq!(r.cached_key(&cache), "sk_test_plainKey123");
    }
    assert_eq!(r.proxy.count(), 1, "cached inside the TTL");
    clock.advance(PAST_TTL_MS);
    assert_eq!(r.cached_key(&cache), "sk_test_rotatedKey789");
    assert_eq!(r.proxy.count(), 2);
}

#[test]
fn secrets_manager_down_the_cached_secret_keeps_serving_past_the_ttl() {
    let r = Rig::new();
    r.moto.create_secret("clerk/down", "sk_test_plainKey123");
    let (cache, clock) = r.cache("clerk/down");
    assert_eq!(r.cached_key(&cache), "sk_test_plainKey123");
    r.proxy.set_down(true);
    clock.advance(PAST_TTL_MS);
    assert_eq!(r.cached_key(&cache), "sk_test_plainKey123");
    // The cold read, with nothing cached, is a transient error.
    let e = r.fetch("clerk/down").unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

#[test]
fn nothing_listening_at_all_is_transient() {
    let dead = format!("http://127.0.0.1:{}", free_port());
    let e = rt()
        .block_on(AwsSecretSource::new(client(&dead), "clerk/plain").fetch())
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");
}

#[test]
fn a_deleted_secret_is_permanent_and_the_cache_stops_serving_it() {
    let r = Rig::new();
    r.moto.create_secret("clerk/deleted", "sk_test_plainKey123");
    let (cache, clock) = r.cache("clerk/deleted");
    assert_eq!(r.cached_key(&cache), "sk_test_plainKey123");
    r.moto.delete_secret("clerk/deleted");
    clock.advance(PAST_TTL_MS);
    let e = r.rt.block_on(cache.get()).unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");
    // Not served again from the cache, even inside the retry back-off.
    let e = r.rt.block_on(cache.get()).unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");
}
