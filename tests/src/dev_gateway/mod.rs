//! The local stand-in for the deployed stack's API Gateway (`make dev`): a development tool of the test rig,
//! never part of the function binaries, which have no switch around the security model.
//!
//! - [`issuer`]: a local JWT issuer (RS256 key kept in `target/dev/`, JWKS at `/.well-known/jwks.json`,
//!   tokens from the dev-only `POST /dev/token` or `make token SUB=alice`);
//! - [`authorizer`]: checks tokens the way API Gateway's JWT authorizer does (401 `{"message":"Unauthorized"}`);
//! - [`routes`]: the template's four `POST` routes (405 with `Allow: POST` for other methods, 404 elsewhere);
//! - [`event`]: the HTTP API payload 2.0 event with the verified claims in `requestContext.authorizer.jwt`;
//! - [`server`]: invokes the functions through `cargo lambda watch` (hot reload) and serves `examples/web`;
//! - [`demo`]: the demo users alice and bob, planted in the fake Persona.

pub mod authorizer;
pub mod demo;
pub mod event;
pub mod issuer;
pub mod routes;
pub mod server;

/// The audience of the local issuer's tokens (the template's `JwtAudience`).
pub const DEV_AUDIENCE: &str = "persona-resume-dev";

/// The local issuer's URL (the template's `JwtIssuer`) for a gateway on `port`.
pub fn dev_issuer_url(port: u16) -> String {
    format!("http://127.0.0.1:{port}")
}
