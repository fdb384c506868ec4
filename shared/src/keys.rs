//! Clerk key formats (docs/contract.md, section 8): publishable keys, secret keys.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};

/// Standard alphabet, padding optional: Clerk's publishable keys come both ways.
const STANDARD_PAD_OPTIONAL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Which kind of Clerk instance a key belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Instance {
    /// `pk_test_` / `sk_test_`.
    Development,
    /// `pk_live_` / `sk_live_`.
    Production,
}

impl Instance {
    pub fn as_str(self) -> &'static str {
        match self {
            Instance::Development => "development",
            Instance::Production => "production",
        }
    }
}

/// Why a key was refused. The message never repeats a secret key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyFormatError {
    #[error("must start with pk_test_ or pk_live_")]
    PublishableKeyPrefix,
    #[error("the part after pk_test_/pk_live_ is not base64")]
    PublishableKeyBase64,
    #[error(
        "must encode `<frontend api host>$`: exactly one `$`, at the end, and a host with a dot"
    )]
    PublishableKeyHost,
    #[error("must start with sk_test_ or sk_live_ and contain only letters, digits and _")]
    SecretKeyFormat,
}

/// A parsed publishable key: public, safe to print.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishableKey {
    raw: String,
    instance: Instance,
    frontend_api: String,
}

impl PublishableKey {
    /// Parses `pk_test_...` / `pk_live_...` (Clerk's `parsePublishableKey`, made strict).
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let raw = raw.trim();
        let (instance, encoded) = if let Some(rest) = raw.strip_prefix("pk_test_") {
            (Instance::Development, rest)
        } else if let Some(rest) = raw.strip_prefix("pk_live_") {
            (Instance::Production, rest)
        } else {
            return Err(KeyFormatError::PublishableKeyPrefix);
        };
        let decoded = STANDARD_PAD_OPTIONAL
            .decode(encoded)
            .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(encoded.trim_end_matches('=')))
            .map_err(|_| KeyFormatError::PublishableKeyBase64)?;
        let text = String::from_utf8(decoded).map_err(|_| KeyFormatError::PublishableKeyHost)?;
        let host = text
            .strip_suffix('$')
            .ok_or(KeyFormatError::PublishableKeyHost)?;
        if !is_plausible_host(host) {
            return Err(KeyFormatError::PublishableKeyHost);
        }
        Ok(Self {
            raw: raw.to_owned(),
            instance,
            frontend_api: host.to_owned(),
        })
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }
    pub fn instance(&self) -> Instance {
        self.instance
    }
    /// The Frontend API host, e.g. `foo-bar-13.clerk.accounts.dev`.
    pub fn frontend_api(&self) -> &str {
        &self.frontend_api
    }
    /// The issuer Clerk puts in `iss`: `https://<frontend api>`.
    pub fn issuer(&self) -> String {
        format!("https://{}", self.frontend_api)
    }

    /// Builds the publishable key of a Frontend API host (used by the stand-in and tests).
    pub fn encode(instance: Instance, frontend_api: &str) -> String {
        let prefix = match instance {
            Instance::Development => "pk_test_",
            Instance::Production => "pk_live_",
        };
        format!(
            "{prefix}{}",
            general_purpose::STANDARD.encode(format!("{frontend_api}$"))
        )
    }
}

fn is_plausible_host(host: &str) -> bool {
    !host.is_empty()
        && host.len() <= 253
        && host.contains('.')
        && !host.starts_with('.')
        && !host.ends_with('.')
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b':')
}

/// A Clerk secret key (`sk_test_...` / `sk_live_...`). Never printed: `Debug` and `Display` show
/// only the instance kind.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretKey(String);

impl SecretKey {
    pub fn parse(raw: &str) -> Result<Self, KeyFormatError> {
        let raw = raw.trim();
        let rest = raw
            .strip_prefix("sk_test_")
            .or_else(|| raw.strip_prefix("sk_live_"))
            .ok_or(KeyFormatError::SecretKeyFormat)?;
        if rest.is_empty() || !rest.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(KeyFormatError::SecretKeyFormat);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn instance(&self) -> Instance {
        if self.0.starts_with("sk_live_") {
            Instance::Production
        } else {
            Instance::Development
        }
    }

    /// The key itself, for the `Authorization` header of a Backend API call and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretKey({}, [redacted])", self.instance().as_str())
    }
}

impl fmt::Display for SecretKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clerk_vectors_parse() {
        let pk = PublishableKey::parse("pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk").unwrap();
        assert_eq!(pk.frontend_api(), "foo-bar-13.clerk.accounts.dev");
        assert_eq!(pk.issuer(), "https://foo-bar-13.clerk.accounts.dev");
        assert_eq!(pk.instance(), Instance::Development);
        let pk =
            PublishableKey::parse("pk_test_Y2xlcmsuYm9yaW5nLnNhd2ZseS05MS5sY2wuZGV2JA").unwrap();
        assert_eq!(pk.frontend_api(), "clerk.boring.sawfly-91.lcl.dev");
    }

    #[test]
    fn clerk_invalid_vectors_are_refused() {
        for bad in [
            "pk_live_aW52YWxpZGtleSQ=",         // no dot
            "pk_live_Zm9vLmJhci5jb20kJGV4dHJh", // text after `$`
            "pk_live_Zm9vLmJhci5jb20kJA==",     // two `$`
            "pk_live_",                         // empty
            "sk_live_Zm9vLmJhci5jb20k",         // a secret key
            "pk_prod_Zm9vLmJhci5jb20k",         // wrong prefix
            "pk_test_!!!",                      // not base64
        ] {
            assert!(PublishableKey::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn encode_round_trips() {
        let raw = PublishableKey::encode(Instance::Production, "clerk.example.com");
        let pk = PublishableKey::parse(&raw).unwrap();
        assert_eq!(pk.frontend_api(), "clerk.example.com");
        assert_eq!(pk.instance(), Instance::Production);
    }

    #[test]
    fn secret_key_redacts_itself() {
        let sk = SecretKey::parse("sk_test_abcDEF123").unwrap();
        assert_eq!(format!("{sk}"), "[redacted]");
        let dbg = format!("{sk:?}");
        assert!(!dbg.contains("abcDEF123"), "{dbg}");
        assert!(dbg.contains("development"));
        assert!(SecretKey::parse("pk_test_abc").is_err());
        assert!(SecretKey::parse("sk_test_").is_err());
        assert!(SecretKey::parse("sk_test_a b").is_err());
    }
}
