//! Typed views of the JSON:API documents Persona returns, reduced to what the resume decision needs.
//!
//! They tolerate unknown members (Persona adds fields without a version bump) and unknown status values; a
//! document missing what we need fails to parse and becomes a typed upstream error, never a panic.

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::ids::{AccountId, InquiryId};
pub use crate::domain::status::InquiryStatus;
#[cfg(any(test, feature = "testing"))]
pub use crate::persona::error_document::{ErrorDocument, ErrorItem, ErrorSource};
#[cfg(any(test, feature = "testing"))]
pub use crate::persona::template_version::{
    Deployment, DeploymentEnvironment, DeploymentRule, Origin, RouteCriteria, Strategy, TemplateVersion,
    VersionReference, VersionTag,
};

/// `{"type": ..., "id": ...}`. Persona's schema requires neither member, and its own examples carry empty
/// identifier objects (`"template": {"data": {}}`): an identifier without a usable `id` (absent, null or empty)
/// reads as no identifier at all, never as a malformed document.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
pub struct ResourceIdentifier {
    #[serde(default)]
    id: Option<String>,
}

impl ResourceIdentifier {
    pub fn id(&self) -> Option<&str> {
        self.id.as_deref().filter(|id| !id.is_empty())
    }
}

/// `{"data": identifier-or-null}`; the whole relationship may also be absent or null.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ToOne {
    #[serde(default)]
    pub data: Option<ResourceIdentifier>,
}

impl ToOne {
    pub fn id(&self) -> Option<&str> {
        self.data.as_ref().and_then(ResourceIdentifier::id)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InquiryAttributes {
    pub status: InquiryStatus,
    #[serde(default)]
    pub reference_id: Option<String>,
    /// Non-null means the inquiry's data was deleted. Only its presence matters, so any JSON value is accepted.
    #[serde(default)]
    pub redacted_at: Option<serde_json::Value>,
    /// Tag names (the schema allows null items: they are dropped; a missing or malformed list reads as none).
    #[serde(default, deserialize_with = "tag_names")]
    pub tags: Vec<String>,
    /// ISO 8601; anything but a string (null, absent, malformed) reads as unknown: such an inquiry is never
    /// "newer" than another.
    #[serde(default, deserialize_with = "string_or_none")]
    pub created_at: Option<String>,
}

fn string_or_none<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(deserializer)? {
        serde_json::Value::String(text) => Some(text),
        _ => None,
    })
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct InquiryRelationships {
    #[serde(default)]
    pub account: Option<ToOne>,
    #[serde(default)]
    pub inquiry_template: Option<ToOne>,
    #[serde(default)]
    pub inquiry_template_version: Option<ToOne>,
    /// Legacy (2.0) inquiries: a `tmpl_` template and no versions.
    #[serde(default)]
    pub template: Option<ToOne>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Inquiry {
    /// Checked like a path id: it goes into upstream URLs.
    pub id: InquiryId,
    pub attributes: InquiryAttributes,
    #[serde(default, deserialize_with = "null_as_default")]
    pub relationships: InquiryRelationships,
}

fn to_one_id(relationship: &Option<ToOne>) -> Option<&str> {
    relationship.as_ref().and_then(ToOne::id)
}

impl Inquiry {
    pub fn status(&self) -> &InquiryStatus {
        &self.attributes.status
    }

    pub fn is_redacted(&self) -> bool {
        self.attributes.redacted_at.as_ref().is_some_and(|v| !v.is_null())
    }

    pub fn reference_id(&self) -> Option<&str> {
        self.attributes.reference_id.as_deref().filter(|r| !r.is_empty())
    }

    /// The inquiry's account, when it names one with a well-formed id.
    pub fn account_id(&self) -> Option<AccountId> {
        to_one_id(&self.relationships.account).and_then(|id| AccountId::parse(id).ok())
    }

    /// `itmpl_…`
    pub fn inquiry_template_id(&self) -> Option<&str> {
        to_one_id(&self.relationships.inquiry_template)
    }

    /// `itmplv_…`: the version the inquiry is pinned to.
    pub fn template_version_id(&self) -> Option<&str> {
        to_one_id(&self.relationships.inquiry_template_version)
    }

    pub fn is_legacy(&self) -> bool {
        to_one_id(&self.relationships.template).is_some()
    }

    pub fn tags(&self) -> &[String] {
        &self.attributes.tags
    }
}

/// An entry of `included`. Persona puts many kinds there (accounts, reports, verifications, sessions,
/// documents…) and their members vary by kind, so only the kind and id are typed up front; the two kinds we
/// read (inquiry templates and accounts) are interpreted on demand, and a malformed member of either reads as
/// absent rather than failing the whole document.
#[derive(Debug, Clone, Deserialize)]
pub struct IncludedResource {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    attributes: serde_json::Value,
    #[serde(default)]
    relationships: serde_json::Value,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct TemplateRelationships {
    #[serde(default)]
    latest_published_version: Option<ToOne>,
}

#[derive(Deserialize)]
#[serde(rename_all = "kebab-case")]
struct ReferenceAttributes {
    #[serde(default)]
    reference_id: Option<String>,
}

impl IncludedResource {
    fn is(&self, kind: &str, id: &str) -> bool {
        self.kind == kind && self.id.as_deref() == Some(id)
    }

    fn latest_published_version_id(&self) -> Option<String> {
        let relationships = TemplateRelationships::deserialize(&self.relationships).ok()?;
        relationships.latest_published_version?.id().map(str::to_owned)
    }

    fn reference_id(&self) -> Option<String> {
        ReferenceAttributes::deserialize(&self.attributes).ok()?.reference_id.filter(|r| !r.is_empty())
    }

    /// The whole object read as a typed resource, `None` when it doesn't read as one.
    #[cfg(any(test, feature = "testing"))]
    pub(crate) fn as_typed<T: serde::de::DeserializeOwned>(&self) -> Option<T> {
        let object = serde_json::json!({
            "type": self.kind, "id": self.id, "attributes": self.attributes, "relationships": self.relationships,
        });
        serde_json::from_value(object).ok()
    }
}

/// `GET /inquiries/{id}?include=inquiry-template,account&fields[account]=reference-id`
#[derive(Debug, Clone, Deserialize)]
pub struct InquiryDocument {
    pub data: Inquiry,
    #[serde(default, deserialize_with = "null_as_default")]
    pub included: Vec<IncludedResource>,
}

/// The latest published version of `inquiry`'s own template, when `included` holds the template and something is
/// published.
fn latest_published_version_in(inquiry: &Inquiry, included: &[IncludedResource]) -> Option<String> {
    let template_id = inquiry.inquiry_template_id()?;
    included
        .iter()
        .find(|resource| resource.is("inquiry-template", template_id))
        .and_then(IncludedResource::latest_published_version_id)
}

impl InquiryDocument {
    /// The latest published version of the inquiry's own template, when Persona returned the template (it does not
    /// for sandbox keys) and something is published.
    pub fn latest_published_version_id(&self) -> Option<String> {
        latest_published_version_in(&self.data, &self.included)
    }

    /// Whether Persona returned the inquiry's template at all (for the operator's diagnosis of `unavailable`).
    pub fn template_returned(&self) -> bool {
        self.data.inquiry_template_id().is_some_and(|id| self.included.iter().any(|r| r.is("inquiry-template", id)))
    }

    /// The inquiry template versions Persona included (API 2026-09-29 describes their deployments).
    #[cfg(any(test, feature = "testing"))]
    pub fn template_versions(&self) -> Vec<TemplateVersion> {
        TemplateVersion::from_included(&self.included)
    }

    /// The reference id of the inquiry's account, when Persona included the account.
    pub fn account_reference_id(&self) -> Option<String> {
        let account_id = self.data.account_id()?;
        self.included.iter().find(|resource| resource.is("account", account_id.as_str()))?.reference_id()
    }
}

/// One page of a list endpoint (`{"data": [...], "links": {"next": ...}}`; `meta` is ignored). An item we can't
/// read (say, an id that is not an id of its kind) is left out and counted rather than failing the page: the
/// service only ever uses items that pass its ownership check anyway.
#[derive(Debug, Clone)]
pub struct Page<T> {
    pub data: Vec<T>,
    pub unreadable_items: usize,
    /// Whether `links.next` names a further page.
    pub has_next: bool,
    /// The `page[after]` cursor of `links.next`. Persona's own example carries only the cursor (not the filters),
    /// so following the link literally would list everybody's inquiries: the cursor goes into our own filtered
    /// query instead. `None` with `has_next`: a next page we can't follow.
    pub next_cursor: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self { data: Vec::new(), unreadable_items: 0, has_next: false, next_cursor: None }
    }
}

impl<'de, T: serde::de::DeserializeOwned> Deserialize<'de> for Page<T> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Raw {
            #[serde(deserialize_with = "null_as_default")]
            data: Vec<serde_json::Value>,
            #[serde(default)]
            links: Option<serde_json::Value>,
        }
        let raw = Raw::deserialize(deserializer)?;
        let total = raw.data.len();
        let data: Vec<T> = raw.data.into_iter().filter_map(|item| serde_json::from_value(item).ok()).collect();
        let next = raw.links.as_ref().and_then(|links| links.get("next")).and_then(serde_json::Value::as_str);
        let next = next.filter(|link| !link.is_empty());
        Ok(Self {
            unreadable_items: total - data.len(),
            data,
            has_next: next.is_some(),
            next_cursor: next.and_then(page_after),
        })
    }
}

/// The `page[after]` value of a next link, absolute or relative (`/api/v1/inquiries?page%5Bafter%5D=inq_…`).
fn page_after(link: &str) -> Option<String> {
    let base = url::Url::parse("https://persona.invalid/").ok()?;
    let url = base.join(link).ok()?;
    let cursor = url.query_pairs().find(|(name, _)| name == "page[after]").map(|(_, value)| value.into_owned());
    cursor.filter(|value| !value.is_empty())
}

/// `GET /inquiries`
pub type InquiryList = Page<Inquiry>;

/// `GET /accounts`
pub type AccountList = Page<Account>;

/// An account, as read with `fields[account]=reference-id`: only its reference id (the company's user id). Its
/// personal fields are never asked for.
#[derive(Debug, Clone, Deserialize)]
pub struct Account {
    /// The schema requires no member of an account: one without a usable id can't be looked up by, and is skipped.
    #[serde(default, deserialize_with = "lenient_id")]
    pub id: Option<AccountId>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub attributes: AccountAttributes,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct AccountAttributes {
    #[serde(default)]
    pub reference_id: Option<String>,
}

impl Account {
    pub fn reference_id(&self) -> Option<&str> {
        self.attributes.reference_id.as_deref().filter(|r| !r.is_empty())
    }
}

/// `GET /accounts/{id}`
#[derive(Debug, Clone, Deserialize)]
pub struct AccountDocument {
    pub data: Account,
}

/// `POST /inquiries/{id}/resume`
#[derive(Debug, Clone, Deserialize)]
pub struct ResumeDocument {
    pub data: Inquiry,
    pub meta: ResumeMeta,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct ResumeMeta {
    pub session_token: String,
}

/// `POST /inquiries/{id}/generate-one-time-link`
#[derive(Debug, Clone, Deserialize)]
pub struct OneTimeLinkDocument {
    pub data: Inquiry,
    pub meta: OneTimeLinkMeta,
}

#[derive(Clone, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct OneTimeLinkMeta {
    pub one_time_link: String,
    #[serde(default)]
    pub one_time_link_short: Option<String>,
}

/// `POST /inquiries` (201). A missing `meta`, or a missing member of it, reads as null.
#[derive(Debug, Clone, Deserialize)]
pub struct CreatedDocument {
    pub data: Inquiry,
    #[serde(default, deserialize_with = "null_as_default")]
    pub included: Vec<IncludedResource>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub meta: CreatedMeta,
}

impl CreatedDocument {
    /// The latest published version of the new inquiry's template, when Persona included the template.
    pub fn latest_published_version_id(&self) -> Option<String> {
        latest_published_version_in(&self.data, &self.included)
    }
}

#[derive(Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreatedMeta {
    #[serde(default)]
    pub session_token: Option<String>,
}

// The metas hold credentials (a session token, a one-time link): their Debug output says only whether one is there.
impl std::fmt::Debug for ResumeMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ResumeMeta { session_token: <redacted> }")
    }
}

impl std::fmt::Debug for OneTimeLinkMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OneTimeLinkMeta { one_time_link: <redacted>, one_time_link_short: <redacted> }")
    }
}

impl std::fmt::Debug for CreatedMeta {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let token = if self.session_token.is_some() { "<redacted>" } else { "None" };
        write!(f, "CreatedMeta {{ session_token: {token} }}")
    }
}

/// `POST /inquiries/{id}/expire`
#[derive(Debug, Clone, Deserialize)]
pub struct ExpiredDocument {
    pub data: Inquiry,
}

/// The body of `POST /inquiries`. Both functions build it the same way, so their idempotency keys converge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateInquiry {
    pub data: CreateInquiryData,
    pub meta: CreateInquiryMeta,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CreateInquiryData {
    pub attributes: CreateInquiryAttributes,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreateInquiryAttributes {
    pub inquiry_template_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reference_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_uri: Option<String>,
    /// Tag names the new inquiry carries (`TRUSTED_INQUIRY_TAG`); left out when there are none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreateInquiryMeta {
    pub auto_create_inquiry_session: bool,
    /// Ties the new inquiry to the user's account, creating it if needed: Persona's recommended link between a
    /// user and their inquiries (the `reference-id` attribute is deprecated in its favour).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auto_create_account_reference_id: Option<String>,
}

impl CreateInquiry {
    /// Always asks for a session token in the same answer (resume-session needs no second call).
    pub fn new(attributes: CreateInquiryAttributes, account_reference_id: Option<String>) -> Self {
        Self {
            data: CreateInquiryData { attributes },
            meta: CreateInquiryMeta {
                auto_create_inquiry_session: true,
                auto_create_account_reference_id: account_reference_id,
            },
        }
    }

    /// The exact bytes sent to Persona.
    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("plain struct serializes")
    }

    /// A short digest of the body, for its idempotency keys: a changed configuration (say `PERSONA_REDIRECT_URI`)
    /// starts a fresh key sequence instead of colliding with an answer stored for another body.
    pub fn fingerprint(&self) -> String {
        crate::domain::owner::fingerprint(&self.to_json())
    }
}

/// The body of `POST /inquiries/{id}/generate-one-time-link` when an expiry is chosen.
#[derive(Debug, Clone, Serialize)]
pub struct OneTimeLinkRequest {
    pub meta: OneTimeLinkRequestMeta,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct OneTimeLinkRequestMeta {
    pub expires_in_seconds: u32,
}

/// An id that is absent, null or malformed reads as none.
fn lenient_id<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<AccountId>, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(raw.as_ref().and_then(serde_json::Value::as_str).and_then(|id| AccountId::parse(id).ok()))
}

/// `tags`: items that are not strings (the schema allows null) are dropped; anything but a list reads as none.
fn tag_names<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<String>, D::Error> {
    let raw = Option::<serde_json::Value>::deserialize(deserializer)?;
    Ok(match raw {
        Some(serde_json::Value::Array(items)) => {
            items.into_iter().filter_map(|item| item.as_str().map(str::to_owned)).collect()
        }
        _ => Vec::new(),
    })
}

fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn inquiry_json(status: &str) -> serde_json::Value {
        json!({
            "type": "inquiry",
            "id": "inq_1",
            "attributes": {"status": status, "reference-id": "user-1", "redacted-at": null, "unknown-attr": [1, 2]},
            "relationships": {
                "account": {"data": {"type": "account", "id": "act_1"}},
                "inquiry-template": {"data": {"type": "inquiry-template", "id": "itmpl_1"}},
                "inquiry-template-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_1"}},
                "reports": {"data": []}
            }
        })
    }

    #[test]
    fn reads_the_members_the_decision_needs_and_ignores_the_rest() {
        let doc: InquiryDocument = serde_json::from_value(json!({
            "data": inquiry_json("pending"),
            "included": [
                {"type": "account", "id": "act_1", "attributes": {}},
                {"type": "inquiry-template", "id": "itmpl_1", "attributes": {"name": "KYC"},
                 "relationships": {"latest-published-version": {"data": {"type": "inquiry-template-version", "id": "itmplv_2"}}}}
            ]
        }))
        .unwrap();
        let inquiry = &doc.data;
        assert_eq!(inquiry.status(), &InquiryStatus::Pending);
        assert_eq!(inquiry.reference_id(), Some("user-1"));
        assert_eq!(inquiry.account_id().as_deref(), Some("act_1"));
        assert_eq!(inquiry.inquiry_template_id(), Some("itmpl_1"));
        assert_eq!(inquiry.template_version_id(), Some("itmplv_1"));
        assert!(!inquiry.is_redacted());
        assert_eq!(doc.latest_published_version_id().as_deref(), Some("itmplv_2"));
        assert_eq!(doc.account_reference_id(), None, "the account's reference id was not included");
    }

    #[test]
    fn unknown_statuses_are_kept_and_not_resumable() {
        for (raw, resumable) in [
            ("created", true),
            ("pending", true),
            ("expired", true),
            ("completed", false),
            ("approved", false),
            ("declined", false),
            ("failed", false),
            ("needs_review", false),
            ("archived", false),
        ] {
            let inquiry: Inquiry = serde_json::from_value(inquiry_json(raw)).unwrap();
            assert_eq!(inquiry.status().as_str(), raw);
            assert_eq!(inquiry.status().is_resumable(), resumable, "{raw}");
        }
    }

    #[test]
    fn null_and_missing_relationships_are_tolerated() {
        let doc: InquiryDocument = serde_json::from_value(json!({
            "data": {"type": "inquiry", "id": "inq_1", "attributes": {"status": "pending", "redacted-at": "2024-01-01T00:00:00Z"},
                     "relationships": {"inquiry-template": null, "inquiry-template-version": {"data": null}}},
            "included": null
        }))
        .unwrap();
        assert!(doc.data.is_redacted());
        assert_eq!(doc.data.reference_id(), None);
        assert_eq!(doc.data.inquiry_template_id(), None);
        assert_eq!(doc.data.template_version_id(), None);
        assert_eq!(doc.latest_published_version_id(), None);
        let bare: InquiryDocument =
            serde_json::from_value(json!({"data": {"id": "inq_1", "attributes": {"status": "created"}}})).unwrap();
        assert_eq!(bare.latest_published_version_id(), None);
    }

    #[test]
    fn the_template_must_be_the_inquirys_own() {
        let doc: InquiryDocument = serde_json::from_value(json!({
            "data": inquiry_json("pending"),
            "included": [{"type": "inquiry-template", "id": "itmpl_other",
                          "relationships": {"latest-published-version": {"data": {"id": "itmplv_9"}}}}]
        }))
        .unwrap();
        assert_eq!(doc.latest_published_version_id(), None);
    }

    #[test]
    fn a_next_link_gives_its_cursor_never_its_url() {
        let page = |links: serde_json::Value| -> InquiryList {
            serde_json::from_value(serde_json::json!({"data": [], "links": links})).unwrap()
        };
        let table = [
            (serde_json::json!({"next": "/api/v1/inquiries?page%5Bafter%5D=inq_7"}), true, Some("inq_7")),
            (serde_json::json!({"next": "https://api.withpersona.com/api/v1/inquiries?page[after]=inq_8&x=1"}), true, Some("inq_8")),
            (serde_json::json!({"next": "/api/v1/inquiries?page%5Bbefore%5D=inq_7"}), true, None),
            (serde_json::json!({"next": null, "prev": "/x?page%5Bafter%5D=inq_1"}), false, None),
            (serde_json::json!({"next": ""}), false, None),
            (serde_json::json!(null), false, None),
            (serde_json::json!({"next": 7}), false, None),
        ];
        for (links, has_next, cursor) in table {
            let read = page(links.clone());
            assert_eq!((read.has_next, read.next_cursor.as_deref()), (has_next, cursor), "{links}");
        }
        let without_links: InquiryList = serde_json::from_value(serde_json::json!({"data": []})).unwrap();
        assert!(!without_links.has_next);
    }

    #[test]
    fn malformed_documents_are_errors_not_panics() {
        for bad in [
            json!({}),
            json!({"data": null}),
            json!({"data": {"id": "inq_1"}}),
            json!({"data": {"id": "inq_1", "attributes": {"status": 5}}}),
            json!({"data": [1, 2]}),
        ] {
            assert!(serde_json::from_value::<InquiryDocument>(bad.clone()).is_err(), "{bad}");
        }
        let no_token = json!({"data": inquiry_json("pending"), "meta": {}});
        assert!(serde_json::from_value::<ResumeDocument>(no_token).is_err());
        let no_link = json!({"data": inquiry_json("pending"), "meta": {"one-time-link-short": null}});
        assert!(serde_json::from_value::<OneTimeLinkDocument>(no_link).is_err());
    }

    #[test]
    fn a_missing_create_meta_reads_as_null() {
        let created: CreatedDocument = serde_json::from_value(json!({"data": inquiry_json("created")})).unwrap();
        assert_eq!(created.meta.session_token, None);
        let with_token: CreatedDocument =
            serde_json::from_value(json!({"data": inquiry_json("created"), "meta": {"session-token": "tok"}})).unwrap();
        assert_eq!(with_token.meta.session_token.as_deref(), Some("tok"));
    }

    #[test]
    fn the_create_body_has_the_documented_shape() {
        let body = CreateInquiry::new(
            CreateInquiryAttributes {
                inquiry_template_id: "itmpl_1".into(),
                reference_id: Some("user-1".into()),
                account_id: None,
                redirect_uri: Some("https://app.example.com/done".into()),
                tags: Vec::new(),
            },
            Some("user-1".into()),
        );
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"data": {"attributes": {"inquiry-template-id": "itmpl_1", "reference-id": "user-1",
                                           "redirect-uri": "https://app.example.com/done"}},
                   "meta": {"auto-create-inquiry-session": true, "auto-create-account-reference-id": "user-1"}})
        );
        assert_eq!(body.fingerprint(), crate::domain::owner::fingerprint(&body.to_json()));
    }
}
