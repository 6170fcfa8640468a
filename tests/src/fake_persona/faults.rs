//! Fault injection: a queue of faults, each aimed at one endpoint (or any) and good for `count` requests.

use std::collections::VecDeque;

use serde::{Deserialize, Serialize};

use super::model::Endpoint;

/// What goes wrong.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum FaultKind {
    /// Answer this status (e.g. 500, 502, 503) with an errors body, without doing the work. Stored under a
    /// fresh idempotency key like any answer.
    Status { status: u16 },
    /// Wait this long, then handle the request normally.
    Delay { delay_ms: u64 },
    /// Answer 200 with a body that is not valid JSON (default: a truncated inquiry document).
    Malformed {
        #[serde(default)]
        body: Option<String>,
    },
    /// Close the connection without answering, before doing the work.
    Drop,
    /// Do the work, store the answer under the idempotency key, then close the connection without
    /// answering (a lost create response).
    DropAfterCommit,
    /// Test-only: answer normally but strip a member the spec requires (for resume: `meta.session-token`),
    /// so the response contract check must flag it. NOT exempt from that check.
    BreakContract,
}

impl FaultKind {
    pub fn name(&self) -> &'static str {
        match self {
            FaultKind::Status { .. } => "status",
            FaultKind::Delay { .. } => "delay",
            FaultKind::Malformed { .. } => "malformed",
            FaultKind::Drop => "drop",
            FaultKind::DropAfterCommit => "drop_after_commit",
            FaultKind::BreakContract => "break_contract",
        }
    }
}

/// A queued fault.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fault {
    /// The endpoint it hits; `null`/absent = any endpoint.
    #[serde(default)]
    pub endpoint: Option<Endpoint>,
    #[serde(flatten)]
    pub kind: FaultKind,
    /// How many requests it hits (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl Fault {
    pub fn new(endpoint: Endpoint, kind: FaultKind) -> Fault {
        Fault { endpoint: Some(endpoint), kind, count: 1 }
    }

    pub fn times(mut self, count: u32) -> Fault {
        self.count = count;
        self
    }
}

#[derive(Debug, Default)]
pub struct FaultQueue {
    faults: VecDeque<Fault>,
}

impl FaultQueue {
    pub fn push(&mut self, fault: Fault) {
        if fault.count > 0 {
            self.faults.push_back(fault);
        }
    }

    /// Takes one use of the first fault aimed at `endpoint`.
    pub fn take(&mut self, endpoint: Endpoint) -> Option<FaultKind> {
        let index = self.faults.iter().position(|f| f.endpoint.is_none_or(|e| e == endpoint))?;
        let fault = &mut self.faults[index];
        fault.count -= 1;
        let kind = fault.kind.clone();
        if fault.count == 0 {
            self.faults.remove(index);
        }
        Some(kind)
    }

    pub fn pending(&self) -> Vec<Fault> {
        self.faults.iter().cloned().collect()
    }

    pub fn clear(&mut self) {
        self.faults.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_matching_faults_in_order_and_counts_down() {
        let mut q = FaultQueue::default();
        q.push(Fault::new(Endpoint::Create, FaultKind::Drop).times(2));
        q.push(Fault { endpoint: None, kind: FaultKind::Status { status: 503 }, count: 1 });
        assert_eq!(q.take(Endpoint::Get), Some(FaultKind::Status { status: 503 }));
        assert_eq!(q.take(Endpoint::Get), None);
        assert_eq!(q.take(Endpoint::Create), Some(FaultKind::Drop));
        assert_eq!(q.take(Endpoint::Create), Some(FaultKind::Drop));
        assert_eq!(q.take(Endpoint::Create), None);
    }

    #[test]
    fn parses_the_control_api_shape() {
        let f: Fault = serde_json::from_str(r#"{"endpoint":"resume","kind":"status","status":502,"count":3}"#)
            .expect("valid fault");
        assert_eq!(f, Fault::new(Endpoint::Resume, FaultKind::Status { status: 502 }).times(3));
        let f: Fault = serde_json::from_str(r#"{"kind":"delay","delay_ms":10}"#).expect("valid fault");
        assert_eq!(f.endpoint, None);
        assert!(serde_json::from_str::<Fault>(r#"{"kind":"explode"}"#).is_err());
    }
}
