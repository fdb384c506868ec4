//! The demo users' authorization as the stand-in mints it, over its admin API on loopback, and
//! what `Session::has` answers for it: Alice administers Acme and has the `reports` feature, Bob
//! is a plain member without it, neither passes `strict` reverification until they verify again.
//! A mint that names no demo user is what it was before demo users carried claims.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use clerk_stub::{DEMO_ORG_ID, Stub, StubConfig};
use serde_json::{Value, json};
use shared::Session;
use shared::authorization::{Check, Reverification};
use shared::rsa_key::RsaKey;
use shared::verify::Verifier;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

const AZP: &str = "http://localhost:5173";

/// One HTTP/1.1 request to the admin listener: (status, JSON body).
async fn admin(stub: &Stub, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    let addr = stub.admin_url().trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let request = format!(
        "{method} {path} HTTP/1.1\r\nhost: {addr}\r\nconnection: close\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}

/// `POST /tokens`: the token verified as the functions verify it, and the claims minted.
async fn mint(stub: &Stub, req: Value) -> (Session, Value) {
    let (status, body) = admin(stub, "POST", "/tokens", Some(req.clone())).await;
    assert_eq!(status, 200, "{req}: {body}");
    let key = RsaKey::from_pem(&stub.public_pem(), None).unwrap();
    let session = Verifier::new(stub.issuer(), vec![AZP.into()])
        .unwrap()
        .verify(body["token"].as_str().unwrap(), &key)
        .unwrap_or_else(|r| panic!("{req}: refused {r:?}"));
    (session, body["claims"].clone())
}

/// What the three example routes ask: (org admin of Acme, feature `reports`, `strict`).
fn answers(s: &Session) -> (bool, bool, bool) {
    let admin = s.org_id.as_deref() == Some(DEMO_ORG_ID)
        && s.has(&Check {
            role: Some("org:admin"),
            ..Check::default()
        });
    let reports = s.has(&Check {
        feature: Some("reports"),
        ..Check::default()
    });
    let strict = s.has(&Check {
        reverification: Some(Reverification::Strict),
        ..Check::default()
    });
    (admin, reports, strict)
}

async fn stub() -> Stub {
    Stub::start(StubConfig::default()).await.unwrap()
}

#[tokio::test]
async fn alice_is_admin_of_acme_with_reports_and_must_verify_again_for_strict() {
    let stub = stub().await;
    let (s, claims) = mint(&stub, json!({"sub": "user_demoAlice"})).await;
    assert_eq!(
        claims["o"],
        json!({"id": "org_demoAcme", "slg": "acme", "rol": "admin"})
    );
    assert_eq!(
        (claims["fea"].clone(), claims["pla"].clone()),
        (json!("u:reports"), json!("u:pro"))
    );
    assert_eq!(claims["fva"], json!([30, -1]));
    assert_eq!(s.org_role.as_deref(), Some("org:admin"));
    assert_eq!(answers(&s), (true, true, false));
}

#[tokio::test]
async fn bob_is_a_plain_member_without_features() {
    let stub = stub().await;
    let (s, claims) = mint(&stub, json!({"sub": "user_demoBob"})).await;
    assert_eq!(
        claims["o"],
        json!({"id": "org_demoAcme", "slg": "acme", "rol": "member"})
    );
    assert!(
        claims.get("fea").is_none() && claims.get("pla").is_none(),
        "{claims}"
    );
    assert_eq!(s.org_role.as_deref(), Some("org:member"));
    assert_eq!(answers(&s), (false, false, false));
}

#[tokio::test]
async fn verifying_again_passes_strict_for_ten_minutes() {
    let stub = stub().await;
    for (secs, fva, strict) in [
        (0, 0, true),
        (59, 0, true),
        (599, 9, true),
        (600, 10, false),
        (-5, 0, true), // nonsense from a client clock counts as just now
        (86_400, 1440, false),
    ] {
        let req = json!({"sub": "user_demoAlice", "reverified_secs_ago": secs});
        let (s, claims) = mint(&stub, req.clone()).await;
        assert_eq!(claims["fva"], json!([fva, -1]), "{req}");
        assert_eq!(answers(&s), (true, true, strict), "{req}");
    }
    // A client may send fva itself: claims are merged last.
    let (s, _) = mint(
        &stub,
        json!({"sub": "user_demoBob", "claims": {"fva": [0, -1]}}),
    )
    .await;
    assert_eq!(answers(&s), (false, false, true));
}

#[tokio::test]
async fn explicit_fields_override_the_demo_user() {
    let stub = stub().await;
    let org = json!({"id": "org_1", "slug": "other", "role": "admin", "fea": "o:dash"});
    let (s, claims) = mint(&stub, json!({"sub": "user_demoBob", "org": org})).await;
    assert_eq!(
        claims["o"],
        json!({"id": "org_1", "slg": "other", "rol": "admin"})
    );
    assert_eq!(claims["fea"], "o:dash");
    assert_eq!(s.org_role.as_deref(), Some("org:admin"));
    // Alice with another organization keeps her own plan's feature; claims can remove it.
    let (_, claims) = mint(
        &stub,
        json!({"sub": "user_demoAlice", "org": {"id": "org_2", "slug": "b", "role": "member"}}),
    )
    .await;
    assert_eq!(
        (claims["o"]["id"].clone(), claims["fea"].clone()),
        (json!("org_2"), json!("u:reports"))
    );
    // `org: null`: no active organization; her own plan's feature stays.
    let (s, claims) = mint(&stub, json!({"sub": "user_demoAlice", "org": null})).await;
    assert!(claims.get("o").is_none(), "{claims}");
    assert_eq!(answers(&s), (false, true, false));
    let (s, claims) = mint(
        &stub,
        json!({"sub": "user_demoAlice", "claims": {"fea": null, "o": null}}),
    )
    .await;
    assert!(
        claims.get("fea").is_none() && claims.get("o").is_none(),
        "{claims}"
    );
    assert_eq!(answers(&s), (false, false, false));
    // v1: the organization in the v1 claims, and no v2 features.
    let (s, claims) = mint(&stub, json!({"sub": "user_demoAlice", "v": 1})).await;
    assert_eq!(claims["org_id"], DEMO_ORG_ID);
    assert_eq!(claims["org_role"], "org:admin");
    assert!(
        claims.get("fea").is_none() && claims.get("o").is_none(),
        "{claims}"
    );
    assert_eq!(answers(&s), (true, false, false));
}

#[tokio::test]
async fn a_mint_naming_no_demo_user_is_unchanged() {
    let stub = stub().await;
    for req in [json!({}), json!({"sub": "user_someoneElse"})] {
        let (s, claims) = mint(&stub, req.clone()).await;
        let names: Vec<&str> = claims
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        assert_eq!(
            names,
            [
                "azp", "exp", "fva", "iat", "iss", "nbf", "sid", "sts", "sub", "v"
            ],
            "{req}"
        );
        assert_eq!(claims["fva"], json!([0, -1]), "{req}");
        assert_eq!(s.org_id, None);
        // Verified "just now": strict passes, nothing else is granted.
        assert_eq!(answers(&s), (false, false, true), "{req}");
    }
    let (_, claims) = mint(&stub, json!({})).await;
    assert_eq!(claims["sub"], "user_demoAlice");
    // The library's MintRequest::default() too (the key cache and handler tests use it).
    let token = stub.mint(&clerk_stub::MintRequest::default());
    let key = RsaKey::from_pem(&stub.public_pem(), None).unwrap();
    let s = Verifier::new(stub.issuer(), vec![AZP.into()])
        .unwrap()
        .verify(&token, &key)
        .unwrap();
    assert_eq!(
        (s.org_id, s.features.len(), s.factor_verification_age),
        (None, 0, Some([0, -1]))
    );
}

#[tokio::test]
async fn bad_mint_requests_are_refused_not_panicked_on() {
    let stub = stub().await;
    for body in [
        json!({"reverified_secs_ago": "ten"}),
        json!({"reverified_secs_ago": 1.5}),
        json!({"sub": "user_demoAlice", "reverified": 0}),
    ] {
        let (status, _) = admin(&stub, "POST", "/tokens", Some(body.clone())).await;
        assert_eq!(status, 422, "{body}");
    }
    let (_, claims) = mint(
        &stub,
        json!({"sub": "user_demoAlice", "reverified_secs_ago": i64::MIN}),
    )
    .await;
    assert_eq!(claims["fva"], json!([0, -1]));
    let (_, claims) = mint(
        &stub,
        json!({"sub": "user_demoAlice", "reverified_secs_ago": i64::MAX}),
    )
    .await;
    assert_eq!(claims["fva"], json!([i64::MAX / 60, -1]));
}

#[tokio::test]
async fn the_users_list_says_who_may_do_what() {
    let stub = stub().await;
    let (status, body) = admin(&stub, "GET", "/users", None).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["users"],
        json!([
            {
                "id": "user_demoAlice", "firstName": "Alice", "lastName": "Anders",
                "imageUrl": "https://img.clerk.com/demo/alice.png",
                "organization": {"id": "org_demoAcme", "slug": "acme", "name": "Acme", "role": "org:admin"},
                "features": ["reports"], "plans": ["pro"], "firstFactorAgeMinutes": 30,
            },
            {
                "id": "user_demoBob", "firstName": "Bob", "lastName": "Baker",
                "imageUrl": "https://img.clerk.com/demo/bob.png",
                "organization": {"id": "org_demoAcme", "slug": "acme", "name": "Acme", "role": "org:member"},
                "features": [], "plans": [], "firstFactorAgeMinutes": 30,
            },
        ])
    );
}
