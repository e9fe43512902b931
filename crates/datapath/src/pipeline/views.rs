//! A reused vector for a stage's packet views, kept by the worker between batches so that
//! building the views of a batch allocates nothing.
//!
//! A [`PacketView`] borrows its packet's buffer, whose lazily made parse lives in a `OnceCell`
//! (not `Sync`), so a vector of views is not `Send`, and neither would a worker that kept one
//! be. The pool only ever holds an *empty* vector: [`ViewPool::take`] hands the buffer out
//! re-typed for the caller's lifetime and [`ViewPool::put`] clears it before keeping it. An
//! empty vector refers to nothing, which is what makes sending the pool to another thread
//! sound.

use engine::PacketView;

/// Reuses a vector's allocation for views of another lifetime (the in-place collect of an
/// emptied vector keeps its buffer).
fn recycle<'a, 'b>(mut v: Vec<PacketView<'a>>) -> Vec<PacketView<'b>> {
    v.clear();
    v.into_iter()
        .map(|_| unreachable!("the vector is empty"))
        .collect()
}

/// The empty vector of views a worker keeps between batches.
#[derive(Debug)]
pub(super) struct ViewPool {
    empty: Vec<PacketView<'static>>,
}

// SAFETY: `empty` is always empty: it is made empty (`new`), and `put` clears a vector before
// keeping it, so the pool holds no `PacketView` and thus no reference to a packet buffer. The
// only thing it owns is an allocation, which may move to another thread like any `Vec`'s.
unsafe impl Send for ViewPool {}

impl ViewPool {
    /// A pool with room for `capacity` views.
    pub(super) fn new(capacity: usize) -> Self {
        ViewPool {
            empty: Vec::with_capacity(capacity),
        }
    }

    /// The pooled vector, empty, for views of any lifetime.
    pub(super) fn take<'a>(&mut self) -> Vec<PacketView<'a>> {
        recycle(std::mem::take(&mut self.empty))
    }

    /// Gives a vector back (it is emptied first).
    pub(super) fn put(&mut self, v: Vec<PacketView<'_>>) {
        self.empty = recycle(v);
    }
}
