//! RSA public keys, parsed once (PEM or JWK) and kept parsed: the hot path never re-derives a key.
//! Which keys are accepted: docs/contract.md, section 3.

use std::fmt;

use aws_lc_rs::encoding::AsDer as _;
use aws_lc_rs::rsa::PublicKeyComponents;
use aws_lc_rs::signature::{ParsedPublicKey, RSA_PKCS1_2048_8192_SHA256};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// Smallest modulus accepted, in bits.
pub const MIN_RSA_BITS: u32 = 2048;
/// Largest modulus accepted, in bits (aws-lc's own limit for RS256 verification).
pub const MAX_RSA_BITS: u32 = 8192;

/// Why a key could not be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RsaKeyError {
    #[error("not a PEM-encoded RSA public key (expected -----BEGIN PUBLIC KEY-----)")]
    Pem,
    #[error("RSA modulus of {0} bits is outside {MIN_RSA_BITS}..={MAX_RSA_BITS}")]
    Size(u32),
    #[error("`n` or `e` is not base64url")]
    Components,
    #[error("the RSA exponent must be odd and greater than 1")]
    Exponent,
    #[error("the RSA key was rejected")]
    Rejected,
}

/// An RS256 verification key with its `kid`.
#[derive(Clone)]
pub struct RsaKey {
    kid: Option<String>,
    bits: u32,
    parsed: ParsedPublicKey,
    /// SHA-256 of the SPKI encoding: the key material's identity.
    fingerprint: [u8; 32],
}

impl RsaKey {
    /// From a PEM `PUBLIC KEY` (SPKI) or `RSA PUBLIC KEY` (PKCS#1), as Clerk's dashboard shows it.
    /// Literal `\n` sequences (a PEM pasted into one environment variable) are accepted.
    pub fn from_pem(pem: &str, kid: Option<String>) -> Result<Self, RsaKeyError> {
        let pem = pem.trim().replace("\\n", "\n");
        let der = pem_der(&pem).ok_or(RsaKeyError::Pem)?;
        // SPKI or PKCS#1, whichever the DER is.
        let public = aws_lc_rs::rsa::PublicKey::from_der(&der).map_err(|_| RsaKeyError::Pem)?;
        let c = PublicKeyComponents::<Vec<u8>>::from(&public);
        Self::from_raw_components(&c.n, &c.e, kid)
    }

    /// From a JWK's base64url `n` and `e`.
    pub fn from_components(n: &str, e: &str, kid: Option<String>) -> Result<Self, RsaKeyError> {
        let n = URL_SAFE_NO_PAD
            .decode(n.trim_end_matches('='))
            .map_err(|_| RsaKeyError::Components)?;
        let e = URL_SAFE_NO_PAD
            .decode(e.trim_end_matches('='))
            .map_err(|_| RsaKeyError::Components)?;
        Self::from_raw_components(&n, &e, kid)
    }

    /// From big-endian `n` and `e`. Every key goes through here, so that equal keys have equal
    /// canonical (SPKI) encodings whatever form they came in. Leading zero bytes are dropped (a
    /// JWK may carry them; DER forbids them), as WebCrypto reads a JWK in Clerk's SDK.
    fn from_raw_components(n: &[u8], e: &[u8], kid: Option<String>) -> Result<Self, RsaKeyError> {
        let n = without_leading_zeros(n);
        let e = without_leading_zeros(e);
        let bits = bit_length(n);
        if !(MIN_RSA_BITS..=MAX_RSA_BITS).contains(&bits) {
            return Err(RsaKeyError::Size(bits));
        }
        if e.last().is_none_or(|last| last & 1 == 0) || e == [1] {
            return Err(RsaKeyError::Exponent);
        }
        let spki = PublicKeyComponents { n, e }
            .as_der()
            .map_err(|_| RsaKeyError::Rejected)?;
        let parsed = ParsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, spki.as_ref())
            .map_err(|_| RsaKeyError::Rejected)?;
        let mut fingerprint = [0u8; 32];
        fingerprint.copy_from_slice(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, spki.as_ref()).as_ref(),
        );
        Ok(Self {
            kid,
            bits,
            parsed,
            fingerprint,
        })
    }

    pub fn kid(&self) -> Option<&str> {
        self.kid.as_deref()
    }

    pub fn bits(&self) -> u32 {
        self.bits
    }

    /// RS256 (RSASSA-PKCS1-v1_5 with SHA-256) over `message`.
    #[inline]
    pub fn verify_rs256(&self, message: &[u8], signature: &[u8]) -> bool {
        self.parsed.verify_sig(message, signature).is_ok()
    }

    /// SHA-256 of the key's SPKI encoding.
    pub fn fingerprint(&self) -> &[u8; 32] {
        &self.fingerprint
    }

    /// Same key material (a rotated key may keep its `kid`).
    pub fn same_key(&self, other: &RsaKey) -> bool {
        self.parsed.as_ref() == other.parsed.as_ref()
    }
}

impl fmt::Debug for RsaKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RsaKey")
            .field("kid", &self.kid)
            .field("bits", &self.bits)
            .finish_non_exhaustive()
    }
}

/// The DER inside one PEM block labelled `PUBLIC KEY` or `RSA PUBLIC KEY` (RFC 7468: base64
/// between the armor lines, white space ignored).
fn pem_der(pem: &str) -> Option<Vec<u8>> {
    let (label, rest) = pem.strip_prefix("-----BEGIN ")?.split_once("-----")?;
    if label != "PUBLIC KEY" && label != "RSA PUBLIC KEY" {
        return None;
    }
    let (body, end) = rest.split_once("-----END ")?;
    if end.trim_end().strip_suffix("-----")? != label {
        return None;
    }
    let text: String = body.split_ascii_whitespace().collect();
    base64::engine::general_purpose::STANDARD.decode(text).ok()
}

fn without_leading_zeros(be: &[u8]) -> &[u8] {
    let zeros = be.iter().take_while(|b| **b == 0).count();
    &be[zeros..]
}

fn bit_length(be: &[u8]) -> u32 {
    let mut bytes = be.iter().skip_while(|b| **b == 0);
    match bytes.next() {
        None => 0,
        Some(first) => {
            let rest = u32::try_from(bytes.count()).unwrap_or(u32::MAX / 16);
            rest * 8 + (8 - first.leading_zeros())
        }
    }
}
