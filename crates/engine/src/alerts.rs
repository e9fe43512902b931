//! Alerts: what an engine raises, kept per batch in an arena so that raising one allocates
//! nothing once the arena has grown.
//!
//! An [`Alert`] borrows its texts (a rule's message and class live in the engine's compiled
//! rules); [`Alerts::push`] copies them into the arena's text buffer and records an
//! [`AlertRecord`] of ranges. The arena is cleared for every batch, after the datapath has
//! written the batch's alerts out.

use std::ops::Range;

/// An alert as an engine raises it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Alert<'a> {
    /// Generator id: 1 for rules, other values for an engine's own detections.
    pub gid: u32,
    /// Signature id.
    pub sid: u32,
    /// Signature revision.
    pub rev: u32,
    /// The message (a rule's `msg`).
    pub msg: &'a str,
    /// The classification's description (`""` when none).
    pub class: &'a str,
    /// 1 (highest) to 255.
    pub severity: u8,
    /// True when the alert's own action blocks the traffic (an IPS drop or reject rule, a
    /// firewall deny with an alarm); EVE writes `"action":"blocked"`.
    pub blocked: bool,
}

impl<'a> Alert<'a> {
    /// An alert that lets the traffic pass.
    pub const fn new(
        gid: u32,
        sid: u32,
        rev: u32,
        msg: &'a str,
        class: &'a str,
        severity: u8,
    ) -> Self {
        Alert {
            gid,
            sid,
            rev,
            msg,
            class,
            severity,
            blocked: false,
        }
    }

    /// The same alert, as blocking.
    pub const fn blocking(mut self) -> Self {
        self.blocked = true;
        self
    }
}

/// An alert in the arena.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    /// The packet of the batch it is about (an index into the stage's views), or `u16::MAX`
    /// for an alert about a connection as a whole ([`crate::Engine::conn_end`]).
    pub packet: u16,
    pub engine: &'static str,
    pub gid: u32,
    pub sid: u32,
    pub rev: u32,
    pub severity: u8,
    pub blocked: bool,
    msg: Range<u32>,
    class: Range<u32>,
    extra: Range<u32>,
}

/// The alerts of one batch.
#[derive(Debug, Default)]
pub struct Alerts {
    records: Vec<AlertRecord>,
    text: Vec<u8>,
}

impl Alerts {
    /// An empty arena.
    pub fn new() -> Self {
        Alerts::default()
    }

    /// Empties the arena, keeping its buffers.
    pub fn clear(&mut self) {
        self.records.clear();
        self.text.clear();
    }

    /// Number of alerts.
    pub fn len(&self) -> usize {
        self.records.len()
    }

    /// True when there is none.
    pub fn is_empty(&self) -> bool {
        self.records.is_empty()
    }

    fn put(&mut self, s: &[u8]) -> Range<u32> {
        let start = self.text.len() as u32;
        self.text.extend_from_slice(s);
        start..self.text.len() as u32
    }

    /// Adds an alert about `packet`, raised by `engine`; `extra` may append EVE members (as
    /// JSON, without a leading comma). An `extra` that fails adds the alert without them.
    pub fn push(
        &mut self,
        packet: u16,
        engine: &'static str,
        a: &Alert<'_>,
        extra: impl FnOnce(&mut Vec<u8>) -> std::io::Result<()>,
    ) {
        let msg = self.put(a.msg.as_bytes());
        let class = self.put(a.class.as_bytes());
        let start = self.text.len();
        let extra = match extra(&mut self.text) {
            Ok(()) => start as u32..self.text.len() as u32,
            Err(_) => {
                self.text.truncate(start);
                start as u32..start as u32
            }
        };
        self.records.push(AlertRecord {
            packet,
            engine,
            gid: a.gid,
            sid: a.sid,
            rev: a.rev,
            severity: a.severity,
            blocked: a.blocked,
            msg,
            class,
            extra,
        });
    }

    /// The alerts, in the order they were raised.
    pub fn records(&self) -> &[AlertRecord] {
        &self.records
    }

    /// Moves the records to other packet indices (`map[old] = new`), when a chain ran over a
    /// subset of a batch.
    pub fn remap(&mut self, from: usize, map: impl Fn(u16) -> u16) {
        for r in self.records.iter_mut().skip(from) {
            if r.packet != u16::MAX {
                r.packet = map(r.packet);
            }
        }
    }

    fn text(&self, r: &Range<u32>) -> &str {
        self.text
            .get(r.start as usize..r.end as usize)
            .and_then(|b| std::str::from_utf8(b).ok())
            .unwrap_or("")
    }

    /// A record's message.
    pub fn msg(&self, r: &AlertRecord) -> &str {
        self.text(&r.msg)
    }

    /// A record's class description.
    pub fn class(&self, r: &AlertRecord) -> &str {
        self.text(&r.class)
    }

    /// A record's extra EVE members (JSON without a leading comma; empty when none).
    pub fn extra(&self, r: &AlertRecord) -> &str {
        self.text(&r.extra)
    }

    /// Appends every alert of `other` (emptying it), their packet indices unchanged.
    pub fn append(&mut self, other: &mut Alerts) {
        let base = self.text.len() as u32;
        self.text.extend_from_slice(&other.text);
        let shift = |r: &Range<u32>| r.start + base..r.end + base;
        for r in other.records.drain(..) {
            self.records.push(AlertRecord {
                msg: shift(&r.msg),
                class: shift(&r.class),
                extra: shift(&r.extra),
                ..r
            });
        }
        other.text.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_survive_in_the_arena() {
        let mut a = Alerts::new();
        let msg = String::from("ET WEB_SERVER SQL injection");
        a.push(
            3,
            "ids",
            &Alert::new(1, 2_000_001, 4, &msg, "Web Application Attack", 1),
            |w| {
                w.extend_from_slice(br#""http":{"url":"/x"}"#);
                Ok(())
            },
        );
        drop(msg);
        a.push(
            0,
            "fw",
            &Alert::new(2, 7, 1, "zone deny", "", 2).blocking(),
            |_| Err(std::io::Error::other("no")),
        );
        let r = &a.records()[0];
        assert_eq!((r.packet, r.sid, r.rev), (3, 2_000_001, 4));
        assert_eq!(a.msg(r), "ET WEB_SERVER SQL injection");
        assert_eq!(a.class(r), "Web Application Attack");
        assert_eq!(a.extra(r), r#""http":{"url":"/x"}"#);
        let r = &a.records()[1];
        assert!(r.blocked);
        assert_eq!(a.extra(r), "");
        let mut b = Alerts::new();
        b.push(1, "x", &Alert::new(1, 1, 1, "first", "c", 3), |_| Ok(()));
        b.append(&mut a);
        assert_eq!(b.len(), 3);
        assert_eq!(b.msg(&b.records()[1]), "ET WEB_SERVER SQL injection");
        assert!(a.is_empty());
    }
}
