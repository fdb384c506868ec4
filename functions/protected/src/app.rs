//! The protected function's route table, its handlers, and the long-lived clients they borrow.
//! Adding an endpoint is one entry in [`routes`] and one handler: the gateway already sends every
//! `/api/` path the public function does not list here, and the table's guards run first.

use std::sync::Arc;

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::auth::Authenticator;
use shared::authorization::Reverification;
use shared::clerk_api::{
    Call, ClerkApiError, ClerkBackend, MachineTokenVerifier, UserDirectory, UserProfile,
};
use shared::clock::{self, Clock};
use shared::config::{Config, ConfigError};
use shared::error::Reason;
use shared::http::{ApiError, json};
use shared::machine::{MachineAuth, MachineSettings, Principal, TokenType};
use shared::routes::{Ctx, Reply, Require, Route, Routes};
use shared::secret::{AwsSecretSource, SecretCache, SecretCallError, SecretSource};
use shared::session::Session;
use shared::users_table::{DynamoUsers, Lookup, USERS_TABLE_ENV, UserReader};

use crate::profile_cache::ProfileCache;

const GET: &[Method] = &[Method::GET];
const POST: &[Method] = &[Method::POST];

/// The protected function's API: every route, what it requires, and its handler.
pub fn routes() -> Vec<Route<App>> {
    vec![
        Route::session("/api/protected", GET, Require::session(), |app, _, s| {
            Box::pin(app.protected(s))
        }),
        Route::session("/api/me", GET, Require::session(), |app, _, s| {
            Box::pin(app.me(s))
        }),
        // Examples of authorization: an organization's admins, a plan's feature, a step-up.
        Route::session(
            "/api/orgs/{org_id}/admin",
            GET,
            Require::session().org_in_path("org_id").role("org:admin"),
            |app, ctx, s| Box::pin(app.org_admin(ctx, s)),
        ),
        Route::session(
            "/api/reports",
            GET,
            Require::session().feature("reports"),
            |app, _, s| Box::pin(app.reports(s)),
        ),
        Route::session(
            "/api/sensitive",
            POST,
            Require::session().reverification(Reverification::Strict),
            |app, _, s| Box::pin(app.sensitive(s)),
        ),
        // Machine authentication: every kind of token, answered with who called
        // (docs/machine-auth.md).
        Route::principal(
            "/api/machine",
            GET,
            Require::session().accepts(&TokenType::ALL),
            |app, _, p| Box::pin(app.machine(p)),
        ),
    ]
}

/// Everything a request needs, built once per container.
#[derive(Debug)]
pub struct App {
    routes: Routes<App>,
    auth: Authenticator,
    secrets: Arc<SecretCache>,
    users: Arc<dyn UserDirectory>,
    /// The webhooks function's copy of the users (`USERS_TABLE`), read before Clerk by `/api/me`.
    table: Option<Arc<dyn UserReader>>,
    profiles: ProfileCache,
    clock: Arc<dyn Clock>,
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
        let settings = MachineSettings::from_env()?;
        let app = Self::new(
            config,
            source,
            backend.clone(),
            backend.clone(),
            clock::system(),
        )?
        .with_machine(config, &settings, backend);
        let table = std::env::var(USERS_TABLE_ENV)
            .ok()
            .filter(|t| !t.trim().is_empty());
        Ok(match table {
            Some(name) => app.with_users_table(Arc::new(DynamoUsers::from_env(name))),
            None => app,
        })
    }

    /// `/api/me` reads `table` first (one GetItem) and asks Clerk only for a user not there.
    pub fn with_users_table(mut self, table: Arc<dyn UserReader>) -> Self {
        self.table = Some(table);
        self
    }

    /// Machine tokens (API keys, M2M, OAuth) for the routes that accept them, verified through
    /// `verifier` (the Backend API) with this app's secret and clock.
    pub fn with_machine(
        mut self,
        config: &Config,
        settings: &MachineSettings,
        verifier: Arc<dyn MachineTokenVerifier>,
    ) -> Self {
        let machine = MachineAuth::new(
            config,
            settings,
            Some(self.secrets.clone()),
            verifier,
            self.clock.clone(),
        );
        self.routes = self.routes.with_machine(machine);
        self
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
        let routes =
            Routes::new(routes()).map_err(|e| ConfigError::new("route table", e.to_string()))?;
        Ok(Self {
            routes,
            auth,
            secrets,
            users,
            table: None,
            profiles: ProfileCache::new(clock.clone()),
            clock,
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
        self.routes.dispatch(self, Some(&self.auth), req).await
    }

    async fn protected(&self, session: Session) -> Reply {
        Ok(json(StatusCode::OK, &session))
    }

    async fn me(&self, session: Session) -> Reply {
        if let Some(profile) = self.profiles.get(&session.user_id) {
            return Ok(json(StatusCode::OK, &*profile));
        }
        let profile = match self.stored_profile(&session.user_id).await? {
            Some(profile) => profile,
            None => self.fetch_profile(&session.user_id).await?,
        };
        let profile = Arc::new(profile);
        self.profiles.put(profile.clone());
        Ok(json(StatusCode::OK, &*profile))
    }

    /// The profile the users table holds: `None` to ask Clerk (not there yet, no table, or the
    /// table unreadable: it is a copy, Clerk is the source); a deleted user is 404.
    async fn stored_profile(&self, user_id: &str) -> Result<Option<UserProfile>, ApiError> {
        let Some(table) = &self.table else {
            return Ok(None);
        };
        match table.get_user(user_id).await {
            Ok(Lookup::Found(profile)) => Ok(Some(profile)),
            Ok(Lookup::Deleted) => Err(Reason::UserNotFound.into()),
            Ok(Lookup::Missing) => Ok(None),
            Err(e) => {
                tracing::warn!(error = %e, "users table unreadable; asking Clerk");
                Ok(None)
            }
        }
    }

    async fn org_admin(&self, ctx: Ctx<'_>, session: Session) -> Reply {
        Ok(json(
            StatusCode::OK,
            &json!({
                "org_id": ctx.param("org_id"),
                "role": session.org_role,
                "message": "You administer this organization.",
            }),
        ))
    }

    async fn reports(&self, session: Session) -> Reply {
        Ok(json(
            StatusCode::OK,
            &json!({
                "feature": "reports",
                "user_id": session.user_id,
                "message": "Your plan includes reports.",
            }),
        ))
    }

    async fn sensitive(&self, session: Session) -> Reply {
        Ok(json(
            StatusCode::OK,
            &json!({
                "done": true,
                "user_id": session.user_id,
                "message": "Done: you verified your identity recently.",
            }),
        ))
    }

    async fn machine(&self, principal: Principal) -> Reply {
        Ok(json(StatusCode::OK, &principal))
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
