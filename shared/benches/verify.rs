//! Verify hot path: token -> `Session` with the key cached, against the floor: the raw aws-lc-rs
//! RS256 check of the same token with a key parsed once. Every check (signature cache off), and a
//! repeated token (signature cache on: every check but the RSA one). Also jsonwebtoken's own
//! `decode` as a reference. Criterion's figures, then the ratios from an interleaved run (each
//! batch next to a batch of the floor), which is what the README reports.
//!
//! Run: `cargo bench -p shared --bench verify` (or `make bench`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::hint::black_box;
use std::time::Duration;

use criterion::Criterion;
use shared::clock::ManualClock;
use shared::verify::Verifier;
use test_support::bench::{Floor, interleaved, print_interleaved};
use test_support::{AZP, ISS, NOW, TestKey, session_claims};

fn main() {
    let key = TestKey::generate("ins_bench");
    let token = key.sign(&session_claims(ISS, AZP, NOW));
    let rsa = key.rsa_key();
    let cached = Verifier::new(ISS, vec![AZP.into()])
        .unwrap()
        .with_clock(ManualClock::new(NOW as u64 * 1000));
    let verifier = cached.clone().with_signature_cache(0);
    assert!(verifier.verify(&token, &rsa).is_ok());
    assert!(cached.verify(&token, &rsa).is_ok());

    // The floor: a parsed key, the signing input and the decoded signature at hand.
    let floor = Floor::new(&key, &token);
    assert!(floor.verify());

    // jsonwebtoken 12 (aws_lc_rs backend), its own decode with its validation.
    let jwt_key = jsonwebtoken::DecodingKey::from_rsa_pem(key.public_pem().as_bytes()).unwrap();
    let mut validation = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::RS256);
    validation.validate_exp = false;
    validation.set_issuer(&[ISS]);
    validation.required_spec_claims.clear();
    assert!(jsonwebtoken::decode::<serde_json::Value>(&token, &jwt_key, &validation).is_ok());

    let mut c = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(3))
        .configure_from_args();
    // Each benchmark once: criterion measures them one after the other, then the interleaved run
    // (what the README reports) measures them next to the floor.
    let mut benches: [(&'static str, &mut dyn FnMut()); 4] = [
        ("floor_aws_lc_rs_rs256", &mut || {
            black_box(black_box(&floor).verify());
        }),
        ("verifier_token_to_session", &mut || {
            black_box(verifier.verify(black_box(&token), &rsa).unwrap());
        }),
        ("verifier_repeated_token", &mut || {
            black_box(cached.verify(black_box(&token), &rsa).unwrap());
        }),
        ("jsonwebtoken_decode", &mut || {
            black_box(
                jsonwebtoken::decode::<serde_json::Value>(black_box(&token), &jwt_key, &validation)
                    .unwrap(),
            );
        }),
    ];
    for (name, f) in &mut benches {
        c.bench_function(name, |b| b.iter(&mut *f));
    }
    c.final_summary();
    let lines = interleaved(60, 200, &mut benches);
    print_interleaved("interleaved (60 rounds x 200 calls, medians)", &lines);
}
