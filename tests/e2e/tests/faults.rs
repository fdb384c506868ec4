//! Faults end to end through `cargo lambda watch`: Secrets Manager down and throttled at cold
//! start, throttled while warm, the secret rotated, deleted and restored; Clerk answering 500,
//! garbage, 1 MiB bodies, redirects, slowly, or not at all past the key set's maximum age. Each
//! with the status a client sees, recovery once the fault is gone, no panic and the same function
//! process throughout.
//!
//! Short lifetimes make the faults reachable in seconds: the secret is read again after 1 s, the
//! key set after 2 s, a stale key set serves for at most 6 s, unknown kids refetch after 2 s.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::thread::sleep;
use std::time::{Duration, Instant};

use clerk_stub::Fault;
use e2e::SmMode;
use e2e::stack::{SECRET_ID, Stack};
use serde_json::json;

fn step(name: &str) {
    eprintln!("faults: {name}");
}

/// The secret TTL, the failure back-off (1 s) or the unknown-kid cool-down (2 s), passed.
const PAST_SECRET_TTL: Duration = Duration::from_millis(1100);
const PAST_COOLDOWN: Duration = Duration::from_millis(2100);

fn assert_503(a: &e2e::Answer, reason: &str, what: &str) {
    assert_eq!(a.status, 503, "{what}: {:?}", a.body);
    assert_eq!(a.body["reason"], reason, "{what}");
    let retry = a.headers.get("retry-after").map(|v| v.to_str().unwrap());
    assert!(
        retry.is_some_and(|v| v.parse::<u64>().is_ok_and(|s| s >= 1)),
        "{what}: Retry-After {retry:?}"
    );
}

#[test]
fn faults_end_to_end() {
    let s = Stack::start_with(
        false,
        &[
            ("CLERK_SECRET_TTL_SECS", "1"),
            ("CLERK_JWKS_TTL_SECS", "2"),
            ("CLERK_JWKS_MAX_AGE_SECS", "6"),
        ],
    );
    let alice = s.mint(json!({}));

    step("Secrets Manager down at cold start: 503 secret-unavailable, never 401");
    s.proxy.set_mode(SmMode::Down);
    let a = s.get("/api/protected", Some(&alice));
    assert_503(&a, "secret-unavailable", "down at cold start");

    step("then throttled: still 503 secret-unavailable");
    s.proxy.set_mode(SmMode::Throttled);
    sleep(PAST_SECRET_TTL);
    let a = s.get("/api/protected", Some(&alice));
    assert_503(&a, "secret-unavailable", "throttled at cold start");
    assert!(
        s.proxy.count() >= 1,
        "GetSecretValue reached the (throttled) endpoint"
    );
    assert_eq!(
        s.stub.jwks_calls(),
        0,
        "no key set fetch without the secret"
    );
    let pid = s.watch.function_pid("protected").expect("protected runs");
    assert_eq!(
        s.get("/api/health", None).status,
        200,
        "public is unaffected"
    );

    step("throttling over: the next request recovers");
    s.proxy.set_mode(SmMode::Pass);
    sleep(PAST_SECRET_TTL);
    let a = s.get("/api/protected", Some(&alice));
    assert_eq!(a.status, 200, "{:?}", a.body);

    step("Secrets Manager throttled while warm, past the secret's TTL: the cached secret serves");
    sleep(PAST_SECRET_TTL);
    s.proxy.set_mode(SmMode::Throttled);
    let (reads0, users0) = (s.proxy.count(), s.stub.user_calls());
    let a = s.get("/api/me", Some(&s.mint(json!({"sub": "user_demoBob"}))));
    assert_eq!(a.status, 200, "{:?}", a.body);
    assert_eq!(a.body["primaryEmail"], "bob@example.com");
    assert!(s.proxy.count() > reads0, "the re-read was tried");
    assert_eq!(s.stub.user_calls(), users0 + 1);
    s.proxy.set_mode(SmMode::Pass);

    step("secret rotated (Secrets Manager and Clerk): used without a restart");
    let rotated = "sk_test_rotatedE2eSecret00000000000000000000000";
    s.stub.set_secret_key(rotated);
    s.moto.put_secret(SECRET_ID, rotated);
    sleep(PAST_SECRET_TTL);
    let users0 = s.stub.user_calls();
    let a = s.get("/api/me", Some(&s.mint(json!({"sub": "user_rotated"}))));
    // Clerk's 404 for an unknown user: the call was authenticated with the rotated key.
    assert_eq!(a.status, 404, "{:?}", a.body);
    assert_eq!(a.body["reason"], "user-not-found");
    assert!(s.stub.user_calls() > users0);

    step("secret deleted: 500 with a generic body, nothing about the secret");
    s.moto.delete_secret(SECRET_ID);
    sleep(PAST_SECRET_TTL);
    let a = s.get("/api/me", Some(&s.mint(json!({"sub": "user_afterDelete"}))));
    assert_eq!(a.status, 500, "{:?}", a.body);
    assert_eq!(a.body["reason"], "internal");
    let body = a.body.to_string();
    assert!(
        !body.contains(SECRET_ID) && !body.contains("sk_test_"),
        "{body}"
    );

    step("secret restored: recovery without a restart");
    s.moto.create_secret(SECRET_ID, rotated);
    sleep(PAST_SECRET_TTL);
    let a = s.get("/api/me", Some(&alice));
    assert_eq!(a.status, 200, "{:?}", a.body);

    for fault in [
        Fault::Error500,
        Fault::Garbage,
        Fault::Oversized,
        Fault::Redirect,
    ] {
        step(&format!(
            "Clerk {fault:?} for a new key: 503, the held key serves, recovery"
        ));
        sleep(PAST_COOLDOWN);
        let held = s.mint(json!({}));
        assert_eq!(s.get("/api/protected", Some(&held)).status, 200);
        s.stub.rotate(false);
        let fresh = s.mint(json!({}));
        s.stub.set_fault(fault, 0);
        let jwks0 = s.stub.jwks_calls();
        let a = s.get("/api/protected", Some(&fresh));
        assert_503(&a, "jwk-remote-failed-to-load", &format!("{fault:?}"));
        assert!(
            s.stub.jwks_calls() - jwks0 <= 2,
            "{fault:?}: at most one retry, {} calls",
            s.stub.jwks_calls() - jwks0
        );
        let a = s.get("/api/protected", Some(&held));
        assert_eq!(a.status, 200, "{fault:?}: held key: {:?}", a.body);
        s.stub.set_fault(Fault::None, 0);
        sleep(PAST_COOLDOWN);
        let a = s.get("/api/protected", Some(&fresh));
        assert_eq!(a.status, 200, "{fault:?}: after recovery: {:?}", a.body);
    }
    assert_eq!(s.stub.redirects_followed(), 0, "a redirect was followed");

    step("Clerk slow (10 s) for a new key: cut off with 503 in bounded time, recovery");
    sleep(PAST_COOLDOWN);
    s.stub.rotate(false);
    let fresh = s.mint(json!({}));
    s.stub.set_fault(Fault::Slow, 10_000);
    let started = Instant::now();
    let a = s.get("/api/protected", Some(&fresh));
    let took = started.elapsed();
    assert_503(&a, "jwk-remote-failed-to-load", "slow");
    // Two attempts of at most 3 s each, plus a back-off: never Clerk's 10 s.
    assert!(
        took < Duration::from_secs(8),
        "slow Clerk held a request {took:?}"
    );
    eprintln!("faults: slow Clerk answered 503 after {took:?}");
    s.stub.set_fault(Fault::None, 0);
    sleep(PAST_COOLDOWN);
    assert_eq!(s.get("/api/protected", Some(&fresh)).status, 200);

    step("Clerk down while warm: the stale key set serves up to its maximum age, then 503");
    let held = s.mint(json!({}));
    // Clerk is up: the set is at most 2 s old after this request.
    assert_eq!(s.get("/api/protected", Some(&held)).status, 200);
    s.stub.set_fault(Fault::Down, 0);
    let a = s.get("/api/protected", Some(&held));
    assert_eq!(a.status, 200, "stale within the maximum age: {:?}", a.body);
    sleep(Duration::from_millis(6500));
    let a = s.get("/api/protected", Some(&held));
    assert_503(&a, "jwk-remote-failed-to-load", "past the maximum age");
    s.stub.set_fault(Fault::None, 0);
    sleep(PAST_SECRET_TTL);
    let a = s.get("/api/protected", Some(&held));
    assert_eq!(a.status, 200, "recovered: {:?}", a.body);

    step("one process throughout, no panic, no secret or token in the logs");
    assert_eq!(
        s.watch.function_pid("protected"),
        Some(pid),
        "the function was restarted"
    );
    sleep(Duration::from_millis(300));
    let text = s.watch.log_text();
    assert!(!text.contains("panicked"), "a panic in the logs");
    assert!(
        text.contains("serving the cached secret"),
        "the stale secret was logged as such"
    );
    for secret in [s.stub.secret_key(), "sk_test_stubSecretKey".to_owned()] {
        assert!(!text.contains(&secret), "a secret key appears in the logs");
    }
    for token in s.minted.lock().unwrap().iter() {
        let sig = token.rsplit('.').next().unwrap();
        assert!(!text.contains(token.as_str()) && !text.contains(sig));
    }
}
