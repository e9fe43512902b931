//! Publishing policy snapshots to workers and swapping them atomically on reload, with the
//! standard library only.
//!
//! A [`PolicyCell`] holds the current `Arc<Policy>` behind a mutex and its generation in an
//! atomic counter. Each worker keeps a [`PolicyReader`]: its own `Arc` of the snapshot, and the
//! generation it holds. Per batch the worker calls [`PolicyReader::current`], which costs one
//! atomic load (Acquire) while nothing changed; after a reload it takes the mutex once to
//! clone the new `Arc`. A worker therefore never blocks on the lock in the steady state, sees
//! either the old or the new snapshot whole (never a mix), and switches at a batch boundary.
//! The old snapshot is freed when the last worker holding it moves on. A reload never waits
//! for the workers. (The `arc-swap` crate would save the one lock per worker per reload; the
//! readers' steady-state cost, one atomic load, is the same, so no dependency is taken.)
//!
//! Connections judged under an older snapshot keep their verdict until the firewall
//! revalidates them; [`Policy::generation`] tells it which snapshot judged an entry.
//!
//! The engine interface has its own delivery: the datapath hands every worker's engines an
//! `engine::Snapshot { kind, generation, data: Arc<dyn Any + Send + Sync> }` at a batch
//! boundary. A `Policy` goes through it as it is (`kind = "policy"`, `data =
//! Arc::new(policy)`, numbered with [`Policy::set_generation`]) and a firewall engine takes it
//! back with `data.downcast::<Policy>()`. `PolicyCell` is for readers outside that path (a
//! control socket, the manager's agent, tests) or a firewall that polls instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::Policy;

/// The current policy snapshot, shared by every worker.
#[derive(Debug)]
pub struct PolicyCell {
    current: Mutex<Arc<Policy>>,
    /// The generation of `current`, readable without the lock.
    generation: AtomicU64,
}

impl PolicyCell {
    /// A cell holding its first snapshot, published as generation 1.
    pub fn new(mut policy: Policy) -> Arc<PolicyCell> {
        policy.set_generation(1);
        Arc::new(PolicyCell {
            current: Mutex::new(Arc::new(policy)),
            generation: AtomicU64::new(1),
        })
    }

    /// Publishes a new snapshot (a reload): it becomes the next generation, which is returned.
    /// Workers pick it up at their next [`PolicyReader::current`].
    pub fn publish(&self, mut policy: Policy) -> u64 {
        let mut current = self.current.lock().unwrap_or_else(PoisonError::into_inner);
        let generation = current.generation() + 1;
        policy.set_generation(generation);
        *current = Arc::new(policy);
        // Stored under the lock, after the snapshot: a reader that sees the new generation
        // finds the new snapshot when it takes the lock.
        self.generation.store(generation, Ordering::Release);
        generation
    }

    /// The current snapshot.
    pub fn load(&self) -> Arc<Policy> {
        Arc::clone(&self.current.lock().unwrap_or_else(PoisonError::into_inner))
    }

    /// The current generation.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// A reader for one worker.
    pub fn reader(self: &Arc<Self>) -> PolicyReader {
        PolicyReader {
            cached: self.load(),
            cell: Arc::clone(self),
        }
    }
}

/// One worker's view of the current snapshot.
#[derive(Debug, Clone)]
pub struct PolicyReader {
    cell: Arc<PolicyCell>,
    cached: Arc<Policy>,
}

impl PolicyReader {
    /// The current snapshot: the cached one unless a newer generation was published (one
    /// atomic load), else the new one (one lock, once per reload).
    #[inline]
    pub fn current(&mut self) -> &Arc<Policy> {
        if self.cell.generation.load(Ordering::Acquire) != self.cached.generation() {
            self.cached = self.cell.load();
        }
        &self.cached
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn policy(text: &str) -> Policy {
        let doc = crate::Document::parse(text.into(), Path::new("t.toml")).unwrap();
        Policy::compile(doc.validate(None).unwrap(), None).policy
    }

    #[test]
    fn a_policy_travels_as_an_engine_snapshot() {
        let mut p = policy("");
        p.set_generation(7);
        let data: Arc<dyn std::any::Any + Send + Sync> = Arc::new(p);
        let back = data.downcast::<Policy>().expect("a Policy");
        assert_eq!(back.generation(), 7);
    }

    #[test]
    fn snapshots_can_be_shared_between_threads() {
        fn shared<T: Send + Sync>() {}
        shared::<Policy>();
        shared::<PolicyCell>();
        fn sent<T: Send>() {}
        sent::<PolicyReader>();
    }

    #[test]
    fn readers_see_a_publication_at_their_next_call() {
        let cell = PolicyCell::new(policy("[default]\naction = \"deny\"\n"));
        let mut r = cell.reader();
        assert_eq!(r.current().generation(), 1);
        assert_eq!(r.current().default_rule().action, crate::Action::Deny);
        let old = Arc::clone(r.current());
        assert_eq!(cell.publish(policy("[default]\naction = \"allow\"\n")), 2);
        // The worker's own copy is untouched until it asks again.
        assert_eq!(old.default_rule().action, crate::Action::Deny);
        assert_eq!(r.current().generation(), 2);
        assert_eq!(r.current().default_rule().action, crate::Action::Allow);
        assert_eq!(cell.generation(), 2);
    }

    #[test]
    fn readers_on_threads_only_move_forward() {
        let cell = PolicyCell::new(policy(""));
        let handles: Vec<_> = (0..2)
            .map(|_| {
                let mut r = cell.reader();
                std::thread::spawn(move || {
                    let mut last = 0;
                    while last < 20 {
                        let g = r.current().generation();
                        assert!(g >= last, "generation went back from {last} to {g}");
                        last = g;
                        std::thread::yield_now();
                    }
                })
            })
            .collect();
        for _ in 0..19 {
            cell.publish(policy(""));
        }
        for h in handles {
            h.join().unwrap();
        }
    }
}
