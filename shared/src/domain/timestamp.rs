//! Persona's timestamps (`created-at`, …): ISO-8601 / RFC 3339 with a `Z` or a numeric offset, optionally with
//! fractional seconds. Parsed once into milliseconds since the epoch so "newer" is a number comparison, never a
//! string comparison that a different offset or precision would break.

use std::fmt;

/// A point in time, milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    #[cfg(any(test, feature = "testing"))]
    pub fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    #[cfg(any(test, feature = "testing"))]
    pub fn as_millis(self) -> i64 {
        self.0
    }

    /// `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±HH:MM)`; `t`/`z` and a space separator are accepted too. Anything else
    /// (including out-of-range fields) is `None`: an inquiry without a readable `created-at` is never "newer".
    pub fn parse_rfc3339(text: &str) -> Option<Self> {
        let bytes = text.as_bytes();
        if bytes.len() < 20 || !text.is_ascii() {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> Option<i64> {
            let part = &text[range];
            part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
        };
        let separators_ok = bytes[4] == b'-'
            && bytes[7] == b'-'
            && matches!(bytes[10], b'T' | b't' | b' ')
            && bytes[13] == b':'
            && bytes[16] == b':';
        if !separators_ok {
            return None;
        }
        let (year, month, day) = (number(0..4)?, number(5..7)?, number(8..10)?);
        let (hour, minute, second) = (number(11..13)?, number(14..16)?, number(17..19)?);
        if !(1..=12).contains(&month)
            || day < 1
            || day > days_in_month(year, month)
            || hour > 23
            || minute > 59
            || second > 60
        {
            return None;
        }
        let mut rest = &text[19..];
        let mut millis = 0;
        if let Some(fraction) = rest.strip_prefix('.') {
            let digits = fraction.bytes().take_while(u8::is_ascii_digit).count();
            if digits == 0 {
                return None;
            }
            let padded = format!("{:0<3}", &fraction[..digits.min(3)]);
            millis = padded.parse::<i64>().ok()?;
            rest = &fraction[digits..];
        }
        let offset_minutes = match rest {
            "Z" | "z" => 0,
            _ if rest.len() == 6 && matches!(rest.as_bytes()[0], b'+' | b'-') && rest.as_bytes()[3] == b':' => {
                let (hours, minutes) = (number_in(rest, 1..3)?, number_in(rest, 4..6)?);
                if hours > 23 || minutes > 59 {
                    return None;
                }
                let sign = if rest.starts_with('-') { -1 } else { 1 };
                sign * (hours * 60 + minutes)
            }
            _ => return None,
        };
        let days = days_from_civil(year, month, day);
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offset_minutes * 60;
        Some(Self(seconds * 1000 + millis))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}ms", self.0)
    }
}

fn number_in(text: &str, range: std::ops::Range<usize>) -> Option<i64> {
    let part = text.get(range)?;
    part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok()).flatten()
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = if year >= 0 { year } else { year - 399 } / 400;
    let year_of_era = year - era * 400;
    let month_from_march = (month + 9) % 12;
    let day_of_year = (153 * month_from_march + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn persona_timestamps_parse_to_epoch_milliseconds() {
        let table = [
            ("1970-01-01T00:00:00Z", Some(0)),
            ("1970-01-01T00:00:00.000Z", Some(0)),
            ("2023-01-05T12:34:56.789Z", Some(1_672_922_096_789)),
            ("2023-01-05T12:34:56.7Z", Some(1_672_922_096_700)),
            ("2023-01-05T12:34:56.789123Z", Some(1_672_922_096_789)),
            ("2023-01-05T13:34:56.789+01:00", Some(1_672_922_096_789)),
            ("2023-01-05T07:34:56.789-05:00", Some(1_672_922_096_789)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800_000)),
            ("2023-01-05 12:34:56Z", Some(1_672_922_096_000)),
            ("2023-02-29T00:00:00Z", None),
            ("2023-13-01T00:00:00Z", None),
            ("2023-01-05T24:00:00Z", None),
            ("2023-01-05T12:34:56", None),
            ("2023-01-05T12:34:56.Z", None),
            ("2023-01-05T12:34:56+0100", None),
            ("2023-01-05", None),
            ("", None),
            ("yesterday at noon, roughly", None),
            ("2023-01-05T12:34:56.789Zé", None),
        ];
        for (text, expected) in table {
            assert_eq!(Timestamp::parse_rfc3339(text).map(Timestamp::as_millis), expected, "{text}");
        }
    }

    #[test]
    fn offsets_and_precision_never_change_the_order() {
        let earlier = Timestamp::parse_rfc3339("2026-03-01T10:00:00.999+02:00").unwrap();
        let later = Timestamp::parse_rfc3339("2026-03-01T08:00:01Z").unwrap();
        assert!(earlier < later);
    }
}
