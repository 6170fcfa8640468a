//! The domain's own view of an inquiry: the facts the rules read, built from Persona's documents by the persona
//! layer. Nothing here knows Persona's JSON.

use crate::domain::ids::{AccountId, InquiryId};
use crate::domain::status::InquiryStatus;
use crate::domain::timestamp::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryFacts {
    pub id: InquiryId,
    pub status: InquiryStatus,
    pub redacted: bool,
    pub template_id: Option<String>,
    pub version_id: Option<String>,
    pub reference_id: Option<String>,
    pub account_id: Option<AccountId>,
    pub created_at: Option<Timestamp>,
    pub tags: Vec<String>,
}
