//! A bounded load test on loopback against the local stack: several concurrent clients, valid and
//! invalid tokens mixed. Zero errors other than the expected 401s, no growth of the protected
//! function's memory across the run, and the calls that reached Clerk and Secrets Manager printed
//! (they stay at the cold-start minimum). Sizes: `LOAD_CLIENTS` (4) x `LOAD_REQUESTS` (750).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::time::{Duration, Instant};

use e2e::stack::Stack;
use serde_json::json;

fn env_num(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

#[test]
fn load_valid_and_invalid_mixed() {
    let s = Stack::start(false);
    let clients = env_num("LOAD_CLIENTS", 4);
    let per_client = env_num("LOAD_REQUESTS", 750);
    let valid = s.mint(json!({"ttl_secs": 600}));
    let invalid = [
        (s.mint(json!({"offset_secs": -600})), "token-expired"),
        (
            s.mint(json!({"azp": "https://evil.example.com", "ttl_secs": 600})),
            "token-invalid-authorized-parties",
        ),
        ("garbage".to_owned(), "token-invalid"),
    ];
    // Warm up: the cold start reads the secret and the key set once.
    for _ in 0..50 {
        assert_eq!(s.get("/api/protected", Some(&valid)).status, 200);
    }
    let rss_before = s
        .watch
        .function_rss_kib("protected")
        .expect("the protected function runs");
    let cold = (s.stub.jwks_calls(), s.proxy.count());
    let started = Instant::now();
    let url = s.watch.url("/api/protected");
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (valid, invalid, url) = (&valid, &invalid, &url);
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    let (mut ok, mut refused, mut errors) = (0, 0, Vec::new());
                    for i in 0..per_client {
                        let (token, expect) = if (i + c) % 3 == 0 {
                            let (t, r) = &invalid[(i / 3) % invalid.len()];
                            (t.as_str(), Some(*r))
                        } else {
                            (valid.as_str(), None)
                        };
                        let resp = client.get(url.as_str()).bearer_auth(token).send();
                        match (resp, expect) {
                            (Ok(r), None) if r.status() == 200 => ok += 1,
                            (Ok(r), Some(reason)) if r.status() == 401 => {
                                let body: serde_json::Value = r.json().unwrap_or_default();
                                if body["reason"] == reason {
                                    refused += 1
                                } else {
                                    errors.push(format!("401 with {body}"))
                                }
                            }
                            (Ok(r), _) => errors.push(format!("unexpected {}", r.status())),
                            (Err(e), _) => errors.push(format!("transport: {e}")),
                        }
                    }
                    (ok, refused, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let rss_after = s.watch.function_rss_kib("protected").unwrap();
    let (ok, refused): (usize, usize) = results.iter().fold((0, 0), |a, r| (a.0 + r.0, a.1 + r.1));
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    let total = clients * per_client;
    eprintln!(
        "load: {total} requests from {clients} clients in {:.1} s ({:.0} req/s): {ok} x 200, {refused} x 401 as expected, {} errors; \
         calls reaching Clerk: {} key set (cold start {}), Secrets Manager: {} (cold start {}); protected RSS {} KiB -> {} KiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        errors.len(),
        s.stub.jwks_calls(),
        cold.0,
        s.proxy.count(),
        cold.1,
        rss_before,
        rss_after,
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ok + refused, total);
    assert_eq!(
        (s.stub.jwks_calls(), s.proxy.count()),
        (1, 1),
        "only the cold start reached Clerk and Secrets Manager"
    );
    assert!(
        rss_after <= rss_before + 2048,
        "memory grew: {rss_before} KiB -> {rss_after} KiB"
    );
    // Nothing secret in the logs of the whole run.
    let log = s.watch.log_text();
    assert!(!log.contains(&s.stub.secret_key()));
    assert!(!log.contains(valid.rsplit('.').next().unwrap()));
}

/// Every kind of token at `/api/machine` from concurrent clients (machine authentication,
/// docs/machine-auth.md): sessions, an API key, an opaque OAuth token, an M2M JWT, and a revoked
/// API key. The valid opaque tokens reach Clerk once each (the cache), a revoked key on every
/// request (refusals are not cached), the JWT never. Sizes: `LOAD_CLIENTS` (4) x
/// `LOAD_MACHINE_REQUESTS` (300).
#[test]
fn load_mixed_token_types() {
    use clerk_stub::machine::{Kind, MachineTokenRequest};
    let s = Stack::start(false);
    let clients = env_num("LOAD_CLIENTS", 4);
    let per_client = env_num("LOAD_MACHINE_REQUESTS", 300);
    let create = |kind, jwt| {
        let req = MachineTokenRequest {
            jwt,
            ..MachineTokenRequest::default()
        };
        let t = s.stub.create_machine_token(kind, &req);
        s.minted.lock().unwrap().push(t.clone());
        t
    };
    let revoked = create(Kind::ApiKey, false);
    assert!(s.stub.revoke_machine_token(&revoked));
    let tokens = [
        (s.mint(json!({"ttl_secs": 600})), 200, "session_token"),
        (create(Kind::ApiKey, false), 200, "api_key"),
        (create(Kind::OauthToken, false), 200, "oauth_token"),
        (create(Kind::M2mToken, true), 200, "m2m_token"),
        (revoked, 401, "machine-token-invalid"),
    ];
    // Warm up: the cold start, and each valid opaque token verified once.
    for (t, status, _) in &tokens {
        assert_eq!(s.get("/api/machine", Some(t)).status, *status);
    }
    let rss_before = s.watch.function_rss_kib("protected").unwrap();
    let verify_before = s.stub.machine_verify_calls();
    let url = s.watch.url("/api/machine");
    let started = Instant::now();
    let results: Vec<(usize, usize, Vec<String>)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..clients)
            .map(|c| {
                let (tokens, url) = (&tokens, &url);
                scope.spawn(move || {
                    let client = reqwest::blocking::Client::builder()
                        .timeout(Duration::from_secs(30))
                        .build()
                        .unwrap();
                    let (mut ok, mut revoked_sent, mut errors) = (0, 0, Vec::new());
                    for i in 0..per_client {
                        let (token, status, what) = &tokens[(i + c) % tokens.len()];
                        if *status == 401 {
                            revoked_sent += 1;
                        }
                        match client.get(url.as_str()).bearer_auth(token).send() {
                            Ok(r) if r.status().as_u16() == *status => {
                                let body: serde_json::Value = r.json().unwrap_or_default();
                                if body["type"] == *what || body["reason"] == *what {
                                    ok += 1;
                                } else {
                                    errors.push(format!("{what}: {body}"));
                                }
                            }
                            Ok(r) => errors.push(format!("{what}: unexpected {}", r.status())),
                            Err(e) => errors.push(format!("transport: {e}")),
                        }
                    }
                    (ok, revoked_sent, errors)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let elapsed = started.elapsed();
    let rss_after = s.watch.function_rss_kib("protected").unwrap();
    let ok: usize = results.iter().map(|r| r.0).sum();
    let revoked_sent: usize = results.iter().map(|r| r.1).sum();
    let errors: Vec<&String> = results.iter().flat_map(|r| &r.2).collect();
    let total = clients * per_client;
    let verify_calls = s.stub.machine_verify_calls() - verify_before;
    eprintln!(
        "load (mixed token types): {total} requests from {clients} clients in {:.1} s ({:.0} req/s), {} errors; \
         verify calls {verify_calls} for {revoked_sent} revoked-key requests; protected RSS {rss_before} KiB -> {rss_after} KiB",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        errors.len(),
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(ok, total);
    assert_eq!(
        verify_calls as usize, revoked_sent,
        "only the revoked key reached Clerk (the valid ones are cached)"
    );
    assert!(
        rss_after <= rss_before + 2048,
        "memory grew: {rss_before} KiB -> {rss_after} KiB"
    );
    s.assert_clean_run(s.protected_pid());
}
