//! The hostile requests of `integration_tests::hostile`, on the in-process rig.

use integration_tests::assertions::{assert_problem, without_inquiry_id};
use integration_tests::fake_persona::Endpoint as Op;
use integration_tests::hostile::{cases, run, targets, USER};
use integration_tests::rig::{
    http_api_event, rest_api_event, Answer,
    Function::{IssueLink, ResumeSession},
    Rig, Upstream,
};
use integration_tests::world::World;
use serde_json::json;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_requests_in_process() {
    let rig = Rig::in_process();
    let targets = targets(&rig);
    let functions = rig.deploy(&[]).await.unwrap();
    let count = run(&rig, &functions, cases(&targets)).await;
    eprintln!("{count} hostile requests, none answered 5xx");
    rig.finish("hostile_requests_in_process", Upstream::Contract).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_users_inquiry_is_indistinguishable_from_a_missing_one() {
    let rig = Rig::in_process();
    let targets = targets(&rig);
    let functions = rig.deploy(&[]).await.unwrap();
    let before = rig.fake.requests().len();
    for function in [IssueLink, ResumeSession] {
        let theirs = Some(targets.theirs.id.as_str());
        let stranger = functions.call(function, http_api_event(function, theirs, Some(USER), None)).await;
        let missing =
            functions.call(function, http_api_event(function, Some("inq_NoSuchInquiry42"), Some(USER), None)).await;
        let rest = functions.call(function, rest_api_event(function, theirs, Some(json!(USER)), None)).await;
        for answer in [&stranger, &missing, &rest] {
            assert_problem(answer, 404, "inquiry_not_found");
        }
        let without_id = |answer: &Answer| (without_inquiry_id(answer), answer.headers.clone());
        assert_eq!(without_id(&stranger), without_id(&missing), "the same body and headers");
        assert_eq!(without_id(&stranger), without_id(&rest));
        assert_eq!(stranger.str("inquiry_id"), theirs, "only the id the caller sent is echoed");
    }
    // Only GETs were made for the other user's inquiry: nothing was handed out.
    let ops: Vec<Option<Op>> = rig.fake.requests()[before..].iter().map(|r| r.endpoint).collect();
    assert!(ops.iter().all(|op| *op == Some(Op::Get)), "{ops:?}");
    rig.finish("another_users_inquiry_is_indistinguishable_from_a_missing_one", Upstream::Contract).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unicode_owners_are_owners() {
    let rig = Rig::in_process();
    let owner = "用户-Zoë-✓ /?#%";
    let w = World::with_user(&rig, owner);
    let inquiry = w.seed("pending");
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();
    let answer =
        functions.call(ResumeSession, http_api_event(ResumeSession, Some(&inquiry.id), Some(owner), None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let answer =
        functions.call(IssueLink, rest_api_event(IssueLink, Some(&inquiry.id), Some(json!(owner)), None)).await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    // `/me` with a unicode owner: the list filter and the create key are encoded, one inquiry results.
    let newcomer = "новый-пользователь ✓&filter[status]=approved";
    for function in [ResumeSession, IssueLink, ResumeSession] {
        let answer = functions.call(function, http_api_event(function, None, Some(newcomer), None)).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
    }
    assert_eq!(w.inquiries_of(newcomer).len(), 1);
    rig.finish("unicode_owners_are_owners", Upstream::Contract).await;
}
