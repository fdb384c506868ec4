//! The readiness check run before every deploy: refuses a configuration that would ship broken,
//! and says exactly what to fix. Never repeats a secret key in a message. The rules:
//! docs/deploy.md and docs/contract.md, section 8.

use crate::config::{is_loopback_host, parse_authorized_parties};
use crate::keys::{Instance, PublishableKey, SecretKey};
use crate::rsa_key::RsaKey;

/// What a deploy is about to use (from the environment of `scripts/deploy.sh`).
#[derive(Debug, Clone, Default)]
pub struct DeployInput {
    /// `CLERK_PUBLISHABLE_KEY`.
    pub publishable_key: Option<String>,
    /// `CLERK_SECRET_KEY`: the stack creates the secret from it.
    pub secret_key: Option<String>,
    /// `CLERK_SECRET_ARN`: an existing secret instead.
    pub secret_arn: Option<String>,
    /// `CLERK_AUTHORIZED_PARTIES`: extra origins, or `cloudfront` for the site's own origin only.
    pub authorized_parties: Option<String>,
    /// `CLERK_JWT_KEY`: optional PEM.
    pub jwt_key: Option<String>,
}

/// One thing to fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub variable: &'static str,
    pub message: String,
}

/// What a ready configuration gives the template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ready {
    pub frontend_api: String,
    pub instance: Instance,
    /// The `ClerkAuthorizedParties` parameter (empty: the CloudFront origin only).
    pub extra_origins: String,
}

fn problem(variable: &'static str, message: impl Into<String>) -> Problem {
    Problem {
        variable,
        message: message.into(),
    }
}

fn non_empty(v: Option<&String>) -> Option<&str> {
    v.map(|s| s.trim()).filter(|s| !s.is_empty())
}

/// Every problem of `input`, or what the deploy needs.
pub fn check(input: &DeployInput) -> Result<Ready, Vec<Problem>> {
    let mut problems = Vec::new();

    let pk = match non_empty(input.publishable_key.as_ref()) {
        None => {
            problems.push(problem(
                "CLERK_PUBLISHABLE_KEY",
                "is not set: copy it from the Clerk dashboard, Configure > API keys (pk_test_... or pk_live_...)",
            ));
            None
        }
        Some(raw) => match PublishableKey::parse(raw) {
            Ok(pk) => Some(pk),
            Err(e) => {
                problems.push(problem(
                    "CLERK_PUBLISHABLE_KEY",
                    format!("is malformed ({e}): copy it again from the Clerk dashboard"),
                ));
                None
            }
        },
    };

    let secret = non_empty(input.secret_key.as_ref());
    let arn = non_empty(input.secret_arn.as_ref());
    let mut secret_instance = None;
    match (secret, arn) {
        (None, None) => problems.push(problem(
            "CLERK_SECRET_KEY",
            "is not set: give the secret key (sk_..., Clerk dashboard > API keys) or CLERK_SECRET_ARN of an existing secret",
        )),
        (Some(_), Some(_)) => problems.push(problem(
            "CLERK_SECRET_ARN",
            "and CLERK_SECRET_KEY are both set: give only one",
        )),
        (Some(raw), None) => match SecretKey::parse(raw) {
            Ok(sk) => secret_instance = Some(sk.instance()),
            Err(_) => problems.push(problem(
                "CLERK_SECRET_KEY",
                if raw.starts_with("pk_") {
                    "is a publishable key: the secret key starts with sk_test_ or sk_live_".to_owned()
                } else {
                    "is not a Clerk secret key (expected sk_test_... or sk_live_...)".to_owned()
                },
            )),
        },
        (None, Some(arn)) => {
            if !is_secret_arn(arn) {
                problems.push(problem(
                    "CLERK_SECRET_ARN",
                    "is not a Secrets Manager secret ARN (arn:aws:secretsmanager:<region>:<account>:secret:<name>)",
                ));
            }
        }
    }

    if let (Some(pk), Some(si)) = (&pk, secret_instance)
        && pk.instance() != si
    {
        problems.push(problem(
            "CLERK_SECRET_KEY",
            format!(
                "is a {} key but CLERK_PUBLISHABLE_KEY is a {} key: use the two keys of one instance",
                si.as_str(),
                pk.instance().as_str()
            ),
        ));
    }

    let mut extra_origins = String::new();
    match non_empty(input.authorized_parties.as_ref()) {
        None => problems.push(problem(
            "CLERK_AUTHORIZED_PARTIES",
            "is not set: give the https origins of your sign-in site (e.g. https://app.example.com), or `cloudfront` to authorize only the site this stack hosts",
        )),
        Some("cloudfront") => {}
        Some(raw) => match parse_authorized_parties(raw) {
            Err(e) => problems.push(problem("CLERK_AUTHORIZED_PARTIES", e)),
            Ok(origins) => {
                let development = pk.as_ref().is_some_and(|p| p.instance() == Instance::Development);
                for o in &origins {
                    let url = url::Url::parse(o).ok();
                    let loopback = url
                        .as_ref()
                        .and_then(url::Url::host)
                        .is_some_and(|h| is_loopback_host(&h));
                    if o.starts_with("http://") && !(development && loopback) {
                        problems.push(problem(
                            "CLERK_AUTHORIZED_PARTIES",
                            format!(
                                "`{o}` is not https (plain http is only allowed for localhost with a development instance)"
                            ),
                        ));
                    }
                }
                extra_origins = origins.join(",");
            }
        },
    }

    if let Some(pem) = non_empty(input.jwt_key.as_ref())
        && let Err(e) = RsaKey::from_pem(pem, None)
    {
        problems.push(problem(
            "CLERK_JWT_KEY",
            format!(
                "{e}: copy the PEM public key from Clerk dashboard > API keys, or leave it unset"
            ),
        ));
    }

    match pk {
        Some(pk) if problems.is_empty() => Ok(Ready {
            frontend_api: pk.frontend_api().to_owned(),
            instance: pk.instance(),
            extra_origins,
        }),
        _ => Err(problems),
    }
}

fn is_secret_arn(arn: &str) -> bool {
    let parts: Vec<&str> = arn.splitn(7, ':').collect();
    matches!(parts.as_slice(), ["arn", partition, "secretsmanager", region, account, "secret", name]
        if partition.starts_with("aws")
            && !region.is_empty()
            && account.len() == 12
            && account.bytes().all(|b| b.is_ascii_digit())
            && !name.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PK_TEST: &str = "pk_test_Zm9vLWJhci0xMy5jbGVyay5hY2NvdW50cy5kZXYk";

    fn input() -> DeployInput {
        DeployInput {
            publishable_key: Some(PK_TEST.into()),
            secret_key: Some("sk_test_abcdef123".into()),
            secret_arn: None,
            authorized_parties: Some("https://app.example.com".into()),
            jwt_key: None,
        }
    }

    fn refused(edit: impl FnOnce(&mut DeployInput)) -> Vec<Problem> {
        let mut i = input();
        edit(&mut i);
        check(&i).expect_err("a broken configuration was accepted")
    }

    #[test]
    fn a_good_configuration_is_ready() {
        let r = check(&input()).unwrap();
        assert_eq!(r.frontend_api, "foo-bar-13.clerk.accounts.dev");
        assert_eq!(r.extra_origins, "https://app.example.com");
        let mut i = input();
        i.authorized_parties = Some("cloudfront".into());
        assert_eq!(check(&i).unwrap().extra_origins, "");
        i.authorized_parties = Some("http://localhost:5173, https://a.example.com".into());
        assert!(
            check(&i).is_ok(),
            "localhost is fine for a development instance"
        );
        i.secret_key = None;
        i.secret_arn =
            Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:clerk-AbCdEf".into());
        assert!(check(&i).is_ok());
    }

    #[test]
    fn each_broken_configuration_is_refused_with_its_fix() {
        let cases: Vec<(Vec<Problem>, &str, &str)> = vec![
            (
                refused(|i| i.secret_key = None),
                "CLERK_SECRET_KEY",
                "is not set",
            ),
            (
                refused(|i| i.secret_key = Some("  ".into())),
                "CLERK_SECRET_KEY",
                "is not set",
            ),
            (
                refused(|i| i.secret_key = Some("hunter2-not-a-key".into())),
                "CLERK_SECRET_KEY",
                "not a Clerk secret key",
            ),
            (
                refused(|i| i.secret_key = Some(PK_TEST.into())),
                "CLERK_SECRET_KEY",
                "is a publishable key",
            ),
            (
                refused(|i| {
                    i.secret_arn =
                        Some("arn:aws:secretsmanager:eu-west-1:123456789012:secret:x".into())
                }),
                "CLERK_SECRET_ARN",
                "give only one",
            ),
            (
                refused(|i| {
                    i.secret_key = None;
                    i.secret_arn = Some("clerk/secret".into());
                }),
                "CLERK_SECRET_ARN",
                "not a Secrets Manager secret ARN",
            ),
            (
                refused(|i| i.publishable_key = Some("pk_live_aW52YWxpZGtleSQ=".into())),
                "CLERK_PUBLISHABLE_KEY",
                "malformed",
            ),
            (
                refused(|i| i.publishable_key = None),
                "CLERK_PUBLISHABLE_KEY",
                "is not set",
            ),
            (
                refused(|i| i.secret_key = Some("sk_live_abc123".into())),
                "CLERK_SECRET_KEY",
                "is a production key but CLERK_PUBLISHABLE_KEY is a development key",
            ),
            (
                refused(|i| i.authorized_parties = None),
                "CLERK_AUTHORIZED_PARTIES",
                "is not set",
            ),
            (
                refused(|i| i.authorized_parties = Some("http://app.example.com".into())),
                "CLERK_AUTHORIZED_PARTIES",
                "is not https",
            ),
            (
                refused(|i| i.authorized_parties = Some("app.example.com".into())),
                "CLERK_AUTHORIZED_PARTIES",
                "is not an origin",
            ),
            (
                refused(|i| {
                    i.jwt_key =
                        Some("-----BEGIN PUBLIC KEY-----\nxx\n-----END PUBLIC KEY-----".into())
                }),
                "CLERK_JWT_KEY",
                "PEM",
            ),
        ];
        for (problems, var, text) in cases {
            assert!(
                problems
                    .iter()
                    .any(|p| p.variable == var && p.message.contains(text)),
                "expected {var}: {text}; got {problems:?}"
            );
            for p in &problems {
                assert!(
                    !p.message.contains("hunter2") && !p.message.contains("abc123"),
                    "{p:?}"
                );
            }
        }
        // localhost is refused for a production instance.
        let problems = refused(|i| {
            i.publishable_key = Some(crate::keys::PublishableKey::encode(
                Instance::Production,
                "clerk.example.com",
            ));
            i.secret_key = Some("sk_live_abc".into());
            i.authorized_parties = Some("http://localhost:5173".into());
        });
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("not https"));
    }
}
