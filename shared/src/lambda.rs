//! The Lambda side of a function behind the API Gateway HTTP API (payload format 2.0): the event
//! in, a [`lambda_http::Request`] to the handler, its response out (docs/contract.md, section 5:
//! a request HTTP cannot carry is answered 400).
//!
//! The same steps as `lambda_http::run`, in one place the benchmark can run too: the runtime
//! hands over the event as raw JSON, [`request`] parses it as an HTTP API event and converts it
//! with lambda_http's own conversion, the handler answers, and [`response`] serializes the answer
//! in the HTTP API's response format, with the bytes lambda_http would send (but for a repeated
//! header, of which lambda_http sends only the first value). (Letting the runtime parse the event
//! type directly would be slower: it tracks the path of every field it reads, for its error
//! messages.)

use std::fmt;
use std::future::Future;
use std::str::FromStr as _;
use std::sync::OnceLock;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::{COOKIE, HOST, HeaderName, HeaderValue, SET_COOKIE};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::RequestContext;
use lambda_http::{Body, Context, Error, Request, RequestExt as _, Response, service_fn};
use serde::Deserialize;
use serde::ser::{Error as _, Serialize, SerializeMap as _, SerializeStruct as _, Serializer};
use serde_json::value::RawValue;

use crate::error::Reason;
use crate::http::ApiError;

/// The event API Gateway's HTTP API sends (payload format 2.0).
pub type Event = ApiGatewayV2httpRequest;

/// Why an event did not become a request.
#[derive(Debug)]
pub enum Refused {
    /// Not an API Gateway HTTP API event: the invocation fails, as with lambda_http.
    NotHttpApi(serde_json::Error),
    /// An HTTP API event with bytes lambda_http cannot take (its conversion would panic, or its
    /// headers cannot be parsed): answered 400 `request-malformed`.
    Malformed(Malformed),
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refused::NotHttpApi(e) => write!(f, "{}", refused(e)),
            Refused::Malformed(m) => write!(f, "malformed request: {}", m.what),
        }
    }
}

impl std::error::Error for Refused {}

/// An HTTP API request that cannot be read: what its log line and answer need.
#[derive(Debug)]
pub struct Malformed {
    pub request_id: String,
    pub method: String,
    pub path: String,
    /// Which part could not be read (never its bytes).
    pub what: &'static str,
}

impl Malformed {
    /// The 400 answer, with the request's log line.
    pub fn answer(&self) -> Response<Body> {
        let error = ApiError::new(Reason::RequestMalformed);
        tracing::warn!(
            request_id = self.request_id,
            route = self.path,
            method = self.method,
            status = 400,
            reason = error.reason().as_str(),
            detail = self.what,
            "request"
        );
        crate::metrics::request(crate::metrics::RequestInfo {
            route: crate::metrics::UNMATCHED_ROUTE,
            status: 400,
            reason: Some(error.reason()),
        });
        error.into_response()
    }
}

/// The request a handler sees: the event parsed, converted by lambda_http, with the invocation's
/// X-Ray trace id in `x-amzn-trace-id` and its context attached
/// ([`RequestExt::lambda_context_ref`](lambda_http::RequestExt)), as lambda_http does.
///
/// # Errors
/// [`Refused::NotHttpApi`] when `event` is not an HTTP API event (payload format 2.0);
/// [`Refused::Malformed`] when it is one that lambda_http cannot convert.
pub fn request(event: &str, context: Context) -> Result<Request, Refused> {
    let event: Event = match serde_json::from_str(event) {
        Ok(e) => e,
        Err(e) => return Err(unreadable(event, e)),
    };
    let request_id = event.request_context.request_id.clone();
    let method = event.request_context.http.method.clone();
    let raw_path = event.raw_path.clone();
    let mut req = convert(event).map_err(|what| {
        Refused::Malformed(Malformed {
            request_id: request_id.unwrap_or_default(),
            method: method.to_string(),
            path: raw_path.unwrap_or_default(),
            what,
        })
    })?;
    if let Some(trace) = context.xray_trace_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(trace)
    {
        req.headers_mut()
            .insert(HeaderName::from_static("x-amzn-trace-id"), value);
    }
    Ok(req.with_lambda_context(context))
}

/// An event that did not parse: a malformed HTTP API request when its envelope says it is one
/// (a header value with a control byte fails the whole parse), else not ours.
fn unreadable(event: &str, error: serde_json::Error) -> Refused {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Envelope {
        version: String,
        raw_path: Option<String>,
        request_context: EnvelopeContext,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct EnvelopeContext {
        request_id: Option<String>,
        http: EnvelopeHttp,
    }
    #[derive(Deserialize)]
    struct EnvelopeHttp {
        method: String,
    }
    match serde_json::from_str::<Envelope>(event) {
        Ok(e) if e.version == "2.0" => Refused::Malformed(Malformed {
            request_id: e.request_context.request_id.unwrap_or_default(),
            method: e.request_context.http.method,
            path: e.raw_path.unwrap_or_default(),
            what: "a header, cookie or field of the event",
        }),
        _ => Refused::NotHttpApi(error),
    }
}

/// lambda_http's own conversion of an HTTP API event (`into_api_gateway_v2_request`, 1.3), step
/// for step, but fallible where it panics: the URL it builds (host, scheme and path through
/// `url::Url`, then the raw query string appended) must parse as an `http::Uri`, and a base64
/// body must decode. The tests hold it to lambda_http's result for every event lambda_http takes.
fn convert(event: Event) -> Result<Request, &'static str> {
    let headers = &event.headers;
    let host = headers
        .get(HOST)
        .and_then(|h| h.to_str().ok())
        .or(event.request_context.domain_name.as_deref());
    let raw_path = event.raw_path.unwrap_or_default();
    let staged;
    let path = match event.request_context.stage.as_deref() {
        Some(stage) if stage != "$default" && !ignore_stage_in_path() => {
            if raw_path.starts_with(&format!("/{stage}/")) {
                raw_path.as_str()
            } else {
                staged = format!("/{stage}{raw_path}");
                &staged
            }
        }
        _ => raw_path.as_str(),
    };
    let mut uri = match host {
        None => url::Url::parse(&format!("http://localhost{path}")).map(|u| u.path().to_owned()),
        Some(host) => {
            let scheme = headers
                .get("x-forwarded-proto")
                .and_then(|s| s.to_str().ok())
                .unwrap_or("https");
            url::Url::parse(&format!("{scheme}://{host}{path}")).map(String::from)
        }
    }
    .map_err(|_| "the host, scheme or path")?;
    // lambda_http reads the raw query string, not API Gateway's parsed parameters (which are not
    // what the WHATWG URL parser gives).
    let query_parameters = match &event.raw_query_string {
        Some(query) => QueryMap::from_str(query).unwrap_or_default(),
        None => event.query_string_parameters,
    };
    if let Some(query) = event.raw_query_string.as_deref()
        && !query.is_empty()
    {
        uri.push('?');
        uri.push_str(query);
    }
    let uri = lambda_http::http::Uri::try_from(uri).map_err(|_| "the URL (query string)")?;
    let body = match event.body.as_deref() {
        None => Body::default(),
        Some(b) if event.is_base64_encoded => {
            use base64::Engine as _;
            Body::from(
                base64::engine::general_purpose::STANDARD
                    .decode(b)
                    .map_err(|_| "the base64 body")?,
            )
        }
        Some(b) => Body::from(b),
    };
    let mut headers = event.headers;
    if let Some(cookies) = event.cookies
        && let Ok(value) = HeaderValue::from_str(&cookies.join("; "))
    {
        headers.insert(COOKIE, value);
    }
    let mut req = Request::new(body);
    *req.uri_mut() = uri;
    *req.headers_mut() = headers;
    *req.method_mut() = event.request_context.http.method.clone();
    Ok(req
        .with_raw_http_path(raw_path)
        .with_query_string_parameters(query_parameters)
        .with_path_parameters(QueryMap::from(event.path_parameters))
        .with_stage_variables(QueryMap::from(event.stage_variables))
        .with_request_context(RequestContext::ApiGatewayV2(event.request_context)))
}

/// lambda_http's switch for dropping the stage from the path, read once.
fn ignore_stage_in_path() -> bool {
    static IGNORE: OnceLock<bool> = OnceLock::new();
    *IGNORE.get_or_init(|| std::env::var("AWS_LAMBDA_HTTP_IGNORE_STAGE_IN_PATH").is_ok())
}

/// The answer to API Gateway (payload format 2.0), serialized straight from the handler's
/// response: `statusCode`, `headers` (`Set-Cookie` moved to `cookies`, as the HTTP API wants;
/// a repeated header's values joined with ", ", as the format asks), the body, base64-encoded
/// only when it is binary. The same bytes as lambda_http's `ApiGatewayV2httpResponse`, which
/// would copy every header value to serialize it and send only the first of a repeated header.
#[derive(Debug)]
pub struct EventResponse(Response<Body>);

/// The answer to API Gateway for `resp`.
pub fn response(resp: Response<Body>) -> EventResponse {
    EventResponse(resp)
}

impl Serialize for EventResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let resp = &self.0;
        let (base64, body) = match resp.body() {
            Body::Text(_) => (false, Some(resp.body())),
            Body::Binary(_) => (true, Some(resp.body())),
            _ => (false, None),
        };
        let mut out = serializer.serialize_struct("ApiGatewayV2httpResponse", 6)?;
        out.serialize_field("statusCode", &resp.status().as_u16())?;
        out.serialize_field("headers", &Headers(resp.headers()))?;
        out.serialize_field("multiValueHeaders", &Headers(&HeaderMap::new()))?;
        match body {
            Some(body) => out.serialize_field("body", body)?,
            None => out.skip_field("body")?,
        }
        out.serialize_field("isBase64Encoded", &base64)?;
        out.serialize_field("cookies", &Cookies(resp.headers()))?;
        out.end()
    }
}

/// The headers but `Set-Cookie`, each name once.
struct Headers<'a>(&'a HeaderMap);

impl Serialize for Headers<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        for name in self.0.keys().filter(|name| *name != SET_COOKIE) {
            let mut values = self.0.get_all(name).iter();
            let first = values
                .next()
                .map_or(Ok(""), text)
                .map_err(S::Error::custom)?;
            match values.next() {
                None => map.serialize_entry(name.as_str(), first)?,
                Some(second) => {
                    let mut joined = String::from(first);
                    for value in std::iter::once(second).chain(values) {
                        joined.push_str(", ");
                        joined.push_str(text(value).map_err(S::Error::custom)?);
                    }
                    map.serialize_entry(name.as_str(), &joined)?;
                }
            }
        }
        map.end()
    }
}

/// The `Set-Cookie` values (those that are text).
struct Cookies<'a>(&'a HeaderMap);

impl Serialize for Cookies<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(
            self.0
                .get_all(SET_COOKIE)
                .iter()
                .filter_map(|v| text(v).ok()),
        )
    }
}

/// A header value as the text API Gateway carries (JSON strings are UTF-8).
fn text(value: &HeaderValue) -> Result<&str, std::str::Utf8Error> {
    std::str::from_utf8(value.as_bytes())
}

/// Runs the Lambda runtime loop: each event to `handler`, its response back to API Gateway.
/// A handler answers every request (errors are responses); an event that is not an HTTP API
/// event fails its invocation, as with lambda_http, with where the parse failed (never what the
/// event held).
pub async fn run<H, F>(handler: H) -> Result<(), Error>
where
    H: Fn(Request) -> F,
    F: Future<Output = Response<Body>>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<Box<RawValue>>| {
        // The invocation's trace: its downstream calls carry it, and are recorded when sampled.
        crate::xray::enter(event.context.xray_trace_id.as_deref());
        let answer = match request(event.payload.get(), event.context) {
            Ok(req) => Ok(handler(req)),
            Err(Refused::Malformed(m)) => Err(Ok(m.answer())),
            Err(Refused::NotHttpApi(e)) => Err(Err(refused(&e))),
        };
        async move {
            match answer {
                Ok(answer) => Ok(response(answer.await)),
                Err(Ok(bad_request)) => Ok(response(bad_request)),
                Err(Err(error)) => Err(error),
            }
        }
    }))
    .await
}

/// The invocation error for an event that is not an HTTP API event: where, not what (serde's
/// own message can quote the event's values, a token among them).
fn refused(e: &serde_json::Error) -> Error {
    Error::from(format!(
        "not an API Gateway HTTP API event ({:?} error at line {}, column {})",
        e.classify(),
        e.line(),
        e.column()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_http::http::StatusCode;

    #[test]
    fn request_is_lambda_https_own() {
        let raw = test_support::apigw_v2_event(
            "GET",
            "/api/protected",
            &[
                ("authorization", "Bearer x"),
                ("origin", "https://a.example"),
            ],
        );
        let ours = request(&raw, Context::default()).unwrap();
        let theirs = lambda_http::request::from_str(&raw).unwrap();
        assert_eq!(ours.method(), theirs.method());
        assert_eq!(ours.uri(), theirs.uri());
        assert_eq!(ours.headers(), theirs.headers());
        assert_eq!(ours.raw_http_path(), "/api/protected");
        assert!(ours.lambda_context_ref().is_some());
        assert!(ours.headers().get("x-amzn-trace-id").is_none());
        let mut context = Context::default();
        context.xray_trace_id = Some("Root=1-5759e988-bd862e3fe1be46a994272793".into());
        let traced = request(&raw, context).unwrap();
        assert_eq!(
            traced.headers()["x-amzn-trace-id"],
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        );
        assert!(matches!(
            ours.request_context_ref(),
            Some(lambda_http::request::RequestContext::ApiGatewayV2(c))
                if c.request_id.as_deref() == Some("req-test-1")
        ));
    }

    #[test]
    fn a_non_http_api_event_is_refused() {
        assert!(request(r#"{"Records":[]}"#, Context::default()).is_err());
        assert!(request("[]", Context::default()).is_err());
        let event = r#"{"version":"2.0","headers":"Bearer eyJhbGciOi.eyJzdWIi.c2lnbmF0dXJl"}"#;
        let Refused::NotHttpApi(e) = request(event, Context::default()).unwrap_err() else {
            panic!("not an HTTP API event")
        };
        assert!(e.to_string().contains("eyJ"), "serde quotes the value: {e}");
        let message = refused(&e).to_string();
        assert!(message.starts_with("not an API Gateway HTTP API event"));
        assert!(
            !message.contains("eyJ") && !message.contains("Bearer"),
            "{message}"
        );
    }

    /// The event of `GET /api/protected` with `edit` applied to its JSON.
    fn event_with(edit: impl FnOnce(&mut serde_json::Value)) -> String {
        let mut v: serde_json::Value = serde_json::from_str(&test_support::apigw_v2_event(
            "GET",
            "/api/protected",
            &[("authorization", "Bearer x")],
        ))
        .unwrap();
        edit(&mut v);
        v.to_string()
    }

    /// Whether lambda_http's own conversion of `event` panics (what the runtime would do).
    fn lambda_http_panics(event: &str) -> bool {
        let event = event.to_owned();
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        let panicked = std::panic::catch_unwind(move || {
            let _ = lambda_http::request::from_str(&event);
        })
        .is_err();
        std::panic::set_hook(hook);
        panicked
    }

    #[test]
    fn bytes_lambda_http_cannot_take_are_a_malformed_request_not_a_panic() {
        let queries = ["q=\"", "q=<x>", "a b", "q=\u{7f}", "q=\n"];
        let mut events: Vec<(String, bool)> = queries
            .iter()
            .map(|q| (event_with(|v| v["rawQueryString"] = (*q).into()), true))
            .collect();
        events.push((
            event_with(|v| v["headers"]["host"] = "a b.example".into()),
            true,
        ));
        events.push((
            event_with(|v| v["headers"]["x-forwarded-proto"] = "ht tp".into()),
            true,
        ));
        events.push((
            event_with(|v| {
                v["isBase64Encoded"] = true.into();
                v["body"] = "not base64!".into();
            }),
            true,
        ));
        // A control byte in a header: the event does not parse (no panic, but no answer either).
        events.push((
            event_with(|v| v["headers"]["x-note"] = "a\u{1}b".into()),
            false,
        ));
        for (event, panics_upstream) in events {
            if panics_upstream {
                assert!(lambda_http_panics(&event), "lambda_http took {event}");
            }
            match request(&event, Context::default()) {
                Err(Refused::Malformed(m)) => {
                    assert_eq!(m.request_id, "req-test-1");
                    assert_eq!(m.path, "/api/protected");
                    assert_eq!(m.method, "GET");
                    let answer = m.answer();
                    assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
                    let body = test_support::json_body(&answer);
                    assert_eq!(body["reason"], "request-malformed", "{event}");
                    assert_eq!(body["error"], "bad_request");
                }
                Err(Refused::NotHttpApi(e)) => panic!("{event}: {e}"),
                Ok(_) => panic!("accepted {event}"),
            }
        }
    }

    #[test]
    fn what_lambda_http_takes_we_take() {
        // A cookie it cannot carry is dropped, not a failure (lambda_http's own rule).
        let event = event_with(|v| v["cookies"] = serde_json::json!(["a=\u{1}"]));
        assert!(
            request(&event, Context::default())
                .unwrap()
                .headers()
                .get("cookie")
                .is_none()
        );
        // Every event lambda_http takes gives the request lambda_http gives.
        type Edit = fn(&mut serde_json::Value);
        let edits: [Edit; 13] = [
            |_| {},
            |v| v["rawQueryString"] = "a=1&b=%22x%22&a=2".into(),
            |v| v["rawQueryString"] = "q=%3C%3E&r=a+b".into(),
            |v| v["rawQueryString"] = "x={}|^`".into(),
            |v| v["requestContext"]["stage"] = "prod".into(),
            |v| v["rawPath"] = "/api/a b/%2e%2e/\u{e9}/x|y".into(),
            |v| v["cookies"] = serde_json::json!(["a=1", "b=2"]),
            |v| v["pathParameters"] = serde_json::json!({"proxy": "x/y"}),
            |v| v["stageVariables"] = serde_json::json!({"env": "dev"}),
            |v| {
                v["isBase64Encoded"] = true.into();
                v["body"] = "AP8=".into();
            },
            |v| v["body"] = "{\"text\":1}".into(),
            |v| {
                v["headers"].as_object_mut().unwrap().remove("host");
            },
            |v| v["headers"]["x-forwarded-proto"] = "http".into(),
        ];
        for edit in edits {
            let event = event_with(edit);
            let Ok(Ok(theirs)) =
                std::panic::catch_unwind(|| lambda_http::request::from_str(&event))
            else {
                panic!("lambda_http refused {event}")
            };
            let ours = request(&event, Context::default()).unwrap();
            assert_eq!(ours.method(), theirs.method(), "{event}");
            assert_eq!(ours.uri(), theirs.uri(), "{event}");
            assert_eq!(ours.headers(), theirs.headers(), "{event}");
            assert_eq!(ours.raw_http_path(), theirs.raw_http_path(), "{event}");
            assert_eq!(
                ours.query_string_parameters(),
                theirs.query_string_parameters(),
                "{event}"
            );
            assert_eq!(ours.path_parameters(), theirs.path_parameters(), "{event}");
            assert_eq!(ours.stage_variables(), theirs.stage_variables(), "{event}");
            assert_eq!(ours.body().as_ref(), theirs.body().as_ref(), "{event}");
            assert_eq!(
                format!("{:?}", ours.request_context_ref()),
                format!("{:?}", theirs.request_context_ref()),
            );
        }
        let staged = event_with(|v| v["requestContext"]["stage"] = "prod".into());
        assert_eq!(
            request(&staged, Context::default()).unwrap().uri().path(),
            "/prod/api/protected"
        );
    }

    #[test]
    fn response_keeps_status_headers_and_text_body() {
        let mut resp = Response::new(Body::Text(r#"{"ok":true}"#.into()));
        *resp.status_mut() = StatusCode::UNAUTHORIZED;
        resp.headers_mut()
            .insert("www-authenticate", HeaderValue::from_static("Bearer"));
        resp.headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static("a=1"));
        resp.headers_mut()
            .append(SET_COOKIE, HeaderValue::from_static("b=2"));
        let out = serde_json::to_value(response(resp)).unwrap();
        assert_eq!(out["statusCode"], 401);
        assert_eq!(out["headers"]["www-authenticate"], "Bearer");
        assert!(out["headers"].get("set-cookie").is_none());
        assert_eq!(out["cookies"], serde_json::json!(["a=1", "b=2"]));
        assert_eq!(out["body"], r#"{"ok":true}"#);
        assert_eq!(out["isBase64Encoded"], false);
    }

    /// The bytes lambda_http's own response type gives (for headers sent once).
    fn lambda_https_bytes(resp: Response<Body>) -> Vec<u8> {
        use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
        let (parts, body) = resp.into_parts();
        let mut headers = parts.headers;
        let cookies = headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| v.to_str().unwrap().to_owned())
            .collect();
        headers.remove(SET_COOKIE);
        let mut out = ApiGatewayV2httpResponse::default();
        out.status_code = i64::from(parts.status.as_u16());
        out.headers = headers;
        out.is_base64_encoded = matches!(body, Body::Binary(_));
        out.body = (!matches!(body, Body::Empty)).then_some(body);
        out.cookies = cookies;
        serde_json::to_vec(&out).unwrap()
    }

    #[test]
    fn the_same_bytes_as_lambda_https_response_type() {
        let answers = || {
            let mut text = Response::new(Body::Text(r#"{"ok":"é\"\n"}"#.into()));
            *text.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            let h = text.headers_mut();
            h.insert("content-type", HeaderValue::from_static("application/json"));
            h.insert("retry-after", HeaderValue::from(5));
            h.append(SET_COOKIE, HeaderValue::from_static("a=1; Secure"));
            h.insert("x-quoted", HeaderValue::from_static("say \"hi\""));
            h.append(SET_COOKIE, HeaderValue::from_static("b=2"));
            [
                text,
                Response::new(Body::Binary(vec![0, 1, 254, 255])),
                Response::new(Body::Empty),
                Response::new(Body::Text(String::new())),
            ]
        };
        for (ours, theirs) in answers().into_iter().zip(answers()) {
            let ours = serde_json::to_vec(&response(ours)).unwrap();
            assert_eq!(
                String::from_utf8(ours).unwrap(),
                String::from_utf8(lambda_https_bytes(theirs)).unwrap()
            );
        }
    }

    #[test]
    fn a_repeated_header_sends_every_value_joined() {
        let mut resp = Response::new(Body::Empty);
        resp.headers_mut()
            .append("vary", HeaderValue::from_static("Origin"));
        resp.headers_mut()
            .append("vary", HeaderValue::from_static("Authorization"));
        resp.headers_mut()
            .append("vary", HeaderValue::from_static("Accept"));
        let out = serde_json::to_value(response(resp)).unwrap();
        assert_eq!(out["headers"]["vary"], "Origin, Authorization, Accept");
    }

    #[test]
    fn a_header_that_is_not_utf8_fails_the_answer_rather_than_being_altered() {
        let mut resp = Response::new(Body::Empty);
        resp.headers_mut()
            .insert("x-bytes", HeaderValue::from_bytes(&[0xff, 0xfe]).unwrap());
        assert!(serde_json::to_vec(&response(resp)).is_err());
    }

    #[test]
    fn binary_bodies_are_base64() {
        let out =
            serde_json::to_value(response(Response::new(Body::Binary(vec![0, 255])))).unwrap();
        assert_eq!(out["body"], "AP8=");
        assert_eq!(out["isBase64Encoded"], true);
        let out = serde_json::to_value(response(Response::new(Body::Empty))).unwrap();
        assert!(out.get("body").is_none());
    }
}
