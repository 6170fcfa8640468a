//! When and how long to wait before trying Persona again: exponential backoff with full jitter, bounded per call
//! and per invocation, always inside the invocation's deadline.

use std::time::Duration;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts of one logical call (first try included).
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
            max_requests_per_invocation: 12,
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
}
