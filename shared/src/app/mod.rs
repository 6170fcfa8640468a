//! The resume service and what it needs: its errors, the guard as an invocation uses it, the ledger-driven
//! create, list reading for the lookups, and the cold-start state.

pub(crate) mod creation;
pub mod error;
pub(crate) mod guard_session;
pub(crate) mod lookup;
pub mod service;
pub(crate) mod state;

/// The guard's budgets as configured: the rig builds its in-process guard with them.
#[cfg(feature = "testing")]
pub use state::limits;
