//! Every check of the contract, both sides of every boundary, every reason code.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;

use serde_json::{Value, json};
use shared::clock::ManualClock;
use shared::error::Reason;
use shared::rsa_key::RsaKey;
use shared::verify::{MAX_TOKEN_BYTES, Verifier};
use test_support::{AZP, ISS, NOW, TestKey, b64_json, session_claims};

struct Fixture {
    key: TestKey,
    rsa: RsaKey,
    clock: Arc<ManualClock>,
    verifier: Verifier,
}

fn fixture() -> Fixture {
    let key = TestKey::generate("ins_test");
    let clock = ManualClock::new((NOW * 1000) as u64);
    let verifier = Verifier::new(
        ISS,
        vec![AZP.to_owned(), "http://localhost:5173".to_owned()],
    )
    .unwrap()
    .with_clock(clock.clone());
    let rsa = key.rsa_key();
    Fixture {
        key,
        rsa,
        clock,
        verifier,
    }
}

impl Fixture {
    fn claims(&self) -> Value {
        session_claims(ISS, AZP, NOW)
    }
    fn with(&self, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
        let mut c = self.claims();
        edit(c.as_object_mut().unwrap());
        self.key.sign(&c)
    }
    fn check(&self, token: &str) -> Result<shared::Session, Reason> {
        self.verifier.verify(token, &self.rsa)
    }
    fn reason(&self, token: &str) -> Reason {
        self.check(token).expect_err("token accepted")
    }
}

#[test]
fn a_valid_v2_token_gives_its_session() {
    let f = fixture();
    let s = f.check(&f.key.sign(&f.claims())).unwrap();
    assert_eq!(s.user_id, "user_2testUser");
    assert_eq!(s.session_id, "sess_2testSession");
    assert_eq!(s.session_status.as_deref(), Some("active"));
    assert_eq!(s.expires_at, NOW + 60);
    assert_eq!(s.issued_at, Some(NOW));
    assert_eq!(s.not_before, Some(NOW - 10));
    assert_eq!(s.authorized_party, AZP);
    assert_eq!(s.factor_verification_age, Some([0, -1]));
    assert_eq!(s.version, 2);
    assert_eq!(s.org_id, None);
    let json = serde_json::to_value(&s).unwrap();
    let mut keys: Vec<_> = json.as_object().unwrap().keys().cloned().collect();
    keys.sort();
    assert_eq!(
        keys,
        [
            "actor",
            "authorizedParty",
            "expiresAt",
            "factorVerificationAge",
            "issuedAt",
            "orgId",
            "orgPermissions",
            "orgRole",
            "orgSlug",
            "sessionId",
            "sessionStatus",
            "userId"
        ]
    );
    assert_eq!(json["orgId"], Value::Null);
}

#[test]
fn v2_organization_claims_decode_permissions() {
    let f = fixture();
    let t = f.with(|c| {
        c.insert("fea".into(), json!("o:dashboard,o:teams,u:profile"));
        c.insert("pla".into(), json!("u:free,o:pro"));
        c.insert(
            "o".into(),
            json!({"id": "org_1", "slg": "acme", "rol": "admin", "per": "manage,read", "fpm": "3,2"}),
        );
        c.insert("act".into(), json!({"sub": "user_admin"}));
        c.insert("custom".into(), json!({"tier": 3}));
    });
    let s = f.check(&t).unwrap();
    assert_eq!(s.org_id.as_deref(), Some("org_1"));
    assert_eq!(s.org_slug.as_deref(), Some("acme"));
    assert_eq!(s.org_role.as_deref(), Some("org:admin"));
    assert_eq!(
        s.org_permissions.as_deref().unwrap(),
        [
            "org:dashboard:manage",
            "org:dashboard:read",
            "org:teams:read"
        ]
    );
    assert!(s.has_org_permission("org:teams:read"));
    assert!(!s.has_org_permission("org:teams:manage"));
    assert_eq!(s.plans, ["u:free", "o:pro"]);
    assert_eq!(s.features, ["o:dashboard", "o:teams", "u:profile"]);
    assert_eq!(s.actor, Some(json!({"sub": "user_admin"})));
    assert_eq!(s.claims()["custom"]["tier"], 3);
}

#[test]
fn v1_organization_claims() {
    let f = fixture();
    let t = f.with(|c| {
        c.remove("v");
        c.insert("org_id".into(), json!("org_9"));
        c.insert("org_slug".into(), json!("nine"));
        c.insert("org_role".into(), json!("org:member"));
        c.insert("org_permissions".into(), json!(["org:sys_profile:read"]));
    });
    let s = f.check(&t).unwrap();
    assert_eq!(s.version, 1);
    assert_eq!(s.org_id.as_deref(), Some("org_9"));
    assert_eq!(s.org_role.as_deref(), Some("org:member"));
    assert_eq!(
        s.org_permissions.as_deref().unwrap(),
        ["org:sys_profile:read"]
    );
}

fn token_of_len(f: &Fixture, target: usize) -> Option<String> {
    let base = f.key.sign(&f.claims()).len();
    let start = (target.saturating_sub(base) * 3 / 4).saturating_sub(48);
    for pad in start..start + 96 {
        for hpad in 0..4 {
            let mut h = f.key.header();
            h["x"] = json!("h".repeat(hpad));
            let mut c = f.claims();
            c["pad"] = json!("p".repeat(pad));
            let t = f.key.sign_json(&h, &c);
            if t.len() == target {
                return Some(t);
            }
        }
    }
    None
}

#[test]
fn check_0_size_limit_is_8_kib() {
    let f = fixture();
    let at = token_of_len(&f, MAX_TOKEN_BYTES).expect("a token of exactly 8 KiB");
    assert!(f.check(&at).is_ok());
    let over = token_of_len(&f, MAX_TOKEN_BYTES + 1).expect("a token of 8 KiB + 1");
    assert_eq!(f.reason(&over), Reason::TokenInvalid);
    assert_eq!(f.reason(&"a".repeat(100_000)), Reason::TokenInvalid);
}

#[test]
fn check_1_structure() {
    let f = fixture();
    let good = f.key.sign(&f.claims());
    let parts: Vec<&str> = good.split('.').collect();
    let (h, p, s) = (parts[0], parts[1], parts[2]);
    let sig_std = s.replace('-', "+").replace('_', "/");
    let cases = [
        String::new(),
        "abc".into(),
        format!("{h}.{p}"),
        format!("{h}.{p}.{s}.{s}"),
        format!("{h}..{s}"),
        format!(".{p}.{s}"),
        format!("{h}.{p}."),
        format!("{h}=.{p}.{s}"),
        format!("{h}.{p}.{s}=="),
        format!("{h}.{p}.{sig_std}x"),
        format!("{}.{p}.{s}", b64_json(&json!(["alg", "RS256"]))),
        format!("{h}.{}.{s}", b64_json(&json!("a string"))),
        format!("{h}.{}.{s}", base64_raw(b"\xff\xfe not utf8")),
        format!("{h}.{}.{s}", base64_raw(b"{\"sub\":\"a\",\"sub\":\"b\"}")),
        format!(
            "{h}.{}.{s}",
            base64_raw(format!("{}{}", "[".repeat(200), "]".repeat(200)).as_bytes())
        ),
        format!("{h}.{}.{s}", base64_raw(b"{\"a\":1} trailing")),
        format!(" {good}"),
    ];
    for t in &cases {
        assert_eq!(f.reason(t), Reason::TokenInvalid, "{t:.60}");
    }
    if s.contains(['-', '_']) {
        assert_eq!(
            f.reason(&format!("{h}.{p}.{sig_std}")),
            Reason::TokenInvalid
        );
    }
}

fn base64_raw(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

fn with_header(f: &Fixture, edit: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut h = f.key.header();
    edit(h.as_object_mut().unwrap());
    f.key.sign_json(&h, &f.claims())
}

#[test]
fn check_2_cat() {
    let f = fixture();
    for (cat, ok) in [
        (json!("cl_B7d4PD111AAA"), true),
        (json!("cl_I7d4PD111III"), true),
        (json!("cl_B7d4PD333AAA"), false),
        (json!("cl_B7d4PD222AAA"), false),
        (json!(7), false),
        (Value::Null, false),
    ] {
        let t = with_header(&f, |h| {
            h.insert("cat".into(), cat.clone());
        });
        assert_eq!(f.check(&t).is_ok(), ok, "cat {cat}");
        if !ok {
            assert_eq!(f.reason(&t), Reason::TokenInvalid);
        }
    }
    let t = with_header(&f, |h| {
        h.remove("cat");
    });
    assert!(f.check(&t).is_ok());
}

#[test]
fn check_3_typ_and_crit() {
    let f = fixture();
    for typ in [json!("at+jwt"), json!("jwt"), json!("JWS"), json!(1)] {
        let t = with_header(&f, |h| {
            h.insert("typ".into(), typ.clone());
        });
        assert_eq!(f.reason(&t), Reason::TokenInvalid, "typ {typ}");
    }
    let t = with_header(&f, |h| {
        h.remove("typ");
    });
    assert!(f.check(&t).is_ok());
    let t = with_header(&f, |h| {
        h.insert("crit".into(), json!(["exp"]));
    });
    assert_eq!(f.reason(&t), Reason::TokenInvalid);
    // Unknown header parameters are ignored.
    let t = with_header(&f, |h| {
        h.insert("oiat".into(), json!(123));
    });
    assert!(f.check(&t).is_ok());
}

#[test]
fn check_4_algorithm_is_pinned() {
    let f = fixture();
    for alg in [
        json!("HS256"),
        json!("none"),
        json!("RS384"),
        json!("rs256"),
        json!("PS256"),
        json!(null),
        json!(256),
    ] {
        let t = with_header(&f, |h| {
            h.insert("alg".into(), alg.clone());
        });
        assert_eq!(f.reason(&t), Reason::TokenInvalidAlgorithm, "alg {alg}");
    }
    let t = with_header(&f, |h| {
        h.remove("alg");
    });
    assert_eq!(f.reason(&t), Reason::TokenInvalidAlgorithm);
}

#[test]
fn check_7_signature_before_claims() {
    let f = fixture();
    let good = f.key.sign(&f.claims());
    let (input, sig) = good.rsplit_once('.').unwrap();
    let (h, _) = input.split_once('.').unwrap();
    let mut c = f.claims();
    c["sub"] = json!("user_attacker");
    let tampered = format!("{h}.{}.{sig}", b64_json(&c));
    assert_eq!(f.reason(&tampered), Reason::TokenInvalidSignature);
    // Another key's signature.
    let other = TestKey::generate("ins_test");
    assert_eq!(
        f.reason(&other.sign(&f.claims())),
        Reason::TokenInvalidSignature
    );
    // An expired, wrong-azp token with a bad signature is refused for the signature.
    let mut c = f.claims();
    c["exp"] = json!(1);
    c["azp"] = json!("https://evil.example.com");
    assert_eq!(f.reason(&other.sign(&c)), Reason::TokenInvalidSignature);
    // Empty or truncated signature.
    assert_eq!(
        f.reason(&format!("{input}.AAAA")),
        Reason::TokenInvalidSignature
    );
}

#[test]
fn check_8_sub() {
    let f = fixture();
    for sub in [None, Some(json!(42)), Some(json!("")), Some(Value::Null)] {
        let t = f.with(|c| match &sub {
            None => {
                c.remove("sub");
            }
            Some(v) => {
                c.insert("sub".into(), v.clone());
            }
        });
        assert_eq!(f.reason(&t), Reason::TokenVerificationFailed, "sub {sub:?}");
    }
}

#[test]
fn check_9_issuer_is_pinned() {
    let f = fixture();
    for iss in [
        Some(json!("https://other-instance.clerk.accounts.dev")),
        Some(json!("https://foo-bar-13.clerk.accounts.dev/")),
        Some(json!("http://foo-bar-13.clerk.accounts.dev")),
        Some(json!(["https://foo-bar-13.clerk.accounts.dev"])),
        None,
    ] {
        let t = f.with(|c| match &iss {
            None => {
                c.remove("iss");
            }
            Some(v) => {
                c.insert("iss".into(), v.clone());
            }
        });
        assert_eq!(f.reason(&t), Reason::TokenInvalidIssuer, "iss {iss:?}");
    }
}

#[test]
fn check_11_authorized_party_is_required() {
    let f = fixture();
    for azp in [
        Some(json!("https://evil.example.com")),
        Some(json!("https://app.example.com/")),
        Some(json!("")),
        Some(json!(["https://app.example.com"])),
        None,
    ] {
        let t = f.with(|c| match &azp {
            None => {
                c.remove("azp");
            }
            Some(v) => {
                c.insert("azp".into(), v.clone());
            }
        });
        assert_eq!(
            f.reason(&t),
            Reason::TokenInvalidAuthorizedParties,
            "azp {azp:?}"
        );
    }
    let t = f.with(|c| {
        c.insert("azp".into(), json!("http://localhost:5173"));
    });
    assert!(f.check(&t).is_ok());
    // Order: azp (9) is checked before exp (10).
    let t = f.with(|c| {
        c.insert("azp".into(), json!("https://evil.example.com"));
        c.insert("exp".into(), json!(1));
    });
    assert_eq!(f.reason(&t), Reason::TokenInvalidAuthorizedParties);
}

const SKEW: i64 = 5_000;

#[test]
fn check_12_expiry_boundary_with_skew() {
    let f = fixture();
    let exp = NOW + 60;
    let t = f.key.sign(&f.claims());
    // Expired when exp*1000 <= now - skew.
    f.clock.set((exp * 1000 + SKEW - 1) as u64);
    assert!(f.check(&t).is_ok(), "skew - 1 ms");
    f.clock.set((exp * 1000 + SKEW) as u64);
    assert_eq!(f.reason(&t), Reason::TokenExpired, "exact");
    f.clock.set((exp * 1000 + SKEW + 1) as u64);
    assert_eq!(f.reason(&t), Reason::TokenExpired, "+1 ms");
}

#[test]
fn check_13_not_before_boundary_with_skew() {
    let f = fixture();
    let nbf = NOW - 10;
    let t = f.with(|c| {
        c.remove("iat");
    });
    // Not active when nbf*1000 > now + skew.
    f.clock.set((nbf * 1000 - SKEW + 1) as u64);
    assert!(f.check(&t).is_ok());
    f.clock.set((nbf * 1000 - SKEW) as u64);
    assert!(f.check(&t).is_ok(), "exact");
    f.clock.set((nbf * 1000 - SKEW - 1) as u64);
    assert_eq!(f.reason(&t), Reason::TokenNotActiveYet);
}

#[test]
fn check_14_issued_at_boundary_with_skew() {
    let f = fixture();
    let t = f.with(|c| {
        c.remove("nbf");
    });
    f.clock.set((NOW * 1000 - SKEW) as u64);
    assert!(f.check(&t).is_ok(), "exact");
    f.clock.set((NOW * 1000 - SKEW - 1) as u64);
    assert_eq!(f.reason(&t), Reason::TokenIatInTheFuture);
}

#[test]
fn zero_skew_is_honoured() {
    let f = fixture();
    let v = f.verifier.clone().with_skew_ms(0);
    let t = f.key.sign(&f.claims());
    f.clock.set(((NOW + 60) * 1000 - 1) as u64);
    assert!(v.verify(&t, &f.rsa).is_ok());
    f.clock.set(((NOW + 60) * 1000) as u64);
    assert_eq!(v.verify(&t, &f.rsa).unwrap_err(), Reason::TokenExpired);
    let t = f.with(|c| {
        c.remove("iat");
    });
    f.clock.set(((NOW - 10) * 1000 - 1) as u64);
    assert_eq!(v.verify(&t, &f.rsa).unwrap_err(), Reason::TokenNotActiveYet);
}

#[test]
fn time_claims_of_the_wrong_type() {
    let f = fixture();
    for (claim, value, reason) in [
        ("exp", json!("1800000060"), Reason::TokenVerificationFailed),
        ("exp", Value::Null, Reason::TokenVerificationFailed),
        ("exp", json!(1e300), Reason::TokenVerificationFailed),
        ("exp", json!([1]), Reason::TokenVerificationFailed),
        ("nbf", json!("0"), Reason::TokenVerificationFailed),
        ("nbf", Value::Null, Reason::TokenVerificationFailed),
        ("iat", json!({}), Reason::TokenVerificationFailed),
        ("exp", json!(NOW - 10), Reason::TokenExpired),
    ] {
        let t = f.with(|c| {
            c.insert(claim.into(), value.clone());
        });
        assert_eq!(f.reason(&t), reason, "{claim}={value}");
    }
    let t = f.with(|c| {
        c.remove("exp");
    });
    assert_eq!(f.reason(&t), Reason::TokenVerificationFailed);
    // Fractions are truncated, as Clerk's Date arithmetic does.
    let t = f.with(|c| {
        c.insert("exp".into(), json!(NOW as f64 + 60.9));
    });
    f.clock.set(((NOW + 60) * 1000 + SKEW - 1) as u64);
    assert!(f.check(&t).is_ok());
    f.clock.set(((NOW + 60) * 1000 + SKEW) as u64);
    assert_eq!(f.reason(&t), Reason::TokenExpired);
}

#[test]
fn check_15_session_id_is_required() {
    let f = fixture();
    for sid in [None, Some(json!(1)), Some(json!(""))] {
        let t = f.with(|c| match &sid {
            None => {
                c.remove("sid");
            }
            Some(v) => {
                c.insert("sid".into(), v.clone());
            }
        });
        assert_eq!(f.reason(&t), Reason::TokenVerificationFailed, "sid {sid:?}");
    }
}

#[test]
fn check_16_pending_sessions() {
    let f = fixture();
    let t = f.with(|c| {
        c.insert("sts".into(), json!("pending"));
    });
    assert_eq!(f.reason(&t), Reason::SessionPending);
    let v = f.verifier.clone().with_accept_pending(true);
    assert_eq!(
        v.verify(&t, &f.rsa).unwrap().session_status.as_deref(),
        Some("pending")
    );
    let t = f.with(|c| {
        c.remove("sts");
    });
    assert_eq!(f.check(&t).unwrap().session_status, None);
}

#[test]
fn audience_only_when_configured() {
    let f = fixture();
    let t = f.key.sign(&f.claims());
    let v = f.verifier.clone().with_audience("api://x");
    assert_eq!(
        v.verify(&t, &f.rsa).unwrap_err(),
        Reason::TokenVerificationFailed
    );
    let t = f.with(|c| {
        c.insert("aud".into(), json!(["api://x", "y"]));
    });
    assert!(v.verify(&t, &f.rsa).is_ok());
    assert!(f.check(&t).is_ok());
}

#[test]
fn a_verifier_needs_authorized_parties() {
    assert!(Verifier::new(ISS, vec![]).is_err());
    assert!(Verifier::new("", vec![AZP.into()]).is_err());
}

#[test]
fn pem_keys_of_every_shape() {
    let f = fixture();
    let pem = f.key.public_pem();
    assert!(RsaKey::from_pem(&pem, None).is_ok());
    // One-line form with literal \n, as in an environment variable.
    let one_line = pem.trim().replace('\n', "\\n");
    assert!(RsaKey::from_pem(&one_line, None).is_ok());
    assert!(
        RsaKey::from_pem(
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            None
        )
        .is_err()
    );
    assert!(RsaKey::from_pem("", None).is_err());
    let jwk = f.key.jwk();
    let k = RsaKey::from_components(
        jwk["n"].as_str().unwrap(),
        jwk["e"].as_str().unwrap(),
        Some("k".into()),
    )
    .unwrap();
    assert_eq!(k.bits(), 2048);
    assert!(k.same_key(&f.rsa));
    assert!(format!("{k:?}").contains("bits: 2048"));
    // Too small a modulus.
    assert!(RsaKey::from_components("AQAB", "AQAB", None).is_err());
}

/// Keys Clerk's SDK (WebCrypto) takes: an exponent other than 65537 (Clerk's own test fixture
/// key set has `e` = `BQGF`), and `n`/`e` with leading zero bytes. Made with Node's crypto.
#[test]
fn every_valid_rsa_key_of_2048_bits_or_more_with_an_odd_exponent_is_accepted() {
    let vectors: Value = serde_json::from_str(include_str!("data/unusual_keys.json")).unwrap();
    for case in ["odd_exponent", "leading_zeros"] {
        let jwk = &vectors[case]["jwk"];
        let jwks = json!({ "keys": [jwk] }).to_string();
        let keys = shared::clerk_api::parse_jwks(jwks.as_bytes()).expect(case);
        assert_eq!(keys[0].bits(), 2048, "{case}");
        let token = vectors[case]["token"].as_str().unwrap();
        let f = fixture();
        let s = f.verifier.verify(token, &keys[0]).expect(case);
        assert_eq!(s.user_id, "user_1");
        // The same key without the zero bytes is the same key.
        let stripped =
            RsaKey::from_components(jwk["n"].as_str().unwrap(), jwk["e"].as_str().unwrap(), None)
                .unwrap();
        assert!(stripped.same_key(&keys[0]));
    }
    // The same key as PEM, SPKI (as Clerk's dashboard shows it) and PKCS#1.
    let jwk_key = RsaKey::from_components(
        vectors["odd_exponent"]["jwk"]["n"].as_str().unwrap(),
        vectors["odd_exponent"]["jwk"]["e"].as_str().unwrap(),
        None,
    )
    .unwrap();
    for form in ["spki_pem", "pkcs1_pem"] {
        let pem =
            RsaKey::from_pem(vectors["odd_exponent"][form].as_str().unwrap(), None).expect(form);
        assert!(pem.same_key(&jwk_key), "{form}");
    }
    let spki = vectors["odd_exponent"]["spki_pem"].as_str().unwrap();
    for broken in [
        spki.replace("PUBLIC KEY-----\n", "PRIVATE KEY-----\n"),
        spki.replace("-----END PUBLIC KEY-----", "-----END RSA PUBLIC KEY-----"),
        spki.replace("-----END PUBLIC KEY-----", ""),
        spki.replacen('M', "!", 1),
    ] {
        assert!(RsaKey::from_pem(&broken, None).is_err(), "{broken}");
    }
    let n = vectors["odd_exponent"]["jwk"]["n"].as_str().unwrap();
    // An even exponent, 1, or none is no RSA key: refused with its reason.
    for e in ["BQGE", "AQ", "AA", "AAAB"] {
        assert_eq!(
            RsaKey::from_components(n, e, None).unwrap_err(),
            shared::rsa_key::RsaKeyError::Exponent,
            "{e}"
        );
    }
    let only_bad = json!({ "keys": [{ "kty": "RSA", "kid": "k", "n": n, "e": "BQGE" }] });
    assert!(matches!(
        shared::clerk_api::parse_jwks(only_bad.to_string().as_bytes()),
        Err(shared::clerk_api::ClerkApiError::NoUsableKey)
    ));
}

/// Two keys under one `kid` (the contract allows rotation under the same `kid`): a token signed
/// by either verifies; one signed by neither is a bad signature; an unknown `kid` is a mismatch.
#[test]
fn every_key_under_the_tokens_kid_is_tried() {
    use shared::jwks::KeySet;
    let f = fixture();
    let other = TestKey::generate("ins_test");
    let stranger = TestKey::generate("ins_test");
    let set = KeySet::new(vec![f.rsa.clone(), other.rsa_key()]);
    for signer in [&f.key, &other] {
        let token = signer.sign(&f.claims());
        let decoded = f.verifier.decode(&token).unwrap();
        assert_eq!(
            f.verifier.verify_with(&decoded, &set).unwrap().user_id,
            "user_2testUser"
        );
    }
    let token = stranger.sign(&f.claims());
    let decoded = f.verifier.decode(&token).unwrap();
    assert_eq!(
        f.verifier.verify_with(&decoded, &set).unwrap_err(),
        Reason::TokenInvalidSignature
    );
    let elsewhere = TestKey::generate("ins_other");
    let token = elsewhere.sign(&f.claims());
    let decoded = f.verifier.decode(&token).unwrap();
    assert_eq!(
        f.verifier.verify_with(&decoded, &set).unwrap_err(),
        Reason::JwkKidMismatch
    );
}

/// A token over this exact payload text (the claims are read from their JSON text).
fn raw_payload(f: &Fixture, payload: &str) -> String {
    use base64::Engine as _;
    let b64 = |s: &str| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    let input = format!("{}.{}", b64(&f.key.header().to_string()), b64(payload));
    format!("{input}.{}", f.key.sign_input(&input))
}

/// The claims of a valid token as JSON text, with `extra` members before the closing brace.
fn payload_text(extra: &str) -> String {
    format!(
        r#"{{"azp":"{AZP}","exp":{exp},"iat":{NOW},"iss":"{ISS}","sid":"sess_1","sub":"user_1"{extra}}}"#,
        exp = NOW + 60
    )
}

#[test]
fn claims_are_read_from_their_json_text_as_json_values() {
    let f = fixture();
    // Escapes in values and in names are decoded; spaces are fine.
    let t = raw_payload(
        &f,
        &format!(
            r#"{{ "azp" : "{AZP}", "exp" : {exp} , "iss":"{ISS}", "sid":"sess_\u0031",
               "s\u0075b":"user_\"quoted\"", "sts": null }}"#,
            exp = NOW + 60
        ),
    );
    let s = f.check(&t).unwrap();
    assert_eq!(s.user_id, "user_\"quoted\"");
    assert_eq!(s.session_id, "sess_1");
    assert_eq!(s.session_status, None);
    assert_eq!(s.expires_at, NOW + 60);
    assert_eq!(s.claims()["sub"], "user_\"quoted\"");
    // A number out of f64's range, or a lone surrogate, in a claim the verifier reads: the
    // payload is not valid JSON for it (as when claims were parsed into values).
    for bad in [
        r#","nbf":1e400"#,
        r#","act":{"n":-1e400}"#,
        r#","sts":"\ud800""#,
        r#","o":["\udc00"]"#,
        r#","sub":"user_2""#,
    ] {
        assert_eq!(
            f.reason(&raw_payload(&f, &payload_text(bad))),
            Reason::TokenInvalid,
            "{bad}"
        );
    }
    // Nor in a claim it does not read: the custom claims a handler sees are exactly what was
    // verified, never an empty map standing in for what could not be read.
    for bad in [
        r#","custom":1e400"#.to_owned(),
        r#","x":"\ud800""#.to_owned(),
        r#","x":{"y":"\udfff"}"#.to_owned(),
        format!(r#","deep":{}1{}"#, "[".repeat(300), "]".repeat(300)),
        r#","sub":"user_1""#.to_owned(),
    ] {
        assert_eq!(
            f.reason(&raw_payload(&f, &payload_text(&bad))),
            Reason::TokenInvalid,
            "{bad}"
        );
    }
    let s = f
        .check(&raw_payload(
            &f,
            &payload_text(r#","role":"admin","deep":[[[[{"a":1.5}]]]]"#),
        ))
        .unwrap();
    assert_eq!(s.claims()["role"], "admin");
    assert_eq!(s.claims()["deep"][0][0][0][0]["a"], 1.5);
    // Types still matter: a number where a string belongs, a string where a time belongs.
    assert_eq!(
        f.reason(&raw_payload(&f, &payload_text(r#","sts":3"#))),
        Reason::TokenVerificationFailed
    );
    let t = raw_payload(
        &f,
        &payload_text("").replace(&format!("\"exp\":{}", NOW + 60), "\"exp\":\"9999999999\""),
    );
    assert_eq!(f.reason(&t), Reason::TokenVerificationFailed);
}

#[test]
fn bytes_that_are_not_utf8_in_a_claim_nobody_reads_are_kept_as_replacement_characters() {
    use base64::Engine as _;
    let f = fixture();
    let b64 = |s: &[u8]| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(s);
    // As Clerk's SDK (TextDecoder, then JSON.parse): the token is valid, the bytes are U+FFFD.
    let mut payload = payload_text(r#","x":"a"#).into_bytes();
    payload.truncate(payload.len() - 1);
    payload.extend_from_slice(b"\xff\xfeb\"}");
    let input = format!(
        "{}.{}",
        b64(f.key.header().to_string().as_bytes()),
        b64(&payload)
    );
    let t = format!("{input}.{}", f.key.sign_input(&input));
    let s = f.check(&t).unwrap();
    assert_eq!(s.user_id, "user_1");
    assert_eq!(s.claims()["x"], "a\u{fffd}\u{fffd}b");
    assert_eq!(s.claims()["sub"], "user_1");
}
