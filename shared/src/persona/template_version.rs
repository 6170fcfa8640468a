//! Inquiry template versions as API 2026-09-29 describes them in `included` (docs/persona-api.md, "API
//! 2026-09-29"): `live`, an optional `version-tag`, and the `deployments` that route inquiry creation per
//! environment. Parsed so the service can read them, never executed: which version a create gives is learnt
//! from creates (docs/design.md, "What latest means").
//!
//! Lenient where Persona's schema is open: an unknown strategy type or route criterion is kept as `Other`, a
//! member that is malformed reads as absent, and a version object that is not readable at all is skipped by
//! [`TemplateVersion::from_included`] rather than failing the inquiry's document.

use serde::{Deserialize, Deserializer};

use super::model::{IncludedResource, ToOne};

/// `included[type == "inquiry-template-version"]`.
#[derive(Debug, Clone, Deserialize)]
pub struct TemplateVersion {
    pub id: String,
    #[serde(default, deserialize_with = "lenient")]
    pub attributes: TemplateVersionAttributes,
    #[serde(default, deserialize_with = "lenient")]
    pub relationships: TemplateVersionRelationships,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateVersionAttributes {
    /// `published`, `draft`, or a value Persona adds later.
    #[serde(default, deserialize_with = "lenient")]
    pub status: Option<String>,
    /// 2026-09-29: configured for inquiry creation in any or all environments (2025-12-08: the template's current
    /// live published version).
    #[serde(default, deserialize_with = "lenient")]
    pub live: Option<bool>,
    #[serde(default, deserialize_with = "lenient")]
    pub version_tag: Option<VersionTag>,
    /// Only the readable deployments: one Persona describes in a way we don't know is left out.
    #[serde(default, deserialize_with = "readable_items")]
    pub deployments: Vec<Deployment>,
    #[serde(default, deserialize_with = "lenient")]
    pub published_at: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct TemplateVersionRelationships {
    #[serde(default, deserialize_with = "lenient")]
    pub inquiry_template: Option<ToOne>,
}

/// `{name, description, created-at}`: a name an operator gave a published version (`v2`, `3`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct VersionTag {
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub created_at: Option<String>,
}

/// Where and how a template's creates are routed in one environment.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct Deployment {
    #[serde(default, deserialize_with = "lenient")]
    pub resource_type: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub template_id: Option<String>,
    #[serde(default, deserialize_with = "lenient")]
    pub environment: Option<DeploymentEnvironment>,
    #[serde(default, deserialize_with = "readable_items")]
    pub rules: Vec<DeploymentRule>,
}

/// `{token: "env_…", name: "production"}`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct DeploymentEnvironment {
    #[serde(default)]
    pub token: Option<String>,
    #[serde(default)]
    pub name: Option<String>,
}

/// One routing rule: a strategy, and (the piece we could read names them "route criteria" without showing
/// their member in a rule) the criteria under which it applies.
#[derive(Debug, Clone, Deserialize)]
pub struct DeploymentRule {
    pub strategy: Strategy,
    #[serde(default, alias = "route-criteria", deserialize_with = "lenient")]
    pub criteria: Option<RouteCriteria>,
}

/// How a rule picks a version. Only `constant` is documented in the pieces we have; rollout shares and the like
/// arrive as `Other` with their type name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Strategy {
    /// Always this version.
    Constant { version: VersionReference },
    Other { kind: String },
}

impl<'de> Deserialize<'de> for Strategy {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(rename = "type")]
            kind: String,
            #[serde(default)]
            version: Option<serde_json::Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let version = raw.version.and_then(|v| VersionReference::deserialize(v).ok());
        Ok(match (raw.kind.as_str(), version) {
            ("constant", Some(version)) => Strategy::Constant { version },
            _ => Strategy::Other { kind: raw.kind },
        })
    }
}

/// `{token: "itmplv_…", tag: {…} | null}`
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct VersionReference {
    pub token: String,
    #[serde(default, deserialize_with = "lenient")]
    pub tag: Option<VersionTag>,
}

/// Persona's `deployment-route-criteria`: an `and` / `or` / `!` tree over `origin` leaves; each operand one node
/// or a non-empty list of nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteCriteria {
    And(Vec<RouteCriteria>),
    Or(Vec<RouteCriteria>),
    Not(Vec<RouteCriteria>),
    Origin(Origin),
    /// A node of a shape the pieces don't document.
    Other(serde_json::Value),
}

/// A leaf of the criteria tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The request context the route matches on (`mobile`).
    Context(String),
    /// A resource template (and optionally one of its versions) the route targets.
    Template { resource_type: String, template_id: String, version: Option<VersionReference> },
}

impl<'de> Deserialize<'de> for RouteCriteria {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(RouteCriteria::from_value(serde_json::Value::deserialize(deserializer)?))
    }
}

impl RouteCriteria {
    fn from_value(value: serde_json::Value) -> RouteCriteria {
        let operands = |operand: &serde_json::Value| match operand {
            serde_json::Value::Array(nodes) => nodes.iter().cloned().map(RouteCriteria::from_value).collect(),
            node => vec![RouteCriteria::from_value(node.clone())],
        };
        let single = value.as_object().filter(|node| node.len() == 1).and_then(|node| node.iter().next());
        match single {
            Some((key, operand)) if key == "and" => RouteCriteria::And(operands(operand)),
            Some((key, operand)) if key == "or" => RouteCriteria::Or(operands(operand)),
            Some((key, operand)) if key == "!" => RouteCriteria::Not(operands(operand)),
            Some((key, origin)) if key == "origin" => match Origin::from_value(origin) {
                Some(origin) => RouteCriteria::Origin(origin),
                None => RouteCriteria::Other(value),
            },
            _ => RouteCriteria::Other(value),
        }
    }
}

impl Origin {
    fn from_value(origin: &serde_json::Value) -> Option<Origin> {
        #[derive(Deserialize)]
        #[serde(rename_all = "kebab-case")]
        struct Template {
            resource_type: String,
            template_id: String,
            #[serde(default)]
            version: Option<VersionReference>,
        }
        if let Some(context) = origin.get("context").and_then(serde_json::Value::as_str) {
            return Some(Origin::Context(context.to_owned()));
        }
        let template = Template::deserialize(origin).ok()?;
        Some(Origin::Template {
            resource_type: template.resource_type,
            template_id: template.template_id,
            version: template.version,
        })
    }
}

impl TemplateVersion {
    /// The version objects among `included`; one we can't read is skipped.
    pub fn from_included(included: &[IncludedResource]) -> Vec<TemplateVersion> {
        included.iter().filter(|resource| resource.kind == "inquiry-template-version").filter_map(|r| r.as_typed()).collect()
    }

    /// `itmpl_…` the version belongs to.
    pub fn inquiry_template_id(&self) -> Option<&str> {
        self.relationships.inquiry_template.as_ref().and_then(ToOne::id)
    }

    pub fn is_live(&self) -> bool {
        self.attributes.live == Some(true)
    }

    pub fn tag_name(&self) -> Option<&str> {
        self.attributes.version_tag.as_ref().map(|tag| tag.name.as_str())
    }

    /// The versions this one's deployments route to with a constant strategy, per environment name (a
    /// description of the routing, not a prediction of what a create gives).
    pub fn constant_routes(&self) -> impl Iterator<Item = (Option<&str>, &str)> {
        self.attributes.deployments.iter().flat_map(|deployment| {
            let environment = deployment.environment.as_ref().and_then(|e| e.name.as_deref());
            deployment.rules.iter().filter_map(move |rule| match &rule.strategy {
                Strategy::Constant { version } => Some((environment, version.token.as_str())),
                Strategy::Other { .. } => None,
            })
        })
    }
}

/// A member that doesn't read as `T` reads as absent (`T::default()`).
fn lenient<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + serde::de::DeserializeOwned,
{
    let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(raw.and_then(|value| serde_json::from_value(value).ok()).unwrap_or_default())
}

/// A list whose unreadable items are left out (a non-list reads as empty).
fn readable_items<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: serde::de::DeserializeOwned,
{
    let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
    let items = match raw {
        Some(serde_json::Value::Array(items)) => items,
        _ => Vec::new(),
    };
    Ok(items.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect())
}
