//! `clerk-token` as a process: output, exit status, standard input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};
use test_support::{AZP, ISS, NOW, PK, TestKey, session_claims};

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_clerk-token"))
}

fn run(args: &[&str], stdin: Option<&str>) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    if let Some(s) = stdin {
        input.write_all(s.as_bytes()).unwrap();
    }
    drop(input);
    child.wait_with_output().unwrap()
}

fn stdout_json(o: &Output) -> Value {
    let text = String::from_utf8(o.stdout.clone()).unwrap();
    assert_eq!(text.lines().count(), 1, "exactly one JSON object: {text}");
    serde_json::from_str(&text).unwrap()
}

struct Files {
    _dir: std::path::PathBuf,
    pem: String,
    jwks: String,
    key: TestKey,
}

fn files(name: &str) -> Files {
    let dir = std::env::temp_dir().join(format!("clerk-token-test-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let key = TestKey::generate("ins_cli");
    let pem = dir.join("key.pem");
    std::fs::write(&pem, key.public_pem()).unwrap();
    let jwks = dir.join("jwks.json");
    std::fs::write(&jwks, json!({"keys": [key.jwk()]}).to_string()).unwrap();
    Files {
        pem: pem.to_string_lossy().into_owned(),
        jwks: jwks.to_string_lossy().into_owned(),
        _dir: dir,
        key,
    }
}

const NOW_MS: &str = "1800000001000";

#[test]
fn verify_valid_token_with_pem_prints_the_session() {
    let f = files("valid");
    let token = f.key.sign(&session_claims(ISS, AZP, NOW));
    let o = run(
        &[
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "--now-ms",
            NOW_MS,
            &token,
        ],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = stdout_json(&o);
    assert_eq!(v["valid"], true);
    let s = &v["session"];
    assert_eq!(s["userId"], "user_2testUser");
    assert_eq!(s["sessionId"], "sess_2testSession");
    assert_eq!(s["authorizedParty"], AZP);
    assert_eq!(s["expiresAt"], NOW + 60);
    assert_eq!(s["orgId"], Value::Null);
    assert_eq!(s["factorVerificationAge"], json!([0, -1]));
}

#[test]
fn verify_reads_stdin_and_uses_jwks_and_issuer() {
    let f = files("stdin");
    let token = f.key.sign(&session_claims(ISS, AZP, NOW));
    let o = run(
        &[
            "verify",
            "--jwks",
            &f.jwks,
            "--issuer",
            ISS,
            "--authorized-party",
            AZP,
            "--now-ms",
            NOW_MS,
            "-",
        ],
        Some(&format!("{token}\n")),
    );
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(stdout_json(&o)["valid"], true);
}

#[test]
fn verify_invalid_tokens_exit_1_with_the_reason() {
    let f = files("invalid");
    let good = session_claims(ISS, AZP, NOW);
    let cases = [
        (f.key.sign(&good), "1800000070000", "token-expired"),
        (
            f.key.sign(&json!({"sub": "x"})),
            NOW_MS,
            "token-invalid-issuer",
        ),
        ("not.a.token".to_owned(), NOW_MS, "token-invalid"),
        (
            TestKey::generate("ins_cli").sign(&good),
            NOW_MS,
            "token-invalid-signature",
        ),
    ];
    for (token, now, reason) in cases {
        let o = run(
            &[
                "verify",
                "--pem",
                &f.pem,
                "--publishable-key",
                PK,
                "--authorized-party",
                AZP,
                "--now-ms",
                now,
                &token,
            ],
            None,
        );
        assert_eq!(o.status.code(), Some(1), "{reason}");
        let v = stdout_json(&o);
        assert_eq!(v["valid"], false);
        assert_eq!(v["reason"], reason);
        assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    // --skew-ms widens the window: 9 s after expiry is fine with a 10 s skew.
    let o = run(
        &[
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "--now-ms",
            "1800000069000",
            "--skew-ms",
            "10000",
            &f.key.sign(&good),
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(0));
    // An unknown kid in a JWKS file.
    let other = TestKey::generate("ins_other");
    let o = run(
        &[
            "verify",
            "--jwks",
            &f.jwks,
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "--now-ms",
            NOW_MS,
            &other.sign(&good),
        ],
        None,
    );
    assert_eq!(stdout_json(&o)["reason"], "jwk-kid-mismatch");
    // Pending sessions only with --accept-pending.
    let mut pending = good.clone();
    pending["sts"] = json!("pending");
    let t = f.key.sign(&pending);
    let base = [
        "verify",
        "--pem",
        &f.pem,
        "--publishable-key",
        PK,
        "--authorized-party",
        AZP,
        "--now-ms",
        NOW_MS,
    ];
    let o = run(&[&base[..], &[t.as_str()]].concat(), None);
    assert_eq!(stdout_json(&o)["reason"], "session-pending");
    let o = run(
        &[&base[..], &["--accept-pending", t.as_str()]].concat(),
        None,
    );
    assert_eq!(o.status.code(), Some(0));
}

#[test]
fn usage_errors_exit_2_with_a_message() {
    let f = files("usage");
    for args in [
        vec![],
        vec!["frobnicate"],
        vec!["decode", "a.b.c", "d.e.f"],
        vec!["decode", "--unknown", "a.b.c"],
        vec![
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            PK,
            "--issuer",
            ISS,
            "--authorized-party",
            AZP,
            "t",
        ],
        vec![
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "--skew-ms",
            "soon",
            "t",
        ],
        vec![
            "verify",
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "t",
        ],
        vec!["verify", "--pem", &f.pem, "--authorized-party", AZP, "t"],
        vec!["verify", "--pem", &f.pem, "--publishable-key", PK, "t"],
        vec![
            "verify",
            "--pem",
            "/nonexistent.pem",
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "t",
        ],
        vec![
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            "pk_live_aW52YWxpZGtleSQ=",
            "--authorized-party",
            AZP,
            "t",
        ],
        vec![
            "verify",
            "--pem",
            &f.pem,
            "--jwks",
            &f.jwks,
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "t",
        ],
        vec![
            "verify",
            "--pem",
            &f.pem,
            "--publishable-key",
            PK,
            "--authorized-party",
            "not-an-origin",
            "t",
        ],
        vec![
            "verify",
            "--api-url",
            "http://127.0.0.1:9",
            "--publishable-key",
            PK,
            "--authorized-party",
            AZP,
            "x.y.z",
        ],
    ] {
        let o = bin()
            .args(&args)
            .env_remove("CLERK_SECRET_KEY")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        assert!(o.stdout.is_empty(), "{args:?}");
        assert!(!o.stderr.is_empty());
    }
}

#[test]
fn help_lists_commands_and_flags_on_stdout() {
    let o = run(&["--help"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for command in ["verify", "decode", "readiness"] {
        assert!(out.contains(command), "{out}");
    }
    let o = run(&["verify", "--help"], None);
    assert_eq!(o.status.code(), Some(0));
    let out = String::from_utf8_lossy(&o.stdout);
    for flag in [
        "--pem",
        "--jwks",
        "--api-url",
        "--publishable-key",
        "--issuer",
        "--authorized-party",
        "--skew-ms",
        "--now-ms",
        "--accept-pending",
    ] {
        assert!(out.contains(flag), "{flag}: {out}");
    }
}

#[test]
fn authorized_parties_repeat_or_separate_with_commas() {
    let f = files("parties");
    let other = "https://other.example.com";
    for azp in [AZP, other] {
        let token = f.key.sign(&session_claims(ISS, azp, NOW));
        for parties in [
            vec!["--authorized-party", AZP, "--authorized-party", other],
            vec![
                "--authorized-party",
                "https://other.example.com, https://app.example.com/",
            ],
        ] {
            let mut args = vec![
                "verify", "--pem", &f.pem, "--issuer", ISS, "--now-ms", NOW_MS,
            ];
            args.extend(parties);
            args.push(&token);
            let o = run(&args, None);
            assert_eq!(o.status.code(), Some(0), "{azp} {args:?}");
        }
    }
    let token = f
        .key
        .sign(&session_claims(ISS, "https://evil.example.com", NOW));
    let o = run(
        &[
            "verify",
            "--pem",
            &f.pem,
            "--issuer",
            ISS,
            "--authorized-party",
            AZP,
            "--now-ms",
            NOW_MS,
            &token,
        ],
        None,
    );
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn decode_prints_header_and_payload_marked_unverified() {
    let f = files("decode");
    let token = f.key.sign(&session_claims(ISS, AZP, NOW));
    let o = run(&["decode", &token], None);
    assert_eq!(o.status.code(), Some(0));
    let v = stdout_json(&o);
    assert_eq!(v["verified"], false);
    assert_eq!(v["header"]["kid"], "ins_cli");
    assert_eq!(v["payload"]["sub"], "user_2testUser");
    let o = run(&["decode", "-"], Some("garbage"));
    assert_eq!(o.status.code(), Some(1));
}

#[test]
fn readiness_refuses_a_broken_deploy_and_passes_a_good_one() {
    let run_with = |env: &[(&str, &str)]| {
        let mut cmd = bin();
        cmd.arg("readiness");
        for k in [
            "CLERK_PUBLISHABLE_KEY",
            "CLERK_SECRET_KEY",
            "CLERK_SECRET_ARN",
            "CLERK_AUTHORIZED_PARTIES",
            "CLERK_JWT_KEY",
        ] {
            cmd.env_remove(k);
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.output().unwrap()
    };
    let o = run_with(&[
        ("CLERK_PUBLISHABLE_KEY", PK),
        ("CLERK_SECRET_KEY", "sk_live_notThisOne"),
        ("CLERK_AUTHORIZED_PARTIES", "http://app.example.com"),
    ]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(
            "CLERK_SECRET_KEY is a production key but CLERK_PUBLISHABLE_KEY is a development key"
        ),
        "{err}"
    );
    assert!(
        err.contains("CLERK_AUTHORIZED_PARTIES `http://app.example.com` is not https"),
        "{err}"
    );
    assert!(!err.contains("notThisOne"), "the secret is never echoed");
    let o = run_with(&[]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    for var in [
        "CLERK_PUBLISHABLE_KEY is not set",
        "CLERK_SECRET_KEY is not set",
        "CLERK_AUTHORIZED_PARTIES is not set",
    ] {
        assert!(err.contains(var), "{err}");
    }
    let o = run_with(&[
        ("CLERK_PUBLISHABLE_KEY", PK),
        ("CLERK_SECRET_KEY", "sk_test_fine123"),
        ("CLERK_AUTHORIZED_PARTIES", "cloudfront"),
    ]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v = stdout_json(&o);
    assert_eq!(v["frontendApi"], "foo-bar-13.clerk.accounts.dev");
    assert_eq!(v["extraOrigins"], "");
}
