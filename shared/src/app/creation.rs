//! Creating an inquiry exactly once (docs/design.md, "The guard", Create ledger, and "Idempotency keys"): the
//! ledger records where the create's one key sequence stands, every transition a conditional write. This module
//! only runs the loop; what to do at each step is `guard::ledger`'s pure state machine.
//!
//! - A 5xx *answer* is recorded before anyone sends the next key, so every later invocation starts past it at
//!   once: after an incident of any length the first invocation sends a fresh key.
//! - A lost answer, a holder that died or gave up: the same key again (Persona replays it if it was committed).
//! - Someone else holding the entry: poll until done, or answer 503 `creation_in_progress` before the deadline.
//! - The guard down: the key sequence is walked from the start, as without the guard (Persona's 24-h replay is
//!   the only protection then).

use std::time::Duration;

use crate::app::error::{Error, Throttle};
use crate::app::guard_session::GuardSession;
use crate::domain::ids::InquiryId;
use crate::guard::ledger::{self, Answer, Claimant, Entry, LedgerKey, LedgerWrite, Step};
use crate::guard::{UnixMillis, Written};
use crate::persona::calls::Invocation;
use crate::persona::error::UpstreamError;
use crate::persona::idempotency::KeySequence;
use crate::persona::model::{CreateInquiry, CreatedDocument};
use crate::persona::port::PersonaPort;
use crate::persona::retry::RetryPolicy;

/// How a create ended.
#[derive(Debug)]
pub enum Created {
    /// This invocation's create answered 201. Its ledger write is left to the caller ([`record_created`]), to go
    /// alongside the hand-out instead of before it; if it never lands, the next invocation takes the lease over
    /// with the same key and Persona replays the 201 (24 h).
    New(Box<CreatedDocument>, Option<PendingRecord>),
    /// The ledger names the inquiry an earlier (or concurrent) invocation created: read it again before anything
    /// is handed out.
    Recorded(InquiryId),
}

/// A 201 whose ledger write fails is written again this many times (within the deadline); if it still fails,
/// the next invocation's same-key retry gets Persona's replay (24 h) — the residual risk, documented.
const DONE_WRITE_TRIES: u32 = 3;
/// Calls kept for what follows a create (the hand-out), so a 5xx walk never spends the invocation's cap.
const CALLS_KEPT_FOR_THE_HAND_OUT: usize = 1;
/// Time kept for what follows a create (the hand-out and the answer).
const TIME_KEPT_FOR_THE_HAND_OUT: Duration = Duration::from_millis(800);

/// The ledger write of a 201, for [`record_created`].
#[derive(Debug)]
pub struct PendingRecord(LedgerWrite);

/// The ledger entry as read ([`GuardSession::ledger_entry`]): `None` when the guard is down, `Some(None)` when
/// there is no entry yet.
pub type LedgerRead = Option<Option<Entry>>;

/// Creates `body` under `key`'s ledger entry with the keys of `keys` (the same sequence with or without the guard).
/// `first_look`: the entry as the caller read it, in a round trip it had anyway, beside the reservation of the
/// create and its hand-out (the caller knows its call plan; this loop only reads the entry again after a conflict).
#[allow(clippy::too_many_arguments)] // the create's parts, each of a different kind
pub async fn create_once<P: PersonaPort>(
    persona: &P,
    guard: &GuardSession,
    inv: &mut Invocation,
    key: LedgerKey<'_>,
    body: &CreateInquiry,
    keys: KeySequence,
    retry: &RetryPolicy,
    first_look: LedgerRead,
) -> Result<Created, Error> {
    let holder = inv.holder_id().to_owned();
    let deadline = UnixMillis::now().plus(inv.remaining());
    let me = Claimant { holder: &holder, deadline };
    let mut fresh_server_errors = 0;
    let mut first_look = Some(first_look);
    loop {
        let entry = match first_look.take() {
            Some(entry) => entry,
            None => guard.ledger_entry(&key).await,
        };
        let Some(entry) = entry else {
            return walk(persona, inv, body, keys).await;
        };
        let attempt = match ledger::next_step(entry.as_ref(), UnixMillis::now(), &me) {
            Step::UseDone { inquiry_id } => return Ok(Created::Recorded(inquiry_id)),
            Step::Send { attempt } => attempt,
            Step::Claim => {
                let claim = LedgerWrite::Claim { holder: holder.clone(), lease_until: me.lease_until() };
                match guard.write_ledger(&key, &claim).await {
                    Some(Written::Yes) => 1,
                    Some(Written::Conflict) => continue,
                    None => return walk(persona, inv, body, keys).await,
                }
            }
            Step::TakeOver { attempt } => {
                let take_over = LedgerWrite::TakeOver { attempt, holder: holder.clone(), lease_until: me.lease_until() };
                match guard.write_ledger(&key, &take_over).await {
                    Some(Written::Yes) => attempt,
                    Some(Written::Conflict) => continue,
                    None => return walk(persona, inv, body, keys).await,
                }
            }
            Step::Wait => {
                let jitter = ledger::POLL_INTERVAL.mul_f64(fastrand::f64());
                tokio::time::sleep(ledger::POLL_INTERVAL + jitter).await;
                continue;
            }
            Step::GiveUp => return Err(Throttle::CreationInProgress.into()),
        };

        let calls_before = inv.calls.len();
        let result = persona.create_inquiry(inv, body, keys.clone().held_at(attempt)).await;
        let answer = answer_of(&result, inv, calls_before);
        let will_retry = answer == Answer::ServerError && room_for_another_key(inv, retry);
        let write = ledger::after_answer(&me, attempt, answer, will_retry);
        let error = match result {
            // The 201's write goes alongside the hand-out (the caller's `record_created`).
            Ok(created) => return Ok(Created::New(Box::new(created), write.map(PendingRecord))),
            Err(error) => error,
        };
        if let Some(write) = write {
            record(guard, &key, &write, inv).await;
        }
        if !will_retry {
            return Err(error.into());
        }
        // A fresh 5xx (the ledger knows this key was never answered before): back off like any retry.
        fresh_server_errors += 1;
        tokio::time::sleep(retry.backoff(fresh_server_errors, fastrand::f64())).await;
    }
}

/// Without the guard: every invocation walks the sequence from the start (a replayed 5xx costs a call, no wait).
async fn walk<P: PersonaPort>(
    persona: &P,
    inv: &mut Invocation,
    body: &CreateInquiry,
    keys: KeySequence,
) -> Result<Created, Error> {
    Ok(Created::New(Box::new(persona.create_inquiry(inv, body, keys).await?), None))
}

/// Records a 201 in the ledger (retried: the ledger must name the inquiry).
pub async fn record_created(guard: &GuardSession, key: &LedgerKey<'_>, pending: Option<PendingRecord>, inv: &Invocation) {
    if let Some(PendingRecord(write)) = pending {
        record(guard, key, &write, inv).await;
    }
}

/// Writes the ledger transition of an answer; a 201's is retried, since the ledger must name the inquiry.
async fn record(guard: &GuardSession, key: &LedgerKey<'_>, write: &LedgerWrite, inv: &Invocation) {
    let tries = if matches!(write, LedgerWrite::Created { .. }) { DONE_WRITE_TRIES } else { 1 };
    for _ in 0..tries {
        if guard.write_ledger(key, write).await.is_some() || !guard.is_up() || inv.remaining().is_zero() {
            return;
        }
    }
}

/// What the create's answer was, as the ledger needs it: from the last attempt this create made (a 5xx answer
/// advances the key; a 4xx frees the entry; anything Persona did not store under the key keeps it).
fn answer_of(result: &Result<CreatedDocument, UpstreamError>, inv: &Invocation, calls_before: usize) -> Answer {
    if let Ok(created) = result {
        return Answer::Created(created.data.id.clone());
    }
    let last_status = inv.calls[calls_before..].last().and_then(|call| call.status);
    match last_status {
        Some(status) if status >= 500 => Answer::ServerError,
        // 429 and 401 are decided before Persona's idempotency layer: nothing was stored under the key.
        Some(429 | 401) | None => Answer::Lost,
        Some(status) if (400..500).contains(&status) => Answer::ClientError,
        Some(_) => Answer::Lost,
    }
}

/// Whether this invocation can send the next key after a fresh 5xx: a backoff and a call fit, with room left
/// for the hand-out.
fn room_for_another_key(inv: &Invocation, retry: &RetryPolicy) -> bool {
    inv.calls_made() + 1 + CALLS_KEPT_FOR_THE_HAND_OUT <= retry.max_requests_per_invocation
        && inv.remaining() > retry.max_backoff.min(Duration::from_millis(400)) + TIME_KEPT_FOR_THE_HAND_OUT
}
