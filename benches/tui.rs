//! `scripts/bench-tui`: the review screen on a generated store of 100,000 tickets and 300,000
//! messages (release build). Measures, in a child process of its own (so its peak memory is its
//! own): time to the first frame, key-to-frame for list moves (in SLA-due order, as the screen
//! lists them), search results, and peak RSS.
//! The peer, measured in the same run, is the naive design: load every ticket row before
//! drawing. A report, not a test.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use helpdesk::store::{Store, search};
use helpdesk::tui::{self, app::Action, keymap::Keymap, views};
use ratatui::{Terminal, backend::TestBackend};

const TICKETS: i64 = 100_000;
const MESSAGES_PER_TICKET: i64 = 3;

fn generate(path: &Path) {
    let mut store = Store::open(path).unwrap();
    let words = [
        "sync", "invoice", "login", "password", "crash", "upload", "folder", "backup", "refund",
        "plan", "upgrade", "error", "desktop", "android", "iphone", "quota", "share", "link",
        "team", "billing", "vat", "export", "restore", "version", "webhook", "api", "token",
    ];
    let tx = store.write().unwrap();
    {
        let mut t = tx
            .prepare(
                "INSERT INTO tickets (number, subject, subject_norm, requester_addr, requester_name,
                    status, created_at, updated_at, last_inbound_at, priority, sla_start_at,
                    sla_due_at, resolution_due_at, first_response_at)
                 VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?6, ?6, ?7, ?6, ?8, ?9, ?10)",
            )
            .unwrap();
        let mut m = tx
            .prepare(
                "INSERT INTO messages (ticket_id, message_id, direction, class, from_addr, from_name,
                    sender, subject, sent_at, stored_at, body_text, raw, raw_size, raw_sha256, source)
                 VALUES (?1, ?2, 'inbound', 'human', ?3, ?4, ?4 || ' <' || ?3 || '>', ?5, ?6, ?6, ?7, ?8,
                    length(?8), '', 'bench')",
            )
            .unwrap();
        let mut q = tx
            .prepare("INSERT INTO search_queue (message_id) VALUES (?1)")
            .unwrap();
        let statuses = ["open", "waiting", "resolved", "closed", "open", "waiting"];
        let mut x: u64 = 42;
        let mut rnd = move |n: usize| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % n as u64) as usize
        };
        for i in 1..=TICKETS {
            let subject = format!(
                "{} {} {} #{i}",
                words[rnd(words.len())],
                words[rnd(words.len())],
                words[rnd(words.len())]
            );
            let addr = format!("customer{}@example{}.example", i % 20_000, i % 97);
            let name = format!("Customer {}", i % 20_000);
            let at = 1_700_000_000 + i * 300;
            // SLA due times as ingest stores them (default targets), answered unless open.
            let (priority, first, resolve) = [
                ("urgent", 2, 8),
                ("high", 4, 24),
                ("medium", 24, 72),
                ("low", 72, 168),
            ][rnd(4)];
            let status = statuses[rnd(statuses.len())];
            let answered = (status != "open").then_some(at + 1800);
            t.execute(rusqlite::params![
                format!("TKT-2026-{i:06}"),
                subject,
                addr,
                name,
                status,
                at,
                priority,
                at + first * 3600,
                at + resolve * 3600,
                answered
            ])
            .unwrap();
            for k in 0..MESSAGES_PER_TICKET {
                let body: Vec<&str> = (0..60).map(|_| words[rnd(words.len())]).collect();
                let body = body.join(" ");
                m.execute(rusqlite::params![
                    i,
                    format!("m{i}.{k}@bench.example"),
                    addr,
                    name,
                    subject,
                    at + k,
                    body,
                    body.as_bytes()
                ])
                .unwrap();
                q.execute([tx.last_insert_rowid()]).unwrap();
            }
        }
    }
    Store::commit(tx).unwrap();
}

fn measure(path: &Path) {
    let t0 = Instant::now();
    let mut store = Store::open(path).unwrap();
    let mut app = tui::start(&mut store, 1_800_000_000).unwrap();
    let keymap = Keymap::default_map();
    let theme = views::Theme::default();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal
        .draw(|f| views::draw(f, &mut app, &keymap, theme))
        .unwrap();
    let first_frame = t0.elapsed().as_secs_f64() * 1000.0;

    // Key to frame for list moves: 300 moves down (crossing page windows), 300 up, G, g.
    let mut key_ms = Vec::new();
    let moves = std::iter::repeat_n(Action::Down, 300)
        .chain(std::iter::repeat_n(Action::PageDown, 100))
        .chain([Action::Bottom, Action::Top])
        .chain(std::iter::repeat_n(Action::Up, 50));
    for a in moves {
        let t = Instant::now();
        let fx = app.update(a);
        tui::perform(&mut store, &mut app, fx).unwrap();
        terminal
            .draw(|f| views::draw(f, &mut app, &keymap, theme))
            .unwrap();
        key_ms.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    // Search results as you type: each prefix of a few queries, then a frame.
    let mut search_ms = Vec::new();
    for q in [
        "invoice refund",
        "android crash",
        "webhook token",
        "customer1234@example12",
        "TKT-2026-042424",
    ] {
        for end in 1..=q.len() {
            let t = Instant::now();
            let hits = search::tickets(store.conn(), &q[..end], tui::app::PAGE).unwrap();
            let mut rows = Vec::new();
            for h in hits {
                rows.push(helpdesk::store::tickets::get(store.conn(), h.ticket_id).unwrap());
            }
            let fx = app.search_loaded(rows);
            tui::perform(&mut store, &mut app, fx).unwrap();
            terminal
                .draw(|f| views::draw(f, &mut app, &keymap, theme))
                .unwrap();
            let ms = t.elapsed().as_secs_f64() * 1000.0;
            if ms > 30.0 {
                eprintln!("slow search {:?}: {ms:.1} ms", &q[..end]);
            }
            search_ms.push(ms);
        }
    }
    // The page at the end of the list (the `G` key), in SLA order with noise hidden as the
    // screen asks for it, against the activity order of every ticket (the list before SLAs).
    let page_at_end = |filter: helpdesk::store::tickets::ListFilter| {
        let mut runs: Vec<f64> = (0..7)
            .map(|_| {
                let t = Instant::now();
                let rows = helpdesk::store::tickets::list(store.conn(), &filter).unwrap();
                assert!(!rows.is_empty());
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        runs.sort_by(f64::total_cmp);
        runs[3]
    };
    let listed = helpdesk::store::tickets::count_filtered(
        store.conn(),
        &tui::list_filter(&Default::default()),
    )
    .unwrap();
    let due_end = page_at_end(helpdesk::store::tickets::ListFilter {
        limit: Some(tui::app::PAGE),
        offset: listed as u32 - 150,
        ..tui::list_filter(&Default::default())
    });
    let activity_end = page_at_end(helpdesk::store::tickets::ListFilter {
        limit: Some(tui::app::PAGE),
        offset: TICKETS as u32 - 150,
        ..Default::default()
    });
    eprintln!(
        "last page of the list: SLA order {due_end:.2} ms, activity order {activity_end:.2} ms ({:.2}×)",
        due_end / activity_end
    );
    key_ms.sort_by(f64::total_cmp);
    search_ms.sort_by(f64::total_cmp);
    let p = |v: &[f64], q: f64| v[((v.len() - 1) as f64 * q) as usize];
    println!(
        "{first_frame:.2} {:.3} {:.3} {:.2} {:.2}",
        p(&key_ms, 0.5),
        p(&key_ms, 1.0),
        p(&search_ms, 0.5),
        p(&search_ms, 1.0)
    );
}

/// Times each prefix of each query as the search box would run it (best of 3).
fn search_probe(path: &Path, queries: &[String]) {
    let store = Store::open(path).unwrap();
    for q in queries {
        for end in 1..=q.len() {
            let mut best = f64::MAX;
            let mut n = 0;
            for _ in 0..3 {
                let t = Instant::now();
                n = search::tickets(store.conn(), &q[..end], tui::app::PAGE)
                    .unwrap()
                    .len();
                best = best.min(t.elapsed().as_secs_f64() * 1000.0);
            }
            println!("{:<24} {best:>8.2} ms {n:>4} hits", &q[..end]);
        }
    }
}

/// The naive peer: every ticket row loaded before the first frame.
fn measure_naive(path: &Path) {
    let t0 = Instant::now();
    let mut store = Store::open(path).unwrap();
    let rows = helpdesk::store::tickets::list(store.conn(), &Default::default()).unwrap();
    let mut app = tui::app::App::new(rows.len() as u32, 1_800_000_000);
    let fx = app.page_loaded(0, rows);
    tui::perform(&mut store, &mut app, fx).unwrap();
    let mut terminal = Terminal::new(TestBackend::new(160, 48)).unwrap();
    terminal
        .draw(|f| views::draw(f, &mut app, &Keymap::default_map(), views::Theme::default()))
        .unwrap();
    println!("{:.2}", t0.elapsed().as_secs_f64() * 1000.0);
}

fn child(mode: &str, store: &Path) -> (String, f64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([mode, store.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprint!("{}", String::from_utf8_lossy(&out.stderr));
    // ru_maxrss of the children so far is cumulative; run each mode in its own grandchild.
    let text = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    let (values, rss) = text.rsplit_once(char::is_whitespace).unwrap();
    (values.trim().to_owned(), rss.trim().parse().unwrap())
}

/// Runs a mode in a grandchild and prints its output plus the grandchild's peak RSS (MB).
fn with_rss(mode: &str, store: &str) {
    let status = Command::new(std::env::current_exe().unwrap())
        .args([&format!("{mode}-inner"), store])
        .status()
        .unwrap();
    assert!(status.success());
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage) };
    println!(" {:.1}", usage.ru_maxrss as f64 / 1024.0);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        Some("measure-inner") => return measure(Path::new(&args[2])),
        Some("naive-inner") => return measure_naive(Path::new(&args[2])),
        Some(m @ ("measure" | "naive")) => return with_rss(m, &args[2]),
        Some("search") => return search_probe(Path::new(&args[2]), &args[3..]),
        _ => {}
    }
    let dir = tempfile::tempdir().unwrap();
    // BENCH_TUI_STORE keeps the generated store at that path (and reuses it when present), to
    // probe queries with `cargo bench --bench tui -- search PATH QUERY...`.
    let path = std::env::var_os("BENCH_TUI_STORE")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("bench.sqlite3"));
    let t = Instant::now();
    let made = if path.exists() {
        "reused"
    } else {
        generate(&path);
        "generated"
    };
    println!(
        "{made} {TICKETS} tickets and {} messages in {:.1} s ({:.0} MB)",
        TICKETS * MESSAGES_PER_TICKET,
        t.elapsed().as_secs_f64(),
        std::fs::metadata(&path).unwrap().len() as f64 / 1048576.0
    );
    let (paged, paged_rss) = child("measure", &path);
    let v: Vec<f64> = paged
        .split_whitespace()
        .map(|x| x.parse().unwrap())
        .collect();
    let (naive, naive_rss) = child("naive", &path);
    let naive_ms: f64 = naive.parse().unwrap();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!();
    println!("{:<40} {:>10} {:>9}", "", "ms", "peak MB");
    println!(
        "{:<40} {:>10.2} {:>9.1}",
        "helpdesk: first frame (paged list)", v[0], paged_rss
    );
    println!(
        "{:<40} {:>10.2} {:>9.1}",
        "naive peer: first frame (all rows)", naive_ms, naive_rss
    );
    println!("{:<40} {:>10.3}", "key to frame, list moves: median", v[1]);
    println!("{:<40} {:>10.3}", "key to frame, list moves: worst", v[2]);
    println!("{:<40} {:>10.2}", "search as you type: median", v[3]);
    println!("{:<40} {:>10.2}", "search as you type: worst", v[4]);
    println!();
    println!("first frame: helpdesk/naive = {:.3}×", v[0] / naive_ms);
    println!(
        "first frame {:.1} ms (target ≤ 150 ms): {}",
        v[0],
        verdict(v[0] <= 150.0)
    );
    println!(
        "key to frame worst {:.2} ms (target ≤ 10 ms): {}",
        v[2],
        verdict(v[2] <= 10.0)
    );
    println!(
        "search worst {:.1} ms (target ≤ 50 ms): {}",
        v[4],
        verdict(v[4] <= 50.0)
    );
    println!(
        "peak memory {paged_rss:.1} MB (target < 100 MB): {}",
        verdict(paged_rss < 100.0)
    );
}
