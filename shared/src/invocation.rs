//! Per-invocation bookkeeping: the Lambda request id (for idempotency keys), the deadline every upstream call
//! must fit in, and a record of the upstream calls for the invocation's log line.

use std::time::{Duration, Instant, SystemTime};

/// Time kept back from Lambda's deadline to render the answer and post it to the Runtime API.
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);
/// The budget when no Lambda deadline is known (tests feeding events straight into the handler).
pub const DEFAULT_BUDGET: Duration = Duration::from_secs(20);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpstreamCall {
    pub operation: &'static str,
    /// `None` when no answer arrived (timeout, dropped connection).
    pub status: Option<u16>,
    pub duration: Duration,
    pub request_id: Option<String>,
}

#[derive(Debug)]
pub struct Invocation {
    pub lambda_request_id: String,
    deadline: Instant,
    pub calls: Vec<UpstreamCall>,
    /// The inquiry the answer is about, once known (for the log line and error bodies).
    pub inquiry_id: Option<String>,
}

impl Invocation {
    pub fn new(lambda_request_id: String, deadline: Instant) -> Self {
        Self { lambda_request_id, deadline, calls: Vec::new(), inquiry_id: None }
    }

    /// Converts Lambda's wall-clock deadline into a monotonic one, keeping [`DEADLINE_MARGIN`] back.
    pub fn with_lambda_deadline(lambda_request_id: String, lambda_deadline: Option<SystemTime>) -> Self {
        let now = Instant::now();
        let budget = match lambda_deadline {
            Some(deadline) => {
                deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO).saturating_sub(DEADLINE_MARGIN)
            }
            None => DEFAULT_BUDGET,
        };
        Self::new(lambda_request_id, now + budget)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
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

    pub fn request_ids(&self) -> Vec<&str> {
        self.calls.iter().filter_map(|call| call.request_id.as_deref()).collect()
    }
}
