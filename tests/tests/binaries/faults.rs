//! Persona's bad days, on the release binaries (`cargo build --release -p issue-link -p resume-session`) behind the
//! Lambda Runtime API, the key read from moto: 5xx bursts, rate limits short and long, answers slower than the
//! invocation's deadline, malformed bodies, connections dropped before and in the middle of an answer, and lost
//! create answers. Each ends in the documented answer, in bounded time, with the upstream attempts bounded and
//! counted in the invocation's log line (`upstream_calls`), the idempotency keys following design.md's rules, and
//! never a duplicate inquiry.

use std::time::Duration;

use integration_tests::assertions::{assert_fingerprinted_key, assert_logged, assert_problem, assert_success};
use integration_tests::fake_persona::{Endpoint as Op, Fault, FaultKind, Inquiry};
use integration_tests::probe::{invoke_with_deadline, CuttingProxy, Invoked};
use integration_tests::rig::{
    http_api_event, ApiVersion, Deployment,
    Function::{self, IssueLink, ResumeSession},
    Rig, Upstream, INVOCATION_DEADLINE,
};
use integration_tests::world::{new_user, Sent, World};

/// The retry policy's bounds (persona/retry.rs, README "Reliability").
const MAX_ATTEMPTS_PER_CALL: usize = 4;
const MAX_REQUESTS_PER_INVOCATION: u64 = 8;

/// One fault test: its world (the user is `fault-<name>-…`) and the functions, talking to the fake directly
/// (the faults are outside Persona's contract on purpose; Prism would answer its own 5xx for them).
struct Case<'r> {
    world: World<'r>,
    functions: Deployment,
}

impl Case<'_> {
    fn seed(&self, status: &str) -> Inquiry {
        self.world.seed(status)
    }

    /// The fake's record of one operation on one inquiry: (status, idempotency key, replayed).
    fn requests(&self, op: Op, inquiry_id: &str) -> Vec<Sent> {
        self.world.sent(op, inquiry_id)
    }

    fn creates_for_user(&self) -> Vec<Sent> {
        self.world.creates_for(&self.world.user)
    }

    /// The key of the user's first create request, checked to be `prefix:<body fingerprint>` (design.md
    /// *Idempotency keys*): the start of the sequence every invocation walks.
    fn first_create_key(&self, prefix: &str) -> String {
        let key = self.creates_for_user().into_iter().find_map(|(_, key, _)| key).expect("a create request");
        assert_fingerprinted_key(&key, prefix, 1);
        key
    }

    fn inquiries_of_user(&self) -> usize {
        self.world.inquiries_of(&self.world.user).len()
    }

    async fn call(&self, function: Function, inquiry_id: &str, deadline: Duration) -> Invoked {
        let event = http_api_event(function, Some(inquiry_id), Some(&self.world.user), None);
        let process = self.functions.process(function).expect("the release binaries");
        invoke_with_deadline(process, event, deadline).await.expect("an HTTP answer")
    }
}

/// Runs one fault test on the shared release-binaries rig (skipped, saying why, without the tools outside CI).
macro_rules! fault_test {
    ($name:ident, |$rig:ident, $case:ident| $body:block) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some($rig) = Rig::binaries(ApiVersion::V2025_12_08, stringify!($name)).await else { return };
            let functions = $rig.deploy_direct(&[]).await.unwrap();
            let world = World::with_user(&$rig, &new_user(concat!("fault-", stringify!($name))));
            let $case = Case { world, functions };
            $body
            $rig.finish(stringify!($name), Upstream::Contract).await;
        }
    };
}

/// The answer (a success, or a problem with this status and code) and the invocation's log line agree.
fn assert_answer(invoked: &Invoked, status: u16, code: Option<&str>) {
    match code {
        Some(code) => assert_problem(&invoked.answer, status, code),
        None => {
            assert_eq!(status, 200);
            assert_success(&invoked.answer);
        }
    }
    assert_logged(invoked);
}

/// Elapsed time, attempts and their log: bounded, and the log line agrees with what the fake saw.
fn assert_bounded(invoked: &Invoked, upstream_calls: u64, within: Duration) {
    assert!(invoked.elapsed < within, "took {:?} (bound {within:?})", invoked.elapsed);
    assert_eq!(invoked.upstream_calls(), Some(upstream_calls), "{:?}", invoked.log);
    assert!(upstream_calls <= MAX_REQUESTS_PER_INVOCATION);
}

fault_test!(a_burst_of_5xx_then_success, |rig, case| {
    let inquiry = case.seed("pending");
    rig.fake.add_fault(Fault::new(Op::Get, FaultKind::Status { status: 503 }).times(2));
    rig.fake.add_fault(Fault::new(Op::Resume, FaultKind::Status { status: 500 }).times(2));
    let invoked = case.call(ResumeSession, &inquiry.id, INVOCATION_DEADLINE).await;
    assert_answer(&invoked, 200, None);
    assert_bounded(&invoked, 6, Duration::from_secs(5));
    let gets: Vec<_> = case.requests(Op::Get, &inquiry.id).into_iter().map(|(s, ..)| s).collect();
    assert_eq!(gets, [Some(503), Some(503), Some(200)]);
    // A 5xx answer is replayed by Persona to its key: each retry moves to the next key of the sequence.
    let resumes = case.requests(Op::Resume, &inquiry.id);
    let base = format!("resume:{}:{}", inquiry.id, invoked.outcome.request_id);
    let expected = [(Some(500), base.clone()), (Some(500), format!("{base}:2")), (Some(200), format!("{base}:3"))];
    let seen: Vec<_> = resumes.iter().map(|(s, k, _)| (*s, k.clone().unwrap())).collect();
    assert_eq!(seen, expected);
});

fault_test!(persistent_5xx_is_a_bounded_502, |rig, case| {
    let inquiry = case.seed("pending");
    rig.fake.add_fault(Fault::new(Op::Get, FaultKind::Status { status: 502 }).times(50));
    let invoked = case.call(IssueLink, &inquiry.id, INVOCATION_DEADLINE).await;
    rig.fake.clear_faults();
    assert_answer(&invoked, 502, Some("persona_error"));
    assert_bounded(&invoked, MAX_ATTEMPTS_PER_CALL as u64, Duration::from_secs(5));
    assert_eq!(case.requests(Op::Get, &inquiry.id).len(), MAX_ATTEMPTS_PER_CALL);
    assert!(case.requests(Op::Link, &inquiry.id).is_empty());
});

fault_test!(rate_limit_with_a_short_reset_is_waited_out, |rig, case| {
    let inquiry = case.seed("pending");
    // One request per 2 s window: the GET passes, the resume is refused with `RateLimit-Reset: 2`, waited out.
    rig.fake.set_rate_limit(1, Duration::from_secs(2));
    let invoked = case.call(ResumeSession, &inquiry.id, INVOCATION_DEADLINE).await;
    rig.fake.disable_rate_limit();
    assert_answer(&invoked, 200, None);
    assert_bounded(&invoked, 3, Duration::from_secs(8));
    assert!(invoked.elapsed >= Duration::from_secs(1), "the reset was waited for: {:?}", invoked.elapsed);
    let resumes = case.requests(Op::Resume, &inquiry.id);
    assert_eq!(resumes.iter().map(|(s, ..)| *s).collect::<Vec<_>>(), [Some(429), Some(200)]);
    assert_eq!(resumes[0].1, resumes[1].1, "429s are never stored under a key: the same key is retried");
});

fault_test!(rate_limit_with_a_long_reset_is_answered_at_once, |rig, case| {
    let inquiry = case.seed("pending");
    rig.fake.set_rate_limit(1, Duration::from_secs(120));
    let invoked = case.call(IssueLink, &inquiry.id, INVOCATION_DEADLINE).await;
    rig.fake.disable_rate_limit();
    assert_answer(&invoked, 429, Some("persona_rate_limited"));
    assert_bounded(&invoked, 2, Duration::from_secs(3));
    let retry_after: u64 = invoked.answer.header("retry-after").expect("Retry-After").parse().unwrap();
    assert!((100..=120).contains(&retry_after), "Retry-After {retry_after} from RateLimit-Reset");
    assert_eq!(invoked.answer.body["persona_request_id"].as_str().map(|id| id.starts_with("req_")), Some(true));
});

fault_test!(slower_than_the_deadline_is_a_504_before_it, |rig, case| {
    let inquiry = case.seed("pending");
    let deadline = Duration::from_secs(2);
    rig.fake.add_fault(Fault::new(Op::Get, FaultKind::Delay { delay_ms: 8_000 }));
    let invoked = case.call(ResumeSession, &inquiry.id, deadline).await;
    assert_answer(&invoked, 504, Some("persona_timeout"));
    assert_bounded(&invoked, 1, deadline + Duration::from_millis(500));
    assert!(invoked.outcome.latency < deadline, "answered before Lambda's deadline: {:?}", invoked.outcome.latency);

    // A slow POST: the GET answers, the resume doesn't in time; nothing is handed out.
    rig.fake.add_fault(Fault::new(Op::Resume, FaultKind::Delay { delay_ms: 8_000 }));
    let invoked = case.call(IssueLink, &case.seed("expired").id, deadline).await;
    assert_answer(&invoked, 504, Some("persona_timeout"));
    assert_bounded(&invoked, 2, deadline + Duration::from_millis(500));
    assert!(invoked.outcome.latency < deadline, "answered before Lambda's deadline: {:?}", invoked.outcome.latency);
});

fault_test!(malformed_answers_are_502, |rig, case| {
    let inquiry = case.seed("pending");
    let bodies = [
        None,
        Some("<html><body>502 Bad Gateway</body></html>"),
        Some(r#"{"data": {"id": "inq_x", "attributes": {"status": 5}}}"#),
        Some(r#"{"data": null}"#),
        Some(""),
    ];
    for body in bodies {
        rig.fake.add_fault(Fault::new(Op::Get, FaultKind::Malformed { body: body.map(str::to_owned) }));
        let invoked = case.call(ResumeSession, &inquiry.id, INVOCATION_DEADLINE).await;
        assert_answer(&invoked, 502, Some("persona_error"));
        // A 2xx that can't be read is not retried: the same bytes would come back.
        assert_bounded(&invoked, 1, Duration::from_secs(2));
        assert!(!invoked.answer.body.to_string().contains("html"), "never an upstream body verbatim");
    }
    // Garbage in answer to the link (a POST) is a 502 too, and no second link is asked for.
    rig.fake.add_fault(Fault::new(Op::Link, FaultKind::Malformed { body: Some(r#"{"data": {}, "meta": {"#.into()) }));
    let invoked = case.call(IssueLink, &inquiry.id, INVOCATION_DEADLINE).await;
    assert_answer(&invoked, 502, Some("persona_error"));
    assert_bounded(&invoked, 2, Duration::from_secs(2));
    assert_eq!(case.requests(Op::Link, &inquiry.id).len(), 1);
});

fault_test!(dropped_connections_retry_the_same_key, |rig, case| {
    let inquiry = case.seed("pending");
    rig.fake.add_fault(Fault::new(Op::Get, FaultKind::Drop));
    rig.fake.add_fault(Fault::new(Op::Link, FaultKind::Drop).times(2));
    let invoked = case.call(IssueLink, &inquiry.id, INVOCATION_DEADLINE).await;
    assert_answer(&invoked, 200, None);
    assert_bounded(&invoked, 5, Duration::from_secs(5));
    let links = case.requests(Op::Link, &inquiry.id);
    assert_eq!(links.iter().map(|(s, ..)| *s).collect::<Vec<_>>(), [None, None, Some(200)]);
    let key = format!("generate-one-time-link:{}:{}", inquiry.id, invoked.outcome.request_id);
    assert!(links.iter().all(|(_, k, _)| k.as_deref() == Some(key.as_str())), "a lost answer keeps its key: {links:?}");

    // Persona never answers at all: a bounded 502, not a hang.
    rig.fake.add_fault(Fault::new(Op::Resume, FaultKind::Drop).times(50));
    let invoked = case.call(ResumeSession, &inquiry.id, INVOCATION_DEADLINE).await;
    rig.fake.clear_faults();
    assert_answer(&invoked, 502, Some("persona_error"));
    assert_bounded(&invoked, 1 + MAX_ATTEMPTS_PER_CALL as u64, Duration::from_secs(5));
    let resumes = case.requests(Op::Resume, &inquiry.id);
    assert_eq!(resumes.len(), MAX_ATTEMPTS_PER_CALL);
    assert!(resumes.windows(2).all(|w| w[0].1 == w[1].1), "the same key throughout: {resumes:?}");
});

fault_test!(a_dropped_create_answer_creates_one_inquiry, |rig, case| {
    let old = case.seed("pending");
    case.world.publish_version();
    rig.fake.add_fault(Fault::new(Op::Create, FaultKind::DropAfterCommit));
    let invoked = case.call(ResumeSession, &old.id, INVOCATION_DEADLINE).await;
    assert_answer(&invoked, 200, None);
    assert_eq!(invoked.answer.str("outcome"), Some("recreated"));
    // GET, successor lookup, create (lost), create (replayed); the token comes from the create answer.
    assert_bounded(&invoked, 4, Duration::from_secs(5));
    let key = case.first_create_key(&format!("recreate:{}", old.id));
    assert_eq!(case.creates_for_user(), [(None, Some(key.clone()), false), (Some(201), Some(key), true)]);
    assert_eq!(case.inquiries_of_user(), 2, "the old inquiry and exactly one new one");

    // The other function asks next: it finds the same replacement, creates nothing.
    let again = case.call(IssueLink, &old.id, INVOCATION_DEADLINE).await;
    assert_answer(&again, 200, None);
    assert_eq!(again.answer.str("inquiry_id"), invoked.answer.str("inquiry_id"));
    assert_eq!(case.creates_for_user().len(), 2);
    assert_eq!(case.inquiries_of_user(), 2);
});

fault_test!(the_invocation_budget_caps_a_long_bad_day, |rig, case| {
    let old = case.seed("pending");
    case.world.publish_version();
    // Every step fails three times before it would succeed: 1 + 4 + 4 + 4 = 13 requests without the cap.
    rig.fake.add_fault(Fault::new(Op::List, FaultKind::Status { status: 503 }).times(3));
    rig.fake.add_fault(Fault::new(Op::Create, FaultKind::Status { status: 500 }).times(3));
    rig.fake.add_fault(Fault::new(Op::Link, FaultKind::Status { status: 502 }).times(3));
    let mark = rig.fake.requests().len();
    let invoked = case.call(IssueLink, &old.id, INVOCATION_DEADLINE).await;
    let sent = (rig.fake.requests().len() - mark) as u64;
    rig.fake.clear_faults();
    assert_answer(&invoked, 502, Some("persona_error"));
    assert_bounded(&invoked, sent, Duration::from_secs(10));
    // The create walked the one key sequence through the ledger (design.md, Create ledger): each stored 500
    // under a key of its own, none asked twice.
    let during = case.creates_for_user();
    let key = case.first_create_key(&format!("recreate:{}", old.id));
    let nth = |n: usize| if n == 1 { key.clone() } else { format!("{key}:{n}") };
    assert!(!during.is_empty());
    let expected: Vec<Sent> = (1..=during.len()).map(|n| (Some(500), Some(nth(n)), false)).collect();
    assert_eq!(during, expected);
    // The next invocation starts past them at once: the next key answers 201, one new inquiry.
    let again = case.call(ResumeSession, &old.id, INVOCATION_DEADLINE).await;
    assert_answer(&again, 200, None);
    assert_eq!(again.answer.str("outcome"), Some("recreated"));
    let after = case.creates_for_user().split_off(during.len());
    assert_eq!(after, [(Some(201), Some(nth(during.len() + 1)), false)]);
    assert_eq!(case.inquiries_of_user(), 2, "the old inquiry and exactly one new one");
});

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_cut_mid_response_retry_the_same_key() {
    let name = "answers_cut_mid_response_retry_the_same_key";
    let Some(rig) = Rig::binaries(ApiVersion::V2025_12_08, name).await else { return };
    let proxy = CuttingProxy::start(rig.fake.addr(), "/resume", 600).await.unwrap();
    let functions = rig.deploy(&[("PERSONA_API_BASE_URL", &proxy.base_url())]).await.unwrap();
    let case = Case { world: World::with_user(&rig, &new_user("fault-cut")), functions };
    let inquiry = case.seed("pending");
    proxy.arm(2);
    let invoked = case.call(ResumeSession, &inquiry.id, INVOCATION_DEADLINE).await;
    assert_eq!(proxy.cuts_done(), 2);
    assert_answer(&invoked, 200, None);
    assert_bounded(&invoked, 4, Duration::from_secs(5));
    let resumes = case.requests(Op::Resume, &inquiry.id);
    assert_eq!(resumes.len(), 3, "{resumes:?}");
    assert!(resumes.windows(2).all(|w| w[0].1 == w[1].1), "the same key throughout: {resumes:?}");
    assert_eq!(resumes.iter().filter(|(.., replayed)| *replayed).count(), 2, "Persona replays the stored answer");
    drop(case);
    rig.finish(name, Upstream::Contract).await;
}
