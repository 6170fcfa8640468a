//! Operating the functions: configuration, the API key, logs and metrics.

pub mod config;
pub(crate) mod metrics;
pub mod secrets;
pub mod telemetry;
