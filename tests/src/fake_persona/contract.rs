//! The response contract check: every JSON document the fake answers (except deliberate fault answers)
//! is validated against the response schema of Persona's official OpenAPI 3.1 file for that operation and
//! status. Prism passes bad responses through silently, so this is the check that catches them.
//!
//! The spec is loaded once per process; each (operation, status) validator is compiled on first use from
//! a root schema that *is* the spec document plus a `$ref` to the response schema, so every internal
//! `#/components/...` reference resolves inside the same document.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::model::Endpoint;

pub use super::spec::SPEC_ENV;
use super::spec::{resolve_spec_path, Spec, SpecVersion};

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
    validators: Mutex<HashMap<(Endpoint, u16), Arc<Validator>>>,
}

impl std::fmt::Debug for ContractChecker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ContractChecker").field("source", &self.spec.source).finish_non_exhaustive()
    }
}

/// Escapes one JSON pointer segment (RFC 6901).
pub(crate) fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The parts of the spec a response schema can reach: schemas (and headers) live under `components`.
const REACHABLE_COMPONENTS: &[&str] = &["schemas", "headers", "parameters", "responses"];

/// A root schema that is the response schema at `pointer`, beside the spec's reachable `components` so
/// that every internal `#/components/...` reference resolves. Leaving out `paths`, `webhooks` and the
/// examples keeps each compiled validator a quarter of the spec's size.
fn validation_root(spec: &Value, pointer: &str) -> Value {
    let mut components = serde_json::Map::new();
    for name in REACHABLE_COMPONENTS {
        if let Some(part) = spec.pointer(&format!("/components/{name}")) {
            components.insert((*name).to_owned(), part.clone());
        }
    }
    let response = spec.pointer(pointer).cloned().unwrap_or(Value::Bool(false));
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": components,
        "$defs": {"response": response},
        "$ref": "#/$defs/response",
    })
}

impl ContractChecker {
    /// A checker over the (process-wide cached) spec file at `path`, with its own validator cache.
    pub fn load(path: &Path) -> Result<ContractChecker, String> {
        Ok(ContractChecker::over(Spec::cached(path)?))
    }

    /// A checker over a parsed spec.
    pub fn over(spec: Arc<Spec>) -> ContractChecker {
        ContractChecker { spec, validators: Mutex::new(HashMap::new()) }
    }

    /// The process-wide checker for the file at `path` (validators compiled once per process and path).
    pub fn cached(path: &Path) -> Result<Arc<ContractChecker>, String> {
        static CACHE: OnceLock<Mutex<HashMap<PathBuf, Arc<ContractChecker>>>> = OnceLock::new();
        let cache = CACHE.get_or_init(|| Mutex::new(HashMap::new()));
        if let Some(checker) = cache.lock().unwrap_or_else(|p| p.into_inner()).get(path) {
            return Ok(Arc::clone(checker));
        }
        let checker = Arc::new(ContractChecker::load(path)?);
        let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
        Ok(Arc::clone(cache.entry(path.to_owned()).or_insert(checker)))
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
        let spec = &self.spec.document;
        let responses = spec.pointer(&responses_ptr)?;
        let status_key = status.to_string();
        let (mut ptr, mut response) = if let Some(r) = responses.get(&status_key) {
            (format!("{responses_ptr}/{status_key}"), r)
        } else {
            let range = format!("{}XX", status / 100);
            (format!("{responses_ptr}/{range}"), responses.get(&range).or_else(|| responses.get("default"))?)
        };
        // An OpenAPI Reference Object (`{"$ref": "#/components/responses/bad-request"}`).
        for _ in 0..4 {
            let Some(target) = response.get("$ref").and_then(Value::as_str) else {
                break;
            };
            let target = target.strip_prefix('#')?;
            ptr = target.to_owned();
            response = spec.pointer(target)?;
        }
        let schema_ptr = format!("{ptr}/content/application~1json/schema");
        spec.pointer(&schema_ptr).map(|_| schema_ptr)
    }

    fn validator(&self, operation: Endpoint, status: u16) -> Result<Arc<Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(&(operation, status)) {
            return Ok(Arc::clone(v));
        }
        let pointer = self.response_schema_pointer(operation, status).ok_or_else(|| {
            format!(
                "the spec documents no application/json response {status} for {} {}",
                operation.spec_path_and_method().1.to_uppercase(),
                operation.spec_path_and_method().0
            )
        })?;
        let root = validation_root(&self.spec.document, &pointer);
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("cannot compile the schema at {pointer}: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert((operation, status), Arc::clone(&validator));
        Ok(validator)
    }

    /// Compiles the validators of every documented (operation, status) now, so the first requests
    /// don't pay for it (the standalone binary does this at start-up, for benchmarks).
    pub fn warm_up(&self) {
        for operation in Endpoint::ALL {
            for status in [200, 201, 400, 401, 403, 404, 409, 422, 429] {
                if self.response_schema_pointer(operation, status).is_some() {
                    if let Err(e) = self.validator(operation, status) {
                        eprintln!("fake-persona: {e}");
                    }
                }
            }
        }
    }

    /// Checks one document. `Err` lists what is wrong (an undocumented status is wrong too).
    pub fn check(&self, operation: Endpoint, status: u16, document: &Value) -> Result<(), Vec<String>> {
        let validator = self.validator(operation, status).map_err(|e| vec![e])?;
        let errors: Vec<String> = validator
            .iter_errors(document)
            .map(|e| {
                let at = e.instance_path().to_string();
                format!("{}: {e}", if at.is_empty() { "/" } else { at.as_str() })
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
