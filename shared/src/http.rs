//! HTTP glue for lambda_http: the bearer token of a request, and the one mapping from every
//! failure to its HTTP answer (docs/contract.md, section 5).

use std::borrow::Cow;
use std::time::Duration;

use lambda_http::http::header::{self, HeaderMap, HeaderValue};
use lambda_http::http::{Response, StatusCode};
use lambda_http::{Body, Request};
use serde::Serialize;

use serde_json::{Value, json};

use crate::auth::{Authenticator, secret_error};
use crate::authorization::Reverification;
use crate::clerk_api::{Call, ClerkApiError};
use crate::error::{AuthError, DEFAULT_RETRY_AFTER, Reason};
use crate::secret::SecretCallError;
use crate::session::Session;

/// The bearer token of `headers`: scheme case-insensitive, white space trimmed. No header, an
/// empty token or another scheme is `session-token-missing`; several `Authorization` values are
/// ambiguous and refused as `token-invalid` (ours).
pub fn bearer_token(headers: &HeaderMap) -> Result<&str, AuthError> {
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(AuthError::unauthorized(Reason::SessionTokenMissing));
    };
    if values.next().is_some() {
        return Err(AuthError::unauthorized(Reason::TokenInvalid));
    }
    let value = value
        .to_str()
        .map_err(|_| AuthError::unauthorized(Reason::TokenInvalid))?
        .trim();
    let (scheme, rest) = value.split_once([' ', '\t']).unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::unauthorized(Reason::SessionTokenMissing));
    }
    let token = rest.trim();
    if token.is_empty() {
        return Err(AuthError::unauthorized(Reason::SessionTokenMissing));
    }
    Ok(token)
}

/// Authenticates a request: its bearer token, verified.
pub async fn authenticate(auth: &Authenticator, req: &Request) -> Result<Session, AuthError> {
    let token = bearer_token(req.headers())?;
    auth.authenticate(token).await
}

/// Every failure a handler can answer with: a [`Reason`] (which fixes status, code and message)
/// and what its answer or its log line needs. [`ApiError::into_response`] is the one place where
/// errors become HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{reason}{}", detail.as_deref().map(|d| format!(": {d}")).unwrap_or_default())]
pub struct ApiError {
    reason: Reason,
    /// 401: whether a token was sent (RFC 6750 `error="invalid_token"`).
    token_sent: bool,
    /// 503: `Retry-After` (a default when not given).
    retry_after: Option<Duration>,
    /// 405: the methods the route answers.
    allow: Option<Cow<'static, str>>,
    /// For the log only: never sent, never a token or a secret.
    detail: Option<String>,
    /// 403 `reverification-error`: what the user must verify again, as Clerk writes it.
    reverification: Option<Value>,
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    reason: &'a str,
    message: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    clerk_error: Option<Value>,
}

impl ApiError {
    pub fn new(reason: Reason) -> Self {
        Self {
            reason,
            token_sent: reason != Reason::SessionTokenMissing,
            retry_after: None,
            allow: None,
            detail: None,
            reverification: None,
        }
    }

    /// 403 asking the user to verify again, in the body Clerk's SDKs send
    /// (`reverificationError` of `@clerk/shared`: `clerk_error` of type `forbidden`, reason
    /// `reverification-error`, the requirement in `metadata.reverification`), so that Clerk's
    /// client components prompt for it.
    pub fn reverification_required(required: Reverification) -> Self {
        Self {
            reverification: Some(required.to_json()),
            ..Self::new(Reason::ReverificationRequired)
        }
    }

    /// 405 with the methods the route answers.
    pub fn method_not_allowed(allow: impl Into<Cow<'static, str>>) -> Self {
        Self {
            allow: Some(allow.into()),
            ..Self::new(Reason::MethodNotAllowed)
        }
    }

    /// 500 with what went wrong, for the log.
    pub fn internal(detail: impl Into<String>) -> Self {
        Self::new(Reason::Internal).with_detail(detail)
    }

    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }

    pub fn reason(&self) -> Reason {
        self.reason
    }

    pub fn status(&self) -> StatusCode {
        self.reason.status()
    }

    /// The detail for the log (never sent to the client; never contains secrets or tokens).
    pub fn log_detail(&self) -> Option<&str> {
        self.detail.as_deref()
    }

    pub fn into_response(self) -> Response<Body> {
        let reason = self.reason;
        let mut resp = json(
            reason.status(),
            &ErrorBody {
                error: reason.error(),
                reason: reason.as_str(),
                message: reason.message(),
                clerk_error: self.reverification.map(|r| {
                    json!({
                        "type": "forbidden",
                        "reason": "reverification-error",
                        "metadata": {"reverification": r},
                    })
                }),
            },
        );
        let headers = resp.headers_mut();
        match reason.status() {
            StatusCode::UNAUTHORIZED => {
                let value = if self.token_sent {
                    "Bearer error=\"invalid_token\""
                } else {
                    "Bearer"
                };
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            StatusCode::SERVICE_UNAVAILABLE => {
                let after = self.retry_after.unwrap_or(DEFAULT_RETRY_AFTER);
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(after.as_secs().max(1)),
                );
            }
            StatusCode::METHOD_NOT_ALLOWED => {
                if let Some(value) = self.allow.and_then(|a| HeaderValue::from_str(&a).ok()) {
                    headers.insert(header::ALLOW, value);
                }
            }
            _ => {}
        }
        resp
    }
}

impl ApiError {
    /// A failed Backend API `call` (the one mapping: [`ClerkApiError::reason`]).
    pub fn clerk(e: ClerkApiError, call: Call) -> Self {
        let reason = e.reason(call);
        let mut out = Self::new(reason);
        if reason.status() == StatusCode::SERVICE_UNAVAILABLE {
            out.retry_after = e.retry_after();
            out.detail = Some(format!("{call:?}: {e}"));
        }
        out
    }
}

impl ApiError {
    /// A Backend API `call` made with the secret ([`crate::secret::SecretCache::call`]) failed.
    pub fn secret_call(e: SecretCallError, call: Call) -> Self {
        match e {
            SecretCallError::Secret(e) => secret_error(e).into(),
            SecretCallError::Clerk(e) => Self::clerk(e, call),
        }
    }
}

impl From<Reason> for ApiError {
    fn from(reason: Reason) -> Self {
        Self::new(reason)
    }
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> Self {
        match e {
            AuthError::Unauthorized { reason, token_sent } => Self {
                token_sent,
                ..Self::new(reason)
            },
            AuthError::Unavailable {
                reason,
                retry_after,
                detail,
            } => Self::new(reason)
                .with_retry_after(retry_after)
                .with_detail(detail),
            AuthError::Misconfigured(detail) => Self::internal(detail),
        }
    }
}

/// The request id Lambda gave this invocation (API Gateway's when run outside Lambda).
pub fn request_id(req: &Request) -> &str {
    use lambda_http::RequestExt as _;
    if let Some(ctx) = req.lambda_context_ref()
        && !ctx.request_id.is_empty()
    {
        return &ctx.request_id;
    }
    match req.request_context_ref() {
        Some(lambda_http::request::RequestContext::ApiGatewayV2(c)) => {
            c.request_id.as_deref().unwrap_or_default()
        }
        _ => "",
    }
}

/// The path of a request as API Gateway received it (stage-free with the `$default` stage).
pub fn path(req: &Request) -> &str {
    use lambda_http::RequestExt as _;
    let raw = req.raw_http_path();
    if raw.is_empty() {
        req.uri().path()
    } else {
        raw
    }
}

/// Writes the one log line of a request: id, route (the table's pattern when one matched), status,
/// reason, what failed (a 403's requirement, a 5xx's cause) and, through the request span, the user
/// id. Never a token.
pub fn log_request(req: &Request, route: &str, resp: &Response<Body>, error: Option<&ApiError>) {
    let status = resp.status().as_u16();
    let request_id = request_id(req);
    let reason = error.map(|e| e.reason().as_str());
    let detail = error.and_then(ApiError::log_detail);
    if status >= 500 {
        tracing::error!(request_id, route, method = %req.method(), status, reason, detail, "request");
    } else if status >= 400 {
        tracing::warn!(request_id, route, method = %req.method(), status, reason, detail, "request");
    } else {
        tracing::info!(request_id, route, method = %req.method(), status, "request");
    }
}

/// Routes of this project answer GET (and HEAD) only.
pub fn get_only(req: &Request) -> Result<(), ApiError> {
    use lambda_http::http::Method;
    if req.method() == Method::GET || req.method() == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::method_not_allowed("GET, HEAD"))
    }
}

/// Turns a handler's result into the response, and writes the request's log line and metrics.
/// `route`: the route's pattern, or the raw path of a request no route matched (answered 404
/// `route-not-found`: its metrics name no path, see [`respond_route`]).
pub fn respond(
    req: &Request,
    route: &str,
    result: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let matched = !matches!(&result, Err(e) if e.reason() == Reason::RouteNotFound);
    respond_route(req, matched.then_some(route), route, result)
}

/// [`respond`] for a route table: `pattern` is the matched route's pattern (in the log line and
/// the metrics), `None` when no route matched: the log line names `raw`, the metrics
/// [`crate::metrics::UNMATCHED_ROUTE`] (a raw path is never a metric dimension: it can hold ids).
pub fn respond_route(
    req: &Request,
    pattern: Option<&str>,
    raw: &str,
    result: Result<Response<Body>, ApiError>,
) -> Response<Body> {
    let route = pattern.unwrap_or(raw);
    let (resp, reason) = match result {
        Ok(resp) => {
            log_request(req, route, &resp, None);
            (resp, None)
        }
        Err(e) => {
            let resp = e.clone().into_response();
            log_request(req, route, &resp, Some(&e));
            (resp, Some(e.reason()))
        }
    };
    crate::metrics::request(crate::metrics::RequestInfo {
        route: pattern.unwrap_or(crate::metrics::UNMATCHED_ROUTE),
        status: resp.status().as_u16(),
        reason,
    });
    resp
}

/// A JSON response, never cached by a shared cache. A text body: API Gateway gets it as is, not
/// base64-encoded.
pub fn json<T: Serialize + ?Sized>(status: StatusCode, body: &T) -> Response<Body> {
    let (status, text) = match serde_json::to_string(body) {
        Ok(t) => (status, t),
        Err(_) => (
            StatusCode::INTERNAL_SERVER_ERROR,
            r#"{"error":"internal_error","reason":"internal","message":"Internal server error."}"#
                .to_owned(),
        ),
    };
    let mut resp = Response::new(Body::Text(text));
    *resp.status_mut() = status;
    let headers = resp.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    fn reason(r: Result<&str, AuthError>) -> Reason {
        r.unwrap_err().reason().unwrap()
    }

    #[test]
    fn bearer_scheme_variants() {
        assert_eq!(bearer_token(&headers(&["Bearer abc"])).unwrap(), "abc");
        assert_eq!(bearer_token(&headers(&["bearer abc"])).unwrap(), "abc");
        assert_eq!(bearer_token(&headers(&["BEARER   abc  "])).unwrap(), "abc");
        assert_eq!(bearer_token(&headers(&["Bearer\tabc"])).unwrap(), "abc");
        assert_eq!(
            reason(bearer_token(&headers(&[]))),
            Reason::SessionTokenMissing
        );
        assert_eq!(
            reason(bearer_token(&headers(&["Basic abc"]))),
            Reason::SessionTokenMissing
        );
        assert_eq!(
            reason(bearer_token(&headers(&["Bearer"]))),
            Reason::SessionTokenMissing
        );
        assert_eq!(
            reason(bearer_token(&headers(&["Bearer   "]))),
            Reason::SessionTokenMissing
        );
        assert_eq!(
            reason(bearer_token(&headers(&["Bearerabc"]))),
            Reason::SessionTokenMissing
        );
        assert_eq!(
            reason(bearer_token(&headers(&["Bearer a", "Bearer b"]))),
            Reason::TokenInvalid
        );
    }

    #[test]
    fn each_error_has_its_status_and_headers() {
        let r =
            ApiError::from(AuthError::unauthorized(Reason::SessionTokenMissing)).into_response();
        assert_eq!(r.status(), 401);
        assert_eq!(r.headers()[header::WWW_AUTHENTICATE], "Bearer");
        let r = ApiError::from(AuthError::unauthorized(Reason::TokenExpired)).into_response();
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Bearer error=\"invalid_token\""
        );
        let body: serde_json::Value = match r.body() {
            Body::Text(t) => serde_json::from_str(t).unwrap(),
            _ => panic!("text body expected"),
        };
        assert_eq!(body["reason"], "token-expired");
        assert_eq!(body["error"], "unauthorized");
        let r = ApiError::from(AuthError::unavailable(Reason::JwkRemoteFailedToLoad, "x"))
            .into_response();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()[header::RETRY_AFTER], "2");
        let r = ApiError::from(AuthError::Misconfigured("secret sk_test_x".into())).into_response();
        assert_eq!(r.status(), 500);
        let Body::Text(t) = r.body() else { panic!() };
        assert!(!t.contains("sk_test_x"));
        // Clerk's reverification answer (`reverificationError` of @clerk/shared 4.41), beside ours.
        let r = ApiError::reverification_required(Reverification::Strict).into_response();
        assert_eq!(r.status(), 403);
        let Body::Text(t) = r.body() else { panic!() };
        let body: Value = serde_json::from_str(t).unwrap();
        assert_eq!(
            body["clerk_error"],
            json!({"type": "forbidden", "reason": "reverification-error",
                   "metadata": {"reverification": "strict"}})
        );
        assert_eq!(body["reason"], "reverification-error");
        let custom = Reverification::Custom {
            level: crate::authorization::Level::SecondFactor,
            after_minutes: 15.0,
        };
        let r = ApiError::reverification_required(custom).into_response();
        let Body::Text(t) = r.body() else { panic!() };
        let body: Value = serde_json::from_str(t).unwrap();
        assert_eq!(
            body["clerk_error"]["metadata"]["reverification"],
            json!({"level": "second_factor", "afterMinutes": 15.0})
        );
        let r = ApiError::new(Reason::Forbidden).into_response();
        let Body::Text(t) = r.body() else { panic!() };
        assert!(!t.contains("clerk_error"));
        let r = ApiError::method_not_allowed("GET").into_response();
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[header::ALLOW], "GET");
    }
}
