//! Structured JSON logs for the functions (CloudWatch-friendly; docs/contract.md, section 5).
//!
//! `RUST_LOG` takes the standard directive syntax without span or field filters: a default level
//! and `target=level` pairs, comma-separated (`warn,shared=debug`); the most specific target
//! wins. Whatever it says, crates other than ours never log at `trace`: at that level
//! lambda_runtime writes the raw event, its `Authorization` header included, and HTTP clients
//! write what they send. No token or secret reaches the log at any level.

use std::str::FromStr as _;

use tracing::Metadata;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{self, FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Crates whose `trace` level we let through: ours, which never log request data.
const OWN_CRATES: &[&str] = &["shared", "protected", "public", "clerk_token", "webhooks"];

/// What `RUST_LOG` asks for, or why it cannot be read. Unset or empty: `info`.
pub fn directives(value: Option<&str>) -> Result<Targets, String> {
    match value.map(str::trim) {
        None | Some("") => Ok(Targets::new().with_default(LevelFilter::INFO)),
        Some(v) if v.contains(['[', '{']) => Err("span and field filters are not supported".into()),
        Some(v) => Targets::from_str(v).map_err(|e| e.to_string()),
    }
}

/// Whether a log line from `meta` may be written whatever the directives say.
pub fn allowed(meta: &Metadata<'_>) -> bool {
    *meta.level() != tracing::Level::TRACE || is_own(meta.target())
}

fn is_own(target: &str) -> bool {
    let krate = target.split("::").next().unwrap_or(target);
    OWN_CRATES.contains(&krate)
}

/// Installs a JSON `tracing` subscriber writing to standard output, once; later calls do nothing.
/// A `RUST_LOG` that cannot be read leaves `info` on, and says so in the log.
pub fn init() {
    let value = std::env::var("RUST_LOG").ok();
    let (targets, unreadable) = match directives(value.as_deref()) {
        Ok(t) => (t, None),
        Err(e) => (Targets::new().with_default(LevelFilter::INFO), Some(e)),
    };
    let cap = filter::filter_fn(allowed).with_max_level_hint(LevelFilter::TRACE);
    let layer = tracing_subscriber::fmt::layer()
        .json()
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .with_filter(targets.and(cap));
    if tracing_subscriber::registry()
        .with(layer)
        .try_init()
        .is_ok()
        && let Some(error) = unreadable
    {
        tracing::warn!(
            error,
            "RUST_LOG is not a list of level directives; logging at info"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn level(value: &str, target: &str) -> Option<tracing::Level> {
        let t = directives(Some(value)).unwrap();
        [
            tracing::Level::TRACE,
            tracing::Level::DEBUG,
            tracing::Level::INFO,
            tracing::Level::WARN,
            tracing::Level::ERROR,
        ]
        .into_iter()
        .find(|l| t.would_enable(target, l))
    }

    #[test]
    fn rust_log_is_read_as_directives() {
        use tracing::Level;
        assert!(
            directives(None)
                .unwrap()
                .would_enable("shared", &Level::INFO)
        );
        assert!(
            !directives(None)
                .unwrap()
                .would_enable("shared", &Level::DEBUG)
        );
        assert_eq!(level("debug", "shared::auth"), Some(Level::DEBUG));
        // The last word no longer applies to every crate.
        assert_eq!(
            level("warn,shared=trace", "shared::verify"),
            Some(Level::TRACE)
        );
        assert_eq!(
            level("warn,shared=trace", "lambda_runtime"),
            Some(Level::WARN)
        );
        assert_eq!(level("shared=debug", "hyper"), None);
        assert_eq!(level("off", "shared"), None);
        assert_eq!(
            level("info,lambda_runtime=trace", "lambda_runtime::layers"),
            Some(Level::TRACE)
        );
        assert!(directives(Some("shared=loud")).is_err());
        assert!(directives(Some("shared[span{x=1}]=debug")).is_err());
        assert!(directives(Some("shared[span]=trace")).is_err());
    }

    #[test]
    fn only_our_crates_log_at_trace() {
        use tracing::Level;
        use tracing::callsite::Identifier;
        use tracing::field::FieldSet;
        use tracing::metadata::Kind;
        struct Site;
        impl tracing::Callsite for Site {
            fn set_interest(&self, _: tracing::subscriber::Interest) {}
            fn metadata(&self) -> &Metadata<'_> {
                unimplemented!()
            }
        }
        static SITE: Site = Site;
        let meta = |target: &'static str, level: Level| {
            Metadata::new(
                "event",
                target,
                level,
                None,
                None,
                None,
                FieldSet::new(&[], Identifier(&SITE)),
                Kind::EVENT,
            )
        };
        assert!(!allowed(&meta(
            "lambda_runtime::layers::api_response",
            Level::TRACE
        )));
        assert!(!allowed(&meta("hyper_util::client", Level::TRACE)));
        assert!(!allowed(&meta("sharedx", Level::TRACE)));
        assert!(allowed(&meta("lambda_runtime", Level::DEBUG)));
        assert!(allowed(&meta("shared::jwks", Level::TRACE)));
        assert!(allowed(&meta("protected", Level::TRACE)));
    }
}
