//! An inquiry on an outdated template version is recreated exactly once; the template check that can't decide.

use serde_json::{json, Value};

use crate::assertions::{
    assert_fingerprinted_key, assert_link_answer, assert_ok, assert_problem, assert_session_answer,
};
use crate::fake_persona::{Endpoint as PersonaOp, Fault, FaultKind, NewTemplate};
use crate::rig::{
    http_api_event,
    Function::{self, IssueLink, ResumeSession},
    Rig,
};
use crate::world::World;

pub async fn outdated_inquiry_is_recreated_exactly_once(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    let latest = w.publish_version();

    let first = w.session(&functions, &old.id).await;
    assert_ok(&first, "recreated", "outdated");
    let new_id = first.str("inquiry_id").unwrap().to_owned();
    assert_ne!(new_id, old.id);
    assert_eq!(first.str("previous_inquiry_id"), Some(old.id.as_str()));
    assert_session_answer(&first, &new_id, true);
    let created = rig.fake.inquiry(&new_id).unwrap();
    assert_eq!(created.template_version_id.as_deref(), Some(latest.as_str()));
    assert_eq!(created.reference_id.as_deref(), Some(w.user.as_str()));

    // The other function, and the same one again: the same replacement, no second inquiry.
    let linked = w.link(&functions, &old.id).await;
    assert_ok(&linked, "recreated", "outdated");
    assert_link_answer(&linked, &new_id);
    let again = w.session(&functions, &old.id).await;
    assert_eq!(again.str("inquiry_id"), Some(new_id.as_str()));
    assert_eq!(w.inquiries().len(), 2, "exactly one new inquiry");

    // The replacement itself is current.
    assert_ok(&w.session(&functions, &new_id).await, "resumed", "current");

    // The create call carried the documented body and key.
    let create = rig
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(PersonaOp::Create) && r.status == Some(201))
        .unwrap();
    let key = create.idempotency_key.as_deref().unwrap_or_default();
    assert_fingerprinted_key(key, &format!("recreate:{}", old.id), 1);
    let body: Value = serde_json::from_str(create.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["data"]["attributes"]["inquiry-template-id"], json!(w.template.id));
    assert_eq!(body["data"]["attributes"]["reference-id"], json!(w.user));
    assert_eq!(body["meta"], json!({"auto-create-inquiry-session": true}));
    assert!(body["data"]["attributes"].get("fields").is_none(), "fields are never copied");
}

pub async fn recreate_without_reference_id_converges_by_key(rig: &Rig) {
    let functions = rig.deploy(&[("AUTH_MODE", "iam")]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed_for("expired", None);
    w.publish_version();
    let iam = |function: Function| http_api_event(function, Some(&old.id), None, None);

    let linked = functions.call(IssueLink, iam(IssueLink)).await;
    assert_ok(&linked, "recreated", "outdated");
    let new_id = linked.str("inquiry_id").unwrap().to_owned();
    let resumed = functions.call(ResumeSession, iam(ResumeSession)).await;
    assert_ok(&resumed, "recreated", "outdated");
    assert_eq!(resumed.str("inquiry_id"), Some(new_id.as_str()), "both functions converge on one inquiry");
    assert!(resumed.str("session_token").is_some());
    assert_eq!(w.inquiries().len(), 2);

    // Another configuration (PERSONA_REDIRECT_URI changed), on the same stack: the ledger names the replacement,
    // so the outdated inquiry keeps exactly one — nothing is created for the new body (design.md, "The guard").
    let changed =
        rig.deploy(&[("AUTH_MODE", "iam"), ("PERSONA_REDIRECT_URI", "https://app.example.com/changed")]).await.unwrap();
    let relinked = changed.call(IssueLink, iam(IssueLink)).await;
    assert_ok(&relinked, "recreated", "outdated");
    assert_eq!(relinked.str("inquiry_id"), Some(new_id.as_str()), "one replacement, whatever the configuration");
    let again = changed.call(ResumeSession, iam(ResumeSession)).await;
    assert_eq!(again.str("inquiry_id"), Some(new_id.as_str()));
    let keys: Vec<String> = rig
        .fake
        .requests()
        .into_iter()
        .filter(|r| r.endpoint == Some(PersonaOp::Create) && r.status == Some(201) && !r.replayed)
        .filter_map(|r| r.idempotency_key)
        .collect();
    assert_eq!(keys.len(), 1, "one create in all: {keys:?}");
    assert_eq!(w.inquiries().len(), 2);
}

pub async fn superseded_inquiry_is_expired_when_asked(rig: &Rig) {
    let functions = rig.deploy(&[("EXPIRE_SUPERSEDED", "true")]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();
    assert_ok(&w.link(&functions, &old.id).await, "recreated", "outdated");
    assert_eq!(rig.fake.inquiry(&old.id).unwrap().status, "expired");

    // A failure to expire never fails the request.
    let other = w.seed("pending");
    let template_v3 = w.publish_version();
    rig.fake.add_fault(Fault::new(PersonaOp::Expire, FaultKind::Status { status: 500 }).times(10));
    let answer = w.session(&functions, &other.id).await;
    rig.fake.clear_faults();
    assert_ok(&answer, "recreated", "outdated");
    assert_eq!(rig.fake.inquiry(&other.id).unwrap().status, "pending");
    let created = rig.fake.inquiry(answer.str("inquiry_id").unwrap()).unwrap();
    assert_eq!(created.template_version_id.as_deref(), Some(template_v3.as_str()));
}

pub async fn template_check_unavailable(rig: &Rig) {
    let resume = rig.deploy(&[]).await.unwrap();
    let reject = rig.deploy(&[("TEMPLATE_CHECK_UNAVAILABLE", "reject")]).await.unwrap();
    let w = World::new(rig);
    let inquiry = w.seed("pending");

    rig.fake.update_settings(|s| s.hide_templates = true);
    let resumed = w.session(&resume, &inquiry.id).await;
    let linked = w.link(&resume, &inquiry.id).await;
    let refused = w.session(&reject, &inquiry.id).await;
    rig.fake.update_settings(|s| s.hide_templates = false);
    assert_ok(&resumed, "resumed", "unavailable");
    assert_ok(&linked, "resumed", "unavailable");
    assert_problem(&refused, 409, "template_check_unavailable");
    assert_eq!(refused.str("inquiry_id"), Some(inquiry.id.as_str()));

    // Nothing published yet: also undecidable.
    let unpublished = rig.fake.create_template(NewTemplate { versions: Some(0), ..NewTemplate::default() }).unwrap();
    let draft = World::on(rig, unpublished, &w.user).seed("created");
    assert_ok(&w.link(&resume, &draft.id).await, "resumed", "unavailable");
}

/// design.md *Recreate* step 1: a replacement the user already finished (or that was redacted) decides — a 409
/// naming it, from both functions, and nothing is created, resumed or linked.
pub async fn finished_replacement_is_refused_on_the_old_id(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    for (status, redacted, code) in [
        ("completed", false, "inquiry_not_resumable"),
        ("approved", false, "inquiry_not_resumable"),
        ("pending", true, "inquiry_redacted"),
    ] {
        let w = World::new(rig);
        let old = w.seed("pending");
        w.publish_version();
        let replacement = w.seed_with(|seed| {
            seed.status = Some(status.to_owned());
            seed.reference_id = Some(w.user.clone());
            seed.redacted = redacted;
        });
        for answer in [w.link(&functions, &old.id).await, w.session(&functions, &old.id).await] {
            assert_problem(&answer, 409, code);
            assert_eq!(answer.str("inquiry_id"), Some(replacement.id.as_str()), "the refusal names the replacement");
            if !redacted {
                assert_eq!(answer.str("inquiry_status"), Some(status));
            }
        }
        assert_eq!(w.inquiries().len(), 2, "{status}: nothing created");
        let acted: Vec<_> = rig
            .fake
            .requests()
            .into_iter()
            .filter_map(|r| r.endpoint)
            .filter(|op| matches!(op, PersonaOp::Create | PersonaOp::Resume | PersonaOp::Link))
            .collect();
        assert!(acted.is_empty(), "{status}: nothing created, resumed or linked: {acted:?}");
    }
}

/// design.md *Idempotency keys*: the body fingerprint in the create key. A create refused under a wrong
/// `PERSONA_REDIRECT_URI` (the 4xx is stored under its key) does not block the fixed configuration: a fresh key,
/// exactly one new inquiry, and both functions converge on it.
pub async fn a_changed_redirect_uri_starts_a_fresh_key(rig: &Rig) {
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();
    let wrong = rig.deploy(&[("PERSONA_REDIRECT_URI", "https://app.example.com/wrong")]).await.unwrap();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::Status { status: 422 }));
    assert_problem(&w.session(&wrong, &old.id).await, 502, "persona_error");
    assert_eq!(w.inquiries().len(), 1);

    let fixed = rig.deploy(&[("PERSONA_REDIRECT_URI", "https://app.example.com/fixed")]).await.unwrap();
    let answer = w.session(&fixed, &old.id).await;
    assert_ok(&answer, "recreated", "outdated");
    let linked = w.link(&fixed, &old.id).await;
    assert_ok(&linked, "recreated", "outdated");
    assert_eq!(linked.str("inquiry_id"), answer.str("inquiry_id"), "both functions converge");
    assert_eq!(w.inquiries().len(), 2, "exactly one new inquiry");
    let keys: Vec<String> = w.creates_for(&w.user).into_iter().filter_map(|(_, key, _)| key).collect();
    let prefix = format!("recreate:{}:", old.id);
    assert!(keys.iter().all(|k| k.starts_with(&prefix)), "{keys:?}");
    assert_ne!(keys.first(), keys.last(), "another body, another key: {keys:?}");
}
