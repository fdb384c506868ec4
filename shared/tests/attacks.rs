//! Attack corpus: hostile tokens and requests, each test named after the attack. Every one is
//! refused with the right reason, and none panics. Keys resolve as in production: by `kid` from a
//! key set (the Backend API mode), then the contract's checks.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE, URL_SAFE_NO_PAD};
use lambda_http::http::{HeaderMap, HeaderValue, header};
use serde_json::{Value, json};
use shared::clock::ManualClock;
use shared::error::Reason;
use shared::http::bearer_token;
use shared::jwks::KeySet;
use shared::verify::Verifier;
use test_support::{AZP, ISS, NOW, TestKey, b64_json, session_claims};

const KID: &str = "ins_attack";

struct World {
    key: TestKey,
    attacker: TestKey,
    keys: KeySet,
    verifier: Verifier,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let key = TestKey::generate(KID);
        let keys = KeySet::new(vec![key.rsa_key()]);
        World {
            attacker: TestKey::generate(KID),
            keys,
            key,
            verifier: Verifier::new(ISS, vec![AZP.into()])
                .unwrap()
                .with_clock(ManualClock::new((NOW * 1000) as u64)),
        }
    })
}

/// Checks 0-14 with the key set: what the protected function does with a cached set.
fn verdict(token: &str) -> Result<shared::Session, Reason> {
    let w = world();
    let decoded = w.verifier.decode(token)?;
    w.verifier.verify_with(&decoded, &w.keys)
}

fn claims() -> Value {
    session_claims(ISS, AZP, NOW)
}

fn header() -> Value {
    world().key.header()
}

fn signed(h: &Value, c: &Value) -> String {
    world().key.sign_json(h, c)
}

fn with_claim(name: &str, v: Value) -> String {
    let mut c = claims();
    c[name] = v;
    signed(&header(), &c)
}

fn with_header(name: &str, v: Value) -> String {
    let mut h = header();
    h[name] = v;
    signed(&h, &claims())
}

fn raw(h: &str, p: &str) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(h),
        URL_SAFE_NO_PAD.encode(p)
    );
    format!("{input}.{}", world().key.sign_input(&input))
}

macro_rules! attack {
    ($($name:ident: $token:expr => $reason:expr;)*) => {$(
        #[test]
        fn $name() {
            let token: String = $token;
            assert_eq!(verdict(&token).map(|s| s.user_id), Err($reason));
        }
    )*};
}

fn good() -> String {
    signed(&header(), &claims())
}

#[test]
fn the_baseline_token_is_accepted() {
    assert_eq!(verdict(&good()).unwrap().user_id, "user_2testUser");
}

attack! {
    alg_none_with_empty_signature: {
        let h = json!({"alg": "none", "typ": "JWT", "kid": KID});
        format!("{}.{}.", b64_json(&h), b64_json(&claims()))
    } => Reason::TokenInvalid;
    alg_none_with_a_signature: with_header("alg", json!("none")) => Reason::TokenInvalidAlgorithm;
    alg_none_mixed_case: with_header("alg", json!("nOnE")) => Reason::TokenInvalidAlgorithm;
    alg_confusion_hs256_signed_with_the_public_key: {
        let h = json!({"alg": "HS256", "typ": "JWT", "kid": KID});
        let input = format!("{}.{}", b64_json(&h), b64_json(&claims()));
        let k = hmac::Key::new(hmac::HMAC_SHA256, world().key.public_pem().as_bytes());
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(hmac::sign(&k, input.as_bytes())))
    } => Reason::TokenInvalidAlgorithm;
    alg_rs384_downgrade_or_swap: with_header("alg", json!("RS384")) => Reason::TokenInvalidAlgorithm;
    alg_ps256_padding_swap: with_header("alg", json!("PS256")) => Reason::TokenInvalidAlgorithm;
    alg_es256_curve_swap: with_header("alg", json!("ES256")) => Reason::TokenInvalidAlgorithm;
    alg_lowercase_rs256: with_header("alg", json!("rs256")) => Reason::TokenInvalidAlgorithm;
    alg_as_array: with_header("alg", json!(["RS256"])) => Reason::TokenInvalidAlgorithm;
    alg_missing: raw(r#"{"typ":"JWT","kid":"ins_attack"}"#, &claims().to_string()) => Reason::TokenInvalidAlgorithm;
    kid_path_traversal: with_header("kid", json!("../../../../etc/passwd")) => Reason::JwkKidMismatch;
    kid_sql_injection: with_header("kid", json!("ins_attack' OR '1'='1")) => Reason::JwkKidMismatch;
    kid_null_byte_suffix: with_header("kid", json!("ins_attack\u{0}")) => Reason::JwkKidMismatch;
    kid_url_to_attacker: with_header("kid", json!("https://evil.example.com/key.pem")) => Reason::JwkKidMismatch;
    kid_huge: with_header("kid", json!("k".repeat(4000))) => Reason::JwkKidMismatch;
    kid_as_number: with_header("kid", json!(42)) => Reason::TokenInvalid;
    kid_as_object: with_header("kid", json!({"$ne": null})) => Reason::TokenInvalid;
    jku_header_pointing_to_attacker_keys: {
        let mut h = header();
        h["jku"] = json!("https://evil.example.com/jwks.json");
        world().attacker.sign_json(&h, &claims())
    } => Reason::TokenInvalidSignature;
    x5u_header_pointing_to_attacker_cert: {
        let mut h = header();
        h["x5u"] = json!("https://evil.example.com/cert.pem");
        world().attacker.sign_json(&h, &claims())
    } => Reason::TokenInvalidSignature;
    embedded_jwk_header_with_attacker_key: {
        let mut h = header();
        h["jwk"] = world().attacker.jwk();
        world().attacker.sign_json(&h, &claims())
    } => Reason::TokenInvalidSignature;
    embedded_x5c_header: {
        let mut h = header();
        h["x5c"] = json!(["MIIB..."]);
        world().attacker.sign_json(&h, &claims())
    } => Reason::TokenInvalidSignature;
    crit_header_with_unknown_extension: with_header("crit", json!(["exp"])) => Reason::TokenInvalid;
    crit_header_empty_list: with_header("crit", json!([])) => Reason::TokenInvalid;
    duplicate_claim_sub: raw(&header().to_string(), &format!(
        r#"{{"sub":"user_2testUser","sub":"user_admin","sid":"s","iss":"{ISS}","azp":"{AZP}","exp":{}}}"#, NOW + 60)) => Reason::TokenInvalid;
    duplicate_header_alg: raw(r#"{"alg":"none","alg":"RS256","kid":"ins_attack"}"#, &claims().to_string()) => Reason::TokenInvalid;
    exp_as_string: with_claim("exp", json!((NOW + 60).to_string())) => Reason::TokenVerificationFailed;
    exp_as_float_in_the_past: with_claim("exp", json!(NOW as f64 - 100.5)) => Reason::TokenExpired;
    exp_huge_never_expires: with_claim("exp", json!(1e20)) => Reason::TokenVerificationFailed;
    exp_negative: with_claim("exp", json!(-1)) => Reason::TokenExpired;
    exp_as_bool: with_claim("exp", json!(true)) => Reason::TokenVerificationFailed;
    exp_null: with_claim("exp", Value::Null) => Reason::TokenVerificationFailed;
    nbf_as_string: with_claim("nbf", json!("0")) => Reason::TokenVerificationFailed;
    nbf_far_future: with_claim("nbf", json!(NOW + 3600)) => Reason::TokenNotActiveYet;
    iat_far_future: with_claim("iat", json!(NOW + 3600)) => Reason::TokenIatInTheFuture;
    iat_huge: with_claim("iat", json!(1e300)) => Reason::TokenVerificationFailed;
    header_padded_base64: {
        let t = good();
        let (h, rest) = t.split_once('.').unwrap();
        let padded = URL_SAFE.encode(URL_SAFE_NO_PAD.decode(h).unwrap());
        assert!(padded.ends_with('='), "the header needs padding for this attack");
        format!("{padded}.{rest}")
    } => Reason::TokenInvalid;
    payload_standard_alphabet_base64: {
        let mut c = claims();
        c["pad"] = json!("\u{fb}\u{ff}?>");
        let std = STANDARD.encode(c.to_string()).trim_end_matches('=').to_owned();
        assert!(std.contains(['+', '/']), "the payload needs + or / for this attack");
        let input = format!("{}.{std}", b64_json(&header()));
        format!("{input}.{}", world().key.sign_input(&input))
    } => Reason::TokenInvalid;
    signature_standard_alphabet: {
        let mut i = 0;
        loop {
            let mut c = claims();
            c["n"] = json!(i);
            let t = signed(&header(), &c);
            let (input, sig) = t.rsplit_once('.').unwrap();
            if sig.contains(['-', '_']) {
                break format!("{input}.{}", sig.replace('-', "+").replace('_', "/"));
            }
            i += 1;
        }
    } => Reason::TokenInvalid;
    // A second spelling of the same bytes: the last character's unused low bit set. A lenient
    // decoder reads the same signature (or claims), so the token would verify under another name.
    signature_non_canonical_last_character: {
        let t = good();
        let (input, sig) = t.rsplit_once('.').unwrap();
        assert_eq!(sig.len() % 4, 2, "a 2048-bit signature ends with 4 unused bits");
        let respelled = format!("{}{}", &sig[..sig.len() - 1], flip_unused_bit(sig));
        assert_eq!(lenient(&respelled), URL_SAFE_NO_PAD.decode(sig).unwrap());
        format!("{input}.{respelled}")
    } => Reason::TokenInvalid;
    payload_non_canonical_last_character: {
        let mut i = 0;
        loop {
            let mut c = claims();
            c["n"] = json!("x".repeat(i));
            let p = b64_json(&c);
            if !p.len().is_multiple_of(4) {
                let respelled = format!("{}{}", &p[..p.len() - 1], flip_unused_bit(&p));
                assert_eq!(lenient(&respelled), URL_SAFE_NO_PAD.decode(&p).unwrap());
                let input = format!("{}.{respelled}", b64_json(&header()));
                break format!("{input}.{}", world().key.sign_input(&input));
            }
            i += 1;
        }
    } => Reason::TokenInvalid;
    empty_header_segment: { let t = good(); format!(".{}", t.split_once('.').unwrap().1) } => Reason::TokenInvalid;
    empty_payload_segment: { let t = good(); let p: Vec<&str> = t.split('.').collect(); format!("{}..{}", p[0], p[2]) } => Reason::TokenInvalid;
    empty_signature_segment: { let t = good(); format!("{}.", t.rsplit_once('.').unwrap().0) } => Reason::TokenInvalid;
    two_segments: good().rsplit_once('.').unwrap().0.to_owned() => Reason::TokenInvalid;
    five_segments_jwe_shape: format!("{}.a.b", good()) => Reason::TokenInvalid;
    non_utf8_payload: {
        let input = format!("{}.{}", b64_json(&header()), URL_SAFE_NO_PAD.encode(b"{\"sub\":\"\xff\xfe\"}"));
        format!("{input}.{}", world().key.sign_input(&input))
    } => Reason::TokenInvalid;
    header_is_a_json_array: raw(r#"["RS256","ins_attack"]"#, &claims().to_string()) => Reason::TokenInvalid;
    payload_is_json_null: raw(&header().to_string(), "null") => Reason::TokenInvalid;
    payload_deeply_nested: raw(&header().to_string(), &format!(
        r#"{{"sub":"u","x":{}{}}}"#, "[".repeat(5000), "]".repeat(5000))) => Reason::TokenInvalid;
    token_of_8_kib_plus_one: {
        let mut c = claims();
        let base = signed(&header(), &c).len();
        let mut pad = (8193 - base) * 3 / 4;
        loop {
            c["pad"] = json!("p".repeat(pad));
            let t = signed(&header(), &c);
            if t.len() > 8192 { break t; }
            pad += 1;
        }
    } => Reason::TokenInvalid;
    token_of_one_mebibyte: "a.".repeat(512 * 1024) => Reason::TokenInvalid;
    signature_spliced_from_another_token: {
        let other = with_claim("sub", json!("user_other"));
        format!("{}.{}", good().rsplit_once('.').unwrap().0, other.rsplit_once('.').unwrap().1)
    } => Reason::TokenInvalidSignature;
    signature_truncated: {
        let t = good();
        let (input, sig) = t.rsplit_once('.').unwrap();
        let mut bytes = URL_SAFE_NO_PAD.decode(sig).unwrap();
        bytes.truncate(bytes.len() - 3);
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(bytes))
    } => Reason::TokenInvalidSignature;
    payload_tampered_sub_to_admin: {
        let t = good();
        let p: Vec<&str> = t.split('.').collect();
        let mut c = claims();
        c["sub"] = json!("user_admin");
        format!("{}.{}.{}", p[0], b64_json(&c), p[2])
    } => Reason::TokenInvalidSignature;
    signed_by_attacker_with_our_kid: world().attacker.sign_json(&header(), &claims()) => Reason::TokenInvalidSignature;
    machine_to_machine_token_cat: with_header("cat", json!("cl_B7d4PD333AAA")) => Reason::TokenInvalid;
    jwt_template_token_cat: with_header("cat", json!("cl_B7d4PD222AAA")) => Reason::TokenInvalid;
    oauth_access_token_typ: with_header("typ", json!("at+jwt")) => Reason::TokenInvalid;
    jwt_template_token_without_sid: { let mut c = claims(); c.as_object_mut().unwrap().remove("sid"); signed(&header(), &c) } => Reason::TokenVerificationFailed;
    cross_instance_issuer: with_claim("iss", json!("https://other-instance-42.clerk.accounts.dev")) => Reason::TokenInvalidIssuer;
    homoglyph_issuer: with_claim("iss", json!("https://foo-bar-13.clerk.\u{430}ccounts.dev")) => Reason::TokenInvalidIssuer;
    issuer_with_trailing_slash: with_claim("iss", json!(format!("{ISS}/"))) => Reason::TokenInvalidIssuer;
    azp_from_attacker_site: with_claim("azp", json!("https://evil.example.com")) => Reason::TokenInvalidAuthorizedParties;
    azp_prefix_match: with_claim("azp", json!("https://app.example.com.evil.com")) => Reason::TokenInvalidAuthorizedParties;
    azp_missing: { let mut c = claims(); c.as_object_mut().unwrap().remove("azp"); signed(&header(), &c) } => Reason::TokenInvalidAuthorizedParties;
    pending_session: with_claim("sts", json!("pending")) => Reason::SessionPending;
    empty_sub: with_claim("sub", json!("")) => Reason::TokenVerificationFailed;
    whitespace_inside_token: { let t = good(); format!("{} {}", &t[..10], &t[10..]) } => Reason::TokenInvalid;
}

fn headers(values: &[&[u8]]) -> HeaderMap {
    let mut h = HeaderMap::new();
    for v in values {
        h.append(header::AUTHORIZATION, HeaderValue::from_bytes(v).unwrap());
    }
    h
}

fn request_reason(values: &[&[u8]]) -> Result<String, Reason> {
    bearer_token(&headers(values))
        .map(str::to_owned)
        .map_err(|e| e.reason().unwrap())
}

#[test]
fn several_authorization_headers_are_ambiguous() {
    let t = good();
    assert_eq!(
        request_reason(&[format!("Bearer {t}").as_bytes(), b"Bearer other"]),
        Err(Reason::TokenInvalid)
    );
    assert_eq!(
        request_reason(&[
            format!("Bearer {t}").as_bytes(),
            format!("Bearer {t}").as_bytes()
        ]),
        Err(Reason::TokenInvalid)
    );
}

#[test]
fn bearer_scheme_variants() {
    let t = good();
    for ok in [
        format!("Bearer {t}"),
        format!("bearer {t}"),
        format!("BEARER {t}"),
        format!("Bearer   {t}  "),
    ] {
        assert_eq!(request_reason(&[ok.as_bytes()]).unwrap(), t);
    }
    for missing in [
        format!("Basic {t}"),
        format!("Token {t}"),
        format!("Bearer{t}"),
        "Bearer".into(),
        String::new(),
    ] {
        assert_eq!(
            request_reason(&[missing.as_bytes()]),
            Err(Reason::SessionTokenMissing),
            "{missing:.20}"
        );
    }
    // Two tokens in one header value: the whole value is not a token.
    let two = format!("Bearer {t}, Bearer {t}");
    let token = request_reason(&[two.as_bytes()]).unwrap();
    assert_eq!(verdict(&token).unwrap_err(), Reason::TokenInvalid);
}

#[test]
fn non_visible_bytes_in_the_authorization_header() {
    assert_eq!(
        request_reason(&[b"Bearer \xff\xfe"]),
        Err(Reason::TokenInvalid)
    );
}

/// The last character of `b64` with its lowest bit flipped: unused when the length is not a
/// multiple of 4.
fn flip_unused_bit(b64: &str) -> char {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let last = b64.bytes().last().unwrap();
    let i = ALPHABET.iter().position(|&c| c == last).unwrap();
    char::from(ALPHABET[i ^ 1])
}

/// A decoder that ignores the unused bits (as lenient base64url decoders do).
fn lenient(b64: &str) -> Vec<u8> {
    use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
    GeneralPurpose::new(
        &base64::alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_allow_trailing_bits(true)
            .with_decode_padding_mode(DecodePaddingMode::RequireNone),
    )
    .decode(b64)
    .unwrap()
}
