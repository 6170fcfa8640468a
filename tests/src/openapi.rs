//! JSON Schema validation against an OpenAPI 3.1 document, the one validator of every contract check of the rig
//! (our own `openapi.yaml` and Persona's official files, checked by the fake): a schema is compiled from a slim
//! root that holds the schema in question beside the spec's reachable `components`, so every
//! `#/components/...` reference resolves; validators are cached by JSON pointer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// The parts of a spec a schema's `$ref` can reach: schemas (and headers) live under `components`.
const REACHABLE_COMPONENTS: &[&str] = &["schemas", "headers", "parameters", "responses"];

/// A root schema that is `schema` (a part of `spec`), beside the spec's reachable `components` so that every
/// internal `#/components/...` reference resolves. Leaving out `paths`, `webhooks` and the examples keeps each
/// compiled validator a quarter of Persona's spec (the fake's memory fell from 1 GB to under 300 MB).
fn validation_root(spec: &Value, schema: &Value) -> Value {
    let mut components = serde_json::Map::new();
    for name in REACHABLE_COMPONENTS {
        if let Some(part) = spec.pointer(&format!("/components/{name}")) {
            components.insert((*name).to_owned(), part.clone());
        }
    }
    serde_json::json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "components": components,
        "$defs": {"target": schema.clone()},
        "$ref": "#/$defs/target",
    })
}

/// An OpenAPI 3.1 document and the validators compiled from it so far.
pub struct SpecSchemas {
    spec: Arc<Value>,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl std::fmt::Debug for SpecSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecSchemas").finish_non_exhaustive()
    }
}

impl SpecSchemas {
    /// `Err` unless `spec` is an OpenAPI 3.1 document (3.0 schemas are not JSON Schema 2020-12).
    pub fn new(spec: impl Into<Arc<Value>>) -> Result<SpecSchemas, String> {
        let spec = spec.into();
        if spec.get("openapi").and_then(Value::as_str).is_none_or(|v| !v.starts_with("3.1")) {
            return Err("not an OpenAPI 3.1 document".into());
        }
        Ok(SpecSchemas { spec, validators: Mutex::new(HashMap::new()) })
    }

    pub fn spec(&self) -> &Value {
        &self.spec
    }

    /// Follows `$ref`s (`#/components/...`) from `pointer`; the final pointer and value.
    pub fn resolve(&self, mut pointer: String) -> Option<(String, &Value)> {
        let mut value = self.spec.pointer(&pointer)?;
        for _ in 0..8 {
            let Some(target) = value.get("$ref").and_then(Value::as_str) else {
                return Some((pointer, value));
            };
            pointer = target.strip_prefix('#')?.to_owned();
            value = self.spec.pointer(&pointer)?;
        }
        None
    }

    /// The validator of the schema at `schema_pointer`, compiled on first use.
    pub fn validator(&self, schema_pointer: &str) -> Result<Arc<Validator>, String> {
        let mut cache = self.validators.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(v) = cache.get(schema_pointer) {
            return Ok(Arc::clone(v));
        }
        let schema =
            self.spec.pointer(schema_pointer).ok_or_else(|| format!("the spec has no schema at {schema_pointer}"))?;
        let root = validation_root(&self.spec, schema);
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("cannot compile the schema at {schema_pointer}: {e}"))?;
        let validator = Arc::new(validator);
        cache.insert(schema_pointer.to_owned(), Arc::clone(&validator));
        Ok(validator)
    }

    /// Validates `instance` against the schema at `schema_pointer`: one line per error, `instance path: message`.
    pub fn validate(&self, schema_pointer: &str, instance: &Value) -> Vec<String> {
        match self.validator(schema_pointer) {
            Ok(validator) => validator
                .iter_errors(instance)
                .map(|e| {
                    let at = e.instance_path().to_string();
                    format!("{}: {e}", if at.is_empty() { "/" } else { at.as_str() })
                })
                .collect(),
            Err(e) => vec![e],
        }
    }

    /// As [`SpecSchemas::validate`], as a `Result`: `Err` lists what is wrong.
    pub fn check(&self, schema_pointer: &str, instance: &Value) -> Result<(), Vec<String>> {
        let errors = self.validate(schema_pointer, instance);
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors)
        }
    }
}
