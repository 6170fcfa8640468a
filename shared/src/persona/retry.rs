//! The retry policy of one logical Persona call, as a pure function: given what an attempt came back with, how
//! much time is left and how many requests the invocation made, [`next`] says what to do. The transport
//! (`transport.rs`) only performs requests and executes the [`Action`]s.
//!
//! The rules (design.md, "Idempotency keys" and "Reliability"):
//! - a lost answer (timeout, connection error): the same idempotency key, after a backoff;
//! - a 5xx with Persona's `Request-Id` on a keyed POST: Persona stored it under the key and replays it for 24 h,
//!   so the next key of the sequence. When the sequence is shared by every invocation (create and expire keys
//!   are deterministic) such an answer may be a replay of an earlier incident: it does **not** use up the call's
//!   attempts (no lock-out: keep walking, bounded by the invocation's request budget and deadline) and is
//!   followed by **no backoff** — the next key has never been tried in this invocation, and a replay costs
//!   Persona nothing. On a per-invocation sequence (resume, link) the key is new, so the 5xx is fresh: it uses
//!   up an attempt and is followed by the usual backoff, like every other retry;
//! - a 5xx without `Request-Id` came from something in front of Persona and may hide a committed request: the
//!   same key once more, after a backoff, then the next key (both use up attempts);
//! - 429: the same key after `RateLimit-Reset` when that fits before the deadline, else give up with it;
//! - 401: re-read the secret once (rotation) and retry at once if the key changed;
//! - 403: our key (auth failed) or a quota (Persona says so in `errors[].title/details`): give up either way;
//! - any other status: give up; the service gives it a meaning.

use std::time::Duration;

use crate::persona::error::UpstreamError;
use crate::persona::operation::Operation;

/// `RateLimit-Reset` is clamped to this range before it becomes a wait or our `Retry-After`: at least a second
/// (a zero would invite a client to hammer us), at most an hour (a larger value is a Persona bug or a quota, and
/// must not tell a client to go away for days).
pub const RATE_LIMIT_RESET_RANGE: std::ops::RangeInclusive<u64> = 1..=3600;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts of one logical call (first try included). Stored 5xx answers on shared keys don't count.
    pub max_attempts_per_call: u32,
    /// Upstream requests one invocation may make in all, so a bad day at Persona can't turn into a retry storm.
    pub max_requests_per_invocation: usize,
    /// Upper bound of one attempt; the remaining budget may cut it shorter.
    pub attempt_timeout: Duration,
    pub base_backoff: Duration,
    pub max_backoff: Duration,
    /// Don't start an attempt with less time than this left: it could not finish.
    pub min_attempt_time: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts_per_call: 4,
            // docs/design.md, "Call plans and the cap": 8 whatever Persona answers (the longest plan is 6).
            max_requests_per_invocation: 8,
            attempt_timeout: Duration::from_secs(6),
            base_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(2),
            min_attempt_time: Duration::from_millis(50),
        }
    }
}

impl RetryPolicy {
    /// Full jitter: a uniform wait between zero and `base * 2^(attempt-1)`, capped.
    pub fn backoff(&self, attempt: u32, unit_random: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self.base_backoff.saturating_mul(1 << exponent).min(self.max_backoff);
        ceiling.mul_f64(unit_random.clamp(0.0, 1.0))
    }

    /// Whether one more request may start: enough time left and the invocation's request budget not spent.
    pub fn may_start(&self, remaining: Duration, requests_made: usize) -> bool {
        remaining >= self.min_attempt_time && requests_made < self.max_requests_per_invocation
    }
}

/// Why Persona answered 403 (design.md, "Errors"; the spec: "doesn't have permissions … or a quota has been
/// exceeded").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Forbidden {
    /// Our key lacks the permission (or the environment refuses it): the operator must fix the key.
    Key,
    /// A quota of the Persona account is used up: the operator must ask Persona to raise it.
    Quota,
}

/// What one attempt came back with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// A 2xx answer whose body was read.
    Success,
    /// No answer: timeout or connection error. The request may have been committed.
    Lost(UpstreamError),
    /// A 5xx; with Persona's `Request-Id` when Persona itself answered (and stored it under the key).
    ServerError { status: u16, request_id: Option<String> },
    /// 429, with `RateLimit-Reset` when Persona sent a usable one.
    RateLimited { reset: Option<Duration>, request_id: Option<String> },
    /// 401.
    Unauthorized { request_id: Option<String> },
    /// An answer that is never retried.
    Final(Final),
    /// The outcome of the secret re-read that [`Action::RereadKey`] asked for: whether another key is current.
    KeyReread { changed: bool },
}

/// Answers that end the call at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Final {
    /// 403, classified by what Persona said.
    Forbidden { reason: Forbidden, request_id: Option<String> },
    /// Any other status (4xx the service interprets, 3xx we never follow).
    Rejected { status: u16, request_id: Option<String>, reason: Option<crate::persona::error::PersonaReason> },
    /// The body was larger than the transport accepts.
    Oversized { status: u16, request_id: Option<String> },
}

impl Final {
    /// The failure this answer stands for.
    fn into_failure(self, operation: Operation) -> UpstreamError {
        match self {
            Self::Forbidden { reason: Forbidden::Key, request_id } => UpstreamError::Unauthorized { status: 403, request_id },
            Self::Forbidden { reason: Forbidden::Quota, request_id } => UpstreamError::Unavailable {
                detail: format!("{operation}: Persona refused the call because a quota of the account is used up (403); ask Persona support to raise it"),
                request_id,
            },
            Self::Oversized { status, request_id } => UpstreamError::Malformed {
                detail: format!("{operation}: the answer ({status}) is larger than the client accepts"),
                request_id,
            },
            Self::Rejected { status, request_id, reason } => UpstreamError::Rejected { status, request_id, reason },
        }
    }
}

/// Which idempotency key the next attempt sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Same,
    Next,
}

/// What the transport does next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Wait, then try again (with the same or the next idempotency key; GETs have none).
    Retry {
        key: Key,
        wait: Duration,
    },
    /// Re-read the API key from its secret, then report [`Attempt::KeyReread`].
    RereadKey,
    Succeed,
    GiveUp(UpstreamError),
}

/// The idempotency keys of a call (design.md's key table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    /// GETs.
    None,
    /// Fresh per invocation (resume, link): no earlier invocation can have stored an answer under them.
    PerInvocation,
    /// Deterministic (create without the guard): every invocation walks the same sequence, so answers stored by
    /// earlier invocations are replayed.
    Shared,
    /// One key of a create held in the guard's ledger: the ledger knows no earlier answer was stored under it, so a
    /// 5xx is fresh. A 5xx *answer* ends the call — the service records it (the ledger moves every later
    /// invocation to the next key at once) and backs off before it sends the next one.
    Ledger,
}

impl Keys {
    /// The keys `operation` sends, given whether it sends any and whether the create ledger drives them.
    pub fn of(operation: Operation, keyed: bool, ledger: bool) -> Self {
        match operation {
            _ if !keyed => Self::None,
            Operation::CreateInquiry if ledger => Self::Ledger,
            Operation::CreateInquiry => Self::Shared,
            _ => Self::PerInvocation,
        }
    }
}

/// The state of one logical call across its attempts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryState {
    operation: Operation,
    keys: Keys,
    /// Attempts that used up the call's allowance (stored 5xx answers on shared keys don't).
    attempts: u32,
    /// The secret was re-read after a 401 (at most once per call).
    reread_key: bool,
    /// The current key got a 5xx without `Request-Id` already.
    anonymous_5xx_on_key: bool,
    /// What to report when the budget runs out before the next attempt.
    last_failure: UpstreamError,
}

impl RetryState {
    pub fn new(operation: Operation, keys: Keys) -> Self {
        Self {
            operation,
            keys,
            attempts: 0,
            reread_key: false,
            anonymous_5xx_on_key: false,
            last_failure: UpstreamError::Timeout,
        }
    }

    /// The failure to report when no further attempt may start.
    pub fn last_failure(&self) -> &UpstreamError {
        &self.last_failure
    }
}

/// Clamps `RateLimit-Reset` into [`RATE_LIMIT_RESET_RANGE`]; one second when Persona sent none.
pub fn retry_after_seconds(reset: Option<Duration>) -> u64 {
    let (low, high) = (*RATE_LIMIT_RESET_RANGE.start(), *RATE_LIMIT_RESET_RANGE.end());
    reset.map_or(low, |reset| reset.as_secs().clamp(low, high))
}

/// The pure retry decision. `remaining` is the invocation's time left and `requests_made` the upstream requests
/// it made so far (this attempt included); `unit_random` in `0..=1` draws the jitter.
pub fn next(
    policy: &RetryPolicy,
    state: &mut RetryState,
    attempt: Attempt,
    remaining: Duration,
    requests_made: usize,
    unit_random: f64,
) -> Action {
    let operation = state.operation;
    let (failure, key, wait_at_least, counts) = match attempt {
        Attempt::Success => return Action::Succeed,
        Attempt::KeyReread { changed: true } => {
            let failure = state.last_failure.clone();
            return retry_if_budget(policy, failure, Key::Same, Duration::ZERO, remaining, requests_made);
        }
        Attempt::KeyReread { changed: false } => return Action::GiveUp(state.last_failure.clone()),
        Attempt::Unauthorized { request_id } => {
            state.attempts += 1;
            let failure = UpstreamError::Unauthorized { status: 401, request_id };
            if state.reread_key {
                return Action::GiveUp(failure);
            }
            state.reread_key = true;
            state.last_failure = failure;
            return Action::RereadKey;
        }
        Attempt::Final(answer) => return Action::GiveUp(answer.into_failure(operation)),
        Attempt::Lost(failure) => (failure, Key::Same, None, true),
        Attempt::RateLimited { reset, request_id } => {
            let failure = UpstreamError::RateLimited { retry_after_seconds: retry_after_seconds(reset), request_id };
            // Never wait longer than the clamp allows, whatever Persona said.
            let reset = reset.map(|r| r.min(Duration::from_secs(*RATE_LIMIT_RESET_RANGE.end())));
            (failure, Key::Same, Some(reset.unwrap_or(Duration::ZERO)), true)
        }
        Attempt::ServerError { status, request_id } => {
            let stored_by_persona = request_id.is_some();
            let failure =
                UpstreamError::Unavailable { detail: format!("{operation}: Persona answered {status}"), request_id };
            if state.keys == Keys::None {
                (failure, Key::Same, None, true)
            } else if stored_by_persona && state.keys == Keys::Ledger {
                // Stored under the key: the ledger must record it before anyone sends the next key.
                return Action::GiveUp(failure);
            } else if stored_by_persona && state.keys == Keys::Shared {
                // Possibly a replay: the next key, at once, without using up an attempt.
                state.anonymous_5xx_on_key = false;
                state.last_failure = failure.clone();
                return retry_if_budget(policy, failure, Key::Next, Duration::ZERO, remaining, requests_made);
            } else if state.keys == Keys::Ledger && state.anonymous_5xx_on_key {
                // Twice from in front of Persona: recorded like a stored answer, so the ledger moves the key.
                return Action::GiveUp(failure);
            } else if stored_by_persona || state.anonymous_5xx_on_key {
                state.anonymous_5xx_on_key = false;
                (failure, Key::Next, None, true)
            } else {
                state.anonymous_5xx_on_key = true;
                (failure, Key::Same, None, true)
            }
        }
    };
    if counts {
        state.attempts += 1;
    }
    state.last_failure = failure.clone();
    if state.attempts >= policy.max_attempts_per_call {
        return Action::GiveUp(failure);
    }
    let wait = match wait_at_least {
        // Every waiting invocation saw the same reset: spread them over one more window (full jitter) instead of
        // letting them all retry in the same instant and meet the next 429 together.
        Some(reset) if !reset.is_zero() => reset + reset.mul_f64(unit_random.clamp(0.0, 1.0)),
        _ => policy.backoff(state.attempts, unit_random),
    };
    retry_if_budget(policy, failure, key, wait, remaining, requests_made)
}

/// A retry when the wait and one more attempt fit in the time left and the request budget; else giving up.
fn retry_if_budget(
    policy: &RetryPolicy,
    failure: UpstreamError,
    key: Key,
    wait: Duration,
    remaining: Duration,
    requests_made: usize,
) -> Action {
    if wait + policy.min_attempt_time > remaining || requests_made >= policy.max_requests_per_invocation {
        return Action::GiveUp(failure);
    }
    Action::Retry { key, wait }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_exponentially_and_is_capped() {
        let policy = RetryPolicy::default();
        assert_eq!(policy.backoff(1, 1.0), Duration::from_millis(100));
        assert_eq!(policy.backoff(2, 1.0), Duration::from_millis(200));
        assert_eq!(policy.backoff(3, 1.0), Duration::from_millis(400));
        assert_eq!(policy.backoff(10, 1.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(40, 1.0), Duration::from_secs(2));
        assert_eq!(policy.backoff(3, 0.0), Duration::ZERO);
        assert_eq!(policy.backoff(3, 0.5), Duration::from_millis(200));
    }

    #[test]
    fn rate_limit_reset_is_clamped() {
        let table = [(None, 1), (Some(0), 1), (Some(1), 1), (Some(42), 42), (Some(3600), 3600), (Some(86_400), 3600)];
        for (reset, expected) in table {
            assert_eq!(retry_after_seconds(reset.map(Duration::from_secs)), expected, "{reset:?}");
        }
    }

    fn rid() -> Option<String> {
        Some("req_1".into())
    }

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    fn unavailable(status: u16, request_id: Option<String>) -> UpstreamError {
        UpstreamError::Unavailable { detail: format!("create-inquiry: Persona answered {status}"), request_id }
    }

    /// One row: the call's history so far, the attempt, the time left, the requests made; the expected action.
    struct Row {
        name: &'static str,
        keys: Keys,
        before: Vec<Attempt>,
        attempt: Attempt,
        remaining: Duration,
        requests_made: usize,
        expected: Action,
    }

    fn row(name: &'static str, keys: Keys, before: Vec<Attempt>, attempt: Attempt, expected: Action) -> Row {
        Row { name, keys, before, attempt, remaining: Duration::from_secs(10), requests_made: 1, expected }
    }

    /// The decision table. Jitter is drawn with `unit_random = 1.0`, so waits are the backoff ceilings
    /// (100 ms, 200 ms, 400 ms … of the default policy).
    #[test]
    fn retry_decision_table() {
        use Action::*;
        use Attempt as A;
        use Keys as K;
        let stored_500 = || A::ServerError { status: 500, request_id: rid() };
        let anonymous_502 = || A::ServerError { status: 502, request_id: None };
        let lost = || A::Lost(UpstreamError::Timeout);
        let retry = |key, wait| Retry { key, wait };
        let rows = vec![
            row("success", K::Shared, vec![], A::Success, Succeed),
            row("lost: same key after a backoff", K::Shared, vec![], lost(), retry(Key::Same, ms(100))),
            row("lost twice: a longer backoff", K::Shared, vec![lost()], lost(), retry(Key::Same, ms(200))),
            row("lost four times: attempts used up", K::Shared, vec![lost(), lost(), lost()], lost(), GiveUp(UpstreamError::Timeout)),
            row("stored 5xx: next key at once", K::Shared, vec![], stored_500(), retry(Key::Next, Duration::ZERO)),
            row(
                "stored 5xx never uses up the attempts (no lock-out)",
                K::Shared,
                vec![stored_500(), stored_500(), stored_500(), stored_500(), stored_500(), stored_500()],
                stored_500(),
                retry(Key::Next, Duration::ZERO),
            ),
            row(
                "stored 5xx after three lost answers still walks on",
                K::Shared,
                vec![lost(), lost(), lost()],
                stored_500(),
                retry(Key::Next, Duration::ZERO),
            ),
            row("ledger key, stored 5xx: the service records it", K::Ledger, vec![], stored_500(), GiveUp(unavailable(500, rid()))),
            row("ledger key, anonymous 5xx: same key once after a backoff", K::Ledger, vec![], anonymous_502(), retry(Key::Same, ms(100))),
            row("ledger key, anonymous 5xx twice: recorded", K::Ledger, vec![anonymous_502()], anonymous_502(), GiveUp(unavailable(502, None))),
            row("ledger key, lost: same key after a backoff", K::Ledger, vec![], lost(), retry(Key::Same, ms(100))),
            row(
                "ledger key, anonymous then stored 5xx: recorded",
                K::Ledger,
                vec![anonymous_502()],
                stored_500(),
                GiveUp(unavailable(500, rid())),
            ),
            row("a GET's 5xx is retried after a backoff", K::None, vec![], stored_500(), retry(Key::Same, ms(100))),
            row(
                "a GET's 5xx uses up its attempts",
                K::None,
                vec![stored_500(), stored_500(), stored_500()],
                stored_500(),
                GiveUp(unavailable(500, rid())),
            ),
            row("anonymous 5xx: same key once", K::Shared, vec![], anonymous_502(), retry(Key::Same, ms(100))),
            row(
                "stored 5xx on a per-invocation key: fresh, so the next key after a backoff",
                K::PerInvocation,
                vec![],
                stored_500(),
                retry(Key::Next, ms(100)),
            ),
            row(
                "stored 5xx on per-invocation keys uses up the attempts",
                K::PerInvocation,
                vec![stored_500(), stored_500(), stored_500()],
                stored_500(),
                GiveUp(unavailable(500, rid())),
            ),
            row(
                "anonymous 5xx on a per-invocation key: same key once",
                K::PerInvocation,
                vec![],
                anonymous_502(),
                retry(Key::Same, ms(100)),
            ),
            row("anonymous 5xx twice: next key", K::Shared, vec![anonymous_502()], anonymous_502(), retry(Key::Next, ms(200))),
            row(
                "anonymous 5xx after a key move: same key again",
                K::Shared,
                vec![anonymous_502(), anonymous_502()],
                anonymous_502(),
                retry(Key::Same, ms(400)),
            ),
            row(
                "anonymous 5xx after a stored one: same key once",
                K::Shared,
                vec![stored_500()],
                anonymous_502(),
                retry(Key::Same, ms(100)),
            ),
            row(
                "anonymous 5xx uses up attempts",
                K::Shared,
                vec![anonymous_502(), anonymous_502(), anonymous_502()],
                anonymous_502(),
                GiveUp(unavailable(502, None)),
            ),
            row(
                "429 with a short reset: waited out, spread over one more window (unit_random = 1: its end)",
                K::None,
                vec![],
                A::RateLimited { reset: Some(Duration::from_secs(1)), request_id: rid() },
                retry(Key::Same, ms(2000)),
            ),
            row(
                "429 without a reset: the usual backoff",
                K::Shared,
                vec![],
                A::RateLimited { reset: None, request_id: rid() },
                retry(Key::Same, ms(100)),
            ),
            row(
                "429 with a reset past the deadline: given up with it",
                K::None,
                vec![],
                A::RateLimited { reset: Some(Duration::from_secs(42)), request_id: rid() },
                GiveUp(UpstreamError::RateLimited { retry_after_seconds: 42, request_id: rid() }),
            ),
            row(
                "429 with an absurd reset: clamped to an hour",
                K::None,
                vec![],
                A::RateLimited { reset: Some(Duration::from_secs(10_000_000)), request_id: rid() },
                GiveUp(UpstreamError::RateLimited { retry_after_seconds: 3600, request_id: rid() }),
            ),
            row("401: re-read the key", K::None, vec![], A::Unauthorized { request_id: None }, RereadKey),
            row(
                "401, key changed: retry at once",
                K::None,
                vec![A::Unauthorized { request_id: None }],
                A::KeyReread { changed: true },
                retry(Key::Same, Duration::ZERO),
            ),
            row(
                "401, key unchanged: auth failed",
                K::None,
                vec![A::Unauthorized { request_id: None }],
                A::KeyReread { changed: false },
                GiveUp(UpstreamError::Unauthorized { status: 401, request_id: None }),
            ),
            row(
                "401 after a re-read: auth failed",
                K::None,
                vec![A::Unauthorized { request_id: None }, A::KeyReread { changed: true }],
                A::Unauthorized { request_id: rid() },
                GiveUp(UpstreamError::Unauthorized { status: 401, request_id: rid() }),
            ),
            row(
                "403 for our key: auth failed",
                K::Shared,
                vec![],
                A::Final(Final::Forbidden { reason: Forbidden::Key, request_id: rid() }),
                GiveUp(UpstreamError::Unauthorized { status: 403, request_id: rid() }),
            ),
            row(
                "403 for a quota: a Persona error naming the quota",
                K::Shared,
                vec![],
                A::Final(Final::Forbidden { reason: Forbidden::Quota, request_id: rid() }),
                GiveUp(UpstreamError::Unavailable {
                    detail: "create-inquiry: Persona refused the call because a quota of the account is used up (403); ask Persona support to raise it".into(),
                    request_id: rid(),
                }),
            ),
            row(
                "other 4xx: given to the service",
                K::Shared,
                vec![],
                A::Final(Final::Rejected { status: 404, request_id: rid(), reason: None }),
                GiveUp(UpstreamError::Rejected { status: 404, request_id: rid(), reason: None }),
            ),
            row(
                "oversized body: malformed",
                K::None,
                vec![],
                A::Final(Final::Oversized { status: 200, request_id: rid() }),
                GiveUp(UpstreamError::Malformed {
                    detail: "create-inquiry: the answer (200) is larger than the client accepts".into(),
                    request_id: rid(),
                }),
            ),
            Row { remaining: ms(120), ..row("lost: the backoff does not fit", K::Shared, vec![], lost(), GiveUp(UpstreamError::Timeout)) },
            Row { remaining: ms(40), ..row("stored 5xx: no time for another key", K::Shared, vec![], stored_500(), GiveUp(unavailable(500, rid()))) },
            Row {
                requests_made: 8,
                ..row("stored 5xx: the request budget is spent", K::Shared, vec![], stored_500(), GiveUp(unavailable(500, rid())))
            },
            Row { requests_made: 8, ..row("lost: the request budget is spent", K::Shared, vec![], lost(), GiveUp(UpstreamError::Timeout)) },
        ];
        let policy = RetryPolicy::default();
        for Row { name, keys, before, attempt, remaining, requests_made, expected } in rows {
            let mut state = RetryState::new(Operation::CreateInquiry, keys);
            for earlier in before {
                let _ = next(&policy, &mut state, earlier, Duration::from_secs(10), 1, 1.0);
            }
            assert_eq!(next(&policy, &mut state, attempt, remaining, requests_made, 1.0), expected, "{name}");
        }
    }

    #[test]
    fn which_keys_an_operation_sends() {
        assert_eq!(Keys::of(Operation::GetInquiry, false, false), Keys::None);
        assert_eq!(Keys::of(Operation::CreateInquiry, true, false), Keys::Shared);
        assert_eq!(Keys::of(Operation::CreateInquiry, true, true), Keys::Ledger);
        assert_eq!(Keys::of(Operation::Expire, true, false), Keys::PerInvocation);
        assert_eq!(Keys::of(Operation::Resume, true, false), Keys::PerInvocation);
        assert_eq!(Keys::of(Operation::GenerateOneTimeLink, true, false), Keys::PerInvocation);
    }

    #[test]
    fn the_budget_check_before_an_attempt() {
        let policy = RetryPolicy::default();
        assert!(policy.may_start(ms(50), 7));
        assert!(!policy.may_start(ms(49), 0));
        assert!(!policy.may_start(Duration::from_secs(5), 8), "the cap: 8 calls per invocation");
    }

    #[test]
    fn waits_after_a_429_spread_over_one_more_window() {
        let policy = RetryPolicy::default();
        let reset = Some(Duration::from_secs(2));
        let waits: Vec<_> = [0.0, 0.25, 0.5, 1.0]
            .into_iter()
            .map(|unit_random| {
                let mut state = RetryState::new(Operation::GetInquiry, Keys::None);
                let attempt = Attempt::RateLimited { reset, request_id: None };
                match next(&policy, &mut state, attempt, Duration::from_secs(20), 1, unit_random) {
                    Action::Retry { wait, .. } => wait,
                    other => panic!("expected a retry, got {other:?}"),
                }
            })
            .collect();
        assert_eq!(waits, [ms(2000), ms(2500), ms(3000), ms(4000)]);
    }
}
