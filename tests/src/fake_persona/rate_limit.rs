//! A fixed-window rate limiter shared by all keys (Persona limits per environment), with the
//! `RateLimit-*` numbers every authenticated answer carries.

use std::time::{Duration, Instant};

use super::model::RateLimitSettings;

/// The numbers for the `RateLimit-*` headers, and whether the request may pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Whole seconds until the window resets (rounded up).
    pub reset_secs: u64,
}

#[derive(Debug)]
pub struct RateLimiter {
    window_start: Instant,
    count: u32,
}

impl Default for RateLimiter {
    fn default() -> Self {
        RateLimiter { window_start: Instant::now(), count: 0 }
    }
}

impl RateLimiter {
    /// Counts one request. It is refused when the limiter is enabled and the window's budget is spent.
    pub fn check(&mut self, settings: &RateLimitSettings, now: Instant) -> RateDecision {
        let window = Duration::from_millis(settings.window_ms.max(1));
        if now.duration_since(self.window_start) >= window {
            let windows_passed = now.duration_since(self.window_start).as_millis() / window.as_millis();
            let advance = u32::try_from(windows_passed).unwrap_or(u32::MAX);
            self.window_start += window.saturating_mul(advance);
            self.count = 0;
        }
        self.count = self.count.saturating_add(1);
        let allowed = !settings.enabled || self.count <= settings.limit;
        let remaining = settings.limit.saturating_sub(self.count);
        let until_reset = window.saturating_sub(now.duration_since(self.window_start));
        let reset_secs = until_reset.as_millis().div_ceil(1000).max(1);
        RateDecision {
            allowed,
            limit: settings.limit,
            remaining,
            reset_secs: u64::try_from(reset_secs).unwrap_or(u64::MAX),
        }
    }

    /// Starts a fresh window (settings changed, or reset).
    pub fn restart(&mut self) {
        *self = RateLimiter::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_over_budget_and_resets_with_the_window() {
        let settings = RateLimitSettings { enabled: true, limit: 2, window_ms: 2_000 };
        let mut limiter = RateLimiter::default();
        let t0 = limiter.window_start;
        assert!(limiter.check(&settings, t0).allowed);
        let second = limiter.check(&settings, t0 + Duration::from_millis(500));
        assert!(second.allowed);
        assert_eq!(second.remaining, 0);
        assert_eq!(second.reset_secs, 2);
        let third = limiter.check(&settings, t0 + Duration::from_millis(1_200));
        assert!(!third.allowed);
        assert_eq!(third.reset_secs, 1);
        assert!(limiter.check(&settings, t0 + Duration::from_millis(2_100)).allowed);
    }

    #[test]
    fn counts_but_never_refuses_when_disabled() {
        let settings = RateLimitSettings { enabled: false, limit: 1, window_ms: 60_000 };
        let mut limiter = RateLimiter::default();
        let now = Instant::now();
        assert!(limiter.check(&settings, now).allowed);
        let d = limiter.check(&settings, now);
        assert!(d.allowed);
        assert_eq!(d.remaining, 0);
    }
}
