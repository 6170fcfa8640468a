//! The in-process guard store: the same semantics as the table, for one container (without `GUARD_TABLE`,
//! with one warning at init) and for the service's unit tests. The conditions are `budget.rs`'s and
//! `ledger.rs`'s own functions, so this store is the reference the DynamoDB adapter is held to.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use super::budget::Counter;
use super::ledger::{apply, Entry, LedgerWrite};
use super::store::{versions_key, Counted, GuardError, GuardStore, Written};
use super::time::UnixMillis;

/// Clones share one store, as a stack's functions share one table (the rig's in-process deployments do).
#[derive(Debug, Default, Clone)]
pub struct MemoryStore {
    items: Arc<Mutex<HashMap<String, Item>>>,
}

#[derive(Debug)]
enum Item {
    Counter { count: u64, expires_at: u64 },
    Entry(Entry),
    /// version id -> until.
    Versions(BTreeMap<String, UnixMillis>),
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    // No code panics while holding the lock, so a poisoned map is still consistent.
    fn items(&self) -> MutexGuard<'_, HashMap<String, Item>> {
        self.items.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl GuardStore for MemoryStore {
    async fn add(&self, counters: &[Counter], now: UnixMillis) -> Result<Counted, GuardError> {
        let mut items = self.items();
        // What TTL does for the table: counters of past windows are never read again.
        items.retain(|_, item| !matches!(item, Item::Counter { expires_at, .. } if *expires_at <= now.seconds()));
        let current = |items: &HashMap<String, Item>, key: &str| match items.get(key) {
            Some(Item::Counter { count, .. }) => *count,
            _ => 0,
        };
        if let Some(full) = counters.iter().position(|counter| !counter.fits_on(current(&items, &counter.key))) {
            return Ok(Counted::Full(full));
        }
        for counter in counters {
            let count = current(&items, &counter.key) + u64::from(counter.add);
            items.insert(counter.key.clone(), Item::Counter { count, expires_at: counter.expires_at });
        }
        Ok(Counted::All)
    }

    async fn take_back(&self, counters: &[Counter], _now: UnixMillis) -> Result<(), GuardError> {
        let mut items = self.items();
        for counter in counters {
            if let Some(Item::Counter { count, .. }) = items.get_mut(&counter.key) {
                *count = count.saturating_sub(u64::from(counter.add));
            }
        }
        Ok(())
    }

    async fn read_entry(&self, key: &str) -> Result<Option<Entry>, GuardError> {
        match self.items().get(key) {
            Some(Item::Entry(entry)) => Ok(Some(entry.clone())),
            Some(_) => Err(GuardError::Malformed { operation: "read_entry", problem: "not a ledger entry".into() }),
            None => Ok(None),
        }
    }

    async fn write_entry(&self, key: &str, write: &LedgerWrite, now: UnixMillis) -> Result<Written, GuardError> {
        let mut items = self.items();
        let before = match items.get(key) {
            Some(Item::Entry(entry)) => Some(entry),
            Some(_) => {
                return Err(GuardError::Malformed { operation: "write_entry", problem: "not a ledger entry".into() })
            }
            None => None,
        };
        match apply(before, write, now) {
            Ok(Some(after)) => {
                items.insert(key.to_owned(), Item::Entry(after));
                Ok(Written::Yes)
            }
            Ok(None) => {
                items.remove(key);
                Ok(Written::Yes)
            }
            Err(_) => Ok(Written::Conflict),
        }
    }

    async fn remember_version(
        &self,
        template_id: &str,
        version_id: &str,
        until: UnixMillis,
    ) -> Result<(), GuardError> {
        let mut items = self.items();
        let item = items.entry(versions_key(template_id)).or_insert_with(|| Item::Versions(BTreeMap::new()));
        match item {
            Item::Versions(versions) => {
                versions.insert(version_id.to_owned(), until);
                Ok(())
            }
            _ => Err(GuardError::Malformed { operation: "remember_version", problem: "not a version set".into() }),
        }
    }

    async fn current_versions(&self, template_id: &str, now: UnixMillis) -> Result<Vec<String>, GuardError> {
        match self.items().get(&versions_key(template_id)) {
            Some(Item::Versions(versions)) => {
                Ok(versions.iter().filter(|(_, until)| **until > now).map(|(version, _)| version.clone()).collect())
            }
            Some(_) => Err(GuardError::Malformed { operation: "current_versions", problem: "not a version set".into() }),
            None => Ok(Vec::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::guard::conformance;

    #[tokio::test(flavor = "current_thread")]
    async fn the_memory_store_passes_the_behavioural_suite() {
        conformance::run_all(&MemoryStore::new()).await;
    }
}
