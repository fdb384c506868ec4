//! Routes of the public function.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::error::Reason;
use shared::http::{ApiError, get_only, json, path, respond};

/// The crate version reported by `/api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub fn handle(req: &Request) -> Response<Body> {
    let route = path(req);
    let result = match route {
        "/api/health" => get_only(req).map(|()| json(StatusCode::OK, &json!({"status": "ok", "version": VERSION}))),
        "/api/public" => get_only(req).map(|()| {
            json(
                StatusCode::OK,
                &json!({
                    "message": "Hello from the public endpoint: anyone may call it, signed in or not.",
                    "public": true,
                }),
            )
        }),
        _ => Err(ApiError::new(Reason::RouteNotFound)),
    };
    respond(req, route, result)
}

#[cfg(test)]
mod tests {
    use test_support::{apigw_v2_request, json_body};

    use super::*;

    #[test]
    fn health_reports_the_version() {
        let r = handle(&apigw_v2_request("GET", "/api/health", &[]));
        assert_eq!(r.status(), 200);
        assert_eq!(json_body(&r), json!({"status": "ok", "version": VERSION}));
        assert_eq!(r.headers()["content-type"], "application/json");
    }

    #[test]
    fn public_answers_with_or_without_a_token() {
        for headers in [vec![], vec![("authorization", "Bearer not-a-token")]] {
            let r = handle(&apigw_v2_request("GET", "/api/public", &headers));
            assert_eq!(r.status(), 200);
            assert_eq!(json_body(&r)["public"], true);
        }
    }

    #[test]
    fn unknown_paths_404_and_wrong_methods_405() {
        let r = handle(&apigw_v2_request("GET", "/api/nope", &[]));
        assert_eq!(r.status(), 404);
        assert_eq!(json_body(&r)["reason"], "route-not-found");
        let r = handle(&apigw_v2_request("POST", "/api/public", &[]));
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "GET, HEAD");
        assert_eq!(json_body(&r)["reason"], "method-not-allowed");
    }
}
