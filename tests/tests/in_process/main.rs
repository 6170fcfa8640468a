//! The in-process test binary: the real handler and service in this process, the fake Persona over real HTTP.
//! Fast, and needs nothing installed. (`tests/tests/binaries` runs the same scenarios on the release binaries.)

mod config_defaults;
mod dev_gateway;
mod events;
mod hostile;
mod runtime_api;
mod scenarios;
