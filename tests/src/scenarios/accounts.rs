//! Users are Persona accounts (design.md *Who owns an inquiry*, *Returning users*, *Recreate*): an inquiry whose
//! own `reference-id` is null belongs to its account's reference id; `/me` finds such users through their
//! accounts; and no list item is used or named before it passed the ownership check, even when Persona's list
//! filters are lax.

use crate::assertions::{assert_link_answer, assert_ok, assert_problem, assert_session_answer, without_inquiry_id};
use crate::fake_persona::Endpoint as PersonaOp;
use crate::rig::{
    Function::{IssueLink, ResumeSession},
    Rig,
};
use crate::world::{me, new_user, session, World};

/// The operations that hand something out or change an inquiry.
fn acts(op: PersonaOp) -> bool {
    matches!(op, PersonaOp::Create | PersonaOp::Resume | PersonaOp::Link | PersonaOp::Expire)
}

pub async fn account_only_user_resumes_links_and_recreates(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let account = w.account_of(&w.user);
    let inquiry = w.seed_on_account("pending", &account);
    assert_eq!(inquiry.reference_id, None, "owned through the account only");

    let linked = w.link(&functions, &inquiry.id).await;
    assert_ok(&linked, "resumed", "current");
    assert_link_answer(&linked, &inquiry.id);
    let resumed = w.session(&functions, &inquiry.id).await;
    assert_ok(&resumed, "resumed", "current");
    assert_session_answer(&resumed, &inquiry.id, true);

    // Another user gets the 404 a missing inquiry gets, and nothing is done to the inquiry.
    let acted_before = w.calls_for(&inquiry.id).iter().filter(|(op, _)| acts(*op)).count();
    let stranger = session(&functions, &inquiry.id, "someone-else").await;
    let missing = session(&functions, "inq_NoSuchInquiry0001", "someone-else").await;
    assert_problem(&stranger, 404, "inquiry_not_found");
    assert_problem(&missing, 404, "inquiry_not_found");
    assert_eq!(without_inquiry_id(&stranger), without_inquiry_id(&missing), "indistinguishable");
    assert_eq!(w.calls_for(&inquiry.id).iter().filter(|(op, _)| acts(*op)).count(), acted_before);

    // Outdated: recreated on their account, once, whichever function asks.
    let latest = w.publish_version();
    let recreated = w.session(&functions, &inquiry.id).await;
    assert_ok(&recreated, "recreated", "outdated");
    let new_id = recreated.str("inquiry_id").unwrap().to_owned();
    let replacement = rig.fake.inquiry(&new_id).unwrap();
    assert_eq!(replacement.account_id.as_deref(), Some(account.as_str()), "the replacement stays on their account");
    assert_eq!(replacement.template_version_id.as_deref(), Some(latest.as_str()));
    let relinked = w.link(&functions, &inquiry.id).await;
    assert_ok(&relinked, "recreated", "outdated");
    assert_link_answer(&relinked, &new_id);
    assert_eq!(w.inquiries().len(), 2, "exactly one new inquiry");
    // And the replacement is theirs too.
    assert_ok(&w.session(&functions, &new_id).await, "resumed", "current");
    assert_problem(&session(&functions, &new_id, "someone-else").await, 404, "inquiry_not_found");
}

pub async fn me_finds_users_through_their_accounts(rig: &Rig) {
    let w = World::new(rig);
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();
    let creates = || rig.fake.requests().iter().filter(|r| r.endpoint == Some(PersonaOp::Create)).count();

    // An account-only user: their inquiry is resumed, nothing created.
    let theirs = w.seed_on_account("pending", &w.account_of(&w.user));
    let answer = me(&functions, ResumeSession, &w.user).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &theirs.id, true);
    assert_eq!(creates(), 0, "found, not created");

    // An account-only user who was approved: 409, nothing created.
    let verified = new_user("user");
    let approved = w.seed_on_account("approved", &w.account_of(&verified));
    let answer = me(&functions, IssueLink, &verified).await;
    assert_problem(&answer, 409, "inquiry_not_resumable");
    assert_eq!(answer.str("inquiry_id"), Some(approved.id.as_str()));
    assert_eq!(creates(), 0, "a verified user is not re-verified");

    // A new user is created once, and found again on the next call, by either function.
    let newcomer = new_user("user");
    let created = me(&functions, ResumeSession, &newcomer).await;
    assert_ok(&created, "created", "current");
    let found = me(&functions, IssueLink, &newcomer).await;
    assert_ok(&found, "resumed", "current");
    assert_eq!(found.str("inquiry_id"), created.str("inquiry_id"));
    let again = me(&functions, ResumeSession, &newcomer).await;
    assert_eq!(again.str("inquiry_id"), created.str("inquiry_id"));
    assert_eq!(creates(), 1, "one create for the new user");
}

pub async fn lax_filters_never_hand_out_another_users_inquiry(rig: &Rig) {
    rig.fake.set_lax_filters(true);
    let w = World::new(rig);
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();
    let old = w.seed("pending");
    let on_account = w.seed_on_account("pending", &w.account_of(&w.user));
    w.publish_version();
    // Someone else's newer inquiries on the latest version: first in every list the fake answers.
    let other = new_user("other");
    let others = [
        w.seed_for("pending", Some(&other)),
        w.seed_on_account("pending", &w.account_of(&other)),
        w.seed_for("created", Some(&other)),
    ];

    let mut answers = Vec::new();
    for inquiry in [&old, &on_account] {
        answers.push(w.session(&functions, &inquiry.id).await);
        answers.push(w.link(&functions, &inquiry.id).await);
    }
    answers.push(me(&functions, ResumeSession, &w.user).await);
    answers.push(me(&functions, IssueLink, &new_user("user")).await);
    for answer in &answers {
        assert_eq!(answer.status, 200, "{}", answer.body);
        let text = answer.body.to_string();
        for theirs in &others {
            assert!(!text.contains(&theirs.id), "another user's inquiry named: {text}");
        }
    }
    for theirs in &others {
        let acted: Vec<_> = w.calls_for(&theirs.id).into_iter().filter(|(op, _)| acts(*op)).collect();
        assert!(acted.is_empty(), "another user's inquiry was acted on: {acted:?}");
        assert_eq!(rig.fake.inquiry(&theirs.id).unwrap().status, theirs.status, "untouched");
    }
}
