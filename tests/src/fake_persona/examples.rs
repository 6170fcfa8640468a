//! The success examples of Persona's OpenAPI file, one per operation the fake serves: every document the
//! fake answers starts from one of them (see `documents.rs`), so it carries Persona's documented shapes —
//! empty identifier objects (`"template": {"data": {}}`), the full attribute set, extra `included` objects.

use std::collections::HashMap;

use serde_json::Value;

use super::contract::escape_pointer;
use super::model::Endpoint;

/// The example documents of one spec file, by operation.
#[derive(Clone, Debug)]
pub struct Examples {
    documents: HashMap<Endpoint, Value>,
}

/// The status of an operation's success answer.
pub fn success_status(endpoint: Endpoint) -> u16 {
    if endpoint == Endpoint::Create {
        201
    } else {
        200
    }
}

/// Follows `{"$ref": "#/..."}` inside the spec (a few hops at most).
fn resolve<'s>(spec: &'s Value, mut value: &'s Value) -> Option<&'s Value> {
    for _ in 0..4 {
        match value.get("$ref").and_then(Value::as_str) {
            Some(target) => value = spec.pointer(target.strip_prefix('#')?)?,
            None => return Some(value),
        }
    }
    None
}

/// The first `application/json` example of an operation's success answer.
fn example_of(spec: &Value, endpoint: Endpoint) -> Result<Value, String> {
    let (path, method) = endpoint.spec_path_and_method();
    let status = success_status(endpoint);
    let pointer = format!("/paths/{}/{method}/responses/{status}", escape_pointer(path));
    let missing = || format!("the spec has no application/json example at {pointer}");
    let response = resolve(spec, spec.pointer(&pointer).ok_or_else(missing)?).ok_or_else(missing)?;
    let content = response.pointer("/content/application~1json").ok_or_else(missing)?;
    let example = match content.get("examples").and_then(Value::as_object) {
        Some(examples) => {
            let first = examples.values().next().ok_or_else(missing)?;
            resolve(spec, first).and_then(|e| e.get("value")).ok_or_else(missing)?
        }
        None => content.get("example").ok_or_else(missing)?,
    };
    let data = example.get("data").ok_or_else(missing)?;
    let shaped = match endpoint {
        Endpoint::List | Endpoint::AccountList => data.as_array().and_then(|items| items.first()).is_some(),
        _ => data.is_object(),
    };
    if !shaped {
        return Err(format!("the example at {pointer} has no data object to start from"));
    }
    Ok(example.clone())
}

impl Examples {
    /// Takes the examples of every served operation from the spec; fails when one is missing.
    pub fn from_spec(spec: &Value) -> Result<Examples, String> {
        let mut documents = HashMap::new();
        for endpoint in Endpoint::ALL {
            documents.insert(endpoint, example_of(spec, endpoint)?);
        }
        Ok(Examples { documents })
    }

    /// The whole example document of an operation.
    pub fn document(&self, endpoint: Endpoint) -> &Value {
        // `from_spec` filled every operation.
        &self.documents[&endpoint]
    }

    /// The resource the operation's documents are built from: `data`, or the first list item.
    pub fn resource(&self, endpoint: Endpoint) -> &Value {
        let data = &self.document(endpoint)["data"];
        data.as_array().and_then(|items| items.first()).unwrap_or(data)
    }

    /// The example's `included` objects (empty when it has none).
    pub fn included(&self, endpoint: Endpoint) -> &[Value] {
        self.document(endpoint).get("included").and_then(Value::as_array).map_or(&[], Vec::as_slice)
    }

    /// Whether the operation's example carries an `included` member at all.
    pub fn has_included(&self, endpoint: Endpoint) -> bool {
        self.document(endpoint).get("included").is_some()
    }

    /// An object of `kind` found in any example's `included` (the shape our own objects of that kind take).
    pub fn included_object(&self, kind: &str) -> Option<&Value> {
        Endpoint::ALL
            .iter()
            .flat_map(|e| self.included(*e))
            .find(|o| o.get("type").and_then(Value::as_str) == Some(kind))
    }

    /// The example account resource (`GET /accounts/{id}`).
    pub fn account(&self) -> &Value {
        self.resource(Endpoint::AccountGet)
    }

    /// The example account's personal `fields` (what an account holds unless seeded otherwise).
    pub fn account_fields(&self) -> serde_json::Map<String, Value> {
        self.account().pointer("/attributes/fields").and_then(Value::as_object).cloned().unwrap_or_default()
    }
}
