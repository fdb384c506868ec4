//! The protected function: `GET /api/protected` and `GET /api/me`, for signed-in Clerk users.
//!
//! Init phase: configuration (fails fast on a wrong value), clients built once, then the secret
//! and key set are warmed; an outage there is logged, not fatal: requests answer 503 until
//! Clerk or Secrets Manager is back.

mod app;
mod profile_cache;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use lambda_http::{Error, run, service_fn};
use shared::Config;

#[tokio::main]
async fn main() -> Result<(), Error> {
    shared::logging::init();
    let config = Config::from_env().inspect_err(|e| {
        tracing::error!(variable = e.var, error = %e, "invalid configuration");
    })?;
    let app = Arc::new(app::App::from_config(&config).await.inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?);
    app.warm().await;
    run(service_fn(move |req| {
        let app = app.clone();
        async move { Ok::<_, std::convert::Infallible>(app.handle(&req).await) }
    }))
    .await
}
