//! End to end through `cargo lambda watch` (the real runtime emulation), with moto's Secrets
//! Manager and the Clerk stand-in: every route, every status, counts of the calls that reached
//! Clerk and Secrets Manager, rotation, an outage and its recovery, and the logs of the whole run.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_stub::Fault;
use e2e::request;
use e2e::stack::{AZP, Stack};
use serde_json::{Value, json};

fn step(name: &str) {
    eprintln!("e2e: {name}");
}

#[test]
fn end_to_end() {
    let s = Stack::start(true);

    step("Clerk down at cold start: 503 with Retry-After, never 401");
    let t = s.mint(json!({}));
    let a = s.get("/api/protected", Some(&t));
    assert_eq!(a.status, 503, "{:?}", a.body);
    assert_eq!(a.body["reason"], "jwk-remote-failed-to-load");
    assert!(a.headers.contains_key("retry-after"));

    step("Clerk back: a request recovers (after the 1 s back-off), no restart needed");
    s.stub.set_fault(Fault::None, 0);
    let a = s.until(
        "recovery",
        "/api/protected",
        &t,
        (200, ""),
        &[(503, "jwk-remote-failed-to-load")],
    );
    assert_eq!(a.body["userId"], "user_demoAlice");
    assert_eq!(a.body["authorizedParty"], AZP);

    step("public routes");
    let a = s.get("/api/health", None);
    assert_eq!((a.status, a.body["status"].as_str()), (200, Some("ok")));
    assert_eq!(a.body["version"], env!("CARGO_PKG_VERSION"));
    let a = s.get("/api/public", Some("whatever"));
    assert_eq!((a.status, &a.body["public"]), (200, &json!(true)));

    step("secure by default: an unlisted /api/ path needs a session before it is a 404");
    let a = s.get("/api/nope", None);
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (401, Some("session-token-missing"))
    );
    let a = s.get("/api/nope", Some(&t));
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (404, Some("route-not-found"))
    );
    let a = request("POST", &s.watch.url("/api/protected"), Some(&t));
    assert_eq!(a.status, 405);
    assert_eq!(a.headers["allow"], "GET, HEAD");

    step("authorization: each route's guard answers 200, 403 forbidden or 403 reverification");
    let admin = json!({"sub": "user_2guarded", "org": {"id": "org_7", "slug": "acme", "role": "admin"},
                       "claims": {"fea": "o:reports", "fva": [2, -1]}});
    let member = json!({"sub": "user_2guarded", "org": {"id": "org_7", "slug": "acme", "role": "member"},
                        "claims": {"fea": "u:export", "fva": [45, -1]}});
    let (admin, member) = (s.mint(admin), s.mint(member));
    for (method, path, token, status, reason) in [
        ("GET", "/api/orgs/org_7/admin", &admin, 200, ""),
        ("GET", "/api/orgs/org_8/admin", &admin, 403, "forbidden"),
        ("GET", "/api/orgs/org_7/admin", &member, 403, "forbidden"),
        ("GET", "/api/reports", &admin, 200, ""),
        ("GET", "/api/reports", &member, 403, "forbidden"),
        ("POST", "/api/sensitive", &admin, 200, ""),
        (
            "POST",
            "/api/sensitive",
            &member,
            403,
            "reverification-error",
        ),
    ] {
        let a = request(method, &s.watch.url(path), Some(token));
        assert!(a.is(status, reason), "{method} {path}: {}", a.summary());
        if reason == "reverification-error" {
            assert_eq!(
                a.body["clerk_error"]["metadata"]["reverification"],
                "strict"
            );
        }
    }

    step("/api/me: the whitelisted profile");
    let a = s.get("/api/me", Some(&t));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["primaryEmail"], "alice@example.com");
    assert!(a.body.get("privateMetadata").is_none() && !a.body.to_string().contains("PRIVATE"));
    let a = s.get("/api/me", Some(&s.mint(json!({"sub": "user_gone"}))));
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (404, Some("user-not-found"))
    );
    let a = s.get("/api/me", Some(&s.mint(json!({"sub": "user_ratelimited"}))));
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (503, Some("clerk-rate-limited"))
    );
    assert_eq!(a.headers["retry-after"], "7");

    step("refused tokens, each with its reason");
    let good = s.mint(json!({}));
    let (head, rest) = good.split_once('.').unwrap();
    let (_, sig) = rest.split_once('.').unwrap();
    let forged_payload = e2e_b64(
        &json!({"sub": "user_admin", "sid": "sess_x", "iss": s.stub.issuer(), "azp": AZP, "exp": 4_000_000_000_u64}),
    );
    let tampered = format!("{head}.{forged_payload}.{sig}");
    let cases: Vec<(Option<String>, &str)> = vec![
        (None, "session-token-missing"),
        (Some(tampered), "token-invalid-signature"),
        (Some(s.mint(json!({"offset_secs": -300}))), "token-expired"),
        (
            Some(s.mint(json!({"iss": "https://someone-else.clerk.accounts.dev"}))),
            "token-invalid-issuer",
        ),
        (
            Some(s.mint(json!({"azp": "https://evil.example.com"}))),
            "token-invalid-authorized-parties",
        ),
        (
            Some(s.mint(json!({"claims": {"azp": null}}))),
            "token-invalid-authorized-parties",
        ),
        (Some(s.mint(json!({"sts": "pending"}))), "session-pending"),
        (
            Some(s.mint(json!({"header": {"alg": "none"}}))),
            "token-invalid-algorithm",
        ),
        (
            Some(s.mint(json!({"key": "foreign"}))),
            "token-invalid-signature",
        ),
        (Some("not-a-jwt".into()), "token-invalid"),
        (Some(format!("{head}.{rest}.extra")), "token-invalid"),
    ];
    for (token, reason) in &cases {
        let a = s.get("/api/protected", token.as_deref());
        assert_eq!(a.status, 401, "{reason}: {:?}", a.body);
        assert_eq!(a.body["reason"], *reason);
        let www = a.headers["www-authenticate"].to_str().unwrap();
        assert!(www.starts_with("Bearer"), "{www}");
    }

    step("warm requests make no call to Clerk or Secrets Manager");
    let (jwks0, users0, secrets0) = (s.stub.jwks_calls(), s.stub.user_calls(), s.proxy.count());
    assert!(secrets0 >= 1, "the secret was read through the proxy");
    for _ in 0..20 {
        assert_eq!(s.get("/api/protected", Some(&good)).status, 200);
        assert_eq!(s.get("/api/me", Some(&t)).status, 200);
    }
    assert_eq!(
        (s.stub.jwks_calls(), s.stub.user_calls(), s.proxy.count()),
        (jwks0, users0, secrets0),
        "warm path: zero network calls"
    );

    step("Secrets Manager down while warm: cached secret and keys keep serving");
    s.proxy.set_down(true);
    assert_eq!(s.get("/api/protected", Some(&good)).status, 200);
    s.proxy.set_down(false);

    step("Clerk key rotation (new kid) is picked up with one key set fetch");
    let jwks0 = s.stub.jwks_calls();
    s.stub.rotate(false);
    let rotated = s.mint(json!({}));
    // The forged tokens above (same kid, bad signature) used the refetch of this cool-down (2 s):
    // until it has passed, the new kid is unknown, and nothing is fetched.
    s.until(
        "the new kid",
        "/api/protected",
        &rotated,
        (200, ""),
        &[(401, "jwk-kid-mismatch")],
    );
    assert_eq!(s.stub.jwks_calls(), jwks0 + 1);
    // Tokens from the previous key keep working while Clerk publishes it.
    assert_eq!(s.get("/api/protected", Some(&good)).status, 200);

    step("Clerk down while warm: the fresh key set keeps serving");
    s.stub.set_fault(Fault::Down, 0);
    assert_eq!(s.get("/api/protected", Some(&rotated)).status, 200);
    s.stub.set_fault(Fault::None, 0);

    step("logs: structured, with ids and reasons, never a secret or a token");
    let text = s.settled_log();
    let secret = s.stub.secret_key();
    assert!(
        !text.contains(&secret),
        "the secret key appears in the logs"
    );
    for token in s.minted.lock().unwrap().iter() {
        let sig = token.rsplit('.').next().unwrap();
        assert!(
            !text.contains(token.as_str()),
            "a token appears in the logs"
        );
        assert!(!text.contains(sig), "a signature appears in the logs");
    }
    let lines = s.watch.json_log_lines();
    let requests: Vec<&Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "request")
        .collect();
    assert!(
        requests.len() >= 60,
        "one log line per request: {}",
        requests.len()
    );
    let expired = requests
        .iter()
        .find(|l| l["fields"]["reason"] == "token-expired")
        .expect("a request line with reason token-expired");
    assert_eq!(expired["fields"]["status"], 401);
    assert_eq!(expired["fields"]["route"], "/api/protected");
    assert!(
        expired["fields"]["request_id"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    assert!(
        requests
            .iter()
            .any(|l| l["span"]["user_id"] == "user_demoAlice" && l["fields"]["status"] == 200)
    );
    let refused = requests
        .iter()
        .find(|l| {
            l["fields"]["status"] == 403 && l["fields"]["route"] == "/api/orgs/{org_id}/admin"
        })
        .expect("a request line for a 403 on the org admin route");
    assert_eq!(refused["fields"]["reason"], "forbidden");
    assert!(
        refused["fields"]["detail"]
            .as_str()
            .is_some_and(|d| d.starts_with("requires ")),
        "{refused}"
    );
    let _ = &s.moto;
}

fn e2e_b64(v: &Value) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = v.to_string().into_bytes();
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}
