//! The resume service and what it needs: its errors, the guard as an invocation uses it, the ledger-driven
//! create, list reading for the lookups, and the cold-start state.

pub mod creation;
pub mod error;
pub mod guard_session;
pub mod lookup;
pub mod service;
pub mod state;
