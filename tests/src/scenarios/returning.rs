//! Returning users without an inquiry id (`/me/…`): found, created once, recreated, refused.

use crate::assertions::{assert_fingerprinted_key, assert_ok, assert_problem};
use crate::fake_persona::Endpoint as PersonaOp;
use crate::rig::{
    Function::{IssueLink, ResumeSession},
    Rig,
};
use crate::world::{me, new_user, World};

pub async fn returning_users_without_an_inquiry_id(rig: &Rig) {
    let w = World::new(rig);
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();

    // No inquiry yet: one is created; two concurrent first calls still create one.
    let user = &w.user;
    let (a, b) = tokio::join!(me(&functions, ResumeSession, user), me(&functions, IssueLink, user));
    // Whichever looks second may already find the first one's inquiry: created or resumed, never two.
    for answer in [&a, &b] {
        let outcome = answer.str("outcome").unwrap_or_default();
        assert_ok(answer, if outcome == "resumed" { "resumed" } else { "created" }, "current");
    }
    assert!([&a, &b].iter().any(|answer| answer.str("outcome") == Some("created")));
    assert_eq!(a.str("inquiry_id"), b.str("inquiry_id"));
    assert!(a.str("session_token").is_some());
    let mine = w.inquiries().into_iter().filter(|i| i.reference_id.as_deref() == Some(user.as_str())).count();
    assert_eq!(mine, 1, "one inquiry for the user, not two");
    let create = rig
        .fake
        .requests()
        .into_iter()
        .find(|r| r.endpoint == Some(PersonaOp::Create) && r.body.as_deref().is_some_and(|b| b.contains(user.as_str())))
        .unwrap();
    let key = create.idempotency_key.unwrap_or_default();
    assert_fingerprinted_key(&key, &format!("create:{}", w.template.id), 2);
    assert!(!key.contains(user.as_str()), "no user id in a header: {key}");
    let body: serde_json::Value = serde_json::from_str(create.body.as_deref().unwrap()).unwrap();
    assert_eq!(body["data"]["attributes"]["reference-id"], serde_json::json!(user));
    assert_eq!(body["meta"]["auto-create-account-reference-id"], serde_json::json!(user), "the user's account");

    // Next time: their inquiry is resumed.
    let again = me(&functions, IssueLink, user).await;
    assert_ok(&again, "resumed", "current");
    assert_eq!(again.str("inquiry_id"), a.str("inquiry_id"));

    // Outdated: recreated.
    w.publish_version();
    let recreated = me(&functions, ResumeSession, user).await;
    assert_ok(&recreated, "recreated", "outdated");
    assert_eq!(recreated.str("previous_inquiry_id"), a.str("inquiry_id"));

    // A verified user is not re-verified by accident.
    let verified = new_user("user");
    w.seed_for("approved", Some(&verified));
    let answer = me(&functions, IssueLink, &verified).await;
    assert_problem(&answer, 409, "inquiry_not_resumable");

    // IAM mode has no user; without a template id the routes don't exist.
    let iam = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id), ("AUTH_MODE", "iam")]).await.unwrap();
    assert_problem(&me(&iam, IssueLink, user).await, 401, "unauthenticated");
    let unconfigured = rig.deploy(&[]).await.unwrap();
    assert_problem(&me(&unconfigured, ResumeSession, user).await, 404, "inquiry_not_found");
}
