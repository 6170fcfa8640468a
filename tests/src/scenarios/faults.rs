//! Persona's bad days, as any rig can stage them (the release-binaries-only ones, which read the invocation's log
//! line and set their own deadlines, are in `tests/tests/binaries/faults.rs`).

use crate::assertions::{assert_ok, assert_problem};
use crate::fake_persona::{Endpoint as PersonaOp, Fault, FaultKind, DEFAULT_API_KEY};
use crate::rig::Rig;
use crate::world::{link, World};

pub async fn persona_faults_end_in_documented_answers(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);

    // A burst of 5xx on create, then success: still exactly one new inquiry.
    let old = w.seed("pending");
    w.publish_version();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::Status { status: 503 }).times(2));
    let answer = w.session(&functions, &old.id).await;
    assert_ok(&answer, "recreated", "outdated");
    // The create answer is lost after Persona committed it: the retry (same key) finds the same inquiry.
    let lost_user = format!("{}-lost", w.user);
    let lost = w.seed_for("pending", Some(&lost_user));
    w.publish_version();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::DropAfterCommit));
    let answer = link(&functions, &lost.id, &lost_user).await;
    assert_ok(&answer, "recreated", "outdated");
    assert_eq!(w.creates_for(&lost_user).len(), 2, "one lost answer, one replay");
    let for_lost = w.inquiries().into_iter().filter(|i| i.reference_id.as_deref() == Some(lost_user.as_str())).count();
    assert_eq!(for_lost, 2, "the old one and exactly one new one");

    // Garbage from Persona: 502, never a panic.
    let current = w.seed("pending");
    // (Through Prism a malformed answer arrives as Prism's own 5xx, which is retried: fault every attempt.)
    rig.fake.add_fault(Fault::new(PersonaOp::Get, FaultKind::Malformed { body: None }).times(10));
    let answer = w.session(&functions, &current.id).await;
    rig.fake.clear_faults();
    assert_problem(&answer, 502, "persona_error");

    // Persona keeps failing: 502 after a bounded number of attempts.
    rig.fake.add_fault(Fault::new(PersonaOp::Resume, FaultKind::Status { status: 500 }).times(20));
    let answer = w.session(&functions, &current.id).await;
    rig.fake.clear_faults();
    assert_problem(&answer, 502, "persona_error");
    let resumes = w.calls_for(&current.id).iter().filter(|(op, _)| *op == PersonaOp::Resume).count();
    assert!((2..=4).contains(&resumes), "{resumes} resume attempts");

    // Our key refused: 502 persona_auth_failed, the key never echoed.
    rig.fake.set_api_keys(["persona_sandbox_some_other_key"]);
    let answer = w.session(&functions, &current.id).await;
    rig.fake.set_api_keys([DEFAULT_API_KEY]);
    assert_problem(&answer, 502, "persona_auth_failed");
    assert!(!answer.body.to_string().contains(DEFAULT_API_KEY));
}

/// design.md *Idempotency keys*, no lock-out: four 500s stored under the first create keys during an incident.
/// Whatever the invocation during it answered (it may walk on past them itself), the next invocation after it
/// succeeds — past the replays — and both functions converge on exactly one new inquiry.
pub async fn stored_5xx_on_create_never_lock_a_user_out(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();
    rig.fake.add_fault(Fault::new(PersonaOp::Create, FaultKind::Status { status: 500 }).times(4));
    let during = w.session(&functions, &old.id).await;
    rig.fake.clear_faults();
    if during.status != 200 {
        assert_problem(&during, 502, "persona_error");
    }
    let stored_500s =
        w.creates_for(&w.user).iter().filter(|(status, _, replayed)| *status == Some(500) && !replayed).count();
    assert_eq!(stored_500s, 4, "the incident stored four 500s");

    let after = w.link(&functions, &old.id).await;
    assert_ok(&after, "recreated", "outdated");
    let again = w.session(&functions, &old.id).await;
    assert_ok(&again, "recreated", "outdated");
    assert_eq!(again.str("inquiry_id"), after.str("inquiry_id"), "both functions converge");
    if during.status == 200 {
        assert_eq!(during.str("inquiry_id"), after.str("inquiry_id"));
    }
    assert_eq!(w.inquiries().len(), 2, "exactly one new inquiry");
    let creates = w.creates_for(&w.user);
    assert_eq!(
        creates.iter().filter(|(status, _, replayed)| *status == Some(201) && !replayed).count(),
        1,
        "{creates:?}"
    );
}
