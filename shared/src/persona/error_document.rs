//! Persona's error bodies, `{"errors": [{"title", "details", "source": {"pointer"}, "meta": {…}}]}`
//! (docs/persona-api.md, "Transport" and "API 2026-09-29"): `source` on 422 items and, from 2026-09-29, on 400
//! items; `meta` (any object) on 400/403/404/409 items. A 401's items carry only `title`. Every member is optional
//! and an item we can't read is left out: an error body only ever explains a failure, it never decides one.

use serde::Deserialize;

#[derive(Debug, Clone, Default, Deserialize)]
pub struct ErrorDocument {
    #[serde(default, deserialize_with = "readable_items")]
    pub errors: Vec<ErrorItem>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
pub struct ErrorItem {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default)]
    pub details: Option<String>,
    #[serde(default)]
    pub source: Option<ErrorSource>,
    #[serde(default)]
    pub meta: Option<serde_json::Map<String, serde_json::Value>>,
}

/// `{"pointer": "/data/attributes/…"}`: the member of our request Persona refused.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ErrorSource {
    #[serde(default)]
    pub pointer: Option<String>,
}

impl ErrorDocument {
    /// Reads an error body; anything that is not one (HTML from a proxy, an empty body) reads as no items.
    pub fn parse(body: &[u8]) -> ErrorDocument {
        serde_json::from_slice(body).unwrap_or_default()
    }

    /// The pointers of the refused members, in order.
    #[cfg(any(test, feature = "testing"))]
    pub fn pointers(&self) -> impl Iterator<Item = &str> {
        self.errors.iter().filter_map(|item| item.source.as_ref()?.pointer.as_deref())
    }
}

fn readable_items<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<ErrorItem>, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
    let items = match raw {
        Some(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    Ok(items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect())
}
