//! The secret source against moto's Secrets Manager server (a real Secrets Manager API): plain and
//! JSON secrets, a missing secret, rotation after the TTL, the server down.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
use e2e::{CountingProxy, Moto, free_port};
use serde_json::json;
use shared::clock::{Clock, ManualClock, SystemClock};
use shared::secret::{AwsSecretSource, SecretCache, SecretError, SecretMaterial, SecretSource};
use shared::testing::TestKey;

fn client(endpoint: &str) -> aws_sdk_secretsmanager::Client {
    let conf = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
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

#[test]
fn secrets_from_moto() {
    let moto = Moto::start();
    let rt = rt();
    let proxy = CountingProxy::start(moto.port);
    let endpoint = format!("http://127.0.0.1:{}", proxy.port);

    // Plain secret.
    moto.create_secret("clerk/plain", "sk_test_plainKey123");
    let source = AwsSecretSource::new(client(&endpoint), "clerk/plain");
    let raw = rt.block_on(source.fetch()).unwrap();
    let m = SecretMaterial::parse(&raw).unwrap();
    assert_eq!(m.secret_key.expose(), "sk_test_plainKey123");
    assert!(m.jwt_key.is_none());

    // JSON secret with the instance's PEM key.
    let key = TestKey::generate("ins_moto");
    moto.create_secret(
        "clerk/json",
        &json!({"CLERK_SECRET_KEY": "sk_live_jsonKey456", "CLERK_JWT_KEY": key.public_pem()})
            .to_string(),
    );
    let source = AwsSecretSource::new(client(&endpoint), "clerk/json");
    let m = SecretMaterial::parse(&rt.block_on(source.fetch()).unwrap()).unwrap();
    assert_eq!(m.secret_key.expose(), "sk_live_jsonKey456");
    assert!(m.jwt_key.unwrap().same_key(&key.rsa_key()));

    // Missing secret: a permanent error, with the id (never a value) in the message.
    let source = AwsSecretSource::new(client(&endpoint), "clerk/missing");
    let e = rt.block_on(source.fetch()).unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");
    assert!(!e.is_transient());

    // Rotation after the TTL, counted at the proxy.
    let clock = ManualClock::new(SystemClock.now_ms());
    let cache = SecretCache::new(
        Arc::new(AwsSecretSource::new(client(&endpoint), "clerk/plain")),
        Duration::from_secs(300),
        clock.clone(),
    );
    let before = proxy.count();
    assert_eq!(
        rt.block_on(cache.get()).unwrap().secret_key.expose(),
        "sk_test_plainKey123"
    );
    moto.put_secret("clerk/plain", "sk_test_rotatedKey789");
    for _ in 0..10 {
        assert_eq!(
            rt.block_on(cache.get()).unwrap().secret_key.expose(),
            "sk_test_plainKey123"
        );
    }
    assert_eq!(proxy.count(), before + 1, "cached inside the TTL");
    clock.advance(300_001);
    assert_eq!(
        rt.block_on(cache.get()).unwrap().secret_key.expose(),
        "sk_test_rotatedKey789"
    );
    assert_eq!(proxy.count(), before + 2);

    // Secrets Manager down: transient; the cached secret keeps serving past the TTL.
    proxy.set_down(true);
    clock.advance(300_001);
    assert_eq!(
        rt.block_on(cache.get()).unwrap().secret_key.expose(),
        "sk_test_rotatedKey789"
    );
    proxy.set_down(false);

    // Nothing listening at all, cold: a transient error.
    let dead = format!("http://127.0.0.1:{}", free_port());
    let e = rt
        .block_on(AwsSecretSource::new(client(&dead), "clerk/plain").fetch())
        .unwrap_err();
    assert!(e.is_transient(), "{e:?}");

    // Deleted: permanent, and the cache stops serving it.
    moto.delete_secret("clerk/plain");
    clock.advance(300_001);
    std::thread::sleep(Duration::from_millis(1100));
    clock.advance(2_000);
    let e = rt.block_on(cache.get()).unwrap_err();
    assert!(matches!(e, SecretError::NotFound(_)), "{e:?}");
}
