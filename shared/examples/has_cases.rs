//! The Rust side of `tests/clerk-node/has-differential.mjs`: for each case (a session's claims and
//! a `has()` check), signs the claims into a session token, verifies it as the functions do and
//! answers `Session::has`. Prints a JSON array: `true`/`false`, or the reason the token was refused.
//!
//!   has_cases CASES.json

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;

use serde_json::{Value, json};
use shared::authorization::{Check, Level, Reverification};
use shared::clock::{Clock, ManualClock};
use shared::verify::Verifier;
use test_support::{AZP, ISS, NOW, TestKey};

fn reverification(v: &Value) -> Option<Reverification> {
    match v {
        Value::String(name) => Reverification::preset(name),
        Value::Object(o) => Some(Reverification::Custom {
            level: Level::parse(o.get("level")?.as_str()?)?,
            after_minutes: o.get("afterMinutes")?.as_f64()?,
        }),
        _ => None,
    }
}

fn main() {
    let file = std::env::args()
        .nth(1)
        .expect("usage: has_cases CASES.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let key = TestKey::generate("ins_has");
    let clock: Arc<dyn Clock> = ManualClock::new(u64::try_from(NOW).unwrap() * 1000);
    let verifier = Verifier::new(ISS, vec![AZP.to_owned()])
        .unwrap()
        .with_clock(clock);
    let rsa = key.rsa_key();
    let verdicts: Vec<Value> = cases
        .iter()
        .map(|case| {
            let mut claims = case["claims"].as_object().cloned().unwrap_or_default();
            for (k, v) in [
                ("sub", json!("user_has")),
                ("sid", json!("sess_has")),
                ("iss", json!(ISS)),
                ("azp", json!(AZP)),
                ("iat", json!(NOW)),
                ("nbf", json!(NOW - 10)),
                ("exp", json!(NOW + 60)),
            ] {
                claims.insert(k.to_owned(), v);
            }
            let token = key.sign(&Value::Object(claims));
            let session = match verifier.verify(&token, &rsa) {
                Ok(s) => s,
                Err(reason) => return json!(reason.as_str()),
            };
            let c = &case["check"];
            let reverification_asked = c.get("reverification").is_some();
            let check = Check {
                role: c["role"].as_str(),
                permission: c["permission"].as_str(),
                feature: c["feature"].as_str(),
                plan: c["plan"].as_str(),
                reverification: c.get("reverification").and_then(reverification),
            };
            // A reverification this API cannot express (an unknown preset or level) denies.
            if reverification_asked && check.reverification.is_none() {
                return json!(false);
            }
            json!(session.has(&check))
        })
        .collect();
    println!("{}", Value::Array(verdicts));
}
