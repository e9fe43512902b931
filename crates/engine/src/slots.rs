//! Per-connection state of an engine, indexed by connection handle.
//!
//! A [`ConnSlots`] holds at most one value per connection slot of the connection table, tagged
//! with the slot's generation: a value made for a connection that has ended is never handed to
//! the next connection in the slot, even if its end was somehow not reported. Growing the
//! storage allocates (once per new highest slot); using it does not.

use conn::ConnHandle;

/// Values of type `S`, one per live connection.
#[derive(Debug)]
pub struct ConnSlots<S> {
    slots: Vec<Option<(u32, S)>>,
    live: usize,
}

impl<S> Default for ConnSlots<S> {
    fn default() -> Self {
        ConnSlots {
            slots: Vec::new(),
            live: 0,
        }
    }
}

impl<S> ConnSlots<S> {
    /// No state.
    pub fn new() -> Self {
        ConnSlots::default()
    }

    /// The value of connection `h`, if there is one.
    #[inline]
    pub fn get(&self, h: ConnHandle) -> Option<&S> {
        match self.slots.get(h.index())? {
            Some((g, s)) if *g == h.generation() => Some(s),
            _ => None,
        }
    }

    /// The value of connection `h`, mutably, if there is one.
    #[inline]
    pub fn get_mut(&mut self, h: ConnHandle) -> Option<&mut S> {
        match self.slots.get_mut(h.index())? {
            Some((g, s)) if *g == h.generation() => Some(s),
            _ => None,
        }
    }

    /// The value of connection `h`, made by `make` when it has none (a stale value of an
    /// ended connection in the slot is dropped).
    #[inline]
    pub fn get_or_insert_with(&mut self, h: ConnHandle, make: impl FnOnce() -> S) -> &mut S {
        let i = h.index();
        if i >= self.slots.len() {
            self.slots.resize_with(i + 1, || None);
        }
        let slot = &mut self.slots[i];
        match slot {
            Some((g, _)) if *g == h.generation() => {}
            Some(_) => *slot = Some((h.generation(), make())),
            None => {
                *slot = Some((h.generation(), make()));
                self.live += 1;
            }
        }
        match slot {
            Some((_, s)) => s,
            None => unreachable!("the slot was just filled"),
        }
    }

    /// Takes connection `h`'s value out (its end).
    pub fn take(&mut self, h: ConnHandle) -> Option<S> {
        let slot = self.slots.get_mut(h.index())?;
        match slot {
            Some((g, _)) if *g == h.generation() => {
                self.live -= 1;
                slot.take().map(|(_, s)| s)
            }
            _ => None,
        }
    }

    /// Connections with a value.
    pub fn len(&self) -> usize {
        self.live
    }

    /// True when no connection has a value.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }
}

impl<S: Default> ConnSlots<S> {
    /// The value of connection `h`, made with `Default` when it has none.
    #[inline]
    pub fn get_or_default(&mut self, h: ConnHandle) -> &mut S {
        self.get_or_insert_with(h, S::default)
    }
}
