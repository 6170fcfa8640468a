//! Refusals: finished and redacted inquiries, other users' inquiries, and requests that break a rule (which never
//! reach Persona).

use serde_json::{json, Value};

use crate::assertions::{assert_ok, assert_problem, without_inquiry_id};
use crate::fake_persona::Endpoint as PersonaOp;
use crate::rig::{
    http_api_event, rest_api_event,
    Function::{self, IssueLink, ResumeSession},
    Rig,
};
use crate::world::{session, World};

pub async fn finished_and_redacted_inquiries_are_refused(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    for status in ["completed", "approved", "declined", "failed", "needs_review", "archived-in-the-future"] {
        let inquiry = w.seed(status);
        for answer in [w.link(&functions, &inquiry.id).await, w.session(&functions, &inquiry.id).await] {
            assert_problem(&answer, 409, "inquiry_not_resumable");
            assert_eq!(answer.str("inquiry_status"), Some(status));
            assert_eq!(answer.str("inquiry_id"), Some(inquiry.id.as_str()));
        }
        assert_eq!(w.calls_for(&inquiry.id).len(), 2, "only the two GETs: nothing is resumed");
    }
    let redacted = w.seed_with(|seed| {
        seed.status = Some("pending".into());
        seed.reference_id = Some(w.user.clone());
        seed.redacted = true;
    });
    assert_problem(&w.link(&functions, &redacted.id).await, 409, "inquiry_redacted");
    assert_problem(&w.session(&functions, &redacted.id).await, 409, "inquiry_redacted");
}

pub async fn only_the_owner_gets_access(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let inquiry = w.seed("pending");
    let nobodys = w.seed_for("pending", None);

    let stranger = session(&functions, &inquiry.id, "someone-else").await;
    assert_problem(&stranger, 404, "inquiry_not_found");
    let missing = session(&functions, "inq_NoSuchInquiry0001", "someone-else").await;
    assert_problem(&missing, 404, "inquiry_not_found");
    assert_eq!(without_inquiry_id(&stranger), without_inquiry_id(&missing), "indistinguishable");
    assert_problem(&w.link(&functions, &nobodys.id).await, 404, "inquiry_not_found");

    // No claims at all in JWT mode.
    let anonymous = functions.call(IssueLink, http_api_event(IssueLink, Some(&inquiry.id), None, None)).await;
    assert_problem(&anonymous, 401, "unauthenticated");
    // A numeric claim (REST API) is compared as its decimal string.
    let numeric_owner = w.seed_for("pending", Some("4242"));
    let numeric = functions
        .call(ResumeSession, rest_api_event(ResumeSession, Some(&numeric_owner.id), Some(json!(4242)), None))
        .await;
    assert_ok(&numeric, "resumed", "current");
    // Nothing handed out to the stranger.
    assert!(w.calls_for(&inquiry.id).iter().all(|(op, _)| *op == PersonaOp::Get));
}

pub async fn bad_requests_never_reach_persona(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    rig.fake.clear_requests();
    let user = "user-bad-requests";
    let with_body =
        |function: Function, id: &str, body: &str| http_api_event(function, Some(id), Some(user), Some(body));
    let with_id = |id: &str| http_api_event(IssueLink, Some(id), Some(user), None);
    let long_id = format!("inq_{}", "a".repeat(65));
    let cases: Vec<(Function, Value, u16, &str)> = vec![
        (IssueLink, with_id("inquiry-1"), 400, "invalid_inquiry_id"),
        (IssueLink, with_id("inq_a/../b"), 400, "invalid_inquiry_id"),
        (IssueLink, with_id("inq_abc%2Fx"), 400, "invalid_inquiry_id"),
        (IssueLink, with_id(&long_id), 400, "invalid_inquiry_id"),
        (IssueLink, with_id("inq_ünïcode"), 400, "invalid_inquiry_id"),
        (IssueLink, with_body(IssueLink, "inq_abc", "{"), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", "null"), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", "\"x\""), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", r#"{"expires_in_seconds": "3600"}"#), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", r#"{"expires_in_seconds": true}"#), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", r#"{"expires_in_seconds": 604801}"#), 400, "invalid_body"),
        (IssueLink, with_body(IssueLink, "inq_abc", r#"{"expires_in_seconds": 1e3}"#), 400, "invalid_body"),
        (ResumeSession, with_body(ResumeSession, "inq_abc", r#"{"a": 1}"#), 400, "invalid_body"),
        (ResumeSession, with_body(ResumeSession, "inq_abc", &" ".repeat(9000)), 413, "body_too_large"),
    ];
    for (function, event, status, code) in cases {
        let answer = functions.call(function, event.clone()).await;
        assert_problem(&answer, status, code);
        assert!(answer.body.get("inquiry_id").is_none() || code != "invalid_inquiry_id");
    }
    let mut wrong_type = with_body(IssueLink, "inq_abc", r#"{"expires_in_seconds": 60}"#);
    wrong_type["headers"]["content-type"] = json!("text/plain");
    assert_problem(&functions.call(IssueLink, wrong_type).await, 415, "unsupported_media_type");
    let mut get = http_api_event(ResumeSession, Some("inq_abc"), Some(user), None);
    get["requestContext"]["http"]["method"] = json!("GET");
    let answer = functions.call(ResumeSession, get).await;
    assert_problem(&answer, 405, "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(rig.fake.requests().is_empty(), "nothing reached Persona: {:?}", rig.fake.requests());
}
