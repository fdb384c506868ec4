//! Our verifier on one core for about `ms` milliseconds over the tokens of `make-tokens.mjs`:
//! prints {"impl":"rust","mode":M,"ops":N,"seconds":S,"opsPerSec":R}. Mode `full` (default):
//! every check of every token, signature cache off; `repeated`: the cache on, so the tokens
//! (cycled) skip the RSA check after their first pass; `floor`: only the raw aws-lc-rs RS256 check
//! of each token (signed part and signature decoded beforehand), the ceiling for `full`. Used by
//! `scripts/bench.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::time::{Duration, Instant};

use shared::rsa_key::RsaKey;
use shared::verify::Verifier;

fn main() {
    let mut args = std::env::args().skip(1);
    let file = args.next().expect("tokens file");
    let ms: u64 = args
        .next()
        .map_or(2000, |a| a.parse().expect("milliseconds"));
    let mode = args.next().unwrap_or_else(|| "full".into());
    let cache = match mode.as_str() {
        "full" | "floor" => 0,
        "repeated" => shared::sig_cache::DEFAULT_CAPACITY,
        other => panic!("mode: full, repeated or floor, not {other}"),
    };
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let key = RsaKey::from_pem(v["pem"].as_str().unwrap(), None).unwrap();
    let verifier = Verifier::new(
        v["issuer"].as_str().unwrap(),
        vec![v["azp"].as_str().unwrap().to_owned()],
    )
    .unwrap()
    .with_signature_cache(cache);
    let tokens: Vec<String> = v["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_owned())
        .collect();
    for t in tokens.iter().cycle().take(200) {
        verifier.verify(t, &key).unwrap();
    }
    let floor: Vec<(Vec<u8>, Vec<u8>)> = tokens
        .iter()
        .map(|t| {
            use base64::Engine as _;
            let (input, sig) = t.rsplit_once('.').unwrap();
            let sig = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(sig)
                .unwrap();
            (input.as_bytes().to_vec(), sig)
        })
        .collect();
    let start = Instant::now();
    let end = start + Duration::from_millis(ms);
    let mut ops = 0usize;
    while Instant::now() < end {
        for _ in 0..50 {
            if mode == "floor" {
                let (input, sig) = &floor[ops % floor.len()];
                assert!(key.verify_rs256(std::hint::black_box(input), sig));
            } else {
                let s = verifier.verify(&tokens[ops % tokens.len()], &key).unwrap();
                std::hint::black_box(s);
            }
            ops += 1;
        }
    }
    let seconds = start.elapsed().as_secs_f64();
    println!(
        "{}",
        serde_json::json!({"impl": "rust", "mode": mode, "ops": ops, "seconds": seconds, "opsPerSec": ops as f64 / seconds})
    );
}
