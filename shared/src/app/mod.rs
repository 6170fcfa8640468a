//! The resume service and what it needs: its errors and the cold-start state.

pub mod error;
pub mod service;
pub(crate) mod state;
