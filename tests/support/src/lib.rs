//! Fixtures and fakes for the tests, the Clerk stand-in and the benchmarks (never in a Lambda
//! binary): the test instance's constants, RSA keys that sign session tokens, API Gateway events,
//! a counting secret source; and, in [`bench`], the benchmarks' harness.

pub mod bench;
/// A checker for CloudWatch Embedded Metric Format lines (`shared::metrics`).
pub mod emf;

/// The test instance's publishable key (development, Frontend API `foo-bar-13.clerk.accounts.dev`).
pub const PK: &str = "pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk";
/// The issuer of [`PK`]'s instance.
pub const ISS: &str = "https://foo-bar-13.clerk.accounts.dev";
/// The sign-in site's origin the tests authorize.
pub const AZP: &str = "https://app.example.com";
/// "Now" of the tests on a manual clock, in seconds (2027-01-15).
pub const NOW: i64 = 1_800_000_000;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::rsa::{KeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{KeyPair as _, RSA_PKCS1_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};

use shared::rsa_key::RsaKey;

/// An RSA-2048 signing key with its `kid`.
#[derive(Debug)]
pub struct TestKey {
    pair: KeyPair,
    kid: String,
}

impl TestKey {
    /// # Panics
    /// If key generation fails (test support only).
    #[allow(clippy::expect_used)]
    pub fn generate(kid: impl Into<String>) -> Self {
        Self {
            pair: KeyPair::generate(KeySize::Rsa2048).expect("RSA key generation"),
            kid: kid.into(),
        }
    }

    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The public key as a PEM `PUBLIC KEY` (SPKI), as Clerk's dashboard shows it.
    #[allow(clippy::expect_used)]
    pub fn public_pem(&self) -> String {
        let der = self.pair.public_key().as_der().expect("SPKI encoding");
        let b64 = STANDARD.encode(der.as_ref());
        let mut pem = String::from("-----BEGIN PUBLIC KEY-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            pem.push_str(&String::from_utf8_lossy(chunk));
            pem.push('\n');
        }
        pem.push_str("-----END PUBLIC KEY-----\n");
        pem
    }

    /// The public key as Clerk's JWKS lists it.
    pub fn jwk(&self) -> Value {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        json!({
            "use": "sig",
            "kty": "RSA",
            "kid": self.kid,
            "alg": "RS256",
            "n": URL_SAFE_NO_PAD.encode(&c.n),
            "e": URL_SAFE_NO_PAD.encode(&c.e),
        })
    }

    /// The verification key.
    #[allow(clippy::expect_used)]
    pub fn rsa_key(&self) -> RsaKey {
        RsaKey::from_pem(&self.public_pem(), Some(self.kid.clone())).expect("own key parses")
    }

    /// RS256 signature of `signing_input`, base64url.
    #[allow(clippy::expect_used)]
    pub fn sign_input(&self, signing_input: &str) -> String {
        let mut sig = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut sig,
            )
            .expect("RSA signing");
        URL_SAFE_NO_PAD.encode(sig)
    }

    /// A token with exactly this header and payload, signed (whatever `alg` says).
    pub fn sign_json(&self, header: &Value, payload: &Value) -> String {
        let input = format!("{}.{}", b64_json(header), b64_json(payload));
        let sig = self.sign_input(&input);
        format!("{input}.{sig}")
    }

    /// A standard RS256 header for this key, and `payload`.
    pub fn sign(&self, payload: &Value) -> String {
        self.sign_json(&self.header(), payload)
    }

    pub fn header(&self) -> Value {
        json!({"alg": "RS256", "kid": self.kid, "typ": "JWT", "cat": "cl_B7d4PD111AAA"})
    }
}

/// base64url (no padding) of a JSON value.
pub fn b64_json(v: &Value) -> String {
    URL_SAFE_NO_PAD.encode(v.to_string())
}

/// The claims of a valid v2 session token issued at `now_secs` (60 s lifetime, `nbf` 10 s back).
pub fn session_claims(issuer: &str, azp: &str, now_secs: i64) -> Value {
    json!({
        "azp": azp,
        "exp": now_secs + 60,
        "fva": [0, -1],
        "iat": now_secs,
        "iss": issuer,
        "nbf": now_secs - 10,
        "sid": "sess_2testSession",
        "sts": "active",
        "sub": "user_2testUser",
        "v": 2,
    })
}

/// An API Gateway HTTP API (payload v2) event, as Lambda delivers it.
pub fn apigw_v2_event(method: &str, path: &str, headers: &[(&str, &str)]) -> String {
    let mut h = serde_json::Map::new();
    h.insert(
        "host".into(),
        json!("abc123.execute-api.us-east-1.amazonaws.com"),
    );
    h.insert("user-agent".into(), json!("test"));
    for (k, v) in headers {
        h.insert((*k).to_lowercase(), json!(v));
    }
    json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": "",
        "headers": h,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "domainPrefix": "abc123",
            "http": {
                "method": method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": "192.0.2.1",
                "userAgent": "test"
            },
            "requestId": "req-test-1",
            "routeKey": "$default",
            "stage": "$default",
            "time": "29/Nov/2026:00:00:00 +0000",
            "timeEpoch": 1_800_000_000_000_i64
        },
        "isBase64Encoded": false
    })
    .to_string()
}

/// The request a function gets for the event `bytes`, as in Lambda: the runtime's parse (raw JSON,
/// `serde_path_to_error` over serde_json), then [`shared::lambda::request`].
///
/// # Errors
/// When the bytes are not an API Gateway HTTP API event.
pub fn event_to_request(bytes: &[u8]) -> Result<lambda_http::Request, shared::lambda::Refused> {
    let raw: Box<serde_json::value::RawValue> =
        serde_path_to_error::deserialize(&mut serde_json::Deserializer::from_slice(bytes))
            .map_err(|e| shared::lambda::Refused::NotHttpApi(e.into_inner()))?;
    shared::lambda::request(raw.get(), lambda_http::Context::default())
}

/// The bytes the Lambda runtime sends back to API Gateway for `resp`.
///
/// # Panics
/// If the response cannot be serialized (test support only).
#[allow(clippy::expect_used)]
pub fn serialize_response(resp: lambda_http::Response<lambda_http::Body>) -> Vec<u8> {
    serde_json::to_vec(&shared::lambda::response(resp)).expect("a serializable response")
}

/// A request parsed from [`apigw_v2_event`], as the functions receive it.
///
/// # Panics
/// If lambda_http cannot parse the event (test support only).
#[allow(clippy::expect_used)]
pub fn apigw_v2_request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> lambda_http::Request {
    event_to_request(apigw_v2_event(method, path, headers).as_bytes())
        .expect("a valid API Gateway v2 event")
}

/// The JSON body of a response.
pub fn json_body(resp: &lambda_http::Response<lambda_http::Body>) -> Value {
    match resp.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        lambda_http::Body::Binary(b) => serde_json::from_slice(b).unwrap_or(Value::Null),
        lambda_http::Body::Empty => Value::Null,
        _ => Value::Null,
    }
}

/// A secret source for tests: counts its reads; its answer can be changed or broken at any time.
#[derive(Debug)]
pub struct FakeSecretSource {
    value: std::sync::Mutex<Result<String, shared::secret::SecretError>>,
    reads: std::sync::atomic::AtomicU64,
}

impl FakeSecretSource {
    pub fn new(value: impl Into<String>) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self {
            value: std::sync::Mutex::new(Ok(value.into())),
            reads: std::sync::atomic::AtomicU64::new(0),
        })
    }
    /// What the next reads return.
    pub fn set(&self, value: Result<String, shared::secret::SecretError>) {
        *self
            .value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = value;
    }
    /// Reads so far.
    pub fn reads(&self) -> u64 {
        self.reads.load(std::sync::atomic::Ordering::SeqCst)
    }
}

#[async_trait::async_trait]
impl shared::secret::SecretSource for FakeSecretSource {
    async fn fetch(&self) -> Result<String, shared::secret::SecretError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        self.value
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}
