//! The protected binary as Lambda runs it: a stand-in of the Lambda Runtime API on loopback hands
//! it API Gateway events and collects its answers and its log. What a user of the logs would
//! notice: no token or signature at any `RUST_LOG`, and bytes lambda_http cannot take answered
//! 400 without an invocation error or an ERROR line.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};
use test_support::{ISS, PK, TestKey, apigw_v2_event, session_claims};

const AZP: &str = "http://localhost:5173";

#[derive(Default)]
struct Runtime {
    events: Mutex<VecDeque<(String, String)>>,
    /// (request id, "response" or "error", body)
    answers: Mutex<Vec<(String, String, String)>>,
}

async fn next(State(rt): State<Arc<Runtime>>) -> Response {
    let Some((id, event)) = rt.events.lock().unwrap().pop_front() else {
        // No more events: the function waits, as in Lambda, until the test stops it.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut h = HeaderMap::new();
    h.insert("lambda-runtime-aws-request-id", id.parse().unwrap());
    let deadline = SystemTime::now().duration_since(UNIX_EPOCH).unwrap() + Duration::from_secs(30);
    h.insert(
        "lambda-runtime-deadline-ms",
        deadline.as_millis().to_string().parse().unwrap(),
    );
    h.insert(
        "lambda-runtime-invoked-function-arn",
        "arn:aws:lambda:us-east-1:123456789012:function:protected"
            .parse()
            .unwrap(),
    );
    (StatusCode::OK, h, event).into_response()
}

async fn answer(
    State(rt): State<Arc<Runtime>>,
    Path((id, kind)): Path<(String, String)>,
    body: Bytes,
) -> StatusCode {
    let body = String::from_utf8_lossy(&body).into_owned();
    rt.answers.lock().unwrap().push((id, kind, body));
    StatusCode::ACCEPTED
}

/// One run of the binary: `events` in, (answers, log) out.
fn run(
    rust_log: &str,
    events: &[(&str, String)],
    key: &TestKey,
) -> (Vec<(String, String, String)>, String) {
    let rt = Arc::new(Runtime::default());
    rt.events.lock().unwrap().extend(
        events
            .iter()
            .map(|(id, event)| ((*id).to_owned(), event.clone())),
    );
    let tokio_rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let listener = tokio_rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let app = Router::new()
        .route("/2018-06-01/runtime/invocation/next", get(next))
        .route("/2018-06-01/runtime/invocation/{id}/{kind}", post(answer))
        .with_state(rt.clone());
    tokio_rt.spawn(async move { axum::serve(listener, app).await });

    let log = tempfile_path(rust_log);
    let out = std::fs::File::create(&log).unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_protected"))
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
        .env("AWS_LAMBDA_FUNCTION_NAME", "protected")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("RUST_LOG", rust_log)
        .env("CLERK_PUBLISHABLE_KEY", PK)
        .env("CLERK_AUTHORIZED_PARTIES", AZP)
        .env("CLERK_JWT_KEY", key.public_pem())
        .env("CLERK_SECRET_ID", "clerk/test")
        // Secrets Manager on a closed loopback port: the init-phase read fails fast, locally.
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "test")
        .env("AWS_SECRET_ACCESS_KEY", "test")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .stdin(Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while rt.answers.lock().unwrap().len() < events.len() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the function exited ({status}) at RUST_LOG={rust_log}:\n{}",
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        assert!(
            Instant::now() < deadline,
            "no answer in time at RUST_LOG={rust_log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    tokio_rt.shutdown_background();
    let text = std::fs::read_to_string(&log).unwrap();
    let _ = std::fs::remove_file(&log);
    let answers = rt.answers.lock().unwrap().clone();
    (answers, text)
}

fn tempfile_path(tag: &str) -> std::path::PathBuf {
    let clean: String = tag.chars().filter(char::is_ascii_alphanumeric).collect();
    std::env::temp_dir().join(format!(
        "protected-real-run-{}-{clean}-{}.log",
        std::process::id(),
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_nanos()
    ))
}

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn event(path: &str, token: &str) -> String {
    apigw_v2_event(
        "GET",
        path,
        &[("authorization", &format!("Bearer {token}"))],
    )
}

fn with_query(event: &str, query: &str) -> String {
    let mut v: Value = serde_json::from_str(event).unwrap();
    v["rawQueryString"] = query.into();
    v.to_string()
}

fn status_and_reason(body: &str) -> (u64, Value) {
    let out: Value = serde_json::from_str(body).unwrap();
    let status = out["statusCode"].as_u64().unwrap();
    let inner: Value = out["body"]
        .as_str()
        .map_or(Value::Null, |b| serde_json::from_str(b).unwrap());
    (status, inner["reason"].clone())
}

#[test]
fn no_token_or_signature_in_the_log_at_any_level_and_malformed_requests_answer_400() {
    let key = TestKey::generate("ins_real_run");
    let good = key.sign(&session_claims(ISS, AZP, now()));
    let forged = TestKey::generate("ins_real_run").sign(&session_claims(ISS, AZP, now()));
    let secrets: Vec<&str> = [good.as_str(), forged.as_str()]
        .into_iter()
        .flat_map(|t| [t, t.rsplit('.').next().unwrap()])
        .collect();
    let events = [
        ("req-good", event("/api/protected", &good)),
        ("req-forged", event("/api/protected", &forged)),
        ("req-no-feature", event("/api/reports", &good)),
        ("req-other-org", event("/api/orgs/org_9/admin", &good)),
        (
            "req-bad-query",
            with_query(&event("/api/protected", &good), "q=\"<x y>\""),
        ),
        (
            "req-bad-header",
            event("/api/protected", &good)
                .replace("\"user-agent\":\"test\"", "\"user-agent\":\"a\\u0001b\""),
        ),
    ];
    assert!(
        events
            .iter()
            .any(|(id, e)| *id == "req-bad-header" && e.contains("\\u0001"))
    );
    let mut lines_at = Vec::new();
    for level in [
        "trace",
        "debug",
        "info",
        "warn",
        "error",
        "warn,shared=trace",
        "lambda_runtime=trace",
        "off,lambda_runtime::layers::api_response=trace",
        "trace,hyper=trace,lambda_http=trace",
        "shared[span]=trace",
        "shared=loud",
    ] {
        let (answers, log) = run(level, &events, &key);
        for secret in &secrets {
            assert!(
                !log.contains(secret),
                "a token or signature reached the log at RUST_LOG={level}"
            );
        }
        let by_id = |id: &str| {
            answers
                .iter()
                .find(|(i, _, _)| i == id)
                .unwrap_or_else(|| panic!("no answer to {id} at {level}"))
        };
        for (id, status, reason) in [
            ("req-good", 200, Value::Null),
            ("req-forged", 401, json!("token-invalid-signature")),
            ("req-no-feature", 403, json!("forbidden")),
            ("req-other-org", 403, json!("forbidden")),
            ("req-bad-query", 400, json!("request-malformed")),
            ("req-bad-header", 400, json!("request-malformed")),
        ] {
            let (_, kind, body) = by_id(id);
            assert_eq!(kind, "response", "{id} at {level}: an invocation error");
            assert_eq!(status_and_reason(body), (status, reason), "{id} at {level}");
        }
        assert!(
            !log.contains("\"level\":\"ERROR\""),
            "an ERROR line at RUST_LOG={level}:\n{log}"
        );
        if ["trace", "debug", "info", "warn"].contains(&level) {
            assert!(
                log.contains("request-malformed"),
                "the 400 is logged at {level}"
            );
        }
        if level == "info" {
            // The request line names the user through the handler's span, never the token.
            let line: Value = log
                .lines()
                .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                .find(|l| l["fields"]["status"] == 200)
                .expect("a request line for the 200");
            assert_eq!(line["span"]["user_id"], "user_2testUser", "{line}");
            assert_eq!(line["fields"]["request_id"], "req-good", "{line}");
            // A 403's line names the route's pattern and the requirement that failed.
            for (id, route, failed) in [
                ("req-no-feature", "/api/reports", "requires feature reports"),
                (
                    "req-other-org",
                    "/api/orgs/{org_id}/admin",
                    "requires active organization named by path parameter org_id",
                ),
            ] {
                let line: Value = log
                    .lines()
                    .filter_map(|l| serde_json::from_str::<Value>(l).ok())
                    .find(|l| l["fields"]["request_id"] == id && l["fields"]["status"] == 403)
                    .unwrap_or_else(|| panic!("a request line for {id}:\n{log}"));
                assert_eq!(line["fields"]["route"], route, "{line}");
                assert_eq!(line["fields"]["detail"], failed, "{line}");
                assert_eq!(line["span"]["user_id"], "user_2testUser", "{line}");
            }
        }
        if level.contains(['[', 'l']) && level.starts_with("shared") {
            assert!(log.contains("RUST_LOG is not a list of level directives"));
        }
        lines_at.push((level, log.lines().count()));
    }
    // The levels do what they say: trace writes more than info, error less.
    let lines = |l: &str| lines_at.iter().find(|(x, _)| *x == l).unwrap().1;
    assert!(lines("trace") > lines("info"), "{lines_at:?}");
    assert!(lines("info") > lines("error"), "{lines_at:?}");
}
