//! The handler called directly with API Gateway events, on a manual clock, against an in-memory
//! users table that counts its writes and can fail on demand.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use base64::Engine as _;
use lambda_http::{Body, Response};
use serde_json::{Value, json};
use shared::clerk_api::UserProfile;
use shared::clock::{Clock as _, ManualClock};
use shared::secret::SecretError;
use shared::users_table::{Applied, Change, Lookup, TableError, UserReader, UserStore};
use test_support::{FakeSecretSource, apigw_v2_event, event_to_request, json_body};

use crate::App;
use crate::secret::WebhookSecret;
use crate::signature::WebhookKey;

const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
const NOW_S: u64 = 1_800_000_000;

#[derive(Debug, Clone)]
struct Row {
    profile: Option<UserProfile>,
    updated_at: u64,
    writes: u64,
}

/// The table's semantics (conditions included) in memory.
#[derive(Debug, Default)]
struct MemoryUsers {
    users: Mutex<HashMap<String, Row>>,
    seen: Mutex<HashMap<String, u64>>,
    /// Calls that wrote (apply that wrote, remember).
    writes: AtomicU64,
    /// The next calls fail this way.
    fail: Mutex<Option<TableError>>,
}

impl MemoryUsers {
    fn check(&self) -> Result<(), TableError> {
        match self.fail.lock().unwrap().clone() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
    fn row(&self, id: &str) -> Option<Row> {
        self.users.lock().unwrap().get(id).cloned()
    }
}

#[async_trait]
impl UserReader for MemoryUsers {
    async fn get_user(&self, user_id: &str) -> Result<Lookup, TableError> {
        self.check()?;
        Ok(match self.row(user_id) {
            None => Lookup::Missing,
            Some(Row { profile: None, .. }) => Lookup::Deleted,
            Some(Row {
                profile: Some(p), ..
            }) => Lookup::Found(p),
        })
    }
}

#[async_trait]
impl UserStore for MemoryUsers {
    async fn seen(&self, svix_id: &str) -> Result<bool, TableError> {
        self.check()?;
        Ok(self.seen.lock().unwrap().contains_key(svix_id))
    }
    async fn apply(&self, change: &Change) -> Result<Applied, TableError> {
        self.check()?;
        let mut users = self.users.lock().unwrap();
        let old = users.get(change.user_id()).cloned();
        let (profile, updated_at) = match change {
            Change::Upsert {
                profile,
                updated_at_ms,
                ..
            } => {
                if old
                    .as_ref()
                    .is_some_and(|r| r.profile.is_none() || r.updated_at >= *updated_at_ms)
                {
                    return Ok(Applied::Stale);
                }
                (Some(profile.clone()), *updated_at_ms)
            }
            Change::Delete { at_ms, .. } => {
                if old.as_ref().is_some_and(|r| r.profile.is_none()) {
                    return Ok(Applied::Stale);
                }
                (None, *at_ms)
            }
        };
        let writes = old.map_or(0, |r| r.writes) + 1;
        users.insert(
            change.user_id().to_owned(),
            Row {
                profile,
                updated_at,
                writes,
            },
        );
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(Applied::Written)
    }
    async fn remember(&self, svix_id: &str, expires_at_s: u64) -> Result<(), TableError> {
        self.check()?;
        self.seen
            .lock()
            .unwrap()
            .insert(svix_id.to_owned(), expires_at_s);
        self.writes.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

struct Fixture {
    app: App,
    store: Arc<MemoryUsers>,
    source: Arc<FakeSecretSource>,
    clock: Arc<ManualClock>,
    key: WebhookKey,
}

fn fixture() -> Fixture {
    let store = Arc::new(MemoryUsers::default());
    let source = FakeSecretSource::new(format!(r#"{{"CLERK_WEBHOOK_SIGNING_SECRET":"{SECRET}"}}"#));
    let clock = ManualClock::new(NOW_S * 1000);
    let app = App::new(
        WebhookSecret::new(source.clone(), Duration::from_secs(300), clock.clone()),
        store.clone(),
        clock.clone(),
    )
    .unwrap();
    Fixture {
        app,
        store,
        source,
        clock,
        key: WebhookKey::parse(SECRET).unwrap(),
    }
}

fn user(id: &str, name: &str, updated_at: u64) -> Value {
    json!({
        "type": "user.updated", "object": "event", "timestamp": updated_at + 5,
        "data": {
            "id": id, "object": "user", "first_name": name, "last_name": "Lovelace",
            "username": null, "image_url": "https://img.clerk.com/a",
            "primary_email_address_id": "idn_1",
            "email_addresses": [{"id": "idn_1", "email_address": "ada@example.com"}],
            "public_metadata": {"role": "admin"}, "private_metadata": {"secret": "PRIVATE_VALUE"},
            "updated_at": updated_at
        }
    })
}

impl Fixture {
    /// A delivery as Svix sends it: signed with the endpoint's secret now.
    fn send(&self, id: &str, body: &Value) -> Response<Body> {
        let body = body.to_string();
        let ts = (self.clock.now_ms() / 1000).to_string();
        let sig = self.key.sign(id, &ts, body.as_bytes());
        self.post(
            &[
                ("svix-id", id),
                ("svix-timestamp", &ts),
                ("svix-signature", &sig),
            ],
            body.as_bytes(),
            false,
        )
    }

    fn post(&self, headers: &[(&str, &str)], body: &[u8], base64: bool) -> Response<Body> {
        self.request("POST", "/api/webhooks/clerk", headers, body, base64)
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &[u8],
        base64: bool,
    ) -> Response<Body> {
        let mut event: Value =
            serde_json::from_str(&apigw_v2_event(method, path, headers)).unwrap();
        event["body"] = if base64 {
            json!(base64::engine::general_purpose::STANDARD.encode(body))
        } else {
            json!(std::str::from_utf8(body).unwrap())
        };
        event["isBase64Encoded"] = json!(base64);
        let req = event_to_request(event.to_string().as_bytes()).unwrap();
        futures_block_on(self.app.handle(&req))
    }

    fn writes(&self) -> u64 {
        self.store.writes.load(Ordering::SeqCst)
    }
}

fn futures_block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

fn outcome(r: &Response<Body>) -> String {
    assert_eq!(r.status(), 200, "{}", json_body(r));
    json_body(r)["outcome"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

fn refused(r: &Response<Body>, status: u16, reason: &str) {
    assert_eq!(r.status(), status, "{}", json_body(r));
    assert_eq!(json_body(r)["reason"], reason);
}

#[test]
fn a_signed_user_event_is_stored_without_private_metadata() {
    let f = fixture();
    let r = f.send("msg_1", &user("user_1", "Ada", 1000));
    assert_eq!(outcome(&r), "written");
    let row = f.store.row("user_1").unwrap();
    let p = row.profile.unwrap();
    assert_eq!(p.first_name.as_deref(), Some("Ada"));
    assert_eq!(p.primary_email.as_deref(), Some("ada@example.com"));
    assert!(!serde_json::to_string(&p).unwrap().contains("PRIVATE_VALUE"));
    assert_eq!(f.writes(), 2, "the user, then the delivery id");
}

#[test]
fn a_duplicate_delivery_writes_nothing() {
    let f = fixture();
    let body = user("user_1", "Ada", 1000);
    assert_eq!(outcome(&f.send("msg_1", &body)), "written");
    let before = f.writes();
    assert_eq!(outcome(&f.send("msg_1", &body)), "duplicate");
    assert_eq!(f.writes(), before);
    assert_eq!(f.store.row("user_1").unwrap().writes, 1);
}

#[test]
fn an_older_event_arriving_late_keeps_the_newer_state() {
    let f = fixture();
    assert_eq!(
        outcome(&f.send("msg_2", &user("user_1", "Newer", 2000))),
        "written"
    );
    assert_eq!(
        outcome(&f.send("msg_1", &user("user_1", "Older", 1000))),
        "stale"
    );
    assert_eq!(
        outcome(&f.send("msg_3", &user("user_1", "Same time", 2000))),
        "stale"
    );
    let row = f.store.row("user_1").unwrap();
    assert_eq!(row.profile.unwrap().first_name.as_deref(), Some("Newer"));
    assert_eq!(row.writes, 1);
}

#[test]
fn a_deletion_is_final_whatever_arrives_after_it() {
    let f = fixture();
    assert_eq!(
        outcome(&f.send("msg_1", &user("user_1", "Ada", 1000))),
        "written"
    );
    let deleted = json!({"type": "user.deleted", "timestamp": 1500, "data": {"id": "user_1", "deleted": true}});
    assert_eq!(outcome(&f.send("msg_2", &deleted)), "written");
    assert_eq!(
        outcome(&f.send("msg_3", &user("user_1", "Late", 3000))),
        "stale"
    );
    assert_eq!(outcome(&f.send("msg_4", &deleted)), "stale");
    assert!(f.store.row("user_1").unwrap().profile.is_none());
    // Deleted before it was ever created here (deliveries out of order).
    assert_eq!(
        outcome(&f.send(
            "msg_5",
            &json!({"type": "user.deleted", "data": {"id": "user_2"}})
        )),
        "written"
    );
    assert_eq!(
        outcome(&f.send("msg_6", &user("user_2", "Zombie", 1))),
        "stale"
    );
}

#[test]
fn bad_signatures_expired_timestamps_and_missing_headers_are_400_and_write_nothing() {
    let f = fixture();
    let body = user("user_1", "Ada", 1000).to_string();
    let ts = NOW_S.to_string();
    let good = f.key.sign("msg_1", &ts, body.as_bytes());
    let other = WebhookKey::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap()
        .sign("msg_1", &ts, body.as_bytes());
    refused(
        &f.post(
            &[
                ("svix-id", "msg_1"),
                ("svix-timestamp", &ts),
                ("svix-signature", &other),
            ],
            body.as_bytes(),
            false,
        ),
        400,
        "webhook-signature-invalid",
    );
    let tampered = body.replace("Ada", "Eve");
    refused(
        &f.post(
            &[
                ("svix-id", "msg_1"),
                ("svix-timestamp", &ts),
                ("svix-signature", &good),
            ],
            tampered.as_bytes(),
            false,
        ),
        400,
        "webhook-signature-invalid",
    );
    let old = (NOW_S - 301).to_string();
    let sig_old = f.key.sign("msg_1", &old, body.as_bytes());
    refused(
        &f.post(
            &[
                ("svix-id", "msg_1"),
                ("svix-timestamp", &old),
                ("svix-signature", &sig_old),
            ],
            body.as_bytes(),
            false,
        ),
        400,
        "webhook-timestamp-invalid",
    );
    refused(
        &f.post(
            &[("svix-id", "msg_1"), ("svix-timestamp", &ts)],
            body.as_bytes(),
            false,
        ),
        400,
        "webhook-headers-missing",
    );
    assert_eq!(f.writes(), 0);
    assert!(f.store.row("user_1").is_none());
    // Signed but not an event: 400 too.
    let r = f.send(
        "msg_9",
        &json!({"type": "user.created", "data": {"id": "user_1"}}),
    );
    refused(&r, 400, "webhook-payload-invalid");
    assert_eq!(f.writes(), 0);
}

#[test]
fn a_base64_encoded_body_is_verified_as_its_decoded_bytes() {
    let f = fixture();
    let body = user("user_1", "Ada", 1000).to_string();
    let ts = NOW_S.to_string();
    let sig = f.key.sign("msg_1", &ts, body.as_bytes());
    let r = f.post(
        &[
            ("svix-id", "msg_1"),
            ("svix-timestamp", &ts),
            ("svix-signature", &sig),
        ],
        body.as_bytes(),
        true,
    );
    assert_eq!(outcome(&r), "written");
}

#[test]
fn organization_events_are_acknowledged_and_not_stored() {
    let f = fixture();
    let r = f.send(
        "msg_1",
        &json!({"type": "organization.created", "data": {"id": "org_1"}}),
    );
    assert_eq!(outcome(&r), "ignored");
    let r = f.send(
        "msg_2",
        &json!({"type": "organizationMembership.created", "data": {"id": "orgmem_1"}}),
    );
    assert_eq!(outcome(&r), "ignored");
    assert_eq!(f.writes(), 0);
}

#[test]
fn storage_throttled_is_503_and_the_retry_converges() {
    let f = fixture();
    let body = user("user_1", "Ada", 1000);
    *f.store.fail.lock().unwrap() = Some(TableError::Unavailable(
        "UpdateItem: ThrottlingException".into(),
    ));
    let r = f.send("msg_1", &body);
    refused(&r, 503, "storage-unavailable");
    assert!(r.headers().contains_key("retry-after"));
    *f.store.fail.lock().unwrap() = None;
    assert_eq!(outcome(&f.send("msg_1", &body)), "written");
    assert_eq!(outcome(&f.send("msg_1", &body)), "duplicate");
    assert_eq!(f.store.row("user_1").unwrap().writes, 1);
    // A missing table is the deployment's fault: 500, detail in the log only.
    *f.store.fail.lock().unwrap() = Some(TableError::Misconfigured(
        "ResourceNotFoundException".into(),
    ));
    let r = f.send("msg_2", &body);
    refused(&r, 500, "internal");
    assert!(!json_body(&r).to_string().contains("ResourceNotFound"));
}

#[test]
fn secrets_manager_down_is_503_and_a_broken_secret_500() {
    let f = fixture();
    f.source
        .set(Err(SecretError::Transient("connection failed".into())));
    refused(
        &f.send("msg_1", &user("user_1", "Ada", 1000)),
        503,
        "secret-unavailable",
    );
    f.source.set(Ok("whsec_c2hvcnQ=".into()));
    let r = f.send("msg_1", &user("user_1", "Ada", 1000));
    refused(&r, 500, "internal");
    assert!(!json_body(&r).to_string().contains("c2hvcnQ"));
    assert_eq!(f.writes(), 0);
}

#[test]
fn other_routes_and_methods() {
    let f = fixture();
    let r = f.request("GET", "/api/webhooks/clerk", &[], b"", false);
    refused(&r, 405, "method-not-allowed");
    assert_eq!(r.headers()["allow"], "POST");
    refused(
        &f.request("POST", "/api/webhooks/other", &[], b"{}", false),
        404,
        "route-not-found",
    );
}
