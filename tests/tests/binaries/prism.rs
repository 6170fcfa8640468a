//! Prism as a validating proxy on Persona's OpenAPI file: a request that breaks the contract is
//! rejected (422 with a `validation` list) and never reaches the upstream; a valid one is forwarded.
//! Needs Prism (`npm ci` at the repository root, or `PRISM_BIN`); skipped with a message when it
//! is missing, except under `CI`, where a missing install fails.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{Request, State};
use axum::Json;
use integration_tests::error::Result;
use integration_tests::prism::{parse_logged_problem, prism_or_skip, prism_problem_type, validation_rejection, Prism};
use serde_json::{json, Value};

/// A trivial upstream that records each request and answers like Persona's resume/link endpoints.
async fn start_upstream() -> Result<(String, Arc<Mutex<Vec<String>>>, tokio::task::JoinHandle<()>)> {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new()
        .fallback(|State(seen): State<Arc<Mutex<Vec<String>>>>, request: Request| async move {
            seen.lock().unwrap().push(format!("{} {}", request.method(), request.uri()));
            Json(json!({"data": {"type": "inquiry", "id": "inq_1", "attributes": {}}, "meta": {}}))
        })
        .with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let url = format!("http://{}/api/v1", listener.local_addr()?);
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((url, seen, server))
}

async fn post(client: &reqwest::Client, url: &str, body: Option<Value>) -> Result<(u16, Vec<u8>)> {
    let mut request = client
        .post(url)
        .header("Authorization", "Bearer persona_sandbox_test")
        .header("Persona-Version", "2025-12-08")
        .header("Idempotency-Key", "rig-test");
    if let Some(body) = body {
        request = request.header("Content-Type", "application/json").body(body.to_string());
    }
    let response = request.send().await?;
    Ok((response.status().as_u16(), response.bytes().await?.to_vec()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prism_rejects_requests_that_break_personas_contract() -> Result<()> {
    let _turn = integration_tests::rig::exclusive_turn().await;
    let Some(bin) = prism_or_skip("prism_rejects_requests_that_break_personas_contract") else {
        return Ok(());
    };
    let (upstream, seen, _server) = start_upstream().await?;
    let prism = Prism::start_with(bin, integration_tests::prism::openapi_spec(), &upstream).await?;
    println!("Prism listening after {:?} at {}", prism.startup_time(), prism.base_url());
    let base = prism.base_url();
    let client = reqwest::Client::builder().no_proxy().build()?;

    // Valid: resume without a body, a link with an allowed meta key. Forwarded, upstream path kept.
    let (status, body) = post(&client, &format!("{base}/inquiries/inq_1/resume"), None).await?;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
    let link = json!({"meta": {"expires-in-seconds": 3600}});
    let (status, _) = post(&client, &format!("{base}/inquiries/inq_1/generate-one-time-link"), Some(link)).await?;
    assert_eq!(status, 200);
    assert_eq!(
        *seen.lock().unwrap(),
        ["POST /api/v1/inquiries/inq_1/resume", "POST /api/v1/inquiries/inq_1/generate-one-time-link"]
    );
    prism.check_no_problems_settled().await?;
    let before = prism.child().output().len();

    // A JSON body on /resume (the spec defines none).
    let (status, body) = post(&client, &format!("{base}/inquiries/inq_1/resume"), Some(json!({"meta": {}}))).await?;
    let rejection = validation_rejection(status, &body).expect("422 with a validation list");
    println!("body on /resume: {rejection:?}");
    assert_eq!(rejection.title, "Invalid request");
    assert_eq!(rejection.violations.len(), 1);
    assert!(rejection.violations[0].message.contains("non-empty body"), "{rejection:?}");

    // An extra key in the link's meta.
    let bad_link = json!({"meta": {"expires-in-seconds": 3600, "bogus": true}});
    let (status, body) =
        post(&client, &format!("{base}/inquiries/inq_1/generate-one-time-link"), Some(bad_link)).await?;
    let rejection = validation_rejection(status, &body).expect("422 with a validation list");
    println!("extra meta key: {rejection:?}");
    let violation = &rejection.violations[0];
    assert_eq!(violation.location, ["body", "meta"]);
    assert_eq!(violation.code, "additionalProperties");
    assert!(violation.message.contains("bogus"), "{violation:?}");

    // Neither reached the upstream.
    assert_eq!(seen.lock().unwrap().len(), 2);

    // Prism logged both, without the details (those are only in its answer).
    let logged = prism.wait_for_problems(before, 2, Duration::from_secs(5)).await;
    assert_eq!(logged.len(), 2, "{logged:?}");
    for problem in &logged {
        assert_eq!(problem.level, "error");
        assert_eq!(problem.method.as_deref(), Some("post"));
        assert!(problem.message.contains("#UNPROCESSABLE_ENTITY"), "{problem:?}");
    }
    assert_eq!(logged[1].path.as_deref(), Some("/inquiries/inq_1/generate-one-time-link"));
    assert!(prism.check_no_problems().is_err());

    // Missing credentials: Prism's own 401, recognisable as Prism's.
    let unauthenticated = client.post(format!("{base}/inquiries/inq_1/resume")).send().await?;
    assert_eq!(unauthenticated.status().as_u16(), 401);
    let body = unauthenticated.bytes().await?;
    assert_eq!(prism_problem_type(&body).as_deref(), Some("https://stoplight.io/prism/errors#UNAUTHORIZED"));
    assert!(validation_rejection(401, &body).is_none());
    Ok(())
}

#[test]
fn prism_log_lines_are_parsed() {
    let line = "[1:17:05 AM] › [HTTP SERVER] post /inquiries/inq_x/generate-one-time-link ✖  error     \
                Request terminated with error: https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY: Invalid request";
    let problem = parse_logged_problem(line).expect("a problem");
    assert_eq!(problem.level, "error");
    assert_eq!(problem.method.as_deref(), Some("post"));
    assert_eq!(problem.path.as_deref(), Some("/inquiries/inq_x/generate-one-time-link"));
    assert!(problem.message.starts_with("Request terminated with error: https://stoplight.io/prism/errors#"));
    let coloured = "\u{1b}[90m[1:17:05 AM]\u{1b}[39m › [HTTP SERVER] get /x \u{1b}[31m✖  error\u{1b}[39m     boom";
    assert_eq!(parse_logged_problem(coloured).map(|p| p.message), Some("boom".to_owned()));
    let info = "[1:17:01 AM] › [HTTP SERVER] post /inquiries/inq_x/resume ℹ  info      Request received";
    assert!(parse_logged_problem(info).is_none());
}

#[test]
fn validation_rejections_are_recognised() {
    let body = br#"{"type":"https://stoplight.io/prism/errors#UNPROCESSABLE_ENTITY","title":"Invalid request","status":422,"detail":"d","validation":[{"severity":"Error","code":415,"message":"No supported content types, but request included a non-empty body"}]}"#;
    let rejection = validation_rejection(422, body).expect("rejection");
    assert_eq!(rejection.violations[0].code, "415");
    assert!(rejection.violations[0].location.is_empty());
    assert!(validation_rejection(422, br#"{"title":"from the fake"}"#).is_none());
    assert!(validation_rejection(200, body).is_none());
}
