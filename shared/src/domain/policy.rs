//! The functional core: the template-version check and the resume decision, as pure functions of an inquiry's
//! state. No I/O here; every row of design.md's decision table is a test below.

use serde::Serialize;

use crate::domain::ids::InquiryId;
use crate::ops::config::UnavailablePolicy;
use crate::persona::model::{Inquiry, InquiryStatus};

/// Is the inquiry pinned to its template's latest published version?
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TemplateCheck {
    Current,
    Outdated,
    /// One of the two version ids is missing (template hidden from sandbox keys, nothing published, legacy
    /// inquiry): the check can't be decided, and the configured policy says what to do.
    Unavailable,
}

impl TemplateCheck {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Current => "current",
            Self::Outdated => "outdated",
            Self::Unavailable => "unavailable",
        }
    }
}

/// Compares the version an inquiry is pinned to with its template's latest published version.
pub fn check_template(pinned_version: Option<&str>, latest_published_version: Option<&str>) -> TemplateCheck {
    match (pinned_version, latest_published_version) {
        (Some(pinned), Some(latest)) if pinned == latest => TemplateCheck::Current,
        (Some(_), Some(_)) => TemplateCheck::Outdated,
        _ => TemplateCheck::Unavailable,
    }
}

/// What to do with an inquiry that may be resumed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Hand out access to this inquiry.
    Resume,
    /// It is pinned to an outdated version: find or create its successor and hand out access to that one.
    Recreate,
}

/// Why an inquiry can't be resumed (each is a 409).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    Redacted,
    NotResumable(InquiryStatus),
    TemplateCheckUnavailable,
}

/// The decision table of design.md, in its row order: redaction first, then status, then the template check.
pub fn decide(
    status: &InquiryStatus,
    redacted: bool,
    check: TemplateCheck,
    when_unavailable: UnavailablePolicy,
) -> Result<Decision, Refusal> {
    if redacted {
        return Err(Refusal::Redacted);
    }
    if !status.is_resumable() {
        return Err(Refusal::NotResumable(status.clone()));
    }
    match (check, when_unavailable) {
        (TemplateCheck::Outdated, _) => Ok(Decision::Recreate),
        (TemplateCheck::Unavailable, UnavailablePolicy::Reject) => Err(Refusal::TemplateCheckUnavailable),
        (TemplateCheck::Current | TemplateCheck::Unavailable, _) => Ok(Decision::Resume),
    }
}

/// One Persona call of the final step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Resume,
    GenerateLink,
}

/// The calls that produce a one-time link: Persona refuses links for expired inquiries, so those are resumed first.
pub fn link_steps(status: &InquiryStatus) -> &'static [Step] {
    match status {
        InquiryStatus::Expired => &[Step::Resume, Step::GenerateLink],
        _ => &[Step::GenerateLink],
    }
}

/// In JWT mode the caller owns an inquiry when its reference id equals the owner claim; an inquiry without a
/// reference id is nobody's.
pub fn is_owned_by(inquiry_reference_id: Option<&str>, owner: &str) -> bool {
    inquiry_reference_id.is_some_and(|reference| !reference.is_empty() && reference == owner)
}

/// Among the owner's unfinished inquiries on the same template (newest first), the one pinned to the latest
/// published version replaces an outdated inquiry without creating another.
pub fn pick_successor<'a>(
    candidates: &'a [Inquiry],
    outdated_id: &InquiryId,
    latest_version_id: &str,
) -> Option<&'a Inquiry> {
    candidates.iter().find(|candidate| {
        &candidate.id != outdated_id
            && !candidate.is_redacted()
            && candidate.status().is_resumable()
            && candidate.template_version_id() == Some(latest_version_id)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use InquiryStatus::*;
    use TemplateCheck::{Current, Outdated, Unavailable};
    use UnavailablePolicy::{Reject, Resume as ResumeAnyway};

    #[test]
    fn template_check_table() {
        let table = [
            (Some("itmplv_1"), Some("itmplv_1"), Current),
            (Some("itmplv_1"), Some("itmplv_2"), Outdated),
            (None, Some("itmplv_2"), Unavailable),
            (Some("itmplv_1"), None, Unavailable),
            (None, None, Unavailable),
        ];
        for (pinned, latest, expected) in table {
            assert_eq!(check_template(pinned, latest), expected, "{pinned:?} vs {latest:?}");
        }
    }

    #[test]
    fn decision_table() {
        let finished = [Completed, Approved, Declined, Failed, NeedsReview, Other("archived".into())];
        let open = [Created, Pending, Expired];
        let checks = [Current, Outdated, Unavailable];
        let policies = [ResumeAnyway, Reject];

        // Row 1: redacted, whatever else.
        for status in open.iter().chain(finished.iter()) {
            for check in checks {
                for policy in policies {
                    assert_eq!(decide(status, true, check, policy), Err(Refusal::Redacted), "{status:?} {check:?}");
                }
            }
        }
        // Row 2: finished or unknown statuses, whatever the check.
        for status in &finished {
            for check in checks {
                for policy in policies {
                    assert_eq!(
                        decide(status, false, check, policy),
                        Err(Refusal::NotResumable(status.clone())),
                        "{status:?} {check:?}"
                    );
                }
            }
        }
        // Rows 3-7: open inquiries.
        for status in &open {
            for policy in policies {
                assert_eq!(decide(status, false, Current, policy), Ok(Decision::Resume), "{status:?}");
                assert_eq!(decide(status, false, Outdated, policy), Ok(Decision::Recreate), "{status:?}");
            }
            assert_eq!(decide(status, false, Unavailable, ResumeAnyway), Ok(Decision::Resume), "{status:?}");
            assert_eq!(
                decide(status, false, Unavailable, Reject),
                Err(Refusal::TemplateCheckUnavailable),
                "{status:?}"
            );
        }
    }

    #[test]
    fn links_for_expired_inquiries_need_a_resume_first() {
        assert_eq!(link_steps(&Expired), &[Step::Resume, Step::GenerateLink]);
        assert_eq!(link_steps(&Pending), &[Step::GenerateLink]);
        assert_eq!(link_steps(&Created), &[Step::GenerateLink]);
    }

    #[test]
    fn ownership() {
        assert!(is_owned_by(Some("user-1"), "user-1"));
        assert!(!is_owned_by(Some("user-1"), "user-2"));
        assert!(!is_owned_by(Some("User-1"), "user-1"));
        assert!(!is_owned_by(None, "user-1"));
        assert!(!is_owned_by(Some(""), ""));
        assert!(is_owned_by(Some("42"), "42"));
    }

    fn inquiry(id: &str, status: &str, version: &str, redacted: bool) -> Inquiry {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "attributes": {"status": status, "redacted-at": if redacted { serde_json::json!("2024-01-01T00:00:00Z") } else { serde_json::Value::Null }},
            "relationships": {"inquiry-template-version": {"data": {"id": version}}}
        }))
        .unwrap()
    }

    #[test]
    fn successor_is_the_newest_open_inquiry_on_the_latest_version() {
        let candidates = vec![
            inquiry("inq_newredacted", "pending", "itmplv_2", true),
            inquiry("inq_newdone", "completed", "itmplv_2", false),
            inquiry("inq_otherversion", "pending", "itmplv_3", false),
            inquiry("inq_succ", "expired", "itmplv_2", false),
            inquiry("inq_older", "created", "itmplv_2", false),
            inquiry("inq_old", "pending", "itmplv_1", false),
        ];
        assert_eq!(
            pick_successor(&candidates, &InquiryId::parse("inq_old").unwrap(), "itmplv_2").map(|i| i.id.as_str()),
            Some("inq_succ")
        );
        assert!(pick_successor(&candidates, &InquiryId::parse("inq_old").unwrap(), "itmplv_9").is_none());
        assert!(
            pick_successor(&candidates[5..], &InquiryId::parse("inq_old").unwrap(), "itmplv_1").is_none(),
            "never the outdated one itself"
        );
    }
}
