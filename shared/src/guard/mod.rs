//! The guard: durable state that outlives an invocation (docs/design.md, "The guard (durable state)") — the
//! budgets, the create ledger and the current-version set, in one DynamoDB table behind a port.
//!
//! - [`budget`]: fixed UTC windows, counter keys, refusals — pure.
//! - [`ledger`]: the create ledger's state machine — pure.
//! - [`store`]: the port ([`GuardStore`]), [`GuardError`] and the per-operation budget.
//! - [`dynamo`]: the adapter over `aws-sdk-dynamodb`; [`memory`]: the in-process store with the same semantics.
//!
//! This layer depends only on `domain` (ids, the owner's fingerprint). Wiring it into the service:
//! 1. Cold start (`app/state.rs`): `guard::connect(&sdk_config, config.guard_table.as_deref(), limits)`,
//!    joined with the secret read, with `limits` = [`Limits`] from `config.persona_calls_per_minute`,
//!    `requests_per_owner_per_minute` and `sessions_per_inquiry_per_day`. It builds the client and opens its
//!    connection (one probe read, its own budget), or, without a table, returns the in-process store after
//!    one warning line. The `sdk_config` is the one `aws_config::load_from_env()` gives Secrets Manager.
//! 2. Before the first Persona call: [`Guard::admit`] with the caller's owner (JWT mode), the presented
//!    inquiry (a hand-out on it) and the plan's call count — one round trip. `Err(Denied::Refused(r))` -> 429
//!    (`persona_budget_exhausted` for [`Budget::PersonaCalls`], else `too_many_requests`) with
//!    `Retry-After: r.retry_after_seconds`; `Err(Denied::Unavailable(e))` -> log once, `GuardUnavailable`
//!    metric, carry on (fail open).
//! 3. A call beyond the plan: [`Guard::reserve_calls`]; a hand-out on an inquiry found by a lookup:
//!    [`Guard::count_session`]. Same three outcomes.
//! 4. A create: loop on [`Guard::ledger_entry`] + [`ledger::next_step`]; write what it says with
//!    [`Guard::write_ledger`] (`Written::Conflict` -> read again); after Persona's answer write
//!    [`ledger::after_answer`]. The attempt picks the key of the one `KeySequence` (`persona/idempotency.rs`).
//!    A `GuardError` anywhere -> walk the key sequence from the start, as without the guard.
//! 5. The template check: [`Guard::remember_version`] after a create, [`Guard::current_versions`] when checking.
//!
//! Every method takes `now` ([`UnixMillis::now()`] in the service): conditions compare absolute times.


pub mod budget;
#[cfg(any(test, feature = "testing"))]
pub mod conformance;
pub mod dynamo;
pub mod ledger;
pub mod memory;
pub mod store;
pub mod time;

use std::time::Duration;

use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;

pub use budget::{Admission, Budget, Limits, Refused};
pub use dynamo::DynamoStore;
pub use ledger::{Entry, LedgerKey, LedgerWrite};
pub use memory::MemoryStore;
pub use store::{Counted, GuardError, GuardStore, Written};
pub use time::UnixMillis;

/// A create of this deployment vouches for the version it returned this long (docs/design.md, "What
/// 'latest' means is what creation gives").
pub const VERSION_MEMORY: Duration = Duration::from_secs(3600);

/// Why the guard did not let a request through.
#[derive(Debug)]
pub enum Denied {
    /// A budget is spent: 429 with `Retry-After`, nothing is sent to Persona.
    Refused(Refused),
    /// The guard could not answer: the caller fails open.
    Unavailable(GuardError),
}

impl Denied {
    pub fn refused(&self) -> Option<&Refused> {
        match self {
            Self::Refused(refused) => Some(refused),
            Self::Unavailable(_) => None,
        }
    }
}

impl From<GuardError> for Denied {
    fn from(error: GuardError) -> Self {
        Self::Unavailable(error)
    }
}

/// The guard as the service uses it: a store and the budgets' limits.
#[derive(Debug)]
pub struct Guard<S = Store> {
    store: S,
    limits: Limits,
}

impl<S: GuardStore> Guard<S> {
    pub fn new(store: S, limits: Limits) -> Self {
        Self { store, limits }
    }

    pub fn limits(&self) -> Limits {
        self.limits
    }

    pub fn store(&self) -> &S {
        &self.store
    }

    /// Before the first Persona call, in one round trip: the owner's request, a session on the presented
    /// inquiry and the plan's calls — all counted, or none and the refusal of the first full budget.
    pub async fn admit(&self, admission: &Admission<'_>, now: UnixMillis) -> Result<(), Denied> {
        self.count(budget::admission_counters(&self.limits, admission, now), now).await
    }

    /// `calls` more Persona calls (a retry or a call beyond the plan), reserved before they are sent.
    pub async fn reserve_calls(&self, calls: u32, now: UnixMillis) -> Result<(), Denied> {
        self.count(budget::calls_counter(&self.limits, calls, now).into_iter().collect(), now).await
    }

    /// A hand-out on an inquiry found by a lookup (`/me`, a successor), for `caller` (`None`: a trusted backend).
    pub async fn count_session(
        &self,
        inquiry: &InquiryId,
        caller: Option<&Owner>,
        now: UnixMillis,
    ) -> Result<(), Denied> {
        self.count(budget::session_counter(&self.limits, inquiry, caller, now).into_iter().collect(), now).await
    }

    async fn count(&self, counters: Vec<budget::Counter>, now: UnixMillis) -> Result<(), Denied> {
        if counters.is_empty() {
            return Ok(());
        }
        if let Some(never) = budget::never_fits(&counters) {
            return Err(Denied::Refused(never.refusal(now)));
        }
        // The share is one hot item that every request writes: it stays out of the caller's own transaction (a
        // transaction on a hot item meets TransactionConflict under load, and costs twice the writes) and is
        // reserved in the same round trip, alongside it.
        let (share, callers): (Vec<_>, Vec<_>) =
            counters.into_iter().partition(|counter| counter.budget == Budget::PersonaCalls);
        let (for_callers, for_share) = tokio::join!(self.add_all(&callers, now), self.add_all(&share, now));
        match (for_callers, for_share) {
            (Ok(None), Ok(None)) => Ok(()),
            // Refused for its own limits: the share's calls stay reserved (reservations are never refunded).
            (Ok(Some(refused)), _) => Err(Denied::Refused(refused)),
            // Refused for the share: what the caller's counters counted is taken back, so a user retrying through
            // a spent share doesn't use up their own minute or their inquiry's day — without the 429 waiting for
            // it: a refusal answers after one round trip, like any other.
            (Ok(None), Ok(Some(refused))) => {
                self.store.take_back_detached(callers, now).await;
                Err(Denied::Refused(refused))
            }
            (Err(error), _) | (_, Err(error)) => Err(Denied::Unavailable(error)),
        }
    }

    /// Adds `counters` all or none; the refusal of the full one.
    async fn add_all(&self, counters: &[budget::Counter], now: UnixMillis) -> Result<Option<Refused>, GuardError> {
        if counters.is_empty() {
            return Ok(None);
        }
        match self.store.add(counters, now).await? {
            Counted::All => Ok(None),
            Counted::Full(index) => match counters.get(index) {
                Some(full) => Ok(Some(full.refusal(now))),
                None => Err(GuardError::Malformed {
                    operation: "add",
                    problem: format!("refusal names counter {index} of {}", counters.len()),
                }),
            },
        }
    }

    /// The ledger entry of a create (consistent read).
    pub async fn ledger_entry(&self, key: &LedgerKey<'_>) -> Result<Option<Entry>, GuardError> {
        self.store.read_entry(&key.item_key()).await
    }

    /// One conditional ledger write.
    pub async fn write_ledger(
        &self,
        key: &LedgerKey<'_>,
        write: &LedgerWrite,
        now: UnixMillis,
    ) -> Result<Written, GuardError> {
        self.store.write_entry(&key.item_key(), write, now).await
    }

    /// A create returned `version_id` for `template_id`: current for [`VERSION_MEMORY`] from now.
    pub async fn remember_version(
        &self,
        template_id: &str,
        version_id: &str,
        now: UnixMillis,
    ) -> Result<(), GuardError> {
        self.store.remember_version(template_id, version_id, now.plus(VERSION_MEMORY)).await
    }

    /// The versions of `template_id` that creates returned within the last [`VERSION_MEMORY`].
    pub async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError> {
        self.store.current_versions(template_id, now).await
    }
}

impl Guard<Store> {
    /// Opens the table's connection in the background (one probe read within [`dynamo::CONNECT_BUDGET`]; a failure is
    /// logged once, and every later operation fails open on its own). Called last at init: the probe's work (signing,
    /// the round trip) then overlaps the runtime's wait for the first event instead of lengthening the cold start,
    /// and the first admission finds the connection open. Call it inside a Tokio runtime.
    pub fn open_in_background(&self) {
        if let Store::Dynamo(store) = &self.store {
            let probe = store.clone();
            tokio::spawn(async move {
                if let Err(error) = probe.open(dynamo::CONNECT_BUDGET).await {
                    tracing::warn!(%error, "guard table not reachable at init: limits pass and creates walk the key sequence until it answers");
                }
            });
        }
    }

}

/// The store a deployment runs on: the table, or the in-process store without `GUARD_TABLE`.
#[derive(Debug)]
pub enum Store {
    Dynamo(DynamoStore),
    Memory(MemoryStore),
}

impl Store {
    /// `"dynamodb"` or `"memory"` (for the init log line).
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Dynamo(_) => "dynamodb",
            Self::Memory(_) => "memory",
        }
    }
}

// The SDK's futures are large: boxed, so a `Store` future (and every caller's frame) stays small.
impl GuardStore for Store {
    async fn add(&self, counters: &[budget::Counter], now: UnixMillis) -> Result<Counted, GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.add(counters, now)).await,
            Self::Memory(store) => store.add(counters, now).await,
        }
    }

    async fn take_back(&self, counters: &[budget::Counter], now: UnixMillis) -> Result<(), GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.take_back(counters, now)).await,
            Self::Memory(store) => store.take_back(counters, now).await,
        }
    }

    /// On its own task for the table: its request is written while the runtime posts the 429 (the task runs at
    /// the handler's first wait after answering), before Lambda can freeze the container for the next event.
    async fn take_back_detached(&self, counters: Vec<budget::Counter>, now: UnixMillis) {
        match self {
            Self::Dynamo(store) => {
                let store = store.clone();
                // In the invocation's span: a failure's line still names the request it belongs to.
                let take_back = async move { store::log_take_back(store.take_back(&counters, now).await) };
                tokio::spawn(tracing::Instrument::in_current_span(take_back));
            }
            Self::Memory(store) => store.take_back_detached(counters, now).await,
        }
    }

    async fn read_entry(&self, key: &str) -> Result<Option<Entry>, GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.read_entry(key)).await,
            Self::Memory(store) => store.read_entry(key).await,
        }
    }

    async fn write_entry(&self, key: &str, write: &LedgerWrite, now: UnixMillis) -> Result<Written, GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.write_entry(key, write, now)).await,
            Self::Memory(store) => store.write_entry(key, write, now).await,
        }
    }

    async fn remember_version(
        &self,
        template_id: &str,
        version_id: &str,
        until: UnixMillis,
    ) -> Result<(), GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.remember_version(template_id, version_id, until)).await,
            Self::Memory(store) => store.remember_version(template_id, version_id, until).await,
        }
    }

    async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError> {
        match self {
            Self::Dynamo(store) => Box::pin(store.current_versions(template_id, now)).await,
            Self::Memory(store) => store.current_versions(template_id, now).await,
        }
    }
}

/// The guard of a cold start: the table `table` through a client built from `sdk_config` (its connection opened by
/// [`Guard::open_in_background`]), or — without a table — the in-process store, said in one warning line.
pub async fn connect(sdk_config: &aws_config::SdkConfig, table: Option<&str>, limits: Limits) -> Guard {
    match table {
        Some(table) => {
            // No stalled-stream protection: every operation has its own time budget already (`dynamo::within`),
            // and the protection's timers cost ≈20 µs per request (bench/optimisations.md §8).
            let config = aws_sdk_dynamodb::config::Builder::from(sdk_config)
                .stalled_stream_protection(aws_sdk_dynamodb::config::StalledStreamProtectionConfig::disabled())
                .build();
            let store = DynamoStore::new(aws_sdk_dynamodb::Client::from_conf(config), table);
            Guard::new(Store::Dynamo(store), limits)
        }
        None => {
            tracing::warn!(
                "GUARD_TABLE is not set: the guard keeps its budgets and create ledger in this container only"
            );
            Guard::new(Store::Memory(MemoryStore::new()), limits)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::owner::Owner;

    const NOW: UnixMillis = UnixMillis(1_796_121_075_250);

    #[tokio::test(flavor = "current_thread")]
    async fn a_refusal_names_the_first_full_budget() {
        let store = MemoryStore::new();
        let guard = Guard::new(&store, Limits { persona_calls_per_minute: 4, requests_per_owner_per_minute: 1, sessions_per_inquiry_per_day: 1 });
        let owner = Owner::new("alice").unwrap();
        let inquiry = InquiryId::parse("inq_Guard1").unwrap();
        let request = Admission { owner: Some(&owner), inquiry: Some(&inquiry), persona_calls: 4 };
        guard.admit(&request, NOW).await.expect("room for one");
        let denied = guard.admit(&request, NOW).await.expect_err("every budget is full");
        assert_eq!(denied.refused().map(|r| &r.budget), Some(&Budget::OwnerRequests), "the owner's own limit first");
        let plan_too_big = Admission { owner: None, inquiry: None, persona_calls: 5 };
        let denied = guard.admit(&plan_too_big, NOW).await.expect_err("5 calls never fit in 4");
        assert_eq!(denied.refused().map(|r| (&r.budget, r.retry_after_seconds)), Some((&Budget::PersonaCalls, 45)));

    }

    /// A store that never answers in time.
    struct Broken;

    impl GuardStore for Broken {
        async fn add(&self, _: &[budget::Counter], _: UnixMillis) -> Result<Counted, GuardError> {
            Err(GuardError::Timeout { operation: "add", budget: Duration::from_millis(300) })
        }
        async fn take_back(&self, _: &[budget::Counter], _: UnixMillis) -> Result<(), GuardError> {
            Err(GuardError::Store { operation: "take_back", message: "down".into() })
        }
        async fn read_entry(&self, _: &str) -> Result<Option<Entry>, GuardError> {
            Err(GuardError::Store { operation: "read_entry", message: "down".into() })
        }
        async fn write_entry(&self, _: &str, _: &LedgerWrite, _: UnixMillis) -> Result<Written, GuardError> {
            Err(GuardError::Store { operation: "write_entry", message: "down".into() })
        }
        async fn remember_version(&self, _: &str, _: &str, _: UnixMillis) -> Result<(), GuardError> {
            Err(GuardError::Store { operation: "remember_version", message: "down".into() })
        }
        async fn current_versions(&self, _: &str, _: UnixMillis) -> Result<Vec<String>, GuardError> {
            Err(GuardError::Store { operation: "current_versions", message: "down".into() })
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_broken_store_is_unavailable_never_a_refusal_and_budgets_that_are_off_never_ask_it() {
        let limits = Limits { persona_calls_per_minute: 240, requests_per_owner_per_minute: 10, sessions_per_inquiry_per_day: 10 };
        let guard = Guard::new(Broken, limits);
        let inquiry = InquiryId::parse("inq_Guard1").unwrap();
        let request = Admission { owner: None, inquiry: Some(&inquiry), persona_calls: 2 };
        for denied in [
            guard.admit(&request, NOW).await,
            guard.reserve_calls(1, NOW).await,
            guard.count_session(&inquiry, None, NOW).await,
        ] {
            assert!(matches!(denied, Err(Denied::Unavailable(GuardError::Timeout { .. }))), "{denied:?}");
        }
        let key = LedgerKey::Recreate { outdated: &inquiry };
        assert!(guard.ledger_entry(&key).await.is_err());
        let off = Guard::new(Broken, Limits::OFF);
        assert!(off.admit(&request, NOW).await.is_ok(), "nothing to count: no round trip");
        assert!(off.reserve_calls(1, NOW).await.is_ok());
    }

    #[tokio::test(flavor = "current_thread")]
    async fn without_a_table_the_guard_is_the_in_process_store() {
        let sdk = aws_config::SdkConfig::builder().build();
        let guard = connect(&sdk, None, Limits::OFF).await;
        assert_eq!(guard.store().kind(), "memory");
        assert_eq!(guard.limits(), Limits::OFF);
    }
}
