//! The Rust side of `tests/clerk-node/machine-differential.mjs`: for each case (a bearer token and
//! the token types a route accepts), authenticates it as the protected function does
//! (shared::machine, the Backend API at the stand-in, cache off so every case asks) and prints a
//! JSON array of verdicts: `{"ok":true,"type":..,"subject":..}` or `{"ok":false,"status":..,
//! "reason":..}`.
//!
//!   machine_cases CASES.json   (environment: CLERK_PUBLISHABLE_KEY, CLERK_API_URL,
//!                               CLERK_SECRET_KEY, CLERK_AUTHORIZED_PARTIES)

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stdout)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use shared::auth::Authenticator;
use shared::clerk_api::ClerkBackend;
use shared::clock::SystemClock;
use shared::config::Config;
use shared::machine::{MachineAuth, MachineSettings, TokenType};
use shared::secret::{SecretCache, SecretError, SecretSource};

#[derive(Debug)]
struct EnvSecret(String);

#[async_trait]
impl SecretSource for EnvSecret {
    async fn fetch(&self) -> Result<String, SecretError> {
        Ok(self.0.clone())
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let file = std::env::args()
        .nth(1)
        .expect("usage: machine_cases CASES.json");
    let cases: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(file).unwrap()).unwrap();
    let config = Config::from_lookup(|k| {
        std::env::var(k)
            .ok()
            .or_else(|| (k == "CLERK_SECRET_ID").then(|| "diff".into()))
    })
    .unwrap();
    let clock = Arc::new(SystemClock);
    let secrets = Arc::new(SecretCache::new(
        Arc::new(EnvSecret(std::env::var("CLERK_SECRET_KEY").unwrap())),
        Duration::from_secs(300),
        clock.clone(),
    ));
    let backend = Arc::new(
        ClerkBackend::new(config.api_url.clone())
            .unwrap()
            .with_retry_backoff(Duration::ZERO, Duration::ZERO),
    );
    let sessions = Authenticator::from_config(
        &config,
        Some(secrets.clone()),
        backend.clone(),
        clock.clone(),
    )
    .unwrap();
    let settings = MachineSettings {
        cache_ttl: Duration::ZERO,
        ..MachineSettings::default()
    };
    let machine = MachineAuth::new(&config, &settings, Some(secrets), backend, clock);
    let mut verdicts = Vec::with_capacity(cases.len());
    for case in &cases {
        let token = case["token"].as_str().unwrap_or_default();
        let accepts: Vec<TokenType> = match &case["accepts"] {
            Value::String(s) if s == "any" => TokenType::ALL.to_vec(),
            Value::String(s) => TokenType::parse(s).into_iter().collect(),
            Value::Array(a) => a
                .iter()
                .filter_map(|v| TokenType::parse(v.as_str()?))
                .collect(),
            _ => vec![TokenType::SessionToken],
        };
        verdicts.push(
            match machine.authenticate(&sessions, token, &accepts).await {
                Ok(p) => json!({"ok": true, "type": p.token_type(), "subject": p.subject()}),
                Err(e) => {
                    let reason = e.reason().map_or("internal", |r| r.as_str());
                    let status = e.reason().map_or(500, |r| r.status().as_u16());
                    json!({"ok": false, "status": status, "reason": reason})
                }
            },
        );
    }
    println!("{}", Value::Array(verdicts));
}
