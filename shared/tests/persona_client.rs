//! The Persona client against a real HTTP stub (wiremock): every endpoint, and the error mapping.

mod support;

use std::time::Duration;

use persona_resume::domain::ids::InquiryId;
use persona_resume::persona::idempotency::KeySequence;
use persona_resume::persona::model::{CreateInquiry, CreateInquiryAttributes, InquiryStatus};
use persona_resume::persona::{ListFilter, Operation, UpstreamError};
use serde_json::json;
use support::*;
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn persona_json(body: serde_json::Value) -> ResponseTemplate {
    ResponseTemplate::new(200).insert_header("Request-Id", "req_ok").set_body_json(body)
}

fn errors(status: u16) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("Request-Id", format!("req_{status}").as_str())
        .set_body_json(json!({"errors": [{"title": "error", "details": "d"}]}))
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

/// Resumes against a server that first answers `failure` `times` times; the idempotency keys sent, in order.
async fn resume_keys_after(failure: ResponseTemplate, times: u64) -> Vec<String> {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(failure).up_to_n_times(times).mount(&server).await;
    Mock::given(method("POST"))
        .respond_with(persona_json(resume_document(inquiry("inq_1", "pending", None, "v"), "tok")))
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    state
        .persona
        .resume(&mut inv, &id("inq_1"), KeySequence::per_invocation(Operation::Resume, &id("inq_1"), "r1"))
        .await
        .unwrap();
    received(&server).await.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn get_inquiry_is_authenticated_versioned_and_includes_the_template() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/inquiries/inq_1"))
        .and(query_param("include", "inquiry-template"))
        .and(header("authorization", format!("Bearer {API_KEY}").as_str()))
        .and(header("persona-version", "2025-12-08"))
        .respond_with(persona_json(inquiry_document(inquiry("inq_1", "pending", Some("u1"), "itmplv_1"), "itmplv_2")))
        .expect(1)
        .mount(&server)
        .await;
    // Base URL with a path and no trailing slash: our paths are appended to it.
    let state = state(&format!("{}/api/v1", server.uri()), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let doc = state.persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap();
    assert_eq!(doc.data.status(), &InquiryStatus::Pending);
    assert_eq!(doc.latest_published_version_id(), Some("itmplv_2"));
    assert_eq!(inv.calls.len(), 1);
    assert_eq!(inv.calls[0].request_id.as_deref(), Some("req_ok"));
    assert!(received(&server).await[0].headers.get("idempotency-key").is_none(), "GETs carry no key");
}

#[tokio::test]
async fn trailing_slash_base_urls_work_too() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/api/v1/inquiries/inq_1"))
        .respond_with(persona_json(inquiry_document(inquiry("inq_1", "pending", None, "itmplv_1"), "itmplv_1")))
        .expect(1)
        .mount(&server)
        .await;
    let state = state(&format!("{}/api/v1/", server.uri()), &[]);
    state.persona.get_inquiry(&mut invocation(Duration::from_secs(5)), &id("inq_1")).await.unwrap();
}

#[tokio::test]
async fn list_sends_the_filters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/inquiries"))
        .and(query_param("filter[reference-id]", "user 1&x"))
        .and(query_param("filter[inquiry-template-id]", "itmpl_Test1"))
        .and(query_param("filter[status]", "created,pending,expired"))
        .and(query_param("page[size]", "10"))
        .respond_with(persona_json(json!({"data": [inquiry("inq_2", "created", Some("user 1&x"), "itmplv_2")],
                                          "links": {"prev": null, "next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let list = state
        .persona
        .list_inquiries(
            &mut invocation(Duration::from_secs(5)),
            &ListFilter {
                reference_id: Some("user 1&x"),
                inquiry_template_id: Some("itmpl_Test1"),
                statuses: Some("created,pending,expired"),
                page_size: 10,
            },
        )
        .await
        .unwrap();
    assert_eq!(list.data.len(), 1);
    assert_eq!(list.data[0].id, "inq_2");
}

#[tokio::test]
async fn resume_sends_no_body_and_an_idempotency_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inquiries/inq_1/resume"))
        .and(header("idempotency-key", "resume:inq_1:req-test-1"))
        .respond_with(persona_json(resume_document(inquiry("inq_1", "pending", None, "v"), "tok_1")))
        .expect(1)
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let keys = KeySequence::per_invocation(Operation::Resume, &id("inq_1"), &inv.lambda_request_id.clone());
    let resumed = state.persona.resume(&mut inv, &id("inq_1"), keys).await.unwrap();
    assert_eq!(resumed.meta.session_token, "tok_1");
    let requests = received(&server).await;
    assert!(requests[0].body.is_empty());
    assert!(requests[0].headers.get("content-type").is_none());
}

#[tokio::test]
async fn link_body_is_sent_only_with_an_expiry() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inquiries/inq_1/generate-one-time-link"))
        .respond_with(persona_json(link_document(inquiry("inq_1", "pending", None, "v"), "https://l/1")))
        .expect(2)
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let link = state
        .persona
        .generate_one_time_link(
            &mut inv,
            &id("inq_1"),
            Some(3600),
            KeySequence::per_invocation(Operation::GenerateOneTimeLink, &id("inq_1"), "a"),
        )
        .await
        .unwrap();
    assert_eq!(link.meta.one_time_link, "https://l/1");
    assert_eq!(link.meta.one_time_link_short.as_deref(), Some("https://l/1-short"));
    state
        .persona
        .generate_one_time_link(
            &mut inv,
            &id("inq_1"),
            None,
            KeySequence::per_invocation(Operation::GenerateOneTimeLink, &id("inq_1"), "b"),
        )
        .await
        .unwrap();
    let requests = received(&server).await;
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&requests[0].body).unwrap(),
        json!({"meta": {"expires-in-seconds": 3600}})
    );
    assert_eq!(requests[0].headers["content-type"], "application/json");
    assert!(requests[1].body.is_empty());
}

#[tokio::test]
async fn create_and_expire() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/inquiries"))
        .and(header("idempotency-key", "recreate:inq_old:itmplv_2"))
        .and(body_json(json!({"data": {"attributes": {"inquiry-template-id": "itmpl_Test1", "reference-id": "u1"}},
                              "meta": {"auto-create-inquiry-session": true}})))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"data": inquiry("inq_new", "created", Some("u1"), "itmplv_2")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .and(path("/inquiries/inq_old/expire"))
        .and(header("idempotency-key", "expire:inq_old:itmplv_2"))
        .respond_with(persona_json(json!({"data": inquiry("inq_old", "expired", Some("u1"), "itmplv_1")})))
        .expect(1)
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let body = CreateInquiry::new(CreateInquiryAttributes {
        inquiry_template_id: "itmpl_Test1".into(),
        reference_id: Some("u1".into()),
        account_id: None,
        redirect_uri: None,
    });
    let created =
        state.persona.create_inquiry(&mut inv, &body, KeySequence::recreate(&id("inq_old"), "itmplv_2")).await.unwrap();
    assert_eq!(created.data.id, "inq_new");
    assert_eq!(created.meta.session_token, None, "a missing meta reads as null");
    let expired = state
        .persona
        .expire_inquiry(&mut inv, &id("inq_old"), KeySequence::expire(&id("inq_old"), "itmplv_2"))
        .await
        .unwrap();
    assert_eq!(expired.data.status(), &InquiryStatus::Expired);
}

async fn one_failing_call(template: ResponseTemplate) -> (UpstreamError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(template).mount(&server).await;
    let state = state(&server.uri(), &[]);
    let error = state.persona.get_inquiry(&mut invocation(Duration::from_secs(5)), &id("inq_1")).await.unwrap_err();
    (error, received(&server).await.len())
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 404, 409, 422] {
        let (error, calls) = one_failing_call(errors(status)).await;
        assert_eq!(error, UpstreamError::Rejected { status, request_id: Some(format!("req_{status}")) });
        assert_eq!(calls, 1, "{status}");
    }
}

#[tokio::test]
async fn a_refused_key_fails_cleanly() {
    // 401 carries no Request-Id; a fixed key can't be re-read, so there is exactly one call.
    let unauthorized = ResponseTemplate::new(401).set_body_json(json!({"errors": [{"title": "Unauthorized"}]}));
    let (error, calls) = one_failing_call(unauthorized).await;
    assert_eq!(error, UpstreamError::Unauthorized { status: 401, request_id: None });
    assert_eq!(calls, 1);
    let (error, calls) = one_failing_call(errors(403)).await;
    assert_eq!(error, UpstreamError::Unauthorized { status: 403, request_id: Some("req_403".into()) });
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn a_rate_limit_longer_than_the_deadline_is_reported_at_once() {
    let limited = errors(429).insert_header("RateLimit-Reset", "42").insert_header("RateLimit-Remaining", "0");
    let started = std::time::Instant::now();
    let (error, calls) = one_failing_call(limited).await;
    assert_eq!(error, UpstreamError::RateLimited { retry_after_seconds: 42, request_id: Some("req_429".into()) });
    assert_eq!(calls, 1);
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_short_rate_limit_is_waited_out() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(errors(429).insert_header("RateLimit-Reset", "0"))
        .up_to_n_times(2)
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .respond_with(persona_json(inquiry_document(inquiry("inq_1", "pending", None, "v"), "v")))
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    state.persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap();
    assert_eq!(inv.calls.iter().map(|c| c.status).collect::<Vec<_>>(), vec![Some(429), Some(429), Some(200)]);
}

#[tokio::test]
async fn a_5xx_answer_moves_to_the_next_key() {
    let keys = resume_keys_after(errors(503), 2).await;
    assert_eq!(keys, vec!["resume:inq_1:r1", "resume:inq_1:r1:2", "resume:inq_1:r1:3"]);
}

#[tokio::test]
async fn a_5xx_from_something_in_front_of_persona_retries_the_same_key_once() {
    // No Request-Id: a proxy or load balancer answered, and Persona may have committed the request.
    let keys = resume_keys_after(ResponseTemplate::new(502), 2).await;
    assert_eq!(keys, vec!["resume:inq_1:r1", "resume:inq_1:r1", "resume:inq_1:r1:2"]);
}

#[tokio::test]
async fn persistent_5xx_ends_after_a_bounded_number_of_attempts() {
    let (error, calls) = one_failing_call(errors(500)).await;
    assert!(matches!(error, UpstreamError::Unavailable { .. }), "{error:?}");
    assert_eq!(calls, 4);
}

#[tokio::test]
async fn a_lost_answer_retries_the_same_key() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(
            persona_json(resume_document(inquiry("inq_1", "pending", None, "v"), "tok"))
                .set_delay(Duration::from_secs(2)),
        )
        .up_to_n_times(1)
        .mount(&server)
        .await;
    Mock::given(method("POST"))
        .respond_with(persona_json(resume_document(inquiry("inq_1", "pending", None, "v"), "tok")))
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    state
        .persona
        .resume(&mut inv, &id("inq_1"), KeySequence::per_invocation(Operation::Resume, &id("inq_1"), "r1"))
        .await
        .unwrap();
    let keys: Vec<String> =
        received(&server).await.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned()).collect();
    assert_eq!(keys, vec!["resume:inq_1:r1", "resume:inq_1:r1"]);
    assert_eq!(inv.calls[0].status, None, "the timed-out attempt is recorded without a status");
}

#[tokio::test]
async fn no_answer_before_the_deadline_is_a_timeout() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(persona_json(json!({})).set_delay(Duration::from_secs(3)))
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let started = std::time::Instant::now();
    let error = state.persona.get_inquiry(&mut invocation(Duration::from_millis(800)), &id("inq_1")).await.unwrap_err();
    assert_eq!(error, UpstreamError::Timeout);
    assert!(started.elapsed() < Duration::from_millis(1200), "{:?}", started.elapsed());
}

#[tokio::test]
async fn unparseable_answers_are_typed_errors() {
    let (error, calls) = one_failing_call(ResponseTemplate::new(200).set_body_string("<html>oops</html>")).await;
    assert!(matches!(error, UpstreamError::Malformed { .. }), "{error:?}");
    assert_eq!(calls, 1);

    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(persona_json(json!({"data": inquiry("inq_1", "pending", None, "v"), "meta": {}})))
        .mount(&server)
        .await;
    let state = state(&server.uri(), &[]);
    let error = state
        .persona
        .resume(
            &mut invocation(Duration::from_secs(5)),
            &id("inq_1"),
            KeySequence::per_invocation(Operation::Resume, &id("inq_1"), "x"),
        )
        .await
        .unwrap_err();
    let UpstreamError::Malformed { detail, .. } = error else { panic!("{error:?}") };
    assert!(detail.contains("resume"), "{detail}");
}

#[tokio::test]
async fn a_dead_upstream_is_unavailable_not_a_panic() {
    // A port nobody listens on.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    drop(listener);
    let state = state(&format!("http://127.0.0.1:{port}"), &[]);
    let mut inv = invocation(Duration::from_secs(3));
    let error = state.persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { .. }), "{error:?}");
    assert_eq!(inv.calls.len(), 4);
}

fn id(raw: &str) -> InquiryId {
    InquiryId::parse(raw).expect("a valid inquiry id")
}
