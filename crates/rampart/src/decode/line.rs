//! Appending text to a reused line buffer without going through `core::fmt` for the common
//! pieces (integers, addresses, MACs), so that printing a packet costs a few hundred nanoseconds.
//!
//! Nothing here may allocate beyond the growth of the buffer it is given, or panic.

/// "00", "01", ... "99": two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Appenders for a line being built in a `Vec<u8>`.
///
/// Each appender reserves its widest form in the vector with one fixed-size store, writes its
/// characters straight into place, then truncates to what it used: no temporary buffer to copy
/// from (reading back bytes just stored one at a time stalls the CPU's store forwarding), one
/// capacity check per call.
pub(crate) trait LineExt {
    /// Appends a string.
    fn s(&mut self, s: &str);
    /// Appends an unsigned integer in decimal.
    fn u(&mut self, v: u64);
    /// Appends `v` in decimal, zero-padded on the left to `width` digits (at most 20).
    fn u_padded(&mut self, v: u64, width: usize);
    /// Appends `true` or `false`.
    fn b(&mut self, v: bool);
    /// Appends a dotted-quad IPv4 address.
    fn ipv4(&mut self, a: [u8; 4]);
    /// Appends an IPv6 address in RFC 5952 form.
    fn ipv6(&mut self, a: [u8; 16]);
    /// Appends a MAC address as six colon-separated lower-case hex pairs.
    fn mac(&mut self, m: &[u8; 6]);
    /// Appends `0x` and four lower-case hex digits.
    fn hex16(&mut self, v: u16);
}

/// Appends `N` bytes of `fill` to `v`, lets `write` fill them in place, and keeps the first
/// `used` (as `write` returns; at most `N`).
#[inline(always)]
fn slot<const N: usize>(v: &mut Vec<u8>, fill: u8, write: impl FnOnce(&mut [u8; N]) -> usize) {
    let at = v.len();
    v.extend_from_slice(&[fill; N]);
    let used = match v.get_mut(at..).and_then(|s| s.first_chunk_mut::<N>()) {
        Some(d) => write(d),
        None => N,
    };
    v.truncate(at + used.min(N));
}

/// For each bit length `i` of a `u32` (0 for 0 and 1), a constant whose sum with any value of
/// that bit length has its digit count in the upper 32 bits (D. Lemire's digit count, with the
/// table computed here rather than pasted).
const DIGIT_COUNT: [u64; 32] = {
    let mut t = [0u64; 32];
    let mut i = 0;
    while i < 32 {
        let low = 1u64 << i;
        let (mut d, mut next) = (1u64, 10u64);
        while next <= low {
            d += 1;
            next *= 10;
        }
        // Values of this bit length have `d` digits, or `d + 1` once they reach `next`.
        t[i] = if next <= u32::MAX as u64 {
            (d << 32) + (1u64 << 32) - next
        } else {
            d << 32
        };
        i += 1;
    }
    t
};

/// Decimal digits of `v` (1 for 0).
#[inline(always)]
fn digits32(v: u32) -> usize {
    let log2 = (31 - (v | 1).leading_zeros()) & 31;
    ((u64::from(v) + DIGIT_COUNT[log2 as usize]) >> 32) as usize
}

/// Writes `v` right-aligned in `d[..end]`, two digits per division; `end` must be at least its
/// digit count (more leaves the bytes before it as they were).
#[inline(always)]
fn put_u32(d: &mut [u8], mut v: u32, end: usize) {
    let mut i = end;
    while v >= 100 {
        let pair = (v % 100) as usize * 2;
        v /= 100;
        i = i.wrapping_sub(2);
        if let (Some(dst), Some(src)) = (d.get_mut(i..i + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
            dst.copy_from_slice(src);
        }
    }
    if v >= 10 {
        let pair = v as usize * 2;
        i = i.wrapping_sub(2);
        if let (Some(dst), Some(src)) = (d.get_mut(i..i + 2), DIGIT_PAIRS.get(pair..pair + 2)) {
            dst.copy_from_slice(src);
        }
    } else if let Some(dst) = d.get_mut(i.wrapping_sub(1)) {
        *dst = b'0' + v as u8;
    }
}

/// Decimal digits of `v` (1 for 0).
fn digits64(v: u64) -> usize {
    match u32::try_from(v) {
        Ok(v) => digits32(v),
        Err(_) => {
            let (mut d, mut rest) = (10, v / 10_000_000_000);
            while rest > 0 {
                d += 1;
                rest /= 10;
            }
            d
        }
    }
}

/// Writes `v` right-aligned in `d[..end]` (as [`put_u32`], for values past `u32::MAX`).
fn put_u64(d: &mut [u8], v: u64, end: usize) {
    match u32::try_from(v) {
        Ok(v) => put_u32(d, v, end),
        Err(_) => {
            // Eight digits at a time in 32-bit arithmetic: the low part is zero-padded by the
            // slot's fill.
            let low = (v % 100_000_000) as u32;
            put_u32(d, low, end);
            put_u64(d, v / 100_000_000, end.saturating_sub(8));
        }
    }
}

/// Four lower-case hex digits of `v`, most significant first.
#[inline(always)]
fn hex4(v: u16) -> [u8; 4] {
    let x = u32::from(v);
    // One nibble per byte, the most significant in the top byte.
    let n = ((x & 0xf000) << 12) | ((x & 0x0f00) << 8) | ((x & 0x00f0) << 4) | (x & 0x000f);
    // Per byte: '0' + n, plus the gap from '9' + 1 to 'a' where n > 9 (n + 6 carries into 0x10).
    let over9 = ((n + 0x0606_0606) >> 4) & 0x0101_0101;
    (n + 0x3030_3030 + over9 * (u32::from(b'a') - u32::from(b'9') - 1)).to_be_bytes()
}

/// Each byte's two lower-case hex digits.
const HEX_PAIRS: [[u8; 2]; 256] = {
    let hex = b"0123456789abcdef";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [hex[i >> 4], hex[i & 0x0f]];
        i += 1;
    }
    t
};

impl LineExt for Vec<u8> {
    #[inline(always)]
    fn s(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn u(&mut self, v: u64) {
        match u32::try_from(v) {
            Ok(v) => {
                let n = digits32(v);
                slot::<10>(self, b'0', |d| {
                    put_u32(d, v, n);
                    n
                });
            }
            Err(_) => self.u_padded(v, 0),
        }
    }

    fn u_padded(&mut self, v: u64, width: usize) {
        let n = digits64(v).max(width.min(20));
        slot::<20>(self, b'0', |d| {
            put_u64(d, v, n);
            n
        });
    }

    #[inline]
    fn b(&mut self, v: bool) {
        self.s(if v { "true" } else { "false" });
    }

    #[inline]
    fn ipv4(&mut self, a: [u8; 4]) {
        slot::<16>(self, 0, |d| {
            // Each octet with a dot after it, four bytes at a time; the last dot is dropped.
            let mut n = 0;
            for x in a {
                let (len, text) = OCTETS[usize::from(x)];
                if let Some(dst) = d.get_mut(n..n + 4) {
                    dst.copy_from_slice(&text);
                }
                n += usize::from(len);
            }
            n - 1
        });
    }

    fn ipv6(&mut self, a: [u8; 16]) {
        let mut g = [0u16; 8];
        for (w, pair) in g.iter_mut().zip(a.chunks_exact(2)) {
            *w = u16::from_be_bytes([pair[0], pair[1]]);
        }
        // IPv4-mapped addresses end in dotted quad, as `std` and Wireshark print them.
        if g[..5] == [0; 5] && g[5] == 0xffff {
            self.s("::ffff:");
            return self.ipv4([a[12], a[13], a[14], a[15]]);
        }
        // RFC 5952: the longest run of two or more zero groups (the first on a tie) becomes "::".
        let (mut best_at, mut best_len, mut run_len) = (8, 0, 0);
        for (i, &w) in g.iter().enumerate() {
            run_len = if w == 0 { run_len + 1 } else { 0 };
            if run_len > best_len {
                (best_at, best_len) = (i + 1 - run_len, run_len);
            }
        }
        if best_len < 2 {
            best_at = 8;
        }
        // At most 39 characters; each group is written as four digits and a colon, the next
        // write starting after the significant ones.
        slot::<48>(self, 0, |d| {
            let mut n = 0;
            let mut i = 0;
            while i < 8 {
                if i == best_at {
                    if let Some(dst) = d.get_mut(n..n + 2) {
                        dst.copy_from_slice(if i == 0 { b"::" } else { b":\0" });
                    }
                    n += if i == 0 { 2 } else { 1 };
                    i += best_len;
                    if i == 8 {
                        return n;
                    }
                    continue;
                }
                let w = g[i];
                let skip = (w.leading_zeros() / 4).min(3) as usize;
                let [h0, h1, h2, h3] = hex4(w);
                let text = u64::from_be_bytes([h0, h1, h2, h3, b':', 0, 0, 0]) << (8 * skip);
                if let Some(dst) = d.get_mut(n..n + 8) {
                    dst.copy_from_slice(&text.to_be_bytes());
                }
                n += 5 - skip;
                i += 1;
            }
            // No colon after the last group.
            n - 1
        });
    }

    #[inline]
    fn mac(&mut self, m: &[u8; 6]) {
        slot::<18>(self, b':', |d| {
            for (i, &x) in m.iter().enumerate() {
                if let Some(dst) = d.get_mut(3 * i..3 * i + 2) {
                    dst.copy_from_slice(&HEX_PAIRS[usize::from(x)]);
                }
            }
            17
        });
    }

    #[inline]
    fn hex16(&mut self, v: u16) {
        let [a, b, c, d] = hex4(v);
        self.extend_from_slice(&[b'0', b'x', a, b, c, d]);
    }
}

/// Each octet's decimal digits followed by a dot, and how many of those bytes that is:
/// `(2, *b"7.\0\0")`.
const OCTETS: [(u8, [u8; 4]); 256] = {
    let mut t = [(0u8, [0u8; 4]); 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            (4, [b'0' + h, b'0' + te, b'0' + o, b'.'])
        } else if i >= 10 {
            (3, [b'0' + te, b'0' + o, b'.', 0])
        } else {
            (2, [b'0' + o, b'.', 0, 0])
        };
        i += 1;
    }
    t
};

/// Renders capture timestamps as `SECS.FRAC`, reusing the seconds part while it stays the same
/// (it changes once a second of capture, not once a packet).
#[derive(Debug, Default)]
pub(crate) struct Stamper {
    /// Sign and whole seconds of the text in `buf[..int_len]`.
    key: Option<(bool, u64)>,
    buf: Vec<u8>,
    int_len: usize,
}

impl Stamper {
    /// `secs.frac` with `digits` fractional digits (9, or 6 for anything else), truncated.
    pub(crate) fn render(&mut self, secs: i64, nanos: u32, digits: u8) -> &[u8] {
        let nanos = nanos.min(999_999_999);
        let (neg, whole, frac_ns) = if secs >= 0 {
            (false, secs.unsigned_abs(), nanos)
        } else if nanos == 0 {
            (true, secs.unsigned_abs(), 0)
        } else {
            // secs + nanos/1e9 with secs < 0 is -(|secs| - 1 + (1e9 - nanos)/1e9).
            (true, secs.unsigned_abs() - 1, 1_000_000_000 - nanos)
        };
        if self.key != Some((neg, whole)) {
            self.buf.clear();
            if neg {
                self.buf.push(b'-');
            }
            self.buf.u(whole);
            self.buf.push(b'.');
            self.int_len = self.buf.len();
            self.key = Some((neg, whole));
        }
        self.buf.truncate(self.int_len);
        if digits == 9 {
            self.buf.u_padded(u64::from(frac_ns), 9);
        } else {
            self.buf.u_padded(u64::from(frac_ns / 1000), 6);
        }
        &self.buf
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        String::from_utf8(v).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(with(|l| l.u(0)), "0");
        assert_eq!(with(|l| l.u(u64::MAX)), u64::MAX.to_string());
        assert_eq!(with(|l| l.u(1234567)), "1234567");
        assert_eq!(with(|l| l.u_padded(42, 6)), "000042");
        assert_eq!(with(|l| l.u_padded(0, 9)), "000000000");
        assert_eq!(with(|l| l.u_padded(1234567, 3)), "1234567");
        assert_eq!(with(|l| l.u_padded(u64::MAX, 9)), u64::MAX.to_string());
        for x in 0..=255u8 {
            assert_eq!(with(|l| l.ipv4([x, 0, x, 255])), format!("{x}.0.{x}.255"));
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(with(|l| l.ipv4([10, 0, 255, 1])), "10.0.255.1");
        let mut a = [0u8; 16];
        a[0] = 0xfe;
        a[1] = 0x80;
        a[15] = 1;
        assert_eq!(with(|l| l.ipv6(a)), "fe80::1");
        // Compared with std's RFC 5952 rendering on awkward shapes.
        let shapes: [[u16; 8]; 9] = [
            [0; 8],
            [0, 0, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 1, 0, 0, 1, 0, 0],
            [1, 0, 0, 1, 0, 0, 1, 1],
            [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1],
            [0xffff; 8],
            [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001],
            [0x2001, 0xdb8, 0x85a3, 0, 0x1000, 0x8a2e, 0x370, 0x7334],
        ];
        for g in shapes {
            let addr = std::net::Ipv6Addr::from(g);
            assert_eq!(with(|l| l.ipv6(addr.octets())), addr.to_string());
        }
        assert_eq!(
            with(|l| l.mac(&[0, 0x1b, 0xaa, 0xff, 0x0a, 0x10])),
            "00:1b:aa:ff:0a:10"
        );
        assert_eq!(with(|l| l.hex16(0x86dd)), "0x86dd");
        assert_eq!(with(|l| l.hex16(0x800)), "0x0800");
    }

    fn ts(secs: i64, nanos: u32, digits: u8) -> String {
        String::from_utf8(Stamper::default().render(secs, nanos, digits).to_vec()).unwrap()
    }

    #[test]
    fn timestamps() {
        assert_eq!(ts(1_700_000_000, 123_456_789, 6), "1700000000.123456");
        assert_eq!(ts(1_700_000_000, 123_456_789, 9), "1700000000.123456789");
        assert_eq!(ts(0, 5_000, 6), "0.000005");
        assert_eq!(ts(-1, 500_000_000, 6), "-0.500000");
        assert_eq!(ts(-2, 0, 6), "-2.000000");
        assert_eq!(
            ts(i64::MIN, 1, 9),
            format!("-{}.999999999", i64::MIN.unsigned_abs() - 1)
        );
    }

    proptest::proptest! {
        #[test]
        fn agree_with_std(v: u64, a: [u8; 16], zeros: u8) {
            proptest::prop_assert_eq!(with(|l| l.u(v)), v.to_string());
            // Zero some groups so that runs of zeros are common.
            let mut a = a;
            for (i, pair) in a.chunks_exact_mut(2).enumerate() {
                if zeros & (1 << i) != 0 {
                    pair.fill(0);
                }
            }
            let want = std::net::Ipv6Addr::from(a).to_string();
            proptest::prop_assert_eq!(with(|l| l.ipv6(a)), want);
        }
    }
}
