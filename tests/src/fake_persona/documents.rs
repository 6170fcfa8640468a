//! JSON:API documents in Persona's shapes. Every resource starts from the matching example of the spec
//! the fake serves (`examples.rs`): the fake's state replaces what it models — ids, status, timestamps,
//! reference id, note, tags, creator, fields, and the relationships account, template, inquiry-template,
//! inquiry-template-version and sessions — and everything else stays as the example has it (`reviewer:
//! {"data": {}}`, `behaviors`, the verifications it names, the account type…). A to-one relationship the
//! fake has nothing for is an empty identifier object, `{"data": {}}`, as in Persona's examples.
//! Also: error bodies, sparse fieldsets, and the personal-data check on account objects.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::examples::Examples;
use super::model::{Account, Inquiry, Template};
use super::util::{iso8601, Millis};

fn time(ms: Option<Millis>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso8601(ms)))
}

/// `{"data": {"type": …, "id": …}}`, or the empty identifier object `{"data": {}}` when there is no id.
fn to_one(kind: &str, id: Option<&str>) -> Value {
    match id {
        Some(id) => json!({"data": {"type": kind, "id": id}}),
        None => json!({"data": {}}),
    }
}

/// An object's `attributes`/`relationships` member as a map (created when the example has none).
fn member<'v>(resource: &'v mut Value, name: &str) -> &'v mut Map<String, Value> {
    if !resource.get(name).is_some_and(Value::is_object) {
        resource[name] = json!({});
    }
    resource[name].as_object_mut().expect("just made an object")
}

/// Replaces the members we model, adding any the example lacks; keeps the example's order and the rest.
fn overlay(target: &mut Map<String, Value>, ours: Map<String, Value>) {
    for (key, value) in ours {
        target.insert(key, value);
    }
}

/// The 2023-01-05 inquiry carries flattened copies of some fields (`name-first`, `birthdate`…): the value of
/// the field of that name, or null.
fn flattened_field(inquiry: &Inquiry, key: &str) -> Value {
    inquiry.fields.get(key).and_then(|f| f.get("value")).filter(|v| v.is_string()).cloned().unwrap_or(Value::Null)
}

/// Inquiry attributes the fake models; the example provides the rest.
const INQUIRY_OWN_ATTRIBUTES: &[&str] = &[
    "status",
    "reference-id",
    "note",
    "tags",
    "creator",
    "created-at",
    "updated-at",
    "started-at",
    "expires-at",
    "completed-at",
    "failed-at",
    "marked-for-review-at",
    "decisioned-at",
    "expired-at",
    "redacted-at",
    "previous-step-name",
    "next-step-name",
    "fields",
];

/// An inquiry resource (`data`, or a list item) built on `example`, the example inquiry of the operation.
pub fn inquiry_resource_from(example: &Value, inquiry: &Inquiry) -> Value {
    let mut resource = example.clone();
    resource["type"] = json!("inquiry");
    resource["id"] = json!(inquiry.id);
    let started = inquiry.started_at.is_some();
    let ours = json!({
        "status": inquiry.status,
        "reference-id": inquiry.reference_id,
        "note": inquiry.note,
        "tags": inquiry.tags,
        "creator": inquiry.creator,
        "created-at": iso8601(inquiry.created_at),
        "updated-at": iso8601(inquiry.updated_at),
        "started-at": time(inquiry.started_at),
        "expires-at": time(inquiry.expires_at),
        "completed-at": time(inquiry.completed_at),
        "failed-at": time(inquiry.failed_at),
        "marked-for-review-at": time(inquiry.marked_for_review_at),
        "decisioned-at": time(inquiry.decisioned_at),
        "expired-at": time(inquiry.expired_at),
        "redacted-at": time(inquiry.redacted_at),
        "previous-step-name": if started { json!("start") } else { Value::Null },
        "next-step-name": if started { json!("verification_government_id") } else { json!("start") },
        "fields": inquiry.fields,
    });
    let attributes = member(&mut resource, "attributes");
    let flattened: Vec<String> =
        attributes.keys().filter(|k| !INQUIRY_OWN_ATTRIBUTES.contains(&k.as_str())).cloned().collect();
    for key in flattened {
        // Example members that copy personal data (2023-01-05) follow our fields; the rest stays.
        if key.starts_with("name-")
            || key.starts_with("address-")
            || matches!(key.as_str(), "birthdate" | "phone-number" | "email-address")
            || key.contains("number")
        {
            let value = flattened_field(inquiry, &key);
            attributes.insert(key, value);
        }
    }
    if let Value::Object(ours) = ours {
        overlay(attributes, ours);
    }

    let mut relationships = Map::new();
    relationships.insert("account".into(), to_one("account", inquiry.account_id.as_deref()));
    relationships.insert("template".into(), to_one("template", inquiry.legacy_template_id.as_deref()));
    relationships.insert("inquiry-template".into(), to_one("inquiry-template", inquiry.template_id.as_deref()));
    relationships.insert(
        "inquiry-template-version".into(),
        to_one("inquiry-template-version", inquiry.template_version_id.as_deref()),
    );
    let sessions: Vec<Value> =
        inquiry.sessions.iter().map(|s| json!({"type": "inquiry-session", "id": s.id})).collect();
    relationships.insert("sessions".into(), json!({"data": sessions}));
    overlay(member(&mut resource, "relationships"), relationships);
    resource
}

/// `data` of an inquiry document, built on the `GET /inquiries/{id}` example of `examples`.
pub fn inquiry_resource_with(examples: &Examples, inquiry: &Inquiry) -> Value {
    inquiry_resource_from(examples.resource(super::model::Endpoint::Get), inquiry)
}

/// `data` of an inquiry document, built on the default spec's `GET /inquiries/{id}` example.
/// Panics when that spec cannot be read (a test cannot go on without it).
pub fn inquiry_resource(inquiry: &Inquiry) -> Value {
    let examples = super::spec::default_examples().unwrap_or_else(|e| panic!("{e}"));
    inquiry_resource_with(&examples, inquiry)
}

/// An `inquiry-template` object for `included` (legacy templates: a `template` object), in the shape of the
/// example's included template when it has one.
pub fn template_resource_from(examples: Option<&Examples>, template: &Template) -> Value {
    if template.legacy {
        return json!({
            "type": "template",
            "id": template.id,
            "attributes": {"name": template.name},
        });
    }
    let mut resource = examples
        .and_then(|e| e.included_object("inquiry-template"))
        .cloned()
        .unwrap_or_else(|| json!({"type": "inquiry-template", "attributes": {}, "relationships": {}}));
    resource["id"] = json!(template.id);
    overlay(
        member(&mut resource, "attributes"),
        Map::from_iter([("name".into(), json!(template.name)), ("status".into(), json!(template.status))]),
    );
    overlay(
        member(&mut resource, "relationships"),
        Map::from_iter([(
            "latest-published-version".into(),
            to_one("inquiry-template-version", template.latest_published_version()),
        )]),
    );
    resource
}

/// [`template_resource_from`] without examples.
pub fn template_resource(template: &Template) -> Value {
    template_resource_from(None, template)
}

/// Account attributes that are not personal data; anything else on an account is.
pub const ACCOUNT_PLAIN_ATTRIBUTES: &[&str] =
    &["reference-id", "account-type-name", "account-status", "created-at", "updated-at", "redacted-at", "tags"];

/// An account resource built on `example` (an example account of the spec): our id, reference id,
/// timestamps and personal fields; the example's account type, tags and the rest. An account seeded
/// without personal data also has the example's flattened personal members (2023-01-05) emptied.
pub fn account_resource_from(example: &Value, account: &Account) -> Value {
    let mut resource = example.clone();
    resource["type"] = json!("account");
    resource["id"] = json!(account.id);
    let attributes = member(&mut resource, "attributes");
    if let Some(fields) = &account.fields {
        attributes.insert("fields".into(), Value::Object(fields.clone()));
        if fields.is_empty() {
            for (key, value) in attributes.iter_mut() {
                if !ACCOUNT_PLAIN_ATTRIBUTES.contains(&key.as_str()) && key != "fields" {
                    *value = if value.is_object() { json!({}) } else { Value::Null };
                }
            }
        }
    }
    overlay(
        attributes,
        Map::from_iter([
            ("reference-id".into(), json!(account.reference_id)),
            ("created-at".into(), json!(iso8601(account.created_at))),
            ("updated-at".into(), json!(iso8601(account.updated_at))),
            ("redacted-at".into(), Value::Null),
        ]),
    );
    resource
}

/// Whether an account object carries personal data: an attribute outside [`ACCOUNT_PLAIN_ATTRIBUTES`] with
/// a value (not null, not an empty object or array).
pub fn account_has_personal_data(resource: &Value) -> bool {
    resource.get("attributes").and_then(Value::as_object).is_some_and(|attributes| {
        attributes.iter().any(|(key, value)| {
            !ACCOUNT_PLAIN_ATTRIBUTES.contains(&key.as_str())
                && match value {
                    Value::Null => false,
                    Value::Object(o) => !o.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    _ => true,
                }
        })
    })
}

/// Whether a document (`data` object or list, and `included`) carries an account with personal data.
pub fn carries_personal_account_data(document: &Value) -> bool {
    let data = document.get("data").into_iter().flat_map(|d| match d {
        Value::Array(items) => items.iter().collect::<Vec<_>>(),
        other => vec![other],
    });
    let included = document.get("included").and_then(Value::as_array).into_iter().flatten();
    data.chain(included)
        .any(|o| o.get("type").and_then(Value::as_str) == Some("account") && account_has_personal_data(o))
}

/// `{"errors": [{"title": …, "details": …}]}`.
pub fn error_doc(title: &str, details: Option<&str>) -> Value {
    let mut item = Map::new();
    item.insert("title".into(), json!(title));
    if let Some(details) = details {
        item.insert("details".into(), json!(details));
    }
    json!({ "errors": [item] })
}

/// A 422 body with a JSON pointer to the offending member.
pub fn unprocessable_doc(details: &str, pointer: &str) -> Value {
    json!({"errors": [{"title": "Unprocessable entity", "details": details, "source": {"pointer": pointer}}]})
}

/// The 401 body (items carry only `title`).
pub fn unauthorized_doc() -> Value {
    json!({"errors": [{"title": "Must be authenticated to access this endpoint"}]})
}

/// Sparse fieldsets: `fields[inquiry]=status,reference-id` keeps only those attributes on objects of that
/// type. Persona honours them, which is why clients must not ask: the spec marks every inquiry attribute
/// required, so a sparse document fails the contract check (the fake records that).
pub fn apply_sparse_fieldsets(resource: &mut Value, fieldsets: &HashMap<String, Vec<String>>) {
    let Some(kind) = resource.get("type").and_then(Value::as_str) else {
        return;
    };
    let Some(wanted) = fieldsets.get(kind) else {
        return;
    };
    if let Some(Value::Object(attributes)) = resource.get_mut("attributes") {
        attributes.retain(|k, _| wanted.iter().any(|w| w == k));
    }
}
