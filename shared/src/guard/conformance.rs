//! The behavioural suite every [`GuardStore`] must pass: the memory store in this crate's unit tests, the
//! DynamoDB adapter against moto in the rig (`tests/tests/binaries/guard.rs`). Each check uses its own keys
//! (its own inquiry ids, owners and windows), so one table serves them all.

use std::time::Duration;

use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;

use super::budget::{admission_counters, calls_counter, session_counter, Admission, Budget, Limits};
use super::ledger::{Entry, EntryState, LedgerKey, LedgerWrite};
use super::store::{Counted, GuardStore, Written};
use super::time::UnixMillis;
use super::Guard;

/// 2026-12-01T10:31:15.250Z: each check shifts it by whole days, so no two share a window.
const BASE: UnixMillis = UnixMillis(1_796_121_075_250);
const DAY_MS: u64 = 86_400_000;

fn day(n: u64) -> UnixMillis {
    UnixMillis(BASE.0 + n * DAY_MS)
}

fn inquiry(raw: &str) -> InquiryId {
    InquiryId::parse(raw).expect("a valid inquiry id")
}

/// Every check, one after the other.
pub async fn run_all<S: GuardStore>(store: &S) {
    // Each on the heap: with the SDK's futures inside, one future of them all overflows a test thread's stack.
    Box::pin(owner_limit_counts_requests_per_minute(store)).await;
    Box::pin(session_limit_counts_hand_outs_per_day(store)).await;
    Box::pin(share_limit_counts_calls_and_a_refusal_consumes_nothing_else(store)).await;
    Box::pin(limits_at_zero_touch_nothing(store)).await;
    Box::pin(concurrent_claims_have_one_winner(store)).await;
    Box::pin(take_over_after_the_lease_keeps_the_attempt(store)).await;
    Box::pin(server_errors_advance_only_the_holders_attempt(store)).await;
    Box::pin(done_is_final(store)).await;
    Box::pin(client_errors_free_the_entry_and_expired_entries_count_as_free(store)).await;
    Box::pin(versions_are_remembered_until_they_expire(store)).await;
}

/// `REQUESTS_PER_OWNER_PER_MINUTE` = 3: the fourth request of a minute is refused until the next minute;
/// another owner is not affected.
pub async fn owner_limit_counts_requests_per_minute<S: GuardStore>(store: &S) {
    let now = day(1);
    let guard = Guard::new(store, Limits { requests_per_owner_per_minute: 3, ..Limits::OFF });
    let (alice, bob) = (Owner::new("conformance-alice").unwrap(), Owner::new("conformance-bob").unwrap());
    let request = |owner| Admission { owner: Some(owner), inquiry: None, persona_calls: 2 };
    for n in 1..=3 {
        guard.admit(&request(&alice), now).await.unwrap_or_else(|e| panic!("request {n}: {e:?}"));
    }
    let refused = guard.admit(&request(&alice), now).await.expect_err("the fourth request is refused");
    let refused = refused.refused().expect("a refusal, not an unavailable guard");
    assert_eq!(refused.budget, Budget::OwnerRequests);
    assert_eq!(refused.retry_after_seconds, 45, "seconds to the end of the minute");
    guard.admit(&request(&bob), now).await.expect("another owner has their own budget");
    guard.admit(&request(&alice), now.plus(Duration::from_secs(45))).await.expect("the next minute has room");
}

/// `SESSIONS_PER_INQUIRY_PER_DAY` = 2, counted by the admission of a presented inquiry and by
/// `count_session` for an inquiry found by a lookup; the refusal names the inquiry.
pub async fn session_limit_counts_hand_outs_per_day<S: GuardStore>(store: &S) {
    let now = day(2);
    let guard = Guard::new(store, Limits { sessions_per_inquiry_per_day: 2, ..Limits::OFF });
    let (presented, other) = (inquiry("inq_ConfSessions1"), inquiry("inq_ConfSessions2"));
    let request = Admission { owner: None, inquiry: Some(&presented), persona_calls: 2 };
    guard.admit(&request, now).await.expect("first hand-out");
    guard.count_session(&presented, None, now).await.expect("second hand-out (found by a lookup)");
    let refused = guard.admit(&request, now).await.expect_err("third hand-out today");
    let refused = refused.refused().expect("a refusal");
    assert_eq!(refused.budget, Budget::InquirySessions { inquiry: presented.clone() });
    assert_eq!(refused.retry_after_seconds, 48_525, "seconds to the end of the UTC day");
    let refused = guard.count_session(&presented, None, now).await.expect_err("still refused").refused().cloned();
    assert_eq!(refused.map(|r| r.budget), Some(Budget::InquirySessions { inquiry: presented.clone() }));
    guard.count_session(&other, None, now).await.expect("another inquiry has its own budget");
    guard.admit(&request, day(3)).await.expect("the next day has room");
}

/// `PERSONA_CALLS_PER_MINUTE` = 20 with plans of 4 calls: five requests fit, the sixth is refused and its
/// owner and session counters are not consumed; `reserve_calls` adds single calls to the same share.
pub async fn share_limit_counts_calls_and_a_refusal_consumes_nothing_else<S: GuardStore>(store: &S) {
    let now = day(4);
    let limits = Limits { persona_calls_per_minute: 20, requests_per_owner_per_minute: 10, sessions_per_inquiry_per_day: 1 };
    let guard = Guard::new(store, limits);
    let owner = Owner::new("conformance-share").unwrap();
    let presented = inquiry("inq_ConfShare1");
    for n in 0..5u32 {
        let other = Owner::new(format!("conformance-share-{n}")).unwrap();
        let plan = Admission { owner: Some(&other), inquiry: None, persona_calls: 4 };
        guard.admit(&plan, now).await.unwrap_or_else(|e| panic!("plan {n}: {e:?}"));
    }
    let request = Admission { owner: Some(&owner), inquiry: Some(&presented), persona_calls: 4 };
    let refused = guard.admit(&request, now).await.expect_err("the share is spent");
    assert_eq!(refused.refused().map(|r| r.budget.clone()), Some(Budget::PersonaCalls));
    // Nothing of the refused request was counted: its one session of the day is still free.
    let later = now.plus(Duration::from_secs(60));
    guard.admit(&request, later).await.expect("next minute: the share has room and the session was not consumed");
    // Single calls beyond a plan draw on the same share.
    for n in 0..16 {
        guard.reserve_calls(1, later).await.unwrap_or_else(|e| panic!("call {n}: {e:?}"));
    }
    let refused = guard.reserve_calls(1, later).await.expect_err("20 calls this minute");
    assert_eq!(refused.refused().map(|r| r.budget.clone()), Some(Budget::PersonaCalls));
    // A plan bigger than the whole share is refused without a write.
    let counters = admission_counters(&Limits { persona_calls_per_minute: 3, ..Limits::OFF }, &request, day(5));
    assert_eq!(store.add(&counters, day(5)).await.expect("answers"), Counted::Full(0));
    let single = calls_counter(&Limits { persona_calls_per_minute: 3, ..Limits::OFF }, 3, day(5)).unwrap();
    assert_eq!(store.add(&[single], day(5)).await.expect("answers"), Counted::All, "the refused plan wrote nothing");
}

/// `0` turns a budget off: nothing is counted, nothing is refused.
pub async fn limits_at_zero_touch_nothing<S: GuardStore>(store: &S) {
    let now = day(6);
    let guard = Guard::new(store, Limits::OFF);
    let owner = Owner::new("conformance-off").unwrap();
    let presented = inquiry("inq_ConfOff1");
    for _ in 0..50 {
        let request = Admission { owner: Some(&owner), inquiry: Some(&presented), persona_calls: 8 };
        guard.admit(&request, now).await.expect("off");
        guard.count_session(&presented, None, now).await.expect("off");
        guard.reserve_calls(1, now).await.expect("off");
    }
    assert_eq!(store.add(&[], now).await.expect("answers"), Counted::All);
    // What was left off was not written either: turned on now, a budget of 1 still has its one.
    let one = session_counter(&Limits { sessions_per_inquiry_per_day: 1, ..Limits::OFF }, &presented, Some(&owner), now).unwrap();
    assert_eq!(store.add(std::slice::from_ref(&one), now).await.expect("answers"), Counted::All);
    assert_eq!(store.add(&[one], now).await.expect("answers"), Counted::Full(0));
}

fn held(entry: &Option<Entry>) -> (u32, &str, UnixMillis) {
    match entry.as_ref().map(|e| &e.state) {
        Some(EntryState::Held { attempt, holder, lease_until }) => (*attempt, holder.as_str(), *lease_until),
        other => panic!("expected a held entry, got {other:?}"),
    }
}

/// Two invocations claim the same create at once: exactly one holds it, at attempt 1.
pub async fn concurrent_claims_have_one_winner<S: GuardStore>(store: &S) {
    let now = day(7);
    let outdated = inquiry("inq_ConfClaim1");
    let key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let lease = now.plus(Duration::from_secs(26));
    let claim = |holder: &str| LedgerWrite::Claim { holder: holder.into(), lease_until: lease };
    let (a, b) = (claim("holder-a"), claim("holder-b"));
    let (first, second) = futures_join(store.write_entry(&key, &a, now), store.write_entry(&key, &b, now)).await;
    let outcomes = [first.expect("answers"), second.expect("answers")];
    assert_eq!(outcomes.iter().filter(|w| **w == Written::Yes).count(), 1, "one winner: {outcomes:?}");
    let entry = store.read_entry(&key).await.expect("reads");
    let (attempt, holder, lease_until) = held(&entry);
    let winner = if outcomes[0] == Written::Yes { "holder-a" } else { "holder-b" };
    assert_eq!((attempt, holder, lease_until), (1, winner, lease));
    assert_eq!(entry.unwrap().expires_at, now.seconds() + 365 * 86_400, "kept a year");
    assert_eq!(store.write_entry(&key, &claim("holder-c"), now).await.expect("answers"), Written::Conflict);
}

/// A holder that dies at attempt 2: while its lease runs nobody takes over; after it, one taker wins and
/// keeps attempt 2 (the same key is sent again).
pub async fn take_over_after_the_lease_keeps_the_attempt<S: GuardStore>(store: &S) {
    let now = day(8);
    let outdated = inquiry("inq_ConfTakeOver1");
    let key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let lease = now.plus(Duration::from_secs(10));
    let dead = "holder-dead".to_owned();
    assert_eq!(write(store, &key, LedgerWrite::Claim { holder: dead.clone(), lease_until: lease }, now).await, Written::Yes);
    let advance = LedgerWrite::Advance { attempt: 1, holder: dead, lease_until: lease };
    assert_eq!(write(store, &key, advance, now).await, Written::Yes);
    let take_over = |holder: &str, at: UnixMillis| LedgerWrite::TakeOver {
        attempt: 2,
        holder: holder.into(),
        lease_until: at.plus(Duration::from_secs(26)),
    };
    let during = now.plus(Duration::from_secs(9));
    assert_eq!(write(store, &key, take_over("holder-early", during), during).await, Written::Conflict);
    let after = lease.plus(Duration::from_millis(1));
    let (a, b) = (take_over("holder-x", after), take_over("holder-y", after));
    let (first, second) = futures_join(store.write_entry(&key, &a, after), store.write_entry(&key, &b, after)).await;
    let outcomes = [first.expect("answers"), second.expect("answers")];
    assert_eq!(outcomes.iter().filter(|w| **w == Written::Yes).count(), 1, "one taker: {outcomes:?}");
    let entry = store.read_entry(&key).await.expect("reads");
    let (attempt, holder, _) = held(&entry);
    assert_eq!(attempt, 2, "taken over with the same attempt");
    assert!(holder == "holder-x" || holder == "holder-y", "{holder}");
    let wrong_attempt = LedgerWrite::TakeOver { attempt: 3, holder: "z".into(), lease_until: after };
    assert_eq!(write(store, &key, wrong_attempt, after.plus(Duration::from_secs(60))).await, Written::Conflict);
}

/// A 5xx answer advances the attempt for every later invocation — only its holder's write does; a released
/// lease is taken over at once, at the advanced attempt.
pub async fn server_errors_advance_only_the_holders_attempt<S: GuardStore>(store: &S) {
    let now = day(9);
    let owner = Owner::new("conformance-advance").unwrap();
    let key = LedgerKey::FirstInquiry { template_id: "itmpl_Conf1", owner: &owner }.item_key();
    let lease = now.plus(Duration::from_secs(20));
    let me = "holder-me".to_owned();
    assert_eq!(write(store, &key, LedgerWrite::Claim { holder: me.clone(), lease_until: lease }, now).await, Written::Yes);
    let by_other = LedgerWrite::Advance { attempt: 1, holder: "holder-other".into(), lease_until: lease };
    assert_eq!(write(store, &key, by_other, now).await, Written::Conflict);
    for attempt in 1..=3 {
        let advance = LedgerWrite::Advance { attempt, holder: me.clone(), lease_until: lease };
        assert_eq!(write(store, &key, advance, now).await, Written::Yes, "5xx on attempt {attempt}");
    }
    let stale = LedgerWrite::Advance { attempt: 2, holder: me.clone(), lease_until: lease };
    assert_eq!(write(store, &key, stale, now).await, Written::Conflict, "a stale attempt never moves the sequence");
    assert_eq!(held(&store.read_entry(&key).await.expect("reads")).0, 4);
    // The holder stops: the next invocation, a moment later, takes over attempt 4 without waiting.
    assert_eq!(write(store, &key, LedgerWrite::Release { attempt: 4, holder: me }, now).await, Written::Yes);
    let next = now.plus(Duration::from_millis(1));
    let take_over = LedgerWrite::TakeOver { attempt: 4, holder: "holder-next".into(), lease_until: lease };
    assert_eq!(write(store, &key, take_over, next).await, Written::Yes);
    assert_eq!(held(&store.read_entry(&key).await.expect("reads")), (4, "holder-next", lease));
}

/// done(id) is final: nothing but the same 201 again changes it.
pub async fn done_is_final<S: GuardStore>(store: &S) {
    let now = day(10);
    let outdated = inquiry("inq_ConfDone1");
    let key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let lease = now.plus(Duration::from_secs(20));
    let me = "holder-done".to_owned();
    assert_eq!(write(store, &key, LedgerWrite::Claim { holder: me.clone(), lease_until: lease }, now).await, Written::Yes);
    let created = LedgerWrite::Created { attempt: 1, inquiry_id: inquiry("inq_ConfNew1") };
    assert_eq!(write(store, &key, created.clone(), now).await, Written::Yes);
    assert_eq!(write(store, &key, created, now).await, Written::Yes, "the same 201 recorded again");
    let later = lease.plus(Duration::from_secs(3600));
    for write_after in [
        LedgerWrite::Claim { holder: "x".into(), lease_until: later },
        LedgerWrite::TakeOver { attempt: 1, holder: "x".into(), lease_until: later },
        LedgerWrite::Advance { attempt: 1, holder: me.clone(), lease_until: later },
        LedgerWrite::Release { attempt: 1, holder: me.clone() },
        LedgerWrite::Forget { attempt: 1, holder: me.clone() },
        LedgerWrite::Created { attempt: 1, inquiry_id: inquiry("inq_ConfOther1") },
    ] {
        assert_eq!(write(store, &key, write_after.clone(), later).await, Written::Conflict, "{write_after:?}");
    }
    let entry = store.read_entry(&key).await.expect("reads").expect("kept");
    assert_eq!(entry.state, EntryState::Done { attempt: 1, inquiry_id: inquiry("inq_ConfNew1") });
}

/// A 4xx answer deletes the entry (a later request may try again); an entry past its `expires_at` counts as
/// free even though it is still stored (TTL deletes lazily, moto never).
pub async fn client_errors_free_the_entry_and_expired_entries_count_as_free<S: GuardStore>(store: &S) {
    let now = day(11);
    let outdated = inquiry("inq_ConfForget1");
    let key = LedgerKey::Recreate { outdated: &outdated }.item_key();
    let lease = now.plus(Duration::from_secs(20));
    let claim = |holder: &str| LedgerWrite::Claim { holder: holder.into(), lease_until: lease };
    assert_eq!(write(store, &key, claim("holder-1"), now).await, Written::Yes);
    let by_other = LedgerWrite::Forget { attempt: 1, holder: "holder-2".into() };
    assert_eq!(write(store, &key, by_other, now).await, Written::Conflict);
    assert_eq!(write(store, &key, LedgerWrite::Forget { attempt: 1, holder: "holder-1".into() }, now).await, Written::Yes);
    assert_eq!(store.read_entry(&key).await.expect("reads"), None);
    assert_eq!(write(store, &key, claim("holder-2"), now).await, Written::Yes, "free again");
    let created = LedgerWrite::Created { attempt: 1, inquiry_id: inquiry("inq_ConfForgetNew1") };
    assert_eq!(write(store, &key, created, now).await, Written::Yes);
    let year_later = now.plus(Duration::from_secs(365 * 86_400));
    let stored = store.read_entry(&key).await.expect("reads");
    assert!(stored.is_some(), "still stored");
    assert_eq!(Entry::live(stored.as_ref(), year_later), None, "but expired");
    let late = LedgerWrite::Created { attempt: 1, inquiry_id: inquiry("inq_ConfForgetNew1") };
    assert_eq!(write(store, &key, late, year_later).await, Written::Conflict, "an expired entry is free, not done");
    let reclaim = LedgerWrite::Claim { holder: "holder-3".into(), lease_until: year_later.plus(Duration::from_secs(20)) };
    assert_eq!(write(store, &key, reclaim, year_later).await, Written::Yes);
    assert_eq!(held(&store.read_entry(&key).await.expect("reads")).0, 1);
}

/// The current-version set: versions a create returned, each until its own expiry.
pub async fn versions_are_remembered_until_they_expire<S: GuardStore>(store: &S) {
    let now = day(12);
    let hour = Duration::from_secs(3600);
    assert_eq!(store.current_versions("itmpl_ConfVersions1", now).await.expect("reads"), Vec::<String>::new());
    store.remember_version("itmpl_ConfVersions1", "itmplv_B", now.plus(hour)).await.expect("writes");
    let later = now.plus(Duration::from_secs(1800));
    store.remember_version("itmpl_ConfVersions1", "itmplv_A", later.plus(hour)).await.expect("writes");
    store.remember_version("itmpl_ConfVersions2", "itmplv_C", now.plus(hour)).await.expect("writes");
    assert_eq!(store.current_versions("itmpl_ConfVersions1", later).await.expect("reads"), ["itmplv_A", "itmplv_B"]);
    let after_b = now.plus(hour);
    assert_eq!(store.current_versions("itmpl_ConfVersions1", after_b).await.expect("reads"), ["itmplv_A"]);
    // Remembered again: the expiry moves on.
    store.remember_version("itmpl_ConfVersions1", "itmplv_B", after_b.plus(hour)).await.expect("writes");
    assert_eq!(store.current_versions("itmpl_ConfVersions1", after_b).await.expect("reads"), ["itmplv_A", "itmplv_B"]);
    assert_eq!(store.current_versions("itmpl_ConfVersions2", later).await.expect("reads"), ["itmplv_C"]);
}

async fn write<S: GuardStore>(store: &S, key: &str, write: LedgerWrite, now: UnixMillis) -> Written {
    store.write_entry(key, &write, now).await.unwrap_or_else(|e| panic!("{write:?}: {e}"))
}

/// Both futures in flight at once (for a store with I/O, both requests are on the wire together).
async fn futures_join<A: std::future::Future, B: std::future::Future>(a: A, b: B) -> (A::Output, B::Output) {
    tokio::join!(a, b)
}
