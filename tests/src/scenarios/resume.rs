//! A current inquiry is resumed: links, sessions, and the resume Persona needs first.

use serde_json::{json, Value};

use crate::assertions::{assert_link_answer, assert_ok, assert_session_answer};
use crate::fake_persona::Endpoint as PersonaOp;
use crate::rig::{rest_api_event, Function::IssueLink, Rig};
use crate::world::World;

pub async fn pending_current_inquiry_is_resumed(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let inquiry = w.seed("pending");

    let answer = w.link(&functions, &inquiry.id).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    assert!(answer.body["previous_inquiry_id"].is_null());
    let again = w.link(&functions, &inquiry.id).await;
    assert_ne!(again.str("one_time_link"), answer.str("one_time_link"), "a link is never replayed");

    let answer = w.session(&functions, &inquiry.id).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &inquiry.id, true);

    // With an expiry in the body, and through a REST API (payload 1.0) event.
    let event =
        rest_api_event(IssueLink, Some(&inquiry.id), Some(json!(w.user)), Some(r#"{"expires_in_seconds": 600}"#));
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

pub async fn created_inquiry(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let inquiry = w.seed("created");
    let answer = w.link(&functions, &inquiry.id).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    assert_session_answer(&w.session(&functions, &inquiry.id).await, &inquiry.id, true);

    // When Persona refuses to resume a created inquiry, it loads without a token.
    let other = w.seed("created");
    rig.fake.update_settings(|s| s.resume_created_conflict = true);
    let answer = w.session(&functions, &other.id).await;
    rig.fake.update_settings(|s| s.resume_created_conflict = false);
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &other.id, false);
}

pub async fn expired_inquiry_is_resumed_then_linked(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let inquiry = w.seed("expired");
    let answer = w.link(&functions, &inquiry.id).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &inquiry.id);
    let calls = w.calls_for(&inquiry.id);
    assert_eq!(
        calls,
        vec![(PersonaOp::Get, Some(200)), (PersonaOp::Resume, Some(200)), (PersonaOp::Link, Some(200))],
        "Persona refuses links for expired inquiries: resume first"
    );
    assert_eq!(rig.fake.inquiry(&inquiry.id).unwrap().status, "pending");

    let expired_again = w.seed("expired");
    let answer = w.session(&functions, &expired_again.id).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &expired_again.id, true);
}
