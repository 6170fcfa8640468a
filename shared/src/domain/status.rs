//! An inquiry's status, as Persona names it.

use serde::{Deserialize, Deserializer};

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
