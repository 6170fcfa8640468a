//! Candidate variants of a document: each one changes one member in a way Persona's contract *may* allow. Which ones
//! it does allow is for the response schema to say — the caller keeps only the candidates it validates — so this
//! module needs no schema reading of its own and is a pure function of the document.

use serde_json::{Map, Value};

use super::openapi::escape_pointer;

/// What a candidate changes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Change {
    /// A non-null member (or array item) set to `null`.
    Null,
    /// An object member removed.
    Remove,
    /// A relationship's identifier object (`"data": {...}`) emptied to `{}`.
    EmptyIdentifier,
    /// An unknown member added to an object.
    Unknown,
}

impl Change {
    pub const ALL: [Change; 4] = [Change::Null, Change::Remove, Change::EmptyIdentifier, Change::Unknown];

    pub fn as_str(self) -> &'static str {
        match self {
            Change::Null => "null",
            Change::Remove => "remove",
            Change::EmptyIdentifier => "empty-identifier",
            Change::Unknown => "unknown-member",
        }
    }
}

/// The member name the `Unknown` change adds (no Persona member starts with `zz-`).
pub const UNKNOWN_MEMBER: &str = "zz-unknown-member";

/// One change at one place. `pointer` is where it applies (for `Unknown`, the object that gets the new member).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Edit {
    pub change: Change,
    pub pointer: String,
}

/// Every single-member candidate of `document`, in document order.
pub fn candidates(document: &Value) -> Vec<Edit> {
    let mut edits = Vec::new();
    walk(document, "", &mut edits);
    edits
}

fn walk(value: &Value, pointer: &str, edits: &mut Vec<Edit>) {
    match value {
        Value::Object(members) => {
            edits.push(Edit { change: Change::Unknown, pointer: pointer.to_owned() });
            for (key, member) in members {
                let at = format!("{pointer}/{}", escape_pointer(key));
                edits.push(Edit { change: Change::Remove, pointer: at.clone() });
                if !member.is_null() {
                    edits.push(Edit { change: Change::Null, pointer: at.clone() });
                }
                // `data` of a relationship (anything but the top-level primary data) holding an identifier object.
                if key == "data" && !pointer.is_empty() && member.as_object().is_some_and(|m| !m.is_empty()) {
                    edits.push(Edit { change: Change::EmptyIdentifier, pointer: at.clone() });
                }
                walk(member, &at, edits);
            }
        }
        Value::Array(items) => {
            for (index, item) in items.iter().enumerate() {
                let at = format!("{pointer}/{index}");
                if !item.is_null() {
                    edits.push(Edit { change: Change::Null, pointer: at.clone() });
                }
                walk(item, &at, edits);
            }
        }
        _ => {}
    }
}

/// The parent pointer and the last segment (unescaped) of a non-root pointer.
fn split(pointer: &str) -> Option<(&str, String)> {
    let (parent, last) = pointer.rsplit_once('/')?;
    Some((parent, last.replace("~1", "/").replace("~0", "~")))
}

/// Applies `edit` to `document` in place. `false` when its place no longer exists (an earlier edit removed or
/// replaced an ancestor), which leaves the document unchanged.
pub fn apply(document: &mut Value, edit: &Edit) -> bool {
    match edit.change {
        Change::Null => set(document, &edit.pointer, Value::Null),
        Change::EmptyIdentifier => set(document, &edit.pointer, Value::Object(Map::new())),
        Change::Unknown => match document.pointer_mut(&edit.pointer) {
            Some(Value::Object(members)) => {
                members.insert(UNKNOWN_MEMBER.into(), serde_json::json!({"zz-nested": [1, "two", null]}));
                true
            }
            _ => false,
        },
        Change::Remove => {
            let Some((parent, key)) = split(&edit.pointer) else { return false };
            match document.pointer_mut(parent) {
                Some(Value::Object(members)) => members.remove(&key).is_some(),
                _ => false,
            }
        }
    }
}

fn set(document: &mut Value, pointer: &str, value: Value) -> bool {
    match document.pointer_mut(pointer) {
        Some(slot) => {
            *slot = value;
            true
        }
        None => false,
    }
}

/// `document` with `edit` applied, or `None` when it does not apply.
pub fn variant(document: &Value, edit: &Edit) -> Option<Value> {
    let mut copy = document.clone();
    apply(&mut copy, edit).then_some(copy)
}

/// `document` with every edit of `edits` applied in order (those whose place is gone are skipped).
pub fn combined<'a>(document: &Value, edits: impl IntoIterator<Item = &'a Edit>) -> Value {
    let mut copy = document.clone();
    for edit in edits {
        apply(&mut copy, edit);
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn edit(change: Change, pointer: &str) -> Edit {
        Edit { change, pointer: pointer.into() }
    }

    #[test]
    fn candidates_cover_every_member_once_per_change() {
        let document = json!({"data": {"id": "inq_1", "rel": {"data": {"id": "x"}}, "tags": ["a", null]}});
        let expected = vec![
            edit(Change::Unknown, ""),
            edit(Change::Remove, "/data"),
            edit(Change::Null, "/data"),
            edit(Change::Unknown, "/data"),
            edit(Change::Remove, "/data/id"),
            edit(Change::Null, "/data/id"),
            edit(Change::Remove, "/data/rel"),
            edit(Change::Null, "/data/rel"),
            edit(Change::Unknown, "/data/rel"),
            edit(Change::Remove, "/data/rel/data"),
            edit(Change::Null, "/data/rel/data"),
            edit(Change::EmptyIdentifier, "/data/rel/data"),
            edit(Change::Unknown, "/data/rel/data"),
            edit(Change::Remove, "/data/rel/data/id"),
            edit(Change::Null, "/data/rel/data/id"),
            edit(Change::Remove, "/data/tags"),
            edit(Change::Null, "/data/tags"),
            edit(Change::Null, "/data/tags/0"),
        ];
        assert_eq!(candidates(&document), expected);
    }

    #[test]
    fn empty_identifiers_and_nulls_are_not_proposed_twice() {
        let document = json!({"data": {"a": {"data": {}}, "b": null}});
        let proposed = candidates(&document);
        assert!(!proposed.iter().any(|e| e.change == Change::EmptyIdentifier));
        assert!(!proposed.contains(&edit(Change::Null, "/data/b")));
    }

    #[test]
    fn apply_table() {
        let document = json!({"data": {"a/b": 1, "rel": {"data": {"id": "x"}}}});
        let table = [
            (edit(Change::Null, "/data/a~1b"), Some(json!({"data": {"a/b": null, "rel": {"data": {"id": "x"}}}}))),
            (edit(Change::Remove, "/data/a~1b"), Some(json!({"data": {"rel": {"data": {"id": "x"}}}}))),
            (edit(Change::EmptyIdentifier, "/data/rel/data"), Some(json!({"data": {"a/b": 1, "rel": {"data": {}}}}))),
            (
                edit(Change::Unknown, "/data/rel"),
                Some(json!({"data": {"a/b": 1, "rel": {"data": {"id": "x"},
                    UNKNOWN_MEMBER: {"zz-nested": [1, "two", null]}}}})),
            ),
            (edit(Change::Remove, "/data/missing"), None),
            (edit(Change::Null, "/nowhere/x"), None),
            (edit(Change::Unknown, "/data/a~1b"), None),
            (edit(Change::Remove, ""), None),
        ];
        for (edit, expected) in table {
            assert_eq!(variant(&document, &edit), expected, "{edit:?}");
        }
    }

    #[test]
    fn combined_skips_edits_under_a_removed_member() {
        let document = json!({"data": {"rel": {"data": {"id": "x"}}, "keep": 1}});
        let edits = [
            edit(Change::Remove, "/data/rel"),
            edit(Change::Null, "/data/rel/data/id"),
            edit(Change::Null, "/data/keep"),
        ];
        assert_eq!(combined(&document, &edits), json!({"data": {"keep": null}}));
    }
}
