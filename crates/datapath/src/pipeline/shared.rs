//! The slow path shared by every worker, behind one lock, with its generation published so that
//! workers can check for changes without taking the lock.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::slowpath::SlowPath;

/// The slow path shared by every worker, with its generation published for lock-free checks.
#[derive(Debug)]
pub struct SharedSlowPath {
    inner: Mutex<SlowPath>,
    generation: AtomicU64,
}

/// The slow path, locked; publishes the generation when released.
#[derive(Debug)]
pub struct SlowPathGuard<'a> {
    guard: MutexGuard<'a, SlowPath>,
    generation: &'a AtomicU64,
}

impl std::ops::Deref for SlowPathGuard<'_> {
    type Target = SlowPath;
    fn deref(&self) -> &SlowPath {
        &self.guard
    }
}

impl std::ops::DerefMut for SlowPathGuard<'_> {
    fn deref_mut(&mut self) -> &mut SlowPath {
        &mut self.guard
    }
}

impl Drop for SlowPathGuard<'_> {
    fn drop(&mut self) {
        self.generation
            .store(self.guard.generation(), Ordering::Release);
    }
}

impl SharedSlowPath {
    /// Shares a slow path.
    pub fn new(slow: SlowPath) -> Arc<Self> {
        let g = slow.generation();
        Arc::new(SharedSlowPath {
            inner: Mutex::new(slow),
            generation: AtomicU64::new(g),
        })
    }

    /// Locks the slow path. A worker that panicked while holding it cannot leave it in a state
    /// worse than stale decisions, so a poisoned lock is taken over.
    pub fn lock(&self) -> SlowPathGuard<'_> {
        SlowPathGuard {
            guard: self.inner.lock().unwrap_or_else(|e| e.into_inner()),
            generation: &self.generation,
        }
    }

    /// The last published generation (no lock).
    #[inline]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }
}
