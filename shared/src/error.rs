//! Reason codes (contract section 3) and the authentication error every layer ends in.

use std::fmt;
use std::time::Duration;

/// Why a request was not authenticated. `as_str` is the contract's reason code, returned to the
/// client in `reason` and written to the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Reason {
    SessionTokenMissing,
    TokenInvalid,
    TokenInvalidAlgorithm,
    JwkKidMismatch,
    JwkRemoteFailedToLoad,
    JwkFailedToResolve,
    SecretKeyInvalid,
    /// Ours: the secret could not be read from Secrets Manager.
    SecretUnavailable,
    TokenInvalidSignature,
    TokenVerificationFailed,
    TokenInvalidIssuer,
    TokenInvalidAuthorizedParties,
    TokenExpired,
    TokenNotActiveYet,
    TokenIatInTheFuture,
    SessionPending,
}

impl Reason {
    pub const ALL: [Reason; 16] = [
        Reason::SessionTokenMissing,
        Reason::TokenInvalid,
        Reason::TokenInvalidAlgorithm,
        Reason::JwkKidMismatch,
        Reason::JwkRemoteFailedToLoad,
        Reason::JwkFailedToResolve,
        Reason::SecretKeyInvalid,
        Reason::SecretUnavailable,
        Reason::TokenInvalidSignature,
        Reason::TokenVerificationFailed,
        Reason::TokenInvalidIssuer,
        Reason::TokenInvalidAuthorizedParties,
        Reason::TokenExpired,
        Reason::TokenNotActiveYet,
        Reason::TokenIatInTheFuture,
        Reason::SessionPending,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Reason::SessionTokenMissing => "session-token-missing",
            Reason::TokenInvalid => "token-invalid",
            Reason::TokenInvalidAlgorithm => "token-invalid-algorithm",
            Reason::JwkKidMismatch => "jwk-kid-mismatch",
            Reason::JwkRemoteFailedToLoad => "jwk-remote-failed-to-load",
            Reason::JwkFailedToResolve => "jwk-failed-to-resolve",
            Reason::SecretKeyInvalid => "secret-key-invalid",
            Reason::SecretUnavailable => "secret-unavailable",
            Reason::TokenInvalidSignature => "token-invalid-signature",
            Reason::TokenVerificationFailed => "token-verification-failed",
            Reason::TokenInvalidIssuer => "token-invalid-issuer",
            Reason::TokenInvalidAuthorizedParties => "token-invalid-authorized-parties",
            Reason::TokenExpired => "token-expired",
            Reason::TokenNotActiveYet => "token-not-active-yet",
            Reason::TokenIatInTheFuture => "token-iat-in-the-future",
            Reason::SessionPending => "session-pending",
        }
    }

    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.as_str() == code)
    }

    /// A short human message; never contains token material.
    pub fn message(self) -> &'static str {
        match self {
            Reason::SessionTokenMissing => "No session token: send Authorization: Bearer <token>.",
            Reason::TokenInvalid => "The session token is malformed.",
            Reason::TokenInvalidAlgorithm => "The session token must be signed with RS256.",
            Reason::JwkKidMismatch => "The session token was signed by an unknown key.",
            Reason::JwkRemoteFailedToLoad => {
                "The signing keys could not be loaded; try again shortly."
            }
            Reason::JwkFailedToResolve => "No usable signing key is available; try again shortly.",
            Reason::SecretKeyInvalid => {
                "The service cannot reach Clerk with its credentials; try again shortly."
            }
            Reason::SecretUnavailable => {
                "The service credentials could not be loaded; try again shortly."
            }
            Reason::TokenInvalidSignature => "The session token signature is invalid.",
            Reason::TokenVerificationFailed => {
                "The session token is missing a required claim or has a malformed claim."
            }
            Reason::TokenInvalidIssuer => "The session token was issued by another Clerk instance.",
            Reason::TokenInvalidAuthorizedParties => {
                "The session token was issued for another origin."
            }
            Reason::TokenExpired => "The session token has expired.",
            Reason::TokenNotActiveYet => "The session token is not active yet.",
            Reason::TokenIatInTheFuture => "The session token was issued in the future.",
            Reason::SessionPending => "The session is pending: finish signing in first.",
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of authenticating one request, when it is not a session.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// The token is missing or not acceptable: 401.
    #[error("unauthorized: {reason}")]
    Unauthorized {
        reason: Reason,
        /// Whether a token was sent (RFC 6750 `error="invalid_token"`).
        token_sent: bool,
    },
    /// Our side cannot verify right now (key set or secret unavailable): 503, never "signed out".
    #[error("unavailable: {reason}: {detail}")]
    Unavailable {
        reason: Reason,
        retry_after: Duration,
        /// For the log only.
        detail: String,
    },
    /// Misconfiguration: 500 with a generic body; the detail goes to the log.
    #[error("misconfigured: {0}")]
    Misconfigured(String),
}

/// Retry-After given with a 503 when nothing more precise is known.
pub const DEFAULT_RETRY_AFTER: Duration = Duration::from_secs(2);

impl AuthError {
    pub fn unauthorized(reason: Reason) -> Self {
        AuthError::Unauthorized {
            reason,
            token_sent: reason != Reason::SessionTokenMissing,
        }
    }

    pub fn unavailable(reason: Reason, detail: impl Into<String>) -> Self {
        AuthError::Unavailable {
            reason,
            retry_after: DEFAULT_RETRY_AFTER,
            detail: detail.into(),
        }
    }

    /// The reason code, when there is one.
    pub fn reason(&self) -> Option<Reason> {
        match self {
            AuthError::Unauthorized { reason, .. } | AuthError::Unavailable { reason, .. } => {
                Some(*reason)
            }
            AuthError::Misconfigured(_) => None,
        }
    }
}
