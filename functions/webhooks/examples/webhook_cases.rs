//! The signature check of the webhooks function, case by case, for the differential test against
//! Clerk's `verifyWebhook` (tests/clerk-node/webhook-differential.mjs). Reads JSON lines
//! `{"secret", "headers": {name: value}, "body", "now_ms"}` on standard input and writes one line
//! per case: `ok`, or the reason code of the refusal (`key:` and why, for a refused secret).
#![allow(clippy::print_stdout, clippy::unwrap_used)]

use std::io::{BufRead as _, Write as _};

use lambda_http::http::{HeaderMap, HeaderName, HeaderValue};
use serde::Deserialize;
use webhooks::signature::{WebhookKey, verify};

#[derive(Deserialize)]
struct Case {
    secret: String,
    headers: Vec<(String, String)>,
    body: String,
    now_ms: u64,
}

fn main() {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    for line in std::io::stdin().lock().lines() {
        let case: Case = serde_json::from_str(&line.unwrap()).unwrap();
        let answer = match WebhookKey::parse(&case.secret) {
            Err(e) => format!("key: {e}"),
            Ok(key) => {
                let mut headers = HeaderMap::new();
                let mut unrepresentable = false;
                for (name, value) in &case.headers {
                    match (
                        HeaderName::from_bytes(name.as_bytes()),
                        HeaderValue::from_str(value),
                    ) {
                        (Ok(n), Ok(v)) => {
                            headers.append(n, v);
                        }
                        // API Gateway would not deliver it: as if the header were missing.
                        _ => unrepresentable = true,
                    }
                }
                match verify(&[&key], &headers, case.body.as_bytes(), case.now_ms) {
                    Ok(_) if unrepresentable => "webhook-headers-missing".to_owned(),
                    Ok(_) => "ok".to_owned(),
                    Err(reason) => reason.as_str().to_owned(),
                }
            }
        };
        writeln!(out, "{answer}").unwrap();
    }
}
