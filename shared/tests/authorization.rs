//! `Session::has`, Clerk's `has()`: the shapes a user of it relies on. The whole semantics is
//! checked against `@clerk/shared` by `tests/clerk-node/has-differential.mjs` (`make e2e`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use shared::Session;
use shared::authorization::{Check, Level, Reverification};
use shared::clock::ManualClock;
use shared::verify::Verifier;
use test_support::{AZP, ISS, NOW, TestKey, session_claims};

fn session(extra: Value) -> Session {
    let key = TestKey::generate("ins_authz");
    let mut claims = session_claims(ISS, AZP, NOW);
    for (k, v) in extra.as_object().unwrap() {
        claims[k] = v.clone();
    }
    Verifier::new(ISS, vec![AZP.into()])
        .unwrap()
        .with_clock(ManualClock::new(u64::try_from(NOW).unwrap() * 1000))
        .verify(&key.sign(&claims), &key.rsa_key())
        .unwrap()
}

fn admin() -> Session {
    session(json!({
        "o": {"id": "org_1", "rol": "admin", "per": "read,manage", "fpm": "3"},
        "fea": "o:reports,u:export",
        "pla": "u:pro",
        "fva": [3, 12.5],
    }))
}

#[test]
fn every_condition_asked_must_hold() {
    let s = admin();
    assert!(s.has(&Check {
        role: Some("admin"),
        ..Check::default()
    }));
    assert!(s.has(&Check {
        role: Some("org:admin"),
        permission: Some("reports:read"),
        ..Check::default()
    }));
    assert!(s.has(&Check {
        feature: Some("o:reports"),
        plan: Some("pro"),
        ..Check::default()
    }));
    // The shape of the bypass Clerk fixed in April 2026: a passing role carried a failing plan.
    assert!(!s.has(&Check {
        role: Some("admin"),
        plan: Some("team"),
        ..Check::default()
    }));
    assert!(!s.has(&Check {
        permission: Some("reports:read"),
        feature: Some("u:reports"),
        ..Check::default()
    }));
    // Asking nothing grants nothing.
    assert!(!s.has(&Check::default()));
}

#[test]
fn missing_data_denies() {
    let s = session(json!({}));
    for check in [
        Check {
            role: Some("admin"),
            ..Check::default()
        },
        Check {
            permission: Some("org:reports:read"),
            ..Check::default()
        },
        Check {
            feature: Some("reports"),
            ..Check::default()
        },
        Check {
            plan: Some("pro"),
            ..Check::default()
        },
    ] {
        assert!(!s.has(&check), "{check:?}");
    }
    // A fea Clerk's SDK cannot split (an element without a scope): nothing is granted.
    let s = session(json!({"o": {"id": "org_1", "rol": "admin"}, "fea": "o:reports,reports"}));
    assert!(!s.has(&Check {
        role: Some("admin"),
        ..Check::default()
    }));
}

#[test]
fn reverification_reads_factor_ages_as_clerk_does() {
    // fva [3, 12.5]: first factor 3 minutes ago, second 12.5 minutes ago.
    let s = admin();
    let strict = |r| {
        s.has(&Check {
            reverification: Some(r),
            ..Check::default()
        })
    };
    assert!(!strict(Reverification::Strict)); // second factor older than 10 minutes
    assert!(strict(Reverification::Moderate));
    assert!(!strict(Reverification::StrictMfa));
    assert!(strict(Reverification::Custom {
        level: Level::SecondFactor,
        after_minutes: 12.6
    }));
    assert!(!strict(Reverification::Custom {
        level: Level::SecondFactor,
        after_minutes: 12.5
    }));
    assert!(strict(Reverification::Custom {
        level: Level::FirstFactor,
        after_minutes: 3.5
    }));
    assert!(!strict(Reverification::Custom {
        level: Level::FirstFactor,
        after_minutes: 0.0
    }));
    // A user without a second factor: the first one counts for second_factor and multi_factor.
    let s = session(json!({"fva": [4, -1]}));
    assert!(s.has(&Check {
        reverification: Some(Reverification::StrictMfa),
        ..Check::default()
    }));
    let s = session(json!({"fva": [-1, -1]}));
    assert!(!s.has(&Check {
        reverification: Some(Reverification::Lax),
        ..Check::default()
    }));
}
