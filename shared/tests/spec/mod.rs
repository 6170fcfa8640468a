//! Persona's OpenAPI files as a test oracle: examples, schema-validated variants, the endpoint → model table.

pub mod corpus;
pub mod endpoints;
pub mod openapi;
pub mod variants;
