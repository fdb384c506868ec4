//! The verifier: the checks of docs/contract.md (section 2) in their order, with their reason
//! codes.
//!
//! Pure and synchronous: keys come in from the caller (see [`crate::auth`]), time from the
//! injected [`Clock`]. The token is decoded once; the signature is checked before any claim is
//! trusted.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

use crate::claims::Claims;
use crate::clock::{self, Clock};
use crate::config::{Config, ConfigError};
use crate::error::Reason;
use crate::jwks::KeySet;
use crate::rsa_key::RsaKey;
use crate::session::{Session, Verified};
use crate::sig_cache::SignatureCache;

/// Longest token accepted (ours): Clerk's session tokens are well under 2 KiB.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// `cat` of a session token.
pub const CAT_SESSION: &str = "cl_B7d4PD111AAA";
/// `cat` Clerk marks as "ignore" (accepted like an absent `cat`).
pub const CAT_IGNORE: &str = "cl_I7d4PD111III";
/// JavaScript's `Date` range in ms: beyond it Clerk's checks see `NaN`; ours refuse (stricter).
const JS_DATE_MAX_MS: f64 = 8.64e15;

/// A token that passed checks 0 to 5 (docs/contract.md): well-formed, RS256, not yet trusted.
#[derive(Debug)]
pub struct DecodedToken<'t> {
    kid: Option<String>,
    signing_input: &'t str,
    signature: Vec<u8>,
    claims: Arc<Claims>,
}

impl DecodedToken<'_> {
    /// The header's `kid`, when present (Clerk's is the instance's key id).
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }
}

#[derive(Deserialize)]
struct RawHeader {
    #[serde(default, deserialize_with = "present")]
    alg: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    kid: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    typ: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    cat: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    crit: Option<Value>,
}

/// `null` is a present value (JavaScript's `typeof null` is "object", not "undefined").
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// The verifier's settings. Built only with an issuer and at least one authorized party: the
/// secure path is the only one.
#[derive(Debug, Clone)]
pub struct Verifier {
    issuer: String,
    authorized_parties: Arc<[String]>,
    audience: Option<String>,
    skew_ms: i64,
    accept_pending: bool,
    clock: Arc<dyn Clock>,
    signatures: Option<Arc<SignatureCache>>,
}

impl Verifier {
    /// `issuer`: exact `iss` (`https://<frontend api>`); `authorized_parties`: accepted `azp`
    /// origins, never empty. Defaults: skew 5000 ms, pending sessions refused, system clock.
    pub fn new(
        issuer: impl Into<String>,
        authorized_parties: Vec<String>,
    ) -> Result<Self, ConfigError> {
        if authorized_parties.is_empty() {
            return Err(ConfigError::new(
                "CLERK_AUTHORIZED_PARTIES",
                "at least one authorized party is required",
            ));
        }
        let issuer = issuer.into();
        if issuer.is_empty() {
            return Err(ConfigError::new("CLERK_ISSUER", "an issuer is required"));
        }
        Ok(Self {
            issuer,
            authorized_parties: authorized_parties.into(),
            audience: None,
            skew_ms: crate::config::DEFAULT_CLOCK_SKEW_MS as i64,
            accept_pending: false,
            clock: clock::system(),
            signatures: Some(Arc::new(SignatureCache::new(
                crate::sig_cache::DEFAULT_CAPACITY,
            ))),
        })
    }

    /// The verifier a [`Config`] describes.
    pub fn from_config(config: &Config) -> Result<Self, ConfigError> {
        Ok(
            Self::new(config.issuer.clone(), config.authorized_parties.clone())?
                .with_skew_ms(config.clock_skew_ms)
                .with_accept_pending(config.accept_pending)
                .with_signature_cache(config.signature_cache),
        )
    }

    pub fn with_skew_ms(mut self, skew_ms: u64) -> Self {
        self.skew_ms = i64::try_from(skew_ms).unwrap_or(i64::MAX);
        self
    }
    pub fn with_accept_pending(mut self, accept: bool) -> Self {
        self.accept_pending = accept;
        self
    }
    /// Remembers up to `capacity` verified signatures ([`crate::sig_cache`]); 0: none.
    pub fn with_signature_cache(mut self, capacity: usize) -> Self {
        self.signatures = (capacity > 0).then(|| Arc::new(SignatureCache::new(capacity)));
        self
    }
    /// The signature cache, when on.
    pub fn signature_cache(&self) -> Option<&SignatureCache> {
        self.signatures.as_deref()
    }
    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }
    /// Checks `aud` (Clerk session tokens carry none; only set this for tokens that do).
    pub fn with_audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    pub fn issuer(&self) -> &str {
        &self.issuer
    }
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    /// Checks 0 to 5: size, structure, `cat`, `typ`/`crit`, `alg`, `kid`.
    pub fn decode<'t>(&self, token: &'t str) -> Result<DecodedToken<'t>, Reason> {
        decode(token)
    }

    /// Check 7 (signature), then 8 to 16 (claims).
    pub fn verify_decoded(
        &self,
        token: &DecodedToken<'_>,
        key: &RsaKey,
    ) -> Result<Session, Reason> {
        let Some(cache) = &self.signatures else {
            if !signature_valid(token, key) {
                return Err(Reason::TokenInvalidSignature);
            }
            return self.check_claims(token);
        };
        let digest = SignatureCache::digest(key, token.signing_input, &token.signature);
        if cache.contains(&digest) {
            return self.check_claims(token);
        }
        if !signature_valid(token, key) {
            return Err(Reason::TokenInvalidSignature);
        }
        let session = self.check_claims(token)?;
        let now = i64::try_from(self.clock.now_ms() / 1000).unwrap_or(i64::MAX);
        cache.insert(digest, session.expires_at, now);
        Ok(session)
    }

    /// Check 7 with each key of `keys` that `token`'s `kid` names, in turn (two may share a `kid`
    /// while Clerk rotates), then 8 to 16: `jwk-kid-mismatch` when no key has that `kid`,
    /// `token-invalid-signature` when none verifies.
    pub fn verify_with(&self, token: &DecodedToken<'_>, keys: &KeySet) -> Result<Session, Reason> {
        let mut reason = Reason::JwkKidMismatch;
        for key in keys.matching(token.kid()) {
            match self.verify_decoded(token, key) {
                Err(Reason::TokenInvalidSignature) => reason = Reason::TokenInvalidSignature,
                other => return other,
            }
        }
        Err(reason)
    }

    /// Checks 0 to 16 with one key (networkless verification: check 6 is the caller's).
    pub fn verify(&self, token: &str, key: &RsaKey) -> Result<Session, Reason> {
        let decoded = self.decode(token)?;
        self.verify_decoded(&decoded, key)
    }

    /// Checks 8 to 16. Only call with a token whose signature was verified.
    pub(crate) fn check_claims(&self, token: &DecodedToken<'_>) -> Result<Session, Reason> {
        let c = &token.claims;
        // 8. sub
        let sub = match c.get("sub") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err(Reason::TokenVerificationFailed),
        };
        // 9. iss (ours: pinned)
        match c.get("iss") {
            Some(Value::String(iss)) if *iss == self.issuer => {}
            _ => return Err(Reason::TokenInvalidIssuer),
        }
        // 10. aud, only when configured
        if let Some(expected) = &self.audience {
            let ok = match c.get("aud") {
                Some(Value::String(a)) => a == expected,
                Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(expected)),
                _ => false,
            };
            if !ok {
                return Err(Reason::TokenVerificationFailed);
            }
        }
        // 11. azp (ours: required)
        let azp = match c.get("azp") {
            Some(Value::String(azp)) if self.authorized_parties.iter().any(|p| p == azp) => azp,
            _ => return Err(Reason::TokenInvalidAuthorizedParties),
        };
        let now = i128::from(self.clock.now_ms());
        let skew = i128::from(self.skew_ms);
        // 12. exp
        let exp = match c.get("exp").map(time_ms) {
            Some(Some(ms)) => ms,
            _ => return Err(Reason::TokenVerificationFailed),
        };
        if exp <= now - skew {
            return Err(Reason::TokenExpired);
        }
        // 13. nbf
        let nbf = match c.get("nbf").map(time_ms) {
            None => None,
            Some(None) => return Err(Reason::TokenVerificationFailed),
            Some(Some(ms)) if ms > now + skew => return Err(Reason::TokenNotActiveYet),
            Some(Some(ms)) => Some(ms),
        };
        // 14. iat
        let iat = match c.get("iat").map(time_ms) {
            None => None,
            Some(None) => return Err(Reason::TokenVerificationFailed),
            Some(Some(ms)) if ms > now + skew => return Err(Reason::TokenIatInTheFuture),
            Some(Some(ms)) => Some(ms),
        };
        // 15. sid (ours: required)
        let sid = match c.get("sid") {
            Some(Value::String(s)) if !s.is_empty() => s,
            _ => return Err(Reason::TokenVerificationFailed),
        };
        // 16. sts
        let sts = match c.get("sts") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.as_str()),
            Some(_) => return Err(Reason::TokenVerificationFailed),
        };
        if sts == Some("pending") && !self.accept_pending {
            return Err(Reason::SessionPending);
        }
        Ok(Session::new(
            Verified {
                user_id: sub,
                session_id: sid,
                authorized_party: azp,
                status: sts,
                expires_at: secs(exp),
                issued_at: iat.map(secs),
                not_before: nbf.map(secs),
            },
            token.claims.clone(),
        ))
    }
}

fn secs(ms: i128) -> i64 {
    i64::try_from(ms / 1000).unwrap_or(i64::MAX)
}

/// A NumericDate in ms, as Clerk computes it (`Date.setUTCSeconds` truncates fractions).
/// `None` for a non-number, and (ours) for times JavaScript's `Date` cannot hold.
fn time_ms(v: &Value) -> Option<i128> {
    let secs = match v {
        Value::Number(n) => n.as_f64()?,
        _ => return None,
    };
    let ms = secs.trunc() * 1000.0;
    if !ms.is_finite() || ms.abs() > JS_DATE_MAX_MS {
        return None;
    }
    // In range: exact as an integer.
    #[allow(clippy::cast_possible_truncation)]
    Some(ms as i128)
}

/// Check 7: RS256 over `header.payload` with `key`.
pub fn signature_valid(token: &DecodedToken<'_>, key: &RsaKey) -> bool {
    key.verify_rs256(token.signing_input.as_bytes(), &token.signature)
}

/// Checks 0 to 5 of the contract.
pub fn decode(token: &str) -> Result<DecodedToken<'_>, Reason> {
    // 0. size
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Reason::TokenInvalid);
    }
    // 1. three base64url parts, header and payload JSON objects
    let mut parts = token.split('.');
    let (Some(h64), Some(p64), Some(s64), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Reason::TokenInvalid);
    };
    if h64.is_empty() || p64.is_empty() || s64.is_empty() {
        return Err(Reason::TokenInvalid);
    }
    let header_json = base64url(h64)?;
    let payload = base64url(p64)?;
    let signature = base64url(s64)?;
    // A derived struct would also accept a JSON array: insist on an object.
    if !is_json_object(&header_json) {
        return Err(Reason::TokenInvalid);
    }
    let header: RawHeader =
        serde_json::from_slice(&header_json).map_err(|_| Reason::TokenInvalid)?;
    let claims = Claims::parse(&payload).ok_or(Reason::TokenInvalid)?;

    // 2. cat
    match &header.cat {
        None => {}
        Some(Value::String(cat)) if cat == CAT_SESSION || cat == CAT_IGNORE => {}
        Some(_) => return Err(Reason::TokenInvalid),
    }
    // 3. typ, crit
    match &header.typ {
        None => {}
        Some(Value::String(typ)) if typ == "JWT" => {}
        Some(_) => return Err(Reason::TokenInvalid),
    }
    if header.crit.is_some() {
        return Err(Reason::TokenInvalid);
    }
    // 4. alg
    match &header.alg {
        Some(Value::String(alg)) if alg == "RS256" => {}
        _ => return Err(Reason::TokenInvalidAlgorithm),
    }
    // 5. kid
    let kid = match header.kid {
        None => None,
        Some(Value::String(kid)) => Some(kid),
        Some(_) => return Err(Reason::TokenInvalid),
    };
    let signing_input = &token[..h64.len() + 1 + p64.len()];
    Ok(DecodedToken {
        kid,
        signing_input,
        signature,
        claims: Arc::new(claims),
    })
}

/// A token part, base64url without padding, canonical (the unused low bits of the last character
/// zero): SIMD where the CPU has it (base64-simd, which the AWS SDK already brings).
fn base64url(part: &str) -> Result<Vec<u8>, Reason> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(part)
        .map_err(|_| Reason::TokenInvalid)
}

fn is_json_object(json: &[u8]) -> bool {
    json.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

/// What `clerk-token decode` prints: header and payload, unverified.
#[derive(Debug, Serialize)]
pub struct Unverified {
    pub verified: bool,
    pub header: Value,
    pub payload: Value,
}

/// Decodes header and payload without any check (for debugging; never for authorization).
pub fn decode_unverified(token: &str) -> Result<Unverified, Reason> {
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p)) = (parts.next(), parts.next()) else {
        return Err(Reason::TokenInvalid);
    };
    let part = |s: &str| -> Result<Value, Reason> {
        let bytes = base64url(s.trim_end_matches('='))?;
        serde_json::from_slice(&bytes).map_err(|_| Reason::TokenInvalid)
    };
    Ok(Unverified {
        verified: false,
        header: part(h)?,
        payload: part(p)?,
    })
}
