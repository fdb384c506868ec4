//! A token's payload, parsed once and kept whole: what the checks read and what a handler sees
//! (docs/contract.md, sections 2 and 6).
//!
//! Every claim is parsed, not only those the checks read, so that the custom claims a handler
//! reads are exactly what the verifier accepted: a payload that is not valid JSON anywhere (a
//! number beyond f64, a lone surrogate, nesting beyond serde_json's limit) refuses the token.

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};

/// The payload's claims. A claim set to `null` is present (JavaScript's `typeof null` is
/// "object", not "undefined").
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Claims(Map<String, Value>);

impl Claims {
    /// Parses a payload: a JSON object, each claim name once. Bytes that are not UTF-8 become
    /// U+FFFD, as Clerk's SDK decodes them (`TextDecoder`, then `JSON.parse`), but only in claims
    /// no check reads (ours: a claim the checks read must be what was signed, byte for byte).
    pub fn parse(payload: &[u8]) -> Option<Claims> {
        match std::str::from_utf8(payload) {
            Ok(text) => serde_json::from_str(text).ok(),
            Err(_) => {
                serde_json::from_slice::<ReadClaims>(payload).ok()?;
                serde_json::from_str(&String::from_utf8_lossy(payload)).ok()
            }
        }
    }

    /// The claim `name`, when present (`null` included).
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.0.get(name)
    }

    /// The claim `name` when it is a string.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(Value::as_str)
    }

    /// Every claim.
    pub fn as_map(&self) -> &Map<String, Value> {
        &self.0
    }
}

/// The claims the checks and the session read, parsed from the bytes (UTF-8 required in them).
#[derive(serde::Deserialize)]
#[allow(dead_code)] // parsed for validation only
struct ReadClaims {
    sub: Option<Value>,
    iss: Option<Value>,
    azp: Option<Value>,
    aud: Option<Value>,
    exp: Option<Value>,
    nbf: Option<Value>,
    iat: Option<Value>,
    sid: Option<Value>,
    sts: Option<Value>,
    v: Option<Value>,
    act: Option<Value>,
    fva: Option<Value>,
    pla: Option<Value>,
    fea: Option<Value>,
    org_id: Option<Value>,
    org_slug: Option<Value>,
    org_role: Option<Value>,
    org_permissions: Option<Value>,
    o: Option<Value>,
}

impl<'de> Deserialize<'de> for Claims {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Claims;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Claims, A::Error> {
                let mut map = Map::new();
                while let Some(name) = access.next_key::<String>()? {
                    let value = access.next_value::<Value>()?;
                    // A claim given twice is ambiguous: JSON.parse keeps the last, others the first.
                    if map.insert(name, value).is_some() {
                        return Err(serde::de::Error::custom("a claim name appears twice"));
                    }
                }
                Ok(Claims(map))
            }
        }
        d.deserialize_map(Object)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_object_with_each_name_once() {
        let c = Claims::parse(br#"{"sub":"user_1","n":null,"x":{"y":[1,2]}}"#).unwrap();
        assert_eq!(c.str("sub"), Some("user_1"));
        assert_eq!(c.get("n"), Some(&Value::Null));
        assert_eq!(c.get("absent"), None);
        assert_eq!(c.as_map().len(), 3);
        assert!(Claims::parse(br#"{"sub":"a","sub":"b"}"#).is_none());
        assert!(Claims::parse(b"[1]").is_none());
        assert!(Claims::parse(b"\"x\"").is_none());
    }

    #[test]
    fn what_a_value_cannot_hold_refuses_the_payload() {
        for bad in [
            r#"{"custom":1e400}"#.to_owned(),
            r#"{"x":"\ud800"}"#.to_owned(),
            r#"{"x":"\udc00 trailing"}"#.to_owned(),
            format!(r#"{{"deep":{}{}}}"#, "[".repeat(200), "]".repeat(200)),
        ] {
            assert!(Claims::parse(bad.as_bytes()).is_none(), "{bad}");
        }
        let ok = format!(r#"{{"deep":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        assert!(Claims::parse(ok.as_bytes()).is_some());
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let c = Claims::parse(b"{\"x\":\"a\xff\xfeb\"}").unwrap();
        assert_eq!(c.str("x"), Some("a\u{fffd}\u{fffd}b"));
        assert!(Claims::parse(b"{\"sub\":\"\xff\xfe\"}").is_none());
    }
}
