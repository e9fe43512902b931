//! Appending text to a reused line buffer without going through `core::fmt` for the common
//! pieces (integers, addresses, MACs), so that printing a packet costs a few hundred nanoseconds.
//!
//! Nothing here may allocate beyond the growth of the buffer it is given, or panic.

const HEX: &[u8; 16] = b"0123456789abcdef";

/// "00", "01", ... "99": two digits per division.
const DIGIT_PAIRS: &[u8; 200] = b"\
0001020304050607080910111213141516171819202122232425262728293031323334353637383940414243444546474849\
5051525354555657585960616263646566676869707172737475767778798081828384858687888990919293949596979899";

/// Appenders for a line being built in a `Vec<u8>`.
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

impl LineExt for Vec<u8> {
    #[inline(always)]
    fn s(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn u(&mut self, mut v: u64) {
        if v < 10 {
            self.push(b'0' + v as u8);
            return;
        }
        // Digits right-aligned in the first 20 bytes; the next 20 are slack so that one
        // fixed-size copy (a few moves, no call to memcpy) takes them, then a truncate.
        let mut tmp = [0u8; 40];
        let mut i = 20;
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else {
            i -= 1;
            tmp[i] = b'0' + v as u8;
        }
        let len = self.len();
        self.extend_from_slice(&tmp[i..i + 20]);
        self.truncate(len + 20 - i);
    }

    fn u_padded(&mut self, mut v: u64, width: usize) {
        let mut tmp = [b'0'; 40];
        let mut i = 20;
        while v >= 100 {
            let pair = (v % 100) as usize * 2;
            v /= 100;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        }
        if v >= 10 {
            let pair = v as usize * 2;
            i -= 2;
            tmp[i..i + 2].copy_from_slice(&DIGIT_PAIRS[pair..pair + 2]);
        } else if v > 0 {
            i -= 1;
            tmp[i] = b'0' + v as u8;
        }
        let start = i.min(20 - width.min(20));
        let len = self.len();
        self.extend_from_slice(&tmp[start..start + 20]);
        self.truncate(len + 20 - start);
    }

    #[inline]
    fn b(&mut self, v: bool) {
        self.s(if v { "true" } else { "false" });
    }

    #[inline]
    fn ipv4(&mut self, a: [u8; 4]) {
        // At most 15 characters, built in place and copied once with a fixed size.
        let mut tmp = [0u8; 16];
        let mut n = 0;
        for (i, &x) in a.iter().enumerate() {
            let [len, d0, d1, d2] = OCTETS[usize::from(x)];
            if i > 0 {
                tmp[n] = b'.';
                n += 1;
            }
            tmp[n..n + 3].copy_from_slice(&[d0, d1, d2]);
            n += usize::from(len);
        }
        let len = self.len();
        self.extend_from_slice(&tmp);
        self.truncate(len + n);
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
        // At most 39 characters, built in place and copied once with a fixed size.
        let mut tmp = [0u8; 48];
        let mut n = 0;
        let mut i = 0;
        while i < 8 {
            if i == best_at {
                tmp[n..n + 2].copy_from_slice(b"::");
                n += 2;
                i += best_len;
                continue;
            }
            if i > 0 && i != best_at + best_len {
                tmp[n] = b':';
                n += 1;
            }
            let w = g[i];
            let nd = 4 - (w.leading_zeros() / 4).min(3);
            for k in (0..nd).rev() {
                tmp[n] = HEX[usize::from((w >> (4 * k)) & 0xf)];
                n += 1;
            }
            i += 1;
        }
        let len = self.len();
        self.extend_from_slice(&tmp);
        self.truncate(len + n);
    }

    #[inline]
    fn mac(&mut self, m: &[u8; 6]) {
        for (i, x) in m.iter().enumerate() {
            if i > 0 {
                self.push(b':');
            }
            self.push(HEX[usize::from(x >> 4)]);
            self.push(HEX[usize::from(x & 0x0f)]);
        }
    }

    #[inline]
    fn hex16(&mut self, v: u16) {
        self.extend_from_slice(b"0x");
        for shift in [12u16, 8, 4, 0] {
            self.push(HEX[usize::from((v >> shift) & 0x0f)]);
        }
    }
}

/// Each octet's decimal digits, left-aligned after their count: `[len, d0, d1, d2]`.
const OCTETS: [[u8; 4]; 256] = {
    let mut t = [[0u8; 4]; 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        t[i] = if i >= 100 {
            [3, b'0' + h, b'0' + te, b'0' + o]
        } else if i >= 10 {
            [2, b'0' + te, b'0' + o, 0]
        } else {
            [1, b'0' + o, 0, 0]
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
