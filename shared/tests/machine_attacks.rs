//! Attack corpus, machine tokens (shared::machine): type confusion both ways, prefixes on JWTs,
//! secret keys sent as bearers, forged and relabelled JWTs, oversized and hostile opaque tokens.
//! Each is refused with its reason, and those that must be refused without asking Clerk make no
//! call. The session-token corpus is attacks.rs.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use async_trait::async_trait;
use serde_json::{Value, json};
use shared::auth::Authenticator;
use shared::clerk_api::{ClerkApiError, MachineEndpoint, MachineTokenRecord, MachineTokenVerifier};
use shared::clock::ManualClock;
use shared::config::Config;
use shared::error::Reason;
use shared::keys::SecretKey;
use shared::machine::{MachineAuth, MachineSettings, TokenType};
use shared::secret::SecretCache;
use shared::verify::Verifier;
use test_support::{AZP, FakeSecretSource, ISS, NOW, PK, TestKey, session_claims};

const KID: &str = "ins_machine_attack";
const SECRET_KEY: &str = "sk_test_attackWorldSecret0000000000000000000";

/// Knows one API key, `ak_good`; records every token it is asked about.
#[derive(Debug, Default)]
struct Clerk {
    calls: AtomicU64,
    asked: Mutex<Vec<String>>,
}

#[async_trait]
impl MachineTokenVerifier for Clerk {
    async fn verify_machine_token(
        &self,
        _: &SecretKey,
        _: MachineEndpoint,
        token: &str,
    ) -> Result<MachineTokenRecord, ClerkApiError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        self.asked.lock().unwrap().push(token.to_owned());
        if token == "ak_good" {
            return Ok(serde_json::from_value(
                json!({"subject": "user_1", "revoked": false, "expired": false}),
            )
            .unwrap());
        }
        Err(ClerkApiError::NotFound)
    }
}

struct World {
    key: TestKey,
    attacker: TestKey,
    clerk: Arc<Clerk>,
    sessions: Authenticator,
    machine: MachineAuth,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let key = TestKey::generate(KID);
        let clock = ManualClock::new((NOW * 1000) as u64);
        let env: HashMap<&str, &str> = HashMap::from([
            ("CLERK_PUBLISHABLE_KEY", PK),
            ("CLERK_AUTHORIZED_PARTIES", AZP),
        ]);
        let config = Config::from_lookup(|k| env.get(k).map(|v| (*v).to_owned())).unwrap();
        let sessions = Authenticator::networkless(
            Verifier::new(ISS, vec![AZP.into()])
                .unwrap()
                .with_clock(clock.clone()),
            key.rsa_key(),
        );
        let secrets = Arc::new(SecretCache::new(
            FakeSecretSource::new(SECRET_KEY),
            Duration::from_secs(300),
            clock.clone(),
        ));
        let clerk = Arc::new(Clerk::default());
        // No cache: every case that reaches Clerk is counted.
        let settings = MachineSettings {
            cache_ttl: Duration::ZERO,
            ..MachineSettings::default()
        };
        let machine = MachineAuth::new(&config, &settings, Some(secrets), clerk.clone(), clock);
        World {
            attacker: TestKey::generate(KID),
            key,
            clerk,
            sessions,
            machine,
        }
    })
}

fn session() -> String {
    world().key.sign(&session_claims(ISS, AZP, NOW))
}

fn m2m_claims() -> Value {
    json!({"iss": ISS, "sub": "mch_worker", "iat": NOW, "exp": NOW + 600, "jti": "mt_j"})
}

fn m2m_header() -> Value {
    json!({"alg": "RS256", "kid": KID, "typ": "JWT", "cat": "cl_B7d4PD333AAA"})
}

fn m2m() -> String {
    world().key.sign_json(&m2m_header(), &m2m_claims())
}

/// Refused with `reason`; `calls`: how many calls it may make to Clerk.
fn refused(token: &str, accepts: &[TokenType], reason: Reason, calls: u64) {
    let w = world();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Tests run in parallel on one world: count this token's own calls.
    let asked = |t: &str| {
        w.clerk
            .asked
            .lock()
            .unwrap()
            .iter()
            .filter(|a| *a == t)
            .count() as u64
    };
    let before = asked(token);
    let got = rt.block_on(w.machine.authenticate(&w.sessions, token, accepts));
    assert_eq!(
        got.map(|p| p.subject().to_owned()).map_err(|e| e.reason()),
        Err(Some(reason))
    );
    assert_eq!(asked(token) - before, calls, "calls to Clerk");
}

const ALL: &[TokenType] = &TokenType::ALL;
const API_KEYS: &[TokenType] = &[TokenType::ApiKey];
const SESSIONS: &[TokenType] = &[TokenType::SessionToken];
const OAUTH: &[TokenType] = &[TokenType::OAuthToken];

macro_rules! attack {
    ($($name:ident: $token:expr, $accepts:expr => $reason:expr, calls $calls:expr;)*) => {$(
        #[test]
        fn $name() {
            let token: String = $token;
            refused(&token, $accepts, $reason, $calls);
        }
    )*};
}

attack! {
    session_token_where_only_api_keys_are_accepted: session(), API_KEYS => Reason::TokenTypeMismatch, calls 0;
    api_key_where_only_sessions_are_accepted: "ak_good".into(), SESSIONS => Reason::TokenTypeMismatch, calls 0;
    m2m_jwt_where_only_sessions_are_accepted: m2m(), SESSIONS => Reason::TokenTypeMismatch, calls 0;
    ak_prefix_on_a_session_jwt: format!("ak_{}", session()), ALL => Reason::MachineTokenInvalid, calls 0;
    ak_prefix_on_a_session_jwt_at_a_session_route: format!("ak_{}", session()), SESSIONS => Reason::TokenTypeMismatch, calls 0;
    mt_prefix_on_an_m2m_jwt: format!("mt_{}", m2m()), ALL => Reason::MachineTokenInvalid, calls 0;
    oat_prefix_on_a_session_jwt: format!("oat_{}", session()), ALL => Reason::MachineTokenInvalid, calls 0;
    instance_secret_key_as_a_bearer: SECRET_KEY.into(), ALL => Reason::TokenInvalid, calls 0;
    instance_secret_key_where_only_api_keys_are_accepted: SECRET_KEY.into(), API_KEYS => Reason::TokenTypeMismatch, calls 0;
    machine_secret_key_as_a_bearer: "ak_machineSecretKeyNotAnApiKey0123456789".into(), ALL => Reason::MachineTokenInvalid, calls 1;
    m2m_jwt_signed_by_an_attacker_with_our_kid: world().attacker.sign_json(&m2m_header(), &m2m_claims()), ALL => Reason::MachineTokenInvalid, calls 0;
    m2m_jwt_with_the_session_category: { let mut h = m2m_header(); h["cat"] = json!("cl_B7d4PD111AAA"); world().key.sign_json(&h, &m2m_claims()) }, ALL => Reason::MachineTokenInvalid, calls 0;
    m2m_jwt_with_alg_none: { let mut h = m2m_header(); h["alg"] = json!("none"); let t = world().key.sign_json(&h, &m2m_claims()); format!("{}.", t.rsplit_once('.').unwrap().0) }, ALL => Reason::TokenInvalid, calls 0;
    m2m_jwt_from_another_instance: { let mut c = m2m_claims(); c["iss"] = json!("https://other-42.clerk.accounts.dev"); world().key.sign_json(&m2m_header(), &c) }, ALL => Reason::MachineTokenInvalid, calls 0;
    m2m_jwt_with_a_crit_header: { let mut h = m2m_header(); h["crit"] = json!(["exp"]); world().key.sign_json(&h, &m2m_claims()) }, ALL => Reason::MachineTokenInvalid, calls 0;
    session_token_relabelled_as_an_oauth_access_token: { let mut h = world().key.header(); h["typ"] = json!("at+jwt"); world().key.sign_json(&h, &session_claims(ISS, AZP, NOW)) }, OAUTH => Reason::MachineTokenInvalid, calls 0;
    session_token_relabelled_at_a_session_route: { let mut h = world().key.header(); h["typ"] = json!("at+jwt"); world().key.sign_json(&h, &session_claims(ISS, AZP, NOW)) }, SESSIONS => Reason::TokenTypeMismatch, calls 0;
    session_token_with_a_machine_subject: { let mut c = session_claims(ISS, AZP, NOW); c["sub"] = json!("mch_impostor"); world().key.sign(&c) }, ALL => Reason::MachineTokenInvalid, calls 0;
    payload_of_an_m2m_jwt_swapped_in: { let s = session(); let m = m2m(); let p: Vec<&str> = s.split('.').collect(); let q: Vec<&str> = m.split('.').collect(); format!("{}.{}.{}", q[0], p[1], q[2]) }, ALL => Reason::TokenTypeMismatch, calls 0;
    oversized_api_key: format!("ak_{}", "A".repeat(9 * 1024)), ALL => Reason::MachineTokenInvalid, calls 0;
    bare_prefix: "ak_".into(), ALL => Reason::MachineTokenInvalid, calls 0;
    control_characters_in_an_api_key: "ak_good\u{0}".into(), ALL => Reason::MachineTokenInvalid, calls 0;
    unicode_in_an_api_key: "ak_gооd".into(), ALL => Reason::MachineTokenInvalid, calls 0;
    json_injection_reaches_clerk_as_one_string: r#"ak_x","secret":"ak_good"#.into(), ALL => Reason::MachineTokenInvalid, calls 1;
    a_near_miss_of_a_known_key: "ak_goodX".into(), ALL => Reason::MachineTokenInvalid, calls 1;
    case_changed_prefix_is_not_an_api_key: "AK_good".into(), API_KEYS => Reason::TokenTypeMismatch, calls 0;
}

#[test]
fn the_known_key_is_accepted_so_the_refusals_above_are_meaningful() {
    let w = world();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let p = rt
        .block_on(w.machine.authenticate(&w.sessions, "ak_good", API_KEYS))
        .unwrap();
    assert_eq!(p.subject(), "user_1");
    assert!(
        rt.block_on(w.machine.authenticate(&w.sessions, &m2m(), ALL))
            .is_ok()
    );
    assert!(
        rt.block_on(w.machine.authenticate(&w.sessions, &session(), ALL))
            .is_ok()
    );
}
