//! Machine authentication end to end through `cargo lambda watch`, moto and the Clerk stand-in:
//! API keys, M2M and OAuth tokens at `GET /api/machine`; the Backend API calls counted at the
//! stand-in (100 identical requests, one verify call); a revoked key refused within the cache
//! bound; Clerk down or throttling answered 503 with `Retry-After`; a token type a route does not
//! accept refused before any network call; the log names the token type and subject, never a
//! token (docs/machine-auth.md).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use clerk_stub::Fault;
use clerk_stub::machine::{Kind, MachineTokenRequest};
use e2e::stack::{Stack, machine_token_in};
use serde_json::json;

/// The cache bound of this stack: a revoked key works at most this long.
const CACHE_TTL_SECS: u64 = 2;

fn create(s: &Stack, kind: Kind, edit: impl FnOnce(&mut MachineTokenRequest)) -> String {
    let mut req = MachineTokenRequest::default();
    edit(&mut req);
    let t = s.stub.create_machine_token(kind, &req);
    // Checked absent from the log with the session tokens (Stack::assert_clean_run).
    s.minted.lock().unwrap().push(t.clone());
    t
}

#[test]
fn machine_tokens_through_the_local_stack() {
    let secs = CACHE_TTL_SECS.to_string();
    let s = Stack::start_with(false, &[("CLERK_MACHINE_CACHE_TTL_SECS", secs.as_str())]);

    // Every type at /api/machine, each answered with who called.
    let key = create(&s, Kind::ApiKey, |q| q.subject = Some("org_acme".into()));
    let a = s.get("/api/machine", Some(&key));
    assert_eq!(a.status, 200, "{}", a.summary());
    assert_eq!(a.body["type"], "api_key");
    assert_eq!(
        a.body["owner"],
        json!({"kind": "organization", "id": "org_acme"})
    );
    let m2m_jwt = create(&s, Kind::M2mToken, |q| q.jwt = true);
    let a = s.get("/api/machine", Some(&m2m_jwt));
    assert_eq!(
        (a.status, a.body["machineId"].as_str()),
        (200, Some("mch_demoWorker")),
        "{}",
        a.summary()
    );
    let oauth = create(&s, Kind::OauthToken, |_| {});
    let a = s.get("/api/machine", Some(&oauth));
    assert_eq!(
        (a.status, a.body["type"].as_str()),
        (200, Some("oauth_token")),
        "{}",
        a.summary()
    );
    let alice = s.mint(json!({}));
    let a = s.get("/api/machine", Some(&alice));
    assert_eq!(
        (a.status, a.body["type"].as_str()),
        (200, Some("session_token")),
        "{}",
        a.summary()
    );

    // 100 identical requests: one verify call (the first one above).
    let m2m = create(&s, Kind::M2mToken, |_| {});
    let before = s.stub.machine_verify_calls();
    for _ in 0..100 {
        assert_eq!(s.get("/api/machine", Some(&m2m)).status, 200);
    }
    assert_eq!(
        s.stub.machine_verify_calls() - before,
        1,
        "100 requests, 1 verify call"
    );

    // A type the route does not accept: 401 before any network call.
    let calls = (
        s.stub.machine_verify_calls(),
        s.stub.jwks_calls(),
        s.stub.user_calls(),
    );
    for token in [&key, &m2m, &oauth, &m2m_jwt] {
        let a = s.get("/api/me", Some(token));
        assert!(a.is(401, "token-type-mismatch"), "{}", a.summary());
    }
    assert_eq!(
        (
            s.stub.machine_verify_calls(),
            s.stub.jwks_calls(),
            s.stub.user_calls()
        ),
        calls,
        "no call reached Clerk"
    );

    // Revoked: refused within the cache bound.
    let doomed = create(&s, Kind::ApiKey, |_| {});
    assert_eq!(s.get("/api/machine", Some(&doomed)).status, 200);
    let revoked_at = Instant::now();
    assert!(s.stub.revoke_machine_token(&doomed));
    s.until(
        "the revoked key refused",
        "/api/machine",
        &doomed,
        (401, "machine-token-invalid"),
        &[(200, "")],
    );
    let took = revoked_at.elapsed();
    eprintln!("revoked key refused after {took:?} (bound {CACHE_TTL_SECS} s)");
    assert!(
        took <= Duration::from_secs(CACHE_TTL_SECS) + Duration::from_millis(1500),
        "refused after {took:?}"
    );

    // Clerk throttling, then down: 503 with Retry-After, never 401.
    let throttled = create(&s, Kind::ApiKey, |q| q.answer = Some("ratelimited".into()));
    let a = s.get("/api/machine", Some(&throttled));
    assert!(a.is(503, "clerk-rate-limited"), "{}", a.summary());
    assert_eq!(a.headers["retry-after"], "7");
    let fresh = create(&s, Kind::OauthToken, |_| {});
    s.stub.set_fault(Fault::Down, 0);
    let a = s.get("/api/machine", Some(&fresh));
    assert!(a.is(503, "clerk-unavailable"), "{}", a.summary());
    assert!(a.headers.contains_key("retry-after"));
    s.stub.set_fault(Fault::None, 0);
    let a = s.get("/api/machine", Some(&fresh));
    assert_eq!(a.status, 200, "back once Clerk is: {}", a.summary());

    // The log: type and subject of each machine request, never a token.
    let pid = s.protected_pid();
    s.assert_clean_run(pid);
    let lines = s.watch.json_log_lines();
    let seen = |ty: &str, subject: &str| {
        lines.iter().any(|l| {
            l["fields"]["message"] == "request"
                && l["span"]["token_type"] == ty
                && l["span"]["user_id"] == subject
        })
    };
    assert!(
        seen("api_key", "org_acme"),
        "an API key request names its owner"
    );
    assert!(seen("m2m_token", "mch_demoWorker"));
    assert!(seen("oauth_token", "user_demoAlice"));
    let text = s.watch.log_text();
    assert_eq!(machine_token_in(&text), None, "a machine token in the log");
}

#[test]
fn the_leak_scan_finds_machine_tokens() {
    assert!(machine_token_in("x ak_abcdefgh12 y").is_some());
    assert!(machine_token_in("\"oat_AbCdEfGh1234\"").is_some());
    assert!(machine_token_in("mt_12345678").is_some());
    assert_eq!(machine_token_in("format_abcdefghij and ak_short"), None);
}
