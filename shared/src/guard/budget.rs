//! The budgets' arithmetic, pure (docs/design.md, "The guard", Budgets): fixed UTC windows from epoch
//! seconds, the counters a request adds to, and the refusal a full counter means. No I/O: the stores only
//! apply the [`Counter`]s made here, each as "add `add` unless that passes `limit`".

use crate::domain::ids::InquiryId;
use crate::domain::owner::Owner;

use super::time::UnixMillis;

const MINUTE_SECONDS: u64 = 60;
const DAY_SECONDS: u64 = 86_400;
/// Counters outlive their window by this much before TTL may tidy them (they are never read after it: the
/// window is part of the key).
const COUNTER_KEPT_AFTER_WINDOW_SECONDS: u64 = 3_600;

/// The three budgets; `0` turns one off (docs/design.md, "Configuration").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `PERSONA_CALLS_PER_MINUTE`: the deployment's share of Persona's rate limit, every container together.
    pub persona_calls_per_minute: u32,
    /// `REQUESTS_PER_OWNER_PER_MINUTE`: requests of one owner (JWT mode).
    pub requests_per_owner_per_minute: u32,
    /// `SESSIONS_PER_INQUIRY_PER_DAY`: hand-outs per inquiry per UTC day.
    pub sessions_per_inquiry_per_day: u32,
}

impl Limits {
    /// Everything off (a store used only for the ledger, tests).
    pub const OFF: Self =
        Self { persona_calls_per_minute: 0, requests_per_owner_per_minute: 0, sessions_per_inquiry_per_day: 0 };
}

/// A fixed UTC window: the `index`-th minute or day since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: u64,
    length_seconds: u64,
}

impl Window {
    pub fn minute(now: UnixMillis) -> Self {
        Self::of(now, MINUTE_SECONDS)
    }

    pub fn day(now: UnixMillis) -> Self {
        Self::of(now, DAY_SECONDS)
    }

    fn of(now: UnixMillis, length_seconds: u64) -> Self {
        Self { index: now.seconds() / length_seconds, length_seconds }
    }

    /// Epoch seconds at which the next window starts.
    pub fn end_seconds(&self) -> u64 {
        (self.index + 1) * self.length_seconds
    }

    /// Whole seconds until the next window, at least 1 (a `Retry-After` of 0 invites an instant retry).
    #[cfg(test)]
    pub fn retry_after_seconds(&self, now: UnixMillis) -> u64 {
        seconds_until(self.end_seconds(), now)
    }
}

/// Which budget a counter belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Budget {
    /// `PERSONA_CALLS_PER_MINUTE` -> 429 `persona_budget_exhausted`.
    PersonaCalls,
    /// `REQUESTS_PER_OWNER_PER_MINUTE` -> 429 `too_many_requests`.
    OwnerRequests,
    /// `SESSIONS_PER_INQUIRY_PER_DAY` -> 429 `too_many_requests` naming the inquiry.
    InquirySessions { inquiry: InquiryId },
}

/// One conditional increment: add `add` to the item `key` unless the total would pass `limit`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Counter {
    pub budget: Budget,
    pub key: String,
    pub add: u32,
    pub limit: u32,
    /// Epoch seconds at which the window ends: `retry_after` when refused.
    pub window_end_seconds: u64,
    /// Epoch seconds for the item's TTL attribute.
    pub expires_at: u64,
}

impl Counter {
    fn new(budget: Budget, key: String, add: u32, limit: u32, window: Window) -> Self {
        let window_end_seconds = window.end_seconds();
        let expires_at = window_end_seconds + COUNTER_KEPT_AFTER_WINDOW_SECONDS;
        Self { budget, key, add, limit, window_end_seconds, expires_at }
    }

    /// Whether `add` more fit on top of `current` (the stores' condition, in one place for the memory store;
    /// the DynamoDB adapter states the same as `attribute_not_exists(n) OR n <= :room`).
    pub fn fits_on(&self, current: u64) -> bool {
        current + u64::from(self.add) <= u64::from(self.limit)
    }

    /// The highest count that still leaves room for `add`; `None` when `add` alone passes the limit (a plan
    /// bigger than the whole budget is refused without a write).
    pub fn room(&self) -> Option<u64> {
        u64::from(self.limit).checked_sub(u64::from(self.add))
    }

    /// The refusal this counter means, with the seconds to its window's end.
    pub fn refusal(&self, now: UnixMillis) -> Refused {
        Refused { budget: self.budget.clone(), retry_after_seconds: seconds_until(self.window_end_seconds, now) }
    }
}

/// Whole seconds from `now` to `end_seconds`, rounded up, at least 1.
fn seconds_until(end_seconds: u64, now: UnixMillis) -> u64 {
    (end_seconds * 1000).saturating_sub(now.0).div_ceil(1000).max(1)
}

/// A request the guard refused: which budget, and `Retry-After`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refused {
    pub budget: Budget,
    pub retry_after_seconds: u64,
}

/// What a request asks of the budgets before its first Persona call (one round trip for all of it).
#[derive(Debug, Clone, Copy)]
pub struct Admission<'a> {
    /// The caller in JWT mode; `None` for IAM callers (no owner budget).
    pub owner: Option<&'a Owner>,
    /// The inquiry the request presents (`/inquiries/{id}/…`); a hand-out on it counts one session.
    pub inquiry: Option<&'a InquiryId>,
    /// The calls its plan makes (docs/design.md, "Call plans and the cap").
    pub persona_calls: u32,
}

/// `budget#share#{minute}`.
pub fn share_key(minute: Window) -> String {
    format!("budget#share#{}", minute.index)
}

/// `budget#owner#{owner fingerprint}#{minute}`: the owner appears only as its fingerprint.
pub fn owner_key(owner: &Owner, minute: Window) -> String {
    format!("budget#owner#{}#{}", owner.fingerprint(), minute.index)
}

/// `budget#sessions#{inquiry}#{caller fingerprint}#{day}`, or `budget#sessions#{inquiry}#{day}` for a trusted
/// backend. Counted per caller: only an inquiry's owner is ever handed a session on it, and the count is taken at
/// admission, before ownership is known — so a stranger who learned the id (and gets a 404) spends a counter of
/// their own, never the owner's day.
pub fn sessions_key(inquiry: &InquiryId, caller: Option<&Owner>, day: Window) -> String {
    match caller {
        Some(owner) => format!("budget#sessions#{inquiry}#{}#{}", owner.fingerprint(), day.index),
        None => format!("budget#sessions#{inquiry}#{}", day.index),
    }
}

/// The counters an admission adds to, in a fixed order (owner, sessions, share: the caller's own limits are
/// named first when several are full); budgets that are off (`0`) and parts the request lacks are left out.
pub fn admission_counters(limits: &Limits, admission: &Admission<'_>, now: UnixMillis) -> Vec<Counter> {
    let mut counters = Vec::with_capacity(3);
    if let Some(owner) = admission.owner {
        counters.extend(owner_counter(limits, owner, now));
    }
    if let Some(inquiry) = admission.inquiry {
        counters.extend(session_counter(limits, inquiry, admission.owner, now));
    }
    counters.extend(calls_counter(limits, admission.persona_calls, now));
    counters
}

/// The share counter for `calls` more Persona calls (a retry or a call beyond the plan); `None` when off.
pub fn calls_counter(limits: &Limits, calls: u32, now: UnixMillis) -> Option<Counter> {
    let minute = Window::minute(now);
    (limits.persona_calls_per_minute > 0 && calls > 0).then(|| {
        Counter::new(Budget::PersonaCalls, share_key(minute), calls, limits.persona_calls_per_minute, minute)
    })
}

/// One hand-out on `inquiry` today for `caller` (`None`: a trusted backend); `None` when off.
pub fn session_counter(
    limits: &Limits,
    inquiry: &InquiryId,
    caller: Option<&Owner>,
    now: UnixMillis,
) -> Option<Counter> {
    let day = Window::day(now);
    (limits.sessions_per_inquiry_per_day > 0).then(|| {
        let budget = Budget::InquirySessions { inquiry: inquiry.clone() };
        Counter::new(budget, sessions_key(inquiry, caller, day), 1, limits.sessions_per_inquiry_per_day, day)
    })
}

fn owner_counter(limits: &Limits, owner: &Owner, now: UnixMillis) -> Option<Counter> {
    let minute = Window::minute(now);
    (limits.requests_per_owner_per_minute > 0).then(|| {
        Counter::new(Budget::OwnerRequests, owner_key(owner, minute), 1, limits.requests_per_owner_per_minute, minute)
    })
}

/// The first counter that cannot fit even on an empty window (its `add` alone passes its limit).
pub fn never_fits(counters: &[Counter]) -> Option<&Counter> {
    counters.iter().find(|counter| counter.room().is_none())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-01T10:31:15.250Z.
    const NOW: UnixMillis = UnixMillis(1_796_121_075_250);

    fn inquiry() -> InquiryId {
        InquiryId::parse("inq_A1").unwrap()
    }

    #[test]
    fn windows_are_fixed_utc_minutes_and_days() {
        // (now ms, minute index, minute end s, retry-after s, day index, day end s, day retry-after s)
        let table: &[(u64, u64, u64, u64, u64, u64, u64)] = &[
            (0, 0, 60, 60, 0, 86_400, 86_400),
            (59_999, 0, 60, 1, 0, 86_400, 86_341),
            (60_000, 1, 120, 60, 0, 86_400, 86_340),
            (60_001, 1, 120, 60, 0, 86_400, 86_340),
            (119_001, 1, 120, 1, 0, 86_400, 86_281),
            (86_399_999, 1_439, 86_400, 1, 0, 86_400, 1),
            (86_400_000, 1_440, 86_460, 60, 1, 172_800, 86_400),
            (NOW.0, 29_935_351, 1_796_121_120, 45, 20_788, 1_796_169_600, 48_525),
        ];
        for &(now, minute, minute_end, minute_retry, day, day_end, day_retry) in table {
            let now = UnixMillis(now);
            let (m, d) = (Window::minute(now), Window::day(now));
            assert_eq!((m.index, m.end_seconds(), m.retry_after_seconds(now)), (minute, minute_end, minute_retry));
            assert_eq!((d.index, d.end_seconds(), d.retry_after_seconds(now)), (day, day_end, day_retry));
        }
    }

    #[test]
    fn counter_keys_name_the_window_and_never_the_owner() {
        let owner = Owner::new("alice@example.com").unwrap();
        let (minute, day) = (Window::minute(NOW), Window::day(NOW));
        assert_eq!(share_key(minute), "budget#share#29935351");
        assert_eq!(owner_key(&owner, minute), format!("budget#owner#{}#29935351", owner.fingerprint()));
        assert!(!owner_key(&owner, minute).contains("alice"));
        assert_eq!(sessions_key(&inquiry(), None, day), "budget#sessions#inq_A1#20788");
        let per_caller = sessions_key(&inquiry(), Some(&owner), day);
        assert_eq!(per_caller, format!("budget#sessions#inq_A1#{}#20788", owner.fingerprint()));
        assert!(!per_caller.contains("alice"));
    }

    #[test]
    fn admissions_count_what_they_have_and_what_is_on() {
        let owner = Owner::new("alice").unwrap();
        let inquiry = inquiry();
        let on = Limits { persona_calls_per_minute: 240, requests_per_owner_per_minute: 10, sessions_per_inquiry_per_day: 10 };
        let full = Admission { owner: Some(&owner), inquiry: Some(&inquiry), persona_calls: 4 };
        let iam = Admission { owner: None, inquiry: Some(&inquiry), persona_calls: 2 };
        let me = Admission { owner: Some(&owner), inquiry: None, persona_calls: 3 };
        let no_calls = Admission { owner: Some(&owner), inquiry: None, persona_calls: 0 };
        // (limits, admission, expected (budget, add, limit) in order)
        let sessions = Budget::InquirySessions { inquiry: inquiry.clone() };
        type Row<'a> = (Limits, Admission<'a>, Vec<(Budget, u32, u32)>);
        let table: Vec<Row<'_>> = vec![
            (on, full, vec![(Budget::OwnerRequests, 1, 10), (sessions.clone(), 1, 10), (Budget::PersonaCalls, 4, 240)]),
            (on, iam, vec![(sessions.clone(), 1, 10), (Budget::PersonaCalls, 2, 240)]),
            (on, me, vec![(Budget::OwnerRequests, 1, 10), (Budget::PersonaCalls, 3, 240)]),
            (on, no_calls, vec![(Budget::OwnerRequests, 1, 10)]),
            (Limits { persona_calls_per_minute: 0, ..on }, full, vec![(Budget::OwnerRequests, 1, 10), (sessions.clone(), 1, 10)]),
            (Limits { requests_per_owner_per_minute: 0, ..on }, full, vec![(sessions, 1, 10), (Budget::PersonaCalls, 4, 240)]),
            (Limits { sessions_per_inquiry_per_day: 0, ..on }, full, vec![(Budget::OwnerRequests, 1, 10), (Budget::PersonaCalls, 4, 240)]),
            (Limits::OFF, full, vec![]),
        ];
        for (limits, admission, expected) in table {
            let got: Vec<(Budget, u32, u32)> =
                admission_counters(&limits, &admission, NOW).into_iter().map(|c| (c.budget, c.add, c.limit)).collect();
            assert_eq!(got, expected, "{limits:?} {admission:?}");
        }
    }

    #[test]
    fn room_and_fit_follow_the_limit() {
        let counter = calls_counter(&Limits { persona_calls_per_minute: 20, ..Limits::OFF }, 4, NOW).unwrap();
        // (current count, fits)
        for (current, fits) in [(0, true), (15, true), (16, true), (17, false), (20, false), (400, false)] {
            assert_eq!(counter.fits_on(current), fits, "{current}");
        }
        assert_eq!(counter.room(), Some(16));
        let too_big = calls_counter(&Limits { persona_calls_per_minute: 3, ..Limits::OFF }, 4, NOW).unwrap();
        assert_eq!(too_big.room(), None);
        assert!(!too_big.fits_on(0));
        assert_eq!(never_fits(std::slice::from_ref(&too_big)), Some(&too_big));
        assert_eq!(never_fits(std::slice::from_ref(&counter)), None);
    }

    #[test]
    fn a_refusal_says_which_budget_and_the_seconds_to_its_window_end() {
        let inquiry = inquiry();
        let limits = Limits { persona_calls_per_minute: 1, requests_per_owner_per_minute: 1, sessions_per_inquiry_per_day: 1 };
        let calls = calls_counter(&limits, 1, NOW).unwrap();
        let sessions = session_counter(&limits, &inquiry, None, NOW).unwrap();
        assert_eq!(calls.refusal(NOW), Refused { budget: Budget::PersonaCalls, retry_after_seconds: 45 });
        assert_eq!(
            sessions.refusal(NOW),
            Refused { budget: Budget::InquirySessions { inquiry }, retry_after_seconds: 48_525 }
        );
        // Refused later in the same window: fewer seconds, never 0.
        assert_eq!(calls.refusal(UnixMillis(NOW.0 + 44_900)).retry_after_seconds, 1);
        assert_eq!(calls.refusal(UnixMillis(NOW.0 + 90_000)).retry_after_seconds, 1);
        assert_eq!(calls.expires_at, 1_796_121_120 + 3_600);
    }
}
