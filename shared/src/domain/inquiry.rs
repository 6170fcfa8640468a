//! The domain's own view of an inquiry: what the rules read, whatever document or API version it came from
//! (`persona/facts.rs` builds it from Persona's documents).

use crate::domain::ids::{AccountId, InquiryId};
use crate::domain::status::InquiryStatus;
use crate::domain::timestamp::Timestamp;

/// What the rules know about one inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InquiryFacts {
    pub id: InquiryId,
    pub status: InquiryStatus,
    /// Its data was deleted (`redacted-at` set).
    pub redacted: bool,
    /// `itmpl_…`, when it names an inquiry template (a legacy inquiry names none).
    pub template_id: Option<String>,
    /// `itmplv_…`: the version it is pinned to.
    pub pinned_version_id: Option<String>,
    /// Its own `reference-id`; `None` when absent or empty.
    pub reference_id: Option<String>,
    /// The account it belongs to, when it names one with a well-formed id.
    pub account_id: Option<AccountId>,
    /// `created-at`, when the document carries a readable one (newest-first decisions compare these).
    pub created_at: Option<Timestamp>,
    pub tags: Vec<String>,
}
