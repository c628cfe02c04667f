//! `scripts/bench-analyse`: the analysis stage on 500 pending tickets against the in-process
//! OpenAI-compatible server (tests/support/openai.rs) answering each request after 50 ms, with
//! 200 resolved tickets for the similar-ticket search. Prints the wall time against the ideal
//! `500 × 50 ms / max_concurrent` (target ratio ≤ 1.2), and the event-loop lag meanwhile: a
//! task that wakes every 5 ms records how late it woke (target < 20 ms). A report, not a test.

#[path = "../tests/support/openai.rs"]
mod openai_server;

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use helpdesk::ai::openai::{Client, RetryPolicy, Settings};
use helpdesk::ai::prompt::{self, PromptSettings};
use helpdesk::ai::{Engine, StageOptions, analyse_pending_async};
use helpdesk::config::{Config, StructuredOutput};
use helpdesk::mail::ingest::RawMessage;
use helpdesk::store::{Store, TicketStatus, tickets};
use openai_server::{FakeOpenAi, Reply, answer};

const PENDING: usize = 500;
const RESOLVED: usize = 200;
const LATENCY: Duration = Duration::from_millis(50);
const TICK: Duration = Duration::from_millis(5);
const NOW: i64 = 1_795_176_000;

const TOPICS: [&str; 8] = [
    "Sync stuck at 99% on the desktop app",
    "Invoice charged twice this month",
    "Cannot log in after the password reset",
    "Please add dark mode to the web app",
    "Shared link expired before the date I set",
    "Android camera upload stopped working",
    "Need a VAT number on my invoices",
    "Two-factor code never arrives",
];

fn raw(i: usize, topic: &str) -> Vec<u8> {
    format!(
        "From: Customer {i} <customer{i}@example{}.example>\nTo: support@lumencloud.example\n\
         Subject: {topic}\nDate: Thu, 19 Nov 2026 10:00:00 +0000\nMessage-ID: <bench{i}@example.example>\n\
         MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n\
         Hello,\n\n{topic}. It started yesterday and happens on every device I own. \
         I tried restarting, signing out and in again, and reinstalling; nothing changed. \
         Could you tell me what to try next? My account is on the Team plan.\n\nThanks,\nCustomer {i}\n",
        i % 37
    )
    .into_bytes()
}

/// A store with `RESOLVED` answered tickets and `PENDING` drafts waiting for analysis.
fn generate(path: &Path) {
    let mut store = Store::open(path).unwrap();
    let mut config = Config::default();
    config.account.address = Some("support@lumencloud.example".into());
    let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
    let tx = store.write().unwrap();
    for i in 0..RESOLVED + PENDING {
        let bytes = raw(i, TOPICS[i % TOPICS.len()]);
        let r = ingest
            .one(
                &tx,
                &RawMessage {
                    bytes: &bytes,
                    source: "bench",
                    mailbox: None,
                    uidvalidity: None,
                    uid: None,
                },
                NOW,
            )
            .unwrap();
        if i < RESOLVED {
            let helpdesk::mail::ingest::Outcome::NewTicket { ticket_id, .. } = r.outcome else {
                panic!("bench mail {i} did not open a ticket");
            };
            tx.execute(
                "INSERT INTO messages (ticket_id, message_id, direction, class, from_addr, sender,
                     subject, sent_at, stored_at, body_text, raw, raw_size, raw_sha256, source)
                 VALUES (?1, ?2, 'outbound', 'human', 'support@lumencloud.example',
                     'support@lumencloud.example', 'Re', ?3, ?3, ?4, x'00', 1, '', 'bench')",
                rusqlite::params![
                    ticket_id,
                    format!("reply{i}@lumencloud.example"),
                    NOW + 60,
                    format!("Hi,\n\nthanks for writing about this. Reply {i}: please update the app and tell us if it happens again.\n\n— Support")
                ],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO search_queue (message_id) VALUES (last_insert_rowid())",
                [],
            )
            .unwrap();
            tickets::set_status(&tx, ticket_id, TicketStatus::Resolved, NOW + 60).unwrap();
            tx.execute(
                "UPDATE drafts SET state = 'rejected' WHERE ticket_id = ?1",
                [ticket_id],
            )
            .unwrap();
        }
    }
    Store::commit(tx).unwrap();
    let pending: i64 = store
        .conn()
        .query_row("SELECT count(*) FROM drafts WHERE state = 'new'", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(pending as usize, PENDING);
}

struct Run {
    wall: Duration,
    max_lag: Duration,
    p99_lag: Duration,
    drafted: u64,
    requests: usize,
    max_in_flight: usize,
}

fn run(max_concurrent: usize) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bench.sqlite3");
    generate(&path);
    let server = FakeOpenAi::start();
    server.set_default(Reply::Content {
        content: answer("Hi,\n\nplease update the app and tell us if it happens again.\n\n— The Lumen Support Team"),
        delay: LATENCY,
        pieces: 8,
    });
    let client = Client::new(Settings {
        base_url: server.base_url.clone(),
        model: "bench".into(),
        key: None,
        max_concurrent,
        retry: RetryPolicy {
            timeout: Duration::from_secs(10),
            max_retries: 2,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(10),
        },
        structured: StructuredOutput::Auto,
    })
    .unwrap();
    let categories: Vec<String> = helpdesk::config::DEFAULT_CATEGORIES
        .iter()
        .map(|c| (*c).to_owned())
        .collect();
    let engine = Arc::new(Engine::Openai {
        client,
        prompt: PromptSettings::new(
            prompt::BUNDLED,
            "Lumen",
            "— The Lumen Support Team",
            &categories,
            8000,
        ),
    });
    let options = Arc::new(StageOptions {
        signature: "— The Lumen Support Team".into(),
        allowed_domains: vec!["lumencloud.example".into()],
        ..StageOptions::default()
    });
    // The same runtime as `helpdesk analyse`: two workers.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let (report, wall, lags) = rt.block_on(async move {
        let stop = Arc::new(AtomicBool::new(false));
        let ticker = tokio::spawn({
            let stop = stop.clone();
            async move {
                let mut lags = Vec::new();
                let mut next = tokio::time::Instant::now() + TICK;
                while !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep_until(next).await;
                    let now = tokio::time::Instant::now();
                    lags.push(now - next);
                    next = now + TICK;
                }
                lags
            }
        });
        let started = Instant::now();
        let report = analyse_pending_async(&path, engine, options, || NOW, None)
            .await
            .unwrap();
        let wall = started.elapsed();
        stop.store(true, Ordering::Relaxed);
        (report, wall, ticker.await.unwrap())
    });
    let mut sorted = lags.clone();
    sorted.sort();
    Run {
        wall,
        max_lag: sorted.last().copied().unwrap_or_default(),
        p99_lag: sorted
            .get(sorted.len() * 99 / 100)
            .copied()
            .unwrap_or_default(),
        drafted: report.drafted,
        requests: server.received().len(),
        max_in_flight: server.max_in_flight(),
    }
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    println!(
        "analyse: {PENDING} pending tickets ({RESOLVED} resolved for the similar search), server latency {} ms",
        LATENCY.as_millis()
    );
    println!(
        "{:>14} {:>9} {:>9} {:>7} {:>12} {:>12} {:>9} {:>9}",
        "max_concurrent",
        "wall s",
        "ideal s",
        "ratio",
        "max lag ms",
        "p99 lag ms",
        "drafted",
        "in flight"
    );
    for max_concurrent in [4, 16] {
        let r = run(max_concurrent);
        let ideal = LATENCY.as_secs_f64() * PENDING as f64 / max_concurrent as f64;
        assert_eq!(r.drafted as usize, PENDING, "every draft analysed");
        assert_eq!(r.requests, PENDING, "one request per draft");
        println!(
            "{:>14} {:>9.2} {:>9.2} {:>7.3} {:>12.2} {:>12.2} {:>9} {:>9}",
            max_concurrent,
            r.wall.as_secs_f64(),
            ideal,
            r.wall.as_secs_f64() / ideal,
            r.max_lag.as_secs_f64() * 1000.0,
            r.p99_lag.as_secs_f64() * 1000.0,
            r.drafted,
            r.max_in_flight
        );
    }
    println!("targets: ratio ≤ 1.2 (wall / ideal), max event-loop lag < 20 ms");
}
