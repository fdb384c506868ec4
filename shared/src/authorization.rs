//! May this session do X? Clerk's `has()`, as `@clerk/shared`'s authorization module defines it
//! (`createCheckAuthorization`, with the options `@clerk/backend` builds from the session token),
//! checked against it by `tests/clerk-node/has-differential.mjs` (docs/contract.md, section 6).
//!
//! Every condition asked must hold; a condition whose data is missing or malformed denies; a check
//! that asks nothing denies. Stricter than Clerk in one place, named in the differential: a `fea`
//! claim Clerk's SDK cannot split (an element without a scope) makes it throw while building the
//! session; here every condition on such a session denies.

use serde_json::Value;

use crate::session::Session;

/// What [`Session::has`] is asked: each field given is a condition, and all must hold.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Check<'a> {
    /// An organization role, with or without the `org:` prefix (`admin`, `org:admin`).
    pub role: Option<&'a str>,
    /// An organization permission, with or without the `org:` prefix (`org:reports:read`).
    pub permission: Option<&'a str>,
    /// A billing feature, optionally scoped: `u:`/`user:` (the user's), `o:`/`org:`/
    /// `organization:` (the active organization's), else either. An unknown scope denies.
    pub feature: Option<&'a str>,
    /// A billing plan, scoped like features.
    pub plan: Option<&'a str>,
    /// Factors verified recently enough (step-up authentication).
    pub reverification: Option<Reverification>,
}

/// How recently the user must have verified which factors.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Reverification {
    /// Both factors (or the first, for a user without a second) within 10 minutes.
    StrictMfa,
    /// The second factor (or the first, for a user without one) within 10 minutes.
    Strict,
    /// Like `Strict`, within 60 minutes.
    Moderate,
    /// Like `Strict`, within 1,440 minutes (a day).
    Lax,
    /// A level within `after_minutes` (more than 0; a fraction is compared as such).
    Custom { level: Level, after_minutes: f64 },
}

/// The factors a reverification asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    FirstFactor,
    SecondFactor,
    MultiFactor,
}

impl Reverification {
    /// Clerk's preset names (`strict_mfa`, `strict`, `moderate`, `lax`).
    pub fn preset(name: &str) -> Option<Self> {
        match name {
            "strict_mfa" => Some(Self::StrictMfa),
            "strict" => Some(Self::Strict),
            "moderate" => Some(Self::Moderate),
            "lax" => Some(Self::Lax),
            _ => None,
        }
    }

    fn requirement(self) -> (Level, f64) {
        match self {
            Self::StrictMfa => (Level::MultiFactor, 10.0),
            Self::Strict => (Level::SecondFactor, 10.0),
            Self::Moderate => (Level::SecondFactor, 60.0),
            Self::Lax => (Level::SecondFactor, 1440.0),
            Self::Custom {
                level,
                after_minutes,
            } => (level, after_minutes),
        }
    }
}

impl Reverification {
    /// The requirement as Clerk writes it in a reverification answer: a preset's name, or
    /// `{"level": .., "afterMinutes": ..}`.
    pub fn to_json(self) -> Value {
        match self {
            Self::StrictMfa => Value::from("strict_mfa"),
            Self::Strict => Value::from("strict"),
            Self::Moderate => Value::from("moderate"),
            Self::Lax => Value::from("lax"),
            Self::Custom {
                level,
                after_minutes,
            } => serde_json::json!({"level": level.as_str(), "afterMinutes": after_minutes}),
        }
    }
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::FirstFactor => "first_factor",
            Self::SecondFactor => "second_factor",
            Self::MultiFactor => "multi_factor",
        }
    }

    /// Clerk's level names (`first_factor`, `second_factor`, `multi_factor`).
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "first_factor" => Some(Self::FirstFactor),
            "second_factor" => Some(Self::SecondFactor),
            "multi_factor" => Some(Self::MultiFactor),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Skip,
    Pass,
    Fail,
}

fn outcome(pass: bool) -> Outcome {
    if pass { Outcome::Pass } else { Outcome::Fail }
}

impl Session {
    /// Whether the session satisfies every condition of `check` (Clerk's `has()`). A check that
    /// asks nothing is `false`: authorization is never granted by default.
    pub fn has(&self, check: &Check<'_>) -> bool {
        // Clerk's SDK throws building such a session: nothing it would grant is granted.
        if self.unreadable_features() {
            return false;
        }
        let outcomes = [
            self.organization(check),
            self.billing(check),
            self.reverification(check),
        ];
        // Fixed in Clerk in April 2026: one passing condition used to carry a failing one.
        outcomes.contains(&Outcome::Pass) && !outcomes.contains(&Outcome::Fail)
    }

    fn organization(&self, check: &Check<'_>) -> Outcome {
        if check.role.is_none() && check.permission.is_none() {
            return Outcome::Skip;
        }
        if !self.org_id_truthy() {
            return Outcome::Fail;
        }
        if let Some(role) = check.role {
            match self.org_role.as_deref() {
                Some(r) if !r.is_empty() && without_org_prefix(r) == without_org_prefix(role) => {}
                _ => return Outcome::Fail,
            }
        }
        if let Some(permission) = check.permission {
            // `includes("org:" + rest)`, compared without building that string.
            let wanted = without_org_prefix(permission);
            let granted = self.org_permissions.as_ref();
            if !granted
                .is_some_and(|list| list.iter().any(|p| p.strip_prefix("org:") == Some(wanted)))
            {
                return Outcome::Fail;
            }
        }
        Outcome::Pass
    }

    fn billing(&self, check: &Check<'_>) -> Outcome {
        if check.feature.is_none() && check.plan.is_none() {
            return Outcome::Skip;
        }
        for (asked, claim) in [(check.feature, "fea"), (check.plan, "pla")] {
            let Some(asked) = asked else { continue };
            // `@clerk/backend` passes `claims.fea || ""`: a missing or empty claim denies.
            let granted = match self.claim(claim) {
                Some(Value::String(s)) if !s.is_empty() => s,
                _ => return Outcome::Fail,
            };
            if !entitled(granted, asked) {
                return Outcome::Fail;
            }
        }
        Outcome::Pass
    }

    fn reverification(&self, check: &Check<'_>) -> Outcome {
        let Some(asked) = check.reverification else {
            return Outcome::Skip;
        };
        // `fva`: minutes since each factor was verified, -1 for never; fractions allowed.
        let ages = match self.claim("fva") {
            Some(Value::Array(a)) if a.len() == 2 => (a[0].as_f64(), a[1].as_f64()),
            _ => return Outcome::Fail,
        };
        let valid = |x: Option<f64>| x.filter(|x| x.is_finite() && (*x == -1.0 || *x >= 0.0));
        let (Some(first), Some(second)) = (valid(ages.0), valid(ages.1)) else {
            return Outcome::Fail;
        };
        let (level, after_minutes) = asked.requirement();
        // `typeof afterMinutes === "number" && afterMinutes > 0` (NaN is not, infinity is).
        if after_minutes.is_nan() || after_minutes <= 0.0 {
            return Outcome::Fail;
        }
        if first == -1.0 && second == -1.0 {
            return Outcome::Fail;
        }
        let first_fresh = first != -1.0 && after_minutes > first;
        let second_fresh = second != -1.0 && after_minutes > second;
        outcome(match level {
            Level::FirstFactor => first_fresh,
            Level::SecondFactor if second == -1.0 => first_fresh,
            Level::SecondFactor if first == -1.0 => second_fresh,
            Level::SecondFactor => second_fresh,
            Level::MultiFactor if second == -1.0 => first_fresh,
            Level::MultiFactor if first == -1.0 => false,
            Level::MultiFactor => first_fresh && second_fresh,
        })
    }

    /// Whether the token names an active organization, as `!orgId` reads it.
    fn org_id_truthy(&self) -> bool {
        if self.version == 2 {
            self.claim("o")
                .and_then(|o| o.get("id"))
                .is_some_and(truthy)
        } else {
            self.claim("org_id").is_some_and(truthy)
        }
    }

    /// A v2 token with an organization whose `fea` Clerk's SDK cannot split: it throws while
    /// building the session, so nothing it would grant is granted.
    fn unreadable_features(&self) -> bool {
        let Some(o) = self.claim("o").filter(|o| truthy(o)) else {
            return false;
        };
        // `fea.split(...)`, `o.per.split(...)`, `o.fpm.split(...)` on a truthy value.
        let unsplittable = |v: Option<&Value>| match v {
            Some(Value::String(_)) | None => false,
            Some(v) => truthy(v),
        };
        self.version == 2
            && (unsplittable(self.claim("fea"))
                || self
                    .claim("fea")
                    .and_then(Value::as_str)
                    .is_some_and(|f| split_by_scope(f).is_none())
                // `if (!per || !fpm) return ...`, then both split.
                || (o.get("per").is_some_and(truthy)
                    && o.get("fpm").is_some_and(truthy)
                    && (unsplittable(o.get("per")) || unsplittable(o.get("fpm")))))
    }
}

/// JavaScript's truthiness of a JSON value.
fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|n| n != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(_) | Value::Object(_) => true,
    }
}

/// `value` without its `org:` prefixes: two values are equal with exactly one `org:` prefix
/// (`/^(org:)*/` replaced by `org:`) when they are equal without any.
fn without_org_prefix(value: &str) -> &str {
    let mut rest = value;
    while let Some(r) = rest.strip_prefix("org:") {
        rest = r;
    }
    rest
}

/// `fea`/`pla` split by scope, as `splitByScope`: `o:x` the organization's, `u:x` the user's,
/// `ou:x`/`uo:x` both, any other scope ignored; an element without `:` is an error (`None`).
pub(crate) fn split_by_scope(claim: &str) -> Option<(Vec<&str>, Vec<&str>)> {
    let (mut org, mut user) = (Vec::new(), Vec::new());
    if claim.is_empty() {
        return Some((org, user));
    }
    for part in claim.split(',') {
        let (scope, value) = part.trim().split_once(':')?;
        match scope {
            "o" => org.push(value),
            "u" => user.push(value),
            "ou" | "uo" => {
                org.push(value);
                user.push(value);
            }
            _ => {}
        }
    }
    Some((org, user))
}

/// Whether `granted` (a `fea` or `pla` claim) holds `asked`, as `checkForFeatureOrPlan` reads it.
fn entitled(granted: &str, asked: &str) -> bool {
    let Some((org, user)) = split_by_scope(granted) else {
        return false;
    };
    // `asked.split(":")`: the first two parts only; an empty id falls back to the scope.
    let mut parts = asked.split(':');
    let raw_scope = parts.next().unwrap_or_default();
    let raw_id = parts.next();
    let id = match raw_id {
        Some(id) if !id.is_empty() => id,
        _ => raw_scope,
    };
    match raw_id.map(|_| raw_scope) {
        None => org.contains(&id) || user.contains(&id),
        Some("o" | "org" | "organization") => org.contains(&id),
        Some("u" | "user") => user.contains(&id),
        Some(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_and_scopes_read_as_clerk_reads_them() {
        assert_eq!(without_org_prefix("admin"), "admin");
        assert_eq!(without_org_prefix("org:org:admin"), "admin");
        assert_eq!(without_org_prefix("org:"), "");
        assert_eq!(
            split_by_scope("o:a, u:b,ou:c,x:d"),
            Some((vec!["a", "c"], vec!["b", "c"]))
        );
        assert_eq!(split_by_scope("o:a,,u:b"), None);
        assert_eq!(split_by_scope(""), Some((vec![], vec![])));
        assert!(entitled("o:reports,u:export", "reports"));
        assert!(entitled("o:reports", "org:reports"));
        assert!(entitled("o:reports", "organization:reports"));
        assert!(!entitled("o:reports", "user:reports"));
        assert!(!entitled("o:reports", "team:reports"));
        // "o:" asks for a feature named "o" in the organization's scope.
        assert!(entitled("o:o", "o:"));
        assert!(entitled("u:a", "u:a:b"));
    }
}
