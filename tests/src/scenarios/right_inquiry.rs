//! The right inquiry, every time (issue 19; design.md *Returning users*, *Recreate*, *What "latest" means*,
//! *Idempotency keys*, *Who owns an inquiry*): the newest owned inquiry decides wherever it was found and whatever
//! version it is on; creation routed to a deployed version that is not the latest published one makes no chains;
//! with `TRUSTED_INQUIRY_TAG`, planted inquiries never decide and a flood of them never triggers a create; the
//! expire report is this invocation's; a foreign inquiry costs what a missing one costs.

use serde_json::Value;

use crate::assertions::{assert_link_answer, assert_ok, assert_problem, assert_session_answer, without_inquiry_id};
use crate::fake_persona::util::{now_ms, Millis, HOUR_MS};
use crate::fake_persona::{BrowserInquiry, Endpoint as PersonaOp, Fault, FaultKind, Inquiry};
use crate::rig::{
    json_log_subscriber, Answer, CapturedLogs, Deployment, Function,
    Function::{IssueLink, ResumeSession},
    Rig,
};
use crate::world::{link, me, new_user, operation, session, World};

/// The tag our creates carry in the scenarios that set `TRUSTED_INQUIRY_TAG`.
const OUR_TAG: &str = "persona-resume";

/// `hours` ago, in the fake's clock (epoch ms).
fn hours_ago(hours: u64) -> Millis {
    now_ms() - hours * HOUR_MS
}

/// Inquiries Persona created for a create request of ours (a replayed answer creates nothing).
fn creates(rig: &Rig) -> usize {
    let created = |r: &crate::fake_persona::RequestRecord| r.status == Some(201) && !r.replayed;
    rig.fake.requests().iter().filter(|r| operation(r) == Some(PersonaOp::Create) && created(r)).count()
}

/// The operations that hand something out or change an inquiry.
fn acts(op: PersonaOp) -> bool {
    matches!(op, PersonaOp::Resume | PersonaOp::Link | PersonaOp::Expire)
}

/// Nothing was handed out on, or done to, `inquiry`.
fn assert_untouched(w: &World<'_>, inquiry: &Inquiry) {
    let acted: Vec<_> = w.calls_for(&inquiry.id).into_iter().filter(|(op, _)| acts(*op)).collect();
    assert!(acted.is_empty(), "{} was acted on: {acted:?}", inquiry.id);
    assert_eq!(w.rig.fake.inquiry(&inquiry.id).unwrap().status, inquiry.status, "{} untouched", inquiry.id);
}

/// A 409 naming `inquiry` with its status.
fn assert_refused_naming(answer: &Answer, inquiry: &Inquiry) {
    assert_problem(answer, 409, "inquiry_not_resumable");
    assert_eq!(answer.str("inquiry_id"), Some(inquiry.id.as_str()), "{}", answer.body);
    assert_eq!(answer.str("inquiry_status"), Some(inquiry.status.as_str()), "{}", answer.body);
}

/// An inquiry of `owner`'s with its own reference id only (no account), made `hours` ago.
fn own_reference_only(w: &World<'_>, status: &str, owner: &str, hours: u64) -> Inquiry {
    w.seed_with(|seed| {
        seed.status = Some(status.to_owned());
        seed.reference_id = Some(owner.to_owned());
        seed.no_account = true;
        seed.created_at = Some(hours_ago(hours));
    })
}

/// An inquiry known only through `account` (own reference id null), made `hours` ago.
fn account_only(w: &World<'_>, status: &str, account: &str, hours: u64) -> Inquiry {
    w.seed_with(|seed| {
        seed.status = Some(status.to_owned());
        seed.account_id = Some(account.to_owned());
        seed.created_at = Some(hours_ago(hours));
    })
}

/// One of ours (carrying [`OUR_TAG`]) for the world's user, made `hours` ago, on the template's latest version.
fn ours(w: &World<'_>, status: &str, hours: u64) -> Inquiry {
    w.seed_with(|seed| {
        seed.status = Some(status.to_owned());
        seed.reference_id = Some(w.user.clone());
        seed.tags = vec![OUR_TAG.to_owned()];
        seed.created_at = Some(hours_ago(hours));
    })
}

/// Planted from a browser for the world's user (their reference id and account, no tag), made `hours` ago.
fn planted(w: &World<'_>, status: &str, hours: u64) -> Inquiry {
    let planted = BrowserInquiry {
        template_id: w.template.id.clone(),
        reference_id: w.user.clone(),
        status: Some(status.to_owned()),
        created_at: Some(hours_ago(hours)),
    };
    w.rig.fake.plant_browser_inquiry(planted).unwrap()
}

/// (a) `/me` reads both sources: an older pending inquiry with the user's own reference id and a newer approved one
/// known only through their account — the newer decides (409 naming it); the reverse — the newer pending one is
/// resumed, not refused because of the older finished one.
pub async fn me_the_newest_decides_wherever_it_was_found(rig: &Rig) {
    let w = World::new(rig);
    let functions = rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id)]).await.unwrap();

    let older_pending = own_reference_only(&w, "pending", &w.user, 2);
    let newer_approved = account_only(&w, "approved", &w.account_of(&w.user), 1);
    for function in [IssueLink, ResumeSession] {
        assert_refused_naming(&me(&functions, function, &w.user).await, &newer_approved);
    }
    assert_untouched(&w, &older_pending);

    // The reverse, for another user: an older approved one (own reference id), a newer pending one (account only).
    let other = World::on(rig, w.template.clone(), &new_user("user"));
    let older_approved = own_reference_only(&other, "approved", &other.user, 2);
    let newer_pending = account_only(&other, "pending", &other.account_of(&other.user), 1);
    let resumed = me(&functions, ResumeSession, &other.user).await;
    assert_ok(&resumed, "resumed", "current");
    assert_session_answer(&resumed, &newer_pending.id, true);
    let linked = me(&functions, IssueLink, &other.user).await;
    assert_ok(&linked, "resumed", "current");
    assert_link_answer(&linked, &newer_pending.id);
    assert_untouched(&other, &older_approved);
    assert_eq!(creates(rig), 0, "nobody was sent to verify again");
}

/// (b) A replacement approved on v2, then v3 published: the old (v1) id is refused with a 409 naming the v2
/// replacement, by both functions, and nothing is created.
pub async fn approved_replacement_on_an_older_version_is_never_re_verified(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let old = own_reference_only(&w, "pending", &w.user, 3);
    let v2 = w.publish_version();
    let replacement = w.seed_with(|seed| {
        seed.status = Some("approved".to_owned());
        seed.reference_id = Some(w.user.clone());
        seed.no_account = true;
        seed.template_version_id = Some(v2.clone());
        seed.created_at = Some(hours_ago(2));
    });
    let v3 = w.publish_version();
    assert_ne!(v2, v3);

    for answer in [w.link(&functions, &old.id).await, w.session(&functions, &old.id).await] {
        assert_refused_naming(&answer, &replacement);
    }
    assert_eq!(creates(rig), 0, "a verified user is not sent to verify on v3");
    assert_eq!(w.inquiries().len(), 2);
    assert_untouched(&w, &old);
}

/// (c) Explicit deploy: creation is routed to v2 while v3 is the latest published version. Six requests by two
/// users — the old id (twice), the new id, `/me`, and a second user's inquiry that Persona's routing put on v2 (by id
/// and by `/me`) — make exactly one inquiry: the old one's replacement. It is current the moment it is made
/// (what creation gives is current), so nothing chains; the second user's v2 inquiry is current for the same reason.
pub async fn explicit_deploy_creates_exactly_once(rig: &Rig) {
    explicit_deploy(rig, &[]).await;
}

/// (c) on Persona API 2026-09-29: the fake answers in that version's shapes (template versions with `live`,
/// `version-tag` and `deployments` in `included`), straight to the functions (no Prism bundle exists for it).
pub async fn explicit_deploy_on_api_2026_09_29(rig: &Rig) {
    explicit_deploy(rig, &[("PERSONA_VERSION", "2026-09-29")]).await;
    let versions: Vec<_> = rig.fake.requests().into_iter().filter_map(|r| r.persona_version).collect();
    assert!(!versions.is_empty() && versions.iter().all(|v| v == "2026-09-29"), "{versions:?}");
}

async fn explicit_deploy(rig: &Rig, env: &[(&str, &str)]) {
    let w = World::new(rig);
    let mut vars = vec![("PERSONA_INQUIRY_TEMPLATE_ID", w.template.id.as_str())];
    vars.extend_from_slice(env);
    let functions = if env.is_empty() { rig.deploy(&vars).await } else { rig.deploy_direct(&vars).await }.unwrap();
    let old = w.seed_with(|seed| {
        seed.status = Some("pending".to_owned());
        seed.reference_id = Some(w.user.clone());
        seed.created_at = Some(hours_ago(3));
    });
    let v2 = w.publish_version();
    let v3 = w.publish_version();
    w.deploy_version(&v2);
    assert_eq!(rig.fake.template(&w.template.id).unwrap().latest_published_version(), Some(v3.as_str()));
    let second = World::on(rig, w.template.clone(), &new_user("user"));
    let routed_to_v2 = second.seed_with(|seed| {
        seed.status = Some("pending".to_owned());
        seed.reference_id = Some(second.user.clone());
        seed.template_version_id = Some(v2.clone());
        seed.created_at = Some(hours_ago(1));
    });

    // 1. The old id: replaced once, and creation gives v2.
    let first = w.session(&functions, &old.id).await;
    assert_ok(&first, "recreated", "outdated");
    let new_id = first.str("inquiry_id").unwrap().to_owned();
    let replacement = rig.fake.inquiry(&new_id).unwrap();
    assert_eq!(replacement.template_version_id.as_deref(), Some(v2.as_str()), "routed to the deployed version");
    // 2. The old id again, from the other function: the same replacement.
    let again = w.link(&functions, &old.id).await;
    assert_ok(&again, "recreated", "outdated");
    assert_link_answer(&again, &new_id);
    // 3. The new id: current, not replaced by another v2 inquiry.
    let by_new_id = w.session(&functions, &new_id).await;
    assert_ok(&by_new_id, "resumed", "current");
    assert_session_answer(&by_new_id, &new_id, true);
    // 4. `/me`: the replacement is the user's newest, and current.
    let mine = me(&functions, IssueLink, &w.user).await;
    assert_ok(&mine, "resumed", "current");
    assert_link_answer(&mine, &new_id);
    // 5 and 6. The second user's inquiry on v2, by id and by `/me`: current too.
    let theirs = second.session(&functions, &routed_to_v2.id).await;
    assert_ok(&theirs, "resumed", "current");
    assert_session_answer(&theirs, &routed_to_v2.id, true);
    let theirs_by_me = me(&functions, ResumeSession, &second.user).await;
    assert_ok(&theirs_by_me, "resumed", "current");
    assert_session_answer(&theirs_by_me, &routed_to_v2.id, true);

    assert_eq!(creates(rig), 1, "exactly one inquiry created across the six requests");
    assert_eq!(w.inquiries().len(), 3);
}

/// (d) `TRUSTED_INQUIRY_TAG`: an inquiry planted from a browser for the user (newer, approved or pending; untagged)
/// is never handed out and never decides — neither for `/me` nor in the successor search. Presented by id, an
/// untagged inquiry is still served to its owner (exempt), and to nobody else.
pub async fn planted_inquiries_never_decide(rig: &Rig) {
    let w = World::new(rig);
    let functions =
        rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id), ("TRUSTED_INQUIRY_TAG", OUR_TAG)]).await.unwrap();

    // `/me`: the user's own tagged inquiry, whatever newer one was planted.
    let own = ours(&w, "pending", 3);
    let finished_by_attacker = planted(&w, "approved", 2);
    let answer = me(&functions, IssueLink, &w.user).await;
    assert_ok(&answer, "resumed", "current");
    assert_link_answer(&answer, &own.id);
    let pending_plant = planted(&w, "pending", 1);
    let answer = me(&functions, ResumeSession, &w.user).await;
    assert_ok(&answer, "resumed", "current");
    assert_session_answer(&answer, &own.id, true);
    for plant in [&finished_by_attacker, &pending_plant] {
        assert_untouched(&w, plant);
    }
    assert_eq!(creates(rig), 0);

    // The successor search: a planted newer inquiry on the latest version is not the successor, finished or not.
    for status in ["approved", "pending"] {
        let world = World::with_user(rig, &new_user("user"));
        let outdated = ours(&world, "pending", 3);
        world.publish_version();
        let plant = planted(&world, status, 1);
        let answer = world.session(&functions, &outdated.id).await;
        assert_ok(&answer, "recreated", "outdated");
        let new_id = answer.str("inquiry_id").unwrap();
        assert_ne!(new_id, plant.id, "a planted inquiry is never handed out");
        assert_eq!(rig.fake.inquiry(new_id).unwrap().tags, [OUR_TAG], "our create carries the tag");
        assert_untouched(&world, &plant);

        // Presented by id, the planted one is its owner's to open (exempt from the tag), and nobody else's.
        if status == "pending" {
            let by_id = world.link(&functions, &plant.id).await;
            assert_ok(&by_id, "resumed", "current");
            assert_link_answer(&by_id, &plant.id);
            let stranger = session(&functions, &plant.id, "someone-else").await;
            let missing = session(&functions, "inq_NoSuchInquiry0019", "someone-else").await;
            assert_problem(&stranger, 404, "inquiry_not_found");
            assert_eq!(without_inquiry_id(&stranger), without_inquiry_id(&missing));
        }
    }
    assert_eq!(creates(rig), 2, "one replacement per outdated inquiry");
}

/// (e) A flood of planted untagged inquiries pushes the user's own one past the pages the call plan reads (2 of
/// 100): `/me` and the successor search answer 503 `lookup_incomplete` with `Retry-After`, and nothing is created.
pub async fn a_planted_flood_is_never_read_as_none(rig: &Rig) {
    const FLOOD: usize = 210;
    let w = World::new(rig);
    let functions =
        rig.deploy(&[("PERSONA_INQUIRY_TEMPLATE_ID", &w.template.id), ("TRUSTED_INQUIRY_TAG", OUR_TAG)]).await.unwrap();
    let own = ours(&w, "pending", 5);
    // Not yet flooded: found.
    assert_ok(&me(&functions, ResumeSession, &w.user).await, "resumed", "current");

    let outdated = World::with_user(rig, &w.user);
    let old = ours(&outdated, "pending", 5);
    outdated.publish_version();
    for _ in 0..FLOOD {
        planted(&w, "pending", 1);
        planted(&outdated, "approved", 1);
    }
    let before = w.calls_for(&own.id).len();
    for answer in [
        me(&functions, ResumeSession, &w.user).await,
        me(&functions, IssueLink, &w.user).await,
        outdated.session(&functions, &old.id).await,
        outdated.link(&functions, &old.id).await,
    ] {
        assert_problem(&answer, 503, "lookup_incomplete");
        let retry_after = answer.header("retry-after").unwrap_or_default();
        assert!(retry_after.parse::<u32>().is_ok_and(|s| s > 0), "Retry-After: {retry_after:?}");
    }
    assert_eq!(creates(rig), 0, "a flood never makes the user look new");
    assert_eq!(w.calls_for(&own.id).len(), before, "the user's inquiry was beyond the pages read");
    assert_untouched(&outdated, &old);
}

/// (f) `expire` keyed per invocation (`EXPIRE_SUPERSEDED=true`): the invocation that replaced an inquiry reports
/// `superseded_expired: true` because Persona expired it under that invocation's key (`expire:{id}:{request id}`);
/// a later invocation on the same old id expires nothing and reports nothing; a refused expire reports `false`.
pub async fn superseded_expired_is_this_invocations(rig: &Rig) {
    let captured = CapturedLogs::default();
    // In-process the handler logs to this thread's subscriber; the binaries write their own stdout.
    let _logs = tracing::subscriber::set_default(json_log_subscriber(captured.clone()));
    // Another test's thread may have cached a callsite as uninteresting while this subscriber was being set
    // (tracing's interest cache is global): recomputed before each call whose line is read.
    let fresh_interest = tracing::callsite::rebuild_interest_cache;
    let functions = rig.deploy(&[("EXPIRE_SUPERSEDED", "true")]).await.unwrap();
    let w = World::new(rig);
    let old = w.seed("pending");
    w.publish_version();

    fresh_interest();
    let replaced = w.session(&functions, &old.id).await;
    assert_ok(&replaced, "recreated", "outdated");
    let line = invocation_line(&functions, &captured, ResumeSession, &old.id).await;
    assert_eq!(line["superseded_expired"], true, "{line}");
    let request_id = line["span"]["lambda_request_id"].as_str().expect("the invocation's request id").to_owned();
    let expires = w.sent(PersonaOp::Expire, &old.id);
    assert_eq!(expires.len(), 1, "{expires:?}");
    let (status, key, replayed) = &expires[0];
    assert_eq!((*status, *replayed), (Some(200), false));
    assert_eq!(key.as_deref(), Some(format!("expire:{}:{request_id}", old.id).as_str()), "this invocation's key");
    assert_eq!(rig.fake.inquiry(&old.id).unwrap().status, "expired");

    // The same old id again (the other function): the replacement is handed out, nothing is expired or reported.
    fresh_interest();
    let again = w.link(&functions, &old.id).await;
    assert_ok(&again, "recreated", "outdated");
    let line = invocation_line(&functions, &captured, IssueLink, &old.id).await;
    assert!(line.get("superseded_expired").is_none(), "nothing expired in this invocation: {line}");
    assert_eq!(w.sent(PersonaOp::Expire, &old.id).len(), 1);

    // Persona refuses the expire: reported false, the request still succeeds.
    let other = World::new(rig);
    let refused = other.seed("pending");
    other.publish_version();
    rig.fake.add_fault(Fault::new(PersonaOp::Expire, FaultKind::Status { status: 500 }).times(10));
    fresh_interest();
    let answer = other.session(&functions, &refused.id).await;
    rig.fake.clear_faults();
    assert_ok(&answer, "recreated", "outdated");
    let lines = invocation_lines(&functions, &captured, ResumeSession, &refused.id).await;
    let line = lines.last().expect("an invocation line");
    assert_eq!(line["superseded_expired"], false, "{line}");
    assert_eq!(rig.fake.inquiry(&refused.id).unwrap().status, "pending");
}

/// The single invocation line of `function` mentioning `needle`.
async fn invocation_line(functions: &Deployment, captured: &CapturedLogs, function: Function, needle: &str) -> Value {
    let lines = invocation_lines(functions, captured, function, needle).await;
    assert_eq!(lines.len(), 1, "one invocation of {function:?} about {needle}: {lines:?}");
    lines.into_iter().next().unwrap()
}

/// The invocation lines of `function` mentioning `needle`: from the binary's stdout (read by another thread, so
/// waited for up to 5 s) or from the captured in-process logs.
async fn invocation_lines(
    functions: &Deployment,
    captured: &CapturedLogs,
    function: Function,
    needle: &str,
) -> Vec<Value> {
    let name = function_name(function);
    let is_invocation = |l: &Value| l["message"] == "invocation" && l["function"] == name;
    let Some(process) = functions.process(function) else {
        let lines = captured.json_lines().into_iter().filter(|l| l.to_string().contains(needle));
        return lines.filter(is_invocation).collect();
    };
    let waited_until = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let lines: Vec<Value> = process.json_logs_mentioning(needle).into_iter().filter(is_invocation).collect();
        if !lines.is_empty() || std::time::Instant::now() > waited_until {
            return lines;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

fn function_name(function: Function) -> &'static str {
    match function {
        IssueLink => "issue-link",
        ResumeSession => "resume-session",
    }
}

/// (g) A foreign inquiry owned only through its account answers the 404 a missing inquiry answers, after the same
/// Persona calls (one GET: the account's reference id comes with it), and no account read.
pub async fn a_foreign_account_only_inquiry_costs_what_a_missing_one_costs(rig: &Rig) {
    let functions = rig.deploy(&[]).await.unwrap();
    let w = World::new(rig);
    let theirs = account_only(&w, "pending", &w.account_of(&w.user), 1);

    let mut costs = Vec::new();
    for inquiry_id in [theirs.id.as_str(), "inq_NoSuchInquiry0019"] {
        for function in [IssueLink, ResumeSession] {
            let before = rig.fake.requests().len();
            let answer = match function {
                IssueLink => link(&functions, inquiry_id, "someone-else").await,
                ResumeSession => session(&functions, inquiry_id, "someone-else").await,
            };
            assert_problem(&answer, 404, "inquiry_not_found");
            let made: Vec<_> = rig.fake.requests()[before..].iter().filter_map(operation).collect();
            costs.push((without_inquiry_id(&answer), made));
        }
    }
    for (answer, made) in &costs {
        assert_eq!((answer, made), (&costs[0].0, &vec![PersonaOp::Get]), "same answer, same calls");
    }
    // The owner's read is the same single GET, then the hand-out.
    let before = rig.fake.requests().len();
    assert_ok(&w.session(&functions, &theirs.id).await, "resumed", "current");
    let made: Vec<_> = rig.fake.requests()[before..].iter().filter_map(operation).collect();
    assert_eq!(made, [PersonaOp::Get, PersonaOp::Resume]);
    assert!(!rig.fake.requests().iter().any(|r| operation(r) == Some(PersonaOp::AccountGet)), "no account read");
}
