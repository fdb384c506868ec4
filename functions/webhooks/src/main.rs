//! The webhooks function: `POST /api/webhooks/clerk`.
//!
//! Init: the configuration (`CLERK_WEBHOOK_SECRET_ID`, `USERS_TABLE`), then the signing secret,
//! read once: a secret that is not a usable `whsec_` key stops the function with a message naming
//! CLERK_WEBHOOK_SIGNING_SECRET (never the key); Secrets Manager unavailable is logged, and
//! requests answer 503 (Svix retries) until it is back.

use std::sync::Arc;
use std::time::Duration;

use lambda_http::Error;
use shared::secret::AwsSecretSource;
use shared::users_table::{DynamoUsers, USERS_TABLE_ENV};
use webhooks::App;
use webhooks::secret::{DEFAULT_TTL, SecretReadError, WebhookSecret};

/// The Secrets Manager secret holding the signing secret.
const SECRET_ID_ENV: &str = "CLERK_WEBHOOK_SECRET_ID";
/// Seconds a read signing secret is used before it is read again (default 300).
const TTL_ENV: &str = "CLERK_WEBHOOK_SECRET_TTL_SECS";

fn required(var: &str) -> Result<String, Error> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
        _ => {
            tracing::error!(variable = var, "invalid configuration: required, not set");
            Err(format!("{var} is required").into())
        }
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let secret_id = required(SECRET_ID_ENV)?;
    let table = required(USERS_TABLE_ENV)?;
    let ttl = match std::env::var(TTL_ENV) {
        Err(_) => DEFAULT_TTL,
        Ok(v) => match v.trim().parse::<u64>() {
            Ok(s) if (1..=86_400).contains(&s) => Duration::from_secs(s),
            _ => {
                tracing::error!(
                    variable = TTL_ENV,
                    "invalid configuration: expected 1 to 86400 seconds"
                );
                return Err(format!("{TTL_ENV} must be 1 to 86400 seconds").into());
            }
        },
    };
    let clock = shared::clock::system();
    let secret = WebhookSecret::new(
        Arc::new(AwsSecretSource::from_env(secret_id)),
        ttl,
        clock.clone(),
    );
    match secret.get().await {
        Ok(_) => {}
        Err(SecretReadError::Invalid(e)) => {
            tracing::error!(variable = SECRET_ID_ENV, error = %e, "invalid signing secret");
            return Err(e.into());
        }
        Err(SecretReadError::Unavailable(e)) => {
            tracing::warn!(error = %e, "signing secret not read at start; requests answer 503 until it is");
        }
    }
    let app = Arc::new(App::new(
        secret,
        Arc::new(DynamoUsers::from_env(table)),
        clock,
    )?);
    tracing::info!("init done");
    shared::lambda::run(|req| {
        let app = app.clone();
        async move { app.handle(&req).await }
    })
    .await
}
