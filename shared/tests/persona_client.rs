//! The Persona client against a real HTTP stub (wiremock): every endpoint, and the error mapping.

mod support;

use std::time::Duration;

use persona_resume::domain::ids::InquiryId;
use persona_resume::persona::error::UpstreamError;
use persona_resume::persona::idempotency::KeySequence;
use persona_resume::persona::list_filter::ListFilter;
use persona_resume::persona::model::{CreateInquiry, CreateInquiryAttributes, InquiryStatus};
use persona_resume::persona::operation::Operation;
use persona_resume::persona::port::PersonaPort;
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
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    persona
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
        .and(query_param("include", "inquiry-template,account"))
        .and(query_param("fields[account]", "reference-id"))
        .and(header("authorization", format!("Bearer {API_KEY}").as_str()))
        .and(header("persona-version", "2025-12-08"))
        .respond_with(persona_json(inquiry_document(inquiry("inq_1", "pending", Some("u1"), "itmplv_1"), "itmplv_2")))
        .expect(1)
        .mount(&server)
        .await;
    // Base URL with a path and no trailing slash: our paths are appended to it.
    let persona = client(&format!("{}/api/v1", server.uri()), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let doc = persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap();
    assert_eq!(doc.data.status(), &InquiryStatus::Pending);
    assert_eq!(doc.latest_published_version_id().as_deref(), Some("itmplv_2"));
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
    let persona = client(&format!("{}/api/v1/", server.uri()), &[]);
    persona.get_inquiry(&mut invocation(Duration::from_secs(5)), &id("inq_1")).await.unwrap();
}

#[tokio::test]
async fn list_sends_the_filters() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/inquiries"))
        .and(query_param("filter[reference-id]", "user 1&x"))
        .and(query_param("filter[inquiry-template-id]", "itmpl_Test1"))
        .and(query_param("page[size]", "10"))
        .respond_with(persona_json(json!({"data": [inquiry("inq_2", "created", Some("user 1&x"), "itmplv_2")],
                                          "links": {"prev": null, "next": null}})))
        .expect(1)
        .mount(&server)
        .await;
    let persona = client(&server.uri(), &[]);
    let list = persona
        .list_inquiries(
            &mut invocation(Duration::from_secs(5)),
            &ListFilter {
                reference_id: Some("user 1&x"),
                inquiry_template_id: Some("itmpl_Test1"),
                page_size: 10,
                ..ListFilter::default()
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
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let keys = inv.keys_for(Operation::Resume, &id("inq_1"));
    let resumed = persona.resume(&mut inv, &id("inq_1"), keys).await.unwrap();
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
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let link = persona
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
    persona
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
    let body = create_body();
    let keys = KeySequence::recreate(&id("inq_old"), &body);
    assert_eq!(keys.current(), format!("recreate:inq_old:{}", body.fingerprint()));
    Mock::given(method("POST"))
        .and(path("/inquiries"))
        .and(header("idempotency-key", keys.current().as_str()))
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
        .and(header("idempotency-key", "expire:inq_old:req-test-1"))
        .respond_with(persona_json(json!({"data": inquiry("inq_old", "expired", Some("u1"), "itmplv_1")})))
        .expect(1)
        .mount(&server)
        .await;
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let created = persona.create_inquiry(&mut inv, &body, keys).await.unwrap();
    assert_eq!(created.data.id, "inq_new");
    assert_eq!(created.meta.session_token, None, "a missing meta reads as null");
    let keys = inv.keys_for(Operation::Expire, &id("inq_old"));
    let expired = persona.expire_inquiry(&mut inv, &id("inq_old"), keys).await.unwrap();
    assert_eq!(expired.data.status(), &InquiryStatus::Expired);
}

async fn one_failing_call(template: ResponseTemplate) -> (UpstreamError, usize) {
    let server = MockServer::start().await;
    Mock::given(method("GET")).respond_with(template).mount(&server).await;
    let persona = client(&server.uri(), &[]);
    let error = persona.get_inquiry(&mut invocation(Duration::from_secs(5)), &id("inq_1")).await.unwrap_err();
    (error, received(&server).await.len())
}

#[tokio::test]
async fn client_errors_are_not_retried() {
    for status in [400, 404, 409, 422] {
        let (error, calls) = one_failing_call(errors(status)).await;
        assert!(
            matches!(&error, UpstreamError::Rejected { status: s, request_id: Some(r), .. } if *s == status && *r == format!("req_{status}")),
            "{error:?}"
        );
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
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap();
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
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    persona
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
    let persona = client(&server.uri(), &[]);
    let started = std::time::Instant::now();
    let error = persona.get_inquiry(&mut invocation(Duration::from_millis(800)), &id("inq_1")).await.unwrap_err();
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
    let persona = client(&server.uri(), &[]);
    let error = persona
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
    let persona = client(&format!("http://127.0.0.1:{port}"), &[]);
    let mut inv = invocation(Duration::from_secs(3));
    let error = persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { .. }), "{error:?}");
    assert_eq!(inv.calls.len(), 4);
}

fn id(raw: &str) -> InquiryId {
    InquiryId::parse(raw).expect("a valid inquiry id")
}

fn create_body() -> CreateInquiry {
    CreateInquiry::new(
        CreateInquiryAttributes {
            inquiry_template_id: "itmpl_Test1".into(),
            reference_id: Some("u1".into()),
            account_id: None,
            redirect_uri: None,
            tags: Vec::new(),
        },
        None,
    )
}

fn sent_keys(requests: &[Request]) -> Vec<String> {
    requests.iter().map(|r| r.headers["idempotency-key"].to_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn stored_500s_from_an_incident_do_not_lock_the_user_out() {
    // An incident stored 500s under the first four keys of the sequence; Persona replays them for 24 h.
    let server = MockServer::start().await;
    let base = &format!("recreate:inq_old:{}", create_body().fingerprint());
    for key in [base.to_owned(), format!("{base}:2"), format!("{base}:3"), format!("{base}:4")] {
        Mock::given(method("POST"))
            .and(header("idempotency-key", key.as_str()))
            .respond_with(errors(500))
            .mount(&server)
            .await;
    }
    Mock::given(method("POST"))
        .and(header("idempotency-key", format!("{base}:5").as_str()))
        .respond_with(
            ResponseTemplate::new(201)
                .insert_header("Request-Id", "req_201")
                .set_body_json(json!({"data": inquiry("inq_new", "created", Some("u1"), "itmplv_2")})),
        )
        .expect(1)
        .mount(&server)
        .await;
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let started = std::time::Instant::now();
    let created = persona
        .create_inquiry(&mut inv, &create_body(), KeySequence::recreate(&id("inq_old"), &create_body()))
        .await
        .expect("the fifth key answers fresh");
    assert_eq!(created.data.id, "inq_new");
    let requests = received(&server).await;
    assert_eq!(
        sent_keys(&requests),
        [base.to_owned(), format!("{base}:2"), format!("{base}:3"), format!("{base}:4"), format!("{base}:5")]
    );
    assert_eq!(inv.calls.iter().filter(|c| c.status == Some(201)).count(), 1, "exactly one create");
    // Replays cost no waiting: the walk is as fast as the five requests.
    assert!(started.elapsed() < Duration::from_millis(500), "{:?}", started.elapsed());
}

#[tokio::test]
async fn a_walk_over_stored_500s_is_bounded_by_the_invocation_budget() {
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(errors(500)).mount(&server).await;
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let error = persona
        .create_inquiry(&mut inv, &create_body(), KeySequence::recreate(&id("inq_old"), &create_body()))
        .await
        .unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { .. }), "{error:?}");
    assert_eq!(inv.calls.len(), fast_retry().max_requests_per_invocation);
    let keys = sent_keys(&received(&server).await);
    assert_eq!(keys.iter().collect::<std::collections::HashSet<_>>().len(), keys.len(), "every request a new key");
}

#[tokio::test]
async fn a_key_held_in_the_ledger_is_sent_alone_and_its_5xx_handed_back() {
    // The create ledger holds attempt 3: only that key goes out, and Persona's stored 500 comes back to the
    // service (which records it, so every later invocation sends key 4) instead of walking on here.
    let server = MockServer::start().await;
    Mock::given(method("POST")).respond_with(errors(500)).mount(&server).await;
    let persona = client(&server.uri(), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let keys = KeySequence::recreate(&id("inq_old"), &create_body()).held_at(3);
    let error = persona.create_inquiry(&mut inv, &create_body(), keys).await.unwrap_err();
    assert!(matches!(error, UpstreamError::Unavailable { .. }), "{error:?}");
    let base = format!("recreate:inq_old:{}", create_body().fingerprint());
    assert_eq!(sent_keys(&received(&server).await), [format!("{base}:3")]);
}

#[tokio::test]
async fn a_rate_limit_reset_is_clamped_before_it_becomes_retry_after() {
    let limited = errors(429).insert_header("RateLimit-Reset", "9999999").insert_header("RateLimit-Remaining", "0");
    let (error, calls) = one_failing_call(limited).await;
    assert_eq!(error, UpstreamError::RateLimited { retry_after_seconds: 3600, request_id: Some("req_429".into()) });
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn a_quota_403_is_a_persona_error_not_a_key_failure() {
    let quota = ResponseTemplate::new(403).insert_header("Request-Id", "req_403").set_body_json(json!({"errors": [
        {"title": "Quota exceeded", "details": "You have hit your create_verification quota limit of 300 requests."}
    ]}));
    let (error, calls) = one_failing_call(quota).await;
    let UpstreamError::Unavailable { detail, request_id } = &error else { panic!("{error:?}") };
    assert!(detail.contains("quota"), "{detail}");
    assert!(!detail.contains("create_verification"), "Persona's text is not copied: {detail}");
    assert_eq!(request_id.as_deref(), Some("req_403"));
    assert_eq!(calls, 1);
}

/// A valid inquiry document padded past the 1 MiB cap.
fn huge_document() -> String {
    let mut doc = inquiry_document(inquiry("inq_1", "pending", None, "v"), "v");
    doc["data"]["attributes"]["note"] = json!("x".repeat(2 << 20));
    doc.to_string()
}

#[tokio::test]
async fn an_answer_over_one_mib_is_malformed_not_buffered() {
    let big = ResponseTemplate::new(200).insert_header("Request-Id", "req_big").set_body_string(huge_document());
    let (error, calls) = one_failing_call(big).await;
    let UpstreamError::Malformed { detail, request_id } = &error else { panic!("{error:?}") };
    assert!(detail.contains("larger"), "{detail}");
    assert_eq!(request_id.as_deref(), Some("req_big"));
    assert_eq!(calls, 1);
}

#[tokio::test]
async fn a_chunked_answer_over_one_mib_is_cut_off_while_streaming() {
    // No Content-Length: the cap must hold while reading.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        use std::io::{Read, Write};
        let Ok((mut stream, _)) = listener.accept() else { return };
        let mut request = [0u8; 4096];
        let _ = stream.read(&mut request);
        let _ = stream
            .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n");
        for chunk in huge_document().as_bytes().chunks(64 * 1024) {
            if stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).is_err()
                || stream.write_all(chunk).is_err()
                || stream.write_all(b"\r\n").is_err()
            {
                return;
            }
        }
        let _ = stream.write_all(b"0\r\n\r\n");
    });
    let persona = client(&format!("http://127.0.0.1:{port}"), &[]);
    let mut inv = invocation(Duration::from_secs(5));
    let error = persona.get_inquiry(&mut inv, &id("inq_1")).await.unwrap_err();
    assert!(matches!(&error, UpstreamError::Malformed { detail, .. } if detail.contains("larger")), "{error:?}");
    assert_eq!(inv.calls.len(), 1);
}

#[tokio::test]
async fn the_secret_reread_after_a_401_is_bounded_by_the_time_left() {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    use persona_resume::ops::secrets::KeyStore;

    // Secrets Manager answers the cold-start read, then hangs.
    let secrets = MockServer::start().await;
    let secret = ResponseTemplate::new(200).insert_header("content-type", "application/x-amz-json-1.1").set_body_json(
        json!({"ARN": "arn:aws:secretsmanager:us-east-1:123456789012:secret:persona-abc", "Name": "persona",
               "SecretString": API_KEY, "VersionId": "v1"}),
    );
    Mock::given(method("POST")).respond_with(secret.clone()).up_to_n_times(1).mount(&secrets).await;
    Mock::given(method("POST")).respond_with(secret.set_delay(Duration::from_secs(20))).mount(&secrets).await;
    let sdk = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("test", "test", None, None, "test"))
        .endpoint_url(secrets.uri())
        .build();
    let keys = KeyStore::from_secrets_manager(aws_sdk_secretsmanager::Client::from_conf(sdk), "persona").await.unwrap();

    let persona = MockServer::start().await;
    let unauthorized = ResponseTemplate::new(401).set_body_json(json!({"errors": [{"title": "Unauthorized"}]}));
    Mock::given(method("GET")).respond_with(unauthorized).mount(&persona).await;
    let client = client_with_keys(&config(&persona.uri(), &[]), keys);
    let started = std::time::Instant::now();
    let error = client.get_inquiry(&mut invocation(Duration::from_millis(800)), &id("inq_1")).await.unwrap_err();
    assert_eq!(error, UpstreamError::Unauthorized { status: 401, request_id: None });
    assert!(started.elapsed() < Duration::from_millis(1500), "{:?}", started.elapsed());
    assert_eq!(received(&persona).await.len(), 1);
}
