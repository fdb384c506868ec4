//! Configuration, read once from the environment and validated. A wrong value fails fast with a
//! message that names the variable and what it expected (docs/contract.md, section 8).

use std::time::Duration;

use url::{Host, Url};

use crate::jwks::KeyCacheSettings;
use crate::keys::{KeyFormatError, PublishableKey};
use crate::rsa_key::RsaKey;

/// Clerk's Backend API.
pub const DEFAULT_API_URL: &str = "https://api.clerk.com";
/// Clock skew allowed for `exp`, `nbf` and `iat`.
pub const DEFAULT_CLOCK_SKEW_MS: u64 = 5_000;
/// Largest skew accepted: beyond a minute a session token (60 s lifetime) means nothing.
pub const MAX_CLOCK_SKEW_MS: u64 = 60_000;

/// How a [`Setting`] is written, and what its message says it expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Whole milliseconds.
    Millis,
    /// Whole seconds.
    Secs,
    /// A whole number; `zero` says what 0 means, if it means something special.
    Count { zero: Option<&'static str> },
    /// `true`/`false` (also `1`/`0`, `yes`/`no`, `on`/`off`, any case), read as 1/0.
    Flag,
}

/// A numeric or on/off setting, declared once in [`SETTINGS`]: its variable, default, allowed
/// range and unit (which words the message). [`Config::from_lookup`] reads each with
/// [`Setting::read`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Setting {
    /// The environment variable.
    pub var: &'static str,
    /// The value when the variable is unset or empty.
    pub default: u64,
    /// The smallest value accepted.
    pub min: u64,
    /// The largest value accepted.
    pub max: u64,
    /// How it is written and what the message says.
    pub unit: Unit,
}

impl Setting {
    /// The value of `raw` (trimmed, `None` when unset or empty), or the error that names the
    /// variable and what it expected.
    pub fn read(&self, raw: Option<&str>) -> Result<u64, ConfigError> {
        let Some(raw) = raw else {
            return Ok(self.default);
        };
        let value = match self.unit {
            Unit::Flag => match raw.to_ascii_lowercase().as_str() {
                "false" | "0" | "no" | "off" => Some(0),
                "true" | "1" | "yes" | "on" => Some(1),
                _ => None,
            },
            Unit::Millis | Unit::Secs | Unit::Count { .. } => raw.parse::<u64>().ok(),
        };
        value
            .filter(|v| (self.min..=self.max).contains(v))
            .ok_or_else(|| ConfigError::new(self.var, self.expected()))
    }

    /// What the message for a value that cannot be used says.
    pub fn expected(&self) -> String {
        let (min, max) = (self.min, self.max);
        match self.unit {
            Unit::Millis => format!("expected whole milliseconds from {min} to {max}"),
            Unit::Secs => format!("expected whole seconds from {min} to {max}"),
            Unit::Count { zero } => match zero.filter(|_| min == 0) {
                Some(zero) => format!("expected a whole number from 0 ({zero}) to {max}"),
                None => format!("expected a whole number from {min} to {max}"),
            },
            Unit::Flag => "expected true or false".to_owned(),
        }
    }
}

/// Longest TTL, cool-down or age accepted for the caches: a day.
const MAX_SECS: u64 = 86_400;

/// `CLERK_CLOCK_SKEW_MS`.
pub const CLOCK_SKEW_MS: Setting = Setting {
    var: "CLERK_CLOCK_SKEW_MS",
    default: DEFAULT_CLOCK_SKEW_MS,
    min: 0,
    max: MAX_CLOCK_SKEW_MS,
    unit: Unit::Millis,
};
/// `CLERK_ACCEPT_PENDING_SESSIONS`.
pub const ACCEPT_PENDING_SESSIONS: Setting = Setting {
    var: "CLERK_ACCEPT_PENDING_SESSIONS",
    default: 0,
    min: 0,
    max: 1,
    unit: Unit::Flag,
};
/// `CLERK_JWKS_TTL_SECS` (the default is [`KeyCacheSettings::default`]'s, a test checks it).
pub const JWKS_TTL_SECS: Setting = Setting {
    var: "CLERK_JWKS_TTL_SECS",
    default: 300,
    min: 1,
    max: MAX_SECS,
    unit: Unit::Secs,
};
/// `CLERK_JWKS_COOLDOWN_SECS`.
pub const JWKS_COOLDOWN_SECS: Setting = Setting {
    var: "CLERK_JWKS_COOLDOWN_SECS",
    default: 30,
    min: 1,
    max: MAX_SECS,
    unit: Unit::Secs,
};
/// `CLERK_JWKS_MAX_AGE_SECS` (also at least `CLERK_JWKS_TTL_SECS`, checked after both are read).
pub const JWKS_MAX_AGE_SECS: Setting = Setting {
    var: "CLERK_JWKS_MAX_AGE_SECS",
    default: 3600,
    min: 1,
    max: MAX_SECS,
    unit: Unit::Secs,
};
/// `CLERK_SECRET_TTL_SECS`.
pub const SECRET_TTL_SECS: Setting = Setting {
    var: "CLERK_SECRET_TTL_SECS",
    default: 300,
    min: 1,
    max: MAX_SECS,
    unit: Unit::Secs,
};
/// `CLERK_SIGNATURE_CACHE_SIZE`.
pub const SIGNATURE_CACHE_SIZE: Setting = Setting {
    var: "CLERK_SIGNATURE_CACHE_SIZE",
    default: crate::sig_cache::DEFAULT_CAPACITY as u64,
    min: 0,
    max: 65_536,
    unit: Unit::Count { zero: Some("off") },
};

// The defaults pass the check that relates the two.
const _: () = assert!(JWKS_MAX_AGE_SECS.default >= JWKS_TTL_SECS.default);

/// Every numeric and on/off setting [`Config::from_lookup`] reads.
pub const SETTINGS: [Setting; 7] = [
    CLOCK_SKEW_MS,
    ACCEPT_PENDING_SESSIONS,
    JWKS_TTL_SECS,
    JWKS_COOLDOWN_SECS,
    JWKS_MAX_AGE_SECS,
    SECRET_TTL_SECS,
    SIGNATURE_CACHE_SIZE,
];

/// A configuration value that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{var}: {message}")]
pub struct ConfigError {
    /// The environment variable at fault.
    pub var: &'static str,
    /// What it expected.
    pub message: String,
}

impl ConfigError {
    pub fn new(var: &'static str, message: impl Into<String>) -> Self {
        Self {
            var,
            message: message.into(),
        }
    }
}

/// Everything the verifier and the functions need, validated.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Config {
    /// `CLERK_PUBLISHABLE_KEY` (required).
    pub publishable_key: PublishableKey,
    /// The issuer every token must carry: `https://<frontend api>` of the publishable key, or
    /// `CLERK_ISSUER` (proxy or satellite set-ups). No default beyond that.
    pub issuer: String,
    /// `CLERK_AUTHORIZED_PARTIES` (required, comma-separated origins of the sign-in site). Never
    /// empty, so `azp` is always checked.
    pub authorized_parties: Vec<String>,
    /// `CLERK_SECRET_ID`: name or ARN of the Secrets Manager secret holding the secret key.
    /// Default: none (networkless verification only; `/api/me` then cannot work).
    pub secret_id: Option<String>,
    /// `CLERK_JWT_KEY`: PEM public key for networkless verification. Default: none (the key set
    /// is fetched from the Backend API, unless the secret carries a `CLERK_JWT_KEY`).
    pub jwt_key: Option<RsaKey>,
    /// `CLERK_API_URL`. Default `https://api.clerk.com`; plain `http://` only for loopback hosts.
    pub api_url: String,
    /// `CLERK_CLOCK_SKEW_MS`. Default 5000; 0 is honoured; at most 60000. The numeric and on/off
    /// settings below are declared, with their ranges, in [`SETTINGS`].
    pub clock_skew_ms: u64,
    /// `CLERK_ACCEPT_PENDING_SESSIONS` (`true`/`false`). Default `false`: a `pending` session is
    /// treated as signed out, as Clerk does.
    pub accept_pending: bool,
    /// Key set cache: `CLERK_JWKS_TTL_SECS` (default 300), `CLERK_JWKS_COOLDOWN_SECS` (default
    /// 30), `CLERK_JWKS_MAX_AGE_SECS` (default 3600: how long a stale set keeps serving while
    /// Clerk is down; at least the TTL). Each from 1 to 86400.
    pub key_cache: KeyCacheSettings,
    /// `CLERK_SECRET_TTL_SECS`: how long the secret is used before it is read again. Default 300;
    /// from 1 to 86400.
    pub secret_ttl: Duration,
    /// `CLERK_SIGNATURE_CACHE_SIZE`: signatures remembered as verified (see
    /// [`crate::sig_cache`]). Default 1024; 0 turns the cache off (every request pays the RSA
    /// check); at most 65536.
    pub signature_cache: usize,
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads through `lookup` (tests pass a map). Empty values count as unset.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };

        let pk_raw = get("CLERK_PUBLISHABLE_KEY").ok_or_else(|| {
            ConfigError::new(
                "CLERK_PUBLISHABLE_KEY",
                "is required (pk_test_... or pk_live_..., from the Clerk dashboard, API keys)",
            )
        })?;
        let publishable_key = PublishableKey::parse(&pk_raw)
            .map_err(|e| ConfigError::new("CLERK_PUBLISHABLE_KEY", e.to_string()))?;

        let issuer = match get("CLERK_ISSUER") {
            Some(iss) => parse_issuer(&iss).map_err(|m| ConfigError::new("CLERK_ISSUER", m))?,
            None => publishable_key.issuer(),
        };

        let authorized_parties =
            parse_authorized_parties(get("CLERK_AUTHORIZED_PARTIES").as_deref().unwrap_or(""))
                .map_err(|m| ConfigError::new("CLERK_AUTHORIZED_PARTIES", m))?;

        let jwt_key = match get("CLERK_JWT_KEY") {
            Some(pem) => Some(
                RsaKey::from_pem(&pem, None)
                    .map_err(|e| ConfigError::new("CLERK_JWT_KEY", e.to_string()))?,
            ),
            None => None,
        };

        let api_url = parse_api_url(get("CLERK_API_URL").as_deref().unwrap_or(DEFAULT_API_URL))
            .map_err(|m| ConfigError::new("CLERK_API_URL", m))?;

        let read = |setting: &Setting| setting.read(get(setting.var).as_deref());
        let secs = |setting: &Setting| read(setting).map(Duration::from_secs);

        let clock_skew_ms = read(&CLOCK_SKEW_MS)?;
        let accept_pending = read(&ACCEPT_PENDING_SESSIONS)? == 1;
        let key_cache = KeyCacheSettings {
            ttl: secs(&JWKS_TTL_SECS)?,
            cooldown: secs(&JWKS_COOLDOWN_SECS)?,
            max_age: secs(&JWKS_MAX_AGE_SECS)?,
            ..KeyCacheSettings::default()
        };
        if key_cache.max_age < key_cache.ttl {
            return Err(ConfigError::new(
                JWKS_MAX_AGE_SECS.var,
                "must be at least CLERK_JWKS_TTL_SECS",
            ));
        }
        let secret_ttl = secs(&SECRET_TTL_SECS)?;
        // At most 65536: fits any usize.
        let signature_cache = read(&SIGNATURE_CACHE_SIZE)? as usize;

        Ok(Self {
            publishable_key,
            issuer,
            authorized_parties,
            secret_id: get("CLERK_SECRET_ID"),
            jwt_key,
            api_url,
            clock_skew_ms,
            accept_pending,
            key_cache,
            secret_ttl,
            signature_cache,
        })
    }

    /// The secret id, or the error that says it is needed.
    pub fn require_secret_id(&self) -> Result<&str, ConfigError> {
        self.secret_id.as_deref().ok_or_else(|| {
            ConfigError::new(
                "CLERK_SECRET_ID",
                "is required (name or ARN of the Secrets Manager secret holding sk_...)",
            )
        })
    }
}

impl From<KeyFormatError> for ConfigError {
    fn from(e: KeyFormatError) -> Self {
        ConfigError::new("CLERK_PUBLISHABLE_KEY", e.to_string())
    }
}

/// Hosts allowed to be reached over plain `http://`.
pub fn is_loopback_host(host: &Host<&str>) -> bool {
    match host {
        Host::Domain(d) => d.eq_ignore_ascii_case("localhost"),
        Host::Ipv4(ip) => ip.is_loopback(),
        Host::Ipv6(ip) => ip.is_loopback(),
    }
}

/// An absolute `https://` URL with a host and no user info, query or fragment (`http://` for a
/// loopback host only), as `url` parses it (WHATWG rules).
fn parse_http_url(raw: &str, example: &str) -> Result<Url, String> {
    let expected = || format!("expected an absolute URL such as {example}");
    let url = Url::parse(raw).map_err(|_| expected())?;
    let host = url.host().ok_or_else(expected)?;
    if !url.username().is_empty()
        || url.password().is_some()
        || url.query().is_some()
        || url.fragment().is_some()
        || raw.contains(char::is_whitespace)
    {
        return Err(expected());
    }
    match url.scheme() {
        "https" => Ok(url),
        "http" if is_loopback_host(&host) => Ok(url),
        "http" => Err("plain http:// is only allowed for loopback hosts".into()),
        _ => Err(format!("expected https://, e.g. {example}")),
    }
}

/// The URL without a trailing slash (paths are appended to it).
fn without_trailing_slash(url: &Url) -> String {
    url.as_str().trim_end_matches('/').to_owned()
}

fn parse_api_url(raw: &str) -> Result<String, String> {
    parse_http_url(raw, DEFAULT_API_URL).map(|u| without_trailing_slash(&u))
}

/// The issuer, compared exactly with each token's `iss`: so written as Clerk writes it (lower
/// case, no default port, no path), else refused with the form expected.
fn parse_issuer(raw: &str) -> Result<String, String> {
    let url = parse_http_url(raw, "https://clerk.example.com")
        .map_err(|_| "expected https://<host>".to_owned())?;
    let origin = url.origin().ascii_serialization();
    if origin != raw.trim_end_matches('/') {
        return Err(format!(
            "expected https://<host> as tokens carry it: `{origin}`"
        ));
    }
    Ok(origin)
}

/// Origins: `scheme://host[:port]`, no path, compared exactly with `azp`, so written as a
/// browser writes an origin (lower case, no default port, no trailing slash).
pub fn parse_authorized_parties(raw: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for item in raw.split(',').map(str::trim).filter(|s| !s.is_empty()) {
        let origin = Url::parse(item)
            .ok()
            .filter(|u| {
                matches!(u.scheme(), "https" | "http")
                    && u.host().is_some()
                    && u.path() == "/"
                    && u.username().is_empty()
                    && u.password().is_none()
                    && u.query().is_none()
                    && u.fragment().is_none()
                    && !item.trim_end_matches('/').ends_with(['/', '?', '#'])
            })
            .map(|u| u.origin().ascii_serialization())
            .ok_or_else(|| {
                format!(
                    "`{item}` is not an origin (expected scheme://host[:port], e.g. https://app.example.com)"
                )
            })?;
        if !out.contains(&origin) {
            out.push(origin);
        }
    }
    if out.is_empty() {
        return Err("is required: the comma-separated origins of the sign-in site (an empty list would let any site's token in)".into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const PK: &str = "pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk";

    fn cfg(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn minimal_config_has_documented_defaults() {
        let c = cfg(&[
            ("CLERK_PUBLISHABLE_KEY", PK),
            (
                "CLERK_AUTHORIZED_PARTIES",
                "https://app.example.com/, http://localhost:5173",
            ),
        ])
        .unwrap();
        assert_eq!(c.issuer, "https://foo-bar-13.clerk.accounts.dev");
        assert_eq!(
            c.authorized_parties,
            ["https://app.example.com", "http://localhost:5173"]
        );
        assert_eq!(c.api_url, DEFAULT_API_URL);
        assert_eq!(c.clock_skew_ms, 5000);
        assert!(!c.accept_pending);
        assert!(c.secret_id.is_none() && c.jwt_key.is_none());
        assert_eq!(c.key_cache.ttl, Duration::from_secs(300));
        assert_eq!(c.key_cache.cooldown, Duration::from_secs(30));
        assert_eq!(c.key_cache.max_age, Duration::from_secs(3600));
        assert_eq!(c.secret_ttl, Duration::from_secs(300));
        assert_eq!(c.signature_cache, 1024);
    }

    #[test]
    fn each_setting_default_is_in_its_range_and_matches_the_code_it_configures() {
        for s in SETTINGS {
            assert!(s.min <= s.default && s.default <= s.max, "{s:?}");
            assert_eq!(s.read(None), Ok(s.default), "{s:?}");
            for edge in [s.min, s.max] {
                assert_eq!(s.read(Some(&edge.to_string())), Ok(edge), "{s:?}");
            }
            let others = SETTINGS.iter().filter(|o| o.var == s.var).count();
            assert_eq!(others, 1, "{} declared twice", s.var);
        }
        let cache = KeyCacheSettings::default();
        assert_eq!(JWKS_TTL_SECS.default, cache.ttl.as_secs());
        assert_eq!(JWKS_COOLDOWN_SECS.default, cache.cooldown.as_secs());
        assert_eq!(JWKS_MAX_AGE_SECS.default, cache.max_age.as_secs());
        assert_eq!(
            SIGNATURE_CACHE_SIZE.default,
            crate::sig_cache::DEFAULT_CAPACITY as u64
        );
    }

    #[test]
    fn each_setting_refuses_values_outside_its_range_naming_its_variable() {
        let base = [
            ("CLERK_PUBLISHABLE_KEY", PK),
            ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com"),
        ];
        for s in SETTINGS {
            let mut bad = vec![
                (s.max + 1).to_string(),
                "x".into(),
                "-1".into(),
                "1.5".into(),
            ];
            if s.min > 0 {
                bad.push((s.min - 1).to_string());
            }
            for value in &bad {
                let mut pairs = base.to_vec();
                pairs.push((s.var, value));
                let err = cfg(&pairs).expect_err(&format!("{}={value} accepted", s.var));
                assert_eq!(err, ConfigError::new(s.var, s.expected()), "{value}");
                assert!(err.to_string().starts_with(s.var), "{err}");
            }
        }
    }

    #[test]
    fn setting_messages_say_what_is_expected() {
        let expected = [
            (CLOCK_SKEW_MS, "expected whole milliseconds from 0 to 60000"),
            (ACCEPT_PENDING_SESSIONS, "expected true or false"),
            (JWKS_TTL_SECS, "expected whole seconds from 1 to 86400"),
            (JWKS_COOLDOWN_SECS, "expected whole seconds from 1 to 86400"),
            (JWKS_MAX_AGE_SECS, "expected whole seconds from 1 to 86400"),
            (SECRET_TTL_SECS, "expected whole seconds from 1 to 86400"),
            (
                SIGNATURE_CACHE_SIZE,
                "expected a whole number from 0 (off) to 65536",
            ),
        ];
        assert_eq!(expected.len(), SETTINGS.len());
        for (s, message) in expected {
            assert_eq!(s.expected(), message, "{}", s.var);
        }
        for (raw, value) in [("TRUE", 1), ("yes", 1), ("On", 1), ("no", 0), ("off", 0)] {
            assert_eq!(ACCEPT_PENDING_SESSIONS.read(Some(raw)), Ok(value), "{raw}");
        }
    }

    #[test]
    fn each_bad_value_names_its_variable() {
        let base = [
            ("CLERK_PUBLISHABLE_KEY", PK),
            ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com"),
        ];
        let cases: &[(&str, &str)] = &[
            ("CLERK_PUBLISHABLE_KEY", "pk_live_aW52YWxpZGtleSQ="),
            ("CLERK_PUBLISHABLE_KEY", ""),
            ("CLERK_AUTHORIZED_PARTIES", ""),
            ("CLERK_AUTHORIZED_PARTIES", " , "),
            ("CLERK_AUTHORIZED_PARTIES", "app.example.com"),
            ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com/path"),
            ("CLERK_API_URL", "http://api.clerk.com"),
            ("CLERK_API_URL", "ftp://x"),
            ("CLERK_API_URL", "https://user:pw@api.clerk.com"),
            ("CLERK_API_URL", "https://api.clerk.com/?x=1"),
            ("CLERK_API_URL", "http://127.0.0.2.evil.example"),
            ("CLERK_AUTHORIZED_PARTIES", "https://app.example.com?x"),
            ("CLERK_AUTHORIZED_PARTIES", "https://a@app.example.com"),
            ("CLERK_AUTHORIZED_PARTIES", "null"),
            ("CLERK_ISSUER", "http://evil.example.com"),
            ("CLERK_ISSUER", "https://Clerk.Example.com"),
            ("CLERK_ISSUER", "https://clerk.example.com:443"),
            ("CLERK_ISSUER", "https://clerk.example.com/path"),
            ("CLERK_CLOCK_SKEW_MS", "-1"),
            ("CLERK_CLOCK_SKEW_MS", "600000"),
            ("CLERK_ACCEPT_PENDING_SESSIONS", "maybe"),
            (
                "CLERK_JWT_KEY",
                "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----",
            ),
            ("CLERK_JWKS_TTL_SECS", "0"),
            ("CLERK_JWKS_MAX_AGE_SECS", "10"),
        ];
        for (var, value) in cases {
            let mut pairs: Vec<(&str, &str)> =
                base.iter().copied().filter(|(k, _)| k != var).collect();
            pairs.push((var, value));
            let err = cfg(&pairs).expect_err(&format!("{var}={value} accepted"));
            assert_eq!(err.var, *var, "{err}");
            assert!(err.to_string().starts_with(var));
        }
    }

    #[test]
    fn loopback_http_and_overrides_are_accepted() {
        let c = cfg(&[
            ("CLERK_PUBLISHABLE_KEY", PK),
            ("CLERK_AUTHORIZED_PARTIES", "https://a.example.com"),
            ("CLERK_API_URL", "http://127.0.0.1:8123/"),
            ("CLERK_ISSUER", "https://clerk.example.com/"),
            ("CLERK_CLOCK_SKEW_MS", "0"),
            ("CLERK_ACCEPT_PENDING_SESSIONS", "true"),
            ("CLERK_SECRET_ID", "clerk/secret"),
        ])
        .unwrap();
        assert_eq!(c.api_url, "http://127.0.0.1:8123");
        assert_eq!(c.issuer, "https://clerk.example.com");
        assert_eq!(c.clock_skew_ms, 0);
        assert!(c.accept_pending);
        assert_eq!(c.require_secret_id().unwrap(), "clerk/secret");
        let c = cfg(&[
            ("CLERK_PUBLISHABLE_KEY", PK),
            (
                "CLERK_AUTHORIZED_PARTIES",
                "HTTPS://App.Example.com:443, http://[::1]:5173/",
            ),
            ("CLERK_API_URL", "http://localhost:8123/base/"),
        ])
        .unwrap();
        // As a browser writes the origin it sends in azp.
        assert_eq!(
            c.authorized_parties,
            ["https://app.example.com", "http://[::1]:5173"]
        );
        assert_eq!(c.api_url, "http://localhost:8123/base");
    }
}
