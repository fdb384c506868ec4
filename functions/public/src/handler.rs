//! Routes of the public function.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use serde_json::json;
use shared::http::json;
use shared::routes::{Route, Routes, TableError};

/// The crate version reported by `/api/health`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

const GET: &[Method] = &[Method::GET];

/// The public function's API. Each path here is also an event of PublicFunction in template.yaml
/// and a line of the `cargo lambda watch` router in Cargo.toml (a test checks all three agree):
/// every other `/api/` path goes to the protected function and needs a session.
pub fn routes() -> Vec<Route<()>> {
    vec![
        Route::public("/api/health", GET, |_, _| {
            Box::pin(async {
                Ok(json(
                    StatusCode::OK,
                    &json!({"status": "ok", "version": VERSION}),
                ))
            })
        }),
        Route::public("/api/public", GET, |_, _| {
            Box::pin(async {
                Ok(json(
                    StatusCode::OK,
                    &json!({
                        "message": "Hello from the public endpoint: anyone may call it, signed in or not.",
                        "public": true,
                    }),
                ))
            })
        }),
    ]
}

/// The table, checked (built once, at start-up).
pub fn table() -> Result<Routes<()>, TableError> {
    Routes::new(routes())
}

/// Answers a request: this function holds no keys, so only its public routes exist.
pub async fn handle(routes: &Routes<()>, req: &Request) -> Response<Body> {
    routes.dispatch(&(), None, req).await
}

#[cfg(test)]
mod tests {
    use test_support::{apigw_v2_request, json_body};

    use super::*;

    fn handle(req: &Request) -> Response<Body> {
        let routes = table().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(super::handle(&routes, req))
    }

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

    #[test]
    fn each_public_route_is_routed_to_this_function_by_the_gateway_and_the_watch_router() {
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../..");
        let template = std::fs::read_to_string(format!("{root}/template.yaml")).unwrap();
        let cargo = std::fs::read_to_string(format!("{root}/Cargo.toml")).unwrap();
        let public_events = template
            .split("\n  PublicFunction:")
            .nth(1)
            .and_then(|s| s.split("\n  ProtectedFunction:").next())
            .unwrap();
        for route in routes() {
            let event = format!("Path: {}, Method: ANY}}", route.path);
            assert!(public_events.contains(&event), "template.yaml: {event}");
            let line = format!("\"{}\" = \"public\"", route.path);
            assert!(cargo.contains(&line), "Cargo.toml's watch router: {line}");
        }
        // And nothing else under /api/ is public: the rest needs a session (the protected
        // function's greedy route), but for the webhooks function's signed deliveries.
        let mut gateway: Vec<&str> = template
            .split("Path: ")
            .skip(1)
            .filter_map(|s| s.split([',', '\n']).next())
            .map(|p| p.trim().trim_matches('"'))
            .filter(|p| p.starts_with("/api/"))
            .collect();
        gateway.sort_unstable();
        let mut expected: Vec<&str> = routes().iter().map(|r| r.path).collect();
        expected.extend(["/api/{proxy+}", "/api/webhooks/clerk"]);
        expected.sort_unstable();
        assert_eq!(gateway, expected);
    }
}
