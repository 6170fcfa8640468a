//! The functional core: the template-version check, the resume decision, ownership and the choice of a successor,
//! as pure functions of inquiries' state. No I/O here; every row of docs/design.md's decision table is a test below.

use serde::Serialize;

use crate::domain::ids::AccountId;
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

/// What the rules know about an inquiry's template (docs/design.md, "What latest means is what creation gives").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TemplateFacts {
    /// `itmplv_…`, when Persona returned the template (it does not for sandbox keys) and something is published.
    pub latest_published_version: Option<String>,
    /// The versions creates of this deployment returned for the template within the last hour (the guard's set,
    /// as [`created_version`] entries): with Persona's explicit deploy, what new inquiries get need not be the
    /// latest published version.
    pub created_recently: Vec<String>,
}

/// An entry of the created-version set: the version a create returned and the latest published version seen when
/// it was made (`{version}@{latest}`; the version alone when that was unknown). It vouches for inquiries pinned to
/// it while the template publishes nothing newer: a version published since ends its word at once, not an hour
/// later.
pub fn created_version(version: &str, latest_published_then: Option<&str>) -> String {
    match latest_published_then {
        Some(latest) => format!("{version}@{latest}"),
        None => version.to_owned(),
    }
}

fn vouches_for(entry: &str, pinned: &str, latest_published_now: Option<&str>) -> bool {
    match entry.split_once('@') {
        None => entry == pinned,
        Some((version, latest_then)) => version == pinned && latest_published_now.is_none_or(|now| now == latest_then),
    }
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

/// Current when the inquiry is pinned to the latest published version or to a version creation gave within the
/// hour (so an inquiry on the latest published version is never downgraded, and a replacement is never outdated
/// the moment it is made); outdated when both are known and it is on neither; else unavailable.
pub fn check_template(inquiry: &InquiryFacts, template: &TemplateFacts) -> TemplateCheck {
    let Some(pinned) = &inquiry.pinned_version_id else { return TemplateCheck::Unavailable };
    let latest_now = template.latest_published_version.as_deref();
    if template.created_recently.iter().any(|entry| vouches_for(entry, pinned, latest_now)) {
        return TemplateCheck::Current;
    }
    match &template.latest_published_version {
        Some(latest) if latest == pinned => TemplateCheck::Current,
        Some(_) => TemplateCheck::Outdated,
        None => TemplateCheck::Unavailable,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::InquiryId;
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
        TemplateFacts { latest_published_version: latest.map(str::to_owned), created_recently: Vec::new() }
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
    fn what_creation_gives_is_current() {
        // Explicit deploy: creation gives v2 while v3 is the latest published.
        let created = |versions: &[&str], latest: Option<&str>| TemplateFacts {
            latest_published_version: latest.map(str::to_owned),
            created_recently: versions.iter().map(|v| (*v).to_owned()).collect(),
        };
        let table = [
            (Some("itmplv_2"), created(&["itmplv_2"], Some("itmplv_3")), Current, "a version creation gave"),
            (Some("itmplv_3"), created(&["itmplv_2"], Some("itmplv_3")), Current, "the latest published: never downgraded"),
            (Some("itmplv_1"), created(&["itmplv_2"], Some("itmplv_3")), Outdated, "neither"),
            (Some("itmplv_2"), created(&["itmplv_2", "itmplv_4"], None), Current, "known from creation alone"),
            (Some("itmplv_1"), created(&["itmplv_2"], None), Unavailable, "no latest, not created"),
            (None, created(&["itmplv_2"], Some("itmplv_3")), Unavailable, "no pinned version"),
            (Some("itmplv_2"), created(&["itmplv_2@itmplv_3"], Some("itmplv_3")), Current, "created while v3 was latest"),
            (Some("itmplv_2"), created(&["itmplv_2@itmplv_3"], Some("itmplv_4")), Outdated, "v4 published since"),
            (Some("itmplv_2"), created(&["itmplv_2@itmplv_3"], None), Current, "latest unknown now"),
            (Some("itmplv_3"), created(&["itmplv_2@itmplv_3"], Some("itmplv_3")), Current, "the latest itself"),
        ];
        assert_eq!(created_version("itmplv_2", Some("itmplv_3")), "itmplv_2@itmplv_3");
        assert_eq!(created_version("itmplv_2", None), "itmplv_2");
        for (pinned, template, expected, name) in table {
            let inquiry = facts("inq_1", Pending, false, "itmpl_1", pinned);
            assert_eq!(check_template(&inquiry, &template), expected, "{name}");
            let decision = decide(&inquiry, &template, UnavailablePolicy::Resume);
            assert_eq!(decision.is_ok_and(|d| d == Decision::Resume), expected != Outdated, "{name}");
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
}
