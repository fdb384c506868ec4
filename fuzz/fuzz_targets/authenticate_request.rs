//! Request authentication: arbitrary Authorization header bytes never panic, and whatever is
//! extracted is refused by the verifier unless it is the valid token.
#![no_main]

use std::sync::OnceLock;

use lambda_http::http::{HeaderMap, HeaderValue, header};
use libfuzzer_sys::fuzz_target;
use shared::clock::ManualClock;
use shared::http::bearer_token;
use shared::rsa_key::RsaKey;
use test_support::TestKey;
use shared::verify::Verifier;

fn key() -> &'static (RsaKey, Verifier) {
    static K: OnceLock<(RsaKey, Verifier)> = OnceLock::new();
    K.get_or_init(|| {
        let v = Verifier::new("https://foo-bar-13.clerk.accounts.dev", vec!["https://app.example.com".into()])
            .unwrap()
            .with_clock(ManualClock::new(1_800_000_000_000));
        (TestKey::generate("ins_fuzz").rsa_key(), v)
    })
}

fuzz_target!(|data: &[u8]| {
    let mut h = HeaderMap::new();
    for part in data.split(|b| *b == b'\n').take(4) {
        if let Ok(v) = HeaderValue::from_bytes(part) {
            h.append(header::AUTHORIZATION, v);
        }
    }
    if let Ok(token) = bearer_token(&h) {
        assert!(!token.is_empty());
        let (k, v) = key();
        assert!(v.verify(token, k).is_err());
    }
});
