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
    press(&mut store, &mut app, &[Action::ToggleFold, Action::Back]);

    // The views snapshotted at 80×24 elsewhere, in like states.
    let keymap = Keymap::default_map();
    press(&mut store, &mut app, &[Action::Help]);
    insta::assert_snapshot!("help_160x48", render(&store, &mut app, 160, 48));
    press(&mut store, &mut app, &[Action::Back]);
    type_keys(&mut store, &mut app, &keymap, "/okta aud");
    insta::assert_snapshot!("search_160x48", render(&store, &mut app, 160, 48));
    type_keys(&mut store, &mut app, &keymap, "\x1b");
    analyse(&mut store);
    press(&mut store, &mut app, &[Action::Top]);
    tui::perform(&mut store, &mut app, vec![tui::app::Effect::Refresh]).unwrap();
    select(&mut store, &mut app, "TKT-2026-00027");
    type_keys(&mut store, &mut app, &keymap, "eOK ");
    insta::assert_snapshot!("editor_160x48", render(&store, &mut app, 160, 48));
    type_keys(&mut store, &mut app, &keymap, "\x1b\x1b");
    assert!(app.editor.is_none());
    type_keys(&mut store, &mut app, &keymap, "rduplicate");
    insta::assert_snapshot!("reject_prompt_160x48", render(&store, &mut app, 160, 48));
    type_keys(&mut store, &mut app, &keymap, "\x1bgvvs");
    insta::assert_snapshot!("status_choice_160x48", render(&store, &mut app, 160, 48));
    type_keys(&mut store, &mut app, &keymap, "\x1b");
    let (_, _, priority, _) = common_category_and_priority(&store, &app);
    let fx = app.run_command(&format!("filter priority={priority}"));
    tui::perform(&mut store, &mut app, fx).unwrap();
    type_keys(&mut store, &mut app, &keymap, "f");
    insta::assert_snapshot!("filter_prompt_160x48", render(&store, &mut app, 160, 48));
    type_keys(&mut store, &mut app, &keymap, "c");
    insta::assert_snapshot!("filter_category_160x48", render(&store, &mut app, 160, 48));
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

/// Presses keys as the terminal sends them, through the keymap.
fn type_keys(store: &mut Store, app: &mut tui::app::App, keymap: &Keymap, text: &str) {
    use ratatui::crossterm::event::KeyCode;
    for c in text.chars() {
        let k = match c {
            '\r' => code(KeyCode::Enter),
            '\x1b' => code(KeyCode::Esc),
            '\x08' => code(KeyCode::Backspace),
            c => key(c),
        };
        let fx = tui::handle_key(app, keymap, k);
        tui::perform(store, app, fx).unwrap();
    }
}

/// Tickets of the list with noise and spam left out unless `cond` names a status.
fn sql_count(store: &Store, cond: &str, params: &[&str]) -> u32 {
    let hide = if cond.contains("status") {
        ""
    } else {
        " AND status NOT IN ('noise', 'spam')"
    };
    store
        .conn()
        .query_row(
            &format!("SELECT count(*) FROM tickets WHERE {cond}{hide}"),
            rusqlite::params_from_iter(params),
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn the_status_filter_picks_a_status_and_counts() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = demo_store(dir.path());
    let keymap = Keymap::default_map();
    let mut app = tui::start(&mut store, NOW).unwrap();
    // f, then s for status, then o for open.
    type_keys(&mut store, &mut app, &keymap, "f");
    assert_eq!(app.prompt, Some(tui::app::Prompt::Filter(None)));
    type_keys(&mut store, &mut app, &keymap, "so");
    assert_eq!(app.prompt, None);
    assert_eq!(app.filter.status, Some(helpdesk::store::TicketStatus::Open));
    assert_eq!(app.total, sql_count(&store, "status = ?1", &["open"]));
    assert!(app.total > 30);
    // Another status replaces it: noise is listed when asked for.
    type_keys(&mut store, &mut app, &keymap, "fsn");
    assert_eq!(
        app.filter.status,
        Some(helpdesk::store::TicketStatus::Noise)
    );
    assert_eq!(app.total, sql_count(&store, "status = ?1", &["noise"]));
    assert_eq!(
        app.total, 5,
        "newsletter, monitoring alert, no-reply notification, out-of-office and bounce"
    );
    assert!(
        app.page
            .iter()
            .all(|t| t.status == helpdesk::store::TicketStatus::Noise)
    );
    // * is any status again; Esc leaves the filter as it was.
    type_keys(&mut store, &mut app, &keymap, "fs*");
    assert!(app.filter.is_empty());
    assert_eq!(app.total, 35);
    type_keys(&mut store, &mut app, &keymap, "fs\x1b");
    assert_eq!((app.prompt.is_none(), app.total), (true, 35));
}

/// The demo store with every ticket analysed by the offline drafter.
fn analysed_demo_store(dir: &Path) -> Store {
    let mut store = demo_store(dir);
    analyse(&mut store);
    store
}

/// Analyses every ticket with the offline drafter: drafts, categories and priorities.
fn analyse(store: &mut Store) {
    let drafter = helpdesk::ai::offline::OfflineDrafter::bundled().unwrap();
    let options = helpdesk::ai::StageOptions {
        signature: "The Lumen Cloud team".into(),
        ..Default::default()
    };
    helpdesk::ai::analyse_pending(store, &drafter, &options, &|| NOW, &mut |_, _| {}).unwrap();
}

/// The category and priority most tickets of the list share, with the keys that pick them.
fn common_category_and_priority(
    store: &Store,
    app: &tui::app::App,
) -> (String, char, String, char) {
    use helpdesk::tui::app::ChoiceKind;
    let (category, priority): (String, String) = store
        .conn()
        .query_row(
            "SELECT category, priority FROM tickets
             WHERE status NOT IN ('noise', 'spam') AND category IS NOT NULL
               AND priority IS NOT NULL
             GROUP BY 1, 2 ORDER BY count(*) DESC, 1, 2 LIMIT 1",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let key = |kind: ChoiceKind, value: &str| {
        kind.choices(&app.categories)
            .into_iter()
            .find(|(_, label, _)| label == value)
            .unwrap()
            .0
    };
    (
        category.clone(),
        key(ChoiceKind::Category, &category),
        priority.clone(),
        key(ChoiceKind::Priority, &priority),
    )
}

#[test]
fn filters_by_category_priority_and_both_combine_and_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = analysed_demo_store(dir.path());
    let keymap = Keymap::default_map();
    let mut app = tui::start(&mut store, NOW).unwrap();
    let (category, c, priority, p) = common_category_and_priority(&store, &app);
    let rows_match = |app: &tui::app::App| {
        app.page.iter().all(|t| {
            app.filter
                .category
                .as_ref()
                .is_none_or(|c| t.category.as_ref() == Some(c))
                && app
                    .filter
                    .priority
                    .as_ref()
                    .is_none_or(|p| t.priority.as_ref() == Some(p))
                && app.filter.status.is_none_or(|s| t.status == s)
        }) && app.page.len() as u32 == app.total
    };

    // A search ends when the filter changes.
    type_keys(&mut store, &mut app, &keymap, "/sync\r");
    assert!(app.search.is_some());
    type_keys(&mut store, &mut app, &keymap, &format!("fc{c}"));
    assert!(app.search.is_none());
    assert_eq!(app.filter.category.as_deref(), Some(category.as_str()));
    let by_category = sql_count(&store, "category = ?1", &[&category]);
    assert_eq!(app.total, by_category);
    assert!(rows_match(&app));

    // Filters combine.
    type_keys(&mut store, &mut app, &keymap, &format!("fp{p}"));
    let both = sql_count(
        &store,
        "category = ?1 AND priority = ?2",
        &[&category, &priority],
    );
    assert_eq!(app.total, both);
    assert!(both > 0 && both < by_category, "{both} of {by_category}");
    assert!(rows_match(&app));
    assert_eq!(app.selected, 0, "the list starts again from its top");
    let screen = render(&store, &mut app, 160, 48);
    let shown = format!("category: {category} · priority: {priority}");
    assert!(
        screen.contains(&format!("Tickets ({both}) · {shown}")),
        "{screen}"
    );
    assert!(
        screen.contains(&format!("1/{both} tickets  {shown}")),
        "{screen}"
    );

    // * is any category: the priority alone is left.
    type_keys(&mut store, &mut app, &keymap, "fc*");
    assert_eq!(app.filter.category, None);
    assert_eq!(app.total, sql_count(&store, "priority = ?1", &[&priority]));
    assert!(rows_match(&app));

    // With a status too.
    type_keys(&mut store, &mut app, &keymap, &format!("fc{c}fso"));
    assert_eq!(
        app.total,
        sql_count(
            &store,
            "category = ?1 AND priority = ?2 AND status = 'open'",
            &[&category, &priority]
        )
    );
    assert!(rows_match(&app));

    // Backspace goes back to what to filter; an unknown key says what exists.
    type_keys(&mut store, &mut app, &keymap, "fp\x08");
    assert_eq!(app.prompt, Some(tui::app::Prompt::Filter(None)));
    type_keys(&mut store, &mut app, &keymap, "q");
    assert!(
        app.status.contains("s status, c category"),
        "{}",
        app.status
    );
    assert!(!app.quit && !app.filter.is_empty());

    // x clears every filter.
    type_keys(&mut store, &mut app, &keymap, "fx");
    assert!(app.filter.is_empty());
    assert_eq!(app.total, 35);
    assert_eq!(app.status, "filters cleared");

    // The action keeps its name in [keys].
    let mut keys = std::collections::BTreeMap::new();
    keys.insert("filter".to_owned(), vec!["F".to_owned()]);
    let remapped = Keymap::with_overrides(&keys).unwrap();
    type_keys(&mut store, &mut app, &remapped, &format!("Fp{p}"));
    assert_eq!(app.filter.priority.as_deref(), Some(priority.as_str()));
}

#[test]
fn the_filter_command_takes_named_values_and_names_the_valid_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut store = analysed_demo_store(dir.path());
    let keymap = Keymap::default_map();
    let mut app = tui::start(&mut store, NOW).unwrap();
    let (category, _, priority, _) = common_category_and_priority(&store, &app);
    // Any case; the dimensions not named are any.
    type_keys(
        &mut store,
        &mut app,
        &keymap,
        &format!(
            ":filter status=open category={} priority={}\r",
            category.to_lowercase(),
            priority.to_uppercase()
        ),
    );
    assert_eq!(app.filter.category.as_deref(), Some(category.as_str()));
    assert_eq!(app.filter.priority.as_deref(), Some(priority.as_str()));
    assert_eq!(app.filter.status, Some(helpdesk::store::TicketStatus::Open));
    assert_eq!(
        app.total,
        sql_count(
            &store,
            "status = 'open' AND category = ?1 AND priority = ?2",
            &[&category, &priority]
        )
    );
    let fx = app.run_command(&format!("filter priority={priority}"));
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert_eq!(
        (app.filter.status, app.filter.category.as_deref()),
        (None, None)
    );
    assert_eq!(app.total, sql_count(&store, "priority = ?1", &[&priority]));

    // An invalid value or key changes nothing and says what is valid.
    let before = app.filter.clone();
    type_keys(&mut store, &mut app, &keymap, ":filter priority=hgh\r");
    assert_eq!(
        app.status,
        "unknown priority \"hgh\"; valid: low, medium, high, urgent"
    );
    assert_eq!(app.filter, before);
    let fx = app.run_command("filter colour=red");
    assert!(fx.is_empty());
    assert_eq!(
        app.status,
        "unknown filter \"colour\"; valid: status, category, priority"
    );
    let fx = app.run_command("filter category=Payments");
    assert!(fx.is_empty());
    assert!(
        app.status
            .starts_with("unknown category \"Payments\"; valid: Billing, Technical"),
        "{}",
        app.status
    );

    // A bare status, as before; all clears.
    let fx = app.run_command("filter waiting");
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert_eq!(
        app.filter.status,
        Some(helpdesk::store::TicketStatus::Waiting)
    );
    assert_eq!(app.filter.priority, None);
    assert_eq!(app.total, sql_count(&store, "status = 'waiting'", &[]));
    let fx = app.run_command("filter all");
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert!(app.filter.is_empty());
    assert_eq!(app.total, 35);

    // Nothing matches: the list says so and how to get back.
    let fx = app.run_command("filter status=spam category=Billing");
    tui::perform(&mut store, &mut app, fx).unwrap();
    assert_eq!(app.total, 0);
    let screen = render(&store, &mut app, 80, 24);
    assert!(
        screen.contains("No ticket matches status: spam · category: Billing."),
        "{screen}"
    );

    // The filter prompt, with a filter set: what is filtered shows in the prompt and the
    // list title; then the categories (they take two lines at 80 columns).
    let fx = app.run_command(&format!("filter priority={priority}"));
    tui::perform(&mut store, &mut app, fx).unwrap();
    type_keys(&mut store, &mut app, &keymap, "f");
    insta::assert_snapshot!("filter_prompt_80x24", render(&store, &mut app, 80, 24));
    type_keys(&mut store, &mut app, &keymap, "c");
    insta::assert_snapshot!("filter_category_80x24", render(&store, &mut app, 80, 24));
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
    let all =
        helpdesk::store::tickets::list(h.store.conn(), &tui::list_filter(&Default::default()))
            .unwrap();
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

/// A mail with two attachments; the second is named to escape the directory.
fn mail_with_attachments() -> Vec<u8> {
    b"From: Lena <lena@x.example>\nTo: support@lumencloud.example\nSubject: Crash log\n\
Message-ID: <att@x.example>\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\n\
Logs attached.\n--XX\nContent-Type: text/plain; name=\"crash.log\"\n\
Content-Disposition: attachment; filename=\"crash.log\"\n\nline one\nline two\n\
--XX\nContent-Type: application/octet-stream\n\
Content-Disposition: attachment; filename=\"../../.profile\"\nContent-Transfer-Encoding: base64\n\n\
aGVsbG8gd29ybGQ=\n--XX--\n"
        .to_vec()
}

#[test]
fn save_writes_an_attachment_under_a_safe_name_and_never_overwrites() {
    use helpdesk::tui::app::Input;
    let mut h = support::Harness::new();
    // Attachments over this size are kept as metadata only: the second is cut again from
    // the raw mail when saved.
    h.ingest.max_attachment_bytes = 5;
    h.ingest(&mail_with_attachments());
    let mut app = tui::start(&mut h.store, NOW).unwrap();
    press(&mut h.store, &mut app, &[Action::Open]);
    let screen = render(&h.store, &mut app, 160, 48);
    assert!(screen.contains("📎 1 crash.log (text/plain"), "{screen}");
    assert!(screen.contains("📎 2 ../../.profile"), "{screen}");

    let out = tempfile::tempdir().unwrap();
    let dir = out.path().join("saved");
    // Through the command line, as typed after `:`.
    let mut command = |app: &mut tui::app::App, line: &str| {
        press(&mut h.store, app, &[Action::Command]);
        for c in line.chars() {
            let fx = app.prompt_input(Input::Char(c));
            tui::perform(&mut h.store, app, fx).unwrap();
        }
        let fx = app.prompt_input(Input::Submit);
        tui::perform(&mut h.store, app, fx).unwrap();
        app.status.clone()
    };
    let said = command(&mut app, &format!("save 1 {}", dir.display()));
    assert_eq!(
        said,
        format!("saved to {}", dir.join("crash.log").display())
    );
    let text = std::fs::read_to_string(dir.join("crash.log")).unwrap();
    assert!(text.starts_with("line one\n"), "{text:?}");
    // Again: a second name, the first file untouched.
    let said = command(&mut app, &format!("save 1 {}", dir.display()));
    assert!(said.ends_with("crash (2).log"), "{said}");
    // Over the cap and named "../../.profile": cut from the raw mail, saved inside the
    // directory as "profile".
    let said = command(&mut app, &format!("save 2 {}", dir.display()));
    assert_eq!(said, format!("saved to {}", dir.join("profile").display()));
    assert_eq!(std::fs::read(dir.join("profile")).unwrap(), b"hello world");
    assert!(!out.path().join(".profile").exists());
    let said = command(&mut app, "save 3");
    assert!(said.contains("N from 1 to 2"), "{said}");
}
