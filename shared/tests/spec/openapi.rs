//! Persona's vendored OpenAPI files as test data: the 2xx examples of an operation and a validator for its response
//! schema. The validator is built the way the fake's contract check builds it (tests/src/fake_persona/contract.rs):
//! the root schema *is* the bundled document plus a `$ref` to the response schema, so every `#/components/...`
//! reference resolves inside the same file.
//!
//! Shared with the `persona_documents` fuzz target (`#[path]` include), so it depends on serde_json and jsonschema
//! only.

use std::path::{Path, PathBuf};

use jsonschema::{Draft, Validator};
use serde_json::Value;

/// The API versions whose bundled files are vendored under `persona-openapi/`.
pub const VERSIONS: [&str; 2] = ["2025-12-08", "2023-01-05"];

/// `persona-openapi/<version>/openapi-bundled.json` under the repository root (`root` is the repository).
pub fn spec_path(root: &Path, version: &str) -> PathBuf {
    root.join("persona-openapi").join(version).join("openapi-bundled.json")
}

/// One bundled OpenAPI file.
pub struct Spec {
    pub version: String,
    pub document: Value,
}

/// One documented response example of an operation.
pub struct Example {
    pub status: u16,
    /// The key under `examples` (`Success`), with the `components/examples` name it refers to, if any.
    pub name: String,
    pub value: Value,
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn escape_pointer(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

/// Percent-encodes a JSON pointer for use as a URI fragment (`{inquiry-id}` -> `%7Binquiry-id%7D`).
fn pointer_fragment(pointer: &str) -> String {
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

impl Spec {
    pub fn load(root: &Path, version: &str) -> Result<Spec, String> {
        let path = spec_path(root, version);
        let text = std::fs::read_to_string(&path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let document: Value =
            serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))?;
        Ok(Spec { version: version.to_owned(), document })
    }

    /// Follows OpenAPI Reference Objects (`{"$ref": "#/components/..."}`) from `pointer`; the final pointer.
    fn resolve(&self, mut pointer: String) -> Option<String> {
        for _ in 0..8 {
            let node = self.document.pointer(&pointer)?;
            match node.get("$ref").and_then(Value::as_str) {
                Some(target) => pointer = target.strip_prefix('#')?.to_owned(),
                None => return Some(pointer),
            }
        }
        None
    }

    /// Pointer of the operation's `responses` object.
    fn responses_pointer(path: &str, method: &str) -> String {
        format!("/paths/{}/{method}/responses", escape_pointer(path))
    }

    /// The 2xx statuses the operation documents, ascending.
    pub fn success_statuses(&self, path: &str, method: &str) -> Vec<u16> {
        let pointer = Self::responses_pointer(path, method);
        let mut statuses: Vec<u16> = self
            .document
            .pointer(&pointer)
            .and_then(Value::as_object)
            .map(|responses| {
                responses.keys().filter_map(|k| k.parse().ok()).filter(|s| (200..300).contains(s)).collect()
            })
            .unwrap_or_default();
        statuses.sort_unstable();
        statuses
    }

    /// Pointer of the `application/json` content of the operation's `status` response, references followed.
    fn content_pointer(&self, path: &str, method: &str, status: u16) -> Option<String> {
        let response = self.resolve(format!("{}/{status}", Self::responses_pointer(path, method)))?;
        let content = format!("{response}/content/application~1json");
        self.document.pointer(&content).map(|_| content)
    }

    /// JSON pointer of the response schema (the same lookup as the fake's contract check).
    pub fn response_schema_pointer(&self, path: &str, method: &str, status: u16) -> Option<String> {
        let schema = format!("{}/schema", self.content_pointer(path, method, status)?);
        self.document.pointer(&schema).map(|_| schema)
    }

    /// Every example of every 2xx `application/json` response of the operation (`examples.*.value`, with
    /// references to `components/examples` followed, and a bare `example` if there is one).
    pub fn success_examples(&self, path: &str, method: &str) -> Vec<Example> {
        let mut examples = Vec::new();
        for status in self.success_statuses(path, method) {
            let Some(content) = self.content_pointer(path, method, status) else { continue };
            if let Some(value) = self.document.pointer(&format!("{content}/example")) {
                examples.push(Example { status, name: "example".into(), value: value.clone() });
            }
            let Some(named) = self.document.pointer(&format!("{content}/examples")).and_then(Value::as_object) else {
                continue;
            };
            for (key, example) in named {
                let referenced = example.get("$ref").and_then(Value::as_str).and_then(|r| r.rsplit('/').next());
                let name = match referenced {
                    Some(target) if target != key => format!("{key}({target})"),
                    _ => key.clone(),
                };
                let resolved = self.resolve(format!("{content}/examples/{}", escape_pointer(key)));
                let value = resolved.and_then(|p| self.document.pointer(&format!("{p}/value")));
                if let Some(value) = value {
                    examples.push(Example { status, name, value: value.clone() });
                }
            }
        }
        examples
    }

    /// Compiles the validator of one response schema (once per schema: compiling walks the whole file).
    pub fn validator(&self, schema_pointer: &str) -> Result<Validator, String> {
        let mut root = self.document.clone();
        if let Value::Object(map) = &mut root {
            map.insert("$schema".into(), Value::String("https://json-schema.org/draft/2020-12/schema".into()));
            map.insert("$ref".into(), Value::String(format!("#{}", pointer_fragment(schema_pointer))));
        }
        jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .map_err(|e| format!("{}: cannot compile the schema at {schema_pointer}: {e}", self.version))
    }
}
