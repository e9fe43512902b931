//! Capture timestamps and the pcapng `if_tsresol` resolutions they are stored in.
//!
//! Conversions here are total: they never panic and never overflow, whatever resolution or tick
//! count a file claims; a value that cannot be represented saturates (reading) or is refused with
//! `None` (writing).

use std::fmt;

const NANOS_PER_SEC: u32 = 1_000_000_000;

/// 10^0 ..= 10^19, every power of ten a `u64` holds.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// The time a packet was captured, as seconds and nanoseconds since the Unix epoch (UTC).
///
/// `nanos` is always below 1 000 000 000 in values made by this crate; a negative time has a
/// negative `secs` and a positive `nanos` (−0.25 s is `secs: -1, nanos: 750_000_000`), as in
/// `struct timespec`. [`Display`](fmt::Display) prints microseconds like `tcpdump -tt`; use
/// [`Timestamp::fmt_nanos`] for the full precision.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds since 1970-01-01T00:00:00Z.
    pub secs: i64,
    /// Nanoseconds within the second, below 1 000 000 000.
    pub nanos: u32,
}

impl Timestamp {
    /// A timestamp from seconds and nanoseconds; nanoseconds of a second or more carry into
    /// `secs` (saturating at `i64::MAX`).
    pub const fn new(secs: i64, nanos: u32) -> Self {
        Timestamp {
            secs: secs.saturating_add((nanos / NANOS_PER_SEC) as i64),
            nanos: nanos % NANOS_PER_SEC,
        }
    }

    /// The time as nanoseconds since the epoch (exact: an `i128` holds every `Timestamp`).
    pub const fn as_nanos(&self) -> i128 {
        self.secs as i128 * NANOS_PER_SEC as i128 + self.nanos as i128
    }

    /// Formats as `secs.micros` (six fractional digits, truncated), like `tcpdump -tt`.
    pub fn fmt_micros(&self) -> impl fmt::Display + use<> {
        Fixed {
            ts: *self,
            digits: 6,
        }
    }

    /// Formats as `secs.nanos` (nine fractional digits), like `tcpdump -tt --nano`.
    pub fn fmt_nanos(&self) -> impl fmt::Display + use<> {
        Fixed {
            ts: *self,
            digits: 9,
        }
    }
}

impl fmt::Display for Timestamp {
    /// `secs.micros`, as [`Timestamp::fmt_micros`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.fmt_micros(), f)
    }
}

/// A timestamp printed with a fixed number of fractional digits (6 or 9), truncated toward zero.
struct Fixed {
    ts: Timestamp,
    digits: u32,
}

impl fmt::Display for Fixed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let total = self.ts.as_nanos();
        let abs = total.unsigned_abs();
        let sign = if total < 0 { "-" } else { "" };
        let secs = abs / u128::from(NANOS_PER_SEC);
        let frac = abs % u128::from(NANOS_PER_SEC);
        if self.digits == 6 {
            write!(f, "{sign}{secs}.{:06}", frac / 1000)
        } else {
            write!(f, "{sign}{secs}.{frac:09}")
        }
    }
}

/// The unit of a pcapng timestamp: the `if_tsresol` option of an interface.
///
/// A timestamp is a 64-bit count of ticks since the epoch, one tick being 10^−n seconds
/// ([`Decimal`](TsResolution::Decimal)) or 2^−n seconds ([`Binary`](TsResolution::Binary)).
/// Without the option an interface counts microseconds. This crate reads and writes decimal
/// exponents 0..=19 and binary exponents 0..=63 ([`TsResolution::is_supported`]): beyond them a
/// 64-bit tick count cannot even reach one second.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TsResolution {
    /// Ticks of 10^−n seconds.
    Decimal(u8),
    /// Ticks of 2^−n seconds.
    Binary(u8),
}

impl Default for TsResolution {
    /// Microseconds, the pcapng default.
    fn default() -> Self {
        TsResolution::MICROS
    }
}

impl TsResolution {
    /// Microsecond ticks (the pcapng default and classic pcap).
    pub const MICROS: TsResolution = TsResolution::Decimal(6);
    /// Nanosecond ticks.
    pub const NANOS: TsResolution = TsResolution::Decimal(9);

    /// Decodes the one-byte `if_tsresol` value: high bit clear for 10^−n, set for 2^−n.
    pub const fn from_raw(raw: u8) -> Self {
        if raw & 0x80 == 0 {
            TsResolution::Decimal(raw)
        } else {
            TsResolution::Binary(raw & 0x7f)
        }
    }

    /// The one-byte `if_tsresol` value, or `None` if the exponent does not fit in 7 bits.
    pub const fn to_raw(self) -> Option<u8> {
        match self {
            TsResolution::Decimal(n) if n < 0x80 => Some(n),
            TsResolution::Binary(n) if n < 0x80 => Some(n | 0x80),
            _ => None,
        }
    }

    /// Whether this crate reads and writes timestamps in this resolution (10^−0..=19 or
    /// 2^−0..=63).
    pub const fn is_supported(self) -> bool {
        match self {
            TsResolution::Decimal(n) => n <= 19,
            TsResolution::Binary(n) => n <= 63,
        }
    }

    /// The time `ticks` stands for, shifted by `offset_secs` (the `if_tsoffset` option).
    ///
    /// Sub-nanosecond parts are truncated; a time beyond `i64` seconds saturates. Defined for
    /// every resolution, supported or not (an exponent too large yields the epoch plus offset).
    pub fn timestamp(self, ticks: u64, offset_secs: i64) -> Timestamp {
        // Per packet on the read path: u64 division by a table constant, not u128 `pow`.
        let (secs, nanos) = match self {
            TsResolution::Decimal(n) => {
                let n = usize::from(n);
                match POW10.get(n) {
                    Some(&units) => {
                        let frac = ticks % units;
                        let nanos = match n.checked_sub(9) {
                            None => frac * POW10.get(9 - n).copied().unwrap_or(1),
                            Some(d) => frac / POW10.get(d).copied().unwrap_or(1),
                        };
                        (ticks / units, nanos)
                    }
                    // 10^n > u64::MAX: under a second; 10^(n-9) may overflow too.
                    None => (0, POW10.get(n - 9).map_or(0, |&d| ticks / d)),
                }
            }
            TsResolution::Binary(n) => {
                let n = u32::from(n);
                let secs = ticks.checked_shr(n).unwrap_or(0);
                let frac = ticks - secs.checked_shl(n).unwrap_or(0);
                // frac < 2^64 and 10^9 < 2^30, so the product fits in 94 bits.
                let nanos = (u128::from(frac) * u128::from(NANOS_PER_SEC))
                    .checked_shr(n)
                    .unwrap_or(0);
                (secs, u64::try_from(nanos).unwrap_or(0))
            }
        };
        let secs = i128::from(secs).saturating_add(i128::from(offset_secs));
        let secs = i64::try_from(secs).unwrap_or(if secs < 0 { i64::MIN } else { i64::MAX });
        // nanos < 10^9 by construction; the fallback is unreachable.
        Timestamp::new(secs, u32::try_from(nanos).unwrap_or(0))
    }

    /// The tick count for `ts` (with no `if_tsoffset`), or `None` if `ts` is before the epoch,
    /// does not fit in 64 bits of ticks, or the resolution is not supported.
    ///
    /// Decimal resolutions truncate; binary ones round up, so that any resolution at least as
    /// fine as a nanosecond (10^−9 and finer, 2^−30 and finer) reads back exactly.
    pub fn ticks(self, ts: Timestamp) -> Option<u64> {
        if !self.is_supported() || ts.secs < 0 || ts.nanos >= NANOS_PER_SEC {
            return None;
        }
        let secs = u128::from(ts.secs.unsigned_abs());
        let nanos = u128::from(ts.nanos);
        let nps = u128::from(NANOS_PER_SEC);
        let t = match self {
            TsResolution::Decimal(n) => {
                let n = u32::from(n);
                let sub = if n <= 9 {
                    nanos / 10u128.pow(9 - n)
                } else {
                    nanos * 10u128.pow(n - 9)
                };
                secs.checked_mul(10u128.pow(n))?.checked_add(sub)?
            }
            TsResolution::Binary(n) => {
                let n = u32::from(n);
                let sub = (nanos << n).div_ceil(nps);
                secs.checked_shl(n)?.checked_add(sub)?
            }
        };
        // secs < 2^63 and the exponents are at most 63 (binary) or 19 (decimal), so nothing above
        // overflowed u128; what does not fit in 64 bits of ticks is refused here.
        u64::try_from(t).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_micros_and_nanos() {
        let ts = Timestamp::new(1_700_000_000, 123_456_789);
        assert_eq!(ts.to_string(), "1700000000.123456");
        assert_eq!(ts.fmt_micros().to_string(), "1700000000.123456");
        assert_eq!(ts.fmt_nanos().to_string(), "1700000000.123456789");
        assert_eq!(Timestamp::new(0, 5).fmt_nanos().to_string(), "0.000000005");
        assert_eq!(
            Timestamp::new(-1, 750_000_000).fmt_nanos().to_string(),
            "-0.250000000"
        );
        assert_eq!(
            Timestamp::new(i64::MIN, 0).to_string(),
            "-9223372036854775808.000000"
        );
    }

    #[test]
    fn new_carries_nanos() {
        assert_eq!(
            Timestamp::new(1, 2_500_000_000),
            Timestamp {
                secs: 3,
                nanos: 500_000_000
            }
        );
        assert_eq!(Timestamp::new(i64::MAX, u32::MAX).secs, i64::MAX);
    }

    #[test]
    fn raw_resolution_byte() {
        assert_eq!(TsResolution::from_raw(6), TsResolution::MICROS);
        assert_eq!(TsResolution::from_raw(0x80 | 20), TsResolution::Binary(20));
        assert_eq!(TsResolution::Binary(20).to_raw(), Some(0x94));
        assert_eq!(TsResolution::Decimal(9).to_raw(), Some(9));
        assert_eq!(TsResolution::Decimal(200).to_raw(), None);
        assert!(!TsResolution::Decimal(20).is_supported());
        assert!(TsResolution::Binary(63).is_supported());
        assert!(!TsResolution::Binary(64).is_supported());
    }

    #[test]
    fn ticks_to_timestamp() {
        let us = TsResolution::MICROS;
        assert_eq!(us.timestamp(1_500_000, 0), Timestamp::new(1, 500_000_000));
        assert_eq!(
            us.timestamp(1_500_000, -10),
            Timestamp::new(-9, 500_000_000)
        );
        assert_eq!(
            TsResolution::NANOS.timestamp(1_000_000_007, 0),
            Timestamp::new(1, 7)
        );
        // Picoseconds truncate to nanoseconds.
        assert_eq!(
            TsResolution::Decimal(12).timestamp(1_000_000_001_999, 0),
            Timestamp::new(1, 1)
        );
        // 2^-10 s ticks: 1536 ticks = 1.5 s.
        assert_eq!(
            TsResolution::Binary(10).timestamp(1536, 0),
            Timestamp::new(1, 500_000_000)
        );
        assert_eq!(
            TsResolution::Decimal(0).timestamp(42, 0),
            Timestamp::new(42, 0)
        );
        // Saturation instead of overflow.
        assert_eq!(
            TsResolution::Decimal(0).timestamp(u64::MAX, i64::MAX).secs,
            i64::MAX
        );
        assert_eq!(
            TsResolution::Decimal(0).timestamp(0, i64::MIN).secs,
            i64::MIN
        );
        // Unsupported exponents are still total.
        assert_eq!(
            TsResolution::Decimal(127).timestamp(u64::MAX, 0),
            Timestamp::new(0, 0)
        );
        assert_eq!(TsResolution::Binary(127).timestamp(u64::MAX, 0).secs, 0);
        assert_eq!(
            TsResolution::Binary(64).timestamp(1 << 63, 0),
            Timestamp::new(0, 500_000_000)
        );
    }

    #[test]
    fn timestamp_to_ticks_round_trips_at_nanosecond_or_finer() {
        let ts = Timestamp::new(1_700_000_000, 999_999_999);
        for res in [
            TsResolution::NANOS,
            TsResolution::Decimal(10),
            TsResolution::Binary(30),
            TsResolution::Binary(32),
        ] {
            let t = res.ticks(ts).unwrap();
            assert_eq!(res.timestamp(t, 0), ts, "{res:?}");
        }
        assert_eq!(TsResolution::MICROS.ticks(ts), Some(1_700_000_000_999_999));
        assert_eq!(TsResolution::Decimal(12).ticks(ts), None, "overflows u64");
        assert_eq!(TsResolution::Binary(40).ticks(ts), None, "overflows u64");
        assert_eq!(TsResolution::NANOS.ticks(Timestamp::new(-1, 0)), None);
        assert_eq!(TsResolution::Decimal(20).ticks(Timestamp::new(0, 0)), None);
        // Rounding up at a coarse binary resolution carries into the seconds.
        assert_eq!(
            TsResolution::Binary(1).ticks(Timestamp::new(0, 999_999_999)),
            Some(2)
        );
    }
}
