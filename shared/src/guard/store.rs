//! What the guard needs from its table, as a port: the DynamoDB adapter (`dynamo.rs`) and the in-process
//! store (`memory.rs`) implement it with the same semantics, held to one behavioural suite
//! (`conformance.rs`). Every operation takes `now`: the conditions compare absolute times, and tests set them.

use std::future::Future;
use std::time::Duration;

use thiserror::Error;

use super::budget::Counter;
use super::ledger::{Entry, LedgerWrite};
use super::time::UnixMillis;

/// The time budget of one guard operation: past it the adapter gives up with [`GuardError::Timeout`] and the
/// caller fails open. DynamoDB answers in single-digit ms in a region, but a burst queues (measured against moto:
/// 157–318 ms for the slowest of 30 concurrent admissions), and a timeout lets a request through unlimited — so the
/// budget is generous: a second is still small next to the invocation's 25 s.
pub const DEFAULT_OPERATION_BUDGET: Duration = Duration::from_secs(1);

/// The guard could not answer. Callers fail open on it (docs/design.md, "When the guard fails"): limits pass,
/// creates walk the key sequence from the start, and the `GuardUnavailable` metric says so.
#[derive(Debug, Error)]
pub enum GuardError {
    #[error("guard {operation}: no answer within {budget:?}")]
    Timeout { operation: &'static str, budget: Duration },
    #[error("guard {operation}: {message}")]
    Store { operation: &'static str, message: String },
    #[error("guard {operation}: unreadable item ({problem})")]
    Malformed { operation: &'static str, problem: String },
}

/// The outcome of adding to counters: all of them, or none because one was full.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Counted {
    All,
    /// Nothing was added: the counter at this index (of the slice given) had no room.
    Full(usize),
}

/// The outcome of a conditional ledger write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    Yes,
    /// Its condition did not hold (someone wrote first): read again.
    Conflict,
}

/// The guard's table.
// Used on one current-thread runtime (like `PersonaPort`): the futures need no `Send` bound.
#[allow(async_fn_in_trait)]
pub trait GuardStore {
    /// Adds each counter's `add`, all or none, in one round trip; a counter whose total would pass its
    /// limit refuses the whole set (so a refused request consumes none of the others).
    async fn add(&self, counters: &[Counter], now: UnixMillis) -> Result<Counted, GuardError>;

    /// Takes back what `add` counted of these counters (unconditionally, never below zero in effect: only what was
    /// added is taken back) — for a request whose other budget refused it.
    async fn take_back(&self, counters: &[Counter], now: UnixMillis) -> Result<(), GuardError>;

    /// [`take_back`](Self::take_back) for a refused request, whose 429 need not wait for it: a store with round
    /// trips sends it on its own task (`Store`); here it is simply awaited. A failure is logged: the caller's
    /// counters then stay one higher for the rest of their window.
    fn take_back_detached(&self, counters: Vec<Counter>, now: UnixMillis) -> impl Future<Output = ()> {
        // Boxed: a store's take-back future can be large (the SDK's), and it would sit in every admission's frame.
        async move { log_take_back(Box::pin(self.take_back(&counters, now)).await) }
    }

    /// The ledger entry at `key` (a consistent read), as stored (expired or not: `ledger.rs` decides).
    async fn read_entry(&self, key: &str) -> Result<Option<Entry>, GuardError>;

    /// One conditional ledger write, with the conditions of `ledger::apply`.
    async fn write_entry(&self, key: &str, write: &LedgerWrite, now: UnixMillis) -> Result<Written, GuardError>;

    /// Remembers that a create of this deployment returned `version_id` for `template_id`, until `until`.
    async fn remember_version(&self, template_id: &str, version_id: &str, until: UnixMillis)
        -> Result<(), GuardError>;

    /// The versions of `template_id` remembered and not yet expired at `now`, sorted.
    async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError>;
}

/// The one line a failed take-back leaves.
pub(crate) fn log_take_back(result: Result<(), GuardError>) {
    if let Err(error) = result {
        tracing::warn!(%error, "guard: could not take back a refused request's counts");
    }
}

/// `versions#{template_id}`: one item per template holds the set (one read answers "which versions").
pub fn versions_key(template_id: &str) -> String {
    format!("versions#{template_id}")
}

/// A borrowed store is a store (a `Guard` over `&MemoryStore` in tests, over a shared store in the service).
impl<S: GuardStore> GuardStore for &S {
    async fn add(&self, counters: &[Counter], now: UnixMillis) -> Result<Counted, GuardError> {
        (**self).add(counters, now).await
    }

    async fn take_back(&self, counters: &[Counter], now: UnixMillis) -> Result<(), GuardError> {
        (**self).take_back(counters, now).await
    }

    async fn take_back_detached(&self, counters: Vec<Counter>, now: UnixMillis) {
        (**self).take_back_detached(counters, now).await
    }

    async fn read_entry(&self, key: &str) -> Result<Option<Entry>, GuardError> {
        (**self).read_entry(key).await
    }

    async fn write_entry(&self, key: &str, write: &LedgerWrite, now: UnixMillis) -> Result<Written, GuardError> {
        (**self).write_entry(key, write, now).await
    }

    async fn remember_version(&self, template_id: &str, version_id: &str, until: UnixMillis)
        -> Result<(), GuardError> {
        (**self).remember_version(template_id, version_id, until).await
    }

    async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError> {
        (**self).current_versions(template_id, now).await
    }
}
