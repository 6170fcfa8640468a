//! Persona's documents as the domain's facts ([`crate::domain::inquiry`], [`crate::domain::policy`]): the only
//! place the rules' view of an inquiry is read out of Persona's shapes.

use crate::domain::inquiry::InquiryFacts;
use crate::domain::policy::TemplateFacts;
use crate::domain::timestamp::Timestamp;
use crate::persona::model::{Inquiry, InquiryDocument};

impl From<&Inquiry> for InquiryFacts {
    fn from(inquiry: &Inquiry) -> Self {
        Self {
            id: inquiry.id.clone(),
            status: inquiry.status().clone(),
            redacted: inquiry.is_redacted(),
            template_id: inquiry.inquiry_template_id().map(str::to_owned),
            pinned_version_id: inquiry.template_version_id().map(str::to_owned),
            reference_id: inquiry.reference_id().map(str::to_owned),
            account_id: inquiry.account_id(),
            created_at: inquiry.attributes.created_at.as_deref().and_then(Timestamp::parse_rfc3339),
            tags: inquiry.tags().to_vec(),
        }
    }
}

impl From<&InquiryDocument> for TemplateFacts {
    fn from(document: &InquiryDocument) -> Self {
        Self { latest_published_version: document.latest_published_version_id(), created_recently: Vec::new() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::AccountId;
    use crate::domain::status::InquiryStatus;

    #[test]
    fn a_document_reads_as_the_facts_the_rules_need() {
        let document: InquiryDocument = serde_json::from_value(serde_json::json!({
            "data": {"id": "inq_1", "attributes": {"status": "expired", "reference-id": "", "redacted-at": "2024-01-01",
                "created-at": "2024-01-01T00:00:01.500Z", "tags": ["persona-resume", null]},
                "relationships": {"account": {"data": {"type": "account", "id": "act_1"}},
                    "inquiry-template": {"data": {"type": "inquiry-template", "id": "itmpl_1"}},
                    "inquiry-template-version": {"data": {"id": "itmplv_1"}}}},
            "included": [{"type": "inquiry-template", "id": "itmpl_1",
                "relationships": {"latest-published-version": {"data": {"id": "itmplv_2"}}}}]
        }))
        .unwrap();
        let facts = InquiryFacts::from(&document.data);
        assert_eq!(facts.id.as_str(), "inq_1");
        assert_eq!(facts.status, InquiryStatus::Expired);
        assert!(facts.redacted);
        assert_eq!(facts.template_id.as_deref(), Some("itmpl_1"));
        assert_eq!(facts.pinned_version_id.as_deref(), Some("itmplv_1"));
        assert_eq!(facts.reference_id, None, "an empty reference id is none");
        assert_eq!(facts.account_id, Some(AccountId::parse("act_1").unwrap()));
        assert_eq!(facts.created_at, Some(Timestamp::from_millis(1_704_067_201_500)));
        assert_eq!(facts.tags, ["persona-resume"]);
        assert_eq!(TemplateFacts::from(&document).latest_published_version.as_deref(), Some("itmplv_2"));

        let bare: InquiryDocument =
            serde_json::from_value(serde_json::json!({"data": {"id": "inq_2", "attributes": {"status": "pending"}}}))
                .unwrap();
        let facts = InquiryFacts::from(&bare.data);
        assert!(!facts.redacted);
        assert_eq!((facts.template_id, facts.pinned_version_id, facts.account_id), (None, None, None));
        assert_eq!((facts.created_at, facts.tags.len()), (None, 0));
        assert_eq!(TemplateFacts::from(&bare), TemplateFacts::default());
    }
}
