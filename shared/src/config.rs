//! Configuration, read once from the environment and validated. A wrong value fails fast with a
//! message that names the variable and what it expected.

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
    /// `CLERK_CLOCK_SKEW_MS`. Default 5000; 0 is honoured; at most 60000.
    pub clock_skew_ms: u64,
    /// `CLERK_ACCEPT_PENDING_SESSIONS` (`true`/`false`). Default `false`: a `pending` session is
    /// treated as signed out, as Clerk does.
    pub accept_pending: bool,
    /// Key set cache: `CLERK_JWKS_TTL_SECS` (default 300), `CLERK_JWKS_COOLDOWN_SECS` (default
    /// 30), `CLERK_JWKS_MAX_AGE_SECS` (default 3600: how long a stale set keeps serving while
    /// Clerk is down).
    pub key_cache: KeyCacheSettings,
    /// `CLERK_SECRET_TTL_SECS`: how long the secret is used before it is read again. Default 300.
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

        let clock_skew_ms = match get("CLERK_CLOCK_SKEW_MS") {
            None => DEFAULT_CLOCK_SKEW_MS,
            Some(v) => v
                .parse::<u64>()
                .ok()
                .filter(|ms| *ms <= MAX_CLOCK_SKEW_MS)
                .ok_or_else(|| {
                    ConfigError::new(
                        "CLERK_CLOCK_SKEW_MS",
                        format!("expected whole milliseconds from 0 to {MAX_CLOCK_SKEW_MS}"),
                    )
                })?,
        };

        let accept_pending = parse_bool(get("CLERK_ACCEPT_PENDING_SESSIONS"))
            .map_err(|m| ConfigError::new("CLERK_ACCEPT_PENDING_SESSIONS", m))?;

        let defaults = KeyCacheSettings::default();
        let key_cache = KeyCacheSettings {
            ttl: parse_secs(get("CLERK_JWKS_TTL_SECS"), defaults.ttl.as_secs())
                .map_err(|m| ConfigError::new("CLERK_JWKS_TTL_SECS", m))?,
            cooldown: parse_secs(get("CLERK_JWKS_COOLDOWN_SECS"), defaults.cooldown.as_secs())
                .map_err(|m| ConfigError::new("CLERK_JWKS_COOLDOWN_SECS", m))?,
            max_age: parse_secs(get("CLERK_JWKS_MAX_AGE_SECS"), defaults.max_age.as_secs())
                .map_err(|m| ConfigError::new("CLERK_JWKS_MAX_AGE_SECS", m))?,
            ..defaults
        };
        if key_cache.max_age < key_cache.ttl {
            return Err(ConfigError::new(
                "CLERK_JWKS_MAX_AGE_SECS",
                "must be at least CLERK_JWKS_TTL_SECS",
            ));
        }
        let secret_ttl = parse_secs(get("CLERK_SECRET_TTL_SECS"), 300)
            .map_err(|m| ConfigError::new("CLERK_SECRET_TTL_SECS", m))?;

        let signature_cache = match get("CLERK_SIGNATURE_CACHE_SIZE") {
            None => crate::sig_cache::DEFAULT_CAPACITY,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n <= 65_536)
                .ok_or_else(|| {
                    ConfigError::new(
                        "CLERK_SIGNATURE_CACHE_SIZE",
                        "expected a whole number from 0 (off) to 65536",
                    )
                })?,
        };

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

fn parse_bool(v: Option<String>) -> Result<bool, String> {
    match v.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("false" | "0" | "no" | "off") => Ok(false),
        Some("true" | "1" | "yes" | "on") => Ok(true),
        Some(_) => Err("expected true or false".into()),
    }
}

fn parse_secs(v: Option<String>, default: u64) -> Result<Duration, String> {
    match v {
        None => Ok(Duration::from_secs(default)),
        Some(v) => v
            .parse::<u64>()
            .ok()
            .filter(|s| (1..=86_400).contains(s))
            .map(Duration::from_secs)
            .ok_or_else(|| "expected whole seconds from 1 to 86400".into()),
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

/// The issuer as written (tokens are compared with it exactly), once it parses as a URL.
fn parse_issuer(raw: &str) -> Result<String, String> {
    parse_http_url(raw, "https://clerk.example.com")
        .map_err(|_| "expected https://<host>".to_owned())?;
    Ok(raw.trim_end_matches('/').to_owned())
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
