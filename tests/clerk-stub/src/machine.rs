//! Machine tokens in the stand-in (issue 15): the three Backend API verify endpoints
//! (`POST /api_keys/verify`, `/m2m_tokens/verify`, `/oauth_applications/access_tokens/verify`,
//! where `@clerk/backend` calls them, and the same under `/v1`) with Clerk's resource shapes, under the
//! listener's faults; and admin endpoints that create API keys, M2M and OAuth tokens (opaque, or
//! JWTs signed with the instance key), revoke them, and count the verify calls.
//!
//! Clerk answers 404 for a token it does not know, and for one revoked or expired (the SDK's
//! "not found"). To test a client's own checks, a token can be created with `answer` set:
//! `revoked_200`, `expired_200`, `inactive_200`, `no_subject_200` (a 200 that must still be
//! refused), or `ratelimited` (429 with `Retry-After: 7`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Inner, Stub, clerk_error, fault_response, lock, now_secs, unauthorized};

/// `cat` Clerk puts on M2M JWTs.
const CAT_M2M: &str = "cl_B7d4PD333AAA";

/// The kinds of machine token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    ApiKey,
    M2mToken,
    OauthToken,
}

#[derive(Debug, Clone)]
struct Record {
    kind: Kind,
    id: String,
    subject: String,
    scopes: Vec<String>,
    claims: Value,
    name: String,
    client_id: String,
    revoked: bool,
    /// ms since the epoch.
    expiration: Option<u64>,
    answer: Option<String>,
}

/// Tokens and counters (a field of the stand-in's state).
#[derive(Debug, Default)]
pub(crate) struct Store {
    tokens: std::sync::Mutex<HashMap<String, Record>>,
    next: AtomicU64,
    api_key_calls: AtomicU64,
    m2m_calls: AtomicU64,
    oauth_calls: AtomicU64,
}

/// What to create. Every field is optional: the defaults make a valid token of `kind` for the
/// demo user (or machine), living an hour.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MachineTokenRequest {
    /// `user_...`/`org_...` (API keys; default `user_demoAlice`), `mch_...` (M2M; default
    /// `mch_demoWorker`), `user_...` (OAuth; default `user_demoAlice`).
    pub subject: Option<String>,
    pub scopes: Option<Vec<String>>,
    pub claims: Option<Value>,
    pub name: Option<String>,
    /// OAuth: the application (default `client_demoApp`).
    pub client_id: Option<String>,
    /// Lifetime (default 3600; `0`: never expires; negative: already expired).
    pub ttl_secs: Option<i64>,
    /// M2M and OAuth: a JWT signed with the instance key instead of an opaque token.
    pub jwt: bool,
    /// M2M JWT: `aud` (default `["mch_demoApi"]`).
    pub aud: Option<Vec<String>>,
    /// See the module's documentation.
    pub answer: Option<String>,
}

fn random_suffix(inner: &Inner) -> String {
    let mut bytes = [0u8; 24];
    aws_lc_rs::rand::fill(&mut bytes).unwrap_or_default();
    let n = inner.machine.next.fetch_add(1, Ordering::SeqCst);
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut s: String = bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect();
    s.push_str(&n.to_string());
    s
}

/// Creates a token; returns it and its id.
fn create(inner: &Inner, kind: Kind, req: &MachineTokenRequest) -> (String, String) {
    let now = now_secs();
    let ttl = req.ttl_secs.unwrap_or(3600);
    let expiration = (ttl != 0).then(|| u64::try_from((now + ttl) * 1000).unwrap_or(0));
    let subject = req.subject.clone().unwrap_or_else(|| {
        match kind {
            Kind::M2mToken => "mch_demoWorker",
            _ => "user_demoAlice",
        }
        .into()
    });
    let scopes = req.scopes.clone().unwrap_or_else(|| match kind {
        Kind::M2mToken => vec!["mch_demoApi".into()],
        Kind::ApiKey => vec!["read:reports".into()],
        Kind::OauthToken => vec!["profile".into(), "email".into()],
    });
    let client_id = req
        .client_id
        .clone()
        .unwrap_or_else(|| "client_demoApp".into());
    let suffix = random_suffix(inner);
    let (prefix, id_prefix) = match kind {
        Kind::ApiKey => ("ak_", "ak_id_"),
        Kind::M2mToken => ("mt_", "mt_id_"),
        Kind::OauthToken => ("oat_", "oat_id_"),
    };
    let id = format!("{id_prefix}{suffix}");
    if req.jwt && kind != Kind::ApiKey {
        let keys = lock(&inner.keys);
        let key = keys.current.clone();
        drop(keys);
        let mut h = key.header();
        let mut c = json!({
            "iss": format!("https://{}", inner.config.frontend_api),
            "sub": subject,
            "iat": now,
            "nbf": now - 10,
            "exp": now + if ttl == 0 { 3600 } else { ttl },
            "jti": id,
        });
        match kind {
            Kind::M2mToken => {
                h["cat"] = json!(CAT_M2M);
                c["aud"] = json!(
                    req.aud
                        .clone()
                        .unwrap_or_else(|| vec!["mch_demoApi".into()])
                );
                c["scopes"] = json!(scopes.join(" "));
            }
            _ => {
                h["typ"] = json!("at+jwt");
                if let Some(o) = h.as_object_mut() {
                    o.remove("cat");
                }
                c["client_id"] = json!(client_id);
                c["scp"] = json!(scopes);
            }
        }
        if let (Some(extra), Some(obj)) = (
            req.claims.as_ref().and_then(Value::as_object),
            c.as_object_mut(),
        ) {
            for (k, v) in extra {
                obj.insert(k.clone(), v.clone());
            }
        }
        return (key.sign_json(&h, &c), id);
    }
    let token = format!("{prefix}{suffix}");
    let record = Record {
        kind,
        id: id.clone(),
        subject,
        scopes,
        claims: req.claims.clone().unwrap_or(Value::Null),
        name: req.name.clone().unwrap_or_else(|| "demo key".into()),
        client_id,
        revoked: false,
        expiration,
        answer: req.answer.clone(),
    };
    lock(&inner.machine.tokens).insert(token.clone(), record);
    (token, id)
}

fn resource(r: &Record, now_ms: u64) -> Value {
    let expired = r.expiration.is_some_and(|e| e <= now_ms);
    let mut v = match r.kind {
        Kind::ApiKey => json!({
            "object": "api_key", "id": r.id, "type": "api_key", "name": r.name,
            "subject": r.subject, "scopes": r.scopes, "claims": r.claims,
            "revoked": r.revoked, "revocation_reason": null, "expired": expired,
            "expiration": r.expiration, "created_by": null, "description": null,
            "last_used_at": null, "created_at": 1_700_000_000_000_u64, "updated_at": 1_700_000_000_000_u64,
        }),
        Kind::M2mToken => json!({
            "object": "machine_to_machine_token", "id": r.id, "subject": r.subject,
            "scopes": r.scopes, "claims": r.claims, "revoked": r.revoked,
            "revocation_reason": null, "expired": expired, "expiration": r.expiration,
            "created_at": 1_700_000_000_000_u64, "updated_at": 1_700_000_000_000_u64,
        }),
        Kind::OauthToken => json!({
            "object": "clerk_idp_oauth_access_token", "id": r.id, "type": "oauth_token",
            "client_id": r.client_id, "subject": r.subject, "scopes": r.scopes,
            "revoked": r.revoked, "revocation_reason": null, "expired": expired,
            "expiration": r.expiration, "created_at": 1_700_000_000_000_u64,
            "updated_at": 1_700_000_000_000_u64,
        }),
    };
    match r.answer.as_deref() {
        Some("revoked_200") => v["revoked"] = json!(true),
        Some("expired_200") => v["expired"] = json!(true),
        Some("inactive_200") => v["active"] = json!(false),
        Some("no_subject_200") => v["subject"] = Value::Null,
        _ => {}
    }
    v
}

/// The verify endpoints (merged into the API listener's router): at the root, where
/// `@clerk/backend` 3.x calls them (`skipApiVersionInUrl`), and the same under `/v1`.
pub(crate) fn api_routes() -> Router<Arc<Inner>> {
    let mut router = Router::new();
    for prefix in ["", "/v1"] {
        router = router
            .route(&format!("{prefix}/api_keys/verify"), post(verify_api_key))
            .route(&format!("{prefix}/m2m_tokens/verify"), post(verify_m2m))
            .route(
                &format!("{prefix}/oauth_applications/access_tokens/verify"),
                post(verify_oauth),
            );
    }
    router
}

async fn verify_api_key(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    inner.machine.api_key_calls.fetch_add(1, Ordering::SeqCst);
    verify(&inner, &headers, &body, Kind::ApiKey, "secret").await
}

async fn verify_m2m(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    inner.machine.m2m_calls.fetch_add(1, Ordering::SeqCst);
    verify(&inner, &headers, &body, Kind::M2mToken, "token").await
}

async fn verify_oauth(
    State(inner): State<Arc<Inner>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    inner.machine.oauth_calls.fetch_add(1, Ordering::SeqCst);
    verify(&inner, &headers, &body, Kind::OauthToken, "access_token").await
}

async fn verify(
    inner: &Inner,
    headers: &HeaderMap,
    body: &[u8],
    kind: Kind,
    field: &str,
) -> Response {
    if let Some(r) = fault_response(inner).await {
        return r;
    }
    if let Some(r) = unauthorized(inner, headers) {
        return r;
    }
    let Some(token) = serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.get(field).and_then(Value::as_str).map(str::to_owned))
    else {
        return clerk_error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "form_param_missing",
            &format!("{field} is missing"),
        );
    };
    let now_ms = u64::try_from(now_secs() * 1000).unwrap_or(0);
    let record = lock(&inner.machine.tokens).get(&token).cloned();
    let not_found = || clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "Not found");
    let Some(r) = record.filter(|r| r.kind == kind) else {
        return not_found();
    };
    if r.answer.as_deref() == Some("ratelimited") {
        let mut resp = clerk_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests",
        );
        resp.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
        return resp;
    }
    let lenient = r.answer.as_deref().is_some_and(|a| a.ends_with("_200"));
    if !lenient && (r.revoked || r.expiration.is_some_and(|e| e <= now_ms)) {
        return not_found();
    }
    axum::Json(resource(&r, now_ms)).into_response()
}

/// The admin endpoints (merged into the admin listener's router).
pub(crate) fn admin_routes() -> Router<Arc<Inner>> {
    Router::new()
        .route("/machine/api_keys", post(admin_create_api_key))
        .route("/machine/m2m_tokens", post(admin_create_m2m))
        .route("/machine/oauth_tokens", post(admin_create_oauth))
        .route("/machine/revoke", post(admin_revoke))
        .route("/machine/stats", get(admin_machine_stats))
        .route("/machine/stats/reset", post(admin_machine_stats_reset))
}

fn created(token: String, id: String) -> Response {
    axum::Json(json!({"token": token, "id": id})).into_response()
}

async fn admin_create_api_key(
    State(inner): State<Arc<Inner>>,
    body: Option<axum::Json<MachineTokenRequest>>,
) -> Response {
    let (t, id) = create(&inner, Kind::ApiKey, &body.map(|b| b.0).unwrap_or_default());
    created(t, id)
}

async fn admin_create_m2m(
    State(inner): State<Arc<Inner>>,
    body: Option<axum::Json<MachineTokenRequest>>,
) -> Response {
    let (t, id) = create(
        &inner,
        Kind::M2mToken,
        &body.map(|b| b.0).unwrap_or_default(),
    );
    created(t, id)
}

async fn admin_create_oauth(
    State(inner): State<Arc<Inner>>,
    body: Option<axum::Json<MachineTokenRequest>>,
) -> Response {
    let (t, id) = create(
        &inner,
        Kind::OauthToken,
        &body.map(|b| b.0).unwrap_or_default(),
    );
    created(t, id)
}

#[derive(Deserialize)]
struct RevokeRequest {
    token: String,
}

async fn admin_revoke(
    State(inner): State<Arc<Inner>>,
    axum::Json(req): axum::Json<RevokeRequest>,
) -> Response {
    if revoke(&inner, &req.token) {
        StatusCode::NO_CONTENT.into_response()
    } else {
        StatusCode::NOT_FOUND.into_response()
    }
}

fn revoke(inner: &Inner, token: &str) -> bool {
    lock(&inner.machine.tokens)
        .get_mut(token)
        .map(|r| r.revoked = true)
        .is_some()
}

fn stats(inner: &Inner) -> Value {
    let s = &inner.machine;
    let (a, m, o) = (
        s.api_key_calls.load(Ordering::SeqCst),
        s.m2m_calls.load(Ordering::SeqCst),
        s.oauth_calls.load(Ordering::SeqCst),
    );
    json!({"apiKeys": a, "m2mTokens": m, "oauthTokens": o, "total": a + m + o})
}

async fn admin_machine_stats(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(stats(&inner)).into_response()
}

async fn admin_machine_stats_reset(State(inner): State<Arc<Inner>>) -> Response {
    let s = &inner.machine;
    for c in [&s.api_key_calls, &s.m2m_calls, &s.oauth_calls] {
        c.store(0, Ordering::SeqCst);
    }
    StatusCode::NO_CONTENT.into_response()
}

impl Stub {
    /// Creates an API key, M2M or OAuth token (see [`MachineTokenRequest`]).
    pub fn create_machine_token(&self, kind: Kind, req: &MachineTokenRequest) -> String {
        create(&self.inner, kind, req).0
    }

    /// Revokes an opaque token: Clerk answers 404 for it from now on. False when unknown.
    pub fn revoke_machine_token(&self, token: &str) -> bool {
        revoke(&self.inner, token)
    }

    /// Calls that reached the three verify endpoints.
    pub fn machine_verify_calls(&self) -> u64 {
        stats(&self.inner)["total"].as_u64().unwrap_or(0)
    }
}
