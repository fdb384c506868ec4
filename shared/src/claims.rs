//! A token's payload: the claims the checks read, parsed once, and every other claim validated
//! (docs/contract.md, sections 2 and 6).
//!
//! Every claim is validated, not only those the checks read, so that the custom claims a handler
//! reads are exactly what the verifier accepted: a payload that is not valid JSON anywhere (a
//! number beyond f64, a lone surrogate, nesting beyond serde_json's limit, a claim name given
//! twice) refuses the token. The claims nobody reads are validated without being built (one pass,
//! no allocation); [`Claims::as_map`] builds them on first use, which then cannot fail.

use std::fmt;
use std::sync::OnceLock;

use serde::de::{Deserialize, Deserializer, Error as _, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

/// The claims the checks and the session read.
const READ: [&str; 19] = [
    "sub",
    "iss",
    "azp",
    "aud",
    "exp",
    "nbf",
    "iat",
    "sid",
    "sts",
    "v",
    "act",
    "fva",
    "pla",
    "fea",
    "org_id",
    "org_slug",
    "org_role",
    "org_permissions",
    "o",
];

/// The place of `name` in [`READ`] (a `match`: once per claim of every token).
fn read_index(name: &str) -> Option<usize> {
    Some(match name {
        "sub" => 0,
        "iss" => 1,
        "azp" => 2,
        "aud" => 3,
        "exp" => 4,
        "nbf" => 5,
        "iat" => 6,
        "sid" => 7,
        "sts" => 8,
        "v" => 9,
        "act" => 10,
        "fva" => 11,
        "pla" => 12,
        "fea" => 13,
        "org_id" => 14,
        "org_slug" => 15,
        "org_role" => 16,
        "org_permissions" => 17,
        "o" => 18,
        _ => return None,
    })
}

/// The payload's claims. A claim set to `null` is present (JavaScript's `typeof null` is
/// "object", not "undefined").
#[derive(Debug, Clone)]
pub struct Claims {
    read: [Option<Value>; READ.len()],
    /// The payload as text (U+FFFD for bytes that are not UTF-8), validated.
    text: Box<str>,
    all: OnceLock<Map<String, Value>>,
}

impl PartialEq for Claims {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Claims {
    /// Parses a payload: a JSON object, each claim name once, every value valid JSON. Bytes that
    /// are not UTF-8 become U+FFFD, as Clerk's SDK decodes them (`TextDecoder`, then
    /// `JSON.parse`), but only in claims no check reads (ours: a claim the checks read must be
    /// what was signed, byte for byte).
    pub fn parse(payload: &[u8]) -> Option<Claims> {
        match std::str::from_utf8(payload) {
            Ok(text) => Self::parse_text(text),
            Err(_) => {
                // The claims the checks read, from the bytes: UTF-8 required in them.
                serde_json::from_slice::<ReadOnly>(payload).ok()?;
                Self::parse_text(&String::from_utf8_lossy(payload))
            }
        }
    }

    fn parse_text(text: &str) -> Option<Claims> {
        let Parsed(read) = serde_json::from_str(text).ok()?;
        Some(Claims {
            read,
            text: Box::from(text),
            all: OnceLock::new(),
        })
    }

    /// The claim `name`, when present (`null` included).
    pub fn get(&self, name: &str) -> Option<&Value> {
        match read_index(name) {
            Some(i) => self.read[i].as_ref(),
            None => self.as_map().get(name),
        }
    }

    /// The claim `name` when it is a string.
    pub fn str(&self, name: &str) -> Option<&str> {
        self.get(name).and_then(Value::as_str)
    }

    /// Every claim, custom claims included: exactly what the verifier accepted.
    pub fn as_map(&self) -> &Map<String, Value> {
        self.all.get_or_init(|| {
            // `text` is only ever set by `parse`, which validated it with the same parser and
            // refused the token otherwise: this cannot fail, and must never quietly be empty.
            #[allow(clippy::expect_used)]
            serde_json::from_str(&self.text).expect("claims validated when the token was decoded")
        })
    }
}

/// One pass over the payload: the read claims built, every other value validated, each name once.
struct Parsed([Option<Value>; READ.len()]);

impl<'de> Deserialize<'de> for Parsed {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = Parsed;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Parsed, A::Error> {
                let mut read: [Option<Value>; READ.len()] = Default::default();
                let mut others: Vec<Name<'de>> = Vec::new();
                while let Some(name) = access.next_key::<Name<'de>>()? {
                    // A claim given twice is ambiguous: JSON.parse keeps the last, others the first.
                    let twice = || A::Error::custom("a claim name appears twice");
                    match read_index(name.as_str()) {
                        Some(i) => {
                            if read[i].is_some() {
                                return Err(twice());
                            }
                            read[i] = Some(access.next_value::<Value>()?);
                        }
                        None => {
                            others.push(name);
                            access.next_value::<Valid>()?;
                        }
                    }
                }
                // Sorted, not compared pairwise: an 8 KiB payload holds ~1,500 short names.
                others.sort_unstable_by(|a, b| a.as_str().cmp(b.as_str()));
                if others.windows(2).any(|w| w[0].as_str() == w[1].as_str()) {
                    return Err(A::Error::custom("a claim name appears twice"));
                }
                Ok(Parsed(read))
            }
        }
        d.deserialize_map(Object)
    }
}

/// The read claims alone, the others skipped (for a payload that is not UTF-8).
struct ReadOnly;

impl<'de> Deserialize<'de> for ReadOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Object;
        impl<'de> Visitor<'de> for Object {
            type Value = ReadOnly;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of claims")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<ReadOnly, A::Error> {
                // Names as bytes: one that is not UTF-8 is no read claim's name.
                while let Some(RawName(name)) = access.next_key::<RawName>()? {
                    if std::str::from_utf8(&name).is_ok_and(|n| read_index(n).is_some()) {
                        access.next_value::<Value>()?;
                    } else {
                        access.next_value::<serde::de::IgnoredAny>()?;
                    }
                }
                Ok(ReadOnly)
            }
        }
        d.deserialize_map(Object)
    }
}

/// A claim name as bytes, UTF-8 or not (serde_json does not check a string read as bytes).
struct RawName(Vec<u8>);

impl<'de> Deserialize<'de> for RawName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Bytes;
        impl Visitor<'_> for Bytes {
            type Value = RawName;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_bytes<E>(self, v: &[u8]) -> Result<RawName, E> {
                Ok(RawName(v.to_vec()))
            }
            fn visit_str<E>(self, v: &str) -> Result<RawName, E> {
                Ok(RawName(v.as_bytes().to_vec()))
            }
        }
        d.deserialize_bytes(Bytes)
    }
}

/// A claim name, borrowed from the payload unless it holds escapes.
enum Name<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Name<'_> {
    fn as_str(&self) -> &str {
        match self {
            Name::Borrowed(s) => s,
            Name::Owned(s) => s,
        }
    }
}

impl<'de> Deserialize<'de> for Name<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> Visitor<'de> for Text {
            type Value = Name<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a claim name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Name<'de>, E> {
                Ok(Name::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Name<'de>, E> {
                Ok(Name::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(Text)
    }
}

/// Any JSON value, read as strictly as a [`Value`] is (escapes decoded, numbers in f64's range,
/// the nesting limit), but not built.
struct Valid;

impl<'de> Deserialize<'de> for Valid {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Valid)
    }
}

impl<'de> Visitor<'de> for Valid {
    type Value = Valid;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }
    fn visit_bool<E>(self, _: bool) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_str<E>(self, _: &str) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_unit<E>(self) -> Result<Valid, E> {
        Ok(Valid)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Valid, A::Error> {
        while seq.next_element::<Valid>()?.is_some() {}
        Ok(Valid)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Valid, A::Error> {
        while map.next_key::<Valid>()?.is_some() {
            map.next_value::<Valid>()?;
        }
        Ok(Valid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_read_claims_are_numbered_in_order() {
        for (i, name) in READ.iter().enumerate() {
            assert_eq!(read_index(name), Some(i));
        }
        assert_eq!(read_index("custom"), None);
    }

    #[test]
    fn an_object_with_each_name_once() {
        let c = Claims::parse(br#"{"sub":"user_1","n":null,"x":{"y":[1,2]}}"#).unwrap();
        assert_eq!(c.str("sub"), Some("user_1"));
        assert_eq!(c.get("n"), Some(&Value::Null));
        assert_eq!(c.get("x").unwrap()["y"][1], 2);
        assert_eq!(c.get("absent"), None);
        assert_eq!(c.as_map().len(), 3);
        for twice in [
            r#"{"sub":"a","sub":"b"}"#,
            r#"{"x":1,"x":2}"#,
            r#"{"x":1,"\u0078":2}"#,
            r#"{"s\u0075b":"a","sub":"b"}"#,
        ] {
            assert!(Claims::parse(twice.as_bytes()).is_none(), "{twice}");
        }
        let many: Vec<String> = (0..1500).map(|i| format!("\"c{i}\":1")).collect();
        assert!(Claims::parse(format!("{{{}}}", many.join(",")).as_bytes()).is_some());
        let twice = format!("{{{},\"c7\":2}}", many.join(","));
        assert!(Claims::parse(twice.as_bytes()).is_none());
        assert!(Claims::parse(b"[1]").is_none());
        assert!(Claims::parse(b"\"x\"").is_none());
    }

    #[test]
    fn what_a_value_cannot_hold_refuses_the_payload() {
        for bad in [
            r#"{"custom":1e400}"#.to_owned(),
            r#"{"custom":-1e400}"#.to_owned(),
            r#"{"x":"\ud800"}"#.to_owned(),
            r#"{"x":"\udc00 trailing"}"#.to_owned(),
            r#"{"x":{"\ud800":1}}"#.to_owned(),
            r#"{"x":"\q"}"#.to_owned(),
            format!(r#"{{"deep":{}{}}}"#, "[".repeat(200), "]".repeat(200)),
            format!(
                r#"{{"deep":{}1{}}}"#,
                "{\"a\":".repeat(200),
                "}".repeat(200)
            ),
        ] {
            assert!(Claims::parse(bad.as_bytes()).is_none(), "{bad}");
            // What a Value would make of it: the same verdict.
            assert!(serde_json::from_str::<Value>(&bad).is_err(), "{bad}");
        }
        let ok = format!(r#"{{"deep":{}{}}}"#, "[".repeat(100), "]".repeat(100));
        let c = Claims::parse(ok.as_bytes()).unwrap();
        assert!(c.as_map()["deep"].is_array());
    }

    #[test]
    fn bytes_that_are_not_utf8_become_replacement_characters() {
        let c = Claims::parse(b"{\"x\":\"a\xff\xfeb\"}").unwrap();
        assert_eq!(c.str("x"), Some("a\u{fffd}\u{fffd}b"));
        assert!(Claims::parse(b"{\"sub\":\"\xff\xfe\"}").is_none());
        // In a name nobody reads, too.
        let c = Claims::parse(b"{\"x\xff\":1,\"sub\":\"u\"}").unwrap();
        assert_eq!(c.as_map()["x\u{fffd}"], 1);
        assert_eq!(c.str("sub"), Some("u"));
    }
}
