//! The users table: the copy of Clerk's users that the webhooks function keeps from signed
//! `user.*` events (docs/webhooks.md), and that `/api/me` can read before asking Clerk.
//!
//! One DynamoDB table, partition key `pk` (a string), on-demand. Two kinds of item:
//! - a user, `pk` = the Clerk user id: what `/api/me` shows (never `private_metadata`), its
//!   `updated_at` (ms, Clerk's) that orders writes, `deleted` once a `user.deleted` arrived (a
//!   tombstone: final, Clerk never reuses a user id), the last event applied and a write count;
//! - a delivery seen, `pk` = `event#` + the `svix-id`, with `expires_at` (s, the table's TTL
//!   attribute) at least [`DEDUP_TTL`] ahead.
//!
//! The seams ([`UserReader`], [`UserStore`]) need no AWS; the DynamoDB client is
//! [`DynamoUsers`] (feature `users-table`).

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use crate::clerk_api::UserProfile;

/// The environment variable naming the table.
pub const USERS_TABLE_ENV: &str = "USERS_TABLE";
/// How long a delivery id is remembered: Svix retries for about 28 hours; 7 days covers a replay
/// by hand from Clerk's dashboard within a week.
pub const DEDUP_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

/// Attribute names of the items.
pub mod attr {
    pub const PK: &str = "pk";
    pub const KIND: &str = "kind";
    pub const UPDATED_AT: &str = "updated_at";
    pub const DELETED: &str = "deleted";
    pub const FIRST_NAME: &str = "first_name";
    pub const LAST_NAME: &str = "last_name";
    pub const USERNAME: &str = "username";
    pub const IMAGE_URL: &str = "image_url";
    pub const PRIMARY_EMAIL: &str = "primary_email";
    /// The JSON text of `public_metadata` (kept as text: any JSON, exactly).
    pub const PUBLIC_METADATA: &str = "public_metadata";
    pub const EVENT_ID: &str = "event_id";
    pub const WRITES: &str = "writes";
    /// The TTL attribute (seconds since the epoch) of delivery items.
    pub const EXPIRES_AT: &str = "expires_at";
}

/// The `pk` of the item remembering delivery `svix_id`.
pub fn event_key(svix_id: &str) -> String {
    format!("event#{svix_id}")
}

/// What the table knows about a user.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    /// Stored from a `user.created`/`user.updated` event.
    Found(UserProfile),
    /// A `user.deleted` event arrived: answer 404 `user-not-found`, do not ask Clerk.
    Deleted,
    /// Not in the table (yet): ask the Backend API.
    Missing,
}

/// What one event changes.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// `user.created` / `user.updated`: written only if the stored `updated_at` is older (and the
    /// user is not deleted).
    Upsert {
        profile: UserProfile,
        updated_at_ms: u64,
        event_id: String,
    },
    /// `user.deleted`: the profile is dropped and the item marked deleted, for good.
    Delete {
        user_id: String,
        at_ms: u64,
        event_id: String,
    },
}

impl Change {
    pub fn user_id(&self) -> &str {
        match self {
            Change::Upsert { profile, .. } => &profile.id,
            Change::Delete { user_id, .. } => user_id,
        }
    }
}

/// Whether a change was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Written,
    /// Newer state (or a tombstone) is stored already: nothing written.
    Stale,
}

impl Applied {
    pub fn as_str(self) -> &'static str {
        match self {
            Applied::Written => "written",
            Applied::Stale => "stale",
        }
    }
}

/// Why the table could not answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TableError {
    /// Throttled, timed out, unreachable, 5xx: try again (503).
    #[error("the users table is unavailable: {0}")]
    Unavailable(String),
    /// No such table, access denied, a request DynamoDB refuses: a deployment error (500).
    #[error("the users table is misconfigured: {0}")]
    Misconfigured(String),
    /// An item that is not of this schema (500).
    #[error("unreadable item: {0}")]
    Corrupt(String),
}

impl TableError {
    pub fn is_transient(&self) -> bool {
        matches!(self, TableError::Unavailable(_))
    }
}

/// Reads a user: all `/api/me` needs (one `GetItem`).
#[async_trait]
pub trait UserReader: Send + Sync + fmt::Debug {
    async fn get_user(&self, user_id: &str) -> Result<Lookup, TableError>;
}

/// Writes of the webhooks function.
#[async_trait]
pub trait UserStore: UserReader {
    /// Whether delivery `svix_id` was applied already (a consistent read).
    async fn seen(&self, svix_id: &str) -> Result<bool, TableError>;
    /// Applies `change` with its condition: a late or repeated event never overwrites newer state.
    async fn apply(&self, change: &Change) -> Result<Applied, TableError>;
    /// Remembers delivery `svix_id` until `expires_at_s` (the TTL attribute).
    async fn remember(&self, svix_id: &str, expires_at_s: u64) -> Result<(), TableError>;
}

/// A user's profile from the attributes of its item (`get` reads one attribute as a string).
/// `None` when the item is a tombstone.
pub fn profile_from_item<'a>(
    id: &str,
    deleted: bool,
    get: impl Fn(&str) -> Option<&'a str>,
) -> Result<Option<UserProfile>, TableError> {
    if deleted {
        return Ok(None);
    }
    let public_metadata = match get(attr::PUBLIC_METADATA) {
        Some(text) => serde_json::from_str(text)
            .map_err(|_| TableError::Corrupt(format!("{id}: public_metadata is not JSON")))?,
        None => Value::Object(Default::default()),
    };
    let text = |name| get(name).map(str::to_owned);
    Ok(Some(UserProfile {
        id: id.to_owned(),
        first_name: text(attr::FIRST_NAME),
        last_name: text(attr::LAST_NAME),
        username: text(attr::USERNAME),
        image_url: text(attr::IMAGE_URL),
        primary_email: text(attr::PRIMARY_EMAIL),
        public_metadata,
    }))
}

#[cfg(feature = "users-table")]
mod dynamo;
#[cfg(feature = "users-table")]
pub use dynamo::DynamoUsers;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_read_back_as_profiles() {
        let item = [
            (attr::FIRST_NAME, "Ada"),
            (attr::PRIMARY_EMAIL, "ada@example.com"),
            (attr::PUBLIC_METADATA, r#"{"plan":"pro"}"#),
        ];
        let get = |k: &str| item.iter().find(|(n, _)| *n == k).map(|(_, v)| *v);
        let p = profile_from_item("user_1", false, get).unwrap().unwrap();
        assert_eq!(p.first_name.as_deref(), Some("Ada"));
        assert_eq!(p.last_name, None);
        assert_eq!(p.public_metadata["plan"], "pro");
        assert_eq!(profile_from_item("user_1", true, get).unwrap(), None);
        let bad = |k: &str| (k == attr::PUBLIC_METADATA).then_some("{nope");
        assert!(matches!(
            profile_from_item("user_1", false, bad),
            Err(TableError::Corrupt(_))
        ));
        let none = |_: &str| None;
        let p = profile_from_item("user_1", false, none).unwrap().unwrap();
        assert_eq!(p.public_metadata, serde_json::json!({}));
        assert_eq!(event_key("msg_1"), "event#msg_1");
    }
}
