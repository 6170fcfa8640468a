//! The rules, as pure types and functions: no I/O here.

pub mod ids;
pub mod inquiry;
pub mod lookup;
pub mod owner;
pub mod policy;
pub mod status;
pub mod timestamp;
