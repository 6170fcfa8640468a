//! Per-invocation bookkeeping: the Lambda request id (for idempotency keys), the deadline every upstream call
//! must fit in, and a record of the upstream calls for the invocation's log line.

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

#[derive(Debug)]
pub struct Invocation {
    /// Only in the idempotency keys of per-invocation calls: log lines get it from the invocation's span.
    lambda_request_id: String,
    deadline: Instant,
    pub calls: Vec<UpstreamCall>,
}

impl Invocation {
    pub fn new(lambda_request_id: String, deadline: Instant) -> Self {
        Self { lambda_request_id, deadline, calls: Vec::new() }
    }

    /// Converts Lambda's wall-clock deadline into a monotonic one, keeping [`DEADLINE_MARGIN`] back.
    pub fn with_lambda_deadline(lambda_request_id: String, lambda_deadline: Option<SystemTime>) -> Self {
        let now = Instant::now();
        Self::new(lambda_request_id, now + budget(lambda_deadline, SystemTime::now()))
    }

    /// The keys of a call made afresh by each invocation (resume, link, expire): the one place they are built.
    pub fn keys_for(&self, operation: Operation, inquiry_id: &InquiryId) -> KeySequence {
        KeySequence::per_invocation(operation, inquiry_id, &self.lambda_request_id)
    }

    pub fn remaining(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    pub fn record(&mut self, call: UpstreamCall) {
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
