//! Every reason a request is not answered with success, declared once with its status, code and
//! message (docs/contract.md, "Answers"), and the authentication error every layer ends in.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

/// Declares every reason once: its variant, HTTP status, code and message.
macro_rules! reasons {
    ($( $(#[$doc:meta])* $variant:ident = ($status:ident, $code:literal, $message:literal), )*) => {
        /// Why a request was not answered with success. Each reason has one HTTP status, one code
        /// (sent in `reason` and written to the log) and one message (never token material).
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum Reason {
            $( $(#[$doc])* $variant, )*
        }

        impl Reason {
            /// Every reason, in declaration order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The code sent to the client in `reason` and written to the log.
            pub fn as_str(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The HTTP status a request failing for this reason gets.
            pub fn status(self) -> StatusCode {
                match self { $(Reason::$variant => StatusCode::$status,)* }
            }

            /// A short human message; never contains token material.
            pub fn message(self) -> &'static str {
                match self { $(Reason::$variant => $message,)* }
            }
        }
    };
}

reasons! {
    // 401: no acceptable token (docs/contract.md, section 2: checks 0 to 16).
    SessionTokenMissing = (UNAUTHORIZED, "session-token-missing",
        "No session token: send Authorization: Bearer <token>."),
    TokenInvalid = (UNAUTHORIZED, "token-invalid", "The session token is malformed."),
    TokenInvalidAlgorithm = (UNAUTHORIZED, "token-invalid-algorithm",
        "The session token must be signed with RS256."),
    JwkKidMismatch = (UNAUTHORIZED, "jwk-kid-mismatch",
        "The session token was signed by an unknown key."),
    TokenInvalidSignature = (UNAUTHORIZED, "token-invalid-signature",
        "The session token signature is invalid."),
    TokenVerificationFailed = (UNAUTHORIZED, "token-verification-failed",
        "The session token is missing a required claim or has a malformed claim."),
    TokenInvalidIssuer = (UNAUTHORIZED, "token-invalid-issuer",
        "The session token was issued by another Clerk instance."),
    TokenInvalidAuthorizedParties = (UNAUTHORIZED, "token-invalid-authorized-parties",
        "The session token was issued for another origin."),
    TokenExpired = (UNAUTHORIZED, "token-expired", "The session token has expired."),
    TokenNotActiveYet = (UNAUTHORIZED, "token-not-active-yet",
        "The session token is not active yet."),
    TokenIatInTheFuture = (UNAUTHORIZED, "token-iat-in-the-future",
        "The session token was issued in the future."),
    SessionPending = (UNAUTHORIZED, "session-pending",
        "The session is pending: finish signing in first."),
    // 403: signed in, not allowed (the authorization checks of a route).
    Forbidden = (FORBIDDEN, "forbidden", "You are signed in but not allowed to do this."),
    /// Signed in, but the factors were verified too long ago: the answer carries Clerk's
    /// `clerk_error` so that Clerk's client components prompt the user to verify again.
    ReverificationRequired = (FORBIDDEN, "reverification-error",
        "Verify your identity again to continue."),
    // 503: our side cannot answer now; an outage is never "signed out".
    JwkRemoteFailedToLoad = (SERVICE_UNAVAILABLE, "jwk-remote-failed-to-load",
        "The signing keys could not be loaded; try again shortly."),
    JwkFailedToResolve = (SERVICE_UNAVAILABLE, "jwk-failed-to-resolve",
        "No usable signing key is available; try again shortly."),
    SecretKeyInvalid = (SERVICE_UNAVAILABLE, "secret-key-invalid",
        "The service cannot reach Clerk with its credentials; try again shortly."),
    /// Ours: the secret could not be read from Secrets Manager.
    SecretUnavailable = (SERVICE_UNAVAILABLE, "secret-unavailable",
        "The service credentials could not be loaded; try again shortly."),
    /// Ours: Clerk answered 429 to a Backend API call.
    ClerkRateLimited = (SERVICE_UNAVAILABLE, "clerk-rate-limited",
        "The service is briefly unavailable; try again shortly."),
    /// Ours: the Backend API cannot answer (network, timeout, 5xx, unreadable answer).
    ClerkUnavailable = (SERVICE_UNAVAILABLE, "clerk-unavailable",
        "The service is briefly unavailable; try again shortly."),
    // The request itself.
    RequestMalformed = (BAD_REQUEST, "request-malformed",
        "The request could not be read: its URL, a header or its body holds bytes HTTP does not allow."),
    RouteNotFound = (NOT_FOUND, "route-not-found", "No such route."),
    MethodNotAllowed = (METHOD_NOT_ALLOWED, "method-not-allowed",
        "Method not allowed on this route."),
    /// The signed-in user no longer exists at Clerk.
    UserNotFound = (NOT_FOUND, "user-not-found", "The signed-in user no longer exists."),
    /// Misconfiguration or a bug: the detail goes to the log only.
    Internal = (INTERNAL_SERVER_ERROR, "internal", "Internal server error."),
    // Machine authentication (crate::machine): API keys, M2M tokens, OAuth access tokens.
    /// The token is of a type the route does not accept (decided before any network call).
    TokenTypeMismatch = (UNAUTHORIZED, "token-type-mismatch",
        "This route does not accept this kind of token."),
    /// An API key, M2M or OAuth token that is unknown, revoked, expired, inactive or malformed
    /// (which of these goes to the log only).
    MachineTokenInvalid = (UNAUTHORIZED, "machine-token-invalid",
        "The API key or machine token is not valid."),
    /// A machine token without a scope the route requires.
    InsufficientScope = (FORBIDDEN, "insufficient-scope",
        "The token lacks a scope this route requires."),
    // Clerk's webhooks (functions/webhooks, docs/webhooks.md): 400 means nothing was written.
    /// No `svix-id`, `svix-timestamp` or `svix-signature` header, or one given twice.
    WebhookHeadersMissing = (BAD_REQUEST, "webhook-headers-missing",
        "The svix-id, svix-timestamp and svix-signature headers are required, once each."),
    /// `svix-timestamp` is not a time within 5 minutes of ours.
    WebhookTimestampInvalid = (BAD_REQUEST, "webhook-timestamp-invalid",
        "The webhook timestamp is malformed or more than 5 minutes away from the server's time."),
    /// No `v1` signature of `svix-signature` matches.
    WebhookSignatureInvalid = (BAD_REQUEST, "webhook-signature-invalid",
        "No webhook signature matches."),
    /// Signed, but not a Clerk event this function can read.
    WebhookPayloadInvalid = (BAD_REQUEST, "webhook-payload-invalid",
        "The webhook body is not a Clerk event this endpoint can read."),
    /// The users table is throttled or unreachable: the sender should retry.
    StorageUnavailable = (SERVICE_UNAVAILABLE, "storage-unavailable",
        "Storage is briefly unavailable; try again shortly."),
}

impl Reason {
    /// The reason with this code.
    pub fn parse(code: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.as_str() == code)
    }

    /// The `error` word of the answer's body: the status in words.
    pub fn error(self) -> &'static str {
        match self.status() {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::FORBIDDEN => "forbidden",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            _ => "internal_error",
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

    /// The reason code, when there is one (a misconfiguration answers [`Reason::Internal`]).
    pub fn reason(&self) -> Option<Reason> {
        match self {
            AuthError::Unauthorized { reason, .. } | AuthError::Unavailable { reason, .. } => {
                Some(*reason)
            }
            AuthError::Misconfigured(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_reason_has_its_own_code_and_a_status_of_its_kind() {
        let mut codes: Vec<&str> = Reason::ALL.iter().map(|r| r.as_str()).collect();
        codes.sort_unstable();
        codes.dedup();
        assert_eq!(codes.len(), Reason::ALL.len());
        for r in Reason::ALL {
            assert_eq!(Reason::parse(r.as_str()), Some(*r));
            assert!(!r.message().is_empty());
            assert!(
                r.status().is_client_error() || r.status().is_server_error(),
                "{r}"
            );
        }
        assert_eq!(Reason::Forbidden.status(), 403);
        assert_eq!(Reason::TokenExpired.status(), 401);
        assert_eq!(Reason::SecretUnavailable.status(), 503);
        assert_eq!(Reason::Internal.error(), "internal_error");
    }
}
