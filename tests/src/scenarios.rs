//! Behaviour scenarios, written once against the contract of design.md and run on both rigs: in-process (fast,
//! `tests/tests/scenarios.rs`) and the release binaries behind the Runtime API, moto and Prism (`tests/tests/e2e.rs`).
//! Each scenario plants its own template and inquiries, so they share one fake.

use persona_resume::Function::{self, IssueLink, ResumeSession};
use serde_json::{json, Value};

use crate::fake_persona::{Endpoint as PersonaOp, Fault, FaultKind, Inquiry, NewTemplate, SeedInquiry, Template};
use crate::rig::{http_api_event, rest_api_event, Answer, Rig};

pub type ScenarioFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + 'a>>;
pub type Scenario = for<'a> fn(&'a Rig) -> ScenarioFuture<'a>;

/// The scenarios that inject faults on purpose (some of their upstream answers are outside Persona's contract).
pub const FAULT_SCENARIOS: [&str; 2] =
    ["superseded_inquiry_is_expired_when_asked", "persona_faults_end_in_documented_answers"];

/// Every scenario, by name.
pub fn all() -> Vec<(&'static str, Scenario)> {
    vec![
        ("pending_current_inquiry_is_resumed", |rig| Box::pin(pending_current_inquiry_is_resumed(rig))),
        ("created_inquiry", |rig| Box::pin(created_inquiry(rig))),
        ("expired_inquiry_is_resumed_then_linked", |rig| Box::pin(expired_inquiry_is_resumed_then_linked(rig))),
        ("outdated_inquiry_is_recreated_exactly_once", |rig| Box::pin(outdated_inquiry_is_recreated_exactly_once(rig))),
        ("recreate_without_reference_id_converges_by_key", |rig| {
            Box::pin(recreate_without_reference_id_converges_by_key(rig))
        }),
        ("superseded_inquiry_is_expired_when_asked", |rig| Box::pin(superseded_inquiry_is_expired_when_asked(rig))),
        ("template_check_unavailable", |rig| Box::pin(template_check_unavailable(rig))),
        ("finished_and_redacted_inquiries_are_refused", |rig| {
            Box::pin(finished_and_redacted_inquiries_are_refused(rig))
        }),
        ("only_the_owner_gets_access", |rig| Box::pin(only_the_owner_gets_access(rig))),
        ("bad_requests_never_reach_persona", |rig| Box::pin(bad_requests_never_reach_persona(rig))),
        ("returning_users_without_an_inquiry_id", |rig| Box::pin(returning_users_without_an_inquiry_id(rig))),
        ("persona_faults_end_in_documented_answers", |rig| Box::pin(persona_faults_end_in_documented_answers(rig))),
    ]
}

const LATEST_ONLY: u32 = 1;

/// A fresh template with one published version.
pub fn new_template(rig: &Rig) -> Template {
    rig.fake.create_template(NewTemplate { versions: Some(LATEST_ONLY), ..NewTemplate::default() }).unwrap()
}

/// Plants an inquiry pinned to the template's latest version.
pub fn seed(rig: &Rig, template: &Template, status: &str, owner: Option<&str>) -> Inquiry {
    rig.fake
        .seed_inquiry(SeedInquiry {
            template_id: template.id.clone(),
            status: Some(status.to_owned()),
            reference_id: owner.map(str::to_owned),
            ..SeedInquiry::default()
        })
        .unwrap()
}

fn owner() -> String {
    format!("user-{:08x}", fastrand::u32(..))
}

async fn link(rig_call: &crate::rig::Deployment, inquiry: &str, owner: &str) -> Answer {
    rig_call.call(IssueLink, http_api_event(IssueLink, Some(inquiry), Some(owner), None)).await
}

async fn session(rig_call: &crate::rig::Deployment, inquiry: &str, owner: &str) -> Answer {
    rig_call.call(ResumeSession, http_api_event(ResumeSession, Some(inquiry), Some(owner), None)).await
}

fn assert_ok(answer: &Answer, outcome: &str, template_check: &str) {
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/json"));
    assert_eq!(answer.header("cache-control"), Some("no-store"));
    assert_eq!(answer.str("outcome"), Some(outcome), "{}", answer.body);
    assert_eq!(answer.str("template_check"), Some(template_check), "{}", answer.body);
}

fn assert_problem(answer: &Answer, status: u16, code: &str) {
    assert_eq!(answer.status, status, "{}", answer.body);
    assert_eq!(answer.header("content-type"), Some("application/problem+json"));
    assert_eq!(answer.str("code"), Some(code), "{}", answer.body);
    assert_eq!(answer.str("type"), Some(format!("urn:persona-resume:problem:{code}").as_str()));
    assert_eq!(answer.body["status"], status);
}

fn assert_link_answer(answer: &Answer, inquiry_id: &str) {
    assert_eq!(answer.str("inquiry_id"), Some(inquiry_id));
    assert!(answer.str("one_time_link").is_some_and(|l| l.starts_with("http")), "{}", answer.body);
    let keys: Vec<&str> = answer.body.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        ["inquiry_id", "one_time_link", "one_time_link_short", "outcome", "previous_inquiry_id", "template_check"]
    );
}

fn assert_session_answer(answer: &Answer, inquiry_id: &str, with_token: bool) {
    assert_eq!(answer.str("inquiry_id"), Some(inquiry_id));
    let url = url::Url::parse(answer.str("hosted_flow_url").unwrap()).unwrap();
    let query: Vec<(String, String)> = url.query_pairs().into_owned().collect();
    assert!(query.contains(&("inquiry-id".into(), inquiry_id.into())), "{url}");
    match answer.str("session_token") {
        Some(token) => {
            assert!(with_token, "{}", answer.body);
            assert!(query.contains(&("session-token".into(), token.into())), "{url}");
        }
        None => {
            assert!(!with_token, "{}", answer.body);
            assert!(answer.body["session_token"].is_null());
            assert!(!query.iter().any(|(k, _)| k == "session-token"), "{url}");
        }
    }
}

/// Persona calls the fake saw for one inquiry, as `(operation, status)`.
fn calls_for(rig: &Rig, inquiry_id: &str) -> Vec<(PersonaOp, Option<u16>)> {
    rig.fake
        .requests()
        .into_iter()
        .filter(|r| r.path.contains(inquiry_id))
        .filter_map(|r| Some((r.endpoint?, r.status)))
        .collect()
}

fn inquiries_of(rig: &Rig, template: &Template) -> Vec<Inquiry> {
    rig.fake.inquiries().into_iter().filter(|i| i.template_id.as_deref() == Some(template.id.as_str())).collect()
}

async fn pending_current_inquiry_is_resumed(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let inquiry = seed(rig, &template, "pending", Some(&user));

    let answer = link(&functions, &inquiry.id, &user).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    assert!(answer.body["previous_inquiry_id"].is_null());
    let again = link(&functions, &inquiry.id, &user).await;
    assert_ne!(again.str("one_time_link"), answer.str("one_time_link"), "a link is never replayed");

    let answer = session(&functions, &inquiry.id, &user).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &inquiry.id, true);

    // With an expiry in the body, and through a REST API (payload 1.0) event.
    let event = rest_api_event(IssueLink, Some(&inquiry.id), Some(json!(user)), Some(r#"{"expires_in_seconds": 600}"#));
    assert_ok(&functions.call(IssueLink, event).await, "resumed", "current");
    let link_bodies: Vec<Option<String>> = rig
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(PersonaOp::Link) && r.path.contains(&inquiry.id))
        .map(|r| r.body)
        .collect();
    assert_eq!(link_bodies.len(), 3);
    assert_eq!(link_bodies[0], None, "no expiry asked: no body");
    let with_expiry: Value = serde_json::from_str(link_bodies[2].as_deref().unwrap()).unwrap();
    assert_eq!(with_expiry, json!({"meta": {"expires-in-seconds": 600}}));
}

async fn created_inquiry(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let inquiry = seed(rig, &template, "created", Some(&user));
    let answer = link(&functions, &inquiry.id, &user).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    assert_session_answer(&session(&functions, &inquiry.id, &user).await, &inquiry.id, true);

    // When Persona refuses to resume a created inquiry, it loads without a token.
    let other = seed(rig, &template, "created", Some(&user));
    rig.fake.update_settings(|s| s.resume_created_conflict = true);
    let answer = session(&functions, &other.id, &user).await;
    rig.fake.update_settings(|s| s.resume_created_conflict = false);
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &other.id, false);
}

async fn expired_inquiry_is_resumed_then_linked(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let inquiry = seed(rig, &template, "expired", Some(&user));
    let answer = link(&functions, &inquiry.id, &user).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    let calls = calls_for(rig, &inquiry.id);
    assert_eq!(
        calls,
        vec![(PersonaOp::Get, Some(200)), (PersonaOp::Resume, Some(200)), (PersonaOp::Link, Some(200))],
        "Persona refuses links for expired inquiries: resume first"
    );
    assert_eq!(rig.fake.inquiry(&inquiry.id).unwrap().status, "pending");

    let expired_again = seed(rig, &template, "expired", Some(&user));
    let answer = session(&functions, &expired_again.id, &user).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &expired_again.id, true);
}

async fn outdated_inquiry_is_recreated_exactly_once(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let old = seed(rig, &template, "pending", Some(&user));
    let latest = rig.fake.publish_version(&template.id).unwrap();

    let first = session(&functions, &old.id, &user).await;
    assert_ok(&first, "recreated", "outdated");
    let new_id = first.str("inquiry_id").unwrap().to_owned();
    assert_ne!(new_id, old.id);
    assert_eq!(first.str("previous_inquiry_id"), Some(old.id.as_str()));
    assert_session_answer(&first, &new_id, true);
    let created = rig.fake.inquiry(&new_id).unwrap();
    assert_eq!(created.template_version_id.as_deref(), Some(latest.as_str()));
    assert_eq!(created.reference_id.as_deref(), Some(user.as_str()));

    // The other function, and the same one again: the same replacement, no second inquiry.
    let linked = link(&functions, &old.id, &user).await;
    assert_ok(&linked, "recreated", "outdated");
    assert_link_answer(&linked, &new_id);
    let again = session(&functions, &old.id, &user).await;
    assert_eq!(again.str("inquiry_id"), Some(new_id.as_str()));
    assert_eq!(inquiries_of(rig, &template).len(), 2, "exactly one new inquiry");

    // The replacement itself is current.
    assert_ok(&session(&functions, &new_id, &user).await, "resumed", "current");

    // The create call carried the documented body and key.
    let create = rig
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(PersonaOp::Create) && r.status == Some(201))
        .unwrap();
    assert_eq!(create.idempotency_key.as_deref(), Some(format!("recreate:{}:{latest}", old.id).as_str()));
    let body: Value = serde_json::from_str(create.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["data"]["attributes"]["inquiry-template-id"], json!(template.id));
    assert_eq!(body["data"]["attributes"]["reference-id"], json!(user));
    assert_eq!(body["meta"], json!({"auto-create-inquiry-session": true}));
    assert!(body["data"]["attributes"].get("fields").is_none(), "fields are never copied");
}

async fn recreate_without_reference_id_converges_by_key(rig: &Rig) {
    let functions = rig.deploy(&[("AUTH_MODE", "iam")]).await.unwrap();
    let template = new_template(rig);
    let old = seed(rig, &template, "expired", None);
    rig.fake.publish_version(&template.id).unwrap();
    let iam = |endpoint: Function| http_api_event(endpoint, Some(&old.id), None, None);

    let linked = functions.call(IssueLink, iam(IssueLink)).await;
    assert_ok(&linked, "recreated", "outdated");
    let new_id = linked.str("inquiry_id").unwrap().to_owned();
    let resumed = functions.call(ResumeSession, iam(ResumeSession)).await;
    assert_ok(&resumed, "recreated", "outdated");
    assert_eq!(resumed.str("inquiry_id"), Some(new_id.as_str()), "both functions converge on one inquiry");
    assert!(resumed.str("session_token").is_some());
    assert_eq!(inquiries_of(rig, &template).len(), 2);

    // The same key with another body (PERSONA_REDIRECT_URI changed while the key is live): Persona refuses it
    // (409), which is the operator's to fix, not the caller's, and never a second inquiry.
    let changed =
        rig.deploy(&[("AUTH_MODE", "iam"), ("PERSONA_REDIRECT_URI", "https://app.example.com/changed")]).await.unwrap();
    assert_problem(&changed.call(IssueLink, iam(IssueLink)).await, 502, "persona_error");
    assert_eq!(inquiries_of(rig, &template).len(), 2);
}

async fn superseded_inquiry_is_expired_when_asked(rig: &Rig) {
    let functions = rig.deploy(&[("EXPIRE_SUPERSEDED", "true")]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let old = seed(rig, &template, "pending", Some(&user));
    rig.fake.publish_version(&template.id).unwrap();
    assert_ok(&link(&functions, &old.id, &user).await, "recreated", "outdated");
    assert_eq!(rig.fake.inquiry(&old.id).unwrap().status, "expired");

    // A failure to expire never fails the request.
    let other = seed(rig, &template.clone(), "pending", Some(&user));
    let template_v3 = rig.fake.publish_version(&template.id).unwrap();
    rig.fake.add_fault(Fault::new(PersonaOp::Expire, FaultKind::Status { status: 500 }).times(10));
    let answer = session(&functions, &other.id, &user).await;
    rig.fake.clear_faults();
    assert_ok(&answer, "recreated", "outdated");
    assert_eq!(rig.fake.inquiry(&other.id).unwrap().status, "pending");
    let created = rig.fake.inquiry(answer.str("inquiry_id").unwrap()).unwrap();
    assert_eq!(created.template_version_id.as_deref(), Some(template_v3.as_str()));
}

async fn template_check_unavailable(rig: &Rig) {
    let resume = rig.deploy(&[]).await.unwrap();
    let reject = rig.deploy(&[("TEMPLATE_CHECK_UNAVAILABLE", "reject")]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let inquiry = seed(rig, &template, "pending", Some(&user));

    rig.fake.update_settings(|s| s.hide_templates = true);
    let resumed = session(&resume, &inquiry.id, &user).await;
    let linked = link(&resume, &inquiry.id, &user).await;
    let refused = session(&reject, &inquiry.id, &user).await;
    rig.fake.update_settings(|s| s.hide_templates = false);
    assert_ok(&resumed, "resumed", "unavailable");
    assert_ok(&linked, "resumed", "unavailable");
    assert_problem(&refused, 409, "template_check_unavailable");
    assert_eq!(refused.str("inquiry_id"), Some(inquiry.id.as_str()));

    // Nothing published yet: also undecidable.
    let unpublished = rig.fake.create_template(NewTemplate { versions: Some(0), ..NewTemplate::default() }).unwrap();
    let draft = seed(rig, &unpublished, "created", Some(&user));
    assert_ok(&link(&resume, &draft.id, &user).await, "resumed", "unavailable");
}

async fn finished_and_redacted_inquiries_are_refused(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    for status in ["completed", "approved", "declined", "failed", "needs_review", "archived-in-the-future"] {
        let inquiry = seed(rig, &template, status, Some(&user));
        for answer in [link(&functions, &inquiry.id, &user).await, session(&functions, &inquiry.id, &user).await] {
            assert_problem(&answer, 409, "inquiry_not_resumable");
            assert_eq!(answer.str("inquiry_status"), Some(status));
            assert_eq!(answer.str("inquiry_id"), Some(inquiry.id.as_str()));
        }
        assert_eq!(calls_for(rig, &inquiry.id).len(), 2, "only the two GETs: nothing is resumed");
    }
    let redacted = rig
        .fake
        .seed_inquiry(SeedInquiry {
            template_id: template.id.clone(),
            status: Some("pending".into()),
            reference_id: Some(user.clone()),
            redacted: true,
            ..SeedInquiry::default()
        })
        .unwrap();
    assert_problem(&link(&functions, &redacted.id, &user).await, 409, "inquiry_redacted");
    assert_problem(&session(&functions, &redacted.id, &user).await, 409, "inquiry_redacted");
}

async fn only_the_owner_gets_access(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();
    let inquiry = seed(rig, &template, "pending", Some(&user));
    let nobodys = seed(rig, &template, "pending", None);

    let stranger = session(&functions, &inquiry.id, "someone-else").await;
    assert_problem(&stranger, 404, "inquiry_not_found");
    let missing = session(&functions, "inq_NoSuchInquiry0001", "someone-else").await;
    assert_problem(&missing, 404, "inquiry_not_found");
    let without_id = |mut body: Value| {
        body.as_object_mut().unwrap().remove("inquiry_id");
        body
    };
    assert_eq!(without_id(stranger.body.clone()), without_id(missing.body.clone()), "indistinguishable");
    assert_problem(&link(&functions, &nobodys.id, &user).await, 404, "inquiry_not_found");

    // No claims at all in JWT mode.
    let anonymous = functions.call(IssueLink, http_api_event(IssueLink, Some(&inquiry.id), None, None)).await;
    assert_problem(&anonymous, 401, "unauthenticated");
    // A numeric claim (REST API) is compared as its decimal string.
    let numeric_owner = seed(rig, &template, "pending", Some("4242"));
    let numeric = functions
        .call(ResumeSession, rest_api_event(ResumeSession, Some(&numeric_owner.id), Some(json!(4242)), None))
        .await;
    assert_ok(&numeric, "resumed", "current");
    // Nothing handed out to the stranger.
    assert!(calls_for(rig, &inquiry.id).iter().all(|(op, _)| *op == PersonaOp::Get));
}

async fn bad_requests_never_reach_persona(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    rig.fake.clear_requests();
    let user = "user-bad-requests";
    let cases: Vec<(Function, Value, u16, &str)> = vec![
        (IssueLink, http_api_event(IssueLink, Some("inquiry-1"), Some(user), None), 400, "invalid_inquiry_id"),
        (IssueLink, http_api_event(IssueLink, Some("inq_a/../b"), Some(user), None), 400, "invalid_inquiry_id"),
        (IssueLink, http_api_event(IssueLink, Some("inq_abc%2Fx"), Some(user), None), 400, "invalid_inquiry_id"),
        (
            IssueLink,
            http_api_event(IssueLink, Some(&format!("inq_{}", "a".repeat(65))), Some(user), None),
            400,
            "invalid_inquiry_id",
        ),
        (IssueLink, http_api_event(IssueLink, Some("inq_ünïcode"), Some(user), None), 400, "invalid_inquiry_id"),
        (IssueLink, http_api_event(IssueLink, Some("inq_abc"), Some(user), Some("{")), 400, "invalid_body"),
        (IssueLink, http_api_event(IssueLink, Some("inq_abc"), Some(user), Some("null")), 400, "invalid_body"),
        (IssueLink, http_api_event(IssueLink, Some("inq_abc"), Some(user), Some("\"x\"")), 400, "invalid_body"),
        (
            IssueLink,
            http_api_event(IssueLink, Some("inq_abc"), Some(user), Some(r#"{"expires_in_seconds": "3600"}"#)),
            400,
            "invalid_body",
        ),
        (
            IssueLink,
            http_api_event(IssueLink, Some("inq_abc"), Some(user), Some(r#"{"expires_in_seconds": true}"#)),
            400,
            "invalid_body",
        ),
        (
            IssueLink,
            http_api_event(IssueLink, Some("inq_abc"), Some(user), Some(r#"{"expires_in_seconds": 604801}"#)),
            400,
            "invalid_body",
        ),
        (
            IssueLink,
            http_api_event(IssueLink, Some("inq_abc"), Some(user), Some(r#"{"expires_in_seconds": 1e3}"#)),
            400,
            "invalid_body",
        ),
        (
            ResumeSession,
            http_api_event(ResumeSession, Some("inq_abc"), Some(user), Some(r#"{"a": 1}"#)),
            400,
            "invalid_body",
        ),
        (
            ResumeSession,
            http_api_event(ResumeSession, Some("inq_abc"), Some(user), Some(&" ".repeat(9000))),
            413,
            "body_too_large",
        ),
    ];
    for (endpoint, event, status, code) in cases {
        let answer = functions.call(endpoint, event.clone()).await;
        assert_problem(&answer, status, code);
        assert!(answer.body.get("inquiry_id").is_none() || code != "invalid_inquiry_id");
    }
    let mut wrong_type = http_api_event(IssueLink, Some("inq_abc"), Some(user), Some(r#"{"expires_in_seconds": 60}"#));
    wrong_type["headers"]["content-type"] = json!("text/plain");
    assert_problem(&functions.call(IssueLink, wrong_type).await, 415, "unsupported_media_type");
    let mut get = http_api_event(ResumeSession, Some("inq_abc"), Some(user), None);
    get["requestContext"]["http"]["method"] = json!("GET");
    let answer = functions.call(ResumeSession, get).await;
    assert_problem(&answer, 405, "method_not_allowed");
    assert_eq!(answer.header("allow"), Some("POST"));
    assert!(rig.fake.requests().is_empty(), "nothing reached Persona: {:?}", rig.fake.requests());
}

async fn returning_users_without_an_inquiry_id(rig: &Rig) {
    let template = new_template(rig);
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &template.id)]).await.unwrap();
    let me = |endpoint: Function, user: &str| http_api_event(endpoint, None, Some(user), None);

    // No inquiry yet: one is created; two concurrent first calls still create one.
    let user = owner();
    let (a, b) = tokio::join!(
        functions.call(ResumeSession, me(ResumeSession, &user)),
        functions.call(IssueLink, me(IssueLink, &user))
    );
    // Whichever looks second may already find the first one's inquiry: created or resumed, never two.
    for answer in [&a, &b] {
        let outcome = answer.str("outcome").unwrap_or_default();
        assert_ok(answer, if outcome == "resumed" { "resumed" } else { "created" }, "current");
    }
    assert!([&a, &b].iter().any(|answer| answer.str("outcome") == Some("created")));
    assert_eq!(a.str("inquiry_id"), b.str("inquiry_id"));
    assert!(a.str("session_token").is_some());
    let mine: Vec<Inquiry> =
        inquiries_of(rig, &template).into_iter().filter(|i| i.reference_id.as_deref() == Some(user.as_str())).collect();
    assert_eq!(mine.len(), 1, "one inquiry for the user, not two");
    let create = rig
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(PersonaOp::Create) && r.body.as_deref().is_some_and(|b| b.contains(&user)))
        .unwrap();
    assert_eq!(create.idempotency_key.unwrap(), format!("create:{}:{user}", template.id));

    // Next time: their inquiry is resumed.
    let again = functions.call(IssueLink, me(IssueLink, &user)).await;
    assert_ok(&again, "resumed", "current");
    assert_eq!(again.str("inquiry_id"), a.str("inquiry_id"));

    // Outdated: recreated.
    rig.fake.publish_version(&template.id).unwrap();
    let recreated = functions.call(ResumeSession, me(ResumeSession, &user)).await;
    assert_ok(&recreated, "recreated", "outdated");
    assert_eq!(recreated.str("previous_inquiry_id"), a.str("inquiry_id"));

    // A verified user is not re-verified by accident.
    let verified = owner();
    seed(rig, &template, "approved", Some(&verified));
    let answer = functions.call(IssueLink, me(IssueLink, &verified)).await;
    assert_problem(&answer, 409, "inquiry_not_resumable");

    // IAM mode has no user; without a template id the routes don't exist.
    let iam = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &template.id), ("AUTH_MODE", "iam")]).await.unwrap();
    assert_problem(&iam.call(IssueLink, me(IssueLink, &user)).await, 401, "unauthenticated");
    let unconfigured = rig.deploy(&[]).await.unwrap();
    assert_problem(&unconfigured.call(ResumeSession, me(ResumeSession, &user)).await, 404, "inquiry_not_found");
}

async fn persona_faults_end_in_documented_answers(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let template = new_template(rig);
    let user = owner();

    // A burst of 5xx on create, then success: still exactly one new inquiry.
    let old = seed(rig, &template, "pending", Some(&user));
    rig.fake.publish_version(&template.id).unwrap();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::Status { status: 503 }).times(2));
    let answer = session(&functions, &old.id, &user).await;
    assert_ok(&answer, "recreated", "outdated");
    // The create answer is lost after Persona committed it: the retry (same key) finds the same inquiry.
    let lost = seed(rig, &template, "pending", Some(&format!("{user}-lost")));
    rig.fake.publish_version(&template.id).unwrap();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::DropAfterCommit));
    let answer = link(&functions, &lost.id, &format!("{user}-lost")).await;
    assert_ok(&answer, "recreated", "outdated");
    let creates = rig
        .fake
        .requests()
        .into_iter()
        .filter(|r| {
            r.endpoint == Some(PersonaOp::Create)
                && r.body.as_deref().is_some_and(|b| b.contains(&format!("{user}-lost")))
        })
        .count();
    assert_eq!(creates, 2, "one lost answer, one replay");
    let for_lost: Vec<Inquiry> = inquiries_of(rig, &template)
        .into_iter()
        .filter(|i| i.reference_id.as_deref() == Some(format!("{user}-lost").as_str()))
        .collect();
    assert_eq!(for_lost.len(), 2, "the old one and exactly one new one");

    // Garbage from Persona: 502, never a panic.
    let current = seed(rig, &template, "pending", Some(&user));
    // (Through Prism a malformed answer arrives as Prism's own 5xx, which is retried: fault every attempt.)
    rig.fake.add_fault(Fault::new(PersonaOp::Get, FaultKind::Malformed { body: None }).times(10));
    let answer = session(&functions, &current.id, &user).await;
    rig.fake.clear_faults();
    assert_problem(&answer, 502, "persona_error");

    // Persona keeps failing: 502 after a bounded number of attempts.
    rig.fake.add_fault(Fault::new(PersonaOp::Resume, FaultKind::Status { status: 500 }).times(20));
    let answer = session(&functions, &current.id, &user).await;
    rig.fake.clear_faults();
    assert_problem(&answer, 502, "persona_error");
    let resumes = calls_for(rig, &current.id).iter().filter(|(op, _)| *op == PersonaOp::Resume).count();
    assert!((2..=4).contains(&resumes), "{resumes} resume attempts");

    // Our key refused: 502 persona_auth_failed, the key never echoed.
    rig.fake.set_api_keys(["persona_sandbox_some_other_key"]);
    let answer = session(&functions, &current.id, &user).await;
    rig.fake.set_api_keys([crate::fake_persona::DEFAULT_API_KEY]);
    assert_problem(&answer, 502, "persona_auth_failed");
    assert!(!answer.body.to_string().contains(crate::fake_persona::DEFAULT_API_KEY));
}
