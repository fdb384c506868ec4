//! Routes of the protected function, and the long-lived clients they borrow.

use std::sync::Arc;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use shared::auth::Authenticator;
use shared::clerk_api::{Call, ClerkApiError, ClerkBackend, UserDirectory, UserProfile};
use shared::clock::{self, Clock};
use shared::config::{Config, ConfigError};
use shared::error::Reason;
use shared::http::{ApiError, authenticate, get_only, json, path, respond};
use shared::secret::{AwsSecretSource, SecretCache, SecretCallError, SecretSource};
use shared::session::Session;
use tracing::Instrument as _;

use crate::profile_cache::ProfileCache;

/// Everything a request needs, built once per container.
#[derive(Debug)]
pub struct App {
    auth: Authenticator,
    secrets: Arc<SecretCache>,
    users: Arc<dyn UserDirectory>,
    profiles: ProfileCache,
}

impl App {
    /// Production wiring: Secrets Manager through the AWS SDK, Clerk's Backend API over HTTPS.
    pub async fn from_config(config: &Config) -> Result<Self, ConfigError> {
        let secret_id = config.require_secret_id()?;
        let source: Arc<dyn SecretSource> = Arc::new(AwsSecretSource::from_env(secret_id));
        let backend = Arc::new(
            ClerkBackend::new(config.api_url.clone())
                .map_err(|e| ConfigError::new("CLERK_API_URL", e.to_string()))?,
        );
        Self::new(config, source, backend.clone(), backend, clock::system())
    }

    /// Wiring with any secret source, key fetcher, user directory and clock (tests).
    pub fn new(
        config: &Config,
        source: Arc<dyn SecretSource>,
        fetcher: Arc<dyn shared::clerk_api::KeyFetcher>,
        users: Arc<dyn UserDirectory>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ConfigError> {
        let secrets = Arc::new(SecretCache::new(source, config.secret_ttl, clock.clone()));
        let auth =
            Authenticator::from_config(config, Some(secrets.clone()), fetcher, clock.clone())?;
        Ok(Self {
            auth,
            secrets,
            users,
            profiles: ProfileCache::new(clock),
        })
    }

    /// Init phase: read the secret and the key set now, so the first request is fast. Failures
    /// are logged and retried by the next request.
    pub async fn warm(&self) {
        let t = std::time::Instant::now();
        if let Err(e) = self.secrets.get().await {
            tracing::warn!(error = %e, "could not read the secret during init; requests will retry");
        }
        let secret = t.elapsed();
        if let Err(e) = self.auth.warm().await {
            tracing::warn!(error = %e, "could not load the key set during init; requests will retry");
        }
        tracing::info!(
            secret_us = micros(secret),
            key_set_us = micros(t.elapsed() - secret),
            "warmed"
        );
    }

    pub async fn handle(&self, req: &Request) -> Response<Body> {
        // The request's log line names the signed-in user through this span (`span.user_id`); at
        // error level, so that it is on whenever any line of the request is.
        let span = tracing::error_span!("request", user_id = tracing::field::Empty);
        async {
            let route = path(req);
            let result = match route {
                "/api/protected" => match get_only(req) {
                    Ok(()) => self.protected(req).await,
                    Err(e) => Err(e),
                },
                "/api/me" => match get_only(req) {
                    Ok(()) => self.me(req).await,
                    Err(e) => Err(e),
                },
                _ => Err(Reason::RouteNotFound.into()),
            };
            respond(req, route, result)
        }
        .instrument(span)
        .await
    }

    async fn session(&self, req: &Request) -> Result<Session, ApiError> {
        let session = authenticate(&self.auth, req).await?;
        tracing::Span::current().record("user_id", session.user_id.as_str());
        Ok(session)
    }

    async fn protected(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.session(req).await?;
        Ok(json(StatusCode::OK, &session))
    }

    async fn me(&self, req: &Request) -> Result<Response<Body>, ApiError> {
        let session = self.session(req).await?;
        if let Some(profile) = self.profiles.get(&session.user_id) {
            return Ok(json(StatusCode::OK, &*profile));
        }
        let profile = Arc::new(self.fetch_profile(&session.user_id).await?);
        self.profiles.put(profile.clone());
        Ok(json(StatusCode::OK, &*profile))
    }

    async fn fetch_profile(&self, user_id: &str) -> Result<UserProfile, ApiError> {
        let users = &self.users;
        self.secrets
            .call(|secret| async move { users.get_user(&secret.secret_key, user_id).await })
            .await
            .map_err(|e| {
                if e == SecretCallError::Clerk(ClerkApiError::NotFound) {
                    self.profiles.remove(user_id);
                }
                ApiError::secret_call(e, Call::User)
            })
    }
}

fn micros(d: std::time::Duration) -> u64 {
    u64::try_from(d.as_micros()).unwrap_or(u64::MAX)
}
