//! Route tables and their guards: any path, method and claims reach an answer without a panic,
//! and a 200 only when every requirement of the route holds (checked here independently: the
//! active organization is the one in the path, and `Session::has` grants the condition).
//!
//! Input: `METHOD PATH\n{claims JSON merged over a valid session}`.
#![no_main]

use std::sync::OnceLock;

use lambda_http::http::{Method, StatusCode};
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};
use shared::auth::Authenticator;
use shared::authorization::{Check, Reverification};
use shared::clock::ManualClock;
use shared::http::json as json_response;
use shared::routes::{Ctx, ReplyFuture, Require, Route, Routes};
use shared::session::Session;
use shared::verify::Verifier;
use test_support::{AZP, ISS, NOW, TestKey, event_to_request, session_claims};

struct F {
    key: TestKey,
    auth: Authenticator,
    routes: Routes<()>,
    rt: tokio::runtime::Runtime,
}

const GET: &[Method] = &[Method::GET];

fn ok<'a>(_: &'a (), _: Ctx<'a>, _: Session) -> ReplyFuture<'a> {
    Box::pin(async { Ok(json_response(StatusCode::OK, &json!({}))) })
}

fn f() -> &'static F {
    static F_: OnceLock<F> = OnceLock::new();
    F_.get_or_init(|| {
        let key = TestKey::generate("ins_fuzz");
        let verifier = Verifier::new(ISS, vec![AZP.into()])
            .unwrap()
            .with_clock(ManualClock::new(u64::try_from(NOW).unwrap() * 1000));
        let routes = Routes::new(vec![
            Route::session("/s", GET, Require::session(), ok),
            Route::session("/o/{org}/admin", GET, Require::session().org_in_path("org").role("admin"), ok),
            Route::session("/p", &[Method::GET, Method::POST], Require::session().permission("org:x:read"), ok),
            Route::session("/f", GET, Require::session().feature("reports"), ok),
            Route::session("/plan", GET, Require::session().plan("o:pro"), ok),
            Route::session("/r", &[Method::POST], Require::session().reverification(Reverification::Strict), ok),
            Route::public("/pub", GET, |_, _| Box::pin(async { Ok(json_response(StatusCode::OK, &json!({}))) })),
        ])
        .unwrap();
        F {
            auth: Authenticator::networkless(verifier, key.rsa_key()),
            key,
            routes,
            rt: tokio::runtime::Builder::new_current_thread().build().unwrap(),
        }
    })
}

fn has(claims: &Map<String, Value>, check: Check<'_>) -> bool {
    // The oracle: the same claims verified on their own, asked directly.
    let f = f();
    let token = f.key.sign(&Value::Object(claims.clone()));
    let verifier = Verifier::new(ISS, vec![AZP.into()])
        .unwrap()
        .with_clock(ManualClock::new(u64::try_from(NOW).unwrap() * 1000));
    verifier.verify(&token, &f.key.rsa_key()).is_ok_and(|s| s.has(&check))
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let (line, extra) = text.split_once('\n').unwrap_or((text, ""));
    let (method, path) = line.split_once(' ').unwrap_or(("GET", line));
    let mut claims = session_claims(ISS, AZP, NOW).as_object().cloned().unwrap();
    if let Ok(Value::Object(extra)) = serde_json::from_str::<Value>(extra) {
        claims.extend(extra);
    }
    let f = f();
    let token = f.key.sign(&Value::Object(claims.clone()));
    let event = test_support::apigw_v2_event(method, path, &[("authorization", &format!("Bearer {token}"))]);
    let Ok(req) = event_to_request(event.as_bytes()) else { return };
    let resp = f.rt.block_on(f.routes.dispatch(&(), Some(&f.auth), &req));
    let status = resp.status().as_u16();
    assert!([200, 400, 401, 403, 404, 405].contains(&status), "{status}");
    if status != 200 {
        return;
    }
    let raw = req.uri().path().to_owned();
    let active = claims.get("o").and_then(|o| o.get("id")).and_then(Value::as_str);
    let granted = match raw.as_str() {
        "/s" | "/pub" => true,
        p if p.starts_with("/o/") => {
            let org = p.trim_start_matches("/o/").trim_end_matches("/admin");
            active == Some(org) && has(&claims, Check { role: Some("admin"), ..Check::default() })
        }
        "/p" => has(&claims, Check { permission: Some("org:x:read"), ..Check::default() }),
        "/f" => has(&claims, Check { feature: Some("reports"), ..Check::default() }),
        "/plan" => has(&claims, Check { plan: Some("o:pro"), ..Check::default() }),
        "/r" => has(&claims, Check { reverification: Some(Reverification::Strict), ..Check::default() }),
        other => panic!("200 on {other}, which no route lists"),
    };
    assert!(granted, "{method} {path} answered 200 to {claims:?}");
});
