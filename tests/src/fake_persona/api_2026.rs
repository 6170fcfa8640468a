//! API 2026-09-29, answered when a request's `Persona-Version` asks for it (docs/persona-api.md, "API
//! 2026-09-29"). The inquiry, list, account and error shapes stay those of the spec the fake serves (2026-09-29
//! reads the same for them); what changes is `included`: inquiry template versions carry `live`, a `version-tag`
//! and the `deployments` that route creation, and nested include one level deep
//! (`include=inquiry-template.latest-published-version`) is accepted.
//!
//! No bundle of 2026-09-29 exists offline, so these answers are exempt from the response contract check
//! (server.rs); their shape follows Persona's example `inquiry-template-version-list.yaml` (persona-openapi
//! 1da483e8), and the service's parsing of it is tested on fixtures of the same shape (shared/tests/persona_2026.rs).

use serde_json::{json, Value};

use super::model::Template;

pub const VERSION: &str = "2026-09-29";

/// The environment the fake stands for (its `Persona-Environment-Id` header).
const ENVIRONMENT: (&str, &str) = ("env_FakePersonaEnvironment01", "sandbox");

/// Whether a request's `Persona-Version` asks for 2026-09-29.
pub fn wants(persona_version: Option<&str>) -> bool {
    persona_version.is_some_and(|v| v.trim() == VERSION)
}

/// Include paths 2026-09-29 adds (nested one level).
pub const NESTED_INCLUDES: &[&str] = &["inquiry-template.latest-published-version"];

/// `{name, description, created-at}` of a published version: `v1`, `v2`… in publishing order.
fn version_tag(template: &Template, version: &str) -> Value {
    let position = template.versions.iter().position(|v| v == version).map_or(0, |n| n + 1);
    json!({
        "name": format!("v{position}"),
        "description": format!("Published version {position} of {}", template.name),
        "created-at": "2026-09-29T00:00:00.000Z",
    })
}

/// An `inquiry-template-version` object of `template`: live (and deployed to the fake's environment with a
/// constant strategy) when creates are routed to it.
pub fn template_version_resource(template: &Template, version: &str) -> Value {
    let live = template.creation_version() == Some(version);
    let tag = version_tag(template, version);
    let deployments = if live {
        json!([{
            "resource-type": "inquiry-template",
            "template-id": template.id,
            "environment": {"token": ENVIRONMENT.0, "name": ENVIRONMENT.1},
            "rules": [{"strategy": {"type": "constant", "version": {"token": version, "tag": tag}}}],
        }])
    } else {
        json!([])
    };
    json!({
        "type": "inquiry-template-version",
        "id": version,
        "attributes": {
            "name-display": template.name,
            "description": null,
            "status": "published",
            "live": live,
            "version-tag": tag,
            "deployments": deployments,
            "last-updater": null,
            "enabled-locales": ["en-US"],
            "created-at": "2026-09-29T00:00:00.000Z",
            "updated-at": "2026-09-29T00:00:00.000Z",
            "published-at": "2026-09-29T00:00:00.000Z",
            "theme": {},
        },
        "relationships": {"inquiry-template": {"data": {"type": "inquiry-template", "id": template.id}}},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(deployed: Option<&str>) -> Template {
        Template {
            id: "itmpl_1".into(),
            name: "KYC".into(),
            status: "active".into(),
            legacy: false,
            versions: vec!["itmplv_1".into(), "itmplv_2".into(), "itmplv_3".into()],
            deployed_version: deployed.map(str::to_owned),
        }
    }

    #[test]
    fn the_version_creates_get_is_live_and_deployed_the_others_are_not() {
        for (deployed, live) in [(None, "itmplv_3"), (Some("itmplv_2"), "itmplv_2")] {
            let template = template(deployed);
            for version in &template.versions {
                let object = template_version_resource(&template, version);
                let is_live = version == live;
                assert_eq!(object["attributes"]["live"], is_live, "{version}");
                let deployments = object["attributes"]["deployments"].as_array().unwrap();
                assert_eq!(deployments.len(), usize::from(is_live), "{version}");
                if is_live {
                    let rule = &deployments[0]["rules"][0]["strategy"];
                    assert_eq!(
                        (rule["type"].as_str(), rule["version"]["token"].as_str()),
                        (Some("constant"), Some(live))
                    );
                }
            }
        }
        let object = template_version_resource(&template(None), "itmplv_2");
        assert_eq!(object["attributes"]["version-tag"]["name"], "v2");
        assert!(wants(Some("2026-09-29")) && !wants(Some("2025-12-08")) && !wants(None));
    }
}
