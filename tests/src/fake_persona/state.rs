//! Everything the fake holds behind one lock, and the operations on it shared by the in-process handle
//! and the HTTP control API.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard};

use super::contract::{ContractChecker, ContractViolation};
use super::examples::Examples;
use super::faults::{Fault, FaultQueue};
use super::idempotency::IdempotencyStore;
use super::model::{Inquiry, SessionKind};
use super::model::{ModelError, Settings, Store};
use super::rate_limit::RateLimiter;
use super::request_log::RequestRecord;
use super::util::now_ms;

/// At most this many request records are kept (oldest dropped first).
pub const MAX_LOG: usize = 200_000;

#[derive(Debug)]
pub struct State {
    pub store: Store,
    pub settings: Settings,
    /// What `reset` goes back to.
    pub initial_settings: Settings,
    pub faults: FaultQueue,
    pub idempotency: IdempotencyStore,
    pub rate: RateLimiter,
    pub log: VecDeque<RequestRecord>,
    pub next_request_seq: u64,
    pub violations: Vec<ContractViolation>,
    /// Answers that carried an account object with personal data (see `documents::account_has_personal_data`).
    pub personal_fields_served: usize,
}

impl State {
    pub fn new(settings: Settings) -> State {
        State {
            store: Store::default(),
            initial_settings: settings.clone(),
            settings,
            faults: FaultQueue::default(),
            idempotency: IdempotencyStore::default(),
            rate: RateLimiter::default(),
            log: VecDeque::new(),
            next_request_seq: 0,
            violations: Vec::new(),
            personal_fields_served: 0,
        }
    }

    /// Back to a fresh fake: no data, faults, keys, log or violations; the start-up settings.
    pub fn reset(&mut self) {
        self.store.clear();
        self.settings = self.initial_settings.clone();
        self.faults.clear();
        self.idempotency.clear();
        self.rate.restart();
        self.log.clear();
        self.violations.clear();
        self.personal_fields_served = 0;
    }

    pub fn record(&mut self, mut record: RequestRecord) {
        self.next_request_seq += 1;
        record.seq = self.next_request_seq;
        if self.log.len() >= MAX_LOG {
            self.log.pop_front();
        }
        self.log.push_back(record);
    }

    /// Applies a settings change; a changed rate limit starts a fresh window.
    pub fn update_settings(&mut self, f: impl FnOnce(&mut Settings)) -> Settings {
        let before = self.settings.rate_limit.clone();
        f(&mut self.settings);
        if self.settings.rate_limit != before {
            self.rate.restart();
        }
        self.settings.clone()
    }

    /// Merges a partial JSON settings object (`PUT /_control/settings`) into the current settings.
    pub fn patch_settings(&mut self, patch: &serde_json::Value) -> Result<Settings, ModelError> {
        let mut current = serde_json::to_value(&self.settings).map_err(|e| ModelError::Invalid(e.to_string()))?;
        merge(&mut current, patch);
        let next: Settings = serde_json::from_value(current).map_err(|e| ModelError::Invalid(e.to_string()))?;
        if next.rate_limit.limit == 0 || next.rate_limit.window_ms == 0 {
            return Err(ModelError::Invalid("rate_limit.limit and rate_limit.window_ms must be > 0".into()));
        }
        Ok(self.update_settings(|s| *s = next))
    }

    pub fn add_fault(&mut self, fault: Fault) -> Result<(), ModelError> {
        if let super::faults::FaultKind::Status { status } = fault.kind {
            if !(100..=599).contains(&status) {
                return Err(ModelError::Invalid(format!("status {status} is not an HTTP status")));
            }
        }
        self.faults.push(fault);
        Ok(())
    }

    fn inquiry_mut(&mut self, id: &str) -> Result<&mut Inquiry, ModelError> {
        self.store.inquiries.get_mut(id).ok_or_else(|| ModelError::NotFound(format!("inquiry {id}")))
    }

    /// Moves an inquiry to `status` (a user finished, a reviewer decided…), timestamps included.
    pub fn set_inquiry_status(&mut self, id: &str, status: &str) -> Result<Inquiry, ModelError> {
        if status.is_empty() {
            return Err(ModelError::Invalid("status must not be empty".into()));
        }
        let inquiry = self.inquiry_mut(id)?;
        inquiry.set_status(status, now_ms());
        Ok(inquiry.clone())
    }

    pub fn redact_inquiry(&mut self, id: &str) -> Result<Inquiry, ModelError> {
        let inquiry = self.inquiry_mut(id)?;
        inquiry.redact(now_ms());
        Ok(inquiry.clone())
    }

    /// Marks the inquiry's token sessions as used (the user opened the flow): resume then makes a new one.
    pub fn mark_sessions_used(&mut self, id: &str) -> Result<Inquiry, ModelError> {
        let inquiry = self.inquiry_mut(id)?;
        for s in inquiry.sessions.iter_mut().filter(|s| s.kind == SessionKind::Token) {
            s.used = true;
        }
        Ok(inquiry.clone())
    }
}

/// JSON merge patch (RFC 7396) without deletion: objects merge, everything else replaces.
fn merge(target: &mut serde_json::Value, patch: &serde_json::Value) {
    match (target, patch) {
        (serde_json::Value::Object(t), serde_json::Value::Object(p)) => {
            for (k, v) in p {
                match t.get_mut(k) {
                    Some(existing) => merge(existing, v),
                    None => {
                        t.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (t, p) => *t = p.clone(),
    }
}

/// The state plus the spec's examples and the (optional) contract checker, shared by the server tasks
/// and the handle.
#[derive(Debug)]
pub struct Shared {
    state: Mutex<State>,
    pub contract: Option<Arc<ContractChecker>>,
    pub examples: Arc<Examples>,
}

impl Shared {
    pub fn new(settings: Settings, contract: Option<Arc<ContractChecker>>, examples: Arc<Examples>) -> Shared {
        Shared { state: Mutex::new(State::new(settings)), contract, examples }
    }

    /// Locks the state (a panic elsewhere never poisons the fake for good).
    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}
