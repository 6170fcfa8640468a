//! The functional core: the template-version check, the resume decision, ownership and the choice of a successor,
//! as pure functions of inquiries' state. No I/O here; every row of docs/design.md's decision table is a test below.

use serde::Serialize;

use crate::domain::ids::{AccountId, InquiryId};
use crate::domain::inquiry::InquiryFacts;
use crate::domain::owner::Owner;
use crate::domain::status::InquiryStatus;

/// What to do when the template check is unavailable (`TEMPLATE_CHECK_UNAVAILABLE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnavailablePolicy {
    /// Resume as if the template version were current (logged and reported).
    Resume,
    /// Refuse with 409 `template_check_unavailable`.
    Reject,
}

/// What the rules know about an inquiry's template.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFacts {
    /// `itmplv_…`, when Persona returned the template (it does not for sandbox keys) and something is published.
    pub latest_published_version: Option<String>,
}

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
pub fn check_template(inquiry: &InquiryFacts, template: &TemplateFacts) -> TemplateCheck {
    match (&inquiry.pinned_version_id, &template.latest_published_version) {
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
    inquiry: &InquiryFacts,
    template: &TemplateFacts,
    when_unavailable: UnavailablePolicy,
) -> Result<Decision, Refusal> {
    if inquiry.redacted {
        return Err(Refusal::Redacted);
    }
    if !inquiry.status.is_resumable() {
        return Err(Refusal::NotResumable(inquiry.status.clone()));
    }
    match (check_template(inquiry, template), &template.latest_published_version, when_unavailable) {
        (TemplateCheck::Outdated, Some(latest), _) => Ok(Decision::Recreate { latest_version: latest.clone() }),
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
pub fn listed_owner<'a>(inquiry: &'a InquiryFacts, accounts: &'a KnownAccounts) -> Option<&'a str> {
    let account_reference = inquiry.account_id.as_ref().and_then(|id| accounts.reference_id(id));
    owner_of(inquiry.reference_id.as_deref(), account_reference)
}

/// What replaces an outdated inquiry, among candidates already known to be the same owner's (newest first).
#[derive(Debug, Clone)]
pub enum Successor<'a> {
    /// An unfinished inquiry on the latest version: reuse it, create nothing.
    Reuse(&'a InquiryFacts),
    /// The newest inquiry on the latest version is finished or redacted: the user already went through the latest
    /// version, so nothing is created and the refusal names that inquiry.
    Refuse { inquiry: &'a InquiryFacts, refusal: Refusal },
    /// No inquiry on the latest version yet: create one.
    Create,
}

/// Recreate step 1 (docs/design.md, "Recreate"): the newest of the owner's inquiries on the same template, other
/// than the outdated one, pinned to the latest published version, decides.
pub fn choose_successor<'a>(
    owned_candidates: impl IntoIterator<Item = &'a InquiryFacts>,
    outdated_id: &InquiryId,
    template_id: &str,
    latest_version_id: &str,
) -> Successor<'a> {
    let newest = owned_candidates.into_iter().find(|candidate| {
        &candidate.id != outdated_id
            && candidate.template_id.as_deref() == Some(template_id)
            && candidate.pinned_version_id.as_deref() == Some(latest_version_id)
    });
    match newest {
        None => Successor::Create,
        Some(inquiry) if inquiry.redacted => Successor::Refuse { inquiry, refusal: Refusal::Redacted },
        Some(inquiry) if !inquiry.status.is_resumable() => {
            Successor::Refuse { inquiry, refusal: Refusal::NotResumable(inquiry.status.clone()) }
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

    fn facts(id: &str, status: InquiryStatus, redacted: bool, template: &str, pinned: Option<&str>) -> InquiryFacts {
        InquiryFacts {
            id: InquiryId::parse(id).unwrap(),
            status,
            redacted,
            template_id: Some(template.to_owned()),
            pinned_version_id: pinned.map(str::to_owned),
            reference_id: None,
            account_id: None,
            created_at: None,
            tags: Vec::new(),
        }
    }

    fn template(latest: Option<&str>) -> TemplateFacts {
        TemplateFacts { latest_published_version: latest.map(str::to_owned) }
    }

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
            let inquiry = facts("inq_1", Pending, false, "itmpl_1", pinned);
            assert_eq!(check_template(&inquiry, &template(latest)), expected, "{pinned:?} vs {latest:?}");
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
        let decide = |status: &InquiryStatus, redacted, pinned: Option<&str>, latest: Option<&str>, policy| {
            decide(&facts("inq_1", status.clone(), redacted, "itmpl_1", pinned), &template(latest), policy)
        };

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

    fn inquiry(id: &str, status: &str, template: &str, version: &str, redacted: bool) -> InquiryFacts {
        facts(id, InquiryStatus::from(status), redacted, template, Some(version))
    }

    #[test]
    fn the_newest_inquiry_on_the_latest_version_decides_the_successor() {
        let old = InquiryId::parse("inq_old").unwrap();
        // Ok(reused id), Err(Some((named id, refusal))) or Err(None) for "create".
        type Chosen = Result<String, Option<(String, Refusal)>>;
        let reuse = |inquiries: &[InquiryFacts]| -> Chosen {
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
        let table: Vec<(Vec<InquiryFacts>, Chosen)> = vec![
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
        let listed = InquiryFacts {
            account_id: Some(AccountId::parse("act_1").unwrap()),
            ..facts("inq_1", Pending, false, "itmpl_1", None)
        };
        let mut accounts = KnownAccounts::default();
        assert_eq!(listed_owner(&listed, &accounts), None, "an unknown account proves nothing");
        accounts.add(AccountId::parse("act_2").unwrap(), Some("user-2"));
        assert_eq!(listed_owner(&listed, &accounts), None);
        accounts.add(AccountId::parse("act_1").unwrap(), Some("user-1"));
        assert_eq!(listed_owner(&listed, &accounts), Some("user-1"));
    }
}
