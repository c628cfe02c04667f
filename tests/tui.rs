//! The review screen drawn with ratatui's TestBackend: snapshots of each pane at 80×24 and
//! 160×48 on the demo mailbox (fixed clock), keys driving the model, and escape sequences from
//! mail shown as harmless text.

mod support;

use std::path::Path;

use helpdesk::config::Config;
use helpdesk::mail::import::import;
use helpdesk::mail::source::Scan;
use helpdesk::store::Store;
use helpdesk::tui::{self, app::Action, keymap::Keymap, views};
use ratatui::{Terminal, backend::TestBackend};
use support::NOW;

fn demo_store(dir: &Path) -> Store {
    let mut store = Store::open(&dir.join("demo.sqlite3")).unwrap();
    let mut config = Config::default();
    config.account.address = Some("support@lumencloud.example".into());
    let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    let scan = Scan::paths(&[demo]).unwrap();
    import(&mut store, &ingest, &scan, "demo", &|| NOW, &mut |_, _| {}).unwrap();
    store
}

fn render(store: &Store, app: &mut tui::app::App, w: u16, h: u16) -> String {
    let _ = store;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    let theme = views::Theme { color: false };
    terminal
        .draw(|f| views::draw(f, app, &Keymap::default_map(), theme))
        .unwrap();
    terminal.backend().to_string()
}

fn press(store: &Store, app: &mut tui::app::App, actions: &[Action]) {
    for a in actions {
        let fx = app.update(*a);
        tui::perform(store, app, fx).unwrap();
    }
}

/// Moves the selection to a ticket by number.
fn select(store: &Store, app: &mut tui::app::App, number: &str) {
    press(store, app, &[Action::Top]);
    for _ in 0..app.total {
        if app.selected_row().map(|t| t.number.as_str()) == Some(number) {
            return;
        }
        press(store, app, &[Action::Down]);
    }
    panic!("{number} not in the list");
}

#[test]
fn views_at_80x24() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut app = tui::start(&store, NOW).unwrap();
    insta::assert_snapshot!("list_80x24", render(&store, &mut app, 80, 24));
    select(&store, &mut app, "TKT-2026-00018");
    press(&store, &mut app, &[Action::Open]);
    insta::assert_snapshot!("thread_80x24", render(&store, &mut app, 80, 24));
    press(&store, &mut app, &[Action::NextPane]);
    insta::assert_snapshot!("draft_80x24", render(&store, &mut app, 80, 24));
    press(&store, &mut app, &[Action::Help]);
    insta::assert_snapshot!("help_80x24", render(&store, &mut app, 80, 24));
}

#[test]
fn views_at_160x48() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut app = tui::start(&store, NOW).unwrap();
    select(&store, &mut app, "TKT-2026-00018");
    insta::assert_snapshot!("split_160x48", render(&store, &mut app, 160, 48));
    press(&store, &mut app, &[Action::Open, Action::ToggleFold]);
    insta::assert_snapshot!("split_unfolded_160x48", render(&store, &mut app, 160, 48));
}

#[test]
fn the_list_is_paged_and_moves_reach_every_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut app = tui::start(&store, NOW).unwrap();
    // 40 tickets, less the 5 of machine mail set aside as noise.
    assert_eq!(app.total, 35);
    let mut seen = Vec::new();
    for i in 0..app.total {
        let t = app.selected_row().unwrap().clone();
        assert_eq!(app.open.as_ref().unwrap().ticket.number, t.number);
        assert_ne!(t.status, helpdesk::store::TicketStatus::Noise);
        seen.push(t);
        if i + 1 < app.total {
            press(&store, &mut app, &[Action::Down]);
        }
    }
    let numbers: std::collections::BTreeSet<&str> =
        seen.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(numbers.len(), 35, "every ticket once");
    // By SLA deadline: the earliest first, tickets without a running clock after them.
    let dues: Vec<i64> = seen
        .iter()
        .map(|t| t.next_due().unwrap_or(i64::MAX))
        .collect();
    assert!(dues.windows(2).all(|w| w[0] <= w[1]), "{dues:?}");
    assert!(dues[0] < NOW, "the demo's oldest request is overdue");
    let last = seen.last().unwrap().number.clone();
    press(&store, &mut app, &[Action::Top, Action::Bottom]);
    assert_eq!(app.selected_row().unwrap().number, last);
    press(&store, &mut app, &[Action::PageUp, Action::Top]);
    assert_eq!(app.selected_row().unwrap().number, seen[0].number);
}

#[test]
fn escape_sequences_in_a_subject_are_shown_as_harmless_text() {
    let mut h = support::Harness::new();
    h.ingest(
        b"From: Mallory <m@evil.example>\nSubject: hi \x1b]0;pwned\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07 end\nMessage-ID: <esc@x>\n\nbody \x1b[31mred\n",
    );
    let mut app = tui::start(&h.store, NOW).unwrap();
    press(&h.store, &mut app, &[Action::Open]);
    for (w, hgt) in [(80, 24), (160, 48)] {
        let screen = render(&h.store, &mut app, w, hgt);
        assert!(!screen.contains('\u{1b}') && !screen.contains('\u{7}'));
        assert!(
            screen.contains("hi ]0;pwned [2J ]52;c;ZXZpbA== end"),
            "{screen}"
        );
    }
}

#[test]
fn search_narrows_the_list_as_you_type_and_esc_restores_it() {
    use helpdesk::tui::app::Input;
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut app = tui::start(&store, NOW).unwrap();
    press(&store, &mut app, &[Action::Search]);
    for c in "okta aud".chars() {
        let fx = app.input(Input::Char(c));
        tui::perform(&store, &mut app, fx).unwrap();
    }
    // "aud" matches "Audience" as a prefix while typing.
    assert_eq!(
        app.total,
        1,
        "{:?}",
        app.page.iter().map(|t| &t.subject).collect::<Vec<_>>()
    );
    assert_eq!(app.selected_row().unwrap().number, "TKT-2026-00027");
    assert_eq!(app.open.as_ref().unwrap().ticket.number, "TKT-2026-00027");
    insta::assert_snapshot!("search_80x24", render(&store, &mut app, 80, 24));
    let fx = app.input(Input::Cancel);
    tui::perform(&store, &mut app, fx).unwrap();
    assert_eq!(app.total, 35);
}

#[test]
fn the_status_filter_cycles_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let store = demo_store(dir.path());
    let mut app = tui::start(&store, NOW).unwrap();
    press(&store, &mut app, &[Action::Filter]);
    let count = |status: &str| -> u32 {
        store
            .conn()
            .query_row(
                "SELECT count(*) FROM tickets WHERE status = ?1",
                [status],
                |r| r.get(0),
            )
            .unwrap()
    };
    assert_eq!(app.filter, Some(helpdesk::store::TicketStatus::Open));
    assert_eq!(app.total, count("open"));
    assert!(app.total > 30);
    for _ in 0..4 {
        press(&store, &mut app, &[Action::Filter]);
    }
    assert_eq!(app.filter, Some(helpdesk::store::TicketStatus::Noise));
    assert_eq!(app.total, count("noise"));
    assert_eq!(
        app.total, 5,
        "newsletter, monitoring alert, no-reply notification, out-of-office and bounce"
    );
    assert!(
        app.page
            .iter()
            .all(|t| t.status == helpdesk::store::TicketStatus::Noise)
    );
}
