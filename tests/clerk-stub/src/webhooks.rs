//! Clerk's webhooks, as Svix sends them: signed `user.*` events delivered to a local endpoint
//! (the webhooks function under `cargo lambda watch`), one scenario at a time.
//!
//! ```text
//! clerk-stub webhook SCENARIO [--url URL] [--user USER_ID]
//!   SCENARIO: single | duplicate | out-of-order | bad-signature | expired | deleted
//!   URL: http://127.0.0.1:9000/api/webhooks/clerk by default (loopback only)
//!   the signing secret: CLERK_WEBHOOK_SIGNING_SECRET, else the demo one (DEMO_SIGNING_SECRET)
//! ```
//! Prints one line per delivery: the status and body the endpoint answered.
//! The signature is computed here on its own (aws-lc-rs HMAC), not with the function's code.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use aws_lc_rs::hmac;
use base64::Engine as _;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

/// The signing secret of `make dev`'s demo endpoint (a demo value, like the demo secret key).
pub const DEMO_SIGNING_SECRET: &str = "whsec_ZGVtb1N0YW5kSW5XZWJob29rU2VjcmV0MDAwMA==";
/// Where `make dev` serves the webhooks function.
pub const DEFAULT_URL: &str = "http://127.0.0.1:9000/api/webhooks/clerk";
/// The scenarios the sender knows.
pub const SCENARIOS: &[&str] = &[
    "single",
    "duplicate",
    "out-of-order",
    "bad-signature",
    "expired",
    "deleted",
];

/// One delivery: the svix headers' values and the body, exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: String,
    pub timestamp: String,
    pub signature: String,
    pub body: String,
}

/// What the endpoint answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub body: Value,
}

/// Signs deliveries with an endpoint's signing secret.
pub struct Signer {
    key: hmac::Key,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Signer([redacted])")
    }
}

fn now_s() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh Svix-like message id.
pub fn message_id() -> String {
    static N: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("msg_{nanos:x}{:x}", N.fetch_add(1, Ordering::SeqCst))
}

impl Signer {
    /// `whsec_` and base64.
    pub fn new(secret: &str) -> Result<Self, String> {
        let b64 = secret
            .trim()
            .strip_prefix("whsec_")
            .ok_or("the signing secret must start with whsec_")?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|_| "the signing secret is not base64 after whsec_")?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, &bytes),
        })
    }

    pub fn demo() -> Self {
        Self::new(DEMO_SIGNING_SECRET).unwrap_or_else(|_| unreachable!("the demo secret parses"))
    }

    /// A delivery of `event` with id `id`, sent at `timestamp_s`.
    pub fn delivery(&self, id: &str, timestamp_s: u64, event: &Value) -> Delivery {
        let body = event.to_string();
        let timestamp = timestamp_s.to_string();
        let tag = hmac::sign(&self.key, format!("{id}.{timestamp}.{body}").as_bytes());
        Delivery {
            id: id.to_owned(),
            timestamp,
            signature: format!(
                "v1,{}",
                base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
            ),
            body,
        }
    }
}

/// A `user.updated` (or `user.created`) event as Clerk sends it, `private_metadata` included (the
/// function must not keep it).
pub fn user_event(kind: &str, user_id: &str, first_name: &str, updated_at_ms: u64) -> Value {
    json!({
        "type": kind,
        "object": "event",
        "timestamp": updated_at_ms,
        "instance_id": "ins_demoStandIn",
        "data": {
            "id": user_id,
            "object": "user",
            "first_name": first_name,
            "last_name": "Demo",
            "username": null,
            "image_url": "https://img.clerk.com/demo/webhook.png",
            "primary_email_address_id": "idn_webhook1",
            "email_addresses": [{"id": "idn_webhook1", "email_address": format!("{}@example.com", first_name.to_lowercase().replace(' ', "."))}],
            "public_metadata": {"source": "webhook"},
            "private_metadata": {"internal": "PRIVATE-METADATA-MUST-NOT-BE-STORED"},
            "unsafe_metadata": {},
            "created_at": 1_700_000_000_000u64,
            "updated_at": updated_at_ms,
        }
    })
}

/// A `user.deleted` event.
pub fn deleted_event(user_id: &str, at_ms: u64) -> Value {
    json!({"type": "user.deleted", "object": "event", "timestamp": at_ms,
           "data": {"id": user_id, "object": "user", "deleted": true}})
}

/// The deliveries of `scenario` for `user_id`, in sending order.
pub fn scenario(signer: &Signer, scenario: &str, user_id: &str) -> Result<Vec<Delivery>, String> {
    let now = now_s();
    let ms = now * 1000;
    Ok(match scenario {
        "single" => vec![signer.delivery(
            &message_id(),
            now,
            &user_event("user.updated", user_id, "Webhook", ms),
        )],
        "duplicate" => {
            let d = signer.delivery(
                &message_id(),
                now,
                &user_event("user.updated", user_id, "Duplicate", ms),
            );
            vec![d.clone(), d]
        }
        // The newer state first, then an older event (delivered late): the newer one stays.
        "out-of-order" => vec![
            signer.delivery(
                &message_id(),
                now,
                &user_event("user.updated", user_id, "Newer", ms),
            ),
            signer.delivery(
                &message_id(),
                now,
                &user_event("user.updated", user_id, "Older", ms - 60_000),
            ),
        ],
        "bad-signature" => {
            let other = Signer::new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")?;
            vec![other.delivery(
                &message_id(),
                now,
                &user_event("user.updated", user_id, "Forged", ms),
            )]
        }
        "expired" => vec![signer.delivery(
            &message_id(),
            now - 600,
            &user_event("user.updated", user_id, "Expired", ms),
        )],
        "deleted" => vec![signer.delivery(&message_id(), now, &deleted_event(user_id, ms))],
        other => return Err(format!("unknown scenario {other}; one of {SCENARIOS:?}")),
    })
}

/// POSTs `d` to `url` (plain HTTP on loopback only) and reads the answer.
pub async fn send(url: &str, d: &Delivery) -> Result<Answer, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or("only http:// URLs (the local stack)")?;
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let host = authority.rsplit_once(':').map_or(authority, |(h, _)| h);
    if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
        return Err(format!(
            "{host} is not loopback: the sender only talks to the local stack"
        ));
    }
    let path = if path.is_empty() { "/" } else { path };
    let mut conn = tokio::net::TcpStream::connect(authority)
        .await
        .map_err(|e| format!("cannot connect to {authority}: {e}"))?;
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: application/json\r\n\
         svix-id: {}\r\nsvix-timestamp: {}\r\nsvix-signature: {}\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{}",
        d.id,
        d.timestamp,
        d.signature,
        d.body.len(),
        d.body
    );
    conn.write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&raw);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or("no HTTP status in the answer")?;
    // cargo lambda watch answers with a chunked body: the JSON is between the chunk sizes.
    let json = body
        .find('{')
        .and_then(|start| body.rfind('}').map(|end| &body[start..=end]))
        .and_then(|j| serde_json::from_str(j).ok())
        .unwrap_or(Value::Null);
    Ok(Answer { status, body: json })
}

/// `clerk-stub webhook ...`: `None` when `args` is not that subcommand.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub async fn cli(args: &[String]) -> Option<std::process::ExitCode> {
    let (first, rest) = args.split_first()?;
    if first != "webhook" {
        return None;
    }
    let fail = |m: &str| {
        eprintln!(
            "clerk-stub webhook: {m}\nusage: clerk-stub webhook {{{}}} [--url URL] [--user USER_ID]",
            SCENARIOS.join("|")
        );
        Some(std::process::ExitCode::from(2))
    };
    let Some((name, mut flags)) = rest.split_first().map(|(n, f)| (n.as_str(), f.iter())) else {
        return fail("which scenario?");
    };
    let (mut url, mut user) = (DEFAULT_URL.to_owned(), "user_demoAlice".to_owned());
    while let Some(flag) = flags.next() {
        match (flag.as_str(), flags.next()) {
            ("--url", Some(v)) => url = v.clone(),
            ("--user", Some(v)) => user = v.clone(),
            _ => return fail(&format!("bad argument {flag}")),
        }
    }
    let signer = match std::env::var("CLERK_WEBHOOK_SIGNING_SECRET") {
        Ok(s) if !s.is_empty() => match Signer::new(&s) {
            Ok(s) => s,
            Err(e) => return fail(&format!("CLERK_WEBHOOK_SIGNING_SECRET: {e}")),
        },
        _ => Signer::demo(),
    };
    let deliveries = match scenario(&signer, name, &user) {
        Ok(d) => d,
        Err(e) => return fail(&e),
    };
    for (i, d) in deliveries.iter().enumerate() {
        match send(&url, d).await {
            Ok(a) => println!(
                "{name} {}/{}: svix-id {} -> {} {}",
                i + 1,
                deliveries.len(),
                d.id,
                a.status,
                a.body
            ),
            Err(e) => {
                eprintln!("clerk-stub webhook: {e}");
                return Some(std::process::ExitCode::from(1));
            }
        }
    }
    Some(std::process::ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signs_as_svix_documents() {
        let s = Signer::new("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        let tag = hmac::sign(
            &s.key,
            br#"msg_p5jXN8AQM9LWM0D4loKWxJek.1614265330.{"test": 2432232314}"#,
        );
        assert_eq!(
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
        assert!(Signer::new("nope").is_err());
        assert_eq!(format!("{s:?}"), "Signer([redacted])");
    }

    #[test]
    fn scenarios_have_their_shapes() {
        let s = Signer::demo();
        let d = scenario(&s, "duplicate", "user_1").unwrap();
        assert_eq!(d.len(), 2);
        assert_eq!(d[0], d[1]);
        let o = scenario(&s, "out-of-order", "user_1").unwrap();
        assert_ne!(o[0].id, o[1].id);
        assert!(o[0].body.contains("Newer") && o[1].body.contains("Older"));
        let e = scenario(&s, "expired", "user_1").unwrap();
        assert!(e[0].timestamp.parse::<u64>().unwrap() + 600 <= now_s() + 1);
        assert!(scenario(&s, "nope", "user_1").is_err());
    }

    #[tokio::test]
    async fn the_sender_talks_to_loopback_only() {
        let d = scenario(&Signer::demo(), "single", "user_1")
            .unwrap()
            .remove(0);
        for url in [
            "https://127.0.0.1/x",
            "http://example.com/x",
            "http://10.0.0.1:80/x",
        ] {
            assert!(send(url, &d).await.is_err(), "{url}");
        }
    }
}
