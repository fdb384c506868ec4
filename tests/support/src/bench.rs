//! The benchmarks' harness: the floor they are measured against (the raw aws-lc-rs RS256 check)
//! and the interleaved runner that measures each benchmark next to it.

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::KeyPair as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::TestKey;

/// The benchmarks' floor: the raw aws-lc-rs RS256 check of `token`, with the key parsed once and
/// the signing input and signature at hand.
#[derive(Debug)]
pub struct Floor {
    key: aws_lc_rs::signature::ParsedPublicKey,
    input: String,
    signature: Vec<u8>,
}

impl Floor {
    /// # Panics
    /// If the token or key is not usable (test support only).
    #[allow(clippy::expect_used)]
    pub fn new(key: &TestKey, token: &str) -> Self {
        use base64::Engine as _;
        let (input, sig) = token.rsplit_once('.').expect("a JWT");
        let c = PublicKeyComponents::<Vec<u8>>::from(key.pair.public_key());
        let spki = PublicKeyComponents {
            n: &c.n[..],
            e: &c.e[..],
        }
        .as_der()
        .expect("SPKI");
        Self {
            key: aws_lc_rs::signature::ParsedPublicKey::new(
                &aws_lc_rs::signature::RSA_PKCS1_2048_8192_SHA256,
                spki.as_ref(),
            )
            .expect("RSA key"),
            input: input.to_owned(),
            signature: URL_SAFE_NO_PAD.decode(sig).expect("base64url signature"),
        }
    }

    pub fn verify(&self) -> bool {
        self.key
            .verify_sig(self.input.as_bytes(), &self.signature)
            .is_ok()
    }
}

/// One line of [`interleaved`]: a benchmark's median time per call and its median ratio to the
/// first (the baseline), over rounds.
#[derive(Debug, Clone)]
pub struct Interleaved {
    pub name: &'static str,
    pub ns_per_call: f64,
    pub ratio: f64,
}

/// Runs each benchmark in turn, `batch` calls each, for `rounds` rounds, so that every
/// measurement has its baseline measured next to it (frequency changes and noisy neighbours hit
/// both). Returns, for each, its median time per call and the median of its per-round ratios to
/// the first benchmark.
pub fn interleaved(
    rounds: usize,
    batch: usize,
    benches: &mut [(&'static str, &mut dyn FnMut())],
) -> Vec<Interleaved> {
    let n = benches.len();
    let mut times = vec![Vec::with_capacity(rounds); n];
    for _ in 0..rounds {
        for (i, (_, f)) in benches.iter_mut().enumerate() {
            let start = std::time::Instant::now();
            for _ in 0..batch {
                f();
            }
            #[allow(clippy::cast_precision_loss)]
            times[i].push(start.elapsed().as_nanos() as f64 / batch as f64);
        }
    }
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    (0..n)
        .map(|i| Interleaved {
            name: benches[i].0,
            ns_per_call: median(times[i].clone()),
            ratio: median(times[i].iter().zip(&times[0]).map(|(t, b)| t / b).collect()),
        })
        .collect()
}

/// Prints [`interleaved`]'s lines as a table.
#[allow(clippy::print_stdout)]
pub fn print_interleaved(title: &str, lines: &[Interleaved]) {
    println!("\n{title}");
    println!("{:<34} {:>12} {:>10}", "benchmark", "median", "x floor");
    for l in lines {
        println!(
            "{:<34} {:>9.2} us {:>10.3}",
            l.name,
            l.ns_per_call / 1000.0,
            l.ratio
        );
    }
}
