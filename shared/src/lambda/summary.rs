//! One summary per invocation, built from its result, rendered twice: the JSON log line (for people and Logs
//! Insights) and the EMF line (for metrics). Ids and numbers only — never a credential or a personal field.

use std::time::Instant;

use crate::app::error::Failure;
use crate::app::service::{Function, Resolution};
use crate::ops::metrics::{self, InvocationMetrics};
use crate::persona::calls::Invocation;

pub struct InvocationSummary<'a> {
    function: Function,
    inv: &'a Invocation,
    result: &'a Result<Resolution, Failure>,
    status: u16,
    duration_ms: f64,
    cold_start: bool,
}

impl<'a> InvocationSummary<'a> {
    pub fn new(
        function: Function,
        inv: &'a Invocation,
        result: &'a Result<Resolution, Failure>,
        status: u16,
        started: Instant,
        cold_start: bool,
    ) -> Self {
        Self { function, inv, result, status, duration_ms: started.elapsed().as_secs_f64() * 1000.0, cold_start }
    }

    /// `resumed`, `recreated`, `created`, or the error's code.
    fn outcome(&self) -> &'static str {
        match self.result {
            Ok(resolution) => resolution.outcome.as_str(),
            Err(failure) => failure.error.code(),
        }
    }

    fn template_check(&self) -> Option<&'static str> {
        self.result.as_ref().ok().map(|resolution| resolution.template_check.as_str())
    }

    fn upstream_ms(&self) -> f64 {
        self.inv.upstream_time().as_secs_f64() * 1000.0
    }

    pub fn metrics(&self) -> InvocationMetrics<'_> {
        InvocationMetrics {
            function: self.function.function_name(),
            outcome: self.outcome(),
            template_check: self.template_check().unwrap_or("none"),
            status: self.status,
            cold_start: self.cold_start,
            upstream_calls: self.inv.calls.len(),
            upstream_errors: self.inv.upstream_errors(),
            upstream_ms: self.upstream_ms(),
            duration_ms: self.duration_ms,
            guard_unavailable: self.inv.guard_unavailable(),
        }
    }

    /// Writes the invocation's log line and its EMF line. The line is `info`, or `error` when the service failed
    /// (5xx): the operator's diagnosis (which call, what Persona said) is in `error_detail`, with Persona's
    /// request ids.
    pub fn emit(&self) {
        metrics::emit(&self.metrics());
        let (resolution, failure) = match self.result {
            Ok(resolution) => (Some(resolution), None),
            Err(failure) => (None, Some(failure)),
        };
        let inquiry_id = resolution.map(|r| &r.inquiry_id).or(failure.and_then(|f| f.inquiry_id.as_ref()));
        let error_detail = failure.map(|f| f.error.to_string());
        macro_rules! invocation_line {
            ($level:expr) => {
                tracing::event!(
                    $level,
                    function = self.function.function_name(),
                    status = self.status,
                    outcome = if failure.is_some() { "error" } else { self.outcome() },
                    error_code = failure.map(|_| self.outcome()),
                    error_detail = error_detail.as_deref(),
                    template_check = self.template_check(),
                    inquiry_id = inquiry_id.map(|id| id.as_str()),
                    previous_inquiry_id = resolution.and_then(|r| r.outcome.previous_inquiry_id()).map(|id| id.as_str()),
                    superseded_expired = resolution.and_then(|r| r.outcome.superseded_expired()),
                    upstream_calls = self.inv.calls.len(),
                    upstream_ms = self.upstream_ms(),
                    duration_ms = self.duration_ms,
                    persona_request_ids = %self.inv.request_ids().join(","),
                    cold_start = self.cold_start,
                    guard_unavailable = self.inv.guard_unavailable(),
                    "invocation"
                )
            };
        }
        if self.status >= 500 {
            invocation_line!(tracing::Level::ERROR);
        } else {
            invocation_line!(tracing::Level::INFO);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::error::Throttle;
    use crate::ops::telemetry::{filter_for, json_subscriber_with, Captured};
    use std::time::Duration;

    /// The invocation line `emit` writes for an invocation whose guard failed open or not.
    fn invocation_line(guard_failed: bool) -> serde_json::Value {
        let inv = Invocation::new("summary-test".into(), Instant::now() + Duration::from_secs(5));
        if guard_failed {
            inv.note_guard_unavailable();
        }
        let result: Result<Resolution, Failure> = Err(Throttle::CreationInProgress.into());
        let summary = InvocationSummary::new(Function::ResumeSession, &inv, &result, 503, Instant::now(), false);
        assert_eq!(summary.metrics().guard_unavailable, guard_failed, "the EMF metric follows the invocation");
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = json_subscriber_with(move || writer.clone(), filter_for(Some("info"))).finish();
        tracing::subscriber::with_default(subscriber, || summary.emit());
        let text = captured.text();
        let mut lines = text.lines().map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap());
        let line = lines.find(|line| line["message"] == "invocation").expect("an invocation line");
        assert_eq!(line["error_code"], "creation_in_progress", "{line}");
        line
    }

    #[test]
    fn the_invocation_line_says_whether_the_guard_failed_open() {
        assert_eq!(invocation_line(true)["guard_unavailable"], true);
        assert_eq!(invocation_line(false)["guard_unavailable"], false);
    }
}
