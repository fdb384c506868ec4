//! Clerk session-token verification for Rust on AWS Lambda.
//!
//! Data flows one way: request -> [`http::bearer_token`] -> [`auth::Authenticator`] (keys from
//! [`jwks::KeyCache`], filled from Clerk through [`clerk_api::ClerkBackend`] with the secret from
//! [`secret::SecretCache`]) -> [`verify::Verifier`] -> [`session::Session`] -> handler. Failures
//! become HTTP in one place: [`http::ApiError::into_response`].
//!
//! The contract this implements is docs/contract.md, in the repository.

pub mod auth;
pub mod authorization;
pub mod claims;
pub mod clerk_api;
pub mod clock;
pub mod config;
pub mod error;
pub mod http;
#[cfg(feature = "aws")]
pub mod https;
pub mod jwks;
pub mod keys;
pub mod lambda;
pub mod logging;
pub mod machine;
pub mod metrics;
pub mod readiness;
pub mod routes;
pub mod rsa_key;
pub mod secret;
pub mod session;
pub mod sig_cache;
mod ttl_cell;
pub mod users_table;
pub mod verify;
pub mod xray;

pub use auth::Authenticator;
pub use config::{Config, ConfigError};
pub use error::{AuthError, Reason};
pub use session::Session;
pub use verify::Verifier;
