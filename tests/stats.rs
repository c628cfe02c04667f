//! Statistics against a store built by hand, the statistics view at 80×24 and 160×48, and
//! `helpdesk stats` / `helpdesk export`.

mod support;

use helpdesk::store::Store;
use helpdesk::store::stats::{self, Stats};
use helpdesk::tui::views::{Theme, stats as view};
use ratatui::{Terminal, backend::TestBackend};
use support::{Harness, NOW, helpdesk, mail, stderr, stdout};

const H: i64 = 3600;
const D: i64 = 86_400;

struct T {
    status: &'static str,
    priority: Option<&'static str>,
    category: Option<&'static str>,
    requester: &'static str,
    created: i64,
    first_response: Option<i64>,
    resolved: Option<i64>,
    sla_due: Option<i64>,
    resolution_due: Option<i64>,
}

/// Eight tickets whose figures are worked out by hand below.
fn hand_built(path: &std::path::Path) -> Store {
    let store = Store::open(path).unwrap();
    let t = |status, priority, category, requester, created| T {
        status,
        priority,
        category,
        requester,
        created,
        first_response: None,
        resolved: None,
        sla_due: None,
        resolution_due: None,
    };
    let rows = [
        // Urgent, answered in 1 h (met), resolution due 2 h ago and still open (breached).
        T {
            first_response: Some(NOW - 9 * H),
            sla_due: Some(NOW - 8 * H),
            resolution_due: Some(NOW - 2 * H),
            ..t(
                "open",
                Some("urgent"),
                Some("Technical"),
                "alice@a.example",
                NOW - 10 * H,
            )
        },
        // High: answered in 2 h (due 4 h), resolved in 20 h (due 24 h).
        T {
            first_response: Some(NOW - 3 * D + 2 * H),
            resolved: Some(NOW - 3 * D + 20 * H),
            sla_due: Some(NOW - 3 * D + 4 * H),
            resolution_due: Some(NOW - 3 * D + 24 * H),
            ..t(
                "resolved",
                Some("high"),
                Some("Billing"),
                "alice@a.example",
                NOW - 3 * D,
            )
        },
        // Medium: answered in 30 h (due 24 h: breached), resolved in 50 h (due 72 h).
        T {
            first_response: Some(NOW - 5 * D + 30 * H),
            resolved: Some(NOW - 5 * D + 50 * H),
            sla_due: Some(NOW - 5 * D + 24 * H),
            resolution_due: Some(NOW - 5 * D + 72 * H),
            ..t(
                "closed",
                Some("medium"),
                Some("Billing"),
                "bob@b.example",
                NOW - 5 * D,
            )
        },
        // Low, waiting for the customer: answered in 1 h; resolution not due yet.
        T {
            first_response: Some(NOW - D + H),
            sla_due: Some(NOW - D + 72 * H),
            resolution_due: Some(NOW - D + 168 * H),
            ..t("waiting", Some("low"), None, "carol@c.example", NOW - D)
        },
        // Not analysed, not answered, not due yet.
        T {
            sla_due: Some(NOW + 22 * H),
            resolution_due: Some(NOW + 70 * H),
            ..t(
                "open",
                None,
                Some("General"),
                "alice@a.example",
                NOW - 2 * H,
            )
        },
        // Noise and spam count only by status.
        T {
            sla_due: Some(NOW - D + 24 * H),
            ..t("noise", None, None, "news@letter.example", NOW - D)
        },
        t(
            "spam",
            Some("low"),
            Some("Other"),
            "spam@s.example",
            NOW - 3 * H,
        ),
        // Urgent from 40 days ago, never answered: both deadlines breached; outside the series.
        T {
            sla_due: Some(NOW - 40 * D + 2 * H),
            resolution_due: Some(NOW - 40 * D + 8 * H),
            ..t(
                "open",
                Some("urgent"),
                Some("Technical"),
                "dave@d.example",
                NOW - 40 * D,
            )
        },
    ];
    for (i, r) in rows.iter().enumerate() {
        store
            .conn()
            .execute(
                "INSERT INTO tickets (number, subject, subject_norm, requester_addr, status,
                     priority, category, created_at, updated_at, first_response_at, resolved_at,
                     sla_due_at, resolution_due_at, sla_start_at)
                 VALUES (?1, ?2, lower(?2), ?3, ?4, ?5, ?6, ?7, ?7, ?8, ?9, ?10, ?11, ?7)",
                rusqlite::params![
                    format!("TKT-2026-{:05}", i + 1),
                    format!("Ticket {}", i + 1),
                    r.requester,
                    r.status,
                    r.priority,
                    r.category,
                    r.created,
                    r.first_response,
                    r.resolved,
                    r.sla_due,
                    r.resolution_due
                ],
            )
            .unwrap();
    }
    store
}

fn names(v: &[stats::Count]) -> Vec<(&str, i64)> {
    v.iter().map(|c| (c.name.as_str(), c.tickets)).collect()
}

#[test]
fn statistics_of_a_store_built_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    let store = hand_built(&dir.path().join("s.sqlite3"));
    let s = stats::compute(store.conn(), NOW, chrono_tz::UTC).unwrap();
    assert_eq!(s.tickets, 8);
    assert_eq!(
        names(&s.by_status),
        vec![
            ("open", 3),
            ("waiting", 1),
            ("resolved", 1),
            ("closed", 1),
            ("spam", 1),
            ("noise", 1)
        ]
    );
    assert_eq!(
        names(&s.by_category),
        vec![
            ("Billing", 2),
            ("Technical", 2),
            ("(none)", 1),
            ("General", 1)
        ]
    );
    assert_eq!(
        names(&s.by_priority),
        vec![
            ("urgent", 2),
            ("high", 1),
            ("medium", 1),
            ("low", 1),
            ("unset", 1)
        ]
    );
    // First responses 1 h, 1 h, 2 h, 30 h: median 1.5 h; p90 at rank 2.7 = 2 h + 0.7 × 28 h.
    let close = |a: Option<f64>, b: f64| a.is_some_and(|a| (a - b).abs() < 1e-6);
    assert_eq!(s.first_response.count, 4);
    assert!(close(s.first_response.median, 1.5 * H as f64));
    assert!(close(
        s.first_response.p90,
        (2 * H) as f64 + 0.7 * (28 * H) as f64
    ));
    // Resolutions 20 h and 50 h.
    assert!(close(s.resolution.median, (35 * H) as f64));
    assert!(close(
        s.resolution.p90,
        (20 * H) as f64 + 0.9 * (30 * H) as f64
    ));

    type MetBreachedPending = (i64, i64, i64);
    let sla: Vec<(&str, MetBreachedPending, MetBreachedPending)> = s
        .sla
        .iter()
        .map(|c| {
            let k = |k: &stats::Kept| (k.met, k.breached, k.pending);
            (c.priority.as_str(), k(&c.first_response), k(&c.resolution))
        })
        .collect();
    assert_eq!(
        sla,
        vec![
            ("urgent", (1, 1, 0), (0, 2, 0)),
            ("high", (1, 0, 0), (1, 0, 0)),
            ("medium", (0, 1, 0), (1, 0, 0)),
            ("low", (1, 0, 0), (0, 0, 1)),
            ("unset", (0, 0, 1), (0, 0, 1)),
        ]
    );
    assert_eq!(s.sla[0].first_response.percent, Some(50.0));
    assert_eq!(s.sla[0].resolution.percent, Some(0.0));
    assert_eq!(s.sla[3].resolution.percent, None);

    // 30 days ending today (UTC): created 1 (Nov 15), 1 (Nov 17), 1 (Nov 19), 2 (Nov 20);
    // resolved Nov 17 14:00 and Nov 18 08:00.
    assert_eq!(s.daily.len(), 30);
    assert_eq!(s.daily[0].date, "2026-10-22");
    assert_eq!(s.daily[29].date, "2026-11-20");
    let days: Vec<(&str, i64, i64)> = s
        .daily
        .iter()
        .filter(|d| d.created + d.resolved > 0)
        .map(|d| (d.date.as_str(), d.created, d.resolved))
        .collect();
    assert_eq!(
        days,
        vec![
            ("2026-11-15", 1, 0),
            ("2026-11-17", 1, 1),
            ("2026-11-18", 0, 1),
            ("2026-11-19", 1, 0),
            ("2026-11-20", 2, 0)
        ]
    );
    // In Auckland (UTC+13) it is already 21 November; three of those tickets were created on
    // its 20th.
    let nz = stats::compute(store.conn(), NOW, "Pacific/Auckland".parse().unwrap()).unwrap();
    assert_eq!(nz.daily[29].date, "2026-11-21");
    assert_eq!((nz.daily[29].created, nz.daily[28].created), (0, 3));

    let top: Vec<(&str, i64)> = s
        .top_requesters
        .iter()
        .map(|r| (r.address.as_str(), r.tickets))
        .collect();
    assert_eq!(
        top,
        vec![
            ("alice@a.example", 3),
            ("bob@b.example", 1),
            ("carol@c.example", 1),
            ("dave@d.example", 1)
        ]
    );
}

fn draw(s: &Stats, w: u16, h: u16, color: bool) -> Terminal<TestBackend> {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal
        .draw(|f| {
            view::render(
                f,
                f.area(),
                s,
                Theme {
                    color,
                    ..Default::default()
                },
            )
        })
        .unwrap();
    terminal
}

#[test]
fn the_statistics_view_at_80x24_and_160x48() {
    let dir = tempfile::tempdir().unwrap();
    let store = hand_built(&dir.path().join("s.sqlite3"));
    let s = stats::compute(store.conn(), NOW, chrono_tz::UTC).unwrap();
    insta::assert_snapshot!("stats_80x24", draw(&s, 80, 24, false).backend().to_string());
    insta::assert_snapshot!(
        "stats_160x48",
        draw(&s, 160, 48, false).backend().to_string()
    );
    // Colour carries meaning: a compliance of 0% is red, 100% green.
    let t = draw(&s, 160, 48, true);
    let buf = t.backend().buffer();
    let find = |needle: &str| -> (u16, u16) {
        for y in 0..buf.area.height {
            let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
            if let Some(x) = line.find(needle) {
                return (line[..x].chars().count() as u16, y);
            }
        }
        panic!("{needle} not on screen");
    };
    let (x, y) = find("  0% 0/2");
    assert_eq!(buf[(x + 2, y)].fg, ratatui::style::Color::Red);
    let (x, y) = find("100% 1/1");
    assert_eq!(buf[(x, y)].fg, ratatui::style::Color::Green);
}

#[test]
fn stats_and_export_from_the_command_line() {
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("\"Ann, Example\" <ann@customer.example>")
            .subject("=1+1, \"quoted\" subject")
            .id("e1@x")
            .body("First line, with a comma\n\"Quoted\" second line\n")
            .build(),
    );
    h.ingest(
        &mail()
            .from("Ann <ann@customer.example>")
            .subject("Re: =1+1, \"quoted\" subject")
            .id("e2@x")
            .in_reply_to("e1@x")
            .body("Any news?\n")
            .build(),
    );
    let dir = h.dir.path().to_owned();
    let store = h.store_path();
    let run = |args: &[&str]| {
        let mut v = vec!["--store", store.to_str().unwrap()];
        v.extend_from_slice(args);
        let out = helpdesk(&dir, &v);
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        out
    };

    let json: serde_json::Value =
        serde_json::from_slice(&run(&["stats", "--json"]).stdout).unwrap();
    assert_eq!(json["tickets"], 1);
    assert_eq!(
        json["by_status"][0],
        serde_json::json!({"name": "open", "tickets": 1})
    );
    assert_eq!(json["daily"].as_array().unwrap().len(), 30);
    let text = stdout(&run(&["stats"]));
    assert!(
        text.contains("Tickets: 1 (open 1,") && text.contains("Top requesters:"),
        "{text}"
    );

    let export: serde_json::Value =
        serde_json::from_slice(&run(&["export", "--format", "json"]).stdout).unwrap();
    assert_eq!(export["tickets"].as_array().unwrap().len(), 1);
    let msgs = export["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[0]["message_id"], "e1@x");
    assert!(
        msgs[0].get("raw_base64").is_none(),
        "raw bytes only when asked"
    );
    assert!(export["events"].as_array().unwrap().len() >= 2);
    let with_raw: serde_json::Value =
        serde_json::from_slice(&run(&["export", "--format", "json", "--raw"]).stdout).unwrap();
    use base64::Engine as _;
    let raw = base64::engine::general_purpose::STANDARD
        .decode(with_raw["messages"][0]["raw_base64"].as_str().unwrap())
        .unwrap();
    assert!(raw.starts_with(b"To: support@lumencloud.example"));

    let out_dir = dir.join("csv");
    run(&[
        "export",
        "--format",
        "csv",
        "--output",
        out_dir.to_str().unwrap(),
    ]);
    let tickets = parse_csv(&std::fs::read_to_string(out_dir.join("tickets.csv")).unwrap());
    let messages = parse_csv(&std::fs::read_to_string(out_dir.join("messages.csv")).unwrap());
    let events = parse_csv(&std::fs::read_to_string(out_dir.join("events.csv")).unwrap());
    assert_eq!(tickets.len(), 2);
    assert_eq!(tickets[0][0], "number");
    let subject = tickets[0].iter().position(|c| c == "subject").unwrap();
    // The formula-like subject is defused with a leading quote; commas and quotes survive.
    assert_eq!(tickets[1][subject], "'=1+1, \"quoted\" subject");
    assert_eq!(messages.len(), 3);
    let body = messages[0].iter().position(|c| c == "body").unwrap();
    assert_eq!(
        messages[1][body],
        "First line, with a comma\n\"Quoted\" second line"
    );
    assert_eq!(
        events[0],
        vec!["ticket", "at", "kind", "detail", "message_id"]
    );
    assert!(events.len() >= 3);
    assert!(events[1..].iter().all(|e| e.len() == 5));
}

/// RFC 4180 records.
fn parse_csv(text: &str) -> Vec<Vec<String>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut cell = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cell.push('"');
            }
            ('"', true) => quoted = false,
            ('"', false) if cell.is_empty() => quoted = true,
            (',', false) => row.push(std::mem::take(&mut cell)),
            ('\r', false) => {}
            ('\n', false) => {
                row.push(std::mem::take(&mut cell));
                rows.push(std::mem::take(&mut row));
            }
            (c, _) => cell.push(c),
        }
    }
    assert!(cell.is_empty() && row.is_empty(), "a record is not closed");
    rows
}
