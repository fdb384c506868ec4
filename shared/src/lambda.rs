//! The Lambda side of a function behind the API Gateway HTTP API (payload format 2.0): the event
//! in, a [`lambda_http::Request`] to the handler, its response out.
//!
//! The same steps as `lambda_http::run`, in one place the benchmark can run too: the runtime
//! hands over the event as raw JSON, [`request`] parses it as an HTTP API event and converts it
//! with lambda_http's own conversion, the handler answers, and [`response`] shapes the answer as
//! lambda_http does for the HTTP API. (Letting the runtime parse the event type directly would
//! be slower: it tracks the path of every field it reads, for its error messages.)

use std::future::Future;

use lambda_http::aws_lambda_events::apigw::{ApiGatewayV2httpRequest, ApiGatewayV2httpResponse};
use lambda_http::http::HeaderMap;
use lambda_http::http::header::{HeaderName, HeaderValue, SET_COOKIE};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Error, Request, RequestExt as _, Response, service_fn};
use serde_json::value::RawValue;

/// The event API Gateway's HTTP API sends (payload format 2.0).
pub type Event = ApiGatewayV2httpRequest;
/// What the function answers API Gateway with.
pub type EventResponse = ApiGatewayV2httpResponse;

/// The request a handler sees: the event parsed, converted by lambda_http, with the invocation's
/// X-Ray trace id in `x-amzn-trace-id` and its context attached
/// ([`RequestExt::lambda_context_ref`](lambda_http::RequestExt)), as lambda_http does.
///
/// # Errors
/// When `event` is not an HTTP API event (payload format 2.0).
pub fn request(event: &str, context: Context) -> Result<Request, serde_json::Error> {
    let event: Event = serde_json::from_str(event)?;
    let mut req = Request::from(LambdaRequest::ApiGatewayV2(event));
    if let Some(trace) = context.xray_trace_id.as_deref()
        && let Ok(value) = HeaderValue::from_str(trace)
    {
        req.headers_mut()
            .insert(HeaderName::from_static("x-amzn-trace-id"), value);
    }
    Ok(req.with_lambda_context(context))
}

/// The answer to API Gateway: status, headers (`Set-Cookie` moved to `cookies`, as the HTTP API
/// wants), and the body, base64-encoded only when it is binary.
pub fn response(resp: Response<Body>) -> EventResponse {
    let (parts, body) = resp.into_parts();
    let (is_base64_encoded, body) = match body {
        Body::Empty => (false, None),
        b @ Body::Text(_) => (false, Some(b)),
        b @ Body::Binary(_) => (true, Some(b)),
        _ => (false, None),
    };
    let mut headers = parts.headers;
    let cookies = headers
        .get_all(SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok().map(str::to_owned))
        .collect();
    headers.remove(SET_COOKIE);
    let mut out = EventResponse::default();
    out.status_code = i64::from(parts.status.as_u16());
    out.headers = headers;
    out.multi_value_headers = HeaderMap::new();
    out.body = body;
    out.is_base64_encoded = is_base64_encoded;
    out.cookies = cookies;
    out
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
        let req = request(event.payload.get(), event.context);
        let answer = req.map(&handler);
        async move {
            match answer {
                Ok(answer) => Ok(response(answer.await)),
                Err(e) => Err(refused(&e)),
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
        let raw = crate::testing::apigw_v2_event(
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
        let e = request(event, Context::default()).unwrap_err();
        assert!(e.to_string().contains("eyJ"), "serde quotes the value: {e}");
        let message = refused(&e).to_string();
        assert!(message.starts_with("not an API Gateway HTTP API event"));
        assert!(
            !message.contains("eyJ") && !message.contains("Bearer"),
            "{message}"
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
