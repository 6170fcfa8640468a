//! The functional core: the template-version check, the resume decision, ownership and the choice of a successor,
//! as pure functions of inquiries' state. No I/O here; every row of docs/design.md's decision table is a test below.

use serde::Serialize;

use crate::domain::ids::{AccountId, InquiryId};
use crate::domain::owner::Owner;
use crate::domain::status::InquiryStatus;
use crate::ops::config::UnavailablePolicy;
use crate::persona::model::Inquiry;

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
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Hand out access to this inquiry.
    Resume,
    /// It is pinned to an outdated version: find or create its successor on `latest_version` and hand out access
    /// to that one.
    Recreate { latest_version: String },
}

/// Why a caller gets no access: a 404 or a 409 (docs/design.md, "Errors"), whichever step found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// Persona has no such inquiry, the caller does not own it, or `/me` is not configured: one answer for all.
    NotFound,
    Redacted,
    NotResumable(InquiryStatus),
    TemplateCheckUnavailable,
}

/// The decision table of docs/design.md, in its row order: redaction first, then status, then the template check.
pub fn decide(
    status: &InquiryStatus,
    redacted: bool,
    pinned_version: Option<&str>,
    latest_published_version: Option<&str>,
    when_unavailable: UnavailablePolicy,
) -> Result<Decision, Refusal> {
    if redacted {
        return Err(Refusal::Redacted);
    }
    if !status.is_resumable() {
        return Err(Refusal::NotResumable(status.clone()));
    }
    match (check_template(pinned_version, latest_published_version), latest_published_version, when_unavailable) {
        (TemplateCheck::Outdated, Some(latest), _) => Ok(Decision::Recreate { latest_version: latest.to_owned() }),
        (TemplateCheck::Unavailable, _, UnavailablePolicy::Reject) => Err(Refusal::TemplateCheckUnavailable),
        _ => Ok(Decision::Resume),
    }
}

/// Who owns an inquiry (docs/design.md, "Who owns an inquiry"): its own reference id when it has one, otherwise
/// its account's. An inquiry with neither is nobody's.
pub fn owner_of<'a>(own_reference_id: Option<&'a str>, account_reference_id: Option<&'a str>) -> Option<&'a str> {
    own_reference_id.filter(|r| !r.is_empty()).or(account_reference_id.filter(|r| !r.is_empty()))
}

/// Exact comparison: no case or Unicode folding, no trimming, no list splitting.
pub fn is_owned_by(inquiry_owner: Option<&str>, owner: &Owner) -> bool {
    inquiry_owner == Some(owner.as_str())
}

/// Accounts whose reference id we read ourselves (included, fetched or listed with `fields[account]=reference-id`).
#[derive(Debug, Clone, Default)]
pub struct KnownAccounts(Vec<(AccountId, String)>);

impl KnownAccounts {
    pub fn add(&mut self, id: AccountId, reference_id: Option<&str>) {
        if let Some(reference_id) = reference_id.filter(|r| !r.is_empty()) {
            self.0.push((id, reference_id.to_owned()));
        }
    }

    pub fn reference_id(&self, id: &AccountId) -> Option<&str> {
        self.0.iter().find(|(known, _)| known == id).map(|(_, reference_id)| reference_id.as_str())
    }

    pub fn ids(&self) -> impl Iterator<Item = &AccountId> {
        self.0.iter().map(|(id, _)| id)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// The owner of an inquiry that came from a list (whose items carry no `included`): its own reference id, else the
/// reference id of its account if we know that account.
pub fn listed_owner<'a>(inquiry: &'a Inquiry, accounts: &'a KnownAccounts) -> Option<&'a str> {
    let account_reference = inquiry.account_id().and_then(|id| accounts.reference_id(&id));
    owner_of(inquiry.reference_id(), account_reference)
}

/// What replaces an outdated inquiry, among candidates already known to be the same owner's (newest first).
#[derive(Debug, Clone)]
pub enum Successor<'a> {
    /// An unfinished inquiry on the latest version: reuse it, create nothing.
    Reuse(&'a Inquiry),
    /// The newest inquiry on the latest version is finished or redacted: the user already went through the latest
    /// version, so nothing is created and the refusal names that inquiry.
    Refuse { inquiry: &'a Inquiry, refusal: Refusal },
    /// No inquiry on the latest version yet: create one.
    Create,
}

/// Recreate step 1 (docs/design.md, "Recreate"): the newest of the owner's inquiries on the same template, other
/// than the outdated one, pinned to the latest published version, decides.
pub fn choose_successor<'a>(
    owned_candidates: impl IntoIterator<Item = &'a Inquiry>,
    outdated_id: &InquiryId,
    template_id: &str,
    latest_version_id: &str,
) -> Successor<'a> {
    let newest = owned_candidates.into_iter().find(|candidate| {
        &candidate.id != outdated_id
            && candidate.inquiry_template_id() == Some(template_id)
            && candidate.template_version_id() == Some(latest_version_id)
    });
    match newest {
        None => Successor::Create,
        Some(inquiry) if inquiry.is_redacted() => Successor::Refuse { inquiry, refusal: Refusal::Redacted },
        Some(inquiry) if !inquiry.status().is_resumable() => {
            Successor::Refuse { inquiry, refusal: Refusal::NotResumable(inquiry.status().clone()) }
        }
        Some(inquiry) => Successor::Reuse(inquiry),
    }
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
        // (pinned, latest) for each template check
        let current = (Some("itmplv_2"), Some("itmplv_2"));
        let outdated = (Some("itmplv_1"), Some("itmplv_2"));
        let unavailable = [(None, Some("itmplv_2")), (Some("itmplv_1"), None), (None, None)];
        let all_versions: Vec<_> = [current, outdated].into_iter().chain(unavailable).collect();
        let policies = [ResumeAnyway, Reject];

        // Row 1: redacted, whatever else.
        for status in open.iter().chain(finished.iter()) {
            for &(pinned, latest) in &all_versions {
                for policy in policies {
                    assert_eq!(decide(status, true, pinned, latest, policy), Err(Refusal::Redacted), "{status:?}");
                }
            }
        }
        // Row 2: finished or unknown statuses, whatever the check.
        for status in &finished {
            for &(pinned, latest) in &all_versions {
                for policy in policies {
                    assert_eq!(
                        decide(status, false, pinned, latest, policy),
                        Err(Refusal::NotResumable(status.clone())),
                        "{status:?}"
                    );
                }
            }
        }
        // Rows 3-7: open inquiries.
        for status in &open {
            for policy in policies {
                assert_eq!(decide(status, false, current.0, current.1, policy), Ok(Decision::Resume), "{status:?}");
                assert_eq!(
                    decide(status, false, outdated.0, outdated.1, policy),
                    Ok(Decision::Recreate { latest_version: "itmplv_2".into() }),
                    "{status:?}"
                );
            }
            for (pinned, latest) in unavailable {
                assert_eq!(decide(status, false, pinned, latest, ResumeAnyway), Ok(Decision::Resume), "{status:?}");
                assert_eq!(
                    decide(status, false, pinned, latest, Reject),
                    Err(Refusal::TemplateCheckUnavailable),
                    "{status:?}"
                );
            }
        }
    }

    #[test]
    fn ownership() {
        let owner = |raw: &str| Owner::new(raw).unwrap();
        let table: &[(Option<&str>, Option<&str>, &str, bool)] = &[
            (Some("user-1"), None, "user-1", true),
            (Some("user-1"), Some("user-2"), "user-1", true),
            (Some("user-1"), Some("user-2"), "user-2", false), // the inquiry's own reference id wins
            (None, Some("user-2"), "user-2", true),            // account-only: the account's reference id
            (Some(""), Some("user-2"), "user-2", true),
            (None, None, "user-1", false),
            (Some(""), Some(""), "user-1", false),
            (Some("User-1"), None, "user-1", false), // exact: no case folding
            (Some("user-1,user-2"), None, "user-1", false), // no list splitting
            (Some(" user-1"), None, "user-1", false),
            (Some("42"), None, "42", true),
        ];
        for &(own, account, claim, expected) in table {
            assert_eq!(is_owned_by(owner_of(own, account), &owner(claim)), expected, "{own:?} {account:?} {claim}");
        }
    }

    fn inquiry(id: &str, status: &str, template: &str, version: &str, redacted: bool) -> Inquiry {
        serde_json::from_value(serde_json::json!({
            "id": id,
            "attributes": {"status": status, "redacted-at": if redacted { serde_json::json!("2024-01-01T00:00:00Z") } else { serde_json::Value::Null }},
            "relationships": {
                "inquiry-template": {"data": {"type": "inquiry-template", "id": template}},
                "inquiry-template-version": {"data": {"id": version}}
            }
        }))
        .unwrap()
    }

    #[test]
    fn the_newest_inquiry_on_the_latest_version_decides_the_successor() {
        let old = InquiryId::parse("inq_old").unwrap();
        // Ok(reused id), Err(Some((named id, refusal))) or Err(None) for "create".
        type Chosen = Result<String, Option<(String, Refusal)>>;
        let reuse = |inquiries: &[Inquiry]| -> Chosen {
            match choose_successor(inquiries, &old, "itmpl_1", "itmplv_2") {
                Successor::Reuse(found) => Ok(found.id.to_string()),
                Successor::Refuse { inquiry, refusal } => Err(Some((inquiry.id.to_string(), refusal))),
                Successor::Create => Err(None),
            }
        };
        let other_version = inquiry("inq_otherversion", "pending", "itmpl_1", "itmplv_3", false);
        let other_template = inquiry("inq_othertemplate", "pending", "itmpl_9", "itmplv_2", false);
        let the_old_one = inquiry("inq_old", "pending", "itmpl_1", "itmplv_2", false);
        let expired = inquiry("inq_succ", "expired", "itmpl_1", "itmplv_2", false);
        let approved = inquiry("inq_done", "approved", "itmpl_1", "itmplv_2", false);
        let redacted = inquiry("inq_gone", "pending", "itmpl_1", "itmplv_2", true);
        let table: Vec<(Vec<Inquiry>, Chosen)> = vec![
            (vec![], Err(None)),
            (vec![other_version.clone(), other_template.clone(), the_old_one.clone()], Err(None)),
            (vec![other_version.clone(), expired.clone(), approved.clone()], Ok("inq_succ".into())),
            // A finished replacement: the user already went through the latest version — never re-verified.
            (vec![approved.clone(), expired.clone()], Err(Some(("inq_done".into(), Refusal::NotResumable(Approved))))),
            (vec![redacted.clone(), expired.clone()], Err(Some(("inq_gone".into(), Refusal::Redacted)))),
        ];
        for (candidates, expected) in table {
            let names: Vec<String> = candidates.iter().map(|c| c.id.to_string()).collect();
            assert_eq!(reuse(&candidates), expected, "{names:?}");
        }
    }

    #[test]
    fn listed_inquiries_are_owned_through_known_accounts_only() {
        let listed: Inquiry = serde_json::from_value(serde_json::json!({
            "id": "inq_1", "attributes": {"status": "pending", "reference-id": null},
            "relationships": {"account": {"data": {"type": "account", "id": "act_1"}}}
        }))
        .unwrap();
        let mut accounts = KnownAccounts::default();
        assert_eq!(listed_owner(&listed, &accounts), None, "an unknown account proves nothing");
        accounts.add(AccountId::parse("act_2").unwrap(), Some("user-2"));
        assert_eq!(listed_owner(&listed, &accounts), None);
        accounts.add(AccountId::parse("act_1").unwrap(), Some("user-1"));
        assert_eq!(listed_owner(&listed, &accounts), Some("user-1"));
    }
}
