//! Clerk's webhooks end to end (issue 16): the stand-in signs and sends deliveries as Svix does
//! (`clerk_stub::webhooks`), the webhooks function runs under `cargo lambda watch` at
//! `/api/webhooks/clerk`, its signing secret and the users table are in moto (behind the stack's
//! counting proxy). What the test reads back is the table itself, through DynamoDB's API.
//!
//! A duplicate makes one write; reordered events keep the newest state; a bad signature or an
//! expired timestamp is 400 with nothing written; storage throttled is 503 and the retry of the
//! same delivery converges; no signing secret, signature or private metadata in any log; a weak
//! signing secret stops the function at start; `/api/me` answers from the table (a stored user,
//! a deleted one) without calling Clerk, and asks Clerk for a user not there.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::print_stderr)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use clerk_stub::webhooks::{Answer, Delivery, Signer, deleted_event, message_id, send, user_event};
use e2e::stack::Stack;
use e2e::{Moto, SmMode};
use serde_json::{Value, json};

/// This file's signing secret (a test value: 28 random-looking bytes).
const SIGNING_SECRET: &str = "whsec_ZTJlV2ViaG9va3NUZXN0U2lnbmluZ1NlY3JldDE=";

/// A stack whose webhooks function has a secret and a table of its own in the shared moto.
struct Hooks {
    stack: Stack,
    moto: Arc<Moto>,
    table: String,
    signer: Signer,
    rt: tokio::runtime::Runtime,
}

fn dynamo(moto: &Moto, action: &str, body: &Value) -> (u16, Value) {
    let resp = reqwest::blocking::Client::new()
        .post(moto.url())
        .header("X-Amz-Target", format!("DynamoDB_20120810.{action}"))
        .header("Content-Type", "application/x-amz-json-1.0")
        .header(
            "Authorization",
            "AWS4-HMAC-SHA256 Credential=test/20261203/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
        )
        .body(body.to_string())
        .send()
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().unwrap_or(Value::Null))
}

fn hooks() -> Hooks {
    hooks_with(&json!({"CLERK_WEBHOOK_SIGNING_SECRET": SIGNING_SECRET}).to_string())
}

/// [`hooks`] with `secret_value` as the signing secret's value in Secrets Manager.
fn hooks_with(secret_value: &str) -> Hooks {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::SeqCst);
    // Held while the stack runs, so that the stack's moto is this one.
    let moto = Moto::shared();
    let suffix = format!("{}-{n}", std::process::id());
    let secret_id = format!("webhooks/e2e-{suffix}");
    let table = format!("users-e2e-{suffix}");
    moto.create_secret(&secret_id, secret_value);
    let (status, body) = dynamo(
        &moto,
        "CreateTable",
        &json!({
            "TableName": table,
            "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
        }),
    );
    assert_eq!(status, 200, "CreateTable: {body}");
    let stack = Stack::start_with(
        false,
        &[
            ("CLERK_WEBHOOK_SECRET_ID", &secret_id),
            ("USERS_TABLE", &table),
        ],
    );
    Hooks {
        stack,
        moto,
        table,
        signer: Signer::new(SIGNING_SECRET).unwrap(),
        rt: tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap(),
    }
}

fn now_s() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

impl Hooks {
    fn deliver(&self, d: &Delivery) -> Answer {
        self.try_deliver(d, std::time::Duration::from_secs(60))
            .expect("an answer within 60 s")
    }

    /// `None` when no answer came `within` (a function that cannot start leaves watch waiting).
    fn try_deliver(&self, d: &Delivery, within: std::time::Duration) -> Option<Answer> {
        let url = self.stack.watch.url("/api/webhooks/clerk");
        let sent = async { tokio::time::timeout(within, send(&url, d)).await };
        self.rt.block_on(sent).ok().map(Result::unwrap)
    }

    fn signed(&self, event: &Value) -> Delivery {
        self.signer.delivery(&message_id(), now_s(), event)
    }

    /// The item of `pk`, as DynamoDB returns it (`Null` when there is none).
    fn item(&self, pk: &str) -> Value {
        let (status, body) = dynamo(
            &self.moto,
            "GetItem",
            &json!({"TableName": self.table, "Key": {"pk": {"S": pk}}, "ConsistentRead": true}),
        );
        assert_eq!(status, 200, "GetItem: {body}");
        body["Item"].clone()
    }

    /// Every item of the table.
    fn items(&self) -> Vec<Value> {
        let (status, body) = dynamo(&self.moto, "Scan", &json!({"TableName": self.table}));
        assert_eq!(status, 200, "Scan: {body}");
        body["Items"].as_array().cloned().unwrap_or_default()
    }

    /// The log holds no signing secret, signature or private metadata, and no panic.
    fn assert_clean_log(&self, sent: &[Delivery]) {
        // The function's lines reach the file shortly after its answers.
        let text = e2e::eventually(
            "the webhook log lines",
            std::time::Duration::from_secs(10),
            || {
                let text = self.stack.watch.log_text();
                if text.matches("\"webhook\"").count() + text.matches("webhook-").count() >= 1 {
                    Ok(text)
                } else {
                    Err("no webhook line yet")
                }
            },
        );
        assert!(!text.contains("panicked"), "a panic in the log");
        assert!(!text.contains("whsec_"), "a signing secret in the log");
        assert!(
            !text.contains(&SIGNING_SECRET["whsec_".len()..]),
            "the signing secret in the log"
        );
        assert!(
            !text.contains("PRIVATE-METADATA"),
            "private metadata in the log"
        );
        for d in sent {
            let sig = &d.signature["v1,".len()..];
            assert!(!text.contains(sig), "a signature in the log");
        }
    }
}

fn outcome(a: &Answer) -> &str {
    assert_eq!(a.status, 200, "{:?}", a.body);
    a.body["outcome"].as_str().unwrap_or_default()
}

#[test]
fn deliveries_are_verified_deduplicated_and_ordered() {
    let h = hooks();
    let mut sent = Vec::new();

    // A duplicate makes one write.
    let d = h.signed(&user_event(
        "user.updated",
        "user_e2eDup",
        "Ada",
        1_800_000_000_000,
    ));
    assert_eq!(outcome(&h.deliver(&d)), "written");
    assert_eq!(outcome(&h.deliver(&d)), "duplicate");
    let item = h.item("user_e2eDup");
    assert_eq!(item["writes"]["N"], "1", "{item}");
    assert_eq!(item["first_name"]["S"], "Ada");
    assert_eq!(item["primary_email"]["S"], "ada@example.com");
    assert!(!item.to_string().contains("PRIVATE-METADATA"), "{item}");
    assert!(
        !h.item(&format!("event#{}", d.id)).is_null(),
        "the delivery is remembered"
    );
    sent.push(d);

    // Reordered: the newer state first, the older delivered late; the newer stays.
    let newer = h.signed(&user_event(
        "user.updated",
        "user_e2eOrder",
        "Newer",
        1_800_000_060_000,
    ));
    let older = h.signed(&user_event(
        "user.updated",
        "user_e2eOrder",
        "Older",
        1_800_000_000_000,
    ));
    assert_eq!(outcome(&h.deliver(&newer)), "written");
    assert_eq!(outcome(&h.deliver(&older)), "stale");
    let item = h.item("user_e2eOrder");
    assert_eq!(item["first_name"]["S"], "Newer");
    assert_eq!(item["updated_at"]["N"], "1800000060000");
    assert_eq!(item["writes"]["N"], "1");
    // A deletion is final: a late update does not bring the user back.
    let deleted = h.signed(&deleted_event("user_e2eOrder", 1_800_000_070_000));
    assert_eq!(outcome(&h.deliver(&deleted)), "written");
    let late = h.signed(&user_event(
        "user.updated",
        "user_e2eOrder",
        "Zombie",
        1_800_000_080_000,
    ));
    assert_eq!(outcome(&h.deliver(&late)), "stale");
    let item = h.item("user_e2eOrder");
    assert_eq!(item["deleted"]["BOOL"], true, "{item}");
    assert!(item.get("first_name").is_none(), "{item}");
    sent.extend([newer, older, deleted, late]);

    // Refused: 400, nothing written.
    let before = h.items().len();
    let forged = Signer::new("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")
        .unwrap()
        .delivery(
            &message_id(),
            now_s(),
            &user_event("user.created", "user_e2eForged", "Eve", 1),
        );
    let a = h.deliver(&forged);
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("webhook-signature-invalid"))
    );
    let expired = h.signer.delivery(
        &message_id(),
        now_s() - 301,
        &user_event("user.created", "user_e2eForged", "Old", 1),
    );
    let a = h.deliver(&expired);
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("webhook-timestamp-invalid"))
    );
    let mut tampered = h.signed(&user_event("user.created", "user_e2eForged", "Ada", 1));
    tampered.body = tampered.body.replace("Ada", "Eve");
    let a = h.deliver(&tampered);
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (400, Some("webhook-signature-invalid"))
    );
    assert!(h.item("user_e2eForged").is_null());
    assert_eq!(
        h.items().len(),
        before,
        "nothing written for a refused delivery"
    );
    sent.extend([forged, expired, tampered]);

    // Organizations: verified, acknowledged, not stored.
    let org = h.signed(
        &json!({"type": "organization.created", "object": "event", "data": {"id": "org_1"}}),
    );
    assert_eq!(outcome(&h.deliver(&org)), "ignored");
    assert_eq!(h.items().len(), before);
    sent.push(org);

    h.assert_clean_log(&sent);
}

#[test]
fn a_storage_fault_is_503_and_the_retry_converges() {
    let h = hooks();
    // Warm: the signing secret is read and cached (the fault below is the table's alone).
    let warm = h.signed(&user_event(
        "user.created",
        "user_e2eWarm",
        "Warm",
        1_800_000_000_000,
    ));
    assert_eq!(outcome(&h.deliver(&warm)), "written");

    let d = h.signed(&user_event(
        "user.updated",
        "user_e2eFault",
        "Ada",
        1_800_000_000_000,
    ));
    h.stack.proxy.set_mode(SmMode::Throttled);
    let a = h.deliver(&d);
    assert_eq!(a.status, 503, "{:?}", a.body);
    assert_eq!(a.body["reason"], "storage-unavailable");
    h.stack.proxy.set_mode(SmMode::Down);
    let a = h.deliver(&d);
    assert_eq!(
        (a.status, a.body["reason"].as_str()),
        (503, Some("storage-unavailable"))
    );
    assert!(h.item("user_e2eFault").is_null());

    // Svix retries the same delivery: it is applied once.
    h.stack.proxy.set_mode(SmMode::Pass);
    assert_eq!(outcome(&h.deliver(&d)), "written");
    assert_eq!(outcome(&h.deliver(&d)), "duplicate");
    let item = h.item("user_e2eFault");
    assert_eq!(item["first_name"]["S"], "Ada");
    assert_eq!(item["writes"]["N"], "1");
    h.assert_clean_log(&[warm, d]);
}

#[test]
fn a_weak_signing_secret_stops_the_function_naming_the_variable_not_the_key() {
    let h = hooks_with(r#"{"CLERK_WEBHOOK_SIGNING_SECRET": "whsec_c2hvcnRLZXk="}"#);
    let d = h.signed(&user_event("user.created", "user_e2eWeak", "Ada", 1));
    // The function exits at start; watch may hold the request open: the log is what tells.
    if let Some(a) = h.try_deliver(&d, std::time::Duration::from_secs(5)) {
        assert!(
            a.status >= 500,
            "no answer but a failure: {} {:?}",
            a.status,
            a.body
        );
    }
    let text = e2e::eventually(
        "the refusal in the log",
        std::time::Duration::from_secs(10),
        || {
            let text = h.stack.watch.log_text();
            if text.contains("invalid signing secret") {
                Ok(text)
            } else {
                Err("not yet")
            }
        },
    );
    assert!(
        text.contains("CLERK_WEBHOOK_SIGNING_SECRET decodes to 8 bytes"),
        "the variable and what is wrong"
    );
    assert!(!text.contains("c2hvcnRLZXk"), "the key itself in the log");
    assert!(h.items().is_empty(), "nothing written");
}

#[test]
fn api_me_answers_from_the_table_the_webhooks_keep_and_asks_clerk_otherwise() {
    let h = hooks();
    let s = &h.stack;
    let stored = h.signed(&user_event(
        "user.created",
        "user_e2eMe",
        "FromWebhook",
        1_800_000_000_000,
    ));
    assert_eq!(outcome(&h.deliver(&stored)), "written");
    let gone = h.signed(&deleted_event("user_e2eGone", 1_800_000_000_000));
    assert_eq!(outcome(&h.deliver(&gone)), "written");
    let clerk_calls = s.stub.user_calls();

    let me = s.get("/api/me", Some(&s.mint(json!({"sub": "user_e2eMe"}))));
    assert_eq!(me.status, 200, "{}", me.summary());
    assert_eq!(me.body["firstName"], "FromWebhook");
    assert_eq!(me.body["primaryEmail"], "fromwebhook@example.com");
    assert!(!me.body.to_string().contains("PRIVATE"), "{}", me.body);
    let deleted = s.get("/api/me", Some(&s.mint(json!({"sub": "user_e2eGone"}))));
    assert!(deleted.is(404, "user-not-found"), "{}", deleted.summary());
    assert_eq!(
        s.stub.user_calls(),
        clerk_calls,
        "both answered from the table, not Clerk"
    );

    // Not in the table (no webhook yet): Clerk's Backend API answers.
    let alice = s.get("/api/me", Some(&s.mint(json!({"sub": "user_demoAlice"}))));
    assert_eq!(alice.status, 200, "{}", alice.summary());
    assert_eq!(s.stub.user_calls(), clerk_calls + 1);
    h.assert_clean_log(&[stored, gone]);
}
