//! Freeing on the thread that allocated.
//!
//! A sync or an import parses on one thread and stores on another. Freed on the storing
//! thread, each of the parser's allocations (a parsed message is some 30 of them) went back to
//! the parser's malloc arena under that arena's lock, which the parser held meanwhile to
//! allocate the next message: on a 10,000-message sync the storing thread, which sets the pace,
//! slept on that lock about 150 times and then waited for a core each time. What the store is
//! done with goes back to the parser in groups instead, and is freed there.

use std::sync::mpsc::{Receiver, Sender, channel};

/// The storing side: collects what it is done with and hands it back a group at a time.
pub struct GiveBack<T> {
    send: Sender<Vec<T>>,
    done: Vec<T>,
    /// What `done` holds, in bytes of raw mail.
    bytes: usize,
}

/// The parsing side: frees what came back.
pub struct TakeBack<T>(Receiver<Vec<T>>);

/// Items handed back together: one channel operation per group, not per message…
const GROUP: usize = 32;
/// …or fewer, once they hold this many bytes: memory the sync has counted as given back
/// (imap::InFlight) waits to be freed, so a group stays small.
const GROUP_BYTES: usize = 1 << 20;
/// A message this large is freed at once, where it was stored: one lock for a rare message,
/// and its memory is not held while it travels back.
const LARGE: usize = 256 << 10;

pub fn channel_pair<T>() -> (GiveBack<T>, TakeBack<T>) {
    let (send, recv) = channel();
    (
        GiveBack {
            send,
            done: Vec::new(),
            bytes: 0,
        },
        TakeBack(recv),
    )
}

impl<T> GiveBack<T> {
    /// Hands back `item`, which holds `bytes` of raw mail.
    pub fn push(&mut self, item: T, bytes: usize) {
        if bytes >= LARGE {
            drop(item);
            return;
        }
        self.done.push(item);
        self.bytes += bytes;
        if self.done.len() >= GROUP || self.bytes >= GROUP_BYTES {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.bytes = 0;
        // Once the parser has stopped, the group comes back and is dropped here.
        let _ = self.send.send(std::mem::take(&mut self.done));
    }
}

impl<T> Drop for GiveBack<T> {
    fn drop(&mut self) {
        if !self.done.is_empty() {
            self.flush();
        }
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
