//! X-Ray propagation and subsegments, and the metrics of outbound calls, against loopback
//! stand-ins: an HTTP server that records what it receives (the Backend API, Secrets Manager) and
//! a UDP listener in place of the Lambda X-Ray daemon.

#![allow(clippy::unwrap_used)]

use std::net::{SocketAddr, UdpSocket};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use shared::clerk_api::{ClerkBackend, KeyFetcher as _, UserDirectory as _};
use shared::keys::SecretKey;
use shared::metrics::{self, Counter};
use shared::secret::{AwsSecretSource, SecretSource as _};
use shared::xray;
use test_support::TestKey;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

const ROOT: &str = "1-5759e988-bd862e3fe1be46a994272793";
const PARENT: &str = "53995c3f42cd8ad8";
const SECRET_KEY: &str = "sk_test_traceSecretKey0123456789";

/// A one-route HTTP/1.1 server on loopback: every request gets `status` and `body`; the request
/// heads it received are kept.
struct Recorder {
    url: String,
    heads: Arc<Mutex<Vec<String>>>,
}

async fn serve(status: u16, content_type: &'static str, body: String) -> Recorder {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let heads = Arc::new(Mutex::new(Vec::new()));
    let seen = heads.clone();
    tokio::spawn(async move {
        while let Ok((mut conn, _)) = listener.accept().await {
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            // The head, then as much body as it announces.
            let head_end = loop {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break None;
                }
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break Some(i + 4);
                }
            };
            let Some(head_end) = head_end else { continue };
            let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|l| {
                    l.to_ascii_lowercase()
                        .strip_prefix("content-length:")
                        .map(str::to_owned)
                })
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            while buf.len() < head_end + length {
                let n = conn.read(&mut chunk).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                buf.extend_from_slice(&chunk[..n]);
            }
            seen.lock().unwrap().push(head);
            let answer = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(answer.as_bytes()).await;
        }
    });
    Recorder { url, heads }
}

impl Recorder {
    /// The `x-amzn-trace-id` of each request received.
    fn trace_headers(&self) -> Vec<Option<String>> {
        self.heads
            .lock()
            .unwrap()
            .iter()
            .map(|h| {
                h.lines().find_map(|l| {
                    let (name, value) = l.split_once(':')?;
                    name.eq_ignore_ascii_case("x-amzn-trace-id")
                        .then(|| value.trim().to_owned())
                })
            })
            .collect()
    }
}

fn daemon() -> (UdpSocket, SocketAddr) {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    let addr = s.local_addr().unwrap();
    (s, addr)
}

/// The next subsegment the daemon receives, and the datagram's text.
fn subsegment(s: &UdpSocket) -> (Value, String) {
    let mut buf = [0u8; 65_536];
    let n = s.recv(&mut buf).unwrap();
    let text = String::from_utf8(buf[..n].to_vec()).unwrap();
    let (header, doc) = text.split_once('\n').unwrap();
    assert_eq!(
        serde_json::from_str::<Value>(header).unwrap(),
        json!({"format": "json", "version": 1})
    );
    (serde_json::from_str(doc).unwrap(), text)
}

fn sampled() -> String {
    format!("Root={ROOT};Parent={PARENT};Sampled=1;Lineage=a87bd80c:0")
}

fn secret() -> SecretKey {
    SecretKey::parse(SECRET_KEY).unwrap()
}

#[tokio::test]
async fn a_traced_key_set_fetch_carries_its_subsegment_id_to_clerk() {
    let key = TestKey::generate("ins_trace");
    let clerk = serve(
        200,
        "application/json",
        json!({"keys": [key.jwk()]}).to_string(),
    )
    .await;
    let (daemon, addr) = daemon();
    xray::enter_with(Some(&sampled()), Some(addr));
    let capture = metrics::Capture::start();
    let backend = ClerkBackend::new(&clerk.url).unwrap();
    assert_eq!(backend.fetch_keys(&secret()).await.unwrap().len(), 1);

    let (doc, text) = subsegment(&daemon);
    let id = doc["id"].as_str().unwrap();
    assert_eq!(
        clerk.trace_headers(),
        [Some(format!("Root={ROOT};Parent={id};Sampled=1"))],
        "Clerk sees the trace, with our subsegment as the parent"
    );
    assert_eq!(doc["trace_id"], ROOT);
    assert_eq!(doc["parent_id"], PARENT);
    assert_eq!(doc["name"], "Clerk Backend API");
    assert_eq!(doc["namespace"], "remote");
    assert_eq!(
        doc["http"]["request"],
        json!({"method": "GET", "url": format!("{}/v1/jwks", clerk.url)})
    );
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert_eq!(doc["fault"], false);
    assert!(
        !text.contains(SECRET_KEY) && !text.contains("Bearer"),
        "{text}"
    );
    // The attempt is in the invocation's metrics.
    let counts = metrics::pending();
    assert_eq!(counts.counters[Counter::ClerkApiCalls as usize], 1);
    assert_eq!(counts.counters[Counter::ClerkApiFailures as usize], 0);
    assert_eq!(counts.latencies_ms.len(), 1);
    drop(capture);
    xray::leave();
}

#[tokio::test]
async fn a_user_lookup_traces_the_endpoint_not_the_user() {
    let clerk = serve(404, "application/json", r#"{"errors":[]}"#.into()).await;
    let (daemon, addr) = daemon();
    xray::enter_with(Some(&sampled()), Some(addr));
    let _capture = metrics::Capture::start();
    let backend = ClerkBackend::new(&clerk.url).unwrap();
    assert!(
        backend
            .get_user(&secret(), "user_2traceUser")
            .await
            .is_err()
    );
    let (doc, text) = subsegment(&daemon);
    assert_eq!(
        doc["http"]["request"]["url"],
        format!("{}/v1/users/{{id}}", clerk.url)
    );
    assert_eq!(doc["http"]["response"]["status"], 404);
    assert_eq!(doc["error"], true);
    assert!(!text.contains("user_2traceUser"), "{text}");
    assert_eq!(
        metrics::pending().counters[Counter::ClerkApiFailures as usize],
        1
    );
    xray::leave();
}

#[tokio::test]
async fn an_untraced_or_unsampled_invocation_sends_no_subsegment() {
    let key = TestKey::generate("ins_trace");
    let clerk = serve(
        200,
        "application/json",
        json!({"keys": [key.jwk()]}).to_string(),
    )
    .await;
    let (daemon, addr) = daemon();
    daemon
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let backend = ClerkBackend::new(&clerk.url).unwrap();
    xray::enter_with(None, Some(addr));
    backend.fetch_keys(&secret()).await.unwrap();
    let unsampled = format!("Root={ROOT};Parent={PARENT};Sampled=0");
    xray::enter_with(Some(&unsampled), Some(addr));
    backend.fetch_keys(&secret()).await.unwrap();
    // No trace id: nothing sent; not sampled: the decision passed on as it came.
    assert_eq!(clerk.trace_headers(), [None, Some(unsampled)]);
    assert!(daemon.recv(&mut [0u8; 1024]).is_err(), "no datagram");
    xray::leave();
}

#[tokio::test]
async fn secrets_manager_gets_the_trace_and_its_call_a_subsegment() {
    let sm = serve(
        200,
        "application/x-amz-json-1.1",
        json!({"ARN": "arn:aws:secretsmanager:eu-west-1:123456789012:secret:clerk-AbCdEf",
               "Name": "clerk/trace-secret", "SecretString": SECRET_KEY, "VersionId": "v1"})
        .to_string(),
    )
    .await;
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("eu-west-1"))
        .credentials_provider(Credentials::new(
            "AKIDTEST",
            "test-secret",
            None,
            None,
            "test",
        ))
        .endpoint_url(&sm.url)
        .http_client(shared::https::sdk_http_client().unwrap())
        .build();
    let source = AwsSecretSource::new(
        aws_sdk_secretsmanager::Client::from_conf(config),
        "clerk/trace-secret",
    );
    let (daemon, addr) = daemon();
    xray::enter_with(Some(&sampled()), Some(addr));
    assert_eq!(source.fetch().await.unwrap(), SECRET_KEY);
    let (doc, text) = subsegment(&daemon);
    let id = doc["id"].as_str().unwrap();
    assert_eq!(
        sm.trace_headers(),
        [Some(format!("Root={ROOT};Parent={id};Sampled=1"))]
    );
    assert_eq!(doc["namespace"], "aws");
    assert_eq!(doc["name"], "SecretsManager");
    assert_eq!(doc["aws"]["operation"], "GetSecretValue");
    assert_eq!(
        doc["http"]["request"]["url"],
        "https://secretsmanager.eu-west-1.amazonaws.com/"
    );
    assert_eq!(doc["http"]["response"]["status"], 200);
    assert!(
        !text.contains(SECRET_KEY) && !text.contains("trace-secret"),
        "{text}"
    );
    xray::leave();
}
