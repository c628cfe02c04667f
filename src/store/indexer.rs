//! Indexing for search on a thread of its own while another stores: the search index is a
//! file of its own (search::path_for), so the two write at the same time. `helpdesk sync` and
//! `helpdesk import` store a batch per transaction, committed without indexing
//! ([`Store::commit_unindexed`]), and tell a [`Pace`]; the indexer follows.

use std::path::Path;
use std::time::Instant;

use super::{Result, Store};

/// Runs `store_side` (which commits with [`Store::commit_unindexed`] and reports each commit
/// to the [`Pace`]) while a thread indexes what it commits; returns once both are done. A
/// failure to index is logged, not returned: the messages are stored, and the next open of the
/// store indexes them. `store_side` is ingest (a sync's or an import's batches): it runs
/// without SQLite checking foreign keys (`Store::without_foreign_key_checks`).
pub fn with_indexer<R>(
    store: &mut Store,
    total: u64,
    store_side: impl FnOnce(&mut Store, &Pace) -> R,
) -> R {
    let pace = Pace::default();
    pace.update(|c| c.total = total);
    let path = store.path().to_owned();
    std::thread::scope(|scope| {
        let pace = &pace;
        let path = &path;
        let indexer = scope.spawn(move || {
            // Told on every way out, a panic included: the store must not wait for it.
            let _stopped = OnDrop(|| pace.indexer_stopped());
            index_while_storing(path, pace)
        });
        let out = {
            // Likewise: the indexer must not wait for a store that panicked.
            let _done = OnDrop(|| pace.store_done());
            store.without_foreign_key_checks(|store| store_side(store, pace))
        };
        // What the write-ahead log still holds goes into the store file now, while the
        // indexer finishes, rather than when the store is closed.
        store.checkpoint("main");
        match indexer.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "indexing the new messages for search failed"),
            Err(_) => tracing::warn!("the indexing thread failed"),
        }
        out
    })
}

/// Runs a closure when dropped: a signal another thread waits for is sent on every way out
/// of a scope, a panic included.
pub struct OnDrop<F: FnMut()>(pub F);

impl<F: FnMut()> Drop for OnDrop<F> {
    fn drop(&mut self) {
        (self.0)();
    }
}

/// How far the indexing thread is behind the storing thread, which both update.
///
/// The indexer starts once [`Pace::CHUNK`] messages wait: each pass writes one segment of
/// the FTS5 index, and smaller ones would soon have to be merged again (merging was a third
/// of indexing a 10,000-message sync in batches of 500). The store waits when it is
/// [`Pace::AHEAD`] messages ahead: otherwise on two cores it ran away from the indexer, which
/// then indexed the last quarter of the mail alone after everything else was done.
#[derive(Default)]
pub struct Pace {
    counts: std::sync::Mutex<PaceCounts>,
    changed: std::sync::Condvar,
}

#[derive(Default)]
struct PaceCounts {
    /// How many messages the pass is to store.
    total: u64,
    stored: u64,
    indexed: u64,
    store_done: bool,
    indexer_stopped: bool,
}

impl Pace {
    const CHUNK: u64 = 1_000;
    /// A chunk and a batch of 1,000 (`[imap]` batches in `helpdesk sync`).
    const AHEAD: u64 = 2_000;

    fn update(&self, f: impl FnOnce(&mut PaceCounts)) {
        let mut c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut c);
        self.changed.notify_all();
    }

    /// For the store: `n` more messages committed.
    pub fn stored(&self, n: u64) {
        self.update(|c| c.stored += n);
    }

    fn store_done(&self) {
        self.update(|c| c.store_done = true);
    }

    fn indexer_stopped(&self) {
        self.update(|c| c.indexer_stopped = true);
    }

    /// For the store: waits while the indexer is too far behind (bounded: it gives up after
    /// the store's busy timeout, say when the search file is locked by another process).
    pub fn wait_for_indexer(&self) {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .changed
            .wait_timeout_while(c, super::BUSY_TIMEOUT, |c| {
                !c.indexer_stopped && c.stored - c.indexed > Self::AHEAD
            });
    }

    /// For the indexer: waits for a chunk of work (or the end); returns how many messages the
    /// store has stored, or None when it is done and all of them are indexed. Within the last
    /// chunk of the pass every committed batch is taken at once, so that little is left to
    /// index once the store is done.
    fn next_chunk(&self) -> Option<u64> {
        let c = self.counts.lock().unwrap_or_else(|e| e.into_inner());
        let c = self
            .changed
            .wait_while(c, |c| {
                let waiting = c.stored - c.indexed;
                let last_chunk = c.stored + Self::CHUNK >= c.total;
                !c.store_done && waiting < Self::CHUNK && !(last_chunk && waiting > 0)
            })
            .unwrap_or_else(|e| e.into_inner());
        (!c.store_done || c.indexed < c.stored).then_some(c.stored)
    }
}

/// The indexing thread: indexes what the store commits, a chunk at a time ([`Pace`]), on a
/// connection of its own that locks only the search file; once the store is done, the rest.
fn index_while_storing(path: &Path, pace: &Pace) -> Result<()> {
    let store = Store::open_again(path)?;
    while let Some(stored) = pace.next_chunk() {
        let t = Instant::now();
        while store.index_step(100_000)? > 0 {}
        tracing::debug!(
            stored,
            ms = t.elapsed().as_millis() as u64,
            "indexed up to the stored count"
        );
        pace.update(|c| c.indexed = stored);
    }
    store.checkpoint("search");
    Ok(())
}
