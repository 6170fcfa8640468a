//! The error type of the test rig: a boxed error with a readable message, so tests can use `?` on
//! anything and a failure says what went wrong (with the captured output of the process involved).

/// Any error of the rig.
pub type Error = Box<dyn std::error::Error + Send + Sync + 'static>;

/// `Result` with the rig's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
