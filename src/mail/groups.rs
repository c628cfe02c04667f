//! Items handed from one thread to the next in groups, for the stages of a sync and an import.
//!
//! [`Groups`]: one channel operation, and at most one thread wake-up, per group rather than
//! per item. On 10,000 small messages the wake-ups alone cost more CPU time than fetching them.
//!
//! [`give_back`]: freeing on the thread that allocated. A sync or an import parses on one
//! thread and stores on another. Freed on the storing thread, each of the parser's allocations
//! (a parsed message is some 30 of them) went back to the parser's malloc arena under that
//! arena's lock, which the parser held meanwhile to allocate the next message: on a
//! 10,000-message sync the storing thread, which sets the pace, slept on that lock about 150
//! times and then waited for a core each time. What the store is done with goes back to the
//! parser in groups instead, and is freed there.

use std::sync::mpsc::{Receiver, Sender, SyncSender, channel};

/// Where a group goes: a bounded channel (the next stage waits for room) or an unbounded one.
pub trait Sink<T> {
    /// False once the receiving side has stopped.
    fn send_group(&self, group: Vec<T>) -> bool;
}

impl<T> Sink<T> for SyncSender<Vec<T>> {
    fn send_group(&self, group: Vec<T>) -> bool {
        self.send(group).is_ok()
    }
}

impl<T> Sink<T> for Sender<Vec<T>> {
    fn send_group(&self, group: Vec<T>) -> bool {
        self.send(group).is_ok()
    }
}

/// Items on their way to another thread, handed on in groups; what waits goes on when dropped.
pub struct Groups<T, S: Sink<T>> {
    send: S,
    buf: Vec<T>,
    bytes: usize,
}

/// At most this many items, or about this many bytes, wait in a group.
pub const ITEMS: usize = 32;
pub const BYTES: usize = 1 << 20;

impl<T, S: Sink<T>> Groups<T, S> {
    pub fn new(send: S) -> Self {
        Groups {
            send,
            buf: Vec::with_capacity(ITEMS),
            bytes: 0,
        }
    }

    /// Queues `item` (`bytes` long); false once the receiving side has stopped.
    pub fn push(&mut self, item: T, bytes: usize) -> bool {
        self.buf.push(item);
        self.bytes += bytes;
        if self.buf.len() >= ITEMS || self.bytes >= BYTES {
            return self.flush();
        }
        true
    }

    /// Hands on what waits; false once the receiving side has stopped.
    pub fn flush(&mut self) -> bool {
        if self.buf.is_empty() {
            return true;
        }
        self.bytes = 0;
        let group = std::mem::replace(&mut self.buf, Vec::with_capacity(ITEMS));
        self.send.send_group(group)
    }
}

impl<T, S: Sink<T>> Drop for Groups<T, S> {
    fn drop(&mut self) {
        self.flush();
    }
}

/// The storing side of [`give_back`]: hands back what it is done with.
pub struct GiveBack<T>(Groups<T, Sender<Vec<T>>>);

/// The parsing side of [`give_back`]: frees what came back.
pub struct TakeBack<T>(Receiver<Vec<T>>);

/// A message this large is freed at once, where it was stored: one lock for a rare message,
/// and its memory is not held while it travels back (a sync counts a stored message's bytes as
/// given back, imap::InFlight, so what waits to be freed must stay small: a group goes back at
/// [`BYTES`] too).
const LARGE: usize = 256 << 10;

pub fn give_back<T>() -> (GiveBack<T>, TakeBack<T>) {
    let (send, recv) = channel();
    (GiveBack(Groups::new(send)), TakeBack(recv))
}

impl<T> GiveBack<T> {
    /// Hands back `item`, which holds `bytes` of mail. Once the parser has stopped, what comes
    /// back is dropped here.
    pub fn push(&mut self, item: T, bytes: usize) {
        if bytes >= LARGE {
            drop(item);
            return;
        }
        self.0.push(item, bytes);
    }
}

impl<T> TakeBack<T> {
    /// Frees every group handed back so far.
    pub fn free(&self) {
        while let Ok(group) = self.0.try_recv() {
            drop(group);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_go_on_at_32_items_or_1_mib_and_when_dropped() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<u32>>(8);
        let mut g = Groups::new(tx);
        for i in 0..40 {
            assert!(g.push(i, 1));
        }
        assert_eq!(rx.try_recv().unwrap().len(), 32);
        assert!(rx.try_recv().is_err(), "8 wait");
        assert!(g.push(40, BYTES));
        assert_eq!(rx.try_recv().unwrap().len(), 9, "1 MiB sends what waits");
        assert!(g.push(41, 1));
        drop(g);
        assert_eq!(rx.try_recv().unwrap(), [41]);
    }

    #[test]
    fn what_is_given_back_arrives_in_groups_and_a_large_item_does_not_travel() {
        let (mut give, take) = give_back::<Vec<u8>>();
        give.push(vec![0; LARGE], LARGE);
        for _ in 0..ITEMS {
            give.push(vec![1], 1);
        }
        let groups: Vec<Vec<Vec<u8>>> = take.0.try_iter().collect();
        assert_eq!(groups.len(), 1);
        assert_eq!(
            groups[0].len(),
            ITEMS,
            "the large one was freed where it was stored"
        );
        give.push(vec![2], 1);
        take.free();
        drop(take);
        // The parser has stopped: the rest is dropped on the storing side, without a panic.
        give.push(vec![3], 1);
        drop(give);
    }
}
