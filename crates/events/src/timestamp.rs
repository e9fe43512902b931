//! Event timestamps and their EVE text form, `2026-11-23T18:52:00.123456+0000`.
//!
//! Formatting is total: every `(secs, nanos)` pair prints, without panicking, overflowing or
//! allocating, and the calendar arithmetic (proleptic Gregorian, UTC) is done here rather than
//! pulled in from a date crate. Parsing never trusts its input: every field is range-checked and
//! a time outside what a [`Timestamp`] holds is refused with a [`TimestampError`].
//!
//! Suricata prints the sensor's local offset; Rampart always prints UTC with `+0000`, which
//! every EVE consumer accepts. Parsing accepts any offset (`+hhmm`, `+hh:mm`, `Z`) and converts
//! to UTC.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: u32 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;

/// A point in time as seconds and nanoseconds since 1970-01-01T00:00:00Z.
///
/// `nanos` is always below 1 000 000 000; a time before the epoch has a negative `secs` and a
/// positive `nanos` (−0.25 s is `secs: -1, nanos: 750_000_000`), as in `struct timespec`.
/// [`Display`](fmt::Display) and [`Serialize`] write the EVE form, which has microsecond
/// precision: the sub-microsecond digits are truncated, not rounded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    secs: i64,
    nanos: u32,
}

impl Timestamp {
    /// The Unix epoch, 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp { secs: 0, nanos: 0 };

    /// A timestamp from seconds and nanoseconds since the epoch; nanoseconds of a second or more
    /// carry into `secs` (saturating at `i64::MAX`).
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs: secs.saturating_add((nanos / NANOS_PER_SEC) as i64),
            nanos: nanos % NANOS_PER_SEC,
        }
    }

    /// The current wall-clock time.
    pub fn now() -> Self {
        Timestamp::from(SystemTime::now())
    }

    /// Whole seconds since the epoch (negative before it).
    pub const fn secs(&self) -> i64 {
        self.secs
    }

    /// Nanoseconds within the second, below 1 000 000 000.
    pub const fn nanos(&self) -> u32 {
        self.nanos
    }

    /// The date and time of day in UTC.
    pub fn to_utc(&self) -> UtcDateTime {
        let days = self.secs.div_euclid(SECS_PER_DAY);
        let secs_of_day = self.secs.rem_euclid(SECS_PER_DAY);
        let (year, month, day) = civil_from_days(days);
        UtcDateTime {
            year,
            month,
            day,
            hour: (secs_of_day / 3600) as u8,
            minute: (secs_of_day % 3600 / 60) as u8,
            second: (secs_of_day % 60) as u8,
            nanos: self.nanos,
        }
    }

    /// Parses the EVE form: `YYYY-MM-DDTHH:MM:SS[.fraction](Z|±hhmm|±hh:mm)`.
    ///
    /// The fraction may have 1 to 9 digits; the year may have a leading `-` and more than four
    /// digits (as [`Display`](fmt::Display) writes for years outside 0000–9999). Leap seconds
    /// (`:60`) are refused: Rampart never writes them.
    pub fn parse_eve(text: &str) -> Result<Self, TimestampError> {
        Parser::new(text).timestamp()
    }
}

impl From<SystemTime> for Timestamp {
    fn from(time: SystemTime) -> Self {
        match time.duration_since(UNIX_EPOCH) {
            Ok(after) => Timestamp::new(
                i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
                after.subsec_nanos(),
            ),
            Err(before) => {
                let before = before.duration();
                let secs = i64::try_from(before.as_secs()).unwrap_or(i64::MAX);
                match before.subsec_nanos() {
                    0 => Timestamp::new(secs.saturating_neg(), 0),
                    n => Timestamp::new(secs.saturating_neg().saturating_sub(1), NANOS_PER_SEC - n),
                }
            }
        }
    }
}

impl fmt::Display for Timestamp {
    /// Writes `YYYY-MM-DDTHH:MM:SS.ffffff+0000` (microseconds, truncated).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.to_utc();
        if t.year < 0 {
            // ISO 8601 expanded form: a sign, then at least four digits.
            write!(f, "-{:04}", t.year.unsigned_abs())?;
        } else {
            write!(f, "{:04}", t.year)?;
        }
        write!(
            f,
            "-{:02}-{:02}T{:02}:{:02}:{:02}.{:06}+0000",
            t.month,
            t.day,
            t.hour,
            t.minute,
            t.second,
            t.nanos / 1000
        )
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // `collect_str` streams the Display output into the writer without a String.
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = Timestamp;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an EVE timestamp such as \"2026-11-23T18:52:00.123456+0000\"")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Timestamp, E> {
                Timestamp::parse_eve(v).map_err(E::custom)
            }
        }
        deserializer.deserialize_str(Visitor)
    }
}

/// A [`Timestamp`] broken down into its UTC calendar date and time of day.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UtcDateTime {
    /// The proleptic Gregorian year (year 0 is 1 BC, −1 is 2 BC).
    pub year: i64,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 59.
    pub second: u8,
    /// Nanoseconds within the second.
    pub nanos: u32,
}

/// Why text is not an EVE timestamp. `at` is the byte offset in the text where the problem is.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TimestampError {
    /// A character other than the one the format needs there, or the text ended early.
    #[error("timestamp: expected {expected} at byte {at}")]
    Syntax {
        /// What the format needs at `at`.
        expected: &'static str,
        /// Byte offset in the text.
        at: usize,
    },
    /// A field is out of its range (month 13, February 30, hour 24, offset +2500, …).
    #[error("timestamp: {field} {value} out of range")]
    Range {
        /// The field's name.
        field: &'static str,
        /// The value given.
        value: i64,
    },
    /// The date is too far from 1970 for a [`Timestamp`] to hold.
    #[error("timestamp: year {year} is beyond what a 64-bit seconds count holds")]
    Overflow {
        /// The year given.
        year: i64,
    },
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian.
///
/// Howard Hinnant's `civil_from_days`: shift the epoch to 0000-03-01 so the leap day ends each
/// 400-year era's years, then split days into era, year of era, and day of year. Total for every
/// `i64` that comes from `secs.div_euclid(86_400)` (at most about ±1.1e14, far from overflow).
fn civil_from_days(days: i64) -> (i64, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097); // [0, 146096]
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365; // [0, 399]
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100); // [0, 365]
    let month_from_march = (5 * day_of_year + 2) / 153; // [0, 11]
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1; // [1, 31]
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month as u8, day as u8)
}

/// (year, month, day) to days since 1970-01-01; the inverse of [`civil_from_days`]. `i128` so
/// that no year the parser accepts can overflow.
fn days_from_civil(year: i128, month: u8, day: u8) -> i128 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i128::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i128::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

fn is_leap(year: i64) -> bool {
    year.rem_euclid(4) == 0 && (year.rem_euclid(100) != 0 || year.rem_euclid(400) == 0)
}

fn days_in_month(year: i64, month: u8) -> u8 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// A cursor over timestamp text; every read is bounds-checked.
struct Parser<'t> {
    bytes: &'t [u8],
    at: usize,
}

impl<'t> Parser<'t> {
    fn new(text: &'t str) -> Self {
        Parser {
            bytes: text.as_bytes(),
            at: 0,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.at).copied()
    }

    fn expect(&mut self, byte: u8, expected: &'static str) -> Result<(), TimestampError> {
        if self.peek() == Some(byte) {
            self.at += 1;
            Ok(())
        } else {
            Err(self.syntax(expected))
        }
    }

    fn syntax(&self, expected: &'static str) -> TimestampError {
        TimestampError::Syntax {
            expected,
            at: self.at,
        }
    }

    /// Exactly `n` ASCII digits as a number (n ≤ 2 here, so no overflow).
    fn fixed(&mut self, n: usize, expected: &'static str) -> Result<u8, TimestampError> {
        let mut value: u8 = 0;
        for _ in 0..n {
            match self.peek() {
                Some(b @ b'0'..=b'9') => {
                    value = value * 10 + (b - b'0');
                    self.at += 1;
                }
                _ => return Err(self.syntax(expected)),
            }
        }
        Ok(value)
    }

    fn ranged(
        &mut self,
        field: &'static str,
        max: u8,
        expected: &'static str,
    ) -> Result<u8, TimestampError> {
        let value = self.fixed(2, expected)?;
        if value > max {
            return Err(TimestampError::Range {
                field,
                value: i64::from(value),
            });
        }
        Ok(value)
    }

    /// An optional `-`, then at least four digits.
    fn year(&mut self) -> Result<i64, TimestampError> {
        let negative = self.peek() == Some(b'-');
        if negative {
            self.at += 1;
        }
        let start = self.at;
        let mut year: i64 = 0;
        while let Some(b @ b'0'..=b'9') = self.peek() {
            // A year past ~2.9e11 cannot fit in a Timestamp anyway; stop before i64 overflows.
            year = year
                .checked_mul(10)
                .and_then(|y| y.checked_add(i64::from(b - b'0')))
                .ok_or(TimestampError::Overflow { year: i64::MAX })?;
            self.at += 1;
        }
        if self.at - start < 4 {
            return Err(self.syntax("a year of at least four digits"));
        }
        Ok(if negative { -year } else { year })
    }

    fn timestamp(&mut self) -> Result<Timestamp, TimestampError> {
        let year = self.year()?;
        self.expect(b'-', "'-' after the year")?;
        let month = self.fixed(2, "a two-digit month")?;
        if !(1..=12).contains(&month) {
            return Err(TimestampError::Range {
                field: "month",
                value: i64::from(month),
            });
        }
        self.expect(b'-', "'-' after the month")?;
        let day = self.fixed(2, "a two-digit day")?;
        if day == 0 || day > days_in_month(year, month) {
            return Err(TimestampError::Range {
                field: "day",
                value: i64::from(day),
            });
        }
        self.expect(b'T', "'T' between date and time")?;
        let hour = self.ranged("hour", 23, "a two-digit hour")?;
        self.expect(b':', "':' after the hour")?;
        let minute = self.ranged("minute", 59, "two-digit minutes")?;
        self.expect(b':', "':' after the minutes")?;
        let second = self.ranged("second", 59, "two-digit seconds")?;

        let mut nanos: u32 = 0;
        if self.peek() == Some(b'.') {
            self.at += 1;
            let start = self.at;
            let mut scale = NANOS_PER_SEC;
            while let Some(b @ b'0'..=b'9') = self.peek() {
                if self.at - start == 9 {
                    return Err(self.syntax("at most nine fractional digits"));
                }
                scale /= 10;
                nanos += u32::from(b - b'0') * scale;
                self.at += 1;
            }
            if self.at == start {
                return Err(self.syntax("a digit after '.'"));
            }
        }

        let offset_secs = self.offset()?;
        if self.at != self.bytes.len() {
            return Err(self.syntax("the end after the offset"));
        }

        let days = days_from_civil(i128::from(year), month, day);
        let secs = days * i128::from(SECS_PER_DAY)
            + i128::from(hour) * 3600
            + i128::from(minute) * 60
            + i128::from(second)
            - i128::from(offset_secs);
        let secs = i64::try_from(secs).map_err(|_| TimestampError::Overflow { year })?;
        Ok(Timestamp::new(secs, nanos))
    }

    /// `Z`, `±hhmm` or `±hh:mm`, as seconds east of UTC.
    fn offset(&mut self) -> Result<i32, TimestampError> {
        let sign = match self.peek() {
            Some(b'Z') => {
                self.at += 1;
                return Ok(0);
            }
            Some(b'+') => 1,
            Some(b'-') => -1,
            _ => return Err(self.syntax("a UTC offset ('Z', '+hhmm' or '-hhmm')")),
        };
        self.at += 1;
        let hours = self.ranged("offset hours", 23, "two-digit offset hours")?;
        if self.peek() == Some(b':') {
            self.at += 1;
        }
        let minutes = self.ranged("offset minutes", 59, "two-digit offset minutes")?;
        Ok(sign * (i32::from(hours) * 3600 + i32::from(minutes) * 60))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eve(secs: i64, nanos: u32) -> String {
        Timestamp::new(secs, nanos).to_string()
    }

    #[test]
    fn formats_known_dates() {
        assert_eq!(eve(0, 0), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(
            eve(1_795_459_920, 123_456_789),
            "2026-11-23T18:52:00.123456+0000"
        );
        assert_eq!(
            eve(978_307_199, 999_999_000),
            "2000-12-31T23:59:59.999999+0000"
        );
    }

    #[test]
    fn formats_leap_years() {
        // 2000 is a leap year (divisible by 400), 2100 and 1900 are not, 2024 is.
        assert_eq!(eve(951_782_400, 0), "2000-02-29T00:00:00.000000+0000");
        assert_eq!(eve(951_782_400 - 1, 0), "2000-02-28T23:59:59.000000+0000");
        assert_eq!(eve(4_107_542_400, 0), "2100-03-01T00:00:00.000000+0000");
        assert_eq!(eve(4_107_542_400 - 1, 0), "2100-02-28T23:59:59.000000+0000");
        assert_eq!(eve(-2_203_891_200, 0), "1900-03-01T00:00:00.000000+0000");
        assert_eq!(
            eve(-2_203_891_200 - 1, 0),
            "1900-02-28T23:59:59.000000+0000"
        );
        assert_eq!(eve(1_709_251_199, 0), "2024-02-29T23:59:59.000000+0000");
        assert_eq!(eve(-11_670_955_200, 0), "1600-02-29T12:00:00.000000+0000");
    }

    #[test]
    fn formats_before_the_epoch() {
        assert_eq!(eve(-1, 999_999_999), "1969-12-31T23:59:59.999999+0000");
        assert_eq!(eve(-2_208_988_800, 0), "1900-01-01T00:00:00.000000+0000");
        // 0000-01-01 and the year before it.
        assert_eq!(eve(-62_167_219_200, 0), "0000-01-01T00:00:00.000000+0000");
        assert_eq!(eve(-62_167_219_201, 0), "-0001-12-31T23:59:59.000000+0000");
    }

    #[test]
    fn truncates_to_microseconds_and_carries_nanos() {
        assert_eq!(eve(0, 999), "1970-01-01T00:00:00.000000+0000");
        assert_eq!(eve(0, 1_000), "1970-01-01T00:00:00.000001+0000");
        assert_eq!(eve(0, 1_500_000_000), "1970-01-01T00:00:01.500000+0000");
        assert_eq!(Timestamp::new(i64::MAX, u32::MAX).secs(), i64::MAX);
    }

    #[test]
    fn extremes_format_and_parse_back() {
        for secs in [i64::MIN, i64::MIN + 1, i64::MAX, i64::MAX - 86_399] {
            let ts = Timestamp::new(secs, 123_456_000);
            let text = ts.to_string();
            assert_eq!(Timestamp::parse_eve(&text), Ok(ts), "{text}");
        }
        assert_eq!(eve(i64::MAX, 0), "292277026596-12-04T15:30:07.000000+0000");
    }

    #[test]
    fn every_day_over_four_centuries_round_trips() {
        // 1900-01-01 to 2300-01-01 covers all three leap-year rules twice.
        let mut day = -25_567;
        let mut last = (1899, 12, 31);
        while day < 120_526 {
            let (y, m, d) = civil_from_days(day);
            assert_eq!(days_from_civil(i128::from(y), m, d), i128::from(day));
            let next_expected = if last.2 == days_in_month(last.0, last.1) {
                if last.1 == 12 {
                    (last.0 + 1, 1, 1)
                } else {
                    (last.0, last.1 + 1, 1)
                }
            } else {
                (last.0, last.1, last.2 + 1)
            };
            assert_eq!((y, m, d), next_expected);
            last = (y, m, d);
            day += 1;
        }
    }

    #[test]
    fn parses_offsets_and_fractions() {
        let base = Timestamp::new(1_795_459_920, 123_456_000);
        for text in [
            "2026-11-23T18:52:00.123456+0000",
            "2026-11-23T18:52:00.123456Z",
            "2026-11-23T19:52:00.123456+0100",
            "2026-11-23T13:22:00.123456-05:30",
            "2026-11-23T18:52:00.123456000+00:00",
        ] {
            assert_eq!(Timestamp::parse_eve(text), Ok(base), "{text}");
        }
        assert_eq!(
            Timestamp::parse_eve("2026-11-23T18:52:00+0000"),
            Ok(Timestamp::new(1_795_459_920, 0))
        );
        assert_eq!(
            Timestamp::parse_eve("1970-01-01T00:00:00.5Z"),
            Ok(Timestamp::new(0, 500_000_000))
        );
    }

    #[test]
    fn refuses_malformed_text() {
        let cases = [
            ("", 0),
            ("2026", 4),
            ("26-11-23T18:52:00Z", 2),
            ("2026-13-23T18:52:00Z", 0),
            ("2025-02-29T00:00:00Z", 0),
            ("2100-02-29T00:00:00Z", 0),
            ("2026-11-23 18:52:00Z", 10),
            ("2026-11-23T24:00:00Z", 0),
            ("2026-11-23T23:60:00Z", 0),
            ("2026-11-23T23:59:60Z", 0),
            ("2026-11-23T23:59:59.Z", 20),
            ("2026-11-23T23:59:59.1234567890Z", 29),
            ("2026-11-23T23:59:59", 19),
            ("2026-11-23T23:59:59+2400", 0),
            ("2026-11-23T23:59:59+0000x", 24),
            ("2026-11-23T23:59:59+0\u{e9}00", 21),
            ("99999999999999999999-01-01T00:00:00Z", 0),
            ("300000000000-01-01T00:00:00Z", 0),
        ];
        for (text, at) in cases {
            let err = Timestamp::parse_eve(text).unwrap_err();
            if let TimestampError::Syntax { at: got, .. } = err {
                assert_eq!(got, at, "{text}: {err}");
            }
        }
        assert!(matches!(
            Timestamp::parse_eve("2025-02-29T00:00:00Z"),
            Err(TimestampError::Range {
                field: "day",
                value: 29
            })
        ));
        assert!(matches!(
            Timestamp::parse_eve("300000000000-01-01T00:00:00Z"),
            Err(TimestampError::Overflow { .. })
        ));
    }

    #[test]
    fn converts_system_time() {
        use std::time::Duration;
        let after = UNIX_EPOCH + Duration::new(1_795_459_920, 5);
        assert_eq!(Timestamp::from(after), Timestamp::new(1_795_459_920, 5));
        let before = UNIX_EPOCH - Duration::new(0, 250_000_000);
        assert_eq!(Timestamp::from(before), Timestamp::new(-1, 750_000_000));
        let before_whole = UNIX_EPOCH - Duration::new(3, 0);
        assert_eq!(Timestamp::from(before_whole), Timestamp::new(-3, 0));
        assert!(Timestamp::now() > Timestamp::new(1_700_000_000, 0));
    }

    #[test]
    fn serializes_as_a_json_string() {
        let ts = Timestamp::new(1_795_459_920, 123_456_000);
        let json = serde_json::to_string(&ts).unwrap();
        assert_eq!(json, "\"2026-11-23T18:52:00.123456+0000\"");
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), ts);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
        assert!(serde_json::from_str::<Timestamp>("12").is_err());
    }
}
