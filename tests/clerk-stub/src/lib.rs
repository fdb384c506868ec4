//! A local stand-in for the parts of Clerk this project uses, as a real HTTP server.
//!
//! - The API listener behaves like Clerk's Backend API: `GET /v1/jwks` and `GET /v1/users/{id}`,
//!   bearer secret checked, Clerk's error shapes.
//! - The admin listener (a second port) mints session tokens (v1/v2 claims, organizations,
//!   `pending`, any `azp`, foreign keys, arbitrary header and claim edits), rotates the signing key,
//!   switches faults (down, slow, 500, garbage, oversized, redirect), changes the accepted secret,
//!   and counts the calls that reached the API.
//! - The demo users carry authorization (an organization and role, a plan and its features, the
//!   age of their last verification): a token minted for one of them holds those claims, so demo
//!   mode shows each answer of the authorization examples ([`demo_authorization`]).
//!
//! Used by the tests and by the local run's demo mode. Never deployed.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use shared::keys::{Instance, PublishableKey};
use test_support::TestKey;
use tokio::net::TcpListener;
use tokio::task::{AbortHandle, JoinHandle};

/// Signed webhooks, as Svix sends them (`clerk-stub webhook ...`).
pub mod webhooks;

/// API keys, M2M and OAuth tokens: the verify endpoints and their admin (issue 15).
pub mod machine;

/// A fault of the API listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Fault {
    /// Normal answers.
    None,
    /// The listener is closed and open connections are dropped: connection refused.
    Down,
    /// Answers after `delay_ms`.
    Slow,
    /// 500 with Clerk's error shape.
    Error500,
    /// 200 with a body that is not JSON.
    Garbage,
    /// 200 with a 1 MiB body.
    Oversized,
    /// 302 to `/v1/jwks-redirected` on the same server, which serves the real key set and
    /// counts the clients that followed ([`Stub::redirects_followed`]).
    Redirect,
}

/// Settings of a stand-in.
#[derive(Debug, Clone)]
pub struct StubConfig {
    /// The secret key the API accepts.
    pub secret_key: String,
    /// The Frontend API host (issuer `https://<host>`).
    pub frontend_api: String,
    /// The `azp` minted tokens carry unless told otherwise.
    pub default_azp: String,
    /// Port of the API listener (0: any free port).
    pub api_port: u16,
    /// Port of the admin listener (0: any free port).
    pub admin_port: u16,
}

impl Default for StubConfig {
    fn default() -> Self {
        Self {
            secret_key: "sk_test_stubSecretKey0000000000000000000000000".into(),
            frontend_api: "demo-stub-00.clerk.accounts.dev".into(),
            default_azp: "http://localhost:5173".into(),
            api_port: 0,
            admin_port: 0,
        }
    }
}

struct Keys {
    current: Arc<TestKey>,
    previous: Vec<Arc<TestKey>>,
    foreign: Arc<TestKey>,
    next_kid: u32,
}

struct Inner {
    config: StubConfig,
    keys: Mutex<Keys>,
    secret_key: Mutex<String>,
    fault: Mutex<(Fault, u64)>,
    users: Mutex<BTreeMap<String, Value>>,
    machine: machine::Store,
    jwks_calls: AtomicU64,
    user_calls: AtomicU64,
    redirects_followed: AtomicU64,
    api: Mutex<ApiListener>,
    /// The runtime the listeners run on (faults may be switched from outside it).
    runtime: tokio::runtime::Handle,
}

struct ApiListener {
    addr: SocketAddr,
    accept: Option<JoinHandle<()>>,
    /// The accept task aborted by [`Fault::Down`]: its listener is closed once this completes.
    closing: Option<JoinHandle<()>>,
    conns: Arc<Mutex<Vec<AbortHandle>>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// A running stand-in. Dropping it stops both listeners.
#[derive(Clone)]
pub struct Stub {
    inner: Arc<Inner>,
    admin_addr: SocketAddr,
    _guard: Arc<StopOnDrop>,
}

/// Stops both listeners and their connections when the last `Stub` handle goes.
struct StopOnDrop {
    inner: Arc<Inner>,
    admin: AbortHandle,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.admin.abort();
        let mut api = lock(&self.inner.api);
        if let Some(task) = api.accept.take() {
            task.abort();
        }
        for c in lock(&api.conns).drain(..) {
            c.abort();
        }
    }
}

impl std::fmt::Debug for Stub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stub")
            .field("api", &self.api_url())
            .field("admin", &self.admin_url())
            .finish()
    }
}

impl Stub {
    /// Starts both listeners on 127.0.0.1.
    pub async fn start(config: StubConfig) -> std::io::Result<Self> {
        let keys = Keys {
            current: Arc::new(TestKey::generate("ins_stub_1")),
            previous: Vec::new(),
            foreign: Arc::new(TestKey::generate("ins_stub_1")),
            next_kid: 2,
        };
        let api_listener = TcpListener::bind(("127.0.0.1", config.api_port)).await?;
        let admin_listener = TcpListener::bind(("127.0.0.1", config.admin_port)).await?;
        let inner = Arc::new(Inner {
            secret_key: Mutex::new(config.secret_key.clone()),
            keys: Mutex::new(keys),
            fault: Mutex::new((Fault::None, 0)),
            users: Mutex::new(demo_users()),
            machine: machine::Store::default(),
            jwks_calls: AtomicU64::new(0),
            user_calls: AtomicU64::new(0),
            redirects_followed: AtomicU64::new(0),
            api: Mutex::new(ApiListener {
                addr: api_listener.local_addr()?,
                accept: None,
                closing: None,
                conns: Arc::new(Mutex::new(Vec::new())),
            }),
            config,
            runtime: tokio::runtime::Handle::current(),
        });
        spawn_api(&inner, api_listener);
        let admin_addr = admin_listener.local_addr()?;
        let admin = tokio::spawn(serve(admin_listener, admin_router(inner.clone()), None));
        Ok(Self {
            _guard: Arc::new(StopOnDrop {
                inner: inner.clone(),
                admin: admin.abort_handle(),
            }),
            inner,
            admin_addr,
        })
    }

    pub fn api_url(&self) -> String {
        format!("http://{}", lock(&self.inner.api).addr)
    }
    pub fn admin_url(&self) -> String {
        format!("http://{}", self.admin_addr)
    }
    pub fn issuer(&self) -> String {
        format!("https://{}", self.inner.config.frontend_api)
    }
    pub fn publishable_key(&self) -> String {
        PublishableKey::encode(Instance::Development, &self.inner.config.frontend_api)
    }
    pub fn secret_key(&self) -> String {
        lock(&self.inner.secret_key).clone()
    }
    /// Calls that reached `GET /v1/jwks`.
    pub fn jwks_calls(&self) -> u64 {
        self.inner.jwks_calls.load(Ordering::SeqCst)
    }
    /// Calls that reached `GET /v1/users/{id}`.
    pub fn user_calls(&self) -> u64 {
        self.inner.user_calls.load(Ordering::SeqCst)
    }
    /// Requests that followed a [`Fault::Redirect`] answer (a hardened client makes none).
    pub fn redirects_followed(&self) -> u64 {
        self.inner.redirects_followed.load(Ordering::SeqCst)
    }
    pub fn reset_stats(&self) {
        self.inner.jwks_calls.store(0, Ordering::SeqCst);
        self.inner.user_calls.store(0, Ordering::SeqCst);
        self.inner.redirects_followed.store(0, Ordering::SeqCst);
    }
    /// Switches the API listener's fault. Leaving [`Fault::Down`] binds the API port again:
    /// called outside async code, this returns once the listener is back; inside async code it
    /// never blocks (the listener comes back on the stand-in's runtime shortly after), so async
    /// callers that need it back first use [`Stub::set_fault_async`].
    pub fn set_fault(&self, fault: Fault, delay_ms: u64) {
        let reopen = switch_fault(&self.inner, fault, delay_ms);
        if !reopen {
            return;
        }
        let inner = self.inner.clone();
        if tokio::runtime::Handle::try_current().is_ok() {
            self.inner
                .runtime
                .spawn(async move { reopen_api(&inner).await });
        } else {
            self.inner.runtime.block_on(reopen_api(&inner));
        }
    }
    /// [`Stub::set_fault`] for async code: returns once the API listener is back (after `Down`).
    pub async fn set_fault_async(&self, fault: Fault, delay_ms: u64) {
        if switch_fault(&self.inner, fault, delay_ms) {
            reopen_api(&self.inner).await;
        }
    }
    /// A new signing key; `keep_kid`: under the same `kid` (Clerk's is the instance id).
    pub fn rotate(&self, keep_kid: bool) -> String {
        rotate(&self.inner, keep_kid)
    }
    pub fn set_secret_key(&self, secret_key: &str) {
        *lock(&self.inner.secret_key) = secret_key.to_owned();
    }
    /// The current public key as PEM (networkless verification).
    pub fn public_pem(&self) -> String {
        lock(&self.inner.keys).current.public_pem()
    }
    /// Mints a token (see [`MintRequest`]).
    pub fn mint(&self, req: &MintRequest) -> String {
        mint(&self.inner, req).0
    }
}

fn spawn_api(inner: &Arc<Inner>, listener: TcpListener) {
    let mut api = lock(&inner.api);
    let conns = api.conns.clone();
    // On the stand-in's runtime, whichever runtime the caller is on.
    api.accept = Some(
        inner
            .runtime
            .spawn(serve(listener, api_router(inner.clone()), Some(conns))),
    );
}

async fn serve(listener: TcpListener, router: Router, conns: Option<Arc<Mutex<Vec<AbortHandle>>>>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            // Out of file descriptors, say: wait rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let svc = TowerToHyperService::new(router.clone());
        let task = tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), svc)
                .await;
        });
        if let Some(conns) = &conns {
            let mut list = lock(conns);
            list.retain(|h| !h.is_finished());
            list.push(task.abort_handle());
        }
    }
}

/// Records the fault; for `Down`, closes the API listener and drops its connections. True when
/// the listener must be opened again ([`reopen_api`]): the stand-in leaves `Down`.
fn switch_fault(inner: &Arc<Inner>, fault: Fault, delay_ms: u64) -> bool {
    let previous = {
        let mut f = lock(&inner.fault);
        let prev = f.0;
        *f = (fault, delay_ms);
        prev
    };
    if fault == Fault::Down && previous != Fault::Down {
        let mut api = lock(&inner.api);
        if let Some(task) = api.accept.take() {
            task.abort();
            api.closing = Some(task);
        }
        for c in lock(&api.conns).drain(..) {
            c.abort();
        }
    }
    fault != Fault::Down && previous == Fault::Down
}

/// Binds the API port again, without blocking the runtime: waits for the aborted accept task to
/// release the port, then tokio's bind (with `SO_REUSEADDR`, so connections the stand-in closed,
/// left in `TIME_WAIT`, do not hold the port), retried with async sleeps. Gives up, leaving the
/// stand-in down, only if the port stays taken for seconds.
async fn reopen_api(inner: &Arc<Inner>) {
    let (addr, closing) = {
        let mut api = lock(&inner.api);
        (api.addr, api.closing.take())
    };
    if let Some(task) = closing {
        // Completes once the task is dropped, and with it the listener.
        let _ = task.await;
    }
    let mut listener = None;
    for _ in 0..250 {
        match TcpListener::bind(addr).await {
            Ok(l) => {
                listener = Some(l);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(20)).await,
        }
    }
    let Some(listener) = listener else {
        tracing::error!(%addr, "clerk-stub: cannot bind the API port again; staying down");
        return;
    };
    // Down again meanwhile: stay closed (the lock order is fault, then api, as in switch_fault).
    let fault = lock(&inner.fault);
    if fault.0 != Fault::Down {
        spawn_api(inner, listener);
    }
    drop(fault);
}

fn rotate(inner: &Arc<Inner>, keep_kid: bool) -> String {
    let mut keys = lock(&inner.keys);
    let kid = if keep_kid {
        keys.current.kid().to_owned()
    } else {
        let k = format!("ins_stub_{}", keys.next_kid);
        keys.next_kid += 1;
        k
    };
    let new = Arc::new(TestKey::generate(kid.clone()));
    let old = std::mem::replace(&mut keys.current, new);
    // Published beside the new key a while, under the same `kid` too when it was kept.
    keys.previous.push(old);
    kid
}

fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(0))
}

// ---------------------------------------------------------------- the Backend API

fn api_router(inner: Arc<Inner>) -> Router {
    Router::new()
        .merge(machine::api_routes())
        .route("/v1/jwks", get(jwks))
        .route("/v1/jwks-redirected", get(jwks_redirected))
        .route("/v1/users/{id}", get(user))
        .fallback(|| async {
            clerk_error(StatusCode::NOT_FOUND, "resource_not_found", "Not found")
        })
        .with_state(inner)
}

fn clerk_error(status: StatusCode, code: &str, message: &str) -> Response {
    (
        status,
        axum::Json(
            json!({"errors": [{"message": message, "long_message": message, "code": code}]}),
        ),
    )
        .into_response()
}

/// Applies the current fault; `None` means answer normally.
async fn fault_response(inner: &Inner) -> Option<Response> {
    let (fault, delay) = *lock(&inner.fault);
    match fault {
        Fault::None | Fault::Down => None,
        Fault::Slow => {
            tokio::time::sleep(Duration::from_millis(delay.max(1))).await;
            None
        }
        Fault::Error500 => Some(clerk_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_clerk_error",
            "Something went wrong",
        )),
        Fault::Garbage => Some((StatusCode::OK, "<html>not json{{").into_response()),
        Fault::Oversized => Some(
            (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "application/json")],
                format!("{{\"keys\":[],\"pad\":\"{}\"}}", "x".repeat(1 << 20)),
            )
                .into_response(),
        ),
        Fault::Redirect => Some(
            (
                StatusCode::FOUND,
                [(header::LOCATION, "/v1/jwks-redirected")],
            )
                .into_response(),
        ),
    }
}

/// `None` when the bearer secret is right, else Clerk's 401.
fn unauthorized(inner: &Inner, headers: &HeaderMap) -> Option<Response> {
    let expected = format!("Bearer {}", lock(&inner.secret_key));
    match headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        Some(v) if v == expected => None,
        Some(_) => Some(clerk_error(
            StatusCode::UNAUTHORIZED,
            "clerk_key_invalid",
            "The provided Clerk Secret Key is invalid.",
        )),
        None => Some(clerk_error(
            StatusCode::UNAUTHORIZED,
            "authentication_invalid",
            "No secret key was provided.",
        )),
    }
}

async fn jwks(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    inner.jwks_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = fault_response(&inner).await {
        return r;
    }
    if let Some(r) = unauthorized(&inner, &headers) {
        return r;
    }
    key_set(&inner)
}

/// Where [`Fault::Redirect`] points: the real key set, so that a client that follows succeeds.
async fn jwks_redirected(State(inner): State<Arc<Inner>>, headers: HeaderMap) -> Response {
    inner.redirects_followed.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = unauthorized(&inner, &headers) {
        return r;
    }
    key_set(&inner)
}

fn key_set(inner: &Inner) -> Response {
    let keys = lock(&inner.keys);
    let mut list: Vec<Value> = vec![keys.current.jwk()];
    // Clerk keeps serving a rotated-out key for a while.
    list.extend(keys.previous.iter().rev().take(1).map(|k| k.jwk()));
    axum::Json(json!({"keys": list})).into_response()
}

async fn user(
    State(inner): State<Arc<Inner>>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    inner.user_calls.fetch_add(1, Ordering::SeqCst);
    if let Some(r) = fault_response(&inner).await {
        return r;
    }
    if let Some(r) = unauthorized(&inner, &headers) {
        return r;
    }
    if id == "user_ratelimited" {
        let mut r = clerk_error(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests",
        );
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("7"));
        return r;
    }
    match lock(&inner.users).get(&id) {
        Some(u) => axum::Json(u.clone()).into_response(),
        None => clerk_error(
            StatusCode::NOT_FOUND,
            "resource_not_found",
            "User not found",
        ),
    }
}

fn clerk_user(id: &str, first: &str, last: &str, email: &str, public: Value) -> Value {
    json!({
        "object": "user",
        "id": id,
        "first_name": first,
        "last_name": last,
        "username": first.to_lowercase(),
        "image_url": format!("https://img.clerk.com/demo/{}.png", first.to_lowercase()),
        "primary_email_address_id": format!("idn_{}", first.to_lowercase()),
        "email_addresses": [
            {"id": "idn_other", "email_address": format!("old-{email}"), "verification": {"status": "verified"}},
            {"id": format!("idn_{}", first.to_lowercase()), "email_address": email, "verification": {"status": "verified"}}
        ],
        "public_metadata": public,
        "private_metadata": {"internal_note": "PRIVATE-do-not-leak"},
        "unsafe_metadata": {},
        "created_at": 1_700_000_000_000_i64,
    })
}

/// The demo users' organization (both belong to it).
pub const DEMO_ORG_ID: &str = "org_demoAcme";
/// How long ago, in minutes, a demo user last verified unless a mint says otherwise: past
/// `strict` reverification's 10 minutes, so the demo's sensitive action asks to verify again.
pub const DEMO_FIRST_FACTOR_AGE_MINUTES: i64 = 30;

/// What a demo user may do: minted into their tokens unless the mint request says otherwise.
#[derive(Debug, Clone)]
pub struct DemoAuthorization {
    /// The active organization, as [`MintRequest::org`] takes it (role without `org:`).
    pub org: OrgSpec,
    pub org_name: &'static str,
    /// v2 `fea` as Clerk writes it (scoped names), when the user has features.
    pub fea: Option<&'static str>,
    /// v2 `pla` as Clerk writes it, when the user has a plan.
    pub pla: Option<&'static str>,
}

/// The authorization of the demo user `sub`, if it is one. Alice administers Acme and her own
/// plan (Pro) has the feature `reports`; Bob is a plain member of Acme with no plan. The feature
/// is Alice's (`u:`), not Acme's: an organization's plan would give it to every member's token
/// (`o:reports`), Bob's too.
pub fn demo_authorization(sub: &str) -> Option<DemoAuthorization> {
    let acme = |role: &str| OrgSpec {
        id: DEMO_ORG_ID.into(),
        slug: "acme".into(),
        role: role.into(),
        ..OrgSpec::default()
    };
    match sub {
        "user_demoAlice" => Some(DemoAuthorization {
            org: OrgSpec {
                permissions: vec!["org:sys_memberships:manage".into()],
                ..acme("admin")
            },
            org_name: "Acme",
            fea: Some("u:reports"),
            pla: Some("u:pro"),
        }),
        "user_demoBob" => Some(DemoAuthorization {
            org: OrgSpec {
                permissions: vec!["org:sys_memberships:read".into()],
                ..acme("member")
            },
            org_name: "Acme",
            fea: None,
            pla: None,
        }),
        _ => None,
    }
}

/// Names of a scoped v2 list (`u:reports,o:dash` -> `reports`, `dash`), for people to read.
fn scoped_names(list: Option<&str>) -> Vec<&str> {
    list.into_iter()
        .flat_map(|l| l.split(','))
        .map(|item| item.split_once(':').map_or(item, |(_, name)| name))
        .filter(|name| !name.is_empty())
        .collect()
}

/// The demo users (`GET /users` on the admin port lists them).
fn demo_users() -> BTreeMap<String, Value> {
    let mut m = BTreeMap::new();
    m.insert(
        "user_demoAlice".into(),
        clerk_user(
            "user_demoAlice",
            "Alice",
            "Anders",
            "alice@example.com",
            json!({"plan": "pro"}),
        ),
    );
    m.insert(
        "user_demoBob".into(),
        clerk_user(
            "user_demoBob",
            "Bob",
            "Baker",
            "bob@example.com",
            json!({"role": "admin"}),
        ),
    );
    m
}

// ---------------------------------------------------------------- the admin API

/// What to mint. Every field is optional; the defaults make a valid v2 session token for
/// `user_demoAlice`, issued now, living 60 s, with no organization, features or plans, and
/// `fva: [0, -1]` (verified just now).
///
/// Naming a demo user in `sub` mints that user's authorization ([`demo_authorization`]): their
/// organization (`o`, or `org_*` in v1), `fea` and `pla`, and `fva` of
/// [`DEMO_FIRST_FACTOR_AGE_MINUTES`]. Explicit fields override it: `org` replaces the
/// organization (`null`: none; its `fea`, when given, the features), `reverified_secs_ago` the
/// verification age, and `claims` is merged last over everything.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MintRequest {
    /// The user (default `user_demoAlice`, without the demo authorization: see above).
    pub sub: Option<String>,
    pub sid: Option<String>,
    pub azp: Option<String>,
    pub iss: Option<String>,
    /// 1 or 2 (default 2).
    pub v: Option<u8>,
    /// `active` by default; `pending` for a pending session.
    pub sts: Option<String>,
    /// Lifetime (default 60).
    pub ttl_secs: Option<i64>,
    /// Shift of `iat`/`nbf`/`exp` from now (negative: in the past).
    pub offset_secs: Option<i64>,
    /// The user verified again this many seconds ago (Clerk's reverification): `fva` becomes
    /// `[whole minutes, -1]` (a first factor, no second factor), so `strict` (10 minutes) passes
    /// below 600. Negative counts as 0. Default: `[0, -1]`, or the demo user's age.
    pub reverified_secs_ago: Option<i64>,
    /// The active organization: absent, none or the demo user's; `null`, none even for a demo
    /// user.
    #[serde(deserialize_with = "present")]
    pub org: Option<Option<OrgSpec>>,
    /// Claims merged last (`null` removes a claim).
    pub claims: Option<Map<String, Value>>,
    /// Header fields merged last (`null` removes a field).
    pub header: Option<Map<String, Value>>,
    /// `current` (default), `previous` (the last rotated-out key) or `foreign` (never published).
    pub key: Option<String>,
}

/// A field given, even as `null` (`Some(None)`), apart from one left out (`None`, by default).
fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct OrgSpec {
    pub id: String,
    pub slug: String,
    /// Without `org:` (it is added for v1).
    pub role: String,
    /// v1: full permission names.
    pub permissions: Vec<String>,
    /// v2: `fea`, `per` and `fpm` as Clerk writes them.
    pub fea: Option<String>,
    pub per: Option<String>,
    pub fpm: Option<String>,
}

fn merge(target: &mut Map<String, Value>, edits: Option<&Map<String, Value>>) {
    for (k, v) in edits.into_iter().flatten() {
        if v.is_null() {
            target.remove(k);
        } else {
            target.insert(k.clone(), v.clone());
        }
    }
}

fn mint(inner: &Inner, req: &MintRequest) -> (String, Value, String) {
    let now = now_secs() + req.offset_secs.unwrap_or(0);
    let v = req.v.unwrap_or(2);
    let mut c = Map::new();
    c.insert(
        "azp".into(),
        json!(
            req.azp
                .clone()
                .unwrap_or_else(|| inner.config.default_azp.clone())
        ),
    );
    c.insert("exp".into(), json!(now + req.ttl_secs.unwrap_or(60)));
    let demo = req.sub.as_deref().and_then(demo_authorization);
    // Clerk counts factor ages in whole minutes; -1: this user has no second factor.
    let first_factor_age = match (req.reverified_secs_ago, &demo) {
        (Some(secs), _) => secs.max(0) / 60,
        (None, Some(_)) => DEMO_FIRST_FACTOR_AGE_MINUTES,
        (None, None) => 0,
    };
    c.insert("fva".into(), json!([first_factor_age, -1]));
    c.insert("iat".into(), json!(now));
    c.insert(
        "iss".into(),
        json!(
            req.iss
                .clone()
                .unwrap_or_else(|| format!("https://{}", inner.config.frontend_api))
        ),
    );
    c.insert("nbf".into(), json!(now - 10));
    c.insert(
        "sid".into(),
        json!(req.sid.clone().unwrap_or_else(|| format!("sess_demo{now}"))),
    );
    c.insert(
        "sts".into(),
        json!(req.sts.clone().unwrap_or_else(|| "active".into())),
    );
    c.insert(
        "sub".into(),
        json!(req.sub.clone().unwrap_or_else(|| "user_demoAlice".into())),
    );
    if v == 2 {
        c.insert("v".into(), json!(2));
        // Before the organization: an explicit `org.fea` replaces the demo user's features.
        for (name, value) in [
            ("fea", demo.as_ref().and_then(|d| d.fea)),
            ("pla", demo.as_ref().and_then(|d| d.pla)),
        ] {
            if let Some(value) = value {
                c.insert(name.into(), json!(value));
            }
        }
    }
    let org = match &req.org {
        Some(explicit) => explicit.as_ref(),
        None => demo.as_ref().map(|d| &d.org),
    };
    if let Some(org) = org {
        if v == 2 {
            let mut o = json!({"id": org.id, "slg": org.slug, "rol": org.role});
            if let Some(per) = &org.per {
                o["per"] = json!(per);
            }
            if let Some(fpm) = &org.fpm {
                o["fpm"] = json!(fpm);
            }
            c.insert("o".into(), o);
            if let Some(fea) = &org.fea {
                c.insert("fea".into(), json!(fea));
            }
        } else {
            c.insert("org_id".into(), json!(org.id));
            c.insert("org_slug".into(), json!(org.slug));
            c.insert("org_role".into(), json!(format!("org:{}", org.role)));
            c.insert("org_permissions".into(), json!(org.permissions));
        }
    }
    merge(&mut c, req.claims.as_ref());
    let keys = lock(&inner.keys);
    let key = match req.key.as_deref() {
        Some("foreign") => keys.foreign.clone(),
        Some("previous") => keys
            .previous
            .last()
            .cloned()
            .unwrap_or_else(|| keys.current.clone()),
        _ => keys.current.clone(),
    };
    drop(keys);
    let mut h = key.header().as_object().cloned().unwrap_or_default();
    merge(&mut h, req.header.as_ref());
    let claims = Value::Object(c);
    let token = key.sign_json(&Value::Object(h), &claims);
    (token, claims, key.kid().to_owned())
}

fn admin_router(inner: Arc<Inner>) -> Router {
    Router::new()
        .merge(machine::admin_routes())
        .route("/config", get(admin_config))
        .route("/tokens", post(admin_mint))
        .route("/rotate", post(admin_rotate))
        .route("/fault", post(admin_fault))
        .route("/secret-key", post(admin_secret_key))
        .route("/stats", get(admin_stats))
        .route("/stats/reset", post(admin_stats_reset))
        .route("/users", get(admin_users))
        .route("/pem", get(admin_pem))
        .with_state(inner)
}

async fn admin_config(State(inner): State<Arc<Inner>>) -> Response {
    let api = lock(&inner.api).addr;
    axum::Json(json!({
        "apiUrl": format!("http://{api}"),
        "issuer": format!("https://{}", inner.config.frontend_api),
        "publishableKey": PublishableKey::encode(Instance::Development, &inner.config.frontend_api),
        "defaultAzp": inner.config.default_azp,
    }))
    .into_response()
}

async fn admin_mint(
    State(inner): State<Arc<Inner>>,
    body: Option<axum::Json<MintRequest>>,
) -> Response {
    let req = body.map(|b| b.0).unwrap_or_default();
    let (token, claims, kid) = mint(&inner, &req);
    axum::Json(json!({"token": token, "claims": claims, "kid": kid})).into_response()
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct RotateRequest {
    keep_kid: bool,
}

async fn admin_rotate(
    State(inner): State<Arc<Inner>>,
    body: Option<axum::Json<RotateRequest>>,
) -> Response {
    let keep = body.map(|b| b.0.keep_kid).unwrap_or(false);
    axum::Json(json!({"kid": rotate(&inner, keep)})).into_response()
}

#[derive(Deserialize)]
struct FaultRequest {
    mode: Fault,
    #[serde(default)]
    delay_ms: u64,
}

async fn admin_fault(
    State(inner): State<Arc<Inner>>,
    axum::Json(req): axum::Json<FaultRequest>,
) -> Response {
    if switch_fault(&inner, req.mode, req.delay_ms) {
        reopen_api(&inner).await;
    }
    axum::Json(json!({"mode": req.mode, "delayMs": req.delay_ms})).into_response()
}

#[derive(Deserialize)]
struct SecretKeyRequest {
    secret_key: String,
}

async fn admin_secret_key(
    State(inner): State<Arc<Inner>>,
    axum::Json(req): axum::Json<SecretKeyRequest>,
) -> Response {
    *lock(&inner.secret_key) = req.secret_key;
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_stats(State(inner): State<Arc<Inner>>) -> Response {
    axum::Json(json!({
        "jwks": inner.jwks_calls.load(Ordering::SeqCst),
        "users": inner.user_calls.load(Ordering::SeqCst),
        "redirectsFollowed": inner.redirects_followed.load(Ordering::SeqCst),
    }))
    .into_response()
}

async fn admin_stats_reset(State(inner): State<Arc<Inner>>) -> Response {
    inner.jwks_calls.store(0, Ordering::SeqCst);
    inner.user_calls.store(0, Ordering::SeqCst);
    inner.redirects_followed.store(0, Ordering::SeqCst);
    StatusCode::NO_CONTENT.into_response()
}

async fn admin_users(State(inner): State<Arc<Inner>>) -> Response {
    let users: Vec<Value> = lock(&inner.users)
        .values()
        .map(|u| {
            let mut item = json!({
                "id": u["id"],
                "firstName": u["first_name"],
                "lastName": u["last_name"],
                "imageUrl": u["image_url"],
            });
            // What the user's tokens carry, for the site to say who may do what.
            if let Some(d) = u["id"].as_str().and_then(demo_authorization) {
                item["organization"] = json!({
                    "id": d.org.id,
                    "slug": d.org.slug,
                    "name": d.org_name,
                    "role": format!("org:{}", d.org.role),
                });
                item["features"] = json!(scoped_names(d.fea));
                item["plans"] = json!(scoped_names(d.pla));
                item["firstFactorAgeMinutes"] = json!(DEMO_FIRST_FACTOR_AGE_MINUTES);
            }
            item
        })
        .collect();
    axum::Json(json!({"users": users})).into_response()
}

async fn admin_pem(State(inner): State<Arc<Inner>>) -> Response {
    lock(&inner.keys).current.public_pem().into_response()
}
