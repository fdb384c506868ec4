//! Token parsing and verification: any input is refused without a panic, and a valid token with
//! any byte changed is refused.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use shared::clock::ManualClock;
use shared::rsa_key::RsaKey;
use test_support::{AZP, ISS, TestKey, session_claims};
use shared::verify::{Verifier, decode_unverified};


struct F {
    key: RsaKey,
    token: String,
    verifier: Verifier,
}

fn f() -> &'static F {
    static F_: OnceLock<F> = OnceLock::new();
    F_.get_or_init(|| {
        let k = TestKey::generate("ins_fuzz");
        let f = F {
            token: k.sign(&session_claims(ISS, AZP, 1_800_000_000)),
            key: k.rsa_key(),
            verifier: Verifier::new(ISS, vec![AZP.into()])
                .unwrap()
                .with_clock(ManualClock::new(1_800_000_000_000)),
        };
        // Accepted once, so its signature is cached: mutations are checked against a warm cache.
        assert!(f.verifier.verify(&f.token, &f.key).is_ok());
        f
    })
}

fuzz_target!(|data: &[u8]| {
    let f = f();
    if let Ok(s) = std::str::from_utf8(data) {
        assert!(f.verifier.verify(s, &f.key).is_err() || s == f.token);
        let _ = decode_unverified(s);
    }
    // Mutate the valid token at the position and with the byte the input gives.
    if data.len() >= 2 {
        let mut t = f.token.clone().into_bytes();
        let i = usize::from(data[0]) * 256 + usize::from(data[1]);
        let i = i % t.len();
        let b = data.get(2).copied().unwrap_or(b'A');
        if t[i] != b {
            t[i] = b;
            if let Ok(s) = String::from_utf8(t) {
                assert!(f.verifier.verify(&s, &f.key).is_err(), "a changed token was accepted");
            }
        }
    }
});
