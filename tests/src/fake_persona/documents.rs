//! JSON:API documents in Persona's shapes (kebab-case, every attribute the spec marks required present,
//! null where unknown), error bodies, and sparse fieldsets.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

use super::model::{Inquiry, Template};
use super::util::{iso8601, Millis};

fn time(ms: Option<Millis>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(iso8601(ms)))
}

fn to_one(kind: &str, id: Option<&str>) -> Value {
    json!({"data": id.map(|id| json!({"type": kind, "id": id}))})
}

/// `data` of an inquiry document.
pub fn inquiry_resource(inquiry: &Inquiry) -> Value {
    let attributes = json!({
        "status": inquiry.status,
        "reference-id": inquiry.reference_id,
        "note": inquiry.note,
        "behaviors": null,
        "tags": inquiry.tags,
        "creator": inquiry.creator,
        "reviewer-comment": null,
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
        "previous-step-name": if inquiry.started_at.is_some() { json!("start") } else { Value::Null },
        "next-step-name": if inquiry.started_at.is_some() { json!("verification_government_id") } else { json!("start") },
        "fields": inquiry.fields,
    });
    let mut relationships = Map::new();
    relationships.insert("account".into(), to_one("account", inquiry.account_id.as_deref()));
    if let Some(legacy) = &inquiry.legacy_template_id {
        relationships.insert("template".into(), to_one("template", Some(legacy)));
    } else {
        relationships.insert("inquiry-template".into(), to_one("inquiry-template", inquiry.template_id.as_deref()));
        relationships.insert(
            "inquiry-template-version".into(),
            to_one("inquiry-template-version", inquiry.template_version_id.as_deref()),
        );
    }
    relationships.insert("reviewer".into(), json!({"data": null}));
    relationships.insert("transaction".into(), json!({"data": null}));
    for many in ["reports", "verifications", "documents", "selfies"] {
        relationships.insert(many.into(), json!({"data": []}));
    }
    let sessions: Vec<Value> =
        inquiry.sessions.iter().map(|s| json!({"type": "inquiry-session", "id": s.id})).collect();
    relationships.insert("sessions".into(), json!({"data": sessions}));
    json!({
        "type": "inquiry",
        "id": inquiry.id,
        "attributes": attributes,
        "relationships": relationships,
    })
}

/// An `inquiry-template` object for `included`; `None` for legacy templates (their type is `template`).
pub fn template_resource(template: &Template) -> Value {
    if template.legacy {
        return json!({
            "type": "template",
            "id": template.id,
            "attributes": {"name": template.name},
        });
    }
    json!({
        "type": "inquiry-template",
        "id": template.id,
        "attributes": {"name": template.name, "status": template.status},
        "relationships": {
            "latest-published-version": to_one("inquiry-template-version", template.latest_published_version()),
        },
    })
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
