//! Metrics in CloudWatch Embedded Metric Format (EMF): one JSON object per invocation, written as
//! its own line to standard output, which Lambda sends to CloudWatch Logs; CloudWatch extracts the
//! metrics from it. No API call, no extra latency, no client in the binary (docs/observability.md).
//!
//! During an invocation the request path counts into a per-thread recorder ([`count`],
//! [`clerk_api_call`]): a few `Cell` increments, no lock, no allocation. The one line is written
//! by [`request`] when the answer is known (from `shared::http::respond`), and the recorder is
//! reset. A function runs one invocation at a time on a current-thread runtime, so the thread's
//! recorder is the invocation's.
//!
//! Dimensions are low-cardinality only: the function, the route pattern (never a raw path: an
//! unmatched path is [`UNMATCHED_ROUTE`]), the status class and the reason code. Never a user id,
//! token or other per-request value.
//!
//! Lines are written only inside Lambda (or `cargo lambda watch`: `AWS_LAMBDA_FUNCTION_NAME` set),
//! or to a thread's [`Capture`] (tests, benchmarks); elsewhere the counters are just reset.

use std::cell::{Cell, RefCell};
use std::fmt::Write as _;
use std::io::Write as _;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::error::Reason;

/// The EMF specification's limits (CloudWatch's EMF specification and the reference
/// aws-embedded-metrics libraries): dimension keys per dimension set.
pub const MAX_DIMENSIONS_PER_SET: usize = 30;
/// Metric definitions per object (all directives together).
pub const MAX_METRICS: usize = 100;
/// Values of one metric in one object.
pub const MAX_VALUES_PER_METRIC: usize = 100;
/// Length of a dimension name.
pub const MAX_DIMENSION_NAME_LEN: usize = 250;
/// Length of a dimension value.
pub const MAX_DIMENSION_VALUE_LEN: usize = 1024;
/// Length of a metric name.
pub const MAX_METRIC_NAME_LEN: usize = 1024;
/// Length of a namespace (characters `[A-Za-z0-9._#:/-]`).
pub const MAX_NAMESPACE_LEN: usize = 256;

/// The namespace when `METRICS_NAMESPACE` is not set (the template sets the stack's name).
pub const DEFAULT_NAMESPACE: &str = "ClerkLambdaRust";
/// The `Function` dimension outside Lambda.
pub const LOCAL_FUNCTION: &str = "local";
/// The `Route` dimension of a request no route matched: a raw path is never a dimension.
pub const UNMATCHED_ROUTE: &str = "unmatched";
/// Backend API latencies kept per invocation (a request makes at most a few calls; more are
/// counted but their latency is not kept).
pub const MAX_LATENCIES: usize = 8;

/// What the request path counts during an invocation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Counter {
    /// Key set fetches from the Backend API (`GET /v1/jwks`), and those that failed.
    KeySetFetches,
    KeySetFetchFailures,
    /// Secret reads from Secrets Manager, and those that failed.
    SecretFetches,
    SecretFetchFailures,
    /// Signature-cache lookups that skipped the RSA check, and those that did not.
    SignatureCacheHits,
    SignatureCacheMisses,
    /// Backend API calls (each attempt), and those that failed (any error).
    ClerkApiCalls,
    ClerkApiFailures,
}

impl Counter {
    /// Every counter, in the order of the line.
    pub const ALL: [Counter; 8] = [
        Counter::KeySetFetches,
        Counter::KeySetFetchFailures,
        Counter::SecretFetches,
        Counter::SecretFetchFailures,
        Counter::SignatureCacheHits,
        Counter::SignatureCacheMisses,
        Counter::ClerkApiCalls,
        Counter::ClerkApiFailures,
    ];

    /// The metric's name in CloudWatch.
    pub fn name(self) -> &'static str {
        match self {
            Counter::KeySetFetches => "KeySetFetches",
            Counter::KeySetFetchFailures => "KeySetFetchFailures",
            Counter::SecretFetches => "SecretFetches",
            Counter::SecretFetchFailures => "SecretFetchFailures",
            Counter::SignatureCacheHits => "SignatureCacheHits",
            Counter::SignatureCacheMisses => "SignatureCacheMisses",
            Counter::ClerkApiCalls => "ClerkApiCalls",
            Counter::ClerkApiFailures => "ClerkApiFailures",
        }
    }
}

const COUNTERS: usize = Counter::ALL.len();

/// What one invocation counted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counts {
    pub counters: [u32; COUNTERS],
    /// Backend API latencies in milliseconds (at most [`MAX_LATENCIES`]).
    pub latencies_ms: Vec<u32>,
}

/// The request an EMF line describes.
#[derive(Debug, Clone, Copy)]
pub struct RequestInfo<'a> {
    /// The route's pattern as the route table declares it, or [`UNMATCHED_ROUTE`].
    pub route: &'a str,
    pub status: u16,
    /// The reason of a failed request.
    pub reason: Option<Reason>,
}

struct Recorder {
    counters: [Cell<u32>; COUNTERS],
    latencies: [Cell<u32>; MAX_LATENCIES],
    latency_len: Cell<usize>,
    /// Where this thread's lines go.
    capture: RefCell<Option<Vec<String>>>,
    discard: Cell<bool>,
    /// The line, built in place (its allocation kept between invocations).
    line: RefCell<String>,
}

thread_local! {
    static RECORDER: Recorder = const {
        Recorder {
            counters: [const { Cell::new(0) }; COUNTERS],
            latencies: [const { Cell::new(0) }; MAX_LATENCIES],
            latency_len: Cell::new(0),
            capture: RefCell::new(None),
            discard: Cell::new(false),
            line: RefCell::new(String::new()),
        }
    };
}

/// Whether the next line is the process's first: a cold start.
static COLD: AtomicBool = AtomicBool::new(true);

/// Counts one `counter` for this invocation.
#[inline]
pub fn count(counter: Counter) {
    RECORDER.with(|r| {
        let c = &r.counters[counter as usize];
        c.set(c.get().saturating_add(1));
    });
}

/// One Backend API call (an attempt) took `latency`, and failed when `!ok`.
pub fn clerk_api_call(latency: Duration, ok: bool) {
    count(Counter::ClerkApiCalls);
    if !ok {
        count(Counter::ClerkApiFailures);
    }
    let ms = u32::try_from(latency.as_millis()).unwrap_or(u32::MAX);
    RECORDER.with(|r| {
        let n = r.latency_len.get();
        if n < MAX_LATENCIES {
            r.latencies[n].set(ms);
            r.latency_len.set(n + 1);
        }
    });
}

/// Ends the invocation: writes its EMF line (when lines are written here) and resets the counts.
pub fn request(info: RequestInfo<'_>) {
    RECORDER.with(|r| {
        let capture = r.capture.borrow().is_some();
        if !(capture || r.discard.get() || enabled()) {
            reset(r);
            return;
        }
        let cold = COLD.swap(false, Ordering::Relaxed);
        let mut line = r.line.borrow_mut();
        line.clear();
        let n = r.latency_len.get();
        let mut latencies = [0u32; MAX_LATENCIES];
        for (out, c) in latencies.iter_mut().zip(&r.latencies[..n]) {
            *out = c.get();
        }
        let mut counters = [0u32; COUNTERS];
        for (out, c) in counters.iter_mut().zip(&r.counters) {
            *out = c.get();
        }
        reset(r);
        write_line(
            &mut line,
            &Line {
                namespace: namespace(),
                function: function_name(),
                timestamp_ms: now_ms(),
                cold,
                request: info,
                counters: &counters,
                latencies_ms: &latencies[..n],
            },
        );
        if let Some(lines) = r.capture.borrow_mut().as_mut() {
            lines.push(line.clone());
        } else if !r.discard.get() {
            line.push('\n');
            // One write of the whole line: it never interleaves with a log line.
            let _ = std::io::stdout().lock().write_all(line.as_bytes());
        }
    });
}

/// What this thread counted so far in this invocation (tests).
pub fn pending() -> Counts {
    RECORDER.with(|r| Counts {
        counters: std::array::from_fn(|i| r.counters[i].get()),
        latencies_ms: r.latencies[..r.latency_len.get()]
            .iter()
            .map(Cell::get)
            .collect(),
    })
}

fn reset(r: &Recorder) {
    for c in &r.counters {
        c.set(0);
    }
    r.latency_len.set(0);
}

/// This thread's EMF lines, kept instead of written while the guard lives (tests), or built and
/// dropped ([`Capture::discard`]: benchmarks, so that they measure the line's cost without
/// printing it).
#[derive(Debug)]
pub struct Capture {
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Capture {
    /// Keeps this thread's lines (see [`Capture::lines`]); counts start from zero.
    pub fn start() -> Self {
        RECORDER.with(|r| {
            reset(r);
            *r.capture.borrow_mut() = Some(Vec::new());
        });
        Self {
            _not_send: std::marker::PhantomData,
        }
    }

    /// Builds this thread's lines and drops them.
    pub fn discard() -> Self {
        RECORDER.with(|r| {
            reset(r);
            r.discard.set(true);
        });
        Self {
            _not_send: std::marker::PhantomData,
        }
    }

    /// The lines written since the start, and forgets them.
    pub fn lines(&self) -> Vec<String> {
        RECORDER.with(|r| {
            r.capture
                .borrow_mut()
                .as_mut()
                .map(std::mem::take)
                .unwrap_or_default()
        })
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        RECORDER.with(|r| {
            *r.capture.borrow_mut() = None;
            r.discard.set(false);
            reset(r);
        });
    }
}

/// Lines go to standard output inside Lambda (and `cargo lambda watch`) only.
fn enabled() -> bool {
    static ENABLED: OnceLock<bool> = OnceLock::new();
    *ENABLED.get_or_init(|| std::env::var("AWS_LAMBDA_FUNCTION_NAME").is_ok_and(|v| !v.is_empty()))
}

/// `METRICS_NAMESPACE` when it is a valid namespace, else [`DEFAULT_NAMESPACE`] (read once).
pub fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        let value = std::env::var("METRICS_NAMESPACE").unwrap_or_default();
        if value.is_empty() {
            DEFAULT_NAMESPACE.to_owned()
        } else if is_valid_namespace(&value) {
            value
        } else {
            tracing::warn!(
                default = DEFAULT_NAMESPACE,
                "METRICS_NAMESPACE is not a CloudWatch namespace (1 to 256 of A-Z a-z 0-9 . _ # : / -); using the default"
            );
            DEFAULT_NAMESPACE.to_owned()
        }
    })
}

/// Whether `ns` is a CloudWatch namespace EMF accepts.
pub fn is_valid_namespace(ns: &str) -> bool {
    !ns.is_empty()
        && ns.len() <= MAX_NAMESPACE_LEN
        && ns
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._#:/-".contains(&b))
}

/// The `Function` dimension: Lambda's function name (one per function of the stack), read once.
pub fn function_name() -> &'static str {
    static NAME: OnceLock<String> = OnceLock::new();
    NAME.get_or_init(|| {
        dimension_value(&std::env::var("AWS_LAMBDA_FUNCTION_NAME").unwrap_or_default())
            .unwrap_or(LOCAL_FUNCTION)
            .to_owned()
    })
}

/// `value` when it can be a dimension value (1 to 1024 printable ASCII characters, not only
/// white space).
pub fn dimension_value(value: &str) -> Option<&str> {
    let ok = !value.trim().is_empty()
        && value.len() <= MAX_DIMENSION_VALUE_LEN
        && value.bytes().all(|b| (b' '..=b'~').contains(&b));
    ok.then_some(value)
}

/// The status class dimension.
pub fn status_class(status: u16) -> &'static str {
    match status {
        100..=199 => "1xx",
        200..=299 => "2xx",
        300..=399 => "3xx",
        400..=499 => "4xx",
        _ => "5xx",
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// Everything one line holds.
#[derive(Debug)]
pub struct Line<'a> {
    pub namespace: &'a str,
    pub function: &'a str,
    pub timestamp_ms: u64,
    pub cold: bool,
    pub request: RequestInfo<'a>,
    pub counters: &'a [u32; COUNTERS],
    pub latencies_ms: &'a [u32],
}

/// Writes `line` as one EMF object. Directives: `Requests` by function and by (function, route,
/// status class); `AuthFailures` (401, 403) and `Outages` (503) by (function, reason), and
/// outages by function; the counters, cold start and Backend API latency by function, each only
/// when not zero. The route and function are checked dimension values (an invalid one becomes
/// [`UNMATCHED_ROUTE`] / [`LOCAL_FUNCTION`]).
pub fn write_line(out: &mut String, line: &Line<'_>) {
    let req = line.request;
    let route = dimension_value(req.route).unwrap_or(UNMATCHED_ROUTE);
    let function = dimension_value(line.function).unwrap_or(LOCAL_FUNCTION);
    let reason = req.reason.map(Reason::as_str);
    let auth_failure = matches!(req.status, 401 | 403) && reason.is_some();
    let outage = req.status == 503 && reason.is_some();
    // Checked once, then copied into each directive (a valid namespace needs no escaping).
    let ns = if is_valid_namespace(line.namespace) {
        line.namespace
    } else {
        DEFAULT_NAMESPACE
    };

    out.push_str(r#"{"_aws":{"Timestamp":"#);
    push_u64(out, line.timestamp_ms);
    out.push_str(r#","CloudWatchMetrics":[{"Namespace":"#);
    push_quoted(out, ns);
    out.push_str(
        r#","Dimensions":[["Function"],["Function","Route","StatusClass"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]}"#,
    );
    if auth_failure {
        out.push_str(r#",{"Namespace":"#);
        push_quoted(out, ns);
        out.push_str(
            r#","Dimensions":[["Function","Reason"]],"Metrics":[{"Name":"AuthFailures","Unit":"Count"}]}"#,
        );
    }
    if outage {
        out.push_str(r#",{"Namespace":"#);
        push_quoted(out, ns);
        out.push_str(
            r#","Dimensions":[["Function"],["Function","Reason"]],"Metrics":[{"Name":"Outages","Unit":"Count"}]}"#,
        );
    }
    let any_counter =
        line.cold || !line.latencies_ms.is_empty() || line.counters.iter().any(|&c| c > 0);
    if any_counter {
        out.push_str(r#",{"Namespace":"#);
        push_quoted(out, ns);
        out.push_str(r#","Dimensions":[["Function"]],"Metrics":["#);
        let mut first = true;
        let mut def = |out: &mut String, name: &str, unit: &str| {
            if !first {
                out.push(',');
            }
            first = false;
            out.push_str(r#"{"Name":""#);
            out.push_str(name);
            out.push_str(r#"","Unit":""#);
            out.push_str(unit);
            out.push_str(r#""}"#);
        };
        if line.cold {
            def(out, "ColdStart", "Count");
        }
        for (c, &v) in Counter::ALL.iter().zip(line.counters) {
            if v > 0 {
                def(out, c.name(), "Count");
            }
        }
        if !line.latencies_ms.is_empty() {
            def(out, "ClerkApiLatency", "Milliseconds");
        }
        out.push_str("]}");
    }
    out.push_str(r#"]},"Function":"#);
    json_str(out, function);
    out.push_str(r#","Route":"#);
    json_str(out, route);
    out.push_str(r#","StatusClass":""#);
    out.push_str(status_class(req.status));
    out.push('"');
    if let Some(reason) = reason {
        out.push_str(r#","Reason":""#);
        out.push_str(reason);
        out.push('"');
    }
    out.push_str(r#","Status":"#);
    push_u64(out, u64::from(req.status));
    out.push_str(r#","Requests":1"#);
    if auth_failure {
        out.push_str(r#","AuthFailures":1"#);
    }
    if outage {
        out.push_str(r#","Outages":1"#);
    }
    if line.cold {
        out.push_str(r#","ColdStart":1"#);
    }
    for (c, &v) in Counter::ALL.iter().zip(line.counters) {
        if v > 0 {
            out.push_str(",\"");
            out.push_str(c.name());
            out.push_str("\":");
            push_u64(out, u64::from(v));
        }
    }
    if !line.latencies_ms.is_empty() {
        out.push_str(r#","ClerkApiLatency":["#);
        for (i, ms) in line.latencies_ms.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            push_u64(out, u64::from(*ms));
        }
        out.push(']');
    }
    out.push('}');
}

/// `s`, which needs no escaping, as a JSON string.
fn push_quoted(out: &mut String, s: &str) {
    out.push('"');
    out.push_str(s);
    out.push('"');
}

/// `n` in decimal (the line's numbers, without `core::fmt`'s machinery on every request).
fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.push_str(std::str::from_utf8(&digits[i..]).unwrap_or("0"));
}

/// `s` as a JSON string (dimension values are checked printable ASCII; escaping is the backstop).
fn json_str(out: &mut String, s: &str) {
    out.push('"');
    // Nearly always: nothing to escape, one copy.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push_str(s);
        out.push('"');
        return;
    }
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn line(info: RequestInfo<'_>, cold: bool, counters: [u32; COUNTERS], lat: &[u32]) -> Value {
        let mut out = String::new();
        write_line(
            &mut out,
            &Line {
                namespace: "my-stack",
                function: "my-stack-ProtectedFunction-AbC123",
                timestamp_ms: 1_800_000_000_000,
                cold,
                request: info,
                counters: &counters,
                latencies_ms: lat,
            },
        );
        assert!(!out.contains('\n'), "one line: {out}");
        let v: Value = serde_json::from_str(&out).unwrap();
        test_support::emf::check(&v).unwrap_or_else(|e| panic!("{e}: {out}"));
        v
    }

    fn metric_names(v: &Value) -> Vec<String> {
        v["_aws"]["CloudWatchMetrics"]
            .as_array()
            .unwrap()
            .iter()
            .flat_map(|d| d["Metrics"].as_array().unwrap().iter())
            .map(|m| m["Name"].as_str().unwrap().to_owned())
            .collect()
    }

    #[test]
    fn a_plain_200_counts_one_request_by_route_and_status_class() {
        let v = line(
            RequestInfo {
                route: "/api/protected",
                status: 200,
                reason: None,
            },
            false,
            [0; COUNTERS],
            &[],
        );
        assert_eq!(v["_aws"]["Timestamp"], 1_800_000_000_000u64);
        assert_eq!(metric_names(&v), ["Requests"]);
        let d = &v["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(d["Namespace"], "my-stack");
        assert_eq!(
            d["Dimensions"],
            json!([["Function"], ["Function", "Route", "StatusClass"]])
        );
        assert_eq!(v["Route"], "/api/protected");
        assert_eq!(v["StatusClass"], "2xx");
        assert_eq!(v["Function"], "my-stack-ProtectedFunction-AbC123");
        assert_eq!(v["Requests"], 1);
        assert!(v.get("Reason").is_none());
    }

    #[test]
    fn auth_failures_and_outages_by_reason() {
        let v = line(
            RequestInfo {
                route: "/api/protected",
                status: 401,
                reason: Some(Reason::TokenInvalidSignature),
            },
            false,
            [0; COUNTERS],
            &[],
        );
        assert_eq!(metric_names(&v), ["Requests", "AuthFailures"]);
        assert_eq!(v["Reason"], "token-invalid-signature");
        assert_eq!(v["AuthFailures"], 1);
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][1]["Dimensions"],
            json!([["Function", "Reason"]])
        );
        let v = line(
            RequestInfo {
                route: "/api/me",
                status: 503,
                reason: Some(Reason::SecretUnavailable),
            },
            false,
            [0; COUNTERS],
            &[],
        );
        assert_eq!(metric_names(&v), ["Requests", "Outages"]);
        assert_eq!(v["Outages"], 1);
        assert_eq!(v["StatusClass"], "5xx");
        assert_eq!(v["Reason"], "secret-unavailable");
        // A 404 is neither.
        let v = line(
            RequestInfo {
                route: UNMATCHED_ROUTE,
                status: 404,
                reason: Some(Reason::RouteNotFound),
            },
            false,
            [0; COUNTERS],
            &[],
        );
        assert_eq!(metric_names(&v), ["Requests"]);
        assert_eq!(v["Route"], "unmatched");
    }

    #[test]
    fn counters_cold_start_and_latency_only_when_not_zero() {
        let mut counters = [0; COUNTERS];
        counters[Counter::KeySetFetches as usize] = 1;
        counters[Counter::SecretFetches as usize] = 2;
        counters[Counter::ClerkApiCalls as usize] = 3;
        let v = line(
            RequestInfo {
                route: "/api/me",
                status: 200,
                reason: None,
            },
            true,
            counters,
            &[12, 250, 3000],
        );
        assert_eq!(
            metric_names(&v),
            [
                "Requests",
                "ColdStart",
                "KeySetFetches",
                "SecretFetches",
                "ClerkApiCalls",
                "ClerkApiLatency"
            ]
        );
        assert_eq!(v["ColdStart"], 1);
        assert_eq!(v["SecretFetches"], 2);
        assert_eq!(v["ClerkApiLatency"], json!([12, 250, 3000]));
        assert!(v.get("SignatureCacheHits").is_none());
        let lat = v["_aws"]["CloudWatchMetrics"][1]["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["Name"] == "ClerkApiLatency")
            .unwrap()
            .clone();
        assert_eq!(lat["Unit"], "Milliseconds");
    }

    #[test]
    fn every_counter_and_reason_at_once_stays_within_the_limits() {
        for reason in Reason::ALL {
            let v = line(
                RequestInfo {
                    route: "/api/{proxy+}",
                    status: reason.status().as_u16(),
                    reason: Some(*reason),
                },
                true,
                [u32::MAX; COUNTERS],
                &[u32::MAX; MAX_LATENCIES],
            );
            assert!(metric_names(&v).len() <= MAX_METRICS);
            assert_eq!(v["Reason"], reason.as_str());
        }
    }

    #[test]
    fn dimension_values_are_checked_and_escaped() {
        // A route that cannot be a dimension value is "unmatched", never the raw text.
        let long = "/".repeat(MAX_DIMENSION_VALUE_LEN + 1);
        for bad in ["", "   ", "/api/\u{e9}", "/api/\n", long.as_str()] {
            let v = line(
                RequestInfo {
                    route: bad,
                    status: 200,
                    reason: None,
                },
                false,
                [0; COUNTERS],
                &[],
            );
            assert_eq!(v["Route"], UNMATCHED_ROUTE, "{bad:?}");
        }
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\u{1}");
        assert_eq!(out, r#""a\"b\\c\u0001""#);
        assert_eq!(
            serde_json::from_str::<String>(&out).unwrap(),
            "a\"b\\c\u{1}"
        );
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0, 7, 10, 200, 1_800_000_000_000, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn namespaces_as_cloudwatch_takes_them() {
        assert!(is_valid_namespace("ClerkLambdaRust"));
        assert!(is_valid_namespace("my-stack/prod:v1.2#x_y"));
        assert!(!is_valid_namespace(""));
        assert!(!is_valid_namespace("has space"));
        assert!(!is_valid_namespace(&"a".repeat(MAX_NAMESPACE_LEN + 1)));
        assert!(is_valid_namespace(&"a".repeat(MAX_NAMESPACE_LEN)));
        // A namespace CloudWatch would refuse never reaches a line.
        let mut out = String::new();
        let line = Line {
            namespace: "bad \"ns",
            function: "f",
            timestamp_ms: 1,
            cold: false,
            request: RequestInfo {
                route: "/r",
                status: 200,
                reason: None,
            },
            counters: &[0; COUNTERS],
            latencies_ms: &[],
        };
        write_line(&mut out, &line);
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Namespace"],
            DEFAULT_NAMESPACE
        );
        assert_eq!(status_class(204), "2xx");
        assert_eq!(status_class(503), "5xx");
        assert_eq!(status_class(0), "5xx");
    }

    #[test]
    fn the_recorder_counts_an_invocation_and_resets() {
        let capture = Capture::start();
        count(Counter::SignatureCacheHits);
        count(Counter::SignatureCacheHits);
        clerk_api_call(Duration::from_millis(42), false);
        for _ in 0..MAX_LATENCIES + 3 {
            clerk_api_call(Duration::from_millis(1), true);
        }
        let p = pending();
        assert_eq!(p.counters[Counter::SignatureCacheHits as usize], 2);
        assert_eq!(
            p.counters[Counter::ClerkApiCalls as usize],
            MAX_LATENCIES as u32 + 4
        );
        assert_eq!(p.latencies_ms.len(), MAX_LATENCIES);
        request(RequestInfo {
            route: "/api/protected",
            status: 200,
            reason: None,
        });
        request(RequestInfo {
            route: "/api/protected",
            status: 200,
            reason: None,
        });
        let lines = capture.lines();
        assert_eq!(lines.len(), 2, "one line per invocation");
        let first: Value = serde_json::from_str(&lines[0]).unwrap();
        test_support::emf::check(&first).unwrap();
        assert_eq!(first["SignatureCacheHits"], 2);
        assert_eq!(first["ClerkApiFailures"], 1);
        assert_eq!(first["ClerkApiLatency"][0], 42);
        assert_eq!(
            first["ClerkApiLatency"].as_array().unwrap().len(),
            MAX_LATENCIES
        );
        let second: Value = serde_json::from_str(&lines[1]).unwrap();
        assert!(second.get("SignatureCacheHits").is_none(), "{second}");
        assert!(second.get("ClerkApiLatency").is_none(), "{second}");
        assert!(
            second.get("ColdStart").is_none(),
            "only the first line of a process"
        );
        drop(capture);
        assert_eq!(pending(), Counts::default());
    }
}
