//! The two small shared pages beside the policy image, mapped by the shim in every hooked
//! process and by the probe:
//!
//! - the **control page** (`control`, mode 0644, written only by the probe): the current policy
//!   generation and the fallback mode. The shim reads the generation with one atomic load per
//!   hooked call and maps the policy again when it changed, so a new policy takes effect on
//!   the next call of every process without a system call on the fast path.
//! - the **counters page** (`counters`, mode 0666, written by every hooked process): events
//!   written, events dropped and why, policy loads. Counters are atomic adds on shared memory;
//!   any process in the container can also scribble on them, so they are figures for an
//!   operator, not evidence.
//!
//! Both are [`PAGE_LEN`] bytes of little-endian u64 words. This module only interprets words;
//! mapping the files is the caller's business (its own small `unsafe` module). Nothing here
//! allocates or blocks.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::Fallback;

/// Length of each page file.
pub const PAGE_LEN: usize = 4096;
/// Words in a page.
pub const PAGE_WORDS: usize = PAGE_LEN / 8;
/// Word 0 of the control page.
pub const CONTROL_MAGIC: [u8; 8] = *b"RMPCTRL1";
/// Word 0 of the counters page.
pub const COUNTERS_MAGIC: [u8; 8] = *b"RMPCNTR1";
/// Layout version of both pages (word 1, low 32 bits).
pub const PAGES_VERSION: u32 = 1;

/// Control page words.
mod control_word {
    pub const MAGIC: usize = 0;
    /// Version in the low 32 bits, fallback byte in bits 32..40.
    pub const VERSION_FALLBACK: usize = 1;
    pub const GENERATION: usize = 2;
}

/// The first counter's word in the counters page.
const FIRST_COUNTER: usize = 8;

/// What the counters page counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(usize)]
pub enum Counter {
    /// Processes that loaded the shim (one per process image: exec counts again).
    ShimLoads = 0,
    /// Event records written to the FIFO.
    EventsWritten,
    /// Events dropped: the FIFO had no reader (the probe is gone) or was missing.
    DroppedNoReader,
    /// Events dropped: the FIFO was full (the probe is slow).
    DroppedFull,
    /// Events dropped: another write error.
    DroppedError,
    /// Allowed calls not reported in audit mode, over the rate limit.
    AuditSuppressed,
    /// Policy images mapped.
    PolicyLoads,
    /// Policy images that could not be mapped or were malformed.
    PolicyErrors,
    /// Calls decided by the fallback mode (no readable policy).
    FallbackDecisions,
    /// Calls denied (enforce mode).
    Denied,
    /// Calls the policy denies but audit mode let through.
    AuditDenied,
    /// Symlinked paths decided again after resolution.
    Resolved,
}

impl Counter {
    /// Every counter, in page order.
    pub const ALL: [Counter; 12] = [
        Counter::ShimLoads,
        Counter::EventsWritten,
        Counter::DroppedNoReader,
        Counter::DroppedFull,
        Counter::DroppedError,
        Counter::AuditSuppressed,
        Counter::PolicyLoads,
        Counter::PolicyErrors,
        Counter::FallbackDecisions,
        Counter::Denied,
        Counter::AuditDenied,
        Counter::Resolved,
    ];

    /// The counter's name, as `rampart probe stats` and EVE stats print it.
    pub fn name(self) -> &'static str {
        match self {
            Counter::ShimLoads => "shim_loads",
            Counter::EventsWritten => "events_written",
            Counter::DroppedNoReader => "events_dropped_no_reader",
            Counter::DroppedFull => "events_dropped_pipe_full",
            Counter::DroppedError => "events_dropped_error",
            Counter::AuditSuppressed => "audit_events_suppressed",
            Counter::PolicyLoads => "policy_loads",
            Counter::PolicyErrors => "policy_errors",
            Counter::FallbackDecisions => "fallback_decisions",
            Counter::Denied => "denied",
            Counter::AuditDenied => "audit_denied",
            Counter::Resolved => "resolved_after_symlink",
        }
    }

    fn word(self) -> usize {
        FIRST_COUNTER + self as usize
    }
}

/// A mapped control page.
#[derive(Debug, Clone, Copy)]
pub struct Control<'a> {
    words: &'a [AtomicU64; PAGE_WORDS],
}

impl<'a> Control<'a> {
    /// The page, if its magic and version are right.
    pub fn new_checked(words: &'a [AtomicU64; PAGE_WORDS]) -> Option<Self> {
        let magic = words[control_word::MAGIC].load(Ordering::Relaxed);
        let version = words[control_word::VERSION_FALLBACK].load(Ordering::Relaxed) as u32;
        (magic == u64::from_le_bytes(CONTROL_MAGIC) && version == PAGES_VERSION)
            .then_some(Control { words })
    }

    /// The current policy generation (0: none written yet). Acquire: a generation seen here
    /// was stored after its image was renamed into place.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.words[control_word::GENERATION].load(Ordering::Acquire)
    }

    /// Publishes a new generation (the probe, after renaming the image into place).
    pub fn set_generation(&self, generation: u64) {
        self.words[control_word::GENERATION].store(generation, Ordering::Release);
    }

    /// The fallback mode (allow if the byte is unknown).
    pub fn fallback(&self) -> Fallback {
        let b = (self.words[control_word::VERSION_FALLBACK].load(Ordering::Relaxed) >> 32) as u8;
        Fallback::from_u8(b).unwrap_or(Fallback::Allow)
    }

    /// Sets the fallback mode (the probe).
    pub fn set_fallback(&self, fallback: Fallback) {
        let word = u64::from(PAGES_VERSION) | (u64::from(fallback as u8) << 32);
        self.words[control_word::VERSION_FALLBACK].store(word, Ordering::Relaxed);
    }

    /// The bytes of a new control page file.
    pub fn initial_bytes(fallback: Fallback, generation: u64) -> Vec<u8> {
        let mut page = vec![0u8; PAGE_LEN];
        let word = u64::from(PAGES_VERSION) | (u64::from(fallback as u8) << 32);
        page[..8].copy_from_slice(&CONTROL_MAGIC);
        page[8..16].copy_from_slice(&word.to_le_bytes());
        page[16..24].copy_from_slice(&generation.to_le_bytes());
        page
    }
}

/// A mapped counters page.
#[derive(Debug, Clone, Copy)]
pub struct Counters<'a> {
    words: &'a [AtomicU64; PAGE_WORDS],
}

impl<'a> Counters<'a> {
    /// The page, if its magic and version are right.
    pub fn new_checked(words: &'a [AtomicU64; PAGE_WORDS]) -> Option<Self> {
        let magic = words[0].load(Ordering::Relaxed);
        let version = words[1].load(Ordering::Relaxed) as u32;
        (magic == u64::from_le_bytes(COUNTERS_MAGIC) && version == PAGES_VERSION)
            .then_some(Counters { words })
    }

    /// Adds one.
    #[inline]
    pub fn bump(&self, counter: Counter) {
        self.words[counter.word()].fetch_add(1, Ordering::Relaxed);
    }

    /// The current value.
    pub fn get(&self, counter: Counter) -> u64 {
        self.words[counter.word()].load(Ordering::Relaxed)
    }

    /// The bytes of a new counters page file (every counter zero).
    pub fn initial_bytes() -> Vec<u8> {
        let mut page = vec![0u8; PAGE_LEN];
        page[..8].copy_from_slice(&COUNTERS_MAGIC);
        page[8..12].copy_from_slice(&PAGES_VERSION.to_le_bytes());
        page
    }

    /// Reads the counters out of a page file's bytes (no mapping needed).
    pub fn from_bytes(page: &[u8]) -> Option<Vec<(Counter, u64)>> {
        if page.len() < PAGE_LEN || page[..8] != COUNTERS_MAGIC {
            return None;
        }
        Some(
            Counter::ALL
                .iter()
                .map(|&c| {
                    let at = c.word() * 8;
                    let mut w = [0u8; 8];
                    w.copy_from_slice(&page[at..at + 8]);
                    (c, u64::from_le_bytes(w))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(bytes: &[u8]) -> Box<[AtomicU64; PAGE_WORDS]> {
        let words: Vec<AtomicU64> = bytes
            .chunks_exact(8)
            .map(|c| AtomicU64::new(u64::from_le_bytes(c.try_into().unwrap())))
            .collect();
        words.into_boxed_slice().try_into().unwrap()
    }

    #[test]
    fn control_round_trip() {
        let words = page(&Control::initial_bytes(Fallback::Deny, 5));
        let c = Control::new_checked(&words).unwrap();
        assert_eq!((c.generation(), c.fallback()), (5, Fallback::Deny));
        c.set_generation(6);
        c.set_fallback(Fallback::Audit);
        assert_eq!((c.generation(), c.fallback()), (6, Fallback::Audit));
        assert!(Control::new_checked(&page(&Counters::initial_bytes())).is_none());
    }

    #[test]
    fn counters_count() {
        let words = page(&Counters::initial_bytes());
        let c = Counters::new_checked(&words).unwrap();
        c.bump(Counter::DroppedNoReader);
        c.bump(Counter::DroppedNoReader);
        assert_eq!(c.get(Counter::DroppedNoReader), 2);
        let bytes: Vec<u8> = words
            .iter()
            .flat_map(|w| w.load(Ordering::Relaxed).to_le_bytes())
            .collect();
        let read = Counters::from_bytes(&bytes).unwrap();
        assert!(read.contains(&(Counter::DroppedNoReader, 2)));
        assert!(read.contains(&(Counter::EventsWritten, 0)));
        assert!(
            Counters::new_checked(&page(&Control::initial_bytes(Fallback::Allow, 0))).is_none()
        );
        // Every counter has a word inside the page.
        assert!(Counter::ALL.iter().all(|c| c.word() < PAGE_WORDS));
    }
}
