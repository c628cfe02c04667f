//! The import stage: messages from files into the store, oldest first, committed in batches.
//! A crash loses at most the batch in flight, and running the import again stores only what is
//! missing (ingest is idempotent by Message-ID).

use crate::store::{self, Store};

use super::ingest::{Ingest, Prepared, RawMessage, Summary};
use super::source::Scan;

/// Messages per write transaction: large enough to be fast, short enough that another process
/// waiting on the store is not held up for long.
const BATCH: usize = 1000;
/// …or this many bytes of raw mail, whichever comes first.
const BATCH_BYTES: usize = 32 * 1024 * 1024;

/// A file that could not be read, with the reason.
#[derive(Debug, Clone)]
pub struct Skipped {
    pub what: String,
    pub error: String,
}

#[derive(Debug, Default)]
pub struct ImportReport {
    pub summary: Summary,
    pub skipped: Vec<Skipped>,
}

/// Imports everything a [`Scan`] found. `source` labels the messages (`import`, `demo`);
/// `progress(done, total)` is called after each batch.
pub fn import(
    store: &mut Store,
    ingest: &Ingest,
    scan: &Scan,
    source: &str,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(u64, u64),
) -> store::Result<ImportReport> {
    let mut report = ImportReport {
        skipped: scan
            .unreadable
            .iter()
            .map(|(p, e)| Skipped {
                what: p.display().to_string(),
                error: e.clone(),
            })
            .collect(),
        ..ImportReport::default()
    };
    let items = &scan.items;
    let total = items.len() as u64;
    // One thread reads and parses, this one stores: on two cores parsing overlaps the writes.
    // The channel is bounded so that memory stays flat however large the import.
    let (send, recv) =
        std::sync::mpsc::sync_channel::<(usize, std::io::Result<(Vec<u8>, Prepared)>)>(64);
    let (mut give_back, take_back) = super::groups::give_back();
    std::thread::scope(|scope| -> store::Result<()> {
        scope.spawn(move || {
            for (i, item) in items.iter().enumerate() {
                // Freed here, where it was read and parsed (groups::give_back).
                take_back.free();
                let r = scan.read(item).map(|raw| {
                    let prepared = ingest.prepare(&raw);
                    (raw, prepared)
                });
                if send.send((i, r)).is_err() {
                    break; // the store side stopped on an error
                }
            }
        });
        let mut recv = recv.into_iter().peekable();
        let mut done = 0u64;
        // A second thread indexes each committed batch for search while the next is stored.
        store::indexer::with_indexer(store, total, |store, pace| -> store::Result<()> {
            while recv.peek().is_some() {
                let tx = store.write()?;
                // The ingest statements, prepared once for the batch (store::db).
                let batch = store::db::Batch::new(&tx);
                let before = done;
                let (mut n, mut bytes) = (0, 0);
                while n < BATCH && bytes < BATCH_BYTES {
                    let Some((i, r)) = recv.next() else { break };
                    n += 1;
                    done += 1;
                    let item = &items[i];
                    let (raw, prepared) = match r {
                        Ok(x) => x,
                        Err(e) => {
                            report.skipped.push(Skipped {
                                what: scan.describe(item),
                                error: e.to_string(),
                            });
                            continue;
                        }
                    };
                    let len = raw.len();
                    bytes += len;
                    let label = format!("{source}:{}", scan.describe(item));
                    let r = ingest.store(
                        &batch,
                        &RawMessage {
                            bytes: &raw,
                            source: &label,
                            mailbox: None,
                            uidvalidity: None,
                            uid: None,
                        },
                        &prepared,
                        now(),
                    )?;
                    report
                        .summary
                        .add(&r.outcome, r.class, r.parse_error.is_some());
                    give_back.push((raw, prepared), len);
                }
                drop(batch);
                Store::commit_unindexed(tx)?;
                pace.stored(done - before);
                progress(done, total);
                pace.wait_for_indexer();
            }
            Ok(())
        })
    })?;
    Ok(report)
}
