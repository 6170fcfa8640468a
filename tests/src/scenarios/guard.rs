//! The guard (docs/design.md, "The guard (durable state)", issue #18): the create ledger across invocations,
//! processes and Persona's forgetting, the budgets, the session cap, and failing open. Each scenario counts what
//! the fake saw. Those that need two processes on one table, or a table that isn't there, run on the release
//! binaries only ([`crate::for_each_process_scenario`]); the in-process rig gives each deployment a guard of its own.

use std::time::{Duration, Instant};

use persona_resume::guard::{LedgerKey, LedgerWrite, UnixMillis};

use crate::assertions::{assert_fingerprinted_key, assert_ok, assert_problem, assert_success};
use crate::fake_persona::{Endpoint as PersonaOp, Fault, FaultKind, RequestRecord, DEFAULT_API_KEY};
use crate::probe::join_all;
use crate::rig::{
    http_api_event, Answer, Deployment,
    Function::{self, IssueLink, ResumeSession},
    Rig,
};
use crate::world::{link, me, new_user, session, World};

/// What one invocation may cost Persona, whatever Persona answers (design.md, "Call plans and the cap").
const MAX_CALLS_PER_INVOCATION: usize = 8;
/// The first invocation after an incident of any length (issue #18, item 2).
const MAX_CALLS_AFTER_RECOVERY: usize = 6;

/// The fake's records from `mark` on (one invocation's, when nothing else runs).
fn since(rig: &Rig, mark: usize) -> Vec<RequestRecord> {
    rig.fake.requests().into_iter().skip(mark).collect()
}

fn describe(records: &[RequestRecord]) -> Vec<String> {
    records.iter().map(|r| format!("{} {} -> {:?}", r.method, r.path, r.status)).collect()
}

/// A request Persona received and answered 201 to, for `owner` (not a replay).
fn fresh_creates_for(records: &[RequestRecord], owner: &str) -> usize {
    let ours = |r: &&RequestRecord| r.body.as_deref().is_some_and(|b| b.contains(owner));
    records
        .iter()
        .filter(|r| r.endpoint == Some(PersonaOp::Create) && r.status == Some(201) && !r.replayed)
        .filter(ours)
        .count()
}

/// A failure while Persona is down, as openapi.yaml documents it: never a 500, never a 2xx made up.
fn assert_documented_failure(answer: &Answer, context: &str) {
    let code = answer.str("code").unwrap_or_default();
    let documented = matches!(
        (answer.status, code),
        (502, "persona_error")
            | (504, "persona_timeout")
            | (503, "creation_in_progress")
            | (429, "persona_rate_limited")
    );
    assert!(documented, "{context}: {} {}", answer.status, answer.body);
}

/// Waits, if needed, until at least `room` is left in the current UTC minute (the budgets' fixed windows), so a
/// check of a minute's budget is never split by a boundary.
async fn with_room_in_this_minute(room: Duration) {
    let into = UnixMillis::now().0 % 60_000;
    let left = Duration::from_millis(60_000 - into);
    if left < room {
        tokio::time::sleep(left + Duration::from_millis(200)).await;
    }
}

/// Issue #18, item 2: Persona answers 500 to every create for as long as the user keeps retrying (five
/// invocations, both functions); each stored 500 moves the ledger on for every later invocation. The first
/// invocation after recovery sends a fresh key: it succeeds, creates exactly one inquiry, and costs at most six
/// Persona calls; both functions then converge on it.
pub async fn a_long_create_incident_then_recovery_creates_once(rig: &Rig) {
    let functions = rig.deploy_direct(&[]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();
    rig.fake.start_incident(PersonaOp::Create, 500, 10_000);

    for retry in 0..5 {
        let answer =
            if retry % 2 == 0 { w.session(&functions, &old.id).await } else { w.link(&functions, &old.id).await };
        assert_documented_failure(&answer, &format!("retry {retry} during the incident"));
    }
    let during = w.creates_for(&w.user);
    assert!(during.len() >= 5, "the user's retries reached Persona: {during:?}");
    assert!(during.iter().all(|(status, ..)| *status == Some(500)), "{during:?}");
    // The ledger walked the one key sequence: no key was sent twice after a 500 was stored under it.
    let mut keys: Vec<String> = during.iter().filter_map(|(_, key, _)| key.clone()).collect();
    let sent = keys.len();
    keys.dedup();
    assert_eq!(keys.len(), sent, "a stored 500 is never asked again: {keys:?}");

    rig.fake.clear_faults();
    let mark = rig.fake.requests().len();
    let after = w.link(&functions, &old.id).await;
    let calls = since(rig, mark);
    assert_ok(&after, "recreated", "outdated");
    assert!(calls.len() <= MAX_CALLS_AFTER_RECOVERY, "{} calls after recovery: {:?}", calls.len(), describe(&calls));
    assert_eq!(fresh_creates_for(&calls, &w.user), 1, "{:?}", describe(&calls));
    assert!(calls.iter().all(|r| !r.replayed), "no stored 500 replayed after recovery: {:?}", describe(&calls));

    let again = w.session(&functions, &old.id).await;
    assert_ok(&again, "recreated", "outdated");
    assert_eq!(again.str("inquiry_id"), after.str("inquiry_id"), "both functions converge");
    assert_eq!(w.inquiries().len(), 2, "the old inquiry and exactly one replacement");
}

/// Issue #18, item 7 (release binaries only: two processes on one table): a returning user's first `/me` calls
/// reach two deployments at once; the ledger lets one create, the other uses what it created.
pub async fn concurrent_first_calls_on_two_processes_create_one_inquiry(rig: &Rig) {
    let w = World::new(rig);
    let env = [("PERSONA_INQUIRY_TEMPLATE_ID", w.template.id.as_str())];
    let (a, b) = tokio::join!(rig.deploy(&env), rig.deploy(&env));
    let (a, b) = (a.unwrap(), b.unwrap());
    for round in 0..3 {
        let user = new_user(&format!("first-{round}"));
        let (first, second) = tokio::join!(me(&a, ResumeSession, &user), me(&b, IssueLink, &user));
        for answer in [&first, &second] {
            assert_success(answer);
            assert!(matches!(answer.str("outcome"), Some("created" | "resumed")), "{}", answer.body);
        }
        assert_eq!(first.str("inquiry_id"), second.str("inquiry_id"), "round {round}: one inquiry");
        assert_eq!(w.inquiries_of(&user).len(), 1, "round {round}: one inquiry for the user, not two");
        assert_eq!(fresh_creates_for(&rig.fake.requests(), &user), 1, "round {round}: one create");
    }
}

/// design.md, Create ledger: a holder died while it held attempt 3 (its lease ran out). The next request takes
/// the entry over and sends the SAME key, `…:3` (its answer may have been committed), and one inquiry results.
pub async fn a_dead_holders_create_is_taken_over_with_the_same_key(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();
    let outdated = persona_resume::domain::ids::InquiryId::parse(&old.id).unwrap();
    let item_key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let dead = "a-container-that-died".to_owned();
    let gone = UnixMillis(UnixMillis::now().0 - 1_000);
    let mut writes = vec![LedgerWrite::Claim { holder: dead.clone(), lease_until: gone }];
    writes.extend((1..3).map(|attempt| LedgerWrite::Advance { attempt, holder: dead.clone(), lease_until: gone }));
    rig.write_ledger(&functions, &item_key, &writes).await.unwrap();

    let answer = w.session(&functions, &old.id).await;
    assert_ok(&answer, "recreated", "outdated");
    let creates = w.creates_for(&w.user);
    assert_eq!(creates.len(), 1, "{creates:?}");
    let key = creates[0].1.clone().unwrap_or_default();
    let base = key.strip_suffix(":3").unwrap_or_else(|| panic!("the dead holder's attempt, 3: {key}"));
    assert_fingerprinted_key(base, &format!("recreate:{}", old.id), 1);

    let linked = w.link(&functions, &old.id).await;
    assert_eq!(linked.str("inquiry_id"), answer.str("inquiry_id"), "the ledger names the replacement");
    assert_eq!(w.inquiries().len(), 2, "the old inquiry and exactly one replacement");
    assert_eq!(w.creates_for(&w.user).len(), 1, "the replacement is read from the ledger, not created again");
}

/// Issue #18, item 2: an ownerless outdated inquiry (IAM mode: no owner to find a successor by) is replaced;
/// then Persona forgets every idempotency key (its 24 h passed). Asked again by both functions, the ledger still
/// names the one replacement: nothing is created a second time.
pub async fn an_ownerless_inquiry_is_replaced_once_after_persona_forgets_its_keys(rig: &Rig) {
    let functions = rig.deploy(&[("AUTH_MODE", "iam")]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed_for("pending", None);
    w.publish_version();
    let iam = |function: Function| http_api_event(function, Some(&old.id), None, None);

    let first = functions.call(IssueLink, iam(IssueLink)).await;
    assert_ok(&first, "recreated", "outdated");
    rig.fake.forget_idempotency_keys();
    assert!(rig.fake.stored_answers().is_empty());
    for function in [ResumeSession, IssueLink, ResumeSession] {
        let again = functions.call(function, iam(function)).await;
        assert_ok(&again, "recreated", "outdated");
        assert_eq!(again.str("inquiry_id"), first.str("inquiry_id"), "{function:?}: the same replacement");
    }
    assert_eq!(w.inquiries().len(), 2, "the old inquiry and exactly one replacement");
    let creates: Vec<_> = rig.fake.requests().into_iter().filter(|r| r.endpoint == Some(PersonaOp::Create)).collect();
    assert_eq!(creates.len(), 1, "{:?}", describe(&creates));
}

/// Issue #18, item 3: `PERSONA_CALLS_PER_MINUTE=20` and 30 users at once (on the process rig through two
/// deployments sharing the table; in-process through one, whose guard is its own). Persona sees at most 20
/// calls in any UTC minute; everyone else gets a fast 429 `persona_budget_exhausted` with `Retry-After`, never a
/// 5xx.
pub async fn the_deployments_share_caps_persona_calls_under_a_burst(rig: &Rig) {
    const SHARE: usize = 20;
    let w = World::new(rig);
    let env = [("PERSONA_CALLS_PER_MINUTE", "20")];
    let deployments: Vec<Deployment> = if rig.runs_binaries() {
        let (a, b) = tokio::join!(rig.deploy(&env), rig.deploy(&env));
        vec![a.unwrap(), b.unwrap()]
    } else {
        vec![rig.deploy(&env).await.unwrap()]
    };
    let users: Vec<(String, String)> = (0..30)
        .map(|n| {
            let user = new_user(&format!("burst-{n}"));
            let inquiry = w.seed_for("pending", Some(&user)).id;
            (user, inquiry)
        })
        .collect();
    with_room_in_this_minute(Duration::from_secs(30)).await;
    let mark = rig.fake.requests().len();
    let asks = users.iter().enumerate().map(|(n, (user, inquiry))| {
        let functions = &deployments[n % deployments.len()];
        async move {
            let started = Instant::now();
            let answer =
                if n % 3 == 0 { link(functions, inquiry, user).await } else { session(functions, inquiry, user).await };
            (answer, started.elapsed())
        }
    });
    let answers = join_all(asks).await;
    let calls = since(rig, mark);

    let mut per_minute = std::collections::BTreeMap::<u64, usize>::new();
    for record in &calls {
        *per_minute.entry(record.received_at / 60_000).or_default() += 1;
    }
    assert!(per_minute.values().all(|calls| *calls <= SHARE), "Persona calls per UTC minute: {per_minute:?}");
    let served = answers.iter().filter(|(answer, _)| answer.status == 200).count();
    let refused: Vec<&(Answer, Duration)> = answers.iter().filter(|(answer, _)| answer.status == 429).collect();
    assert!(served >= 1, "some users within the share are served");
    assert_eq!(served + refused.len(), users.len(), "a 200 or a 429, never a 5xx: {:?}", statuses(&answers));
    for (answer, elapsed) in refused {
        assert_problem(answer, 429, "persona_budget_exhausted");
        let retry_after: u64 = answer.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
        assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
        // A refusal costs one guard round trip, queued behind the burst on the process rig (one invocation at a
        // time per process).
        assert!(*elapsed < Duration::from_secs(10), "a refusal took {elapsed:?}");
    }
    println!("share of {SHARE}: {served} served, Persona calls per minute {per_minute:?}");
}

fn statuses(answers: &[(Answer, Duration)]) -> Vec<u16> {
    answers.iter().map(|(answer, _)| answer.status).collect()
}

/// Issue #18, item 3: `REQUESTS_PER_OWNER_PER_MINUTE=3` — a user's fourth request in a minute is a 429
/// `too_many_requests` with `Retry-After` and sends Persona nothing, another user is unaffected;
/// `SESSIONS_PER_INQUIRY_PER_DAY=2` — the third hand-out on one inquiry is a 429 naming it.
pub async fn per_owner_and_per_inquiry_limits_answer_429(rig: &Rig) {
    let owner_limited = rig.deploy(&[("REQUESTS_PER_OWNER_PER_MINUTE", "3")]).await.unwrap();
    let w = World::new(rig);
    let inquiries: Vec<String> = (0..4).map(|_| w.seed("pending").id).collect();
    with_room_in_this_minute(Duration::from_secs(20)).await;
    for inquiry in &inquiries[..3] {
        assert_ok(&w.session(&owner_limited, inquiry).await, "resumed", "current");
    }
    let mark = rig.fake.requests().len();
    let fourth = w.link(&owner_limited, &inquiries[3]).await;
    assert_problem(&fourth, 429, "too_many_requests");
    let retry_after: u64 = fourth.header("retry-after").and_then(|v| v.parse().ok()).expect("Retry-After");
    assert!((1..=60).contains(&retry_after), "Retry-After {retry_after}");
    assert!(since(rig, mark).is_empty(), "nothing sent to Persona: {:?}", describe(&since(rig, mark)));
    let other = World::on(rig, w.template.clone(), &new_user("other"));
    assert_ok(&other.session(&owner_limited, &other.seed("pending").id).await, "resumed", "current");

    let sessions_limited = rig.deploy(&[("SESSIONS_PER_INQUIRY_PER_DAY", "2")]).await.unwrap();
    let x = World::on(rig, w.template.clone(), &new_user("sessions"));
    let inquiry = x.seed("pending");
    assert_ok(&x.link(&sessions_limited, &inquiry.id).await, "resumed", "current");
    assert_ok(&x.session(&sessions_limited, &inquiry.id).await, "resumed", "current");
    let mark = rig.fake.requests().len();
    let third = x.link(&sessions_limited, &inquiry.id).await;
    assert_problem(&third, 429, "too_many_requests");
    assert_eq!(third.str("inquiry_id"), Some(inquiry.id.as_str()), "the refusal names the inquiry");
    assert!(third.header("retry-after").is_some());
    assert!(since(rig, mark).is_empty(), "nothing sent to Persona");
    // Another inquiry of the same user has its own budget.
    assert_ok(&x.session(&sessions_limited, &x.seed("pending").id).await, "resumed", "current");
}

/// Issue #18, item 5 (release binaries only: the table is the deployment's): `GUARD_TABLE` naming a table that
/// doesn't exist, then DynamoDB unreachable (`AWS_ENDPOINT_URL` at a closed port; the key then comes from
/// `PERSONA_API_KEY`, since Secrets Manager shares the endpoint): the guard fails open — resumes and a
/// replacement still succeed, in bounded time.
pub async fn a_missing_table_or_dynamodb_down_fails_open(rig: &Rig) {
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("http://{}", listener.local_addr().unwrap())
    };
    let missing = [("GUARD_TABLE", "persona-resume-guard-that-does-not-exist"), ("PERSONA_CALLS_PER_MINUTE", "20")];
    let down = [
        ("AWS_ENDPOINT_URL", closed.as_str()),
        ("PERSONA_API_KEY_SECRET_ID", ""),
        ("PERSONA_API_KEY", DEFAULT_API_KEY),
        ("REQUESTS_PER_OWNER_PER_MINUTE", "3"),
    ];
    for (case, env) in [("missing table", &missing[..]), ("DynamoDB down", &down[..])] {
        let functions = rig.deploy(env).await.unwrap();
        let w = World::new(rig);
        let current = w.seed("pending");
        for _ in 0..4 {
            let started = Instant::now();
            assert_ok(&w.session(&functions, &current.id).await, "resumed", "current");
            assert!(started.elapsed() < Duration::from_secs(5), "{case}: took {:?}", started.elapsed());
        }
        let old = w.seed("pending");
        w.publish_version();
        let replaced = w.link(&functions, &old.id).await;
        assert_ok(&replaced, "recreated", "outdated");
        let again = w.session(&functions, &old.id).await;
        assert_eq!(again.str("inquiry_id"), replaced.str("inquiry_id"), "{case}: Persona's replay converges");
        assert_eq!(w.inquiries_of(&w.user).len(), 3, "{case}: one replacement");
    }
}

/// Issue #18, item 3: Persona refuses a session because the inquiry's sessions are used up (the fake's cap set
/// to 2; Persona's is 25). Unrecognised (`SESSION_LIMIT_ERROR` unset) the refusal keeps its existing answer;
/// recognised, the inquiry is replaced through the ledger and the user continues.
pub async fn the_session_cap_is_replaced_only_when_recognised(rig: &Rig) {
    rig.fake.set_sessions_per_inquiry(2);
    let plain = rig.deploy(&[]).await.unwrap();
    let recognising = rig.deploy(&[("SESSION_LIMIT_ERROR", "(?i)maximum number of inquiry sessions")]).await.unwrap();
    let w = World::new(rig);
    let used_up = w.seed("pending");
    for _ in 0..2 {
        assert_ok(&w.link(&plain, &used_up.id).await, "resumed", "current");
    }
    // The existing mapping of Persona's refusal (the fake answers 422, as Persona's spec has no text for the
    // cap): a 502 naming the inquiry, nothing created.
    let refused = w.link(&plain, &used_up.id).await;
    assert_problem(&refused, 502, "persona_error");
    assert_eq!(refused.str("inquiry_id"), Some(used_up.id.as_str()));
    assert_eq!(w.inquiries().len(), 1, "nothing created without the pattern");

    let replaced = w.link(&recognising, &used_up.id).await;
    assert_ok(&replaced, "recreated", "current");
    assert_eq!(replaced.str("previous_inquiry_id"), Some(used_up.id.as_str()));
    let again = w.session(&recognising, &used_up.id).await;
    assert_success(&again);
    assert_eq!(again.str("inquiry_id"), replaced.str("inquiry_id"), "one replacement");
    assert_eq!(w.inquiries().len(), 2, "the used-up inquiry and exactly one replacement");
    rig.fake.set_sessions_per_inquiry(25);
}

/// Issue #18, item 4: at most 8 Persona calls per invocation whatever Persona answers, on both functions and
/// every route (a current inquiry, an outdated one, `/me`): Persona down (every answer a 5xx), a long bad day
/// (every operation fails three times, then succeeds: 13 calls without a cap), and Persona rate limiting.
pub async fn at_most_eight_persona_calls_per_invocation_on_a_bad_day(rig: &Rig) {
    let w = World::new(rig);
    let functions = rig.deploy_direct(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();
    let every = |kind: FaultKind, count: u32| {
        for endpoint in PersonaOp::ALL {
            rig.fake.add_fault(Fault::new(endpoint, kind.clone()).times(count));
        }
    };
    let days: [(&str, &dyn Fn()); 4] = [
        ("Persona down", &|| every(FaultKind::Status { status: 503 }, 1_000)),
        ("a long bad day", &|| every(FaultKind::Status { status: 500 }, 3)),
        ("rate limited (1 a second)", &|| rig.fake.set_rate_limit(1, Duration::from_secs(1))),
        ("rate limited (2 in 3 s)", &|| rig.fake.set_rate_limit(2, Duration::from_secs(3))),
    ];
    for (day, stage) in days {
        for function in [IssueLink, ResumeSession] {
            for route in ["current", "outdated", "/me"] {
                let user = new_user("bad-day");
                let inquiry = match route {
                    "/me" => None,
                    "current" => Some(w.seed_for("pending", Some(&user)).id),
                    _ => {
                        let old = w.seed_for("pending", Some(&user)).id;
                        w.publish_version();
                        Some(old)
                    }
                };
                stage();
                let mark = rig.fake.requests().len();
                let event = http_api_event(function, inquiry.as_deref(), Some(&user), None);
                let answer = functions.call(function, event).await;
                let calls = since(rig, mark);
                rig.fake.clear_faults();
                rig.fake.disable_rate_limit();
                let context = format!("{day}, {function:?} on {route}");
                assert!(
                    calls.len() <= MAX_CALLS_PER_INVOCATION,
                    "{context}: {} Persona calls: {:?}",
                    calls.len(),
                    describe(&calls)
                );
                if answer.status != 200 {
                    assert_documented_failure(&answer, &context);
                }
            }
        }
    }
}
