//! The analysis stage on tokio: drafts are analysed concurrently, while one thread of its own
//! owns the store connection and does every read and write, each result in its own short
//! transaction. The runtime only waits on the network and on channels.

use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use tokio::sync::mpsc::UnboundedSender;

use super::offline::OfflineDrafter;
use super::prompt::{self, PromptSettings};
use super::{AnalyseReport, Outcome, StageOptions, checked, offline_outcome, openai};
use crate::store::{self, Store, StoreError, messages};

/// Which drafter analyses.
// One per run, behind an Arc: its size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Engine {
    Offline(Arc<OfflineDrafter>),
    Openai {
        client: openai::Client,
        prompt: PromptSettings,
    },
}

impl Engine {
    /// Drafts taken on at once: enough to keep every request slot busy while the next
    /// prompts are read from the store.
    fn width(&self) -> usize {
        match self {
            Engine::Offline(_) => 2,
            Engine::Openai { client, .. } => client.max_concurrent() * 2,
        }
    }
}

/// What the stage tells whoever shows it.
#[derive(Debug, Clone, PartialEq)]
pub enum StageEvent {
    Progress {
        done: u64,
        total: u64,
    },
    /// The reply draft of a ticket as far as the model has written it.
    Partial {
        ticket_id: i64,
        draft_id: i64,
        text: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum StageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("the store thread stopped unexpectedly; run `helpdesk analyse` again")]
    StoreThread,
}

type Job = Box<dyn FnOnce(&mut Store) + Send>;

/// The thread that owns the store connection.
struct StoreThread {
    jobs: Option<std::sync::mpsc::Sender<Job>>,
    handle: Option<std::thread::JoinHandle<()>>,
}

impl StoreThread {
    fn spawn(mut store: Store) -> std::io::Result<StoreThread> {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let handle = std::thread::Builder::new()
            .name("helpdesk-store".into())
            .spawn(move || {
                for job in rx {
                    job(&mut store);
                }
            })?;
        Ok(StoreThread {
            jobs: Some(tx),
            handle: Some(handle),
        })
    }

    async fn run<R: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> R + Send + 'static,
    ) -> Result<R, StageError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        self.jobs
            .as_ref()
            .ok_or(StageError::StoreThread)?
            .send(Box::new(move |s| {
                let _ = tx.send(f(s));
            }))
            .map_err(|_| StageError::StoreThread)?;
        rx.await.map_err(|_| StageError::StoreThread)
    }
}

impl Drop for StoreThread {
    fn drop(&mut self) {
        // Closing the channel ends the thread once the queued jobs are done.
        self.jobs.take();
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

/// Analyses the pending drafts of the store at `path` with `engine`. `events` hears progress
/// and, when `options.stream` is set, each draft as it is written. `now` gives the time
/// stored with each result.
pub async fn analyse_pending_async(
    path: &Path,
    engine: Arc<Engine>,
    options: Arc<StageOptions>,
    now: fn() -> i64,
    events: Option<UnboundedSender<StageEvent>>,
) -> Result<AnalyseReport, StageError> {
    let path = path.to_owned();
    let store = tokio::task::spawn_blocking(move || Store::open(&path))
        .await
        .map_err(|_| StageError::StoreThread)??;
    let worker = Arc::new(StoreThread::spawn(store).map_err(|_| StageError::StoreThread)?);
    let (ticket, retry_failed) = (options.ticket, options.retry_failed);
    let pending = worker
        .run(move |s| messages::pending_drafts_in(s.conn(), ticket, retry_failed))
        .await??;
    let total = pending.len() as u64;
    let send = |e: StageEvent| {
        if let Some(tx) = &events {
            let _ = tx.send(e);
        }
    };
    send(StageEvent::Progress { done: 0, total });
    let mut results = futures_util::stream::iter(pending)
        .map(|(draft_id, ticket_id, message)| {
            let (worker, engine, options, events) = (
                worker.clone(),
                engine.clone(),
                options.clone(),
                events.clone(),
            );
            async move {
                one(
                    &worker, &engine, &options, events, now, draft_id, ticket_id, message,
                )
                .await
            }
        })
        .buffer_unordered(engine.width());
    let mut report = AnalyseReport::default();
    let mut done = 0;
    while let Some(r) = results.next().await {
        report.add(&r?);
        done += 1;
        send(StageEvent::Progress { done, total });
    }
    drop(results);
    // The last jobs are done (each was awaited): the thread ends as the worker drops.
    match Arc::try_unwrap(worker) {
        Ok(w) => tokio::task::spawn_blocking(move || drop(w))
            .await
            .map_err(|_| StageError::StoreThread)?,
        Err(_) => return Err(StageError::StoreThread),
    }
    Ok(report)
}

#[allow(clippy::too_many_arguments)]
async fn one(
    worker: &StoreThread,
    engine: &Engine,
    options: &StageOptions,
    events: Option<UnboundedSender<StageEvent>>,
    now: fn() -> i64,
    draft_id: i64,
    ticket_id: i64,
    message: Option<i64>,
) -> Result<AnalyseReport, StageError> {
    let examples = match engine {
        Engine::Offline(_) => 0,
        Engine::Openai { .. } => prompt::EXAMPLES,
    };
    let turn = Arc::new(
        worker
            .run(move |s| prompt::load_turn(s.conn(), draft_id, ticket_id, message, examples))
            .await??,
    );
    let outcome = match engine {
        Engine::Offline(drafter) => {
            let (drafter, turn, options) = (drafter.clone(), turn.clone(), options.clone());
            tokio::task::spawn_blocking(move || offline_outcome(&drafter, &turn, &options, None))
                .await
                .unwrap_or_else(|e| Outcome::Failed(format!("the offline drafter failed: {e}")))
        }
        Engine::Openai { client, prompt } => {
            let built = prompt::build(prompt, &turn);
            let sink = events.filter(|_| options.stream).map(|tx| {
                move |text: &str| {
                    let _ = tx.send(StageEvent::Partial {
                        ticket_id,
                        draft_id,
                        text: text.to_owned(),
                    });
                }
            });
            let sink_ref = sink.as_ref().map(|f| f as &(dyn Fn(&str) + Send + Sync));
            let result = client.analyse(&built, &prompt.categories, sink_ref).await;
            match result {
                Ok(mut a) => {
                    super::ensure_signature(&mut a, &prompt.signature);
                    checked(Outcome::Analysed(a), &turn, options)
                }
                Err(e) => {
                    tracing::warn!(ticket_id, error = %e, "analysis failed");
                    Outcome::Failed(client.redact(&e.to_string()))
                }
            }
        }
    };
    worker
        .run(move |s| -> store::Result<AnalyseReport> {
            let tx = s.write()?;
            let counted = super::store_outcome(&tx, &turn, &outcome, now())?;
            Store::commit(tx)?;
            Ok(counted)
        })
        .await?
        .map_err(StageError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_store_thread_runs_jobs_in_order_and_stops_when_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        let w = StoreThread::spawn(store).unwrap();
        let a = w.run(|s| s.schema_version().unwrap()).await.unwrap();
        let b = w.run(|s| s.path().to_owned()).await.unwrap();
        assert_eq!(a, crate::store::SCHEMA_VERSION);
        assert!(b.ends_with("s.sqlite3"));
        tokio::task::spawn_blocking(move || drop(w)).await.unwrap();
    }
}
