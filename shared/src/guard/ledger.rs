//! The create ledger as a pure state machine (docs/design.md, "The guard", Create ledger): one entry per
//! create, ever — what an invocation does given the entry it read ([`next_step`]), the write an answer from
//! Persona leads to ([`after_answer`]), and what each conditional write does to an entry ([`apply`]: the
//! memory store runs it as is, the DynamoDB adapter states the same conditions as expressions, and one
//! behavioural suite holds both to it).
//!
//! The ledger stores only where the create's one key sequence stands (the attempt `n`); the keys themselves
//! are made by `persona/idempotency.rs`, the same with the guard and without it.

use std::time::Duration;

use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;

use super::time::UnixMillis;

/// A lease lasts the holder's remaining deadline plus this (clocks of containers differ).
pub const LEASE_SLACK: Duration = Duration::from_secs(1);
/// Waiters poll with consistent reads this often (plus up to the same again of jitter: 100–200 ms).
pub const POLL_INTERVAL: Duration = Duration::from_millis(100);
/// A waiter gives up this long before its deadline, leaving time to answer 503 `creation_in_progress`.
pub const GIVE_UP_MARGIN: Duration = Duration::from_millis(500);
/// Entries are kept a year: an outdated inquiry gets exactly one replacement whenever it comes back.
pub const ENTRY_LIFETIME: Duration = Duration::from_secs(365 * 86_400);

/// Which create an entry is for.
#[derive(Debug, Clone, Copy)]
pub enum LedgerKey<'a> {
    /// The replacement of an outdated inquiry: keyed by that inquiry alone (the version is data).
    Recreate { outdated: &'a InquiryId },
    /// A returning user's first inquiry on the `/me` template: the owner appears only as its fingerprint.
    FirstInquiry { template_id: &'a str, owner: &'a Owner },
}

impl LedgerKey<'_> {
    /// `ledger#recreate#{outdated_inquiry_id}` or `ledger#create#{template_id}#{owner_fingerprint}`.
    pub fn item_key(&self) -> String {
        match self {
            Self::Recreate { outdated } => format!("ledger#recreate#{outdated}"),
            Self::FirstInquiry { template_id, owner } => format!("ledger#create#{template_id}#{}", owner.fingerprint()),
        }
    }
}

/// An entry as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub state: EntryState,
    /// Epoch seconds (the table's TTL attribute). Past it the entry counts as absent: TTL deletes lazily.
    pub expires_at: u64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryState {
    /// `holder` is sending key `attempt` until `lease_until`.
    Held { attempt: u32, holder: String, lease_until: UnixMillis },
    /// The create succeeded with key `attempt`: `inquiry_id` is the replacement / first inquiry from now on.
    Done { attempt: u32, inquiry_id: InquiryId },
}

impl Entry {
    /// The entry unless it has outlived `expires_at` (then nobody is creating).
    pub fn live(entry: Option<&Self>, now: UnixMillis) -> Option<&Self> {
        entry.filter(|entry| entry.expires_at > now.seconds())
    }
}

/// The invocation that reads the ledger: its holder id (e.g. the Lambda request id) and its deadline.
#[derive(Debug, Clone, Copy)]
pub struct Claimant<'a> {
    pub holder: &'a str,
    pub deadline: UnixMillis,
}

impl Claimant<'_> {
    /// The lease this invocation asks for: its whole remaining deadline plus [`LEASE_SLACK`].
    pub fn lease_until(&self) -> UnixMillis {
        self.deadline.plus(LEASE_SLACK)
    }
}

/// What to do next, given the entry read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Nobody is creating: claim (write [`LedgerWrite::Claim`]), then send key 1.
    Claim,
    /// This invocation holds the entry: send key `attempt`.
    Send { attempt: u32 },
    /// The holder's lease ran out (it died or gave up): take over (write [`LedgerWrite::TakeOver`]) and send
    /// the SAME key `attempt` — a lost answer is retried, never skipped.
    TakeOver { attempt: u32 },
    /// Another invocation is creating: read again after [`POLL_INTERVAL`] (plus jitter).
    Wait,
    /// The create is done: that inquiry is the answer (read it again before handing anything out).
    UseDone { inquiry_id: InquiryId },
    /// Still held by another and no time left to wait: 503 `creation_in_progress`, `Retry-After: 1`.
    GiveUp,
}

/// design.md's table, from the reader's side.
pub fn next_step(entry: Option<&Entry>, now: UnixMillis, me: &Claimant<'_>) -> Step {
    let Some(entry) = Entry::live(entry, now) else { return Step::Claim };
    match &entry.state {
        EntryState::Done { inquiry_id, .. } => Step::UseDone { inquiry_id: inquiry_id.clone() },
        EntryState::Held { attempt, holder, .. } if holder == me.holder => Step::Send { attempt: *attempt },
        EntryState::Held { attempt, lease_until, .. } if *lease_until < now => Step::TakeOver { attempt: *attempt },
        EntryState::Held { .. } => {
            let next_look = now.plus(POLL_INTERVAL * 2).plus(GIVE_UP_MARGIN);
            if next_look < me.deadline {
                Step::Wait
            } else {
                Step::GiveUp
            }
        }
    }
}

/// What Persona's answer to a create was, as the ledger needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// 201: the inquiry exists.
    Created(InquiryId),
    /// A 5xx answer (Persona stored it under the key: the next attempt needs the next key).
    ServerError,
    /// A 4xx answer: the error is answered; a later request may try again.
    ClientError,
    /// No answer (timeout, dropped connection): the key may have been committed.
    Lost,
}

/// A conditional write; [`apply`] says when it succeeds and what it leaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LedgerWrite {
    /// free -> held(1). Only when there is no live entry.
    Claim { holder: String, lease_until: UnixMillis },
    /// held(n) whose lease ran out -> held(n) with a new holder and lease.
    TakeOver { attempt: u32, holder: String, lease_until: UnixMillis },
    /// held(n) by me, 5xx answer -> held(n+1) (still mine until `lease_until`).
    Advance { attempt: u32, holder: String, lease_until: UnixMillis },
    /// held(n) by me, and I stop: the lease runs out now, so the next invocation takes over at once.
    Release { attempt: u32, holder: String },
    /// held(n) -> done(id), whoever holds it (the answer is a fact); done(id) again is accepted.
    Created { attempt: u32, inquiry_id: InquiryId },
    /// held(n) by me, 4xx answer -> free (the entry is deleted).
    Forget { attempt: u32, holder: String },
}

/// The write that records `answer` for the holder of attempt `attempt`; `None`: nothing to write (a lost
/// answer that this invocation retries itself with the same key). `will_retry`: whether this invocation sends
/// again (after a 5xx: the next key; after a lost answer: the same key) — if not, it releases its lease.
pub fn after_answer(me: &Claimant<'_>, attempt: u32, answer: Answer, will_retry: bool) -> Option<LedgerWrite> {
    let holder = me.holder.to_owned();
    match answer {
        Answer::Created(inquiry_id) => Some(LedgerWrite::Created { attempt, inquiry_id }),
        Answer::ClientError => Some(LedgerWrite::Forget { attempt, holder }),
        Answer::ServerError if will_retry => Some(LedgerWrite::Advance { attempt, holder, lease_until: me.lease_until() }),
        // The next invocation starts at n+1 right away: advance and let the lease run out in one write.
        Answer::ServerError => Some(LedgerWrite::Advance { attempt, holder, lease_until: UnixMillis(0) }),
        Answer::Lost if will_retry => None,
        Answer::Lost => Some(LedgerWrite::Release { attempt, holder }),
    }
}

/// A write whose condition did not hold: someone else wrote first; read again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conflict;

/// The condition and effect of `write` on `entry` at `now`: the entry after it (`None`: deleted), or
/// [`Conflict`]. Every successful write (but a delete) keeps the entry for [`ENTRY_LIFETIME`] from `now`.
pub fn apply(entry: Option<&Entry>, write: &LedgerWrite, now: UnixMillis) -> Result<Option<Entry>, Conflict> {
    let live = Entry::live(entry, now).map(|entry| &entry.state);
    let held = |attempt: u32| matches!(live, Some(EntryState::Held { attempt: n, .. }) if *n == attempt);
    let held_by = |attempt: u32, me: &str| {
        matches!(live, Some(EntryState::Held { attempt: n, holder, .. }) if *n == attempt && holder == me)
    };
    let kept = |state: EntryState| Ok(Some(Entry { state, expires_at: now.plus(ENTRY_LIFETIME).seconds() }));
    match write {
        LedgerWrite::Claim { holder, lease_until } if live.is_none() => {
            kept(EntryState::Held { attempt: 1, holder: holder.clone(), lease_until: *lease_until })
        }
        LedgerWrite::TakeOver { attempt, holder, lease_until }
            if matches!(live, Some(EntryState::Held { attempt: n, lease_until: old, .. }) if n == attempt && *old < now) =>
        {
            kept(EntryState::Held { attempt: *attempt, holder: holder.clone(), lease_until: *lease_until })
        }
        LedgerWrite::Advance { attempt, holder, lease_until } if held_by(*attempt, holder) => {
            kept(EntryState::Held { attempt: attempt + 1, holder: holder.clone(), lease_until: *lease_until })
        }
        LedgerWrite::Release { attempt, holder } if held_by(*attempt, holder) => {
            kept(EntryState::Held { attempt: *attempt, holder: holder.clone(), lease_until: UnixMillis(0) })
        }
        LedgerWrite::Created { attempt, inquiry_id } if held(*attempt) => {
            kept(EntryState::Done { attempt: *attempt, inquiry_id: inquiry_id.clone() })
        }
        LedgerWrite::Created { inquiry_id, .. } => match live {
            Some(EntryState::Done { attempt, inquiry_id: done }) if done == inquiry_id => {
                kept(EntryState::Done { attempt: *attempt, inquiry_id: done.clone() })
            }
            _ => Err(Conflict),
        },
        LedgerWrite::Forget { attempt, holder } if held_by(*attempt, holder) => Ok(None),
        _ => Err(Conflict),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: UnixMillis = UnixMillis(1_796_121_075_250);
    const YEAR_LATER: u64 = 1_796_121_075 + 365 * 86_400;

    fn id(raw: &str) -> InquiryId {
        InquiryId::parse(raw).unwrap()
    }

    fn held(attempt: u32, holder: &str, lease_until: u64) -> Option<Entry> {
        let state = EntryState::Held { attempt, holder: holder.into(), lease_until: UnixMillis(lease_until) };
        Some(Entry { state, expires_at: YEAR_LATER })
    }

    fn done(attempt: u32, inquiry: &str) -> Option<Entry> {
        Some(Entry { state: EntryState::Done { attempt, inquiry_id: id(inquiry) }, expires_at: YEAR_LATER })
    }

    fn expired(mut entry: Option<Entry>) -> Option<Entry> {
        entry.as_mut().unwrap().expires_at = NOW.seconds();
        entry
    }

    #[test]
    fn keys_name_the_create_and_never_the_owner() {
        let outdated = id("inq_Old1");
        let owner = Owner::new("alice@example.com").unwrap();
        assert_eq!(LedgerKey::Recreate { outdated: &outdated }.item_key(), "ledger#recreate#inq_Old1");
        let first = LedgerKey::FirstInquiry { template_id: "itmpl_T1", owner: &owner }.item_key();
        assert_eq!(first, format!("ledger#create#itmpl_T1#{}", owner.fingerprint()));
        assert!(!first.contains("alice"));
    }

    #[test]
    fn the_next_step_follows_the_design_table() {
        let me = Claimant { holder: "me", deadline: UnixMillis(NOW.0 + 10_000) };
        let nearly_out = Claimant { holder: "me", deadline: UnixMillis(NOW.0 + 700) };
        let live_lease = NOW.0 + 5_000;
        let dead_lease = NOW.0 - 1;
        // (entry, reader, expected)
        let table: Vec<(Option<Entry>, Claimant<'_>, Step)> = vec![
            (None, me, Step::Claim),
            (expired(done(1, "inq_Done1")), me, Step::Claim),
            (expired(held(3, "other", live_lease)), me, Step::Claim),
            (done(2, "inq_Done1"), me, Step::UseDone { inquiry_id: id("inq_Done1") }),
            (done(2, "inq_Done1"), nearly_out, Step::UseDone { inquiry_id: id("inq_Done1") }),
            (held(1, "me", live_lease), me, Step::Send { attempt: 1 }),
            (held(4, "me", dead_lease), me, Step::Send { attempt: 4 }),
            (held(3, "other", dead_lease), me, Step::TakeOver { attempt: 3 }),
            (held(3, "other", 0), nearly_out, Step::TakeOver { attempt: 3 }),
            // A lease that ends exactly now has not run out yet.
            (held(3, "other", NOW.0), me, Step::Wait),
            (held(2, "other", live_lease), me, Step::Wait),
            (held(2, "other", live_lease), nearly_out, Step::GiveUp),
        ];
        for (entry, reader, expected) in table {
            assert_eq!(next_step(entry.as_ref(), NOW, &reader), expected, "{entry:?} read by {reader:?}");
        }
    }

    #[test]
    fn a_waiter_gives_up_only_when_one_more_poll_would_pass_its_deadline_less_the_margin() {
        let entry = held(1, "other", NOW.0 + 60_000);
        let threshold = NOW.0 + 200 + 500;
        for (deadline, expected) in [(threshold + 1, Step::Wait), (threshold, Step::GiveUp), (NOW.0, Step::GiveUp)] {
            let reader = Claimant { holder: "me", deadline: UnixMillis(deadline) };
            assert_eq!(next_step(entry.as_ref(), NOW, &reader), expected, "deadline {deadline}");
        }
    }

    #[test]
    fn answers_lead_to_the_design_transitions() {
        let me = Claimant { holder: "me", deadline: UnixMillis(NOW.0 + 10_000) };
        let lease = UnixMillis(NOW.0 + 11_000);
        let (h, a) = ("me".to_owned(), 3);
        // (answer, will_retry, expected write)
        let table = [
            (Answer::Created(id("inq_New1")), true, Some(LedgerWrite::Created { attempt: a, inquiry_id: id("inq_New1") })),
            (Answer::Created(id("inq_New1")), false, Some(LedgerWrite::Created { attempt: a, inquiry_id: id("inq_New1") })),
            (Answer::ServerError, true, Some(LedgerWrite::Advance { attempt: a, holder: h.clone(), lease_until: lease })),
            (Answer::ServerError, false, Some(LedgerWrite::Advance { attempt: a, holder: h.clone(), lease_until: UnixMillis(0) })),
            (Answer::ClientError, true, Some(LedgerWrite::Forget { attempt: a, holder: h.clone() })),
            (Answer::ClientError, false, Some(LedgerWrite::Forget { attempt: a, holder: h.clone() })),
            (Answer::Lost, true, None),
            (Answer::Lost, false, Some(LedgerWrite::Release { attempt: a, holder: h.clone() })),
        ];
        for (answer, will_retry, expected) in table {
            assert_eq!(after_answer(&me, a, answer.clone(), will_retry), expected, "{answer:?} retry={will_retry}");
        }
    }

    #[test]
    fn writes_hold_only_under_their_conditions() {
        let lease = UnixMillis(NOW.0 + 11_000);
        let live = NOW.0 + 5_000;
        let dead = NOW.0 - 1;
        let claim = LedgerWrite::Claim { holder: "me".into(), lease_until: lease };
        let take_over = |attempt| LedgerWrite::TakeOver { attempt, holder: "me".into(), lease_until: lease };
        let advance = |attempt| LedgerWrite::Advance { attempt, holder: "me".into(), lease_until: lease };
        let release = |attempt| LedgerWrite::Release { attempt, holder: "me".into() };
        let created = |attempt, inquiry: &str| LedgerWrite::Created { attempt, inquiry_id: id(inquiry) };
        let forget = |attempt| LedgerWrite::Forget { attempt, holder: "me".into() };
        let mine = |attempt, until: u64| held(attempt, "me", until);
        // (entry before, write, entry after or conflict)
        type Row = (Option<Entry>, LedgerWrite, Result<Option<Entry>, Conflict>);
        let table: Vec<Row> = vec![
            (None, claim.clone(), Ok(mine(1, lease.0))),
            (expired(done(1, "inq_Old1")), claim.clone(), Ok(mine(1, lease.0))),
            (held(1, "other", dead), claim.clone(), Err(Conflict)),
            (done(1, "inq_Done1"), claim.clone(), Err(Conflict)),
            // Take-over: same attempt, only once the lease ran out, never a done entry.
            (held(3, "other", dead), take_over(3), Ok(mine(3, lease.0))),
            (held(3, "other", 0), take_over(3), Ok(mine(3, lease.0))),
            (held(3, "other", live), take_over(3), Err(Conflict)),
            (held(3, "other", dead), take_over(2), Err(Conflict)),
            (None, take_over(1), Err(Conflict)),
            (done(3, "inq_Done1"), take_over(3), Err(Conflict)),
            // A 5xx answer advances the holder's attempt, nobody else's.
            (held(2, "me", live), advance(2), Ok(mine(3, lease.0))),
            (held(2, "other", live), advance(2), Err(Conflict)),
            (held(3, "me", live), advance(2), Err(Conflict)),
            (done(2, "inq_Done1"), advance(2), Err(Conflict)),
            (held(2, "me", live), release(2), Ok(mine(2, 0))),
            (held(2, "other", live), release(2), Err(Conflict)),
            // Done: whoever holds attempt n; final; the same id again is accepted.
            (held(2, "me", live), created(2, "inq_New1"), Ok(done(2, "inq_New1"))),
            (held(2, "other", dead), created(2, "inq_New1"), Ok(done(2, "inq_New1"))),
            (held(3, "me", live), created(2, "inq_New1"), Err(Conflict)),
            (done(2, "inq_New1"), created(2, "inq_New1"), Ok(done(2, "inq_New1"))),
            (done(2, "inq_New1"), created(2, "inq_Other1"), Err(Conflict)),
            (None, created(1, "inq_New1"), Err(Conflict)),
            // A 4xx answer frees the entry, only for its holder.
            (held(1, "me", live), forget(1), Ok(None)),
            (held(1, "other", live), forget(1), Err(Conflict)),
            (done(1, "inq_Done1"), forget(1), Err(Conflict)),
        ];
        for (before, write, expected) in table {
            assert_eq!(apply(before.as_ref(), &write, NOW), expected, "{write:?} on {before:?}");
        }
    }
}
