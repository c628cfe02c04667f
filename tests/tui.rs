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
    let theme = views::Theme {
        color: false,
        ..Default::default()
    };
    terminal
        .draw(|f| views::draw(f, app, &Keymap::default_map(), theme))
        .unwrap();
    terminal.backend().to_string()
}

fn press(store: &mut Store, app: &mut tui::app::App, actions: &[Action]) {
    for a in actions {
        let fx = app.update(*a);
        tui::perform(store, app, fx).unwrap();
    }
}

/// Moves the selection to a ticket by number.
fn select(store: &mut Store, app: &mut tui::app::App, number: &str) {
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
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    insta::assert_snapshot!("list_80x24", render(&store, &mut app, 80, 24));
    select(&mut store, &mut app, "TKT-2026-00018");
    press(&mut store, &mut app, &[Action::Open]);
    insta::assert_snapshot!("thread_80x24", render(&store, &mut app, 80, 24));
    press(&mut store, &mut app, &[Action::NextPane]);
    insta::assert_snapshot!("draft_80x24", render(&store, &mut app, 80, 24));
    press(&mut store, &mut app, &[Action::Help]);
    insta::assert_snapshot!("help_80x24", render(&store, &mut app, 80, 24));
}

#[test]
fn views_at_160x48() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    select(&mut store, &mut app, "TKT-2026-00018");
    insta::assert_snapshot!("split_160x48", render(&store, &mut app, 160, 48));
    press(&mut store, &mut app, &[Action::Open, Action::ToggleFold]);
    insta::assert_snapshot!("split_unfolded_160x48", render(&store, &mut app, 160, 48));
}

#[test]
fn the_list_is_paged_and_moves_reach_every_ticket() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    // 40 tickets, less the 5 of machine mail set aside as noise.
    assert_eq!(app.total, 35);
    let mut seen = Vec::new();
    for i in 0..app.total {
        let t = app.selected_row().unwrap().clone();
        assert_eq!(app.open.as_ref().unwrap().ticket.number, t.number);
        assert_ne!(t.status, helpdesk::store::TicketStatus::Noise);
        seen.push(t);
        if i + 1 < app.total {
            press(&mut store, &mut app, &[Action::Down]);
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
    press(&mut store, &mut app, &[Action::Top, Action::Bottom]);
    assert_eq!(app.selected_row().unwrap().number, last);
    press(&mut store, &mut app, &[Action::PageUp, Action::Top]);
    assert_eq!(app.selected_row().unwrap().number, seen[0].number);
}

#[test]
fn escape_sequences_in_a_subject_are_shown_as_harmless_text() {
    let mut h = support::Harness::new();
    h.ingest(
        b"From: Mallory <m@evil.example>\nSubject: hi \x1b]0;pwned\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07 end\nMessage-ID: <esc@x>\n\nbody \x1b[31mred\n",
    );
    let mut app = tui::start(&mut h.store, NOW).unwrap();
    press(&mut h.store, &mut app, &[Action::Open]);
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
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    press(&mut store, &mut app, &[Action::Search]);
    for c in "okta aud".chars() {
        let fx = app.input(Input::Char(c));
        tui::perform(&mut store, &mut app, fx).unwrap();
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
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert_eq!(app.total, 35);
}

#[test]
fn the_status_filter_cycles_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    press(&mut store, &mut app, &[Action::Filter]);
    let count = |store: &Store, status: &str| -> u32 {
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
    assert_eq!(app.total, count(&store, "open"));
    assert!(app.total > 30);
    for _ in 0..4 {
        press(&mut store, &mut app, &[Action::Filter]);
    }
    assert_eq!(app.filter, Some(helpdesk::store::TicketStatus::Noise));
    assert_eq!(app.total, count(&store, "noise"));
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

/// The demo store with every ticket analysed by the offline drafter.
fn analysed_demo_store(dir: &Path) -> Store {
    let mut store = demo_store(dir);
    let drafter = helpdesk::ai::offline::OfflineDrafter::bundled().unwrap();
    let options = helpdesk::ai::StageOptions {
        signature: "The Lumen Cloud team".into(),
        ..Default::default()
    };
    helpdesk::ai::analyse_pending(&mut store, &drafter, &options, &|| NOW, &mut |_, _| {}).unwrap();
    store
}

fn key(c: char) -> ratatui::crossterm::event::KeyEvent {
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)
}

fn code(k: ratatui::crossterm::event::KeyCode) -> ratatui::crossterm::event::KeyEvent {
    ratatui::crossterm::event::KeyEvent::new(k, ratatui::crossterm::event::KeyModifiers::NONE)
}

#[test]
fn review_keys_edit_approve_undo_reject_note_and_bulk_status() {
    use helpdesk::send::compose::Sender;
    use helpdesk::store::{DraftState, OutboxState, TicketStatus, messages, outbox, tickets};
    use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
    let dir = tempfile::tempdir().unwrap();
    let mut store = analysed_demo_store(dir.path());
    let keymap = Keymap::default_map();
    let sender = Sender {
        name: "Lumen Cloud Support".into(),
        address: "support@lumencloud.example".into(),
        signature: None,
        quote_original: false,
        key: helpdesk::ticket::token::TokenKey::from_hex(&"22".repeat(32)).unwrap(),
        tags: helpdesk::ticket::TagMatcher::new("TKT"),
    };
    let mut app = tui::start(&mut store, NOW).unwrap();
    select(&mut store, &mut app, "TKT-2026-00027");
    let id = app.current().unwrap();
    let keys = |store: &mut Store, app: &mut tui::app::App, events: &[KeyEvent]| {
        let mut s = tui::Services {
            store,
            sender: Some(&sender),
            wakers: Default::default(),
            external_edit: None,
            escalations: Vec::new(),
            tz: chrono_tz::UTC,
            policy: Default::default(),
        };
        for e in events {
            let fx = tui::handle_key(app, &keymap, *e);
            tui::perform_with(&mut s, app, fx).unwrap();
        }
    };
    let draft = |store: &Store| messages::latest_draft(store.conn(), id).unwrap().unwrap();
    assert_eq!(draft(&store).state, DraftState::Drafted);

    // e opens the inline editor on the draft; typed text lands at the cursor; Ctrl-S saves.
    keys(&mut store, &mut app, &[key('e')]);
    assert!(app.editor.is_some());
    keys(&mut store, &mut app, &[key('O'), key('K'), key(' ')]);
    insta::assert_snapshot!("editor_80x24", render(&store, &mut app, 80, 24));
    keys(
        &mut store,
        &mut app,
        &[KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL)],
    );
    assert!(app.editor.is_none());
    assert!(
        draft(&store).body.starts_with("OK "),
        "{}",
        draft(&store).body
    );

    // a approves: the reply is rendered into the outbox; u takes it back.
    keys(&mut store, &mut app, &[key('a')]);
    assert_eq!(draft(&store).state, DraftState::Approved);
    let rows = outbox::list(store.conn(), &[]).unwrap();
    assert_eq!((rows.len(), rows[0].state), (1, OutboxState::Queued));
    insta::assert_snapshot!("approved_160x48", render(&store, &mut app, 160, 48));
    keys(&mut store, &mut app, &[key('u')]);
    assert_eq!(draft(&store).state, DraftState::Drafted, "{}", app.status);
    assert!(outbox::list(store.conn(), &[]).unwrap().is_empty());

    // r asks for a reason on the status line.
    keys(&mut store, &mut app, &[key('r')]);
    for c in "duplicate".chars() {
        keys(&mut store, &mut app, &[key(c)]);
    }
    insta::assert_snapshot!("reject_prompt_80x24", render(&store, &mut app, 80, 24));
    keys(&mut store, &mut app, &[code(KeyCode::Enter)]);
    let d = draft(&store);
    assert_eq!(
        (d.state, d.reject_reason.as_deref()),
        (DraftState::Rejected, Some("duplicate"))
    );

    // :note adds an internal note; p picks a priority with one key.
    keys(&mut store, &mut app, &[key(':')]);
    for c in "note customer called too".chars() {
        keys(&mut store, &mut app, &[key(c)]);
    }
    keys(
        &mut store,
        &mut app,
        &[code(KeyCode::Enter), key('p'), key('u')],
    );
    let msgs = messages::for_ticket(store.conn(), id).unwrap();
    assert!(msgs.iter().any(|m| m.body == "customer called too"));
    assert_eq!(
        tickets::get(store.conn(), id).unwrap().priority.as_deref(),
        Some("urgent")
    );

    // v on two tickets, then s c closes both.
    keys(&mut store, &mut app, &[key('g'), key('v'), key('v')]);
    assert_eq!(app.selection.len(), 2);
    let picked: Vec<i64> = app.selection.iter().copied().collect();
    keys(&mut store, &mut app, &[key('s')]);
    insta::assert_snapshot!("status_choice_80x24", render(&store, &mut app, 80, 24));
    keys(&mut store, &mut app, &[key('c')]);
    for t in picked {
        assert_eq!(
            tickets::state(store.conn(), t).unwrap().status,
            TicketStatus::Closed
        );
    }
    assert!(app.selection.is_empty());

    // An unknown command says what exists.
    keys(
        &mut store,
        &mut app,
        &[key(':'), key('z'), key('z'), code(KeyCode::Enter)],
    );
    assert!(app.status.contains("unknown command"), "{}", app.status);
}

#[test]
fn the_draft_pane_shows_check_flags_and_why_an_analysis_failed() {
    use helpdesk::store::{DraftState, messages, tickets};
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let id = |store: &Store, n: &str| tickets::by_number(store.conn(), n).unwrap().unwrap().id;
    let flagged = id(&store, "TKT-2026-00018");
    let failed = id(&store, "TKT-2026-00011");
    let analysis = serde_json::json!({
        "category": "Technical", "priority": "high", "sentiment": "negative", "language": "en",
        "summary": "API 500", "steps": [], "reply": "We will refund you by Friday.",
        "escalate": false, "escalate_reason": null, "questions": [], "noise": false,
        "confidence": 0.6, "drafter": "gpt-test",
        "flags": ["promises a refund", "promises a date or deadline"]
    })
    .to_string();
    let tx = store.write().unwrap();
    let d = messages::latest_draft(&tx, flagged).unwrap().unwrap().id;
    messages::set_draft(
        &tx,
        d,
        DraftState::Drafted,
        "We will refund you by Friday.",
        Some(&analysis),
        None,
        NOW,
    )
    .unwrap();
    let d = messages::latest_draft(&tx, failed).unwrap().unwrap().id;
    messages::set_draft_failed(
        &tx,
        d,
        "the AI endpoint http://127.0.0.1:9/v1/chat/completions gave no answer within 60 s",
        NOW,
    )
    .unwrap();
    Store::commit(tx).unwrap();
    let mut app = tui::start(&mut store, NOW).unwrap();
    select(&mut store, &mut app, "TKT-2026-00018");
    press(&mut store, &mut app, &[Action::Open, Action::NextPane]);
    let screen = render(&store, &mut app, 80, 24);
    assert!(screen.contains("⚑ promises a refund"), "{screen}");
    assert!(screen.contains("⚑ promises a date or deadline"), "{screen}");
    assert!(screen.contains("We will refund you by Friday."), "{screen}");
    let mut app = tui::start(&mut store, NOW).unwrap();
    select(&mut store, &mut app, "TKT-2026-00011");
    press(&mut store, &mut app, &[Action::Open, Action::NextPane]);
    let screen = render(&store, &mut app, 80, 24);
    assert!(screen.contains("analysis_failed"), "{screen}");
    assert!(
        screen.contains("Analysis failed: the AI endpoint"),
        "{screen}"
    );
    assert!(screen.contains("--retry-failed"), "{screen}");
}

#[test]
fn s_shows_the_statistics_and_x_asks_for_an_escalation() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    press(&mut store, &mut app, &[Action::Stats]);
    assert_eq!(app.overlay, tui::app::Overlay::Stats);
    let screen = render(&store, &mut app, 160, 48);
    assert!(screen.contains("Statistics"), "{screen}");
    press(&mut store, &mut app, &[Action::Down]);
    assert_eq!(app.overlay, tui::app::Overlay::None);
    let id = app.current().unwrap();
    let fx = app.update(Action::Escalate);
    assert_eq!(fx, vec![tui::app::Effect::Escalate { id }]);
    let mut s = tui::Services {
        store: &mut store,
        sender: None,
        wakers: Default::default(),
        external_edit: None,
        escalations: Vec::new(),
        tz: chrono_tz::UTC,
        policy: Default::default(),
    };
    tui::perform_with(&mut s, &mut app, fx).unwrap();
    assert_eq!(
        s.escalations,
        vec![id],
        "handed to a background thread by the runtime"
    );
}

#[test]
fn pages_near_the_end_read_from_the_end_give_the_same_rows() {
    let mut h = support::Harness::new();
    for i in 0..450 {
        h.now = NOW + i;
        h.ingest(
            &support::mail()
                .from(&format!("C{i} <c{i}@customer.example>"))
                .subject(&format!("Question {i}"))
                .id(&format!("p{i}@customer.example"))
                .build(),
        );
    }
    let all = helpdesk::store::tickets::list(h.store.conn(), &tui::list_filter(None)).unwrap();
    assert_eq!(all.len(), 450);
    let mut app = tui::start(&mut h.store, NOW).unwrap();
    press(&mut h.store, &mut app, &[Action::Bottom]);
    assert!(app.offset > 225, "the window is in the second half");
    let expected: Vec<&str> = all[app.offset as usize..]
        .iter()
        .map(|t| t.number.as_str())
        .collect();
    let got: Vec<&str> = app.page.iter().map(|t| t.number.as_str()).collect();
    assert_eq!(got, expected);
    assert_eq!(app.selected_row().unwrap().number, all[449].number);
    press(&mut h.store, &mut app, &[Action::PageUp, Action::Up]);
    let sel = app.selected as usize;
    assert_eq!(app.selected_row().unwrap().number, all[sel].number);
}

#[test]
fn o_reopens_a_noise_ticket_and_its_sla_clocks_start_again() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let mut app = tui::start(&mut store, NOW).unwrap();
    let fx = app.run_command("filter noise");
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert!(app.total > 0);
    let id = app.current().unwrap();
    press(&mut store, &mut app, &[Action::Restore]);
    let status: String = store
        .conn()
        .query_row("SELECT status FROM tickets WHERE id = ?1", [id], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(status, "open", "{}", app.status);
    let events = helpdesk::store::events::for_ticket(store.conn(), id).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == "sla" && e.detail.starts_with("clocks restarted")),
        "{events:?}"
    );
}
