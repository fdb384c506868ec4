//! What a verified Clerk event asks of the users table.
//!
//! `user.created` and `user.updated` upsert the user's profile, ordered by the user's `updated_at`
//! (ms). `user.deleted` carries no `updated_at`: it tombstones the user, for good (Clerk never
//! reuses a user id), so its order against other events does not matter. `organization.*`,
//! `organizationMembership.*` and every other type are acknowledged and not stored.

use serde::Deserialize;
use serde_json::Value;
use shared::clerk_api::{UserProfile, is_valid_user_id};
use shared::users_table::Change;

/// What to do with one event.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Store(Change),
    /// A type this function does not store (acknowledged with 200 so that Svix stops sending it).
    Ignore {
        event_type: String,
    },
}

#[derive(Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    event_type: String,
    data: Value,
    /// When Clerk emitted the event, ms.
    #[serde(default)]
    timestamp: Option<u64>,
}

/// Reads a verified body. `delivery_id` is the `svix-id`; `sent_s` its `svix-timestamp`.
/// `Err` carries what was wrong, for the log (never a value of the body).
pub fn parse(body: &[u8], delivery_id: &str, sent_s: u64) -> Result<Action, &'static str> {
    let event: Envelope = serde_json::from_slice(body).map_err(|_| "not a Clerk event object")?;
    let event_id = delivery_id.to_owned();
    match event.event_type.as_str() {
        "user.created" | "user.updated" => {
            let updated_at_ms = event
                .data
                .get("updated_at")
                .and_then(Value::as_u64)
                .ok_or("user without a numeric updated_at")?;
            let profile =
                UserProfile::from_clerk_user(event.data).map_err(|_| "data is not a Clerk user")?;
            if !is_valid_user_id(&profile.id) {
                return Err("data.id is not a Clerk user id");
            }
            Ok(Action::Store(Change::Upsert {
                profile,
                updated_at_ms,
                event_id,
            }))
        }
        "user.deleted" => {
            let user_id = event
                .data
                .get("id")
                .and_then(Value::as_str)
                .filter(|id| is_valid_user_id(id))
                .ok_or("user.deleted without a Clerk user id")?
                .to_owned();
            Ok(Action::Store(Change::Delete {
                user_id,
                at_ms: event.timestamp.unwrap_or(sent_s.saturating_mul(1000)),
                event_id,
            }))
        }
        other => Ok(Action::Ignore {
            event_type: other.chars().take(64).collect(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user_event(kind: &str) -> Value {
        json!({
            "type": kind, "object": "event", "timestamp": 1_700_000_000_500u64,
            "data": {
                "id": "user_29w83sxmDNGwOuEthce5gg56FcC", "object": "user",
                "first_name": "Ada", "last_name": null, "username": "ada",
                "image_url": "https://img.clerk.com/x",
                "primary_email_address_id": "idn_2",
                "email_addresses": [
                    {"id": "idn_1", "email_address": "old@example.com"},
                    {"id": "idn_2", "email_address": "ada@example.com"}
                ],
                "public_metadata": {"plan": "pro"},
                "private_metadata": {"stripe": "cus_secret"},
                "unsafe_metadata": {"x": 1},
                "updated_at": 1_700_000_000_000u64, "created_at": 1_600_000_000_000u64
            }
        })
    }

    #[test]
    fn user_created_and_updated_upsert_the_profile_only() {
        for kind in ["user.created", "user.updated"] {
            let body = user_event(kind).to_string();
            let Action::Store(Change::Upsert {
                profile,
                updated_at_ms,
                event_id,
            }) = parse(body.as_bytes(), "msg_1", 1).unwrap()
            else {
                panic!("an upsert")
            };
            assert_eq!(updated_at_ms, 1_700_000_000_000);
            assert_eq!(event_id, "msg_1");
            assert_eq!(profile.primary_email.as_deref(), Some("ada@example.com"));
            assert_eq!(profile.last_name, None);
            let shown = serde_json::to_string(&profile).unwrap();
            assert!(
                !shown.contains("cus_secret") && !shown.contains("unsafe"),
                "{shown}"
            );
        }
    }

    #[test]
    fn user_deleted_tombstones_at_the_event_time_or_the_delivery_time() {
        let body = json!({"type": "user.deleted", "timestamp": 1_700_000_000_900u64,
            "data": {"id": "user_1", "deleted": true, "object": "user"}});
        assert_eq!(
            parse(body.to_string().as_bytes(), "msg_2", 5).unwrap(),
            Action::Store(Change::Delete {
                user_id: "user_1".into(),
                at_ms: 1_700_000_000_900,
                event_id: "msg_2".into()
            })
        );
        let body = json!({"type": "user.deleted", "data": {"id": "user_1", "deleted": true}});
        let Action::Store(Change::Delete { at_ms, .. }) =
            parse(body.to_string().as_bytes(), "msg_2", 1_700_000_001).unwrap()
        else {
            panic!("a delete")
        };
        assert_eq!(at_ms, 1_700_000_001_000);
    }

    #[test]
    fn organization_events_are_acknowledged_not_stored() {
        for kind in [
            "organization.created",
            "organizationMembership.updated",
            "session.created",
        ] {
            let body = json!({"type": kind, "data": {"id": "org_1"}});
            assert_eq!(
                parse(body.to_string().as_bytes(), "m", 1).unwrap(),
                Action::Ignore {
                    event_type: kind.into()
                }
            );
        }
    }

    #[test]
    fn unreadable_events_are_refused() {
        let mut no_updated_at = user_event("user.updated");
        no_updated_at["data"]["updated_at"] = json!("yesterday");
        let mut bad_id = user_event("user.created");
        bad_id["data"]["id"] = json!("../admin");
        for body in [
            "".to_owned(),
            "[]".to_owned(),
            "{\"type\": 5}".to_owned(),
            "{\"type\": \"user.created\"}".to_owned(),
            no_updated_at.to_string(),
            bad_id.to_string(),
            json!({"type": "user.deleted", "data": {}}).to_string(),
        ] {
            assert!(parse(body.as_bytes(), "m", 1).is_err(), "{body}");
        }
    }
}
