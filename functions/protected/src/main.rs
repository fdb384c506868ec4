//! The protected function: `GET /api/protected` and `GET /api/me`, for signed-in Clerk users.
//!
//! Init phase: configuration (fails fast on a wrong value), clients built once, then the secret
//! and key set are warmed; an outage there is logged, not fatal: requests answer 503 until
//! Clerk or Secrets Manager is back.

use std::sync::Arc;

use lambda_http::Error;
use shared::Config;

// One request at a time per container: a single-threaded runtime starts faster and uses less memory.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let started = std::time::Instant::now();
    shared::logging::init();
    let config = Config::from_env().inspect_err(|e| {
        tracing::error!(variable = e.var, error = %e, "invalid configuration");
    })?;
    let app = Arc::new(
        protected::App::from_config(&config)
            .await
            .inspect_err(|e| {
                tracing::error!(error = %e, "invalid configuration");
            })?,
    );
    let configured = started.elapsed();
    app.warm().await;
    tracing::info!(
        config_us = u64::try_from(configured.as_micros()).unwrap_or(u64::MAX),
        init_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        "init done"
    );
    shared::lambda::run(|req| {
        let app = app.clone();
        async move { app.handle(&req).await }
    })
    .await
}
