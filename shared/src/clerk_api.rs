//! The Clerk Backend API: the key set (`GET /v1/jwks`) and users (`GET /v1/users/{id}`), through
//! one hardened HTTP client (short timeouts, no redirects, 200 required, body capped, bounded
//! retries with jittered back-off), on the process's one HTTP stack ([`crate::https`], which the
//! AWS SDK uses too). The client itself needs feature `aws`; the seams and parsing do not.
//! docs/contract.md, section 7.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::Reason;
use crate::keys::SecretKey;
use crate::rsa_key::RsaKey;

#[cfg(feature = "aws")]
mod backend;
#[cfg(feature = "aws")]
pub use backend::{ClerkBackend, REQUEST_TIMEOUT};

/// The API version this project was written against.
pub const CLERK_API_VERSION: &str = "2025-11-10";
/// Largest response body read.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Attempts per call for transient failures (connection, timeout, 5xx).
pub const MAX_ATTEMPTS: u32 = 2;

/// Why a Backend API call failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClerkApiError {
    /// `clerk_key_invalid` (or any 401): the secret key is wrong or was rotated.
    #[error("Clerk rejected the secret key")]
    SecretKeyInvalid,
    #[error("not found")]
    NotFound,
    #[error("rate limited by Clerk (retry after {retry_after:?})")]
    RateLimited { retry_after: Duration },
    /// The key set holds no RSA/RS256/sig key.
    #[error("the key set has no usable RS256 key")]
    NoUsableKey,
    /// Network error, timeout, redirect, 5xx, unreadable or oversized body.
    #[error("Clerk is unavailable: {0}")]
    Unavailable(String),
}

/// Which Backend API call failed: the same failure answers differently for each.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Call {
    /// `GET /v1/jwks`.
    KeySet,
    /// `GET /v1/users/{id}`.
    User,
}

impl ClerkApiError {
    /// The one mapping from a failed Backend API call to the reason of the answer: the key set's
    /// failures are the contract's codes (all 503), a user's are ours.
    pub fn reason(&self, call: Call) -> Reason {
        match (self, call) {
            (ClerkApiError::SecretKeyInvalid, _) => Reason::SecretKeyInvalid,
            (ClerkApiError::NoUsableKey, _) => Reason::JwkFailedToResolve,
            (_, Call::KeySet) => Reason::JwkRemoteFailedToLoad,
            (ClerkApiError::NotFound, Call::User) => Reason::UserNotFound,
            (ClerkApiError::RateLimited { .. }, Call::User) => Reason::ClerkRateLimited,
            (ClerkApiError::Unavailable(_), Call::User) => Reason::ClerkUnavailable,
        }
    }

    /// How long Clerk asked us to wait, when it did.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClerkApiError::RateLimited { retry_after } => Some(*retry_after),
            _ => None,
        }
    }
}

/// The seam in front of the key set endpoint.
#[async_trait]
pub trait KeyFetcher: Send + Sync + fmt::Debug {
    async fn fetch_keys(&self, secret: &SecretKey) -> Result<Vec<RsaKey>, ClerkApiError>;
}

/// The seam in front of the users endpoint.
#[async_trait]
pub trait UserDirectory: Send + Sync + fmt::Debug {
    async fn get_user(
        &self,
        secret: &SecretKey,
        user_id: &str,
    ) -> Result<UserProfile, ClerkApiError>;
}

/// The whitelisted projection of a Clerk `User` the API returns (never `private_metadata`).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserProfile {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub username: Option<String>,
    pub image_url: Option<String>,
    pub primary_email: Option<String>,
    pub public_metadata: Value,
}

#[derive(Deserialize)]
struct ClerkUser {
    id: String,
    first_name: Option<String>,
    last_name: Option<String>,
    username: Option<String>,
    image_url: Option<String>,
    primary_email_address_id: Option<String>,
    #[serde(default)]
    email_addresses: Vec<ClerkEmail>,
    #[serde(default)]
    public_metadata: Value,
}

#[derive(Deserialize)]
struct ClerkEmail {
    id: String,
    email_address: String,
}

impl From<ClerkUser> for UserProfile {
    fn from(u: ClerkUser) -> Self {
        let primary_email = u.primary_email_address_id.as_ref().and_then(|pid| {
            u.email_addresses
                .iter()
                .find(|e| &e.id == pid)
                .map(|e| e.email_address.clone())
        });
        UserProfile {
            id: u.id,
            first_name: u.first_name,
            last_name: u.last_name,
            username: u.username,
            image_url: u.image_url,
            primary_email,
            public_metadata: if u.public_metadata.is_null() {
                Value::Object(Default::default())
            } else {
                u.public_metadata
            },
        }
    }
}

impl UserProfile {
    /// The profile of a Clerk `User` object as JSON (a webhook's `data`), with the same
    /// projection as the Backend API's answer: never `private_metadata`.
    pub fn from_clerk_user(user: Value) -> Result<Self, serde_json::Error> {
        serde_json::from_value::<ClerkUser>(user).map(Self::from)
    }
}

/// Clerk user ids: `user_` then letters and digits. Anything else never reaches a URL.
pub fn is_valid_user_id(id: &str) -> bool {
    id.strip_prefix("user_").is_some_and(|rest| {
        !rest.is_empty() && rest.len() <= 64 && rest.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// Parses a key set body: keys that are not RSA / RS256 / sig are skipped; none left is an error.
pub fn parse_jwks(body: &[u8]) -> Result<Vec<RsaKey>, ClerkApiError> {
    #[derive(Deserialize)]
    struct Set {
        keys: Vec<Value>,
    }
    #[derive(Deserialize)]
    struct Jwk {
        kid: String,
        kty: String,
        alg: Option<String>,
        #[serde(rename = "use")]
        use_: Option<String>,
        n: String,
        e: String,
    }
    let set: Set = serde_json::from_slice(body)
        .map_err(|_| ClerkApiError::Unavailable("key set body is not a JWKS".into()))?;
    let keys: Vec<RsaKey> = set
        .keys
        .into_iter()
        .filter_map(|v| serde_json::from_value::<Jwk>(v).ok())
        .filter(|k| {
            k.kty == "RSA"
                && k.alg.as_deref().is_none_or(|a| a == "RS256")
                && k.use_.as_deref().is_none_or(|u| u == "sig")
        })
        .filter_map(|k| RsaKey::from_components(&k.n, &k.e, Some(k.kid)).ok())
        .collect();
    if keys.is_empty() {
        return Err(ClerkApiError::NoUsableKey);
    }
    Ok(keys)
}

// ---------------------------------------------------------------- machine tokens (issue 15)

/// The three Backend API verify endpoints of machine tokens in opaque form. Their paths carry no
/// `/v1`: `@clerk/backend` 3.x calls them so (`skipApiVersionInUrl`); the version goes in the
/// `clerk-api-version` header, as for every call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum MachineEndpoint {
    /// `POST /api_keys/verify` with `{"secret": ...}`.
    ApiKey,
    /// `POST /m2m_tokens/verify` with `{"token": ...}`.
    M2mToken,
    /// `POST /oauth_applications/access_tokens/verify` with `{"access_token": ...}`.
    OAuthToken,
}

impl MachineEndpoint {
    /// The path and the body field that carries the token, as `@clerk/backend` sends them.
    pub fn path_and_field(self) -> (&'static str, &'static str) {
        match self {
            MachineEndpoint::ApiKey => ("/api_keys/verify", "secret"),
            MachineEndpoint::M2mToken => ("/m2m_tokens/verify", "token"),
            MachineEndpoint::OAuthToken => {
                ("/oauth_applications/access_tokens/verify", "access_token")
            }
        }
    }
}

/// What a verify endpoint answered with 200: the fields of Clerk's `APIKey`, `M2MToken` and
/// `IdPOAuthAccessToken` resources that decide acceptance and name the principal. Absent flags
/// are `None`, which [`crate::machine`] refuses (fail closed), as it refuses any that is set.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct MachineTokenRecord {
    #[serde(default)]
    pub id: Option<String>,
    /// `api_key`, `m2m_token`, `oauth_token` (informational).
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// `user_...` / `org_...` (API keys), `mch_...` (M2M), `user_...` (OAuth).
    #[serde(default)]
    pub subject: Option<String>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    #[serde(default)]
    pub claims: Option<Value>,
    #[serde(default)]
    pub revoked: Option<bool>,
    #[serde(default)]
    pub expired: Option<bool>,
    /// Expiry in ms since the epoch (`null`: never).
    #[serde(default)]
    pub expiration: Option<u64>,
    /// Only some answers carry it; when present it must be `true`.
    #[serde(default)]
    pub active: Option<bool>,
    /// OAuth: the client (application) the user authorized.
    #[serde(default)]
    pub client_id: Option<String>,
    /// API keys: its name.
    #[serde(default)]
    pub name: Option<String>,
}

/// Parses a verify endpoint's 200 body; anything that is not a resource object is an outage of
/// the answer (503), never an acceptance.
pub fn parse_machine_record(body: &[u8]) -> Result<MachineTokenRecord, ClerkApiError> {
    serde_json::from_slice(body)
        .map_err(|_| ClerkApiError::Unavailable("verify body is not a Clerk token resource".into()))
}

/// The seam in front of the three verify endpoints.
#[async_trait]
pub trait MachineTokenVerifier: Send + Sync + fmt::Debug {
    /// `NotFound`: Clerk does not know the token (or it is revoked or expired).
    async fn verify_machine_token(
        &self,
        secret: &SecretKey,
        endpoint: MachineEndpoint,
        token: &str,
    ) -> Result<MachineTokenRecord, ClerkApiError>;
}
