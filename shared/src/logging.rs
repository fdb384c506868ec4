//! Structured JSON logs for the functions (CloudWatch-friendly). `RUST_LOG` sets the level
//! (`error`, `warn`, `info` (default), `debug`, `trace`); per-target filters are not supported, which
//! keeps a regex engine out of the binary.

use tracing_subscriber::filter::LevelFilter;

/// The level `RUST_LOG` names (its last bare level word), `info` otherwise.
pub fn level_from(value: Option<&str>) -> LevelFilter {
    value
        .and_then(|v| {
            v.split(',')
                .filter_map(|part| part.rsplit('=').next())
                .filter_map(|word| word.trim().parse::<LevelFilter>().ok())
                .next_back()
        })
        .unwrap_or(LevelFilter::INFO)
}

/// Installs a JSON `tracing` subscriber writing to standard output, once; later calls do nothing.
pub fn init() {
    let level = level_from(std::env::var("RUST_LOG").ok().as_deref());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_max_level(level)
        .with_current_span(true)
        .with_span_list(false)
        .with_target(false)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rust_log_levels() {
        assert_eq!(level_from(None), LevelFilter::INFO);
        assert_eq!(level_from(Some("debug")), LevelFilter::DEBUG);
        assert_eq!(level_from(Some("warn,shared=trace")), LevelFilter::TRACE);
        assert_eq!(level_from(Some("nonsense")), LevelFilter::INFO);
        assert_eq!(level_from(Some("off")), LevelFilter::OFF);
    }
}
