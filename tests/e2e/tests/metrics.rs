//! The functions' EMF lines through `cargo lambda watch` (the runtime emulation sets
//! `AWS_LAMBDA_FUNCTION_NAME`, as Lambda does): one line per request in the function's output,
//! each a valid EMF object, with the route's pattern, the reason, the first request's fetches,
//! and no token (docs/observability.md).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use e2e::stack::Stack;
use serde_json::{Value, json};

fn emf_lines(s: &Stack) -> Vec<Value> {
    s.watch
        .json_log_lines()
        .into_iter()
        .filter(|l| l.get("_aws").is_some())
        .collect()
}

#[test]
fn every_request_writes_one_emf_line_to_the_functions_log() {
    let s = Stack::start(false);
    let t = s.mint(json!({}));
    assert_eq!(s.get("/api/protected", Some(&t)).status, 200);
    assert_eq!(s.get("/api/protected", Some(&t)).status, 200);
    assert_eq!(s.get("/api/protected", None).status, 401);
    assert_eq!(s.get("/api/health", None).status, 200);
    let text = s.settled_log();
    let lines = emf_lines(&s);
    // The stack's readiness probes call /api/health before the test's requests.
    let routes: Vec<&str> = lines.iter().map(|l| l["Route"].as_str().unwrap()).collect();
    assert_eq!(
        routes.iter().filter(|r| **r == "/api/protected").count(),
        3,
        "one EMF line per request:\n{text}"
    );
    assert!(
        routes
            .iter()
            .all(|r| ["/api/protected", "/api/health"].contains(r)),
        "{routes:?}"
    );
    for l in &lines {
        test_support::emf::check(l).unwrap_or_else(|e| panic!("{e}: {l}"));
    }
    for token in s.minted.lock().unwrap().iter() {
        let sig = token.rsplit('.').next().unwrap();
        for l in &lines {
            let l = l.to_string();
            assert!(!l.contains(token.as_str()) && !l.contains(sig), "{l}");
        }
    }
    let protected: Vec<&Value> = lines
        .iter()
        .filter(|l| l["Route"] == "/api/protected")
        .collect();
    assert_eq!(protected.len(), 3);
    // The process's first request: cold start, and the init's secret and key-set reads.
    let first = protected[0];
    assert_eq!(first["StatusClass"], "2xx", "{first}");
    assert_eq!(first["ColdStart"], 1, "{first}");
    assert_eq!(first["SecretFetches"], 1, "{first}");
    assert_eq!(first["KeySetFetches"], 1, "{first}");
    assert!(first["ClerkApiLatency"].is_array(), "{first}");
    // Warm: the same token again reaches nothing and skips the RSA check.
    let warm = protected[1];
    assert_eq!(warm["SignatureCacheHits"], 1, "{warm}");
    assert!(warm.get("ColdStart").is_none() && warm.get("KeySetFetches").is_none());
    let refused = protected[2];
    assert_eq!(refused["Reason"], "session-token-missing");
    assert_eq!(refused["AuthFailures"], 1);
    let health = lines.iter().find(|l| l["Route"] == "/api/health").unwrap();
    assert_ne!(
        health["Function"], first["Function"],
        "one Function per function"
    );
    assert_eq!(health["ColdStart"], 1);
}
