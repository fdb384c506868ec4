//! The signature of a Clerk webhook, checked as Clerk's `verifyWebhook` (`@clerk/backend`, through
//! `standardwebhooks`) checks it: HMAC-SHA256 with the key after `whsec_` over
//! `{svix-id}.{svix-timestamp}.{body}`, base64, compared in constant time with each `v1,`
//! signature of the space-separated `svix-signature` header; the timestamp within 5 minutes either
//! side. Stricter where Clerk's is lax, never looser (tests/clerk-node/webhook-differential.mjs):
//! each header once, a timestamp of digits only with no leading zero (Clerk's `parseInt` reads
//! `12abc` as 12), an id of printable ASCII of at most 256 bytes, a key of 24 to 64 bytes.

use std::fmt;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use lambda_http::http::HeaderMap;
use shared::error::Reason;

/// Clerk's (Svix's) tolerance, either side.
pub const TOLERANCE_SECS: u64 = 5 * 60;
/// Svix's keys are 24 bytes; the Standard Webhooks scheme allows 24 to 64.
pub const MIN_KEY_BYTES: usize = 24;
pub const MAX_KEY_BYTES: usize = 64;
/// The longest `svix-id` taken (it becomes a DynamoDB key; Svix's are about 30 bytes).
pub const MAX_ID_BYTES: usize = 256;

/// Why a signing secret is refused (never containing the secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("is empty")]
    Empty,
    #[error("must start with whsec_ (the signing secret of the endpoint in Clerk's dashboard)")]
    Prefix,
    #[error("is not base64 after whsec_")]
    Base64,
    #[error("decodes to {0} bytes; a signing secret has 24 to 64")]
    Length(usize),
}

/// The signing secret of the endpoint: `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookKey(hmac::Key);

impl fmt::Debug for WebhookKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookKey([redacted])")
    }
}

impl WebhookKey {
    /// `whsec_` and the base64 of 24 to 64 bytes (white space around it ignored).
    pub fn parse(secret: &str) -> Result<Self, KeyError> {
        let secret = secret.trim();
        if secret.is_empty() {
            return Err(KeyError::Empty);
        }
        let b64 = secret.strip_prefix("whsec_").ok_or(KeyError::Prefix)?;
        let engine = base64::engine::GeneralPurpose::new(
            &base64::alphabet::STANDARD,
            base64::engine::GeneralPurposeConfig::new()
                .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
        );
        let bytes = engine.decode(b64).map_err(|_| KeyError::Base64)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(KeyError::Length(bytes.len()));
        }
        Ok(Self(hmac::Key::new(hmac::HMAC_SHA256, &bytes)))
    }

    /// `v1,` and the base64 signature of `id.timestamp.body` (what Svix sends).
    pub fn sign(&self, id: &str, timestamp: &str, body: &[u8]) -> String {
        let mut ctx = hmac::Context::with_key(&self.0);
        ctx.update(id.as_bytes());
        ctx.update(b".");
        ctx.update(timestamp.as_bytes());
        ctx.update(b".");
        ctx.update(body);
        let tag = ctx.sign();
        format!(
            "v1,{}",
            base64::engine::general_purpose::STANDARD.encode(tag.as_ref())
        )
    }
}

/// A delivery whose signature verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    /// `svix-id`: the same for every retry of one message.
    pub id: String,
    /// `svix-timestamp`, seconds.
    pub timestamp_s: u64,
}

/// One header, trimmed; absent, empty or given twice is refused.
fn header<'a>(headers: &'a HeaderMap, name: &str) -> Result<&'a str, Reason> {
    let mut values = headers.get_all(name).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return Err(Reason::WebhookHeadersMissing);
    };
    let value = value
        .to_str()
        .map_err(|_| Reason::WebhookHeadersMissing)?
        .trim();
    if value.is_empty() {
        return Err(Reason::WebhookHeadersMissing);
    }
    Ok(value)
}

/// Checks a delivery's headers and signature over `body` (exactly as received) at `now_ms`.
/// Any of `keys` may have signed it (a rotation in progress on our side).
pub fn verify(
    keys: &[&WebhookKey],
    headers: &HeaderMap,
    body: &[u8],
    now_ms: u64,
) -> Result<Verified, Reason> {
    let id = header(headers, "svix-id")?;
    let timestamp = header(headers, "svix-timestamp")?;
    let signatures = header(headers, "svix-signature")?;
    if id.len() > MAX_ID_BYTES || !id.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(Reason::WebhookHeadersMissing);
    }
    let timestamp_s = parse_timestamp(timestamp).ok_or(Reason::WebhookTimestampInvalid)?;
    let now_s = now_ms / 1000;
    if now_s.saturating_sub(timestamp_s) > TOLERANCE_SECS
        || timestamp_s > now_s.saturating_add(TOLERANCE_SECS)
    {
        return Err(Reason::WebhookTimestampInvalid);
    }
    for key in keys {
        let expected = key.sign(id, timestamp, body);
        let expected = &expected.as_bytes()[3..];
        // As standardwebhooks: split on single spaces; `v1,` then the text up to the next comma.
        let matched = signatures
            .split(' ')
            .filter_map(|s| {
                let mut parts = s.split(',');
                (parts.next() == Some("v1")).then(|| parts.next().unwrap_or_default())
            })
            .any(|sig| constant_time::verify_slices_are_equal(sig.as_bytes(), expected).is_ok());
        if matched {
            return Ok(Verified {
                id: id.to_owned(),
                timestamp_s,
            });
        }
    }
    Err(Reason::WebhookSignatureInvalid)
}

/// Seconds since the epoch, written as Svix writes them: digits, no sign, no leading zero.
fn parse_timestamp(text: &str) -> Option<u64> {
    if text.is_empty() || text.len() > 12 || text.starts_with('0') {
        return None;
    }
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::HeaderValue;

    // Svix's documented example: secret, id, timestamp, body and signature.
    const SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    const ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const TS: &str = "1614265330";
    const BODY: &str = r#"{"test": 2432232314}"#;
    const SIG: &str = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

    fn headers(id: &str, ts: &str, sig: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert("svix-id", HeaderValue::from_str(id).unwrap());
        h.insert("svix-timestamp", HeaderValue::from_str(ts).unwrap());
        h.insert("svix-signature", HeaderValue::from_str(sig).unwrap());
        h
    }

    fn at(ts_s: u64) -> u64 {
        ts_s * 1000
    }

    #[test]
    fn svix_documented_example_verifies() {
        let key = WebhookKey::parse(SECRET).unwrap();
        assert_eq!(key.sign(ID, TS, BODY.as_bytes()), SIG);
        let v = verify(
            &[&key],
            &headers(ID, TS, SIG),
            BODY.as_bytes(),
            at(1_614_265_330),
        )
        .unwrap();
        assert_eq!(v.id, ID);
        assert_eq!(v.timestamp_s, 1_614_265_330);
    }

    #[test]
    fn any_v1_signature_of_several_may_match() {
        let key = WebhookKey::parse(SECRET).unwrap();
        let now = at(1_614_265_330);
        let several = format!("v1,AAAA v2,xyz {SIG} v1,BBBB");
        assert!(verify(&[&key], &headers(ID, TS, &several), BODY.as_bytes(), now).is_ok());
        let other = WebhookKey::parse("whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // Either of two keys (ours rotating).
        assert!(verify(&[&other, &key], &headers(ID, TS, SIG), BODY.as_bytes(), now).is_ok());
        for bad in [
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF=",
            "v2,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
            "v1,",
            "v1",
            "v1, g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ] {
            assert_eq!(
                verify(&[&key], &headers(ID, TS, bad), BODY.as_bytes(), now),
                Err(Reason::WebhookSignatureInvalid),
                "{bad}"
            );
        }
        assert_eq!(
            verify(&[&other], &headers(ID, TS, SIG), BODY.as_bytes(), now),
            Err(Reason::WebhookSignatureInvalid)
        );
    }

    #[test]
    fn one_changed_byte_of_the_body_id_or_timestamp_fails() {
        let key = WebhookKey::parse(SECRET).unwrap();
        let now = at(1_614_265_330);
        let mut body = BODY.as_bytes().to_vec();
        for i in 0..body.len() {
            body[i] ^= 1;
            assert!(verify(&[&key], &headers(ID, TS, SIG), &body, now).is_err());
            body[i] ^= 1;
        }
        assert!(
            verify(
                &[&key],
                &headers("msg_p5jXN8AQM9LWM0D4loKWxJeK", TS, SIG),
                BODY.as_bytes(),
                now
            )
            .is_err()
        );
        assert!(
            verify(
                &[&key],
                &headers(ID, "1614265331", SIG),
                BODY.as_bytes(),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn five_minutes_either_side_and_not_a_second_more() {
        let key = WebhookKey::parse(SECRET).unwrap();
        let h = headers(ID, TS, SIG);
        let ts = 1_614_265_330;
        for now in [at(ts - 300), at(ts + 300), at(ts + 300) + 999] {
            assert!(verify(&[&key], &h, BODY.as_bytes(), now).is_ok(), "{now}");
        }
        for now in [at(ts - 301), at(ts + 301), 0, u64::MAX] {
            assert_eq!(
                verify(&[&key], &h, BODY.as_bytes(), now),
                Err(Reason::WebhookTimestampInvalid),
                "{now}"
            );
        }
    }

    #[test]
    fn malformed_headers_are_refused() {
        let key = WebhookKey::parse(SECRET).unwrap();
        let now = at(1_614_265_330);
        for ts in [
            "",
            "0",
            "01614265330",
            "1614265330abc",
            "+1614265330",
            "-1",
            "1e9",
            "16142653300000",
        ] {
            let h = headers(ID, if ts.is_empty() { " " } else { ts }, SIG);
            let r = verify(&[&key], &h, BODY.as_bytes(), now);
            assert!(
                matches!(
                    r,
                    Err(Reason::WebhookTimestampInvalid | Reason::WebhookHeadersMissing)
                ),
                "{ts}: {r:?}"
            );
        }
        for name in ["svix-id", "svix-timestamp", "svix-signature"] {
            let mut h = headers(ID, TS, SIG);
            h.remove(name);
            assert_eq!(
                verify(&[&key], &h, BODY.as_bytes(), now),
                Err(Reason::WebhookHeadersMissing)
            );
            let mut h = headers(ID, TS, SIG);
            h.append(name, HeaderValue::from_static("x"));
            assert_eq!(
                verify(&[&key], &h, BODY.as_bytes(), now),
                Err(Reason::WebhookHeadersMissing),
                "{name} twice"
            );
        }
        let long = "m".repeat(MAX_ID_BYTES + 1);
        assert_eq!(
            verify(&[&key], &headers(&long, TS, SIG), BODY.as_bytes(), now),
            Err(Reason::WebhookHeadersMissing)
        );
        // Trimmed, as Clerk's verifyWebhook trims.
        assert!(
            verify(
                &[&key],
                &headers(&format!(" {ID} "), &format!("{TS} "), &format!(" {SIG}")),
                BODY.as_bytes(),
                now
            )
            .is_ok()
        );
    }

    #[test]
    fn weak_or_malformed_keys_are_refused_without_showing_them() {
        assert_eq!(WebhookKey::parse("").unwrap_err(), KeyError::Empty);
        assert_eq!(WebhookKey::parse("  ").unwrap_err(), KeyError::Empty);
        assert_eq!(
            WebhookKey::parse("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap_err(),
            KeyError::Prefix
        );
        assert_eq!(
            WebhookKey::parse("whsec_").unwrap_err(),
            KeyError::Length(0)
        );
        assert_eq!(
            WebhookKey::parse("whsec_c2hvcnQ=").unwrap_err(),
            KeyError::Length(5)
        );
        assert_eq!(
            WebhookKey::parse("whsec_not base64!").unwrap_err(),
            KeyError::Base64
        );
        let long = format!("whsec_{}", "A".repeat(88));
        assert_eq!(WebhookKey::parse(&long).unwrap_err(), KeyError::Length(66));
        let key = WebhookKey::parse(&format!("  {SECRET}\n")).unwrap();
        assert_eq!(format!("{key:?}"), "WebhookKey([redacted])");
        for e in [
            KeyError::Empty,
            KeyError::Prefix,
            KeyError::Base64,
            KeyError::Length(5),
        ] {
            assert!(!e.to_string().contains("MfKQ"));
        }
    }

    proptest::proptest! {
        /// Any header values and body: never a panic, and never accepted unless signed with the key.
        #[test]
        fn arbitrary_deliveries_never_panic_and_never_verify_unsigned(
            id in "\\PC{0,40}", ts in proptest::prop_oneof!["[1-9][0-9]{0,11}", "[0-9a-z +-]{0,14}"],
            sig in "\\PC{0,120}",
            body in proptest::collection::vec(proptest::num::u8::ANY, 0..200), now in proptest::num::u64::ANY,
        ) {
            let key = WebhookKey::parse(SECRET).unwrap();
            let mut h = HeaderMap::new();
            for (name, value) in [("svix-id", &id), ("svix-timestamp", &ts), ("svix-signature", &sig)] {
                if let Ok(v) = HeaderValue::from_str(value) {
                    h.insert(name, v);
                }
            }
            let forged = verify(&[&key], &h, &body, now);
            proptest::prop_assert!(forged.is_err());
            // The same headers with the right signature verify exactly when id and time are valid.
            if let (Ok(_), Ok(_)) = (HeaderValue::from_str(&id), HeaderValue::from_str(&ts)) {
                let (id, ts) = (id.trim(), ts.trim());
                h.insert("svix-signature", HeaderValue::from_str(&key.sign(id, ts, &body)).unwrap());
                let id_valid = !id.is_empty()
                    && id.len() <= MAX_ID_BYTES
                    && id.bytes().all(|b| b.is_ascii_graphic());
                match parse_timestamp(ts) {
                    Some(t) => {
                        // Received 0 to 699 s after it was sent: fresh up to the tolerance.
                        let late = now % 700;
                        let got = verify(&[&key], &h, &body, (t + late) * 1000);
                        proptest::prop_assert_eq!(got.is_ok(), id_valid && late <= TOLERANCE_SECS);
                    }
                    None => proptest::prop_assert!(verify(&[&key], &h, &body, now).is_err()),
                }
            }
        }
    }
}
