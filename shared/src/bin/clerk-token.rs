//! `clerk-token`: verify or decode a Clerk session token from the command line, and check the
//! deploy configuration (`readiness`, run by `scripts/deploy.sh`). `clerk-token --help` lists the
//! commands and `clerk-token <command> --help` their options.
//!
//! Exit status: 0 valid (or ready), 1 invalid (or not ready), 2 usage or configuration error
//! (clap's own exit status for a bad command line; the message is on standard error). Results are
//! one JSON object on standard output.

use std::io::Read as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;

use clap::{ArgGroup, Args, Parser, Subcommand};
use serde_json::json;
use shared::clerk_api::{Call, ClerkBackend, KeyFetcher as _, parse_jwks};
use shared::clock::{Clock, ManualClock};
use shared::config::parse_authorized_parties;
use shared::error::Reason;
use shared::jwks::KeySet;
use shared::keys::{PublishableKey, SecretKey};
use shared::rsa_key::RsaKey;
use shared::verify::{Verifier, decode_unverified};

#[derive(Parser)]
#[command(
    name = "clerk-token",
    version,
    about = "Verify or decode a Clerk session token"
)]
#[command(
    after_help = "Exit status: 0 valid, 1 invalid (reason in the JSON on standard output), 2 usage or configuration error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Verify a token: prints {"valid": true, "session": ...} or {"valid": false, "reason": ...}.
    Verify(VerifyArgs),
    /// Decode a token WITHOUT any check: prints its header and payload, marked unverified.
    Decode {
        /// The token, or - (the default) to read it from standard input.
        #[arg(value_name = "TOKEN | -")]
        token: Option<String>,
    },
    /// Check the deploy configuration in the environment (scripts/deploy.sh runs this).
    ///
    /// Reads CLERK_PUBLISHABLE_KEY, CLERK_SECRET_KEY or CLERK_SECRET_ARN, CLERK_AUTHORIZED_PARTIES
    /// and CLERK_JWT_KEY; prints the template parameters they give (JSON) and exits 0, or lists
    /// each problem with its fix on standard error and exits 1.
    Readiness,
}

#[derive(Args)]
#[command(group(ArgGroup::new("keys").required(true).args(["pem", "jwks", "api_url"])))]
#[command(group(ArgGroup::new("iss").required(true).args(["publishable_key", "issuer"])))]
struct VerifyArgs {
    /// The instance's public key (PEM, as the dashboard's "JWT public key" shows it).
    #[arg(long, value_name = "FILE")]
    pem: Option<PathBuf>,
    /// A key set file (the JSON of the Backend API's /v1/jwks).
    #[arg(long, value_name = "FILE")]
    jwks: Option<PathBuf>,
    /// Fetch the key set from this Backend API, with the secret key from CLERK_SECRET_KEY.
    #[arg(long, value_name = "URL")]
    api_url: Option<String>,
    /// The issuer is the frontend API of this publishable key.
    #[arg(long = "publishable-key", value_name = "PK", value_parser = issuer_of_publishable_key)]
    publishable_key: Option<String>,
    /// The issuer, as written in the tokens (proxy or satellite set-ups).
    #[arg(long, value_name = "URL")]
    issuer: Option<String>,
    /// An origin allowed in `azp` (repeat, or separate with commas).
    #[arg(
        long = "authorized-party",
        value_name = "ORIGIN",
        required = true,
        value_parser = origins
    )]
    authorized_parties: Vec<Origins>,
    /// Clock skew allowed for exp, nbf and iat, in milliseconds (default 5000).
    #[arg(long, value_name = "N")]
    skew_ms: Option<u64>,
    /// Verify as if the time were this (milliseconds since the epoch).
    #[arg(long, value_name = "N")]
    now_ms: Option<u64>,
    /// Accept a pending session (treated as signed out otherwise, as Clerk does).
    #[arg(long)]
    accept_pending: bool,
    /// The token, or - (the default) to read it from standard input.
    #[arg(value_name = "TOKEN | -")]
    token: Option<String>,
}

/// The origins one `--authorized-party` gives.
#[derive(Clone)]
struct Origins(Vec<String>);

fn origins(raw: &str) -> Result<Origins, String> {
    parse_authorized_parties(raw).map(Origins)
}

fn issuer_of_publishable_key(raw: &str) -> Result<String, String> {
    PublishableKey::parse(raw)
        .map(|pk| pk.issuer())
        .map_err(|e| e.to_string())
}

/// Where the keys come from.
enum KeySource {
    Local(KeySet),
    Remote(ClerkBackend, SecretKey),
}

fn main() -> ExitCode {
    let result = match Cli::parse().command {
        Command::Verify(args) => run_verify(args),
        Command::Decode { token } => run_decode(token.as_deref()),
        Command::Readiness => Ok(run_readiness()),
    };
    result.unwrap_or_else(|msg| {
        // A problem found after parsing (a key file, the environment): shaped and numbered as
        // clap's own errors.
        eprintln!("error: {msg}\n\nFor more information, try '--help'.");
        ExitCode::from(2)
    })
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
    // clap's groups guarantee one key source and one issuer; the issuer of a publishable key was
    // derived while parsing.
    let issuer = match (a.publishable_key, a.issuer) {
        (Some(issuer), _) => issuer,
        (None, Some(issuer)) => issuer.trim_end_matches('/').to_owned(),
        (None, None) => return Err("give one of --publishable-key, --issuer".into()),
    };
    let parties = a.authorized_parties.into_iter().flat_map(|o| o.0).collect();
    let mut verifier = Verifier::new(issuer, parties)
        .map_err(|_| "give at least one --authorized-party".to_owned())?
        .with_accept_pending(a.accept_pending);
    if let Some(skew) = a.skew_ms {
        verifier = verifier.with_skew_ms(skew);
    }
    if let Some(now) = a.now_ms {
        let clock: Arc<dyn Clock> = ManualClock::new(now);
        verifier = verifier.with_clock(clock);
    }
    let read =
        |path: &Path| std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()));
    // Keys first: a bad key file is a usage error whatever the token.
    let keys = match (a.pem, a.jwks, a.api_url) {
        (Some(path), _, _) => KeySource::Local(KeySet::networkless(
            RsaKey::from_pem(&read(&path)?, None)
                .map_err(|e| format!("--pem {}: {e}", path.display()))?,
        )),
        (None, Some(path), _) => KeySource::Local(KeySet::new(
            parse_jwks(read(&path)?.as_bytes())
                .map_err(|e| format!("--jwks {}: {e}", path.display()))?,
        )),
        (None, None, Some(url)) => {
            let (backend, secret) = prepare_remote(&url)?;
            KeySource::Remote(backend, secret)
        }
        (None, None, None) => return Err("give one of --pem, --jwks, --api-url".into()),
    };
    let token = read_token(a.token.as_deref())?;
    let decoded = match verifier.decode(&token) {
        Ok(d) => d,
        Err(reason) => return Ok(invalid(reason)),
    };
    let keys = match keys {
        KeySource::Local(keys) => keys,
        KeySource::Remote(backend, secret) => match fetch_remote(&backend, &secret)? {
            Ok(keys) => keys,
            Err(reason) => return Ok(invalid(reason)),
        },
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

fn run_decode(token: Option<&str>) -> Result<ExitCode, String> {
    let token = read_token(token)?;
    Ok(match decode_unverified(&token) {
        Ok(u) => {
            print_json(
                &json!({"verified": u.verified, "warning": "UNVERIFIED: decoded without any check", "header": u.header, "payload": u.payload}),
            );
            ExitCode::SUCCESS
        }
        Err(reason) => invalid(reason),
    })
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
