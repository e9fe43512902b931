//! Formatting packet lines into an output buffer without going through `core::fmt` for the
//! common pieces (integers, addresses, MACs), so that printing a packet costs a few hundred
//! nanoseconds.
//!
//! A [`Line`] writes into a window of a buffer kept initialised to its full length ([`Lines`]):
//! its length stays in a register while a line is built, and each piece is one bounds check and
//! a fixed-size store, where appending to a `Vec` reloads and checks its length and capacity
//! every time. A piece is stored whole at its widest (eight digits, an address's sixteen bytes)
//! and the length advanced by what it used, so no variable-length copy (a call to `memcpy`) is
//! made. Integers become eight ASCII digits at a time with a few multiplications in one 64-bit
//! register; IPv4 addresses are assembled in a register from a table of octets; IPv6 addresses,
//! the costliest text, are remembered per thread (see [`TextCache`]).
//!
//! Nothing here may allocate beyond the growth of [`Lines`], or panic: a line that does not fit
//! its window is marked and made again in a bigger one.

use std::cell::RefCell;
use std::ops::Range;

/// Room guaranteed to a line before it is built: more than any line takes (a line that takes
/// more is built again with more room).
pub(crate) const LINE_ROOM: usize = 4096;

/// Lines of output: a buffer kept initialised to its full length (its bytes past the text are
/// scratch space for the next line), the text in its first `len` bytes.
#[derive(Debug)]
pub(crate) struct Lines {
    buf: Vec<u8>,
    len: usize,
}

impl Lines {
    /// An empty buffer of `capacity` bytes (at least [`LINE_ROOM`]).
    pub(crate) fn with_capacity(capacity: usize) -> Lines {
        Lines {
            buf: vec![0; capacity.max(LINE_ROOM)],
            len: 0,
        }
    }

    /// Forgets the text, keeping the buffer.
    pub(crate) fn clear(&mut self) {
        self.len = 0;
    }

    /// The text so far.
    pub(crate) fn text(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Appends one line made by `write` and returns what it returned. `write` may run more than
    /// once: when the line does not fit, the buffer doubles and the line is made again.
    #[inline]
    pub(crate) fn push<T>(&mut self, mut write: impl FnMut(&mut Line<'_>) -> T) -> T {
        if self.buf.len() - self.len < LINE_ROOM {
            self.grow();
        }
        loop {
            let mut line = Line::new(self.buf.get_mut(self.len..).unwrap_or(&mut []));
            let made = write(&mut line);
            if !line.overflow {
                self.len += line.len;
                return made;
            }
            self.grow();
        }
    }

    /// Replaces the bytes at `at` (in the text) with `with`, moving what follows: for the rare
    /// timestamp rewritten after its line was made.
    pub(crate) fn replace(&mut self, at: Range<usize>, with: &[u8]) {
        if at.start > at.end || at.end > self.len {
            return;
        }
        let new_len = self.len - at.len() + with.len();
        while new_len > self.buf.len() {
            self.grow();
        }
        self.buf
            .copy_within(at.end..self.len, at.start + with.len());
        if let Some(d) = self.buf.get_mut(at.start..at.start + with.len()) {
            d.copy_from_slice(with);
        }
        self.len = new_len;
    }

    #[cold]
    fn grow(&mut self) {
        let size = (self.buf.len() * 2).max(self.len + LINE_ROOM);
        self.buf.resize(size, 0);
    }
}

/// One line being built in a window of a buffer. A piece that does not fit is dropped and the
/// line marked as overflowed, for [`Lines::push`] to make it again with more room.
#[derive(Debug)]
pub(crate) struct Line<'a> {
    buf: &'a mut [u8],
    len: usize,
    overflow: bool,
}

impl<'a> Line<'a> {
    /// An empty line at the start of `buf`.
    pub(crate) fn new(buf: &'a mut [u8]) -> Line<'a> {
        Line {
            buf,
            len: 0,
            overflow: false,
        }
    }

    /// Bytes in the line.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The line so far.
    pub(crate) fn text(&self) -> &[u8] {
        self.buf.get(..self.len).unwrap_or(&[])
    }

    /// Its last byte.
    pub(crate) fn last(&self) -> Option<u8> {
        self.text().last().copied()
    }

    /// Drops its last byte.
    pub(crate) fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// Whether it ends with `s`.
    pub(crate) fn ends_with(&self, s: &[u8]) -> bool {
        self.text().ends_with(s)
    }

    /// Appends one byte.
    #[inline(always)]
    pub(crate) fn push(&mut self, b: u8) {
        match self.buf.get_mut(self.len) {
            Some(d) => {
                *d = b;
                self.len += 1;
            }
            None => self.overflow = true,
        }
    }

    /// Appends bytes.
    #[inline(always)]
    pub(crate) fn extend_from_slice(&mut self, s: &[u8]) {
        let n = s.len();
        let Some(d) = self.buf.get_mut(self.len..self.len + n) else {
            self.overflow = true;
            return;
        };
        // A short string of a length known only at run time (a name picked by a `match`) is
        // copied as two overlapping words rather than by a call to `memcpy`; a literal's length
        // is known at compile time and picks its branch then.
        if (8..=16).contains(&n) {
            copy_ends::<8>(d, s);
        } else if (4..8).contains(&n) {
            copy_ends::<4>(d, s);
        } else {
            d.copy_from_slice(s);
        }
        self.len += n;
    }

    /// Stores all `N` bytes of `chunk` and keeps the first `keep` (at most `N`): a fixed-size
    /// store the compiler makes of a couple of register moves, where storing `keep` bytes would
    /// be a call to `memcpy`. The rest is scratch, overwritten by what follows.
    #[inline(always)]
    pub(crate) fn put<const N: usize>(&mut self, chunk: [u8; N], keep: usize) {
        match self.buf.get_mut(self.len..self.len + N) {
            Some(d) => {
                d.copy_from_slice(&chunk);
                self.len += keep.min(N);
            }
            None => self.overflow = true,
        }
    }
}

/// Copies `s` to `d` (of the same length, `W` to `2 * W` bytes) as its first and its last `W`
/// bytes, which overlap when it is shorter than `2 * W`.
#[inline(always)]
fn copy_ends<const W: usize>(d: &mut [u8], s: &[u8]) {
    if let (Some(dh), Some(sh)) = (d.first_chunk_mut::<W>(), s.first_chunk::<W>()) {
        *dh = *sh;
    }
    if let (Some(dt), Some(st)) = (d.last_chunk_mut::<W>(), s.last_chunk::<W>()) {
        *dt = *st;
    }
}

/// Appenders for the common pieces of a line.
pub(crate) trait LineExt {
    /// Appends a string.
    fn s(&mut self, s: &str);
    /// Appends an unsigned integer in decimal.
    fn u(&mut self, v: u64);
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
    /// Appends a timestamp.
    fn stamp(&mut self, ts: &Stamp);
}

/// Powers of ten that fit a `u64`.
const POW10: [u64; 20] = {
    let mut t = [1u64; 20];
    let mut i = 1;
    while i < 20 {
        t[i] = t[i - 1] * 10;
        i += 1;
    }
    t
};

/// Decimal digits of `v` (1 for 0).
#[inline(always)]
fn digits(v: u64) -> usize {
    let v = v | 1;
    // Bits times log10(2) (about 1233 / 4096) is the digit count or one less.
    let bits = 64 - v.leading_zeros() as usize;
    let guess = ((bits * 1233) >> 12).min(19);
    guess + usize::from(v >= POW10[guess])
}

/// The eight decimal digits of `v` (below 10^8), zero-padded, as ASCII with the first digit in
/// the low byte: two 4-digit halves, then four 2-digit quarters, then eight digits, each step one
/// multiplication across all lanes of the register at once. (A larger `v` gives wrong digits,
/// never a panic.)
#[inline(always)]
fn eight_digits(v: u32) -> u64 {
    let v = u64::from(v);
    // 32-bit lanes, the first four digits in the low lane as they are printed first.
    let x = (v / 10_000) | ((v % 10_000) << 32);
    // x / 100 is (x * 10486) >> 20 for x < 10_000; the products stay inside their lanes.
    let hundreds = (x.wrapping_mul(10_486) >> 20) & 0x0000_007f_0000_007f;
    let x = hundreds | (x.wrapping_sub(hundreds * 100) << 16);
    // x / 10 is (x * 103) >> 10 for x < 100, in 16-bit lanes.
    let tens = (x.wrapping_mul(103) >> 10) & 0x000f_000f_000f_000f;
    let x = tens | (x.wrapping_sub(tens * 10) << 8);
    x | 0x3030_3030_3030_3030
}

/// Appends `v` in decimal in exactly `n` digits, zero-padded on the left (`n` is raised to the
/// digit count of `v` and lowered to 20).
#[inline(always)]
fn put_decimal(l: &mut Line<'_>, v: u64, n: usize) {
    let n = n.clamp(digits(v), 20);
    if n <= 8 {
        // `v` < 10^8: the last `n` of the eight.
        l.put((eight_digits(v as u32) >> (8 * (8 - n))).to_le_bytes(), n);
    } else if n <= 10 {
        // Up to 99 eights: the first digits from the table of pairs.
        let (high, low) = (v / 100_000_000, (v % 100_000_000) as u32);
        let pair = DIGIT_PAIRS[(high % 100) as usize];
        l.put(
            (u16::from_le_bytes(pair) >> (8 * (10 - n))).to_le_bytes(),
            n - 8,
        );
        l.put(eight_digits(low).to_le_bytes(), 8);
    } else if n <= 16 {
        let (high, low) = (v / 100_000_000, (v % 100_000_000) as u32);
        let high = eight_digits(high as u32) >> (8 * (16 - n));
        l.put(high.to_le_bytes(), n - 8);
        l.put(eight_digits(low).to_le_bytes(), 8);
    } else {
        // Seventeen to twenty digits: the top four at most, then sixteen.
        let (top, rest) = (v / 10_u64.pow(16), v % 10_u64.pow(16));
        let top = eight_digits(top as u32) >> (8 * (24 - n));
        l.put(top.to_le_bytes(), n - 16);
        l.put(eight_digits((rest / 100_000_000) as u32).to_le_bytes(), 8);
        l.put(eight_digits((rest % 100_000_000) as u32).to_le_bytes(), 8);
    }
}

/// The two decimal digits of each number below 100.
const DIGIT_PAIRS: [[u8; 2]; 100] = {
    let mut t = [[0u8; 2]; 100];
    let mut i = 0;
    while i < 100 {
        t[i] = [b'0' + (i / 10) as u8, b'0' + (i % 10) as u8];
        i += 1;
    }
    t
};

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

/// Each octet's decimal digits followed by a dot, as a little-endian `u32` (`"7."` is
/// `0x2e37`), and how many bytes that is.
const OCTETS: [(u32, u8); 256] = {
    let mut t = [(0u32, 0u8); 256];
    let mut i = 0;
    while i < 256 {
        let (h, te, o) = ((i / 100) as u8, (i / 10 % 10) as u8, (i % 10) as u8);
        let (text, len) = if i >= 100 {
            ([b'0' + h, b'0' + te, b'0' + o, b'.'], 4)
        } else if i >= 10 {
            ([b'0' + te, b'0' + o, b'.', 0], 3)
        } else {
            ([b'0' + o, b'.', 0, 0], 2)
        };
        t[i] = (u32::from_le_bytes(text), len);
        i += 1;
    }
    t
};

/// For each set of zero groups of an IPv6 address (bit `i` for group `i`), the run that RFC 5952
/// replaces with `::`, as `(start, length)`: the longest run of two or more, the first on a tie;
/// `(8, 0)` when there is none.
const ZERO_RUNS: [(u8, u8); 256] = {
    let mut t = [(8u8, 0u8); 256];
    let mut mask = 0;
    while mask < 256 {
        let (mut best_at, mut best_len, mut run) = (8u8, 0u8, 0u8);
        let mut i = 0u8;
        while i < 8 {
            run = if mask & (1 << i) != 0 { run + 1 } else { 0 };
            if run > best_len {
                best_at = i + 1 - run;
                best_len = run;
            }
            i += 1;
        }
        if best_len >= 2 {
            t[mask] = (best_at, best_len);
        }
        mask += 1;
    }
    t
};

/// Longest IPv6 text that is not IPv4-mapped: eight groups of four digits and seven colons.
const IPV6_MAX: usize = 39;

/// Appends the RFC 5952 text of `a` (not IPv4-mapped).
fn put_ipv6(l: &mut Line<'_>, a: [u8; 16]) {
    let mut g = [0u16; 8];
    let mut zeros = 0usize;
    for (i, (w, pair)) in g.iter_mut().zip(a.chunks_exact(2)).enumerate() {
        if let &[hi, lo] = pair {
            *w = u16::from_be_bytes([hi, lo]);
        }
        zeros |= usize::from(*w == 0) << i;
    }
    let (run_at, run_len) = ZERO_RUNS[zeros & 0xff];
    let (run_at, run_len) = (usize::from(run_at), usize::from(run_len));
    // Each group is stored as its significant digits and a colon in one eight-byte chunk; the
    // colon after the last group is dropped at the end.
    let mut i = 0;
    while let Some(&w) = g.get(i) {
        if i == run_at {
            // "::": the previous group's colon and one more, or both when the run starts the
            // address.
            l.put(*b"::", if i == 0 { 2 } else { 1 });
            i += run_len;
            if i >= 8 {
                // The address ends in "::", which keeps its last colon.
                return;
            }
            continue;
        }
        let skip = (w.leading_zeros() / 4).min(3) as usize;
        let [h0, h1, h2, h3] = hex4(w);
        let text = u64::from_be_bytes([h0, h1, h2, h3, b':', 0, 0, 0]) << (8 * skip);
        l.put(text.to_be_bytes(), 5 - skip);
        i += 1;
    }
    l.pop();
}

/// One remembered text and its key; `len` 0 marks an empty slot (no remembered text is empty).
#[derive(Clone, Copy, Debug)]
struct Slot<const W: usize, const T: usize> {
    key: [u64; W],
    len: u8,
    text: [u8; T],
}

/// Texts that are a pure function of a few bytes (an address, a flow's addresses and ports) and
/// repeat packet after packet, remembered so that they are made once and then copied.
///
/// Keyed by those bytes packed in `W` words, direct-mapped: `S` slots (a power of two) chosen by
/// a multiplicative hash of the key, a new key evicting the one in its slot. Nothing invalidates
/// a slot, as the text depends on the key alone. A text longer than `T - 1` bytes is not kept.
/// Meant to live in a thread-local, so it needs no lock.
#[derive(Debug)]
pub(crate) struct TextCache<const W: usize, const T: usize, const S: usize> {
    slots: [Slot<W, T>; S],
}

impl<const W: usize, const T: usize, const S: usize> TextCache<W, T, S> {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        TextCache {
            slots: [Slot {
                key: [0; W],
                len: 0,
                text: [0; T],
            }; S],
        }
    }

    /// Appends to `l` the text for `key`, from its slot, or made by `make` and kept.
    #[inline]
    pub(crate) fn put(&mut self, l: &mut Line<'_>, key: &[u64; W], make: impl Fn(&mut Line<'_>)) {
        let mut hash = 0u64;
        for &w in key {
            hash = (hash ^ w).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
        // The top bits, which every bit of the key reaches through the multiplications.
        let index = (hash >> (64 - S.trailing_zeros())) as usize & (S - 1);
        let Some(slot) = self.slots.get_mut(index) else {
            return make(l);
        };
        // Word by word without branching (comparing the arrays would call `memcmp`).
        let differs = slot
            .key
            .iter()
            .zip(key)
            .fold(0, |acc, (a, b)| acc | (a ^ b));
        if slot.len == 0 || differs != 0 {
            // Made in scratch space with room for the last piece's whole chunk.
            let mut scratch = [[0u8; T]; 2];
            let mut made = Line::new(scratch.as_flattened_mut());
            make(&mut made);
            let (len, overflow) = (made.len(), made.overflow);
            if overflow || len == 0 || len >= T {
                return make(l);
            }
            let Some(text) = scratch.first() else {
                return make(l);
            };
            *slot = Slot {
                key: *key,
                len: len as u8,
                text: *text,
            };
        }
        l.put(slot.text, usize::from(slot.len));
    }
}

/// IPv6 address texts (`Line::ipv6`): 256 slots, 14 KiB.
type Ipv6Texts = TextCache<2, { IPV6_MAX + 1 }, 256>;

thread_local! {
    static IPV6_TEXTS: RefCell<Ipv6Texts> = const { RefCell::new(Ipv6Texts::new()) };
}

impl LineExt for Line<'_> {
    #[inline(always)]
    fn s(&mut self, s: &str) {
        self.extend_from_slice(s.as_bytes());
    }

    #[inline]
    fn u(&mut self, v: u64) {
        put_decimal(self, v, 1);
    }

    #[inline]
    fn b(&mut self, v: bool) {
        self.s(if v { "true" } else { "false" });
    }

    #[inline]
    fn ipv4(&mut self, a: [u8; 4]) {
        // The four octets with their dots side by side in one register; the last dot is cut.
        let mut text = 0u128;
        let mut at = 0;
        for x in a {
            let (octet, len) = OCTETS[usize::from(x)];
            text |= u128::from(octet) << (8 * at);
            at += u32::from(len);
        }
        self.put(text.to_le_bytes(), at as usize - 1);
    }

    fn ipv6(&mut self, a: [u8; 16]) {
        // IPv4-mapped addresses end in dotted quad, as `std` and Wireshark print them.
        if let [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, b0, b1, b2, b3] = a {
            self.s("::ffff:");
            return self.ipv4([b0, b1, b2, b3]);
        }
        let cached = IPV6_TEXTS.try_with(|t| match t.try_borrow_mut() {
            Ok(mut t) => {
                let x = u128::from_le_bytes(a);
                t.put(self, &[x as u64, (x >> 64) as u64], |l| put_ipv6(l, a));
                true
            }
            Err(_) => false,
        });
        if cached != Ok(true) {
            put_ipv6(self, a);
        }
    }

    #[inline]
    fn mac(&mut self, m: &[u8; 6]) {
        let mut text = [b':'; 18];
        for (i, &x) in m.iter().enumerate() {
            if let Some(dst) = text.get_mut(3 * i..3 * i + 2) {
                dst.copy_from_slice(&HEX_PAIRS[usize::from(x)]);
            }
        }
        self.put(text, 17);
    }

    #[inline]
    fn hex16(&mut self, v: u16) {
        let [a, b, c, d] = hex4(v);
        self.put([b'0', b'x', a, b, c, d], 6);
    }

    #[inline(always)]
    fn stamp(&mut self, ts: &Stamp) {
        self.put(ts.text, usize::from(ts.len));
    }
}

/// A capture time as printed, `SECS.FRAC`, in a fixed-size array: at most 30 bytes (a sign, 19
/// digits, a dot, 9 digits) and room for the last piece's whole chunk.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Stamp {
    text: [u8; 32],
    len: u8,
}

impl Stamp {
    /// The text.
    pub(crate) fn text(&self) -> &[u8] {
        self.text.get(..usize::from(self.len)).unwrap_or(&[])
    }
}

/// Renders capture timestamps as `SECS.FRAC`, reusing the seconds part while it stays the same
/// (it changes once a second of capture, not once a packet): only the fraction is written anew.
#[derive(Debug)]
pub(crate) struct Stamper {
    /// Sign and whole seconds of `stamp`, whose first `prefix_len` bytes (dot included) are theirs.
    key: Option<(bool, u64)>,
    stamp: Stamp,
    prefix_len: usize,
}

impl Default for Stamper {
    fn default() -> Self {
        Stamper {
            key: None,
            stamp: Stamp {
                text: [0; 32],
                len: 0,
            },
            prefix_len: 0,
        }
    }
}

impl Stamper {
    /// `secs.frac` with `digits` fractional digits (9, or 6 for anything else), truncated.
    pub(crate) fn render(&mut self, secs: i64, nanos: u32, digits: u8) -> &Stamp {
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
            self.new_second(neg, whole);
        }
        // At most 21 bytes of prefix, so the fraction's chunks fit the 32.
        let at = self.prefix_len;
        let len = if digits == 9 {
            let (first, rest) = ((frac_ns / 100_000_000) as u8, frac_ns % 100_000_000);
            if let Some(d) = self.stamp.text.get_mut(at..at + 9) {
                d[0] = b'0' + first;
                d[1..].copy_from_slice(&eight_digits(rest).to_le_bytes());
            }
            at + 9
        } else {
            // Six digits: the last six of the eight.
            let six = eight_digits(frac_ns / 1000) >> 16;
            if let Some(d) = self.stamp.text.get_mut(at..at + 8) {
                d.copy_from_slice(&six.to_le_bytes());
            }
            at + 6
        };
        self.stamp.len = len.min(32) as u8;
        &self.stamp
    }

    /// Writes the sign and whole seconds, and the dot, for the packets of a new second.
    #[cold]
    #[inline(never)]
    fn new_second(&mut self, neg: bool, whole: u64) {
        let mut line = Line::new(&mut self.stamp.text);
        if neg {
            line.push(b'-');
        }
        line.u(whole);
        line.push(b'.');
        self.prefix_len = line.len();
        self.key = Some((neg, whole));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(f: impl Fn(&mut Line<'_>)) -> String {
        let mut lines = Lines::with_capacity(0);
        lines.push(f);
        String::from_utf8(lines.text().to_vec()).unwrap()
    }

    #[test]
    fn integers() {
        assert_eq!(with(|l| l.u(0)), "0");
        assert_eq!(with(|l| l.u(u64::MAX)), u64::MAX.to_string());
        assert_eq!(with(|l| l.u(1234567)), "1234567");
        assert_eq!(with(|l| put_decimal(l, 42, 6)), "000042");
        assert_eq!(with(|l| put_decimal(l, 0, 9)), "000000000");
        assert_eq!(with(|l| put_decimal(l, 1234567, 3)), "1234567");
        assert_eq!(with(|l| put_decimal(l, u64::MAX, 9)), u64::MAX.to_string());
        assert_eq!(with(|l| put_decimal(l, 7, 25)), format!("{:020}", 7));
        // Every digit count, at and around each power of ten.
        for p in POW10 {
            for v in [p - 1, p, p + 1, p.saturating_mul(5)] {
                assert_eq!(with(|l| l.u(v)), v.to_string());
                assert_eq!(with(|l| put_decimal(l, v, 12)), format!("{v:012}"));
            }
        }
        for x in 0..=255u8 {
            assert_eq!(with(|l| l.ipv4([x, 0, x, 255])), format!("{x}.0.{x}.255"));
            assert_eq!(with(|l| l.ipv4([255, x, 1, x])), format!("255.{x}.1.{x}"));
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
        let shapes: [[u16; 8]; 11] = [
            [0; 8],
            [0, 0, 0, 0, 0, 0, 0, 1],
            [1, 0, 0, 0, 0, 0, 0, 0],
            [1, 0, 1, 0, 0, 1, 0, 0],
            [1, 0, 0, 1, 0, 0, 1, 1],
            [0x2001, 0xdb8, 0, 0, 1, 0, 0, 1],
            [0xffff; 8],
            [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0001],
            [0x2001, 0xdb8, 0x85a3, 0, 0x1000, 0x8a2e, 0x370, 0x7334],
            [0, 0, 0, 0, 0, 0, 0x0a00, 0x0001],
            [0xf, 0xf0, 0xf00, 0xf000, 0, 0xabc, 0, 0],
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
        assert_eq!(with(|l| l.hex16(0xabcf)), "0xabcf");
    }

    #[test]
    fn ipv6_texts_survive_eviction() {
        // Far more addresses than slots, twice over: every text right whether its slot held it,
        // held another address, or was empty.
        for round in 0..2 {
            for i in 0..2000u32 {
                let mut a = [0u8; 16];
                a[0] = 0x20;
                a[1] = 0x01;
                a[12..].copy_from_slice(&i.wrapping_mul(2_654_435_761).to_be_bytes());
                let addr = std::net::Ipv6Addr::from(a);
                assert_eq!(with(|l| l.ipv6(a)), addr.to_string(), "round {round}");
            }
        }
    }

    #[test]
    fn a_line_too_long_for_its_window_is_made_again() {
        let mut lines = Lines::with_capacity(0);
        lines.push(|l| l.s("head "));
        let long = "x".repeat(3 * LINE_ROOM);
        let mut calls = 0;
        lines.push(|l| {
            calls += 1;
            l.s(&long);
            l.u(42);
        });
        assert!(calls > 1);
        assert_eq!(lines.text(), format!("head {long}42").as_bytes());
        // A piece stored at its widest does not fit in the last bytes: marked, not panicking.
        let mut small = [0u8; 5];
        let mut l = Line::new(&mut small);
        l.u(123);
        assert_eq!(l.text(), b"");
        assert!(l.overflow);
    }

    #[test]
    fn replace_moves_what_follows() {
        let mut lines = Lines::with_capacity(0);
        lines.push(|l| l.s("1.000001 one\n"));
        lines.push(|l| l.s("2.000002 two\n"));
        lines.replace(13..21, b"2.000002000");
        assert_eq!(lines.text(), b"1.000001 one\n2.000002000 two\n");
        lines.replace(0..8, b"1.0");
        assert_eq!(lines.text(), b"1.0 one\n2.000002000 two\n");
        // Out of range: nothing happens.
        lines.replace(20..100, b"x");
        assert_eq!(lines.text(), b"1.0 one\n2.000002000 two\n");
        // Growing past the buffer grows it.
        let long = vec![b'x'; 3 * LINE_ROOM];
        lines.replace(0..1, &long);
        assert_eq!(lines.text().len(), 3 * LINE_ROOM + 23);
    }

    fn ts(secs: i64, nanos: u32, digits: u8) -> String {
        let stamp = *Stamper::default().render(secs, nanos, digits);
        String::from_utf8(stamp.text().to_vec()).unwrap()
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
        assert_eq!(
            ts(i64::MAX, 999_999_999, 9),
            format!("{}.999999999", i64::MAX)
        );
        // The seconds part is reused only while it stays the same.
        let mut s = Stamper::default();
        assert_eq!(s.render(5, 1_000, 6).text(), b"5.000001");
        assert_eq!(s.render(5, 2_000, 6).text(), b"5.000002");
        assert_eq!(s.render(-5, 0, 6).text(), b"-5.000000");
        assert_eq!(s.render(12, 0, 9).text(), b"12.000000000");
    }

    proptest::proptest! {
        #[test]
        fn agree_with_std(v: u64, w in 0usize..24, a: [u8; 16], zeros: u8) {
            proptest::prop_assert_eq!(with(|l| l.u(v)), v.to_string());
            proptest::prop_assert_eq!(
                with(|l| put_decimal(l, v, w)),
                format!("{v:0width$}", width = w.min(20))
            );
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
