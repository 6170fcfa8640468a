//! The dev gateway of `make dev` over HTTP: the authorizer in front, the payload 2.0 event it hands to the
//! function, the function's proxy response turned back into HTTP. The invoke endpoint of `cargo lambda watch`
//! is stood in for by a recorder (the real one is exercised by `ci/browser.sh`), so what the gateway sends can be
//! read back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::routing::post;
use axum::{Json, Router};
use integration_tests::dev_gateway::issuer::{Issuer, IssuerIdentity};
use integration_tests::dev_gateway::server::{app, serve, GatewayConfig};
use integration_tests::dev_gateway::DEV_AUDIENCE;
use serde_json::{json, Value};

type Recorded = Arc<Mutex<Vec<(String, Value)>>>;

/// Records the event and answers like a function would: 200 with a header, a cookie and the claims it saw.
async fn invocation(State(recorded): State<Recorded>, Path(name): Path<String>, body: Bytes) -> Json<Value> {
    let event: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    let claims = event["requestContext"]["authorizer"]["jwt"]["claims"].clone();
    recorded.lock().unwrap().push((name.clone(), event));
    Json(json!({
        "statusCode": 200,
        "headers": {"content-type": "application/json", "cache-control": "no-store"},
        "multiValueHeaders": {"x-multi": ["a", "b"]},
        "cookies": ["c=1"],
        "body": json!({"function": name, "claims": claims}).to_string(),
        "isBase64Encoded": false,
    }))
}

struct Rig {
    base: String,
    issuer: Issuer,
    recorded: Recorded,
    _scratch: Scratch,
}

struct Scratch(std::path::PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

async fn start() -> Rig {
    let recorded: Recorded = Arc::default();
    let functions = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let functions_url = format!("http://{}", functions.local_addr().unwrap());
    let stub = Router::new()
        .route("/2015-03-31/functions/{name}/invocations", post(invocation))
        .with_state(Arc::clone(&recorded));
    tokio::spawn(async move { axum::serve(functions, stub).await });

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let scratch = Scratch(std::env::temp_dir().join(format!("dev-gateway-test-{}-{port}", std::process::id())));
    let identity = IssuerIdentity { issuer: format!("http://127.0.0.1:{port}"), audience: DEV_AUDIENCE.into() };
    let key = scratch.0.join("key.pem");
    let issuer = Issuer::load_or_create(&key, identity.clone()).unwrap();
    let config = GatewayConfig {
        functions_url,
        web_root: scratch.0.clone(),
        persona_custom_host: None,
        invoke_timeout: Duration::from_secs(10),
    };
    let router = app(config, Issuer::load_or_create(&key, identity).unwrap()).unwrap();
    tokio::spawn(async move { serve(listener, router).await });
    Rig { base: format!("http://127.0.0.1:{port}"), issuer, recorded, _scratch: scratch }
}

async fn json_of(answer: reqwest::Response) -> Value {
    serde_json::from_slice(&answer.bytes().await.unwrap()).unwrap()
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_gateway_authorizes_routes_and_invokes_like_api_gateway() {
    let rig = start().await;
    let http = reqwest::Client::builder().no_proxy().build().unwrap();
    let token = rig.issuer.token("alice", now(), 600).unwrap();
    let post = |path: &str| http.post(format!("{}{path}", rig.base));

    // No token, a bad one, an expired one: 401 from the gateway, nothing invoked.
    for (what, header) in [
        ("none", None),
        ("garbage", Some("Bearer nope".to_owned())),
        ("expired", Some(format!("Bearer {}", rig.issuer.token("alice", now() - 1200, 600).unwrap()))),
    ] {
        let mut request = post("/me/session");
        if let Some(h) = header {
            request = request.header("authorization", h);
        }
        let answer = request.send().await.unwrap();
        assert_eq!(answer.status(), 401, "{what}");
        assert_eq!(json_of(answer).await, json!({"message": "Unauthorized"}), "{what}");
    }
    assert!(rig.recorded.lock().unwrap().is_empty());

    // Other methods on a route: 405 with Allow: POST; unknown routes: 404 — never a list of functions.
    let answer = http.get(format!("{}/me/session", rig.base)).send().await.unwrap();
    assert_eq!(answer.status(), 405);
    assert_eq!(answer.headers()["allow"], "POST");
    for path in ["/issue-link", "/inquiries/inq_A1", "/2015-03-31/functions/issue-link/invocations"] {
        let answer = post(path).header("authorization", format!("Bearer {token}")).send().await.unwrap();
        assert_eq!(answer.status(), 404, "{path}");
        assert_eq!(answer.text().await.unwrap(), r#"{"message":"Not Found"}"#, "{path}");
    }

    // A good token: the function gets a payload 2.0 event with the verified claims, as strings.
    let answer = post("/inquiries/inq_DemoAlice0001/one-time-link")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .body(r#"{"expires_in_seconds": 600}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), 200);
    assert_eq!(answer.headers()["cache-control"], "no-store");
    assert_eq!(answer.headers().get_all("x-multi").iter().count(), 2);
    assert_eq!(answer.headers()["set-cookie"], "c=1");
    let body = json_of(answer).await;
    assert_eq!(body["function"], "issue-link");
    assert_eq!(body["claims"]["sub"], "alice");
    assert_eq!(body["claims"]["aud"], DEV_AUDIENCE);
    assert!(body["claims"]["exp"].is_string(), "payload 2.0 claims are strings: {body}");

    let recorded = rig.recorded.lock().unwrap().clone();
    let (name, event) = recorded.last().unwrap();
    assert_eq!(name, "issue-link");
    assert_eq!(event["version"], "2.0");
    assert_eq!(event["routeKey"], "POST /inquiries/{inquiry_id}/one-time-link");
    assert_eq!(event["pathParameters"], json!({"inquiry_id": "inq_DemoAlice0001"}));
    assert_eq!(event["body"], r#"{"expires_in_seconds": 600}"#);
    assert_eq!(event["requestContext"]["authorizer"]["jwt"]["scopes"], json!(["openid"]));

    // /me goes to the same functions, without path parameters.
    let answer = post("/me/session").header("authorization", format!("Bearer {token}")).send().await.unwrap();
    assert_eq!(answer.status(), 200);
    let recorded = rig.recorded.lock().unwrap().clone();
    let (name, event) = recorded.last().unwrap();
    assert_eq!((name.as_str(), event.get("pathParameters")), ("resume-session", None));

    // The issuer's JWKS is served, and the dev token endpoint refuses odd subjects.
    let jwks = json_of(http.get(format!("{}/.well-known/jwks.json", rig.base)).send().await.unwrap()).await;
    assert_eq!(&jwks, rig.issuer.jwks());
    let refused = post("/dev/token").body(r#"{"sub": "a b"}"#).send().await.unwrap();
    assert_eq!(refused.status(), 400);
    let issued = json_of(post("/dev/token").body(r#"{"sub": "bob"}"#).send().await.unwrap()).await;
    let bob = issued["token"].as_str().unwrap();
    let answer = post("/me/session").header("authorization", format!("Bearer {bob}")).send().await.unwrap();
    assert_eq!(json_of(answer).await["claims"]["sub"], "bob");
}
