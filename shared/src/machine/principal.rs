//! What a handler gets: who is calling, whatever the kind of token.

use serde::Serialize;
use serde_json::Value;

use super::classify::TokenType;
use crate::session::Session;

/// Who owns an API key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", content = "id", rename_all = "snake_case")]
pub enum Owner {
    /// `user_...`
    User(String),
    /// `org_...`
    Organization(String),
}

impl Owner {
    /// The owner of a key with `subject`, when it is a user or an organization.
    pub fn from_subject(subject: &str) -> Option<Owner> {
        if subject.starts_with("user_") {
            Some(Owner::User(subject.to_owned()))
        } else if subject.starts_with("org_") {
            Some(Owner::Organization(subject.to_owned()))
        } else {
            None
        }
    }

    pub fn id(&self) -> &str {
        match self {
            Owner::User(id) | Owner::Organization(id) => id,
        }
    }
}

/// The verified caller of a request.
#[derive(Debug, Clone, Serialize)]
#[serde(
    tag = "type",
    rename_all = "snake_case",
    rename_all_fields = "camelCase"
)]
pub enum Principal {
    /// A signed-in user's session token.
    #[serde(rename = "session_token")]
    User(Box<Session>),
    /// A machine (`mch_...`) with an M2M token.
    #[serde(rename = "m2m_token")]
    Machine {
        machine_id: String,
        /// The token's id (`mt_...` / `jti`), for the log and audit.
        token_id: Option<String>,
        /// The machines this token may call, as Clerk lists them.
        scopes: Vec<String>,
        /// Custom claims given when the token was created.
        claims: Value,
    },
    /// An API key of a user or an organization.
    #[serde(rename = "api_key")]
    ApiKey {
        key_id: Option<String>,
        name: Option<String>,
        owner: Owner,
        scopes: Vec<String>,
        claims: Value,
    },
    /// An OAuth access token: `user_id` granted `client_id` the `scopes`.
    #[serde(rename = "oauth_token")]
    OAuth {
        user_id: String,
        client_id: Option<String>,
        token_id: Option<String>,
        scopes: Vec<String>,
    },
}

impl Principal {
    pub fn token_type(&self) -> TokenType {
        match self {
            Principal::User(_) => TokenType::SessionToken,
            Principal::Machine { .. } => TokenType::M2mToken,
            Principal::ApiKey { .. } => TokenType::ApiKey,
            Principal::OAuth { .. } => TokenType::OAuthToken,
        }
    }

    /// The subject for the log: the user, the machine, or the key's owner.
    pub fn subject(&self) -> &str {
        match self {
            Principal::User(s) => &s.user_id,
            Principal::Machine { machine_id, .. } => machine_id,
            Principal::ApiKey { owner, .. } => owner.id(),
            Principal::OAuth { user_id, .. } => user_id,
        }
    }

    /// The session, for a signed-in user.
    pub fn session(&self) -> Option<&Session> {
        match self {
            Principal::User(s) => Some(s),
            _ => None,
        }
    }

    /// The token's scopes (none for a session: users are authorized by roles and permissions).
    pub fn scopes(&self) -> &[String] {
        match self {
            Principal::User(_) => &[],
            Principal::Machine { scopes, .. }
            | Principal::ApiKey { scopes, .. }
            | Principal::OAuth { scopes, .. } => scopes,
        }
    }

    /// Whether every scope in `required` was granted. A session has none: a route that requires
    /// a scope is for machine tokens (asking none always holds).
    pub fn has_scopes(&self, required: &[&str]) -> bool {
        required
            .iter()
            .all(|r| self.scopes().iter().any(|s| s == r))
    }
}
