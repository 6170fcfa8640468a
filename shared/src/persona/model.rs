//! Typed views of the JSON:API documents Persona returns, reduced to what the resume decision needs.
//!
//! They tolerate unknown members (Persona adds fields without a version bump) and unknown status values; a
//! document missing what we need fails to parse and becomes a typed upstream error, never a panic.

use serde::{Deserialize, Deserializer, Serialize};

use crate::domain::ids::InquiryId;

/// An inquiry's status. Persona warns the list can grow, so unknown values are kept, not rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InquiryStatus {
    Created,
    Pending,
    Completed,
    Expired,
    Failed,
    NeedsReview,
    Approved,
    Declined,
    Other(String),
}

impl InquiryStatus {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Created => "created",
            Self::Pending => "pending",
            Self::Completed => "completed",
            Self::Expired => "expired",
            Self::Failed => "failed",
            Self::NeedsReview => "needs_review",
            Self::Approved => "approved",
            Self::Declined => "declined",
            Self::Other(value) => value,
        }
    }

    /// Resuming is meant for unfinished inquiries only.
    pub fn is_resumable(&self) -> bool {
        matches!(self, Self::Created | Self::Pending | Self::Expired)
    }
}

impl From<&str> for InquiryStatus {
    fn from(value: &str) -> Self {
        match value {
            "created" => Self::Created,
            "pending" => Self::Pending,
            "completed" => Self::Completed,
            "expired" => Self::Expired,
            "failed" => Self::Failed,
            "needs_review" => Self::NeedsReview,
            "approved" => Self::Approved,
            "declined" => Self::Declined,
            other => Self::Other(other.to_owned()),
        }
    }
}

impl<'de> Deserialize<'de> for InquiryStatus {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = String::deserialize(deserializer)?;
        Ok(Self::from(raw.as_str()))
    }
}

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

    pub fn account_id(&self) -> Option<&str> {
        to_one_id(&self.relationships.account)
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
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct IncludedRelationships {
    #[serde(default)]
    pub latest_published_version: Option<ToOne>,
}

/// An entry of `included`. Only inquiry templates are read; other kinds are skipped.
#[derive(Debug, Clone, Deserialize)]
pub struct IncludedResource {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub id: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub relationships: IncludedRelationships,
}

/// `GET /inquiries/{id}?include=inquiry-template`
#[derive(Debug, Clone, Deserialize)]
pub struct InquiryDocument {
    pub data: Inquiry,
    #[serde(default, deserialize_with = "null_as_default")]
    pub included: Vec<IncludedResource>,
}

impl InquiryDocument {
    /// The latest published version of the inquiry's own template, when Persona returned the template (it does not
    /// for sandbox keys) and something is published.
    pub fn latest_published_version_id(&self) -> Option<&str> {
        let template_id = self.data.inquiry_template_id()?;
        self.included
            .iter()
            .find(|resource| resource.kind == "inquiry-template" && resource.id == template_id)
            .and_then(|template| to_one_id(&template.relationships.latest_published_version))
    }
}

/// `GET /inquiries`
#[derive(Debug, Clone, Deserialize)]
pub struct InquiryList {
    pub data: Vec<Inquiry>,
}

/// `POST /inquiries/{id}/resume`
#[derive(Debug, Clone, Deserialize)]
pub struct ResumeDocument {
    pub data: Inquiry,
    pub meta: ResumeMeta,
}

#[derive(Debug, Clone, Deserialize)]
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

#[derive(Debug, Clone, Deserialize)]
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
    pub meta: CreatedMeta,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreatedMeta {
    #[serde(default)]
    pub session_token: Option<String>,
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
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct CreateInquiryMeta {
    pub auto_create_inquiry_session: bool,
}

impl CreateInquiry {
    pub fn new(attributes: CreateInquiryAttributes) -> Self {
        Self { data: CreateInquiryData { attributes }, meta: CreateInquiryMeta { auto_create_inquiry_session: true } }
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
        assert_eq!(inquiry.account_id(), Some("act_1"));
        assert_eq!(inquiry.inquiry_template_id(), Some("itmpl_1"));
        assert_eq!(inquiry.template_version_id(), Some("itmplv_1"));
        assert!(!inquiry.is_redacted());
        assert_eq!(doc.latest_published_version_id(), Some("itmplv_2"));
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
        let body = CreateInquiry::new(CreateInquiryAttributes {
            inquiry_template_id: "itmpl_1".into(),
            reference_id: Some("user-1".into()),
            account_id: None,
            redirect_uri: Some("https://app.example.com/done".into()),
        });
        assert_eq!(
            serde_json::to_value(&body).unwrap(),
            json!({"data": {"attributes": {"inquiry-template-id": "itmpl_1", "reference-id": "user-1",
                                           "redirect-uri": "https://app.example.com/done"}},
                   "meta": {"auto-create-inquiry-session": true}})
        );
    }
}
