//! HTTP glue for lambda_http: the bearer token of a request, and the one mapping from every
//! failure to its HTTP answer (contract section 5).

use std::time::Duration;

use lambda_http::http::header::{self, HeaderMap, HeaderValue};
use lambda_http::http::{Response, StatusCode};
use lambda_http::{Body, Request};
use serde::Serialize;

use crate::auth::Authenticator;
use crate::error::{AuthError, Reason};
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

/// Every failure a handler can answer with. [`ApiError::into_response`] is the one place where
/// errors become HTTP.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ApiError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    /// lambda_http cannot read the request (bytes its URL or headers may not hold).
    #[error("malformed request")]
    RequestMalformed,
    #[error("no such route")]
    RouteNotFound,
    #[error("method not allowed")]
    MethodNotAllowed { allow: &'static str },
    /// The signed-in user no longer exists at Clerk.
    #[error("user not found")]
    UserNotFound,
    /// A dependency (Clerk, Secrets Manager) cannot answer now.
    #[error("unavailable: {reason}: {detail}")]
    Unavailable {
        reason: &'static str,
        retry_after: Duration,
        detail: String,
    },
    /// Anything else: generic body, detail to the log only.
    #[error("internal: {0}")]
    Internal(String),
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: &'a str,
    reason: &'a str,
    message: &'a str,
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Auth(AuthError::Unauthorized { .. }) => StatusCode::UNAUTHORIZED,
            ApiError::Auth(AuthError::Unavailable { .. }) | ApiError::Unavailable { .. } => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Auth(_) | ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ApiError::RequestMalformed => StatusCode::BAD_REQUEST,
            ApiError::RouteNotFound | ApiError::UserNotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
        }
    }

    /// The reason code sent to the client and written to the log.
    pub fn reason(&self) -> &'static str {
        match self {
            ApiError::Auth(e) => e.reason().map_or("internal", Reason::as_str),
            ApiError::RequestMalformed => "request-malformed",
            ApiError::RouteNotFound => "route-not-found",
            ApiError::MethodNotAllowed { .. } => "method-not-allowed",
            ApiError::UserNotFound => "user-not-found",
            ApiError::Unavailable { reason, .. } => reason,
            ApiError::Internal(_) => "internal",
        }
    }

    fn message(&self) -> &'static str {
        match self {
            ApiError::Auth(AuthError::Unauthorized { reason, .. }) => reason.message(),
            ApiError::Auth(AuthError::Unavailable { reason, .. }) => reason.message(),
            ApiError::RequestMalformed => {
                "The request could not be read: its URL, a header or its body holds bytes HTTP does not allow."
            }
            ApiError::RouteNotFound => "No such route.",
            ApiError::MethodNotAllowed { .. } => "Method not allowed on this route.",
            ApiError::UserNotFound => "The signed-in user no longer exists.",
            ApiError::Unavailable { .. } => {
                "The service is briefly unavailable; try again shortly."
            }
            ApiError::Auth(_) | ApiError::Internal(_) => "Internal server error.",
        }
    }

    /// The detail for the log (never sent to the client; never contains secrets or tokens).
    pub fn log_detail(&self) -> Option<&str> {
        match self {
            ApiError::Auth(AuthError::Unavailable { detail, .. })
            | ApiError::Unavailable { detail, .. }
            | ApiError::Auth(AuthError::Misconfigured(detail))
            | ApiError::Internal(detail) => Some(detail),
            _ => None,
        }
    }

    pub fn into_response(self) -> Response<Body> {
        let status = self.status();
        let error = match status {
            StatusCode::UNAUTHORIZED => "unauthorized",
            StatusCode::SERVICE_UNAVAILABLE => "service_unavailable",
            StatusCode::BAD_REQUEST => "bad_request",
            StatusCode::NOT_FOUND => "not_found",
            StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
            _ => "internal_error",
        };
        let mut resp = json(
            status,
            &ErrorBody {
                error,
                reason: self.reason(),
                message: self.message(),
            },
        );
        let headers = resp.headers_mut();
        match &self {
            ApiError::Auth(AuthError::Unauthorized { token_sent, .. }) => {
                let value = if *token_sent {
                    "Bearer error=\"invalid_token\""
                } else {
                    "Bearer"
                };
                headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(value));
            }
            ApiError::Auth(AuthError::Unavailable { retry_after, .. })
            | ApiError::Unavailable { retry_after, .. } => {
                headers.insert(
                    header::RETRY_AFTER,
                    HeaderValue::from(retry_after.as_secs().max(1)),
                );
            }
            ApiError::MethodNotAllowed { allow } => {
                headers.insert(header::ALLOW, HeaderValue::from_static(allow));
            }
            _ => {}
        }
        resp
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

/// Writes the one log line of a request: id, route, status, reason, user id. Never a token.
pub fn log_request(
    req: &Request,
    route: &str,
    resp: &Response<Body>,
    error: Option<&ApiError>,
    user_id: Option<&str>,
) {
    let status = resp.status().as_u16();
    let request_id = request_id(req);
    let reason = error.map(ApiError::reason);
    let detail = error.and_then(ApiError::log_detail);
    if status >= 500 {
        tracing::error!(request_id, route, method = %req.method(), status, reason, detail, user_id, "request");
    } else if status >= 400 {
        tracing::warn!(request_id, route, method = %req.method(), status, reason, user_id, "request");
    } else {
        tracing::info!(request_id, route, method = %req.method(), status, user_id, "request");
    }
}

/// Routes of this project answer GET (and HEAD) only.
pub fn get_only(req: &Request) -> Result<(), ApiError> {
    use lambda_http::http::Method;
    if req.method() == Method::GET || req.method() == Method::HEAD {
        Ok(())
    } else {
        Err(ApiError::MethodNotAllowed { allow: "GET, HEAD" })
    }
}

/// Turns a handler's result into the response, and writes the request's log line.
pub fn respond(
    req: &Request,
    route: &str,
    result: Result<Response<Body>, ApiError>,
    user_id: Option<&str>,
) -> Response<Body> {
    match result {
        Ok(resp) => {
            log_request(req, route, &resp, None, user_id);
            resp
        }
        Err(e) => {
            let resp = e.clone().into_response();
            log_request(req, route, &resp, Some(&e), user_id);
            resp
        }
    }
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
        let r = ApiError::MethodNotAllowed { allow: "GET" }.into_response();
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()[header::ALLOW], "GET");
    }
}
