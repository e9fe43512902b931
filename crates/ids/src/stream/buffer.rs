//! One direction's stored stream bytes: a contiguous region addressed by stream offset, the
//! segments written into it (for the overlap policy) and the union of what is present (for
//! gaps).
//!
//! The region holds `[base, base + data.len())`; bytes not yet received inside it are zero and
//! absent from `coverage`. A segment is written once, after the overlap policy has decided,
//! byte by byte, which copy stays (the scheme of Suricata's `DoHandleData`: start from the new
//! bytes, copy back the old ones wherever the policy keeps them). Offsets below the caller's
//! `floor` (bytes already handed to a consumer) are never rewritten.
//!
//! Must never: allocate on the in-order path once warm (the region and the two lists keep their
//! capacity, and [`super::ReassemblyPool`] recycles them across connections), trust an offset
//! it was not given by the tracker (every slice is bounded by the region), or panic.

use super::policy::{Extent, OverlapPolicy};

/// What one write did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Written {
    /// Bytes at offsets that held nothing before.
    pub new_bytes: u64,
    /// The segment overlapped stored segments.
    pub overlap: bool,
    /// Some overlapped byte differed between the copies.
    pub different: bool,
}

#[derive(Debug, Default)]
pub(crate) struct StreamBuffer {
    /// Stream offset of `data[0]`.
    base: u64,
    data: Vec<u8>,
    /// Segments written at or above the floor, sorted by (start, end), no exact duplicates.
    extents: Vec<Extent>,
    /// Disjoint, sorted, non-touching extents of the bytes present in the region.
    coverage: Vec<Extent>,
    /// Length of the longest extent ever stored: bounds the backward overlap scan.
    longest: u64,
    /// Working copy of a segment under overlap resolution.
    scratch: Vec<u8>,
}

impl StreamBuffer {
    /// Forgets everything but keeps the allocations, for reuse by another stream.
    pub(crate) fn clear(&mut self) {
        self.base = 0;
        self.data.clear();
        self.extents.clear();
        self.coverage.clear();
        self.longest = 0;
        self.scratch.clear();
    }

    /// Starts the region at `offset` (a new stream, or one picked up midstream).
    pub(crate) fn start_at(&mut self, offset: u64) {
        self.clear();
        self.base = offset;
    }

    /// Bytes held: the region and the segment list. This is what memory caps count.
    pub(crate) fn held(&self) -> u64 {
        self.data.len() as u64 + (self.extents.len() * std::mem::size_of::<Extent>()) as u64
    }

    /// How many more bytes holding `[.., end)` would take.
    pub(crate) fn growth_for(&self, end: u64) -> u64 {
        end.saturating_sub(self.base + self.data.len() as u64)
            + std::mem::size_of::<Extent>() as u64
    }

    /// Stream offset of the first byte held.
    pub(crate) fn base(&self) -> u64 {
        self.base
    }

    /// One past the highest offset received, or `base` when empty.
    pub(crate) fn high(&self) -> u64 {
        self.coverage.last().map_or(self.base, |e| e.end)
    }

    /// End of the run of present bytes that contains `from`; `from` itself when absent.
    pub(crate) fn contiguous_end(&self, from: u64) -> u64 {
        let i = self.coverage.partition_point(|e| e.end <= from);
        match self.coverage.get(i) {
            Some(e) if e.start <= from => e.end,
            _ => from,
        }
    }

    /// Start of the run of present bytes that contains `at`; `at` itself when absent.
    pub(crate) fn run_start(&self, at: u64) -> u64 {
        let i = self.coverage.partition_point(|e| e.end <= at);
        match self.coverage.get(i) {
            Some(e) if e.start <= at => e.start,
            _ => at,
        }
    }

    /// The first present offset at or after `from`.
    pub(crate) fn next_present(&self, from: u64) -> Option<u64> {
        let i = self.coverage.partition_point(|e| e.end <= from);
        self.coverage.get(i).map(|e| e.start.max(from))
    }

    /// The held bytes of `[start, end)`, clamped to the region.
    pub(crate) fn slice(&self, start: u64, end: u64) -> &[u8] {
        let len = self.data.len() as u64;
        let lo = start.saturating_sub(self.base).min(len) as usize;
        let hi = end.saturating_sub(self.base).min(len) as usize;
        self.data.get(lo..hi.max(lo)).unwrap_or(&[])
    }

    /// Whether `payload` at `start` equals what is held there (for retransmissions below the
    /// floor). Bytes no longer held count as equal: there is nothing to compare them with.
    pub(crate) fn matches_held(&self, start: u64, payload: &[u8]) -> bool {
        let end = start + payload.len() as u64;
        let lo = start.max(self.base);
        let hi = end.min(self.base + self.data.len() as u64);
        if lo >= hi {
            return true;
        }
        let mut at = lo;
        // Compare only bytes that were actually present.
        let mut i = self.coverage.partition_point(|e| e.end <= lo);
        while let Some(e) = self.coverage.get(i) {
            if e.start >= hi {
                break;
            }
            let a = e.start.max(at);
            let b = e.end.min(hi);
            if a < b {
                let held = self.slice(a, b);
                let given = &payload[(a - start) as usize..(b - start) as usize];
                if held != given {
                    return false;
                }
            }
            at = b;
            i += 1;
        }
        true
    }

    /// Writes the segment that covered `segment` on the wire, whose bytes from
    /// `max(segment.start, floor)` are `payload[segment.start.max(floor) - segment.start..]`,
    /// resolving overlaps with stored segments by `policy`. The caller has checked memory
    /// ([`Self::growth_for`]) and that `segment.end > floor >= base`.
    pub(crate) fn write(
        &mut self,
        segment: Extent,
        payload: &[u8],
        floor: u64,
        policy: OverlapPolicy,
    ) -> Written {
        let write_start = segment.start.max(floor).max(self.base);
        if write_start >= segment.end {
            return Written::default();
        }
        let skip = (write_start - segment.start) as usize;
        let Some(bytes) = payload.get(skip..) else {
            return Written::default();
        };
        let needed = (segment.end - self.base) as usize;
        if self.data.len() < needed {
            self.data.resize(needed, 0);
        }
        let present_before = self.present_in(write_start, segment.end);
        let lo = (write_start - self.base) as usize;
        let hi = (segment.end - self.base) as usize;

        // Stored segments that overlap the written range: those starting before its end, back
        // to the first that could still reach it.
        let upper = self.extents.partition_point(|e| e.start < segment.end);
        let reach = write_start.saturating_sub(self.longest);
        let lower = self.extents[..upper].partition_point(|e| e.start < reach);
        let mut written = Written {
            new_bytes: (segment.end - write_start) - present_before,
            ..Written::default()
        };
        let overlapping = self.extents[lower..upper]
            .iter()
            .any(|old| old.end > write_start);
        if !overlapping {
            self.data[lo..hi].copy_from_slice(bytes);
        } else {
            written.overlap = true;
            self.scratch.clear();
            self.scratch.extend_from_slice(bytes);
            for old in &self.extents[lower..upper] {
                if old.end <= write_start {
                    continue;
                }
                let a = old.start.max(write_start);
                let b = old.end.min(segment.end);
                let held = &self.data[(a - self.base) as usize..(b - self.base) as usize];
                let new = &mut self.scratch[(a - write_start) as usize..(b - write_start) as usize];
                if held != new {
                    written.different = true;
                    if !policy.new_data_wins(segment, *old) {
                        new.copy_from_slice(held);
                    }
                }
            }
            self.data[lo..hi].copy_from_slice(&self.scratch);
        }

        let stored = Extent::new(segment.start.max(self.base), segment.end);
        let at = self.extents.partition_point(|e| *e < stored);
        if self.extents.get(at) != Some(&stored) {
            self.extents.insert(at, stored);
        }
        self.longest = self.longest.max(stored.len());
        self.cover(Extent::new(write_start, segment.end));
        written
    }

    /// How many offsets of `[start, end)` are present.
    fn present_in(&self, start: u64, end: u64) -> u64 {
        let mut i = self.coverage.partition_point(|e| e.end <= start);
        let mut total = 0;
        while let Some(e) = self.coverage.get(i) {
            if e.start >= end {
                break;
            }
            total += e.end.min(end) - e.start.max(start);
            i += 1;
        }
        total
    }

    /// Adds `range` to the coverage, merging with neighbours it touches.
    fn cover(&mut self, range: Extent) {
        let first = self.coverage.partition_point(|e| e.end < range.start);
        let mut last = first;
        let mut merged = range;
        while let Some(e) = self.coverage.get(last) {
            if e.start > merged.end {
                break;
            }
            merged.start = merged.start.min(e.start);
            merged.end = merged.end.max(e.end);
            last += 1;
        }
        if first == last {
            self.coverage.insert(first, merged);
        } else {
            self.coverage[first] = merged;
            self.coverage.drain(first + 1..last);
        }
    }

    /// Drops segments that end at or below `floor`: bytes there are final and no longer take
    /// part in overlap decisions.
    pub(crate) fn forget_segments_below(&mut self, floor: u64) {
        if self.extents.first().is_some_and(|e| e.end <= floor) || self.extents.len() > 64 {
            self.extents.retain(|e| e.end > floor);
        }
    }

    /// Lets go of the bytes below `offset` (no consumer needs them any more). The region is
    /// only moved when that frees at least half of it, so the copy is amortised.
    pub(crate) fn release_before(&mut self, offset: u64) {
        let offset = offset.min(self.base + self.data.len() as u64);
        if offset <= self.base {
            return;
        }
        let dead = (offset - self.base) as usize;
        if dead * 2 < self.data.len() && dead < 64 * 1024 {
            return;
        }
        self.data.drain(..dead);
        self.base = offset;
        let keep = self.coverage.partition_point(|e| e.end <= offset);
        self.coverage.drain(..keep);
        if let Some(first) = self.coverage.first_mut() {
            first.start = first.start.max(offset);
        }
        self.extents.retain(|e| e.end > offset);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The region from offset 0 to the highest byte, as Suricata's overlap tests print it.
    fn render(buf: &StreamBuffer) -> Vec<u8> {
        buf.slice(0, buf.high()).to_vec()
    }

    fn step(buf: &mut StreamBuffer, policy: OverlapPolicy, rel_seq: u64, data: &[u8]) {
        // Suricata's tests count sequence numbers from the ISN: offset 0 is ISN + 1.
        let start = rel_seq - 1;
        buf.write(
            Extent::new(start, start + data.len() as u64),
            data,
            0,
            policy,
        );
    }

    #[test]
    fn in_order_writes_are_contiguous() {
        let mut buf = StreamBuffer::default();
        let w = buf.write(Extent::new(0, 3), b"abc", 0, OverlapPolicy::Bsd);
        assert_eq!(
            w,
            Written {
                new_bytes: 3,
                overlap: false,
                different: false
            }
        );
        buf.write(Extent::new(3, 5), b"de", 0, OverlapPolicy::Bsd);
        assert_eq!(buf.contiguous_end(0), 5);
        assert_eq!(buf.slice(1, 4), b"bcd");
        assert_eq!(buf.next_present(5), None);
    }

    #[test]
    fn holes_are_not_present() {
        let mut buf = StreamBuffer::default();
        buf.write(Extent::new(4, 6), b"ef", 0, OverlapPolicy::Bsd);
        assert_eq!(buf.contiguous_end(0), 0);
        assert_eq!(buf.next_present(0), Some(4));
        assert_eq!(buf.contiguous_end(4), 6);
        buf.write(Extent::new(0, 4), b"abcd", 0, OverlapPolicy::Bsd);
        assert_eq!(buf.contiguous_end(0), 6);
        assert_eq!(render(&buf), b"abcdef");
    }

    #[test]
    fn the_floor_is_never_rewritten() {
        let mut buf = StreamBuffer::default();
        buf.write(Extent::new(0, 4), b"abcd", 0, OverlapPolicy::Last);
        let w = buf.write(Extent::new(0, 6), b"XXXXef", 4, OverlapPolicy::Last);
        assert_eq!(w.new_bytes, 2);
        assert_eq!(render(&buf), b"abcdef");
        assert!(buf.matches_held(1, b"bcd"));
        assert!(!buf.matches_held(1, b"bXd"));
    }

    #[test]
    fn release_keeps_offsets_stable() {
        let mut buf = StreamBuffer::default();
        let data: Vec<u8> = (0..200u8).collect();
        buf.write(Extent::new(0, 200), &data, 0, OverlapPolicy::Bsd);
        buf.release_before(150);
        assert_eq!(buf.base(), 150);
        assert_eq!(buf.slice(150, 153), &[150, 151, 152]);
        assert_eq!(buf.contiguous_end(160), 200);
        buf.forget_segments_below(200);
        assert_eq!(buf.held(), 50);
    }

    // The classic vectors of Suricata's `stream-tcp-list.c` tests (after Novak and Sturges):
    // each step writes a segment and the whole buffer must then read as given, with `\0` for
    // bytes not received yet.

    type Steps<'a> = &'a [(u64, &'a str, &'a str)];

    fn run(policy: OverlapPolicy, steps: Steps<'_>) {
        let mut buf = StreamBuffer::default();
        for (i, (rel_seq, data, want)) in steps.iter().enumerate() {
            step(&mut buf, policy, *rel_seq, data.as_bytes());
            assert_eq!(
                String::from_utf8_lossy(&render(&buf)),
                want.replace('.', "\0"),
                "{policy}: step {i} ({data:?} at {rel_seq})"
            );
        }
    }

    /// The long vector: the same nine segments, then nine overlapping ones.
    fn long_vector(policy: OverlapPolicy, tail: [&str; 9]) {
        let setup: Steps<'_> = &[
            (2, "AAA", ".AAA"),
            (6, "BB", ".AAA.BB"),
            (8, "CCC", ".AAA.BBCCC"),
            (12, "D", ".AAA.BBCCC.D"),
            (15, "EE", ".AAA.BBCCC.D..EE"),
            (17, "FFF", ".AAA.BBCCC.D..EEFFF"),
            (20, "GG", ".AAA.BBCCC.D..EEFFFGG"),
            (22, "HH", ".AAA.BBCCC.D..EEFFFGGHH"),
            (24, "I", ".AAA.BBCCC.D..EEFFFGGHHI"),
        ];
        let overlaps = [
            (3, "JJJJ"),
            (8, "KKK"),
            (11, "LLL"),
            (14, "MMM"),
            (18, "N"),
            (21, "O"),
            (22, "P"),
            (24, "QQ"),
            (1, "0"),
        ];
        let mut steps: Vec<(u64, &str, &str)> = setup.to_vec();
        // The tail lists the expected buffer after each overlapping segment.
        for ((seq, data), want) in overlaps.iter().zip(tail) {
            steps.push((*seq, data, want));
        }
        run(policy, &steps);
    }

    #[test]
    fn bsd_vectors() {
        for policy in [
            OverlapPolicy::Bsd,
            OverlapPolicy::Hpux10,
            OverlapPolicy::Irix,
            OverlapPolicy::Windows,
            OverlapPolicy::Windows2k3,
            OverlapPolicy::Macos,
        ] {
            long_vector(
                policy,
                [
                    ".AAAJJBCCC.D..EEFFFGGHHI",
                    ".AAAJJBCCC.D..EEFFFGGHHI",
                    ".AAAJJBCCCLLL.EEFFFGGHHI",
                    ".AAAJJBCCCLLLMMMFFFGGHHI",
                    ".AAAJJBCCCLLLMMMFFFGGHHI",
                    ".AAAJJBCCCLLLMMMFFFGGHHI",
                    ".AAAJJBCCCLLLMMMFFFGGHHI",
                    ".AAAJJBCCCLLLMMMFFFGGHHIQ",
                    "0AAAJJBCCCLLLMMMFFFGGHHIQ",
                ],
            );
            run(
                policy,
                &[
                    (3, "B", "..B"),
                    (9, "D", "..B.....D"),
                    (12, "EE", "..B.....D..EE"),
                    (2, "AA", ".AA.....D..EE"),
                    (1, "JJJJ", "JJJJ....D..EE"),
                    (8, "LLL", "JJJJ...LLL.EE"),
                    (11, "MMM", "JJJJ...LLLMMM"),
                ],
            );
            run(
                policy,
                &[
                    (1, "CCC", "CCC"),
                    (15, "HH", "CCC...........HH"),
                    (17, "II", "CCC...........HHII"),
                    (1, "KKK", "CCC...........HHII"),
                    (1, "LLLL", "CCCL..........HHII"),
                    (15, "P", "CCCL..........HHII"),
                    (15, "QQ", "CCCL..........HHII"),
                ],
            );
            run(
                policy,
                &[
                    (1, "AA", "AA"),
                    (16, "FFF", "AA.............FFF"),
                    (19, "GG", "AA.............FFFGG"),
                    (2, "JJ", "AAJ............FFFGG"),
                    (20, "O", "AAJ............FFFGG"),
                    (17, "N", "AAJ............FFFGG"),
                ],
            );
        }
        // Suricata's tests 30 to 32.
        run(
            OverlapPolicy::Bsd,
            &[(3, "BBB", "..BBB"), (1, "AA", "AABBB")],
        );
        run(OverlapPolicy::Bsd, &[(1, "AA", "AA"), (3, "BBB", "AABBB")]);
        run(
            OverlapPolicy::Bsd,
            &[
                (11, "AAAAAAAAAA", "..........AAAAAAAAAA"),
                (21, "BBBBBBBBBB", "..........AAAAAAAAAABBBBBBBBBB"),
                (
                    41,
                    "CCCCCCCCCC",
                    "..........AAAAAAAAAABBBBBBBBBB..........CCCCCCCCCC",
                ),
                (
                    6,
                    "aaaaaaaaaaaaaaaaaaaa",
                    ".....aaaaaaaaaaaaaaaaaaaaBBBBB..........CCCCCCCCCC",
                ),
                (
                    1,
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                    "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
                ),
            ],
        );
    }

    #[test]
    fn vista_and_first_vectors() {
        for policy in [OverlapPolicy::Vista, OverlapPolicy::First] {
            long_vector(
                policy,
                [
                    ".AAAJBBCCC.D..EEFFFGGHHI",
                    ".AAAJBBCCC.D..EEFFFGGHHI",
                    ".AAAJBBCCCLDL.EEFFFGGHHI",
                    ".AAAJBBCCCLDLMEEFFFGGHHI",
                    ".AAAJBBCCCLDLMEEFFFGGHHI",
                    ".AAAJBBCCCLDLMEEFFFGGHHI",
                    ".AAAJBBCCCLDLMEEFFFGGHHI",
                    ".AAAJBBCCCLDLMEEFFFGGHHIQ",
                    "0AAAJBBCCCLDLMEEFFFGGHHIQ",
                ],
            );
            run(
                policy,
                &[
                    (3, "B", "..B"),
                    (9, "D", "..B.....D"),
                    (12, "EE", "..B.....D..EE"),
                    (2, "AA", ".AB.....D..EE"),
                    (1, "JJJJ", "JABJ....D..EE"),
                    (8, "LLL", "JABJ...LDL.EE"),
                    (11, "MMM", "JABJ...LDLMEE"),
                ],
            );
            run(
                policy,
                &[
                    (1, "CCC", "CCC"),
                    (15, "HH", "CCC...........HH"),
                    (17, "II", "CCC...........HHII"),
                    (1, "KKK", "CCC...........HHII"),
                    (1, "LLLL", "CCCL..........HHII"),
                    (15, "P", "CCCL..........HHII"),
                    (15, "QQ", "CCCL..........HHII"),
                ],
            );
            run(
                policy,
                &[
                    (1, "AA", "AA"),
                    (16, "FFF", "AA.............FFF"),
                    (19, "GG", "AA.............FFFGG"),
                    (2, "JJ", "AAJ............FFFGG"),
                    (20, "O", "AAJ............FFFGG"),
                    (17, "N", "AAJ............FFFGG"),
                ],
            );
        }
    }

    #[test]
    fn linux_vectors() {
        long_vector(
            OverlapPolicy::Linux,
            [
                ".AAAJJBCCC.D..EEFFFGGHHI",
                ".AAAJJBCCC.D..EEFFFGGHHI",
                ".AAAJJBCCCLLL.EEFFFGGHHI",
                ".AAAJJBCCCLLLMMMFFFGGHHI",
                ".AAAJJBCCCLLLMMMFFFGGHHI",
                ".AAAJJBCCCLLLMMMFFFGGHHI",
                ".AAAJJBCCCLLLMMMFFFGGHHI",
                ".AAAJJBCCCLLLMMMFFFGGHHQQ",
                "0AAAJJBCCCLLLMMMFFFGGHHQQ",
            ],
        );
        run(
            OverlapPolicy::Linux,
            &[
                (1, "CCC", "CCC"),
                (15, "HH", "CCC...........HH"),
                (17, "II", "CCC...........HHII"),
                (1, "KKK", "CCC...........HHII"),
                (1, "LLLL", "LLLL..........HHII"),
                (15, "P", "LLLL..........HHII"),
                (15, "QQ", "LLLL..........HHII"),
            ],
        );
    }

    #[test]
    fn old_linux_vectors() {
        long_vector(
            OverlapPolicy::OldLinux,
            [
                ".AAAJJBCCC.D..EEFFFGGHHI",
                ".AAAJJBKKK.D..EEFFFGGHHI",
                ".AAAJJBKKKLLL.EEFFFGGHHI",
                ".AAAJJBKKKLLLMMMFFFGGHHI",
                ".AAAJJBKKKLLLMMMFFFGGHHI",
                ".AAAJJBKKKLLLMMMFFFGGHHI",
                ".AAAJJBKKKLLLMMMFFFGGHHI",
                ".AAAJJBKKKLLLMMMFFFGGHHQQ",
                "0AAAJJBKKKLLLMMMFFFGGHHQQ",
            ],
        );
        run(
            OverlapPolicy::OldLinux,
            &[
                (1, "CCC", "CCC"),
                (15, "HH", "CCC...........HH"),
                (17, "II", "CCC...........HHII"),
                (1, "KKK", "KKK...........HHII"),
                (1, "LLLL", "LLLL..........HHII"),
                (15, "P", "LLLL..........HHII"),
                (15, "QQ", "LLLL..........QQII"),
            ],
        );
    }

    #[test]
    fn solaris_vectors() {
        for policy in [OverlapPolicy::Solaris, OverlapPolicy::Hpux11] {
            long_vector(
                policy,
                [
                    ".AJJJBBCCC.D..EEFFFGGHHI",
                    ".AJJJBBKKK.D..EEFFFGGHHI",
                    ".AJJJBBKKKLLL.EEFFFGGHHI",
                    ".AJJJBBKKKLLLMMMFFFGGHHI",
                    ".AJJJBBKKKLLLMMMFFFGGHHI",
                    ".AJJJBBKKKLLLMMMFFFGGHHI",
                    ".AJJJBBKKKLLLMMMFFFGGHHI",
                    ".AJJJBBKKKLLLMMMFFFGGHHQQ",
                    "0AJJJBBKKKLLLMMMFFFGGHHQQ",
                ],
            );
            run(
                policy,
                &[
                    (1, "AA", "AA"),
                    (16, "FFF", "AA.............FFF"),
                    (19, "GG", "AA.............FFFGG"),
                    (2, "JJ", "AJJ............FFFGG"),
                    (20, "O", "AJJ............FFFGG"),
                    (17, "N", "AJJ............FFFGG"),
                ],
            );
        }
    }

    #[test]
    fn last_vectors() {
        long_vector(
            OverlapPolicy::Last,
            [
                ".AJJJJBCCC.D..EEFFFGGHHI",
                ".AJJJJBKKK.D..EEFFFGGHHI",
                ".AJJJJBKKKLLL.EEFFFGGHHI",
                ".AJJJJBKKKLLLMMMFFFGGHHI",
                ".AJJJJBKKKLLLMMMFNFGGHHI",
                ".AJJJJBKKKLLLMMMFNFGOHHI",
                ".AJJJJBKKKLLLMMMFNFGOPHI",
                ".AJJJJBKKKLLLMMMFNFGOPHQQ",
                "0AJJJJBKKKLLLMMMFNFGOPHQQ",
            ],
        );
        run(
            OverlapPolicy::Last,
            &[
                (1, "CCC", "CCC"),
                (15, "HH", "CCC...........HH"),
                (17, "II", "CCC...........HHII"),
                (1, "KKK", "KKK...........HHII"),
                (1, "LLLL", "LLLL..........HHII"),
                (15, "P", "LLLL..........PHII"),
                (15, "QQ", "LLLL..........QQII"),
            ],
        );
    }
}
