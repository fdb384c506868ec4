//! The signature cache: a repeated token skips only the RSA check. Every other check still runs,
//! a hit needs the same token and the same key material, only accepted tokens are remembered,
//! and the cache stays within its capacity.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;

use shared::clock::ManualClock;
use shared::config::Config;
use shared::error::Reason;
use shared::verify::Verifier;
use test_support::{AZP, ISS, NOW, TestKey, session_claims};

/// A signing key, the clock at `NOW`, and a verifier on that clock with the default cache.
fn setup() -> (TestKey, Arc<ManualClock>, Verifier) {
    let clock = ManualClock::new((NOW * 1000) as u64);
    let v = Verifier::new(ISS, vec![AZP.to_owned()])
        .unwrap()
        .with_clock(clock.clone());
    (TestKey::generate("ins_cache"), clock, v)
}

fn stats(v: &Verifier) -> (u64, u64) {
    v.signature_cache().unwrap().stats()
}

#[test]
fn a_repeated_token_skips_the_rsa_check_but_not_the_claims() {
    let (key, clock, v) = setup();
    let token = key.sign(&session_claims(ISS, AZP, NOW));
    assert_eq!(
        v.verify(&token, &key.rsa_key()).unwrap().user_id,
        "user_2testUser"
    );
    assert_eq!(stats(&v), (0, 1));
    assert_eq!(
        v.verify(&token, &key.rsa_key()).unwrap().user_id,
        "user_2testUser"
    );
    assert_eq!(stats(&v), (1, 1), "the second verification was a hit");
    // Past exp + skew: refused although its signature is remembered.
    clock.set(((NOW + 60) * 1000 + 5000) as u64);
    assert_eq!(v.verify(&token, &key.rsa_key()), Err(Reason::TokenExpired));
    assert_eq!(stats(&v), (2, 1));
}

#[test]
fn a_hit_needs_the_same_key_material() {
    let (key, _, v) = setup();
    let other = TestKey::generate("ins_cache"); // a rotated key under the same kid
    let token = key.sign(&session_claims(ISS, AZP, NOW));
    assert!(v.verify(&token, &key.rsa_key()).is_ok());
    assert_eq!(
        v.verify(&token, &other.rsa_key()),
        Err(Reason::TokenInvalidSignature)
    );
}

#[test]
fn changes_to_a_remembered_token_are_refused() {
    let (key, _, v) = setup();
    let token = key.sign(&session_claims(ISS, AZP, NOW));
    assert!(v.verify(&token, &key.rsa_key()).is_ok());
    let (head, rest) = token.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let mut claims = session_claims(ISS, AZP, NOW);
    claims["sub"] = "user_admin".into();
    let forged = format!("{head}.{}.{sig}", test_support::b64_json(&claims));
    assert_eq!(
        v.verify(&forged, &key.rsa_key()),
        Err(Reason::TokenInvalidSignature)
    );
    let mut bytes = token.clone().into_bytes();
    let last = bytes.len() - 2;
    bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
    let resigned = String::from_utf8(bytes).unwrap();
    assert_eq!(
        v.verify(&resigned, &key.rsa_key()),
        Err(Reason::TokenInvalidSignature)
    );
}

#[test]
fn only_accepted_tokens_are_remembered() {
    let (key, _, v) = setup();
    // Signed correctly but for another origin, then expired, then by another key.
    let wrong_azp = key.sign(&session_claims(ISS, "https://evil.example.com", NOW));
    let expired = key.sign(&session_claims(ISS, AZP, NOW - 3600));
    let foreign = TestKey::generate("ins_cache").sign(&session_claims(ISS, AZP, NOW));
    for t in [&wrong_azp, &expired, &foreign] {
        assert!(v.verify(t, &key.rsa_key()).is_err());
        assert!(v.verify(t, &key.rsa_key()).is_err());
    }
    assert_eq!(v.signature_cache().unwrap().len(), 0);
    assert_eq!(stats(&v).0, 0, "no hit for a refused token");
}

#[test]
fn the_cache_stays_within_its_capacity() {
    let (key, _, v) = setup();
    let v = v.with_signature_cache(4);
    for i in 0..10 {
        let mut c = session_claims(ISS, AZP, NOW);
        c["sid"] = format!("sess_{i}").into();
        let t = key.sign(&c);
        assert!(v.verify(&t, &key.rsa_key()).is_ok());
        assert!(v.signature_cache().unwrap().len() <= 4);
    }
}

#[test]
fn the_cache_can_be_turned_off() {
    let (key, _, v) = setup();
    let v = v.with_signature_cache(0);
    assert!(v.signature_cache().is_none());
    let token = key.sign(&session_claims(ISS, AZP, NOW));
    assert!(v.verify(&token, &key.rsa_key()).is_ok());
    assert!(v.verify(&token, &key.rsa_key()).is_ok());
}

#[test]
fn its_size_is_configured_by_clerk_signature_cache_size() {
    let base = [
        (
            "CLERK_PUBLISHABLE_KEY",
            "pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk",
        ),
        ("CLERK_AUTHORIZED_PARTIES", AZP),
    ];
    let config = |size: Option<&str>| {
        let mut env: HashMap<&str, &str> = base.into_iter().collect();
        if let Some(s) = size {
            env.insert("CLERK_SIGNATURE_CACHE_SIZE", s);
        }
        Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned()))
    };
    assert_eq!(config(None).unwrap().signature_cache, 1024);
    assert_eq!(config(Some("0")).unwrap().signature_cache, 0);
    let off = Verifier::from_config(&config(Some("0")).unwrap()).unwrap();
    assert!(off.signature_cache().is_none());
    for bad in ["-1", "lots", "65537"] {
        let e = config(Some(bad)).unwrap_err();
        assert_eq!(e.var, "CLERK_SIGNATURE_CACHE_SIZE", "{bad}");
    }
}
