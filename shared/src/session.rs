//! What a verified session exposes (docs/contract.md, section 6).

use serde::Serialize;
use serde_json::{Map, Value};

use std::sync::Arc;

use crate::authorization::split_by_scope;
use crate::claims::Claims;

/// A verified Clerk session. Serializes (camelCase) to the object the project returns everywhere:
/// `userId`, `sessionId`, `sessionStatus`, `issuedAt`, `expiresAt`, `authorizedParty`, `orgId`,
/// `orgSlug`, `orgRole`, `orgPermissions`, `actor`, `factorVerificationAge` (absent claims are
/// `null`). Times are seconds since the epoch.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub user_id: String,
    pub session_id: String,
    pub session_status: Option<String>,
    pub issued_at: Option<i64>,
    pub expires_at: i64,
    pub authorized_party: String,
    pub org_id: Option<String>,
    pub org_slug: Option<String>,
    pub org_role: Option<String>,
    pub org_permissions: Option<Vec<String>>,
    /// `act`: who is impersonating the user, when someone is.
    pub actor: Option<Value>,
    /// `fva`: minutes since the first and second factor were verified (-1: never).
    pub factor_verification_age: Option<[i64; 2]>,
    /// `nbf`, when present.
    #[serde(skip)]
    pub not_before: Option<i64>,
    /// Token format version: 1, or 2 (`"v":2`, compact organization claim).
    #[serde(skip)]
    pub version: u8,
    /// `pla`: plans, scoped `u:` (user) or `o:` (organization).
    #[serde(skip)]
    pub plans: Vec<String>,
    /// `fea`: features, scoped like plans.
    #[serde(skip)]
    pub features: Vec<String>,
    #[serde(skip)]
    claims: Arc<Claims>,
}

/// What the checks established, in the types they read it as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Verified<'a> {
    pub user_id: &'a str,
    pub session_id: &'a str,
    pub authorized_party: &'a str,
    pub status: Option<&'a str>,
    pub expires_at: i64,
    pub issued_at: Option<i64>,
    pub not_before: Option<i64>,
}

impl Session {
    pub(crate) fn new(v: Verified<'_>, claims: Arc<Claims>) -> Self {
        let c = &*claims;
        // `claims.v === 2`: 2.0 is 2 in JSON.
        let version = if c.get("v").and_then(Value::as_f64) == Some(2.0) {
            2
        } else {
            1
        };
        let features = comma_list(c.get("fea"));
        let (org_id, org_slug, org_role, org_permissions) = if version == 2 {
            match c.get("o").and_then(Value::as_object) {
                Some(o) => {
                    // Split as @clerk/shared's jwtPayloadParser splits them (no element dropped).
                    fn split(v: Option<&Value>) -> Vec<&str> {
                        match v {
                            Some(Value::String(s)) if !s.is_empty() => {
                                s.split(',').map(str::trim).collect()
                            }
                            _ => Vec::new(),
                        }
                    }
                    let (per, fpm) = match (split(o.get("per")), split(o.get("fpm"))) {
                        (per, fpm) if per.is_empty() || fpm.is_empty() => (Vec::new(), Vec::new()),
                        both => both,
                    };
                    let org_features = c
                        .get("fea")
                        .and_then(Value::as_str)
                        .and_then(split_by_scope)
                        .map(|(org, _)| org)
                        .unwrap_or_default();
                    (
                        string(o.get("id")),
                        string(o.get("slg")),
                        // `if (claims.o?.rol)`: an empty role is no role.
                        string(o.get("rol"))
                            .filter(|r| !r.is_empty())
                            .map(|r| format!("org:{r}")),
                        Some(org_permissions_v2(&org_features, &per, &fpm)),
                    )
                }
                None => (None, None, None, None),
            }
        } else {
            (
                string(c.get("org_id")),
                string(c.get("org_slug")),
                string(c.get("org_role")),
                c.get("org_permissions")
                    .and_then(Value::as_array)
                    .map(|list| {
                        list.iter()
                            .filter_map(|p| p.as_str().map(str::to_owned))
                            .collect()
                    }),
            )
        };
        Session {
            user_id: v.user_id.to_owned(),
            session_id: v.session_id.to_owned(),
            session_status: v.status.map(str::to_owned),
            issued_at: v.issued_at,
            expires_at: v.expires_at,
            authorized_party: v.authorized_party.to_owned(),
            org_id,
            org_slug,
            org_role,
            org_permissions,
            actor: c.get("act").filter(|a| !a.is_null()).cloned(),
            factor_verification_age: fva(c.get("fva")),
            not_before: v.not_before,
            version,
            plans: comma_list(c.get("pla")),
            features,
            claims,
        }
    }

    /// Every claim of the token, custom claims included: exactly what the verifier accepted.
    pub fn claims(&self) -> &Map<String, Value> {
        self.claims.as_map()
    }

    /// One claim, without building the map of all of them (the checks' claims are read at parse).
    pub(crate) fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// Whether the active organization grants `permission` (e.g. `org:dashboard:read`).
    pub fn has_org_permission(&self, permission: &str) -> bool {
        self.org_permissions
            .as_ref()
            .is_some_and(|p| p.iter().any(|x| x == permission))
    }
}

fn string(v: Option<&Value>) -> Option<String> {
    v.and_then(Value::as_str).map(str::to_owned)
}

fn comma_list(v: Option<&Value>) -> Vec<String> {
    v.and_then(Value::as_str)
        .map(|s| {
            s.split(',')
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

fn fva(v: Option<&Value>) -> Option<[i64; 2]> {
    let list = v?.as_array()?;
    match list.as_slice() {
        [a, b] => Some([a.as_i64()?, b.as_i64()?]),
        _ => None,
    }
}

/// v2 organization permissions: for the j-th organization feature, the j-th `fpm` entry is a
/// decimal bit mask, least significant bit first, over `per`; bit i set gives
/// `org:<feature>:<per[i]>`.
pub(crate) fn org_permissions_v2(org_features: &[&str], per: &[&str], fpm: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for (feature, mask) in org_features.iter().zip(fpm) {
        for (i, bit) in decimal_bits_lsb_first(mask).into_iter().enumerate() {
            if bit && let Some(permission) = per.get(i) {
                out.push(format!("org:{feature}:{permission}"));
            }
        }
    }
    out
}

/// The bits of a non-negative decimal number of any length, least significant first. Anything
/// that is not all digits has no bits.
fn decimal_bits_lsb_first(decimal: &str) -> Vec<bool> {
    let decimal = decimal.trim();
    if decimal.is_empty() || !decimal.bytes().all(|b| b.is_ascii_digit()) {
        return Vec::new();
    }
    let mut digits: Vec<u8> = decimal.bytes().map(|b| b - b'0').collect();
    let mut bits = Vec::new();
    while digits.iter().any(|d| *d != 0) {
        let mut remainder = 0u8;
        for d in &mut digits {
            let cur = remainder * 10 + *d;
            *d = cur / 2;
            remainder = cur % 2;
        }
        bits.push(remainder == 1);
        let zeros = digits.iter().take_while(|d| **d == 0).count();
        digits.drain(..zeros.min(digits.len().saturating_sub(1)));
    }
    bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contract_example() {
        let got = org_permissions_v2(&["dashboard", "teams"], &["manage", "read"], &["3", "2"]);
        assert_eq!(
            got,
            [
                "org:dashboard:manage",
                "org:dashboard:read",
                "org:teams:read"
            ]
        );
    }

    #[test]
    fn user_features_are_skipped_and_scopes_mixed() {
        let (org, _) = split_by_scope("u:profile,ou:billing,uo:reports,o:x").unwrap();
        let got = org_permissions_v2(&org, &["a", "b", "c"], &["1", "4", "0"]);
        assert_eq!(got, ["org:billing:a", "org:reports:c"]);
    }

    #[test]
    fn long_masks_decode() {
        // 2^70 + 1: bits 0 and 70.
        let bits = decimal_bits_lsb_first("1180591620717411303425");
        assert_eq!(bits.len(), 71);
        assert!(bits[0] && bits[70]);
        assert_eq!(bits.iter().filter(|b| **b).count(), 2);
        assert!(decimal_bits_lsb_first("0").is_empty());
        assert!(decimal_bits_lsb_first("-3").is_empty());
        assert!(decimal_bits_lsb_first("1e3").is_empty());
        assert_eq!(decimal_bits_lsb_first("6"), [false, true, true]);
    }
}
