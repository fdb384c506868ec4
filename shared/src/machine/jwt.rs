//! The JWT forms of M2M tokens and OAuth access tokens, verified networkless with the instance's
//! keys (the same as session tokens'). Stricter than `@clerk/backend`'s `verifyM2MJwt` /
//! `verifyOAuthJwt`: RS256 only, `crit` refused, `iss` pinned to the instance, `exp` required,
//! every claim valid JSON, and for M2M our own machine id required in `aud` when configured.

use serde_json::{Map, Value};

use super::classify::{CAT_M2M, M2M_SUBJECT_PREFIX, OAUTH_JWT_TYPES, TokenType};
use super::principal::Principal;
use crate::claims::Claims;
use crate::jwks::KeySet;
use crate::verify::{CAT_SESSION, MAX_TOKEN_BYTES};

/// A machine JWT, decoded (signature not yet checked).
#[derive(Debug)]
pub struct MachineJwt<'t> {
    pub kind: TokenType,
    kid: Option<String>,
    signing_input: &'t str,
    signature: Vec<u8>,
    payload: Map<String, Value>,
}

/// Why a machine JWT was refused: for the log (never token material).
pub type Refusal = &'static str;

fn b64(part: &str) -> Result<Vec<u8>, Refusal> {
    base64_simd::URL_SAFE_NO_PAD
        .decode_to_vec(part)
        .map_err(|_| "a segment is not base64url")
}

/// Decodes `token` and decides M2M or OAuth as the SDK's `verifyMachineAuthToken` does (`sub`
/// of a machine first, then an OAuth `typ`); anything else is refused.
pub fn decode(token: &str) -> Result<MachineJwt<'_>, Refusal> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err("token too long");
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err("not three segments");
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&b64(h)?).map_err(|_| "header is not a JSON object")?;
    let raw_payload = b64(p)?;
    // Every claim valid JSON (no duplicate names, numbers in range), as for session tokens.
    Claims::parse(&raw_payload).ok_or("payload is not valid JSON claims")?;
    let payload: Map<String, Value> =
        serde_json::from_slice(&raw_payload).map_err(|_| "payload is not a JSON object")?;
    let signature = b64(s)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err("alg is not RS256");
    }
    if header.contains_key("crit") {
        return Err("crit header");
    }
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(k)) => Some(k.clone()),
        Some(_) => return Err("kid is not a string"),
    };
    let sub = payload.get("sub").and_then(Value::as_str).unwrap_or("");
    let typ = header.get("typ");
    let cat = header.get("cat");
    let kind = if sub.starts_with(M2M_SUBJECT_PREFIX) {
        if cat.is_some_and(|c| c.as_str() != Some(CAT_M2M)) {
            return Err("cat is not the M2M category");
        }
        match typ.map(Value::as_str) {
            None | Some(Some("JWT")) => {}
            _ => return Err("typ of an M2M token is not JWT"),
        }
        TokenType::M2mToken
    } else if typ
        .and_then(Value::as_str)
        .is_some_and(|t| OAUTH_JWT_TYPES.contains(&t))
    {
        // A session's category on an access token is a type confusion.
        if cat.is_some_and(|c| c.as_str() == Some(CAT_SESSION) || c.as_str() == Some(CAT_M2M)) {
            return Err("cat of another token type");
        }
        TokenType::OAuthToken
    } else {
        return Err("neither an M2M nor an OAuth JWT");
    };
    Ok(MachineJwt {
        kind,
        kid,
        signing_input: &token[..h.len() + 1 + p.len()],
        signature,
        payload,
    })
}

/// What the checks need besides the token.
#[derive(Debug, Clone, Copy)]
pub struct Expect<'a> {
    pub issuer: &'a str,
    /// Our machine id (`CLERK_MACHINE_ID`): required in an M2M token's `aud` when set.
    pub machine_id: Option<&'a str>,
    pub now_ms: u64,
    pub skew_ms: u64,
}

impl MachineJwt<'_> {
    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    fn str(&self, name: &str) -> Option<&str> {
        self.payload.get(name).and_then(Value::as_str)
    }

    /// A NumericDate claim in ms (whole seconds, as the SDK reads them).
    fn time_ms(&self, name: &str) -> Result<Option<i128>, Refusal> {
        match self.payload.get(name) {
            None => Ok(None),
            Some(v) => {
                let secs = v.as_f64().ok_or("a time claim is not a number")?;
                if !secs.is_finite() || secs.abs() > 8.64e12 {
                    return Err("a time claim is out of range");
                }
                // In range: exact as an integer.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some(secs.trunc() as i128 * 1000))
            }
        }
    }

    /// Signature first, then the claims; the caller gets the principal and the token's expiry.
    pub fn verify(&self, keys: &KeySet, expect: Expect<'_>) -> Result<(Principal, u64), Refusal> {
        if !keys
            .matching(self.kid())
            .any(|k| k.verify_rs256(self.signing_input.as_bytes(), &self.signature))
        {
            return Err("signature invalid");
        }
        if self.str("iss") != Some(expect.issuer) {
            return Err("iss is not this instance");
        }
        let now = i128::from(expect.now_ms);
        let skew = i128::from(expect.skew_ms);
        let exp = self.time_ms("exp")?.ok_or("exp missing")?;
        if exp <= now - skew {
            return Err("expired");
        }
        if self.time_ms("nbf")?.is_some_and(|nbf| nbf > now + skew) {
            return Err("not active yet");
        }
        if self.time_ms("iat")?.is_some_and(|iat| iat > now + skew) {
            return Err("issued in the future");
        }
        let sub = self
            .str("sub")
            .filter(|s| !s.is_empty())
            .ok_or("sub missing")?;
        let expires_at = u64::try_from(exp).unwrap_or(0);
        let principal = match self.kind {
            TokenType::M2mToken => {
                if let Some(me) = expect.machine_id
                    && !audiences(self.payload.get("aud")).any(|a| a == me)
                {
                    return Err("aud does not name this machine");
                }
                let scopes = match self.payload.get("scopes") {
                    Some(Value::String(s)) => s.split(' ').map(str::to_owned).collect(),
                    _ => audiences(self.payload.get("aud"))
                        .map(str::to_owned)
                        .collect(),
                };
                let claims: Map<String, Value> = self
                    .payload
                    .iter()
                    .filter(|(k, _)| {
                        !["iss", "sub", "exp", "nbf", "iat", "jti"].contains(&k.as_str())
                    })
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                Principal::Machine {
                    machine_id: sub.to_owned(),
                    token_id: self.str("jti").map(str::to_owned),
                    scopes,
                    claims: Value::Object(claims),
                }
            }
            _ => {
                let scopes = match (self.payload.get("scp"), self.str("scope")) {
                    (Some(Value::Array(a)), _) => a
                        .iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect(),
                    (_, Some(s)) => s
                        .split(' ')
                        .filter(|s| !s.is_empty())
                        .map(str::to_owned)
                        .collect(),
                    _ => Vec::new(),
                };
                Principal::OAuth {
                    user_id: sub.to_owned(),
                    client_id: self.str("client_id").map(str::to_owned),
                    token_id: self.str("jti").map(str::to_owned),
                    scopes,
                }
            }
        };
        Ok((principal, expires_at))
    }
}

fn audiences(aud: Option<&Value>) -> impl Iterator<Item = &str> {
    let list: Vec<&str> = match aud {
        Some(Value::String(s)) => vec![s.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    list.into_iter()
}
