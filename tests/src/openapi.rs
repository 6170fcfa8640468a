//! JSON Schema validation against an OpenAPI 3.1 document, for every contract check of the rig: a schema is
//! compiled from a root that *is* the spec document plus a `$ref` to the schema in question, so every
//! `#/components/...` reference resolves inside the same document; validators are cached by JSON pointer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use jsonschema::{Draft, Validator};
use serde_json::Value;

pub(crate) use crate::fake_persona::contract::escape_pointer;

/// Percent-encodes a JSON pointer for use as a URI fragment (`{inquiry-id}` -> `%7Binquiry-id%7D`).
pub fn pointer_fragment(pointer: &str) -> String {
    let mut out = String::with_capacity(pointer.len());
    for byte in pointer.bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~/!$&'()*+,;=:@".contains(&byte) {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// An OpenAPI 3.1 document and the validators compiled from it so far.
pub struct SpecSchemas {
    spec: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

impl std::fmt::Debug for SpecSchemas {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpecSchemas").finish_non_exhaustive()
    }
}

impl SpecSchemas {
    /// `Err` unless `spec` is an OpenAPI 3.1 document (3.0 schemas are not JSON Schema 2020-12).
    pub fn new(spec: Value) -> Result<SpecSchemas, String> {
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
        let mut root = self.spec.clone();
        if let Value::Object(map) = &mut root {
            map.insert("$schema".into(), Value::String("https://json-schema.org/draft/2020-12/schema".into()));
            map.insert("$ref".into(), Value::String(format!("#{}", pointer_fragment(schema_pointer))));
        }
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
}
