//! `clerk-token`: verify or decode a Clerk session token from the command line.
//!
//! ```text
//! clerk-token verify (--pem FILE | --jwks FILE | --api-url URL)
//!                    (--publishable-key PK | --issuer URL)
//!                    --authorized-party ORIGIN [--authorized-party ORIGIN ...]
//!                    [--skew-ms N] [--now-ms N] [--accept-pending] [TOKEN | -]
//! clerk-token decode [TOKEN | -]
//! ```
//! `verify` prints one JSON object and exits 0 (valid), 1 (invalid) or 2 (usage or
//! configuration error, message on standard error). `--api-url` reads the secret key from
//! `CLERK_SECRET_KEY`.

use std::io::Read as _;
use std::process::ExitCode;
use std::sync::Arc;

use serde_json::json;
use shared::clerk_api::{Call, ClerkBackend, KeyFetcher as _, parse_jwks};
use shared::clock::{Clock, ManualClock};
use shared::config::parse_authorized_parties;
use shared::error::Reason;
use shared::jwks::KeySet;
use shared::keys::{PublishableKey, SecretKey};
use shared::rsa_key::RsaKey;
use shared::verify::{Verifier, decode_unverified};

const USAGE: &str = "usage:
  clerk-token verify (--pem FILE | --jwks FILE | --api-url URL)
                     (--publishable-key PK | --issuer URL)
                     --authorized-party ORIGIN [--authorized-party ORIGIN ...]
                     [--skew-ms N] [--now-ms N] [--accept-pending] [TOKEN | -]
  clerk-token decode [TOKEN | -]
  clerk-token readiness      (checks CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY or CLERK_SECRET_ARN,
                              CLERK_AUTHORIZED_PARTIES, CLERK_JWT_KEY before a deploy)
--api-url reads the secret key from CLERK_SECRET_KEY.";

enum KeyArg {
    Pem(String),
    Jwks(String),
    Api(String),
}

#[derive(Default)]
struct VerifyArgs {
    key: Option<KeyArg>,
    issuer: Option<String>,
    parties: Vec<String>,
    skew_ms: Option<u64>,
    now_ms: Option<u64>,
    accept_pending: bool,
    token: Option<String>,
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("verify") => match parse_verify(&args[1..]).and_then(run_verify) {
            Ok(code) => code,
            Err(msg) => usage_error(&msg),
        },
        Some("decode") => run_decode(&args[1..]),
        Some("readiness") => run_readiness(),
        Some("-h" | "--help" | "help") => {
            eprintln!("{USAGE}");
            ExitCode::SUCCESS
        }
        _ => usage_error("expected a command: verify or decode"),
    }
}

fn usage_error(msg: &str) -> ExitCode {
    eprintln!("clerk-token: {msg}\n{USAGE}");
    ExitCode::from(2)
}

fn parse_verify(args: &[String]) -> Result<VerifyArgs, String> {
    let mut out = VerifyArgs::default();
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value"))
        };
        let set_key = |out: &mut VerifyArgs, k: KeyArg| {
            if out.key.replace(k).is_some() {
                Err("give exactly one of --pem, --jwks, --api-url".to_owned())
            } else {
                Ok(())
            }
        };
        match arg.as_str() {
            "--pem" => set_key(&mut out, KeyArg::Pem(value("--pem")?))?,
            "--jwks" => set_key(&mut out, KeyArg::Jwks(value("--jwks")?))?,
            "--api-url" => set_key(&mut out, KeyArg::Api(value("--api-url")?))?,
            "--publishable-key" => {
                let pk = PublishableKey::parse(&value("--publishable-key")?)
                    .map_err(|e| format!("--publishable-key: {e}"))?;
                if out.issuer.replace(pk.issuer()).is_some() {
                    return Err("give exactly one of --publishable-key, --issuer".into());
                }
            }
            "--issuer" => {
                if out
                    .issuer
                    .replace(value("--issuer")?.trim_end_matches('/').to_owned())
                    .is_some()
                {
                    return Err("give exactly one of --publishable-key, --issuer".into());
                }
            }
            "--authorized-party" => {
                let parsed = parse_authorized_parties(&value("--authorized-party")?)
                    .map_err(|e| format!("--authorized-party: {e}"))?;
                out.parties.extend(parsed);
            }
            "--skew-ms" => {
                out.skew_ms = Some(
                    value("--skew-ms")?
                        .parse()
                        .map_err(|_| "--skew-ms: expected milliseconds")?,
                );
            }
            "--now-ms" => {
                out.now_ms = Some(
                    value("--now-ms")?
                        .parse()
                        .map_err(|_| "--now-ms: expected milliseconds since the epoch")?,
                );
            }
            "--accept-pending" => out.accept_pending = true,
            flag if flag.starts_with("--") => return Err(format!("unknown option {flag}")),
            token => {
                if out.token.replace(token.to_owned()).is_some() {
                    return Err("give at most one token".into());
                }
            }
        }
    }
    Ok(out)
}

fn read_token(arg: Option<&str>) -> Result<String, String> {
    match arg {
        Some(t) if t != "-" => Ok(t.trim().to_owned()),
        _ => {
            let mut s = String::new();
            std::io::stdin()
                .take(1 << 20)
                .read_to_string(&mut s)
                .map_err(|e| format!("cannot read the token from standard input: {e}"))?;
            Ok(s.trim().to_owned())
        }
    }
}

#[allow(clippy::print_stdout)]
fn print_json(v: &serde_json::Value) {
    println!("{v}");
}

fn invalid(reason: Reason) -> ExitCode {
    print_json(&json!({"valid": false, "reason": reason.as_str(), "message": reason.message()}));
    ExitCode::from(1)
}

fn run_verify(a: VerifyArgs) -> Result<ExitCode, String> {
    let key_arg = a.key.ok_or("give one of --pem, --jwks, --api-url")?;
    let issuer = a.issuer.ok_or("give one of --publishable-key, --issuer")?;
    let mut verifier = Verifier::new(issuer, a.parties)
        .map_err(|_| "give at least one --authorized-party".to_owned())?
        .with_accept_pending(a.accept_pending);
    if let Some(skew) = a.skew_ms {
        verifier = verifier.with_skew_ms(skew);
    }
    if let Some(now) = a.now_ms {
        let clock: Arc<dyn Clock> = ManualClock::new(now);
        verifier = verifier.with_clock(clock);
    }
    let read = |path: &str| std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"));
    // Keys first: a bad key file is a usage error whatever the token.
    let keys = match &key_arg {
        KeyArg::Pem(path) => Some(KeySet::networkless(
            RsaKey::from_pem(&read(path)?, None).map_err(|e| format!("--pem {path}: {e}"))?,
        )),
        KeyArg::Jwks(path) => Some(KeySet::new(
            parse_jwks(read(path)?.as_bytes()).map_err(|e| format!("--jwks {path}: {e}"))?,
        )),
        KeyArg::Api(_) => None,
    };
    let remote = match &key_arg {
        KeyArg::Api(url) => Some(prepare_remote(url)?),
        _ => None,
    };
    let token = read_token(a.token.as_deref())?;
    let decoded = match verifier.decode(&token) {
        Ok(d) => d,
        Err(reason) => return Ok(invalid(reason)),
    };
    let keys = match (keys, remote) {
        (Some(k), _) => k,
        (None, Some((backend, secret))) => match fetch_remote(&backend, &secret)? {
            Ok(k) => k,
            Err(reason) => return Ok(invalid(reason)),
        },
        (None, None) => return Err("no key source".into()),
    };
    Ok(match verifier.verify_with(&decoded, &keys) {
        Ok(session) => {
            print_json(&json!({"valid": true, "session": session}));
            ExitCode::SUCCESS
        }
        Err(reason) => invalid(reason),
    })
}

fn prepare_remote(url: &str) -> Result<(ClerkBackend, SecretKey), String> {
    let api = shared::config::Config::from_lookup(|k| match k {
        "CLERK_PUBLISHABLE_KEY" => Some("pk_test_Y2xpLmV4YW1wbGUuY29tJA".into()),
        "CLERK_AUTHORIZED_PARTIES" => Some("https://cli.example.com".into()),
        "CLERK_API_URL" => Some(url.to_owned()),
        _ => None,
    })
    .map_err(|e| format!("--api-url: {}", e.message))?
    .api_url;
    let secret = std::env::var("CLERK_SECRET_KEY")
        .map_err(|_| "--api-url needs CLERK_SECRET_KEY in the environment".to_owned())?;
    let secret = SecretKey::parse(&secret).map_err(|e| format!("CLERK_SECRET_KEY: {e}"))?;
    let backend = ClerkBackend::new(api).map_err(|e| e.to_string())?;
    Ok((backend, secret))
}

fn fetch_remote(
    backend: &ClerkBackend,
    secret: &SecretKey,
) -> Result<Result<KeySet, Reason>, String> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("runtime: {e}"))?;
    Ok(match rt.block_on(backend.fetch_keys(secret)) {
        Ok(keys) => Ok(KeySet::new(keys)),
        Err(e) => Err(e.reason(Call::KeySet)),
    })
}

fn run_decode(args: &[String]) -> ExitCode {
    if args.len() > 1 || args.first().is_some_and(|a| a.starts_with("--")) {
        return usage_error("decode takes one token or -");
    }
    let token = match read_token(args.first().map(String::as_str)) {
        Ok(t) => t,
        Err(e) => return usage_error(&e),
    };
    match decode_unverified(&token) {
        Ok(u) => {
            print_json(
                &json!({"verified": u.verified, "warning": "UNVERIFIED: decoded without any check", "header": u.header, "payload": u.payload}),
            );
            ExitCode::SUCCESS
        }
        Err(reason) => invalid(reason),
    }
}

/// Before a deploy: prints the template parameters it derives (JSON) and exits 0, or lists every
/// problem with its fix on standard error and exits 1.
fn run_readiness() -> ExitCode {
    let var = |k: &str| std::env::var(k).ok();
    let input = shared::readiness::DeployInput {
        publishable_key: var("CLERK_PUBLISHABLE_KEY"),
        secret_key: var("CLERK_SECRET_KEY"),
        secret_arn: var("CLERK_SECRET_ARN"),
        authorized_parties: var("CLERK_AUTHORIZED_PARTIES"),
        jwt_key: var("CLERK_JWT_KEY"),
    };
    match shared::readiness::check(&input) {
        Ok(ready) => {
            print_json(&json!({
                "ready": true,
                "frontendApi": ready.frontend_api,
                "instance": ready.instance.as_str(),
                "extraOrigins": ready.extra_origins,
            }));
            ExitCode::SUCCESS
        }
        Err(problems) => {
            eprintln!("Not ready to deploy; fix these first:");
            for p in problems {
                eprintln!("  - {} {}", p.variable, p.message);
            }
            ExitCode::from(1)
        }
    }
}
