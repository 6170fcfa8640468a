//! API 2026-09-29 (`PERSONA_VERSION=2026-09-29`): no bundle of it exists offline, so no Prism; instead its
//! documents, built from the pieces in docs/persona-api.md ("API 2026-09-29") and kept in
//! `tests/fixtures/2026-09-29/`, are parsed with the service's own types.

use persona_resume::ops::config::Config;
use persona_resume::persona::model::{
    ErrorDocument, InquiryDocument, Origin, Page, RouteCriteria, Strategy, TemplateVersion, VersionTag,
};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/2026-09-29/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn version<'a>(versions: &'a [TemplateVersion], id: &str) -> &'a TemplateVersion {
    versions.iter().find(|v| v.id == id).unwrap_or_else(|| panic!("{id} not among {versions:?}"))
}

#[test]
fn an_inquiry_on_a_deployed_version_reads_with_its_template_and_versions() {
    let doc: InquiryDocument = serde_json::from_slice(&fixture("inquiry-explicit-deploy.json")).unwrap();
    assert_eq!(doc.data.template_version_id(), Some("itmplv_LIVE123"));
    assert_eq!(doc.latest_published_version_id().as_deref(), Some("itmplv_LATEST123"));
    assert_eq!(doc.data.tags(), ["persona-resume"], "a null tag item is dropped");
    assert!(doc.data.tags().iter().any(|t| t == "persona-resume"));
    assert!(!doc.data.tags().iter().any(|t| t == "Persona-Resume"), "tags compare exactly");

    let versions = doc.template_versions();
    assert_eq!(versions.len(), 3, "the template object is not a version");
    let draft = version(&versions, "itmplv_DRAFT123");
    assert!(!draft.is_live());
    assert_eq!(draft.attributes.status.as_deref(), Some("draft"));
    assert!(draft.attributes.deployments.is_empty());
    assert_eq!(draft.tag_name(), None);

    let live = version(&versions, "itmplv_LIVE123");
    assert!(live.is_live());
    assert_eq!(live.inquiry_template_id(), Some("itmpl_ABC123"));
    assert_eq!(
        live.attributes.version_tag,
        Some(VersionTag {
            name: "v2".into(),
            description: Some("Initial production release".into()),
            created_at: Some("2026-03-26T18:29:41.000Z".into()),
        })
    );
    let deployment = &live.attributes.deployments[0];
    assert_eq!(deployment.resource_type.as_deref(), Some("inquiry-template"));
    assert_eq!(deployment.template_id.as_deref(), Some("itmpl_ABC123"));
    let environment = deployment.environment.as_ref().unwrap();
    assert_eq!(environment.token.as_deref(), Some("env_AbcDeFGhIjKlMnOpQrStUvWxYz1"));
    assert_eq!(environment.name.as_deref(), Some("production"));
    assert_eq!(live.constant_routes().collect::<Vec<_>>(), [(Some("production"), "itmplv_LIVE123")]);

    let latest = version(&versions, "itmplv_LATEST123");
    assert!(!latest.is_live(), "published, not deployed: the latest published version is not what creates get");
    assert_eq!(latest.attributes.status.as_deref(), Some("published"));
}

#[test]
fn route_criteria_and_unknown_strategies_parse_without_failing_the_document() {
    let doc: InquiryDocument = serde_json::from_slice(&fixture("inquiry-route-criteria.json")).unwrap();
    assert!(doc.data.tags().is_empty());
    let versions = doc.template_versions();
    assert_eq!(versions.len(), 1, "a version object without an id is skipped, not fatal");
    let routed = &versions[0];
    assert_eq!(routed.tag_name(), Some("3"));
    assert_eq!(routed.attributes.version_tag.as_ref().unwrap().description, None);
    assert_eq!(routed.attributes.deployments.len(), 2, "a deployment with malformed members still reads");
    let rules = &routed.attributes.deployments[0].rules;
    assert_eq!(rules.len(), 2);
    match &rules[0].strategy {
        Strategy::Constant { version } => {
            assert_eq!(version.token, "itmplv_MOBILE123");
            assert_eq!(version.tag.as_ref().map(|t| t.name.as_str()), Some("3"));
        }
        other => panic!("expected a constant strategy, got {other:?}"),
    }
    let Some(RouteCriteria::And(operands)) = &rules[0].criteria else {
        panic!("expected an `and` node: {:?}", rules[0].criteria);
    };
    assert_eq!(operands[0], RouteCriteria::Origin(Origin::Context("mobile".into())));
    let RouteCriteria::Not(negated) = &operands[1] else { panic!("expected a `!` node: {:?}", operands[1]) };
    match &negated[0] {
        RouteCriteria::Origin(Origin::Template { resource_type, template_id, version }) => {
            assert_eq!(resource_type, "inquiry-template");
            assert_eq!(template_id, "itmpl_ABC123");
            let version = version.as_ref().unwrap();
            assert_eq!((version.token.as_str(), version.tag.as_ref()), ("itmplv_LIVE123", None));
        }
        other => panic!("expected a template origin, got {other:?}"),
    }
    assert_eq!(rules[1].strategy, Strategy::Other { kind: "percentage-rollout".into() });
    assert!(rules[1].criteria.is_none());
    let broken = &routed.attributes.deployments[1];
    assert!(broken.environment.is_none() && broken.rules.is_empty() && broken.template_id.is_none());
    assert_eq!(routed.constant_routes().collect::<Vec<_>>(), [(Some("production"), "itmplv_MOBILE123")]);
}

#[test]
fn the_version_list_reads_as_a_page_of_versions() {
    let page: Page<TemplateVersion> = serde_json::from_slice(&fixture("inquiry-template-version-list.json")).unwrap();
    assert_eq!(page.unreadable_items, 0);
    let live: Vec<&str> = page.data.iter().filter(|v| v.is_live()).map(|v| v.id.as_str()).collect();
    assert_eq!(live, ["itmplv_LIVE123"]);
    let published = page.data.iter().filter(|v| v.attributes.status.as_deref() == Some("published")).count();
    assert_eq!(published, 2);
}

#[test]
fn error_items_carry_source_and_meta() {
    let bad_request = ErrorDocument::parse(&fixture("error-400-source.json"));
    assert_eq!(bad_request.pointers().collect::<Vec<_>>(), ["/data/attributes/inquiry-template-id"]);
    let item = &bad_request.errors[0];
    assert_eq!(item.title.as_deref(), Some("Bad Request"));
    assert_eq!(
        item.meta.as_ref().and_then(|m| m.get("parameter")).and_then(|v| v.as_str()),
        Some("inquiry-template-id")
    );

    let conflict = ErrorDocument::parse(&fixture("error-409-meta.json"));
    assert_eq!(conflict.errors[0].details.as_deref(), Some("Inquiry already redacted"));
    assert!(conflict.errors[0].source.is_none());
    assert_eq!(conflict.pointers().count(), 0);

    let not_found = ErrorDocument::parse(&fixture("error-404-meta.json"));
    assert_eq!(not_found.errors[0].meta.as_ref().map(|m| m.len()), Some(0));

    for junk in [&b"<html>502</html>"[..], b"", b"{\"errors\": \"nope\"}", b"{\"errors\": [5, {\"title\": \"x\"}]}"] {
        let doc = ErrorDocument::parse(junk);
        assert!(doc.errors.len() <= 1, "{}", String::from_utf8_lossy(junk));
    }
}

#[test]
fn persona_version_accepts_2026_09_29() {
    let config = Config::from_lookup(|name| match name {
        "PERSONA_API_KEY_SECRET_ID" => Some("persona/api-key".into()),
        "PERSONA_VERSION" => Some("2026-09-29".into()),
        _ => None,
    })
    .unwrap();
    assert_eq!(config.persona_version, "2026-09-29");
}
