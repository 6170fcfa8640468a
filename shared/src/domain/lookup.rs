//! Which of a user's inquiries decides, pure (docs/design.md, "Returning users", "Recreate" step 1, "Planted
//! inquiries"): lists are read by the service, and everything they return is judged here — who owns an item, whether
//! it counts (owned, and tagged when a trusted tag is set), which one is the newest, whether a list cut short can
//! still be trusted. Never an upstream filter's word: every rule is checked on the items themselves.

use crate::domain::inquiry::InquiryFacts;
use crate::domain::owner::Owner;
use crate::domain::policy::{self, KnownAccounts, Refusal};

/// One list as read: its items in Persona's order (newest first) and whether it was read to its end.
#[derive(Debug, Clone, Copy)]
pub struct Listed<'a> {
    pub items: &'a [InquiryFacts],
    /// False when a next page existed that the call plan left unread.
    pub complete: bool,
}

/// Which listed inquiries count for a user.
#[derive(Debug, Clone, Copy)]
pub struct Counting<'a> {
    pub owner: &'a str,
    /// Accounts whose reference id we read ourselves (the user's own, or the old inquiry's).
    pub accounts: &'a KnownAccounts,
    /// `TRUSTED_INQUIRY_TAG`: when set, an inquiry without it is not counted (it may have been planted).
    pub trusted_tag: Option<&'a str>,
}

impl<'a> Counting<'a> {
    pub fn for_user(owner: &'a Owner, accounts: &'a KnownAccounts, trusted_tag: Option<&'a str>) -> Self {
        Self { owner: owner.as_str(), accounts, trusted_tag }
    }

    /// Owned (its own reference id, else its known account's, equals the owner) and, with a trusted tag, tagged.
    pub fn counts(&self, inquiry: &InquiryFacts) -> bool {
        let account_reference = inquiry.account_id.as_ref().and_then(|id| self.accounts.reference_id(id));
        let owner = policy::owner_of(inquiry.reference_id.as_deref(), account_reference);
        owner == Some(self.owner) && is_trusted(inquiry, self.trusted_tag)
    }
}

/// With a trusted tag set, only inquiries that carry it (exactly) are trusted; without one, all are.
pub fn is_trusted(inquiry: &InquiryFacts, trusted_tag: Option<&str>) -> bool {
    trusted_tag.is_none_or(|tag| inquiry.tags.iter().any(|t| t == tag))
}

/// What a lookup found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Newest<'a> {
    Found(&'a InquiryFacts),
    /// Every list was read to its end (or showed a counted inquiry): the user has none.
    None,
    /// A list was cut short before it showed a counted inquiry: "none" can't be told from "further down"
    /// (503 `lookup_incomplete`; nothing is created).
    Incomplete,
}

/// Is `a` newer than `b`? By `created-at`; an inquiry without a readable one is older than any with one. Equal
/// times are not newer: the caller's order (Persona's, newest first) breaks ties.
fn is_newer(a: &InquiryFacts, b: &InquiryFacts) -> bool {
    match (a.created_at, b.created_at) {
        (Some(a), Some(b)) => a > b,
        (Some(_), None) => true,
        _ => false,
    }
}

/// `/me`: the newest counted inquiry over all lists. A list's later pages hold older inquiries only, so a list
/// cut short is decisive once it showed a counted inquiry, and `Incomplete` when it showed none.
pub fn newest<'a>(lists: &[Listed<'a>], counting: &Counting<'_>) -> Newest<'a> {
    let mut newest: Option<&'a InquiryFacts> = None;
    for list in lists {
        let mut counted_any = false;
        for item in list.items.iter().filter(|item| counting.counts(item)) {
            counted_any = true;
            if newest.is_none_or(|best| is_newer(item, best)) {
                newest = Some(item);
            }
        }
        if !list.complete && !counted_any {
            return Newest::Incomplete;
        }
    }
    newest.map_or(Newest::None, Newest::Found)
}

/// What the successor search found for an outdated inquiry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Successor<'a> {
    /// No inquiry of the owner's on the template was created after the old one: replace the old one.
    None,
    /// The newest one is finished or redacted: the user already went through a newer inquiry, whatever version
    /// it is on — 409 naming it, nothing created.
    Refuse { inquiry: &'a InquiryFacts, refusal: Refusal },
    /// The newest one is resumable: it is the successor — handed out when current, the inquiry that gets
    /// replaced when outdated itself (one hop: a request never replaces more than one inquiry).
    Found(&'a InquiryFacts),
    /// The list was cut short before it showed a counted inquiry: see [`Newest::Incomplete`].
    Incomplete,
}

/// Recreate step 1: among the counted inquiries of one list, the newest on the old inquiry's template created
/// after it, whatever its version. Equal `created-at`: an item listed before the old one is newer (Persona lists
/// newest first); the old inquiry is never its own successor.
pub fn successor<'a>(list: &Listed<'a>, counting: &Counting<'_>, old: &InquiryFacts) -> Successor<'a> {
    let old_position = list.items.iter().position(|item| item.id == old.id);
    let created_after = |position: usize, item: &InquiryFacts| match (item.created_at, old.created_at) {
        (Some(item_at), Some(old_at)) => item_at > old_at || (item_at == old_at && old_position.is_some_and(|p| position < p)),
        // Without the old inquiry's time, "after" is only known from the list's order.
        (_, None) => old_position.is_some_and(|p| position < p),
        (None, Some(_)) => false,
    };
    let mut counted_any = false;
    let mut newest: Option<&'a InquiryFacts> = None;
    for (position, item) in list.items.iter().enumerate() {
        if !counting.counts(item) {
            continue;
        }
        counted_any = true;
        let candidate = item.id != old.id
            && item.template_id.is_some()
            && item.template_id == old.template_id
            && created_after(position, item);
        if candidate && newest.is_none_or(|best| is_newer(item, best)) {
            newest = Some(item);
        }
    }
    match newest {
        _ if !list.complete && !counted_any => Successor::Incomplete,
        None => Successor::None,
        Some(inquiry) if inquiry.redacted => Successor::Refuse { inquiry, refusal: Refusal::Redacted },
        Some(inquiry) if !inquiry.status.is_resumable() => {
            Successor::Refuse { inquiry, refusal: Refusal::NotResumable(inquiry.status.clone()) }
        }
        Some(inquiry) => Successor::Found(inquiry),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::ids::{AccountId, InquiryId};
    use crate::domain::status::InquiryStatus::{self, *};
    use crate::domain::timestamp::Timestamp;

    const USER: &str = "user-1";
    const TAG: &str = "persona-resume";

    /// An inquiry on `itmpl_1` created at minute `minute`, owned through its own reference id unless said.
    fn inquiry(id: &str, status: InquiryStatus, minute: i64) -> InquiryFacts {
        InquiryFacts {
            id: InquiryId::parse(id).unwrap(),
            status,
            redacted: false,
            template_id: Some("itmpl_1".into()),
            pinned_version_id: Some("itmplv_1".into()),
            reference_id: Some(USER.into()),
            account_id: None,
            created_at: Some(Timestamp::from_millis(minute * 60_000)),
            tags: vec![TAG.into()],
        }
    }

    fn on_account(mut facts: InquiryFacts, account: &str) -> InquiryFacts {
        facts.reference_id = None;
        facts.account_id = Some(AccountId::parse(account).unwrap());
        facts
    }

    fn untagged(mut facts: InquiryFacts) -> InquiryFacts {
        facts.tags.clear();
        facts
    }

    fn someone_elses(mut facts: InquiryFacts) -> InquiryFacts {
        facts.reference_id = Some("user-2".into());
        facts
    }

    fn accounts() -> KnownAccounts {
        let mut accounts = KnownAccounts::default();
        accounts.add(AccountId::parse("act_user1").unwrap(), Some(USER));
        accounts.add(AccountId::parse("act_user2").unwrap(), Some("user-2"));
        accounts
    }

    fn complete(items: &[InquiryFacts]) -> Listed<'_> {
        Listed { items, complete: true }
    }

    fn found_id(newest: Newest<'_>) -> Option<&str> {
        match newest {
            Newest::Found(inquiry) => Some(inquiry.id.as_str()),
            Newest::None => None,
            Newest::Incomplete => Some("<incomplete>"),
        }
    }

    #[test]
    fn me_merges_both_sources_and_the_newest_decides() {
        let accounts = accounts();
        let counting = Counting { owner: USER, accounts: &accounts, trusted_tag: None };
        // (reference list, account list, expected)
        let older_pending_own = inquiry("inq_own", Pending, 10);
        let newer_approved_account = on_account(inquiry("inq_acct", Approved, 20), "act_user1");
        #[allow(clippy::type_complexity)] // a table's rows read best spelled out
        let table: Vec<(&str, Vec<InquiryFacts>, Vec<InquiryFacts>, Option<&str>)> = vec![
            ("older pending (own id), newer approved (account): the approved one", vec![older_pending_own.clone()], vec![newer_approved_account.clone()], Some("inq_acct")),
            ("the reverse: the newer pending one", vec![inquiry("inq_own", Approved, 10)], vec![on_account(inquiry("inq_acct", Pending, 20), "act_user1")], Some("inq_acct")),
            ("newer pending hidden behind an older declined one", vec![inquiry("inq_new", Pending, 30), inquiry("inq_old", Declined, 5)], vec![], Some("inq_new")),
            ("the same inquiry in both lists", vec![older_pending_own.clone()], vec![older_pending_own.clone()], Some("inq_own")),
            ("someone else's newer one is skipped", vec![someone_elses(inquiry("inq_other", Pending, 50)), older_pending_own.clone()], vec![], Some("inq_own")),
            ("another user's account is skipped", vec![], vec![on_account(inquiry("inq_other", Pending, 50), "act_user2"), newer_approved_account.clone()], Some("inq_acct")),
            ("an unknown account is nobody's", vec![], vec![on_account(inquiry("inq_x", Pending, 50), "act_unknown")], None),
            ("equal times: the first listed", vec![inquiry("inq_a", Pending, 10), inquiry("inq_b", Pending, 10)], vec![], Some("inq_a")),
            ("no created-at: older than any with one", vec![InquiryFacts { created_at: None, ..inquiry("inq_undated", Pending, 0) }, inquiry("inq_dated", Pending, 1)], vec![], Some("inq_dated")),
            ("nothing", vec![], vec![], None),
        ];
        for (name, by_reference, by_account, expected) in table {
            let lists = [complete(&by_reference), complete(&by_account)];
            assert_eq!(found_id(newest(&lists, &counting)), expected, "{name}");
        }
    }

    #[test]
    fn a_trusted_tag_makes_planted_inquiries_invisible() {
        let accounts = accounts();
        let real = inquiry("inq_real", Pending, 10);
        let planted_approved = untagged(inquiry("inq_planted", Approved, 20));
        let planted_pending = untagged(on_account(inquiry("inq_planted2", Pending, 30), "act_user1"));
        let by_reference = [planted_approved.clone(), real.clone()];
        let by_account = [planted_pending.clone()];
        let lists = [complete(&by_reference), complete(&by_account)];
        let trusting = Counting { owner: USER, accounts: &accounts, trusted_tag: Some(TAG) };
        assert_eq!(found_id(newest(&lists, &trusting)), Some("inq_real"));
        let without_tag = Counting { owner: USER, accounts: &accounts, trusted_tag: None };
        assert_eq!(found_id(newest(&lists, &without_tag)), Some("inq_planted2"), "without the tag a planted one decides");
        let similar_tag = InquiryFacts { tags: vec![format!("{TAG} "), TAG.to_uppercase()], ..real.clone() };
        assert!(!trusting.counts(&similar_tag), "tags compare exactly");
    }

    #[test]
    fn a_list_cut_short_is_never_read_as_none() {
        let accounts = accounts();
        let counting = Counting { owner: USER, accounts: &accounts, trusted_tag: Some(TAG) };
        let flood: Vec<_> = (0..100).map(|n| untagged(inquiry(&format!("inq_flood{n}"), Pending, 100 + n))).collect();
        let real = [inquiry("inq_real", Pending, 10)];
        let cut = Listed { items: &flood, complete: false };
        assert_eq!(newest(&[cut, complete(&[])], &counting), Newest::Incomplete, "a flood pushed the real one off the page");
        assert_eq!(newest(&[complete(&[]), cut], &counting), Newest::Incomplete, "whichever list it is");
        let cut_but_showing = Listed { items: &real, complete: false };
        assert_eq!(found_id(newest(&[cut_but_showing], &counting)), Some("inq_real"), "later pages are older");
        assert_eq!(newest(&[complete(&flood)], &counting), Newest::None, "read to its end: really none");
    }

    #[test]
    fn the_successor_is_the_newest_later_inquiry_whatever_its_version() {
        let accounts = accounts();
        let counting = Counting { owner: USER, accounts: &accounts, trusted_tag: None };
        let old = inquiry("inq_old", Expired, 10);
        let on_v2 = |id: &str, status, minute| InquiryFacts { pinned_version_id: Some("itmplv_2".into()), ..inquiry(id, status, minute) };
        let other_template = |id: &str, minute| InquiryFacts { template_id: Some("itmpl_9".into()), ..inquiry(id, Pending, minute) };
        let expect = |list: &[InquiryFacts], complete_list: bool| -> String {
            match successor(&Listed { items: list, complete: complete_list }, &counting, &old) {
                Successor::None => "none".into(),
                Successor::Refuse { inquiry, refusal } => format!("refuse {} {refusal:?}", inquiry.id),
                Successor::Found(inquiry) => format!("found {}", inquiry.id),
                Successor::Incomplete => "incomplete".into(),
            }
        };
        let table: Vec<(&str, Vec<InquiryFacts>, bool, &str)> = vec![
            ("nothing newer: create", vec![old.clone()], true, "none"),
            ("a newer approved one on v2 (not the latest): 409 naming it", vec![on_v2("inq_v2", Approved, 20), old.clone()], true, "refuse inq_v2 NotResumable(Approved)"),
            ("a newer redacted one", vec![InquiryFacts { redacted: true, ..on_v2("inq_r", Pending, 20) }, old.clone()], true, "refuse inq_r Redacted"),
            ("a newer pending one on any version", vec![on_v2("inq_p", Pending, 20), old.clone()], true, "found inq_p"),
            ("the newest decides: pending after approved", vec![on_v2("inq_p", Pending, 30), on_v2("inq_a", Approved, 20), old.clone()], true, "found inq_p"),
            ("the newest decides: approved after pending", vec![on_v2("inq_a", Approved, 30), on_v2("inq_p", Pending, 20), old.clone()], true, "refuse inq_a NotResumable(Approved)"),
            ("older ones don't count", vec![old.clone(), on_v2("inq_older", Approved, 5)], true, "none"),
            ("another template doesn't count", vec![other_template("inq_t", 20), old.clone()], true, "none"),
            ("someone else's doesn't count", vec![someone_elses(on_v2("inq_s", Approved, 20)), old.clone()], true, "none"),
            ("equal time, listed first: newer", vec![on_v2("inq_tie", Pending, 10), old.clone()], true, "found inq_tie"),
            ("equal time, listed after: not newer", vec![old.clone(), on_v2("inq_tie", Pending, 10)], true, "none"),
            ("the old one alone, cut short: decisive (everything newer is before it)", vec![old.clone()], false, "none"),
            ("cut short before anything counted", vec![someone_elses(on_v2("inq_s", Pending, 20))], false, "incomplete"),
        ];
        for (name, list, complete_list, expected) in table {
            assert_eq!(expect(&list, complete_list), expected, "{name}");
        }
    }

    #[test]
    fn a_planted_newer_inquiry_never_decides_the_successor() {
        let accounts = accounts();
        let counting = Counting { owner: USER, accounts: &accounts, trusted_tag: Some(TAG) };
        let old = inquiry("inq_old", Pending, 10);
        let planted = untagged(inquiry("inq_planted", Approved, 20));
        let list = [planted, old.clone()];
        assert_eq!(successor(&complete(&list), &counting, &old), Successor::None);
    }
}
