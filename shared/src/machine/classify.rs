//! Which kind of token a bearer token is, decided exactly as `@clerk/backend` decides it
//! (`getMachineTokenType`, `isMachineJwt`, `hasNonSessionJwtCategory` in its `tokens/machine`):
//! by prefix (`mt_`, `oat_`, `ak_`), else, for the JWT forms, by claims and header (`sub`
//! starting with `mch_`: M2M; `typ` `at+jwt`: OAuth). No signature is checked here: the type only
//! picks the verification, which then checks everything.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::verify::{CAT_IGNORE, CAT_SESSION};

/// Prefix of opaque M2M tokens.
pub const M2M_TOKEN_PREFIX: &str = "mt_";
/// Prefix of opaque OAuth access tokens.
pub const OAUTH_TOKEN_PREFIX: &str = "oat_";
/// Prefix of API keys.
pub const API_KEY_PREFIX: &str = "ak_";
/// `sub` prefix of machines (the subject of an M2M token).
pub const M2M_SUBJECT_PREFIX: &str = "mch_";
/// `typ` values of OAuth access tokens in JWT form (RFC 9068).
pub const OAUTH_JWT_TYPES: [&str; 2] = ["at+jwt", "application/at+jwt"];
/// `cat` of M2M tokens in JWT form.
pub const CAT_M2M: &str = "cl_B7d4PD333AAA";

/// The kinds of bearer token Clerk issues, named as `@clerk/backend`'s `TokenType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    /// A session token (RS256 JWT of a signed-in user).
    SessionToken,
    /// `ak_...`: an API key of a user or an organization.
    ApiKey,
    /// `mt_...` or a JWT whose `sub` is a machine: machine-to-machine.
    M2mToken,
    /// `oat_...` or an `at+jwt`: an OAuth access token a user granted an application.
    #[serde(rename = "oauth_token")]
    OAuthToken,
}

impl TokenType {
    /// Every type.
    pub const ALL: [TokenType; 4] = [
        TokenType::SessionToken,
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ];
    /// The machine types.
    pub const MACHINE: [TokenType; 3] = [
        TokenType::ApiKey,
        TokenType::M2mToken,
        TokenType::OAuthToken,
    ];

    /// The name Clerk's SDK uses (`session_token`, `api_key`, `m2m_token`, `oauth_token`).
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::SessionToken => "session_token",
            TokenType::ApiKey => "api_key",
            TokenType::M2mToken => "m2m_token",
            TokenType::OAuthToken => "oauth_token",
        }
    }

    pub fn parse(name: &str) -> Option<TokenType> {
        TokenType::ALL.into_iter().find(|t| t.as_str() == name)
    }

    pub fn is_machine(self) -> bool {
        self != TokenType::SessionToken
    }
}

impl std::fmt::Display for TokenType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a token looks like before anything is verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Classified {
    pub kind: TokenType,
    /// Three base64url segments (`@clerk/backend`'s `isJwtFormat`): machine tokens of this form
    /// are verified as JWTs with the instance's keys, whatever their prefix.
    pub jwt_form: bool,
    /// A JWT whose header `cat` is neither the session's nor "ignore" (and that is not a machine
    /// JWT): Clerk's SDK answers `token-type-mismatch` for it wherever sessions are accepted.
    pub foreign_category: bool,
}

/// Whether `token` starts with a machine token's prefix (`mt_`, `oat_`, `ak_`): the cheap half of
/// [`classify`], for the session routes' hot path.
pub fn has_machine_prefix(token: &str) -> bool {
    [M2M_TOKEN_PREFIX, OAUTH_TOKEN_PREFIX, API_KEY_PREFIX]
        .iter()
        .any(|p| token.starts_with(p))
}

/// `^[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+\.[a-zA-Z0-9\-_]+$`, as the SDK tests it.
pub fn is_jwt_format(token: &str) -> bool {
    let mut n = 0;
    for part in token.split('.') {
        n += 1;
        if part.is_empty()
            || !part
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return false;
        }
    }
    n == 3
}

/// The header fields classification reads (others are skipped without being built).
#[derive(Deserialize, Default)]
struct Head {
    #[serde(default)]
    typ: Option<Value>,
    /// `Some(Value::Null)` when given as `null` (present: JavaScript's `typeof null` is "object").
    #[serde(default, deserialize_with = "present")]
    cat: Option<Value>,
}

/// The payload field classification reads.
#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    sub: Option<Value>,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(d).map(Some)
}

/// A part as `T`; valid JSON of another shape (an array, a string) reads as `T::default()`, as
/// JavaScript reads a missing property of it.
fn part<T: serde::de::DeserializeOwned + Default>(segment: &str) -> Option<T> {
    let bytes = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(segment).ok()?;
    serde_json::from_slice(&bytes).ok().or_else(|| {
        serde_json::from_slice::<serde::de::IgnoredAny>(&bytes)
            .ok()
            .map(|_| T::default())
    })
}

/// `typ` and `cat` of the header and `sub` of the payload of a JWT-format token, unverified (the
/// SDK's `decodeJwt`). `None` when either part is not base64url of JSON.
fn peek(token: &str) -> Option<(Head, Body)> {
    let mut parts = token.split('.');
    let head = part::<Head>(parts.next()?)?;
    let body = part::<Body>(parts.next()?)?;
    Some((head, body))
}

/// Classifies `token` as Clerk's SDK does.
pub fn classify(token: &str) -> Classified {
    let jwt_form = is_jwt_format(token);
    let peeked = if jwt_form { peek(token) } else { None };
    let (m2m_jwt, oauth_jwt, cat) = match &peeked {
        Some((h, b)) => (
            b.sub
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|s| s.starts_with(M2M_SUBJECT_PREFIX)),
            h.typ
                .as_ref()
                .and_then(Value::as_str)
                .is_some_and(|t| OAUTH_JWT_TYPES.contains(&t)),
            h.cat.as_ref(),
        ),
        None => (false, false, None),
    };
    let kind = if token.starts_with(M2M_TOKEN_PREFIX) || m2m_jwt {
        TokenType::M2mToken
    } else if token.starts_with(OAUTH_TOKEN_PREFIX) || oauth_jwt {
        TokenType::OAuthToken
    } else if token.starts_with(API_KEY_PREFIX) {
        TokenType::ApiKey
    } else {
        TokenType::SessionToken
    };
    // A `cat` that is present and not one of the session's (a non-string counts as foreign).
    let foreign_category = kind == TokenType::SessionToken
        && cat.is_some_and(|c| c.as_str() != Some(CAT_SESSION) && c.as_str() != Some(CAT_IGNORE));
    Classified {
        kind,
        jwt_form,
        foreign_category,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn jwt(header: Value, payload: Value) -> String {
        let b = |v: &Value| base64_simd::URL_SAFE_NO_PAD.encode_to_string(v.to_string());
        format!("{}.{}.c2ln", b(&header), b(&payload))
    }

    #[test]
    fn types_serialize_as_clerk_names_them() {
        for t in TokenType::ALL {
            assert_eq!(serde_json::to_value(t).unwrap(), json!(t.as_str()));
            assert_eq!(TokenType::parse(t.as_str()), Some(t));
        }
    }

    #[test]
    fn prefixes_pick_the_opaque_types() {
        assert_eq!(classify("ak_abc").kind, TokenType::ApiKey);
        assert_eq!(classify("mt_abc").kind, TokenType::M2mToken);
        assert_eq!(classify("oat_abc").kind, TokenType::OAuthToken);
        // The fixture of @clerk/backend: base64 characters outside the JWT alphabet.
        let key = classify("ak_LCWGdaM8mv8K4PC/57IICZQXAeWfCgF30DZaFXHoGn9=");
        assert_eq!((key.kind, key.jwt_form), (TokenType::ApiKey, false));
        assert_eq!(classify("sk_test_abc").kind, TokenType::SessionToken);
        assert_eq!(classify("").kind, TokenType::SessionToken);
        // Case matters, as in the SDK.
        assert_eq!(classify("AK_abc").kind, TokenType::SessionToken);
    }

    #[test]
    fn jwt_forms_by_subject_and_typ() {
        let m2m = jwt(json!({"alg":"RS256"}), json!({"sub":"mch_1"}));
        assert_eq!(classify(&m2m).kind, TokenType::M2mToken);
        let oauth = jwt(
            json!({"alg":"RS256","typ":"at+jwt"}),
            json!({"sub":"user_1"}),
        );
        assert_eq!(classify(&oauth).kind, TokenType::OAuthToken);
        let oauth2 = jwt(json!({"typ":"application/at+jwt"}), json!({"sub":"user_1"}));
        assert_eq!(classify(&oauth2).kind, TokenType::OAuthToken);
        // Both: M2M wins, as in getMachineTokenType.
        let both = jwt(json!({"typ":"at+jwt"}), json!({"sub":"mch_1"}));
        assert_eq!(classify(&both).kind, TokenType::M2mToken);
        let session = jwt(json!({"typ":"JWT"}), json!({"sub":"user_1"}));
        let c = classify(&session);
        assert_eq!(
            (c.kind, c.jwt_form, c.foreign_category),
            (TokenType::SessionToken, true, false)
        );
    }

    #[test]
    fn a_foreign_category_is_flagged_on_session_like_jwts_only() {
        let m2m_cat = jwt(json!({"cat": CAT_M2M}), json!({"sub":"user_1"}));
        assert!(classify(&m2m_cat).foreign_category);
        let session_cat = jwt(json!({"cat": CAT_SESSION}), json!({"sub":"user_1"}));
        assert!(!classify(&session_cat).foreign_category);
        let numeric = jwt(json!({"cat": 7}), json!({"sub":"user_1"}));
        assert!(classify(&numeric).foreign_category);
    }

    #[test]
    fn prefixed_jwts_keep_their_prefix_type_and_jwt_form() {
        let inner = jwt(json!({"alg":"RS256"}), json!({"sub":"user_1"}));
        let c = classify(&format!("ak_{inner}"));
        assert_eq!((c.kind, c.jwt_form), (TokenType::ApiKey, true));
        assert!(peek(&format!("ak_{inner}")).is_none());
        let null_cat = jwt(json!({"cat": null}), json!({"sub":"user_1"}));
        assert!(classify(&null_cat).foreign_category);
    }

    #[test]
    fn jwt_format_is_three_non_empty_segments_of_the_url_alphabet() {
        assert!(is_jwt_format("a.b.c"));
        assert!(!is_jwt_format("a.b"));
        assert!(!is_jwt_format("a..c"));
        assert!(!is_jwt_format("a.b.c.d"));
        assert!(!is_jwt_format("a.b.c="));
        assert!(!is_jwt_format("a.b/.c"));
    }
}
