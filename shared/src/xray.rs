//! AWS X-Ray: the invocation's trace header propagated to the calls this function makes (Clerk's
//! Backend API, Secrets Manager) as `X-Amzn-Trace-Id`, and, when the invocation is sampled
//! (`Tracing: Active` in the template), one subsegment per call sent to the Lambda X-Ray daemon
//! over UDP (`AWS_XRAY_DAEMON_ADDRESS`), so a trace shows where a slow or failed request waited.
//!
//! The trace header comes from the invocation's context ([`enter`], called by
//! `shared::lambda::run`), else from `_X_AMZN_TRACE_ID` (which lambda_runtime sets per
//! invocation). A subsegment holds the call's name, times, method, URL pattern (ids replaced by
//! `{id}`), status and outcome: never a token, a secret or a user id.

use std::cell::RefCell;
use std::fmt::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _, UdpSocket};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

/// The header that carries the trace to downstream services.
pub const TRACE_HEADER: &str = "x-amzn-trace-id";

/// A parsed `X-Amzn-Trace-Id` / `_X_AMZN_TRACE_ID`: `Root=1-<8 hex>-<24 hex>;Parent=<16
/// hex>;Sampled=<0|1|?>` (other fields, such as `Lineage`, are not propagated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TraceHeader {
    root: String,
    parent: Option<String>,
    sampled: Option<bool>,
}

impl TraceHeader {
    /// The header, or `None` when it has no valid `Root` (a malformed `Parent` or `Sampled` is
    /// dropped, not trusted).
    pub fn parse(value: &str) -> Option<Self> {
        let mut root = None;
        let mut parent = None;
        let mut sampled = None;
        for field in value.split(';') {
            let Some((k, v)) = field.split_once('=') else {
                continue;
            };
            match (k.trim(), v.trim()) {
                ("Root", v) if is_trace_id(v) => root = Some(v.to_owned()),
                ("Parent", v) if is_hex(v, 16) => parent = Some(v.to_owned()),
                ("Sampled", "1") => sampled = Some(true),
                ("Sampled", "0") => sampled = Some(false),
                _ => {}
            }
        }
        Some(Self {
            root: root?,
            parent,
            sampled,
        })
    }

    /// The trace id (`1-...-...`).
    pub fn root(&self) -> &str {
        &self.root
    }

    pub fn parent(&self) -> Option<&str> {
        self.parent.as_deref()
    }

    /// Whether this invocation is recorded (X-Ray decided upstream).
    pub fn sampled(&self) -> bool {
        self.sampled == Some(true)
    }

    /// The header value as received (its valid fields).
    pub fn to_header(&self) -> String {
        let mut out = format!("Root={}", self.root);
        if let Some(p) = &self.parent {
            let _ = write!(out, ";Parent={p}");
        }
        match self.sampled {
            Some(true) => out.push_str(";Sampled=1"),
            Some(false) => out.push_str(";Sampled=0"),
            None => {}
        }
        out
    }
}

fn is_hex(s: &str, len: usize) -> bool {
    s.len() == len && s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_trace_id(s: &str) -> bool {
    let mut parts = s.split('-');
    parts.next() == Some("1")
        && parts.next().is_some_and(|t| is_hex(t, 8))
        && parts.next().is_some_and(|r| is_hex(r, 24))
        && parts.next().is_none()
}

/// The invocation's trace and where its subsegments go.
#[derive(Debug, Clone)]
struct Invocation {
    header: Option<TraceHeader>,
    daemon: Option<SocketAddr>,
}

thread_local! {
    static CURRENT: RefCell<Option<Invocation>> = const { RefCell::new(None) };
}

/// Starts an invocation with Lambda's trace id (`Context::xray_trace_id`); subsegments go to
/// `AWS_XRAY_DAEMON_ADDRESS`. A function runs one invocation at a time per thread.
pub fn enter(trace_id: Option<&str>) {
    enter_with(trace_id, daemon_from_env());
}

/// [`enter`] with the daemon's address given (tests: a loopback listener).
pub fn enter_with(trace_id: Option<&str>, daemon: Option<SocketAddr>) {
    let header = trace_id.and_then(TraceHeader::parse);
    CURRENT.with(|c| *c.borrow_mut() = Some(Invocation { header, daemon }));
}

/// Ends the invocation's tracing on this thread.
pub fn leave() {
    CURRENT.with(|c| *c.borrow_mut() = None);
}

fn current() -> Invocation {
    CURRENT
        .with(|c| c.borrow().clone())
        .unwrap_or_else(|| Invocation {
            header: std::env::var("_X_AMZN_TRACE_ID")
                .ok()
                .as_deref()
                .and_then(TraceHeader::parse),
            daemon: daemon_from_env(),
        })
}

/// `AWS_XRAY_DAEMON_ADDRESS`, read once.
pub fn daemon_from_env() -> Option<SocketAddr> {
    static DAEMON: OnceLock<Option<SocketAddr>> = OnceLock::new();
    *DAEMON.get_or_init(|| {
        std::env::var("AWS_XRAY_DAEMON_ADDRESS")
            .ok()
            .as_deref()
            .and_then(parse_daemon_address)
    })
}

/// The UDP address of `host:port`, or of the `udp:` part of `tcp:host:port udp:host:port`.
pub fn parse_daemon_address(value: &str) -> Option<SocketAddr> {
    let value = value.trim();
    let udp = if value.contains(' ') {
        value
            .split_whitespace()
            .find_map(|p| p.strip_prefix("udp:"))?
    } else {
        value.strip_prefix("udp:").unwrap_or(value)
    };
    udp.to_socket_addrs().ok()?.next()
}

/// Which kind of service a call reaches (X-Ray's `namespace`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// An AWS service (Secrets Manager).
    Aws,
    /// Any other HTTP API (Clerk's Backend API).
    Remote,
}

/// How a traced call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Outcome {
    /// The HTTP status, when an answer came.
    pub status: Option<u16>,
    /// A client error (4xx).
    pub error: bool,
    /// A server error, a network failure or a timeout.
    pub fault: bool,
    /// Throttled (429 or the service's throttling error).
    pub throttle: bool,
}

impl Outcome {
    /// The outcome of an HTTP status.
    pub fn status(code: u16) -> Self {
        Self {
            status: Some(code),
            error: (400..500).contains(&code),
            fault: code >= 500,
            throttle: code == 429,
        }
    }

    /// No answer (connection, timeout, unreadable).
    pub fn fault() -> Self {
        Self {
            fault: true,
            ..Self::default()
        }
    }
}

/// One outbound call of the invocation: the header to send, and (when sampled) its subsegment.
#[derive(Debug)]
pub struct Call {
    header: Option<String>,
    segment: Option<Open>,
}

#[derive(Debug)]
struct Open {
    name: &'static str,
    service: Service,
    id: String,
    root: String,
    parent: Option<String>,
    start: f64,
    daemon: SocketAddr,
    method: &'static str,
    url: String,
    operation: Option<&'static str>,
}

/// Starts a traced call to `name` (`method url`; the URL's ids are replaced by `{id}`).
pub fn call(name: &'static str, service: Service, method: &'static str, url: &str) -> Call {
    let inv = current();
    let Some(header) = inv.header else {
        return Call {
            header: None,
            segment: None,
        };
    };
    match inv.daemon.filter(|_| header.sampled()) {
        Some(daemon) => {
            let id = new_id();
            Call {
                header: Some(format!("Root={};Parent={id};Sampled=1", header.root)),
                segment: Some(Open {
                    name,
                    service,
                    id,
                    root: header.root,
                    parent: header.parent,
                    start: now_secs(),
                    daemon,
                    method,
                    url: url_pattern(url),
                    operation: None,
                }),
            }
        }
        // Not recorded here: pass the decision on as it came.
        None => Call {
            header: Some(header.to_header()),
            segment: None,
        },
    }
}

impl Call {
    /// The AWS operation (Secrets Manager's `GetSecretValue`).
    pub fn with_operation(mut self, operation: &'static str) -> Self {
        if let Some(s) = &mut self.segment {
            s.operation = Some(operation);
        }
        self
    }

    /// The `X-Amzn-Trace-Id` value for the call, when the invocation has a trace.
    pub fn header(&self) -> Option<&str> {
        self.header.as_deref()
    }

    /// The id of the call's subsegment, when it is recorded.
    pub fn subsegment_id(&self) -> Option<&str> {
        self.segment.as_ref().map(|s| s.id.as_str())
    }

    /// Ends the call: its subsegment goes to the daemon (one UDP datagram; a failed send is
    /// dropped, never an error of the request).
    pub fn finish(self, outcome: Outcome) {
        let Some(s) = self.segment else {
            return;
        };
        let doc = subsegment_document(&s, now_secs(), outcome);
        let datagram = format!("{{\"format\":\"json\",\"version\":1}}\n{doc}");
        if let Some(socket) = socket(s.daemon) {
            let _ = socket.send_to(datagram.as_bytes(), s.daemon);
        }
    }
}

fn subsegment_document(s: &Open, end: f64, outcome: Outcome) -> String {
    let mut doc = serde_json::json!({
        "name": s.name,
        "id": s.id,
        "trace_id": s.root,
        "start_time": s.start,
        "end_time": end.max(s.start),
        "type": "subsegment",
        "namespace": match s.service { Service::Aws => "aws", Service::Remote => "remote" },
        "http": {"request": {"method": s.method, "url": s.url}},
        "error": outcome.error,
        "fault": outcome.fault,
        "throttle": outcome.throttle,
    });
    if let Some(p) = &s.parent {
        doc["parent_id"] = p.as_str().into();
    }
    if let Some(status) = outcome.status {
        doc["http"]["response"] = serde_json::json!({"status": status});
    }
    if let Some(op) = s.operation {
        doc["aws"] = serde_json::json!({"operation": op});
    }
    doc.to_string()
}

/// The process's UDP socket toward the daemon, bound once.
fn socket(daemon: SocketAddr) -> Option<&'static UdpSocket> {
    static SOCKET: OnceLock<Option<UdpSocket>> = OnceLock::new();
    SOCKET
        .get_or_init(|| {
            let bind = if daemon.is_ipv6() {
                "[::]:0"
            } else {
                "0.0.0.0:0"
            };
            let s = UdpSocket::bind(bind).ok()?;
            // A datagram never waits: tracing must not slow a request.
            s.set_nonblocking(true).ok()?;
            Some(s)
        })
        .as_ref()
}

/// 16 random hex digits (a segment id).
fn new_id() -> String {
    let mut bytes = [0u8; 8];
    if aws_lc_rs::rand::fill(&mut bytes).is_err() {
        // Ids need only be unique within the trace.
        bytes = now_secs().to_bits().to_be_bytes();
    }
    let mut out = String::with_capacity(16);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// `url` without its query, each path segment that is an id (`user_2abc`, a number, a word over
/// 20 characters) replaced by `{id}`: a trace names the endpoint, never whom it was about.
pub fn url_pattern(url: &str) -> String {
    let url = url.split(['?', '#']).next().unwrap_or_default();
    let (prefix, path) = match url.find("://") {
        Some(i) => match url[i + 3..].find('/') {
            Some(j) => url.split_at(i + 3 + j),
            None => (url, ""),
        },
        None => ("", url),
    };
    let mut out = String::from(prefix);
    for (i, seg) in path.split('/').enumerate() {
        if i > 0 {
            out.push('/');
        }
        if is_id(seg) {
            out.push_str("{id}");
        } else {
            out.push_str(seg);
        }
    }
    out
}

fn is_id(seg: &str) -> bool {
    // `user_2abc`, `org_1`: a lowercase prefix, then a digit or a capital somewhere (which
    // `api_keys`, `oauth_applications`, `access_tokens` have not).
    let prefixed = seg.split_once('_').is_some_and(|(p, rest)| {
        !p.is_empty()
            && p.bytes().all(|b| b.is_ascii_lowercase())
            && rest
                .bytes()
                .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    });
    let number = !seg.is_empty() && seg.bytes().all(|b| b.is_ascii_digit());
    prefixed || number || seg.len() > 20
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";

    #[test]
    fn trace_headers_parse_as_lambda_writes_them() {
        let h = TraceHeader::parse(&format!(
            "Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1;Lineage=a87bd80c:0"
        ))
        .unwrap();
        assert_eq!(h.root(), ROOT);
        assert_eq!(h.parent(), Some("53995c3f42cd8ad8"));
        assert!(h.sampled());
        assert_eq!(
            h.to_header(),
            format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")
        );
        let h = TraceHeader::parse(&format!(" Sampled=0 ; Root={ROOT} ")).unwrap();
        assert!(!h.sampled());
        assert_eq!(h.parent(), None);
        // A forged or broken field is dropped, a broken root refuses the whole header.
        let h = TraceHeader::parse(&format!("Root={ROOT};Parent=x\r\nEvil: 1;Sampled=?")).unwrap();
        assert_eq!(h.to_header(), format!("Root={ROOT}"));
        for bad in [
            "",
            "Root=",
            "Root=2-5759e988-bd862e3fe1be46a994272793",
            "Root=1-5759e988-bd862e3fe1be46a99427279",
            "Root=1-5759e988-bd862e3fe1be46a994272793-00",
            "Parent=53995c3f42cd8ad8;Sampled=1",
        ] {
            assert_eq!(TraceHeader::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn daemon_addresses_in_both_forms() {
        assert_eq!(
            parse_daemon_address("169.254.79.129:2000"),
            Some("169.254.79.129:2000".parse().unwrap())
        );
        assert_eq!(
            parse_daemon_address("tcp:127.0.0.1:2000 udp:127.0.0.2:2001"),
            Some("127.0.0.2:2001".parse().unwrap())
        );
        assert_eq!(parse_daemon_address("tcp:127.0.0.1:2000 x"), None);
        assert_eq!(parse_daemon_address("nonsense"), None);
    }

    #[test]
    fn urls_name_the_endpoint_not_the_user() {
        assert_eq!(
            url_pattern("https://api.clerk.com/v1/users/user_2abcDEF?x=sk_test_1"),
            "https://api.clerk.com/v1/users/{id}"
        );
        assert_eq!(
            url_pattern("https://api.clerk.com/v1/jwks"),
            "https://api.clerk.com/v1/jwks"
        );
        assert_eq!(
            url_pattern("http://127.0.0.1:8090/v1/organizations/org_1/memberships"),
            "http://127.0.0.1:8090/v1/organizations/{id}/memberships"
        );
        assert_eq!(url_pattern("/v1/users/12345"), "/v1/users/{id}");
        for verify in [
            "/api_keys/verify",
            "/m2m_tokens/verify",
            "/oauth_applications/access_tokens/verify",
        ] {
            assert_eq!(url_pattern(verify), verify);
        }
        assert_eq!(url_pattern("/v1/x/2abcDEFghiJKLmnoPQRstu"), "/v1/x/{id}");
    }

    fn listener() -> (UdpSocket, SocketAddr) {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        let addr = s.local_addr().unwrap();
        (s, addr)
    }

    fn receive(s: &UdpSocket) -> serde_json::Value {
        let mut buf = [0u8; 65_536];
        let n = s.recv(&mut buf).unwrap();
        let text = std::str::from_utf8(&buf[..n]).unwrap();
        let (header, doc) = text.split_once('\n').unwrap();
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(header).unwrap(),
            serde_json::json!({"format": "json", "version": 1})
        );
        serde_json::from_str(doc).unwrap()
    }

    #[test]
    fn a_sampled_call_sends_its_subsegment_and_propagates_its_id() {
        let (daemon, addr) = listener();
        enter_with(
            Some(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=1")),
            Some(addr),
        );
        let c = call(
            "Clerk Backend API",
            Service::Remote,
            "GET",
            "https://api.clerk.com/v1/users/user_2secretish",
        );
        let id = c.subsegment_id().unwrap().to_owned();
        assert!(is_hex(&id, 16));
        assert_eq!(
            c.header().unwrap(),
            format!("Root={ROOT};Parent={id};Sampled=1")
        );
        c.finish(Outcome::status(429));
        let doc = receive(&daemon);
        assert_eq!(doc["id"], id);
        assert_eq!(doc["trace_id"], ROOT);
        assert_eq!(doc["parent_id"], "53995c3f42cd8ad8");
        assert_eq!(doc["type"], "subsegment");
        assert_eq!(doc["namespace"], "remote");
        assert_eq!(doc["name"], "Clerk Backend API");
        assert_eq!(
            doc["http"]["request"]["url"],
            "https://api.clerk.com/v1/users/{id}"
        );
        assert_eq!(doc["http"]["response"]["status"], 429);
        assert_eq!(
            (doc["throttle"].as_bool(), doc["error"].as_bool()),
            (Some(true), Some(true))
        );
        assert!(doc["end_time"].as_f64().unwrap() >= doc["start_time"].as_f64().unwrap());
        assert!(!doc.to_string().contains("user_2secretish"));
        leave();
    }

    #[test]
    fn an_unsampled_or_untraced_call_sends_nothing() {
        let (daemon, addr) = listener();
        daemon
            .set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        enter_with(
            Some(&format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0")),
            Some(addr),
        );
        let c = call("SecretsManager", Service::Aws, "POST", "https://x");
        assert_eq!(
            c.header(),
            Some(format!("Root={ROOT};Parent=53995c3f42cd8ad8;Sampled=0").as_str())
        );
        assert_eq!(c.subsegment_id(), None);
        c.finish(Outcome::fault());
        // Sampled, but no daemon: the header passes on, nothing is sent.
        enter_with(Some(&format!("Root={ROOT};Sampled=1")), None);
        let c = call("SecretsManager", Service::Aws, "POST", "https://x");
        assert_eq!(c.subsegment_id(), None);
        c.finish(Outcome::fault());
        enter_with(None, Some(addr));
        let c = call("SecretsManager", Service::Aws, "POST", "https://x");
        assert_eq!(c.header(), None);
        c.finish(Outcome::fault());
        let mut buf = [0u8; 1024];
        assert!(daemon.recv(&mut buf).is_err(), "no datagram");
        leave();
    }
}
