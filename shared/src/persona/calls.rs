//! Per-invocation bookkeeping: the Lambda request id (for idempotency keys), the deadline every upstream call
//! must fit in, and a record of the upstream calls for the invocation's log line.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use crate::domain::ids::InquiryId;
use crate::persona::idempotency::KeySequence;
use crate::persona::operation::Operation;

/// Time kept back from Lambda's deadline to render the answer and post it to the Runtime API.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// The budget when no Lambda deadline is known (tests feeding events straight into the handler).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);
/// A deadline further in the past than this is not a wall-clock deadline but a local emulator's timeout
/// (`cargo lambda watch` sends `Lambda-Runtime-Deadline-Ms: 600000`, i.e. 1970-01-01T00:10:00Z): treated as
/// unknown, [`DEFAULT_BUDGET`]. Lambda itself always sends epoch milliseconds.
pub const IMPLAUSIBLE_DEADLINE_AGE: Duration = Duration::from_secs(24 * 60 * 60);

/// The time left before `lambda_deadline`, less [`DEADLINE_MARGIN`]; [`DEFAULT_BUDGET`] when there is no usable
/// deadline (none, or an emulator's timeout: see [`IMPLAUSIBLE_DEADLINE_AGE`]).
fn budget(lambda_deadline: Option<SystemTime>, now: SystemTime) -> Duration {
    match lambda_deadline.map(|deadline| deadline.duration_since(now)) {
        None => DEFAULT_BUDGET,
        Some(Ok(left)) => left.saturating_sub(DEADLINE_MARGIN),
        Some(Err(late)) if late.duration() > IMPLAUSIBLE_DEADLINE_AGE => DEFAULT_BUDGET,
        Some(Err(_)) => Duration::ZERO,
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCall {
    pub operation: Operation,
    /// `None` when no answer arrived (timeout, dropped connection).
    pub status: Option<u16>,
    pub duration: Duration,
    pub request_id: Option<String>,
}

/// What a [`CallGate`] says to one more Persona call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    Granted,
    /// The deployment's share of Persona calls is spent: the call is not sent.
    Refused { retry_after_seconds: u64 },
    /// The gate could not tell: the call goes ahead (fail open) and the invocation says so.
    Unavailable,
}

/// Reserves Persona calls in the deployment's share before they are sent (docs/design.md, "Budgets": a retry or a
/// call beyond the plan reserves one more). The guard implements it; the persona layer knows only this.
pub trait CallGate: Send + Sync {
    fn reserve(&self, calls: u32) -> Pin<Box<dyn Future<Output = Gate> + Send + '_>>;
}

/// The calls of one invocation, shared by its concurrent branches ([`Invocation::branch`]): the count the cap
/// applies to, what the gate granted, and whether the gate failed open.
#[derive(Default)]
struct CallBudget {
    made: AtomicUsize,
    reserved: AtomicU32,
    gate: Option<Arc<dyn CallGate>>,
    failed_open: AtomicBool,
}

impl std::fmt::Debug for CallBudget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CallBudget")
            .field("made", &self.made)
            .field("reserved", &self.reserved)
            .field("gated", &self.gate.is_some())
            .field("failed_open", &self.failed_open)
            .finish()
    }
}

#[derive(Debug)]
pub struct Invocation {
    /// Only in the idempotency keys of per-invocation calls: log lines get it from the invocation's span.
    lambda_request_id: String,
    deadline: Instant,
    /// The calls this branch made (a branch's are appended to its parent's by [`Invocation::join`]).
    pub calls: Vec<UpstreamCall>,
    budget: Arc<CallBudget>,
}

impl Invocation {
    pub fn new(lambda_request_id: String, deadline: Instant) -> Self {
        Self { lambda_request_id, deadline, calls: Vec::new(), budget: Arc::default() }
    }

    /// From now on every Persona call beyond the `reserved` ones (the plan the guard admitted) is reserved
    /// through `gate` before it is sent.
    pub fn gate_calls(&mut self, gate: Arc<dyn CallGate>, reserved: u32) {
        let made = self.budget.made.load(Ordering::Relaxed);
        self.budget = Arc::new(CallBudget {
            made: AtomicUsize::new(made),
            reserved: AtomicU32::new(reserved),
            gate: Some(gate),
            failed_open: AtomicBool::new(self.budget.failed_open.load(Ordering::Relaxed)),
        });
    }

    /// Before sending a call: reserves it when the plan's reservation is used up. `Err` with the seconds to the
    /// next window when the share is spent.
    pub async fn reserve_call(&self) -> Result<(), u64> {
        let budget = &self.budget;
        let Some(gate) = &budget.gate else { return Ok(()) };
        if budget.failed_open.load(Ordering::Relaxed) {
            return Ok(());
        }
        let made = u32::try_from(budget.made.load(Ordering::Relaxed)).unwrap_or(u32::MAX);
        if made < budget.reserved.load(Ordering::Relaxed) {
            return Ok(());
        }
        match gate.reserve(1).await {
            Gate::Granted => {
                budget.reserved.fetch_add(1, Ordering::Relaxed);
                Ok(())
            }
            Gate::Refused { retry_after_seconds } => Err(retry_after_seconds),
            Gate::Unavailable => {
                self.note_guard_unavailable();
                Ok(())
            }
        }
    }

    /// Reserves what is missing for the invocation's calls to reach `total` (a step whose calls are known, e.g. a
    /// replacement's list and create) in one round trip, instead of one per call; the answers of
    /// [`Self::reserve_call`].
    pub async fn reserve_up_to(&self, total: u32) -> Result<(), u64> {
        let reserved = self.budget.reserved.load(Ordering::Relaxed);
        self.reserve_calls(total.saturating_sub(reserved)).await
    }

    /// Reserves `calls` more at once (a step whose calls are known, e.g. a replacement's list and create) so they
    /// don't cost a round trip each; the same answers as [`Self::reserve_call`].
    pub async fn reserve_calls(&self, calls: u32) -> Result<(), u64> {
        let budget = &self.budget;
        let Some(gate) = &budget.gate else { return Ok(()) };
        if calls == 0 || budget.failed_open.load(Ordering::Relaxed) {
            return Ok(());
        }
        match gate.reserve(calls).await {
            Gate::Granted => {
                budget.reserved.fetch_add(calls, Ordering::Relaxed);
                Ok(())
            }
            Gate::Refused { retry_after_seconds } => Err(retry_after_seconds),
            Gate::Unavailable => {
                self.note_guard_unavailable();
                Ok(())
            }
        }
    }

    /// The guard failed in this invocation: its limits pass from now on (the `GuardUnavailable` metric).
    pub fn note_guard_unavailable(&self) {
        self.budget.failed_open.store(true, Ordering::Relaxed);
    }

    pub fn guard_unavailable(&self) -> bool {
        self.budget.failed_open.load(Ordering::Relaxed)
    }

    /// Calls made by the whole invocation, every branch included (what the cap of 8 applies to).
    pub fn calls_made(&self) -> usize {
        self.budget.made.load(Ordering::Relaxed)
    }

    /// A branch for a call that runs concurrently with another: the same deadline, cap and reservations; its
    /// calls are handed back by [`Self::join`].
    pub fn branch(&self) -> Self {
        Self {
            lambda_request_id: self.lambda_request_id.clone(),
            deadline: self.deadline,
            calls: Vec::new(),
            budget: Arc::clone(&self.budget),
        }
    }

    /// Takes a branch's call records back.
    pub fn join(&mut self, branch: Self) {
        self.calls.extend(branch.calls);
    }

    /// Converts Lambda's wall-clock deadline into a monotonic one, keeping [`DEADLINE_MARGIN`] back.
    pub fn with_lambda_deadline(lambda_request_id: String, lambda_deadline: Option<SystemTime>) -> Self {
        let now = Instant::now();
        Self::new(lambda_request_id, now + budget(lambda_deadline, SystemTime::now()))
    }

    /// Who this invocation is to the create ledger: Lambda's request id, unique per invocation.
    pub fn holder_id(&self) -> &str {
        &self.lambda_request_id
    }

    /// The keys of a call made afresh by each invocation (resume, link, expire): the one place they are built.
    pub fn keys_for(&self, operation: Operation, inquiry_id: &InquiryId) -> KeySequence {
        KeySequence::per_invocation(operation, inquiry_id, &self.lambda_request_id)
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn record(&mut self, call: UpstreamCall) {
        self.budget.made.fetch_add(1, Ordering::Relaxed);
        self.calls.push(call);
    }

    /// Total time spent waiting on Persona.
    pub fn upstream_time(&self) -> Duration {
        self.calls.iter().map(|call| call.duration).sum()
    }

    /// Attempts without a usable answer: no answer, 429 or 5xx.
    pub fn upstream_errors(&self) -> usize {
        self.calls.iter().filter(|call| call.status.is_none_or(|s| s == 429 || s >= 500)).count()
    }

    pub fn request_ids(&self) -> Vec<&str> {
        self.calls.iter().filter_map(|call| call.request_id.as_deref()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_budget_follows_lambdas_deadline() {
        let now = SystemTime::now();
        assert_eq!(budget(Some(now + Duration::from_secs(10)), now), Duration::from_secs(10) - DEADLINE_MARGIN);
        assert_eq!(budget(Some(now + Duration::from_millis(100)), now), Duration::ZERO, "inside the margin");
        assert_eq!(budget(Some(now - Duration::from_secs(1)), now), Duration::ZERO, "already past");
        assert_eq!(budget(None, now), DEFAULT_BUDGET);
    }

    #[test]
    fn upstream_errors_count_lost_answers_429_and_5xx() {
        let mut inv = Invocation::new("r".into(), Instant::now() + Duration::from_secs(1));
        for status in [None, Some(200), Some(404), Some(429), Some(503)] {
            inv.record(UpstreamCall { operation: Operation::GetInquiry, status, duration: Duration::ZERO, request_id: None });
        }
        assert_eq!(inv.upstream_errors(), 3);
    }

    #[test]
    fn an_emulators_timeout_is_not_a_deadline() {
        // `cargo lambda watch` sends `Lambda-Runtime-Deadline-Ms: 600000` (its timeout, not epoch milliseconds).
        let emulator = SystemTime::UNIX_EPOCH + Duration::from_millis(600_000);
        assert_eq!(budget(Some(emulator), SystemTime::now()), DEFAULT_BUDGET);
        let invocation = Invocation::with_lambda_deadline("local".into(), Some(emulator));
        assert!(invocation.remaining() > DEFAULT_BUDGET - Duration::from_secs(1));
    }
}
