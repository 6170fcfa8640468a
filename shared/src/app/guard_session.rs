//! The guard as one invocation uses it (docs/design.md, "The guard"): every operation fails open. The first
//! `GuardError` of an invocation is logged once and switches the guard off for the rest of it (limits pass,
//! creates walk the key sequence), so a slow or missing table costs one operation budget, not one per call.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use crate::app::error::Throttle;
use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;
use crate::guard::budget::{Admission, Budget, Refused};
use crate::guard::ledger::{Entry, LedgerKey, LedgerWrite};
use crate::guard::{Denied, Guard, GuardError, UnixMillis, Written};
use crate::persona::calls::{CallGate, Gate, Invocation};

/// One invocation's view of the guard. Shared with the invocation's call gate (an `Arc`), so a failure seen by
/// either side switches both to fail-open.
pub struct GuardSession {
    guard: Arc<Guard>,
    down: std::sync::atomic::AtomicBool,
}

impl GuardSession {
    pub fn new(guard: Arc<Guard>) -> Arc<Self> {
        Arc::new(Self { guard, down: std::sync::atomic::AtomicBool::new(false) })
    }

    /// Whether the guard answered every operation of this invocation so far.
    pub fn is_up(&self) -> bool {
        !self.down.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn fail_open(&self, error: &GuardError) {
        if !self.down.swap(true, std::sync::atomic::Ordering::Relaxed) {
            tracing::warn!(%error, "guard unavailable: this request's limits pass and a create walks its key sequence");
        }
    }

    /// `Ok(None)`: the guard is down (now or earlier in this invocation); the caller goes on without it.
    fn answered<T>(&self, result: Result<T, GuardError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.fail_open(&error);
                None
            }
        }
    }

    /// Before the first Persona call: the owner's request, a session on the presented inquiry and the plan's
    /// calls, in one round trip. The refusal names the first full budget.
    pub async fn admit(&self, admission: &Admission<'_>, inv: &Invocation) -> Result<(), Throttle> {
        self.count(self.guard.admit(admission, UnixMillis::now()).await, inv)
    }

    /// A hand-out on an inquiry found by a lookup (or created: its own session counts on it).
    pub async fn count_session(
        &self,
        inquiry: &InquiryId,
        caller: Option<&Owner>,
        inv: &Invocation,
    ) -> Result<(), Throttle> {
        if !self.is_up() {
            return Ok(());
        }
        self.count(self.guard.count_session(inquiry, caller, UnixMillis::now()).await, inv)
    }

    fn count(&self, result: Result<(), Denied>, inv: &Invocation) -> Result<(), Throttle> {
        match result {
            Ok(()) => Ok(()),
            Err(Denied::Refused(refused)) => Err(throttle(refused)),
            Err(Denied::Unavailable(error)) => {
                self.fail_open(&error);
                inv.note_guard_unavailable();
                Ok(())
            }
        }
    }

    pub async fn ledger_entry(&self, key: &LedgerKey<'_>) -> Option<Option<Entry>> {
        if !self.is_up() {
            return None;
        }
        self.answered(self.guard.ledger_entry(key).await)
    }

    pub async fn write_ledger(&self, key: &LedgerKey<'_>, write: &LedgerWrite) -> Option<Written> {
        if !self.is_up() {
            return None;
        }
        self.answered(self.guard.write_ledger(key, write, UnixMillis::now()).await)
    }

    /// The versions creates of this deployment returned for the template within the hour; none when the guard is
    /// down (then only the latest published version is current).
    pub async fn current_versions(&self, template_id: &str) -> Vec<String> {
        if !self.is_up() {
            return Vec::new();
        }
        self.answered(self.guard.current_versions(template_id, UnixMillis::now()).await).unwrap_or_default()
    }

    pub async fn remember_version(&self, template_id: &str, version_id: &str) {
        if self.is_up() {
            let remembered = self.guard.remember_version(template_id, version_id, UnixMillis::now()).await;
            self.answered(remembered);
        }
    }
}

impl CallGate for GuardSession {
    fn reserve(&self, calls: u32) -> Pin<Box<dyn Future<Output = Gate> + Send + '_>> {
        Box::pin(async move {
            if !self.is_up() {
                return Gate::Unavailable;
            }
            match self.guard.reserve_calls(calls, UnixMillis::now()).await {
                Ok(()) => Gate::Granted,
                Err(Denied::Refused(refused)) => Gate::Refused { retry_after_seconds: refused.retry_after_seconds },
                Err(Denied::Unavailable(error)) => {
                    self.fail_open(&error);
                    Gate::Unavailable
                }
            }
        })
    }
}

/// A spent budget as the answer the caller gets.
fn throttle(refused: Refused) -> Throttle {
    let retry_after_seconds = refused.retry_after_seconds;
    match refused.budget {
        Budget::PersonaCalls => Throttle::PersonaBudget { retry_after_seconds },
        Budget::OwnerRequests => Throttle::OwnerRequests { retry_after_seconds },
        Budget::InquirySessions { .. } => Throttle::InquirySessions { retry_after_seconds },
    }
}
