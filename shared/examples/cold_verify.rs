//! Cold start of verification alone: a process that reads the PEM, verifies one token, exits.
//! The counterpart of `tests/bench-node/cold-verify.mjs`. Used by `scripts/bench.sh`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use shared::rsa_key::RsaKey;
use shared::verify::Verifier;

fn main() {
    let file = std::env::args().nth(1).expect("tokens file");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let key = RsaKey::from_pem(v["pem"].as_str().unwrap(), None).unwrap();
    let verifier = Verifier::new(
        v["issuer"].as_str().unwrap(),
        vec![v["azp"].as_str().unwrap().to_owned()],
    )
    .unwrap();
    let session = verifier
        .verify(v["tokens"][0].as_str().unwrap(), &key)
        .unwrap();
    assert!(!session.user_id.is_empty());
}
