//! Machine authentication: API keys (`ak_`), M2M tokens (`mt_` or JWT) and OAuth access tokens
//! (`oat_` or `at+jwt`), beside session tokens, as `@clerk/backend`'s
//! `authenticateRequest({acceptsToken})` does, with our stricter rules (docs/machine-auth.md).
//!
//! Per request: [`classify`] (no network) -> a type the route does not accept is 401
//! `token-type-mismatch` -> a session token goes to [`Authenticator`]; a machine JWT is verified
//! with the instance's keys; an opaque token is looked up in the [`cache::TokenCache`], else sent
//! to its Backend API verify endpoint with the secret key ([`SecretCache::call`]). Only a 200
//! that is not revoked, not expired, active, with a subject is accepted; Clerk down or
//! throttling is 503, never 401.

pub mod cache;
pub mod classify;
pub mod jwt;
pub mod principal;

use std::sync::Arc;
use std::time::Duration;

pub use classify::{Classified, TokenType, classify};
pub use principal::{Owner, Principal};

use crate::auth::{Authenticator, secret_error};
use crate::clerk_api::{ClerkApiError, MachineEndpoint, MachineTokenRecord, MachineTokenVerifier};
use crate::clock::Clock;
use crate::config::{Config, ConfigError, Setting, Unit};
use crate::error::{AuthError, DEFAULT_RETRY_AFTER, Reason};
use crate::secret::{SecretCache, SecretCallError};

/// `CLERK_MACHINE_CACHE_TTL_SECS`: how long a verified opaque token is reused (0: never); a
/// revoked key stops working within this bound (and never later than 60 s).
pub const MACHINE_CACHE_TTL: Setting = Setting {
    var: "CLERK_MACHINE_CACHE_TTL_SECS",
    default: 30,
    min: 0,
    max: 60,
    unit: Unit::Secs,
};
/// `CLERK_MACHINE_CACHE_SIZE`: most verified opaque tokens remembered.
pub const MACHINE_CACHE_SIZE: Setting = Setting {
    var: "CLERK_MACHINE_CACHE_SIZE",
    default: 10_000,
    min: 1,
    max: 1_000_000,
    unit: Unit::Count { zero: None },
};
/// `CLERK_MACHINE_ID` names this service's machine (`mch_...`): M2M tokens in JWT form must list
/// it in `aud`. Unset: no audience check (Clerk's SDK default).
pub const MACHINE_ID_VAR: &str = "CLERK_MACHINE_ID";

/// Settings of machine authentication, read once at start-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MachineSettings {
    /// Default 30 s, at most 60 s ([`MACHINE_CACHE_TTL`]).
    pub cache_ttl: Duration,
    /// Default 10,000 ([`MACHINE_CACHE_SIZE`]).
    pub cache_size: usize,
    /// Default none ([`MACHINE_ID_VAR`]).
    pub machine_id: Option<String>,
}

impl Default for MachineSettings {
    fn default() -> Self {
        Self {
            cache_ttl: Duration::from_secs(MACHINE_CACHE_TTL.default),
            cache_size: 10_000,
            machine_id: None,
        }
    }
}

impl MachineSettings {
    /// Reads the settings from `lookup` (the environment in production).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let read = |s: &Setting| {
            let raw = lookup(s.var);
            s.read(raw.as_deref().map(str::trim).filter(|v| !v.is_empty()))
        };
        let machine_id = lookup(MACHINE_ID_VAR)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty());
        if let Some(id) = &machine_id
            && !(id.starts_with("mch_")
                && id.len() > 4
                && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        {
            return Err(ConfigError::new(
                MACHINE_ID_VAR,
                "expected a Clerk machine id: mch_ then letters and digits",
            ));
        }
        Ok(Self {
            cache_ttl: Duration::from_secs(read(&MACHINE_CACHE_TTL)?),
            cache_size: usize::try_from(read(&MACHINE_CACHE_SIZE)?).unwrap_or(usize::MAX),
            machine_id,
        })
    }

    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }
}

/// Authenticates bearer tokens of every type. Cheap to share across requests.
#[derive(Debug)]
pub struct MachineAuth {
    issuer: String,
    skew_ms: u64,
    machine_id: Option<String>,
    secrets: Option<Arc<SecretCache>>,
    verifier: Arc<dyn MachineTokenVerifier>,
    cache: cache::TokenCache,
    clock: Arc<dyn Clock>,
}

impl MachineAuth {
    /// `secrets`: needed for opaque tokens (without it they answer 500: misconfigured).
    pub fn new(
        config: &Config,
        settings: &MachineSettings,
        secrets: Option<Arc<SecretCache>>,
        verifier: Arc<dyn MachineTokenVerifier>,
        clock: Arc<dyn Clock>,
    ) -> Self {
        Self {
            issuer: config.issuer.clone(),
            skew_ms: config.clock_skew_ms,
            machine_id: settings.machine_id.clone(),
            secrets,
            verifier,
            cache: cache::TokenCache::new(settings.cache_ttl, settings.cache_size, clock.clone()),
            clock,
        }
    }

    /// Verifies `token` if its type is in `accepts`; sessions through `sessions`.
    pub async fn authenticate(
        &self,
        sessions: &Authenticator,
        token: &str,
        accepts: &[TokenType],
    ) -> Result<Principal, AuthError> {
        let class = classify(token);
        // Decided before any network call (and before any key is loaded).
        if !accepts.contains(&class.kind) || class.foreign_category {
            return Err(AuthError::unauthorized(Reason::TokenTypeMismatch));
        }
        if class.kind == TokenType::SessionToken {
            return sessions
                .authenticate(token)
                .await
                .map(|s| Principal::User(Box::new(s)));
        }
        if class.jwt_form {
            return self.verify_jwt(sessions, token, class.kind).await;
        }
        self.verify_opaque(class.kind, token).await
    }

    async fn verify_jwt(
        &self,
        sessions: &Authenticator,
        token: &str,
        kind: TokenType,
    ) -> Result<Principal, AuthError> {
        let decoded = jwt::decode(token).map_err(invalid)?;
        // The type the route accepted is the type verified, whatever the two readings make of it.
        if decoded.kind != kind {
            return Err(invalid(
                "classified as one machine type, decoded as another",
            ));
        }
        let keys = match sessions.instance_keys(decoded.kid()).await {
            Ok(keys) => keys,
            Err(AuthError::Unauthorized { .. }) => return Err(invalid("unknown kid")),
            Err(e) => return Err(e),
        };
        let expect = jwt::Expect {
            issuer: &self.issuer,
            machine_id: self.machine_id.as_deref(),
            now_ms: self.clock.now_ms(),
            skew_ms: self.skew_ms,
        };
        let (principal, _) = decoded.verify(&keys, expect).map_err(invalid)?;
        Ok(principal)
    }

    async fn verify_opaque(&self, kind: TokenType, token: &str) -> Result<Principal, AuthError> {
        if token.len() > crate::verify::MAX_TOKEN_BYTES {
            return Err(invalid("token too long"));
        }
        // Clerk's secrets are visible ASCII after their prefix: anything else is not one, and
        // needs no call to find out.
        let prefix_len = token.find('_').map_or(0, |i| i + 1);
        if token.len() <= prefix_len || !token.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(invalid("not a machine token's characters"));
        }
        let key = cache::digest(token);
        if let Some(p) = self.cache.get(&key) {
            return Ok((*p).clone());
        }
        let Some(secrets) = &self.secrets else {
            return Err(AuthError::Misconfigured(
                "an opaque machine token needs the secret key (CLERK_SECRET_ID)".into(),
            ));
        };
        let endpoint = match kind {
            TokenType::ApiKey => MachineEndpoint::ApiKey,
            TokenType::M2mToken => MachineEndpoint::M2mToken,
            _ => MachineEndpoint::OAuthToken,
        };
        let verifier = &self.verifier;
        let record = secrets
            .call(|secret| async move {
                verifier
                    .verify_machine_token(&secret.secret_key, endpoint, token)
                    .await
            })
            .await
            .map_err(call_error)?;
        let (principal, expires_at) = accept(kind, &record, self.clock.now_ms())?;
        // The opaque form's `scopes` are the machines it may call (the JWT form's `aud`): with our
        // machine id configured, it must be one of them (Clerk checks no audience for us).
        if kind == TokenType::M2mToken
            && let Some(me) = self.machine_id.as_deref()
            && !record.scopes.iter().flatten().any(|s| s == me)
        {
            return Err(invalid("scopes do not name this machine"));
        }
        let principal = Arc::new(principal);
        self.cache.put(key, principal.clone(), expires_at);
        Ok((*principal).clone())
    }
}

fn invalid(detail: &str) -> AuthError {
    tracing::debug!(detail, "machine token refused");
    AuthError::Unauthorized {
        reason: Reason::MachineTokenInvalid,
        token_sent: true,
    }
}

/// A verify call that did not answer 200: Clerk refused the token (401), or cannot answer (503).
fn call_error(e: SecretCallError) -> AuthError {
    match e {
        SecretCallError::Secret(e) => secret_error(e),
        SecretCallError::Clerk(ClerkApiError::NotFound) => invalid("Clerk does not know the token"),
        SecretCallError::Clerk(e) => {
            let reason = match &e {
                ClerkApiError::SecretKeyInvalid => Reason::SecretKeyInvalid,
                ClerkApiError::RateLimited { .. } => Reason::ClerkRateLimited,
                _ => Reason::ClerkUnavailable,
            };
            AuthError::Unavailable {
                reason,
                retry_after: e.retry_after().unwrap_or(DEFAULT_RETRY_AFTER),
                detail: format!("machine token verify: {e}"),
            }
        }
    }
}

/// The rules for a 200: not revoked, not expired (flag and time), not inactive, a subject of the
/// right kind. An absent `revoked` or `expired` flag refuses (fail closed).
pub fn accept(
    kind: TokenType,
    r: &MachineTokenRecord,
    now_ms: u64,
) -> Result<(Principal, Option<u64>), AuthError> {
    if r.revoked != Some(false) {
        return Err(invalid("revoked (or no revoked flag)"));
    }
    if r.expired != Some(false) {
        return Err(invalid("expired (or no expired flag)"));
    }
    if r.active == Some(false) {
        return Err(invalid("inactive"));
    }
    if r.expiration.is_some_and(|at| at <= now_ms) {
        return Err(invalid("past its expiration"));
    }
    let subject = r
        .subject
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| invalid("no subject"))?;
    let scopes = r.scopes.clone().unwrap_or_default();
    let claims = r.claims.clone().unwrap_or(serde_json::Value::Null);
    let principal = match kind {
        TokenType::ApiKey => Principal::ApiKey {
            key_id: r.id.clone(),
            name: r.name.clone(),
            owner: Owner::from_subject(subject)
                .ok_or_else(|| invalid("owner is not a user or an organization"))?,
            scopes,
            claims,
        },
        TokenType::M2mToken => {
            if !subject.starts_with(classify::M2M_SUBJECT_PREFIX) {
                return Err(invalid("subject is not a machine"));
            }
            Principal::Machine {
                machine_id: subject.to_owned(),
                token_id: r.id.clone(),
                scopes,
                claims,
            }
        }
        TokenType::OAuthToken => Principal::OAuth {
            user_id: subject.to_owned(),
            client_id: r.client_id.clone(),
            token_id: r.id.clone(),
            scopes,
        },
        TokenType::SessionToken => return Err(invalid("not a machine token")),
    };
    Ok((principal, r.expiration))
}
