//! Wall-clock time as the guard stores it: absolute epoch times, because every container (and DynamoDB's
//! conditions) must agree on them; an `Instant` means nothing outside its process.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch (UTC).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct UnixMillis(pub u64);

impl UnixMillis {
    /// The system clock; a clock before 1970 reads as the epoch (it never happens on Lambda, and the guard
    /// must not panic on it).
    pub fn now() -> Self {
        let since_epoch = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        Self(u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX))
    }

    /// Whole seconds (DynamoDB's TTL attribute is in seconds).
    pub fn seconds(self) -> u64 {
        self.0 / 1000
    }

    pub fn plus(self, duration: Duration) -> Self {
        Self(self.0.saturating_add(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)))
    }

    /// How long from `self` until `later`; zero when `later` is not later.
    pub fn until(self, later: Self) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_and_rounds_down_to_seconds() {
        let t = UnixMillis(1_796_121_075_250);
        assert_eq!(t.seconds(), 1_796_121_075);
        assert_eq!(t.plus(Duration::from_millis(750)), UnixMillis(1_796_121_076_000));
        assert_eq!(UnixMillis(u64::MAX - 1).plus(Duration::from_secs(5)), UnixMillis(u64::MAX));
        assert_eq!(t.until(UnixMillis(t.0 + 1_500)), Duration::from_millis(1_500));
        assert_eq!(t.until(UnixMillis(t.0 - 1)), Duration::ZERO);
        assert!(UnixMillis::now().0 > 1_600_000_000_000, "the clock reads milliseconds, not seconds");
    }
}
