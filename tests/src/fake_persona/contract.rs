//! The response contract check: every JSON document the fake answers (except deliberate fault answers)
//! is validated against the response schema of Persona's official OpenAPI 3.1 file for that operation and
//! status. Prism passes bad responses through silently, so this is the check that catches them.
//!
//! The spec is loaded once per process; the schemas are compiled and cached by the rig's one OpenAPI
//! validator, [`crate::openapi::SpecSchemas`]; this module only finds the response schema of an
//! (operation, status).

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Endpoint;
use crate::openapi::{escape_pointer, SpecSchemas};

pub use super::spec::SPEC_ENV;
use super::spec::{once_per_path, resolve_spec_path, PerPath, Spec, SpecVersion};

/// The spec a default fake serves: [`SPEC_ENV`], else the vendored file of `FAKE_PERSONA_SPEC_VERSION`, else
/// the vendored `persona-openapi/2025-12-08/openapi-bundled.json`.
pub fn default_spec_path() -> PathBuf {
    resolve_spec_path(None, None).unwrap_or_else(|_| SpecVersion::default().vendored_path())
}

/// A response that broke the contract.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ContractViolation {
    pub method: String,
    pub path: String,
    pub operation: Endpoint,
    pub status: u16,
    pub request_id: Option<String>,
    /// One line per schema error: `instance path: message`.
    pub errors: Vec<String>,
}

/// Validates documents against the spec's response schemas.
pub struct ContractChecker {
    spec: Arc<Spec>,
    schemas: SpecSchemas,
}

impl std::fmt::Debug for ContractChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractChecker").field("source", &self.spec.source).finish_non_exhaustive()
    }
}

impl ContractChecker {
    /// A checker over the (process-wide cached) spec file at `path`, with its own validator cache.
    pub fn load(path: &Path) -> Result<ContractChecker, String> {
        ContractChecker::over(Spec::cached(path)?)
    }

    /// A checker over a parsed spec (`Err` unless it is OpenAPI 3.1).
    pub fn over(spec: Arc<Spec>) -> Result<ContractChecker, String> {
        let schemas =
            SpecSchemas::new(Arc::clone(&spec.document)).map_err(|e| format!("{}: {e}", spec.source.display()))?;
        Ok(ContractChecker { spec, schemas })
    }

    /// The process-wide checker for the file at `path` (validators compiled once per process and path).
    pub fn cached(path: &Path) -> Result<Arc<ContractChecker>, String> {
        static CACHE: PerPath<ContractChecker> = OnceLock::new();
        once_per_path(&CACHE, path, || ContractChecker::load(path))
    }

    /// The process-wide checker for [`default_spec_path`], loaded on first use.
    pub fn shared() -> Result<Arc<ContractChecker>, String> {
        ContractChecker::cached(&default_spec_path())
    }

    /// The process-wide checker for the vendored file of one API version.
    pub fn for_version(version: SpecVersion) -> Result<Arc<ContractChecker>, String> {
        ContractChecker::cached(&version.vendored_path())
    }

    pub fn source(&self) -> &Path {
        &self.spec.source
    }

    pub fn spec(&self) -> &Arc<Spec> {
        &self.spec
    }

    /// JSON pointer (into the spec) of the response schema for `operation` answering `status`, following
    /// a `$ref` to `#/components/responses/...`. `None` when the spec documents no such response.
    pub fn response_schema_pointer(&self, operation: Endpoint, status: u16) -> Option<String> {
        let (path, method) = operation.spec_path_and_method();
        let responses_ptr = format!("/paths/{}/{method}/responses", escape_pointer(path));
        let responses = self.spec.document.pointer(&responses_ptr)?;
        let status_key = status.to_string();
        let range = format!("{}XX", status / 100);
        let key = [status_key.as_str(), range.as_str(), "default"].into_iter().find(|k| responses.get(k).is_some())?;
        // An OpenAPI Reference Object (`{"$ref": "#/components/responses/bad-request"}`) is followed.
        let (response_ptr, _) = self.schemas.resolve(format!("{responses_ptr}/{key}"))?;
        let schema_ptr = format!("{response_ptr}/content/application~1json/schema");
        self.spec.document.pointer(&schema_ptr).map(|_| schema_ptr)
    }

    /// The pointer of the response schema, or why there is none.
    fn schema_pointer(&self, operation: Endpoint, status: u16) -> Result<String, String> {
        self.response_schema_pointer(operation, status).ok_or_else(|| {
            let (path, method) = operation.spec_path_and_method();
            format!("the spec documents no application/json response {status} for {} {path}", method.to_uppercase())
        })
    }

    /// Compiles the validators of every documented (operation, status) now, so the first requests
    /// don't pay for it (the standalone binary does this at start-up, for benchmarks).
    pub fn warm_up(&self) {
        for operation in Endpoint::ALL {
            for status in [200, 201, 400, 401, 403, 404, 409, 422, 429] {
                if let Some(pointer) = self.response_schema_pointer(operation, status) {
                    if let Err(e) = self.schemas.validator(&pointer) {
                        eprintln!("fake-persona: {e}");
                    }
                }
            }
        }
    }

    /// Checks one document. `Err` lists what is wrong (an undocumented status is wrong too).
    pub fn check(&self, operation: Endpoint, status: u16, document: &Value) -> Result<(), Vec<String>> {
        self.schemas.check(&self.schema_pointer(operation, status).map_err(|e| vec![e])?, document)
    }
}
