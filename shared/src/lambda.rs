//! The Lambda side of a function behind the API Gateway HTTP API (payload format 2.0): the event
//! in, a [`lambda_http::Request`] to the handler, its response out.
//!
//! The same steps as `lambda_http::run`, in one place the benchmark can run too: the runtime
//! hands over the event as raw JSON, [`request`] parses it as an HTTP API event and converts it
//! with lambda_http's own conversion, the handler answers, and [`response`] serializes the answer
//! in the HTTP API's response format, with the bytes lambda_http would send (but for a repeated
//! header, of which lambda_http sends only the first value). (Letting the runtime parse the event
//! type directly would be slower: it tracks the path of every field it reads, for its error
//! messages.)

use std::future::Future;

use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpRequest;
use lambda_http::http::HeaderMap;
use lambda_http::http::header::{HeaderName, HeaderValue, SET_COOKIE};
use lambda_http::lambda_runtime::{self, LambdaEvent};
use lambda_http::request::LambdaRequest;
use lambda_http::{Body, Context, Error, Request, RequestExt as _, Response, service_fn};
use serde::ser::{Error as _, Serialize, SerializeMap as _, SerializeStruct as _, Serializer};
use serde_json::value::RawValue;

/// The event API Gateway's HTTP API sends (payload format 2.0).
pub type Event = ApiGatewayV2httpRequest;

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
