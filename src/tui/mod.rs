//! The review screen: `app` holds the model and decides (`update` returns effects), `views`
//! draw it, `keymap` maps keys to actions from assets/keymap.toml, and `run` is the runtime
//! that reads keys, performs the effects against the store and redraws.
//!
//! This first slice browses: list, thread and draft panes, folding, paging from SQLite. It runs
//! on the calling thread; background sync, analysis and sending arrive with their stages.

pub mod app;
pub mod keymap;
pub mod views;
pub mod widgets;

use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyEventKind};

use crate::store::{Store, messages, search, tickets};
use app::{App, Effect, Input, Open};
use keymap::Keymap;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// Loads what the model asked for.
pub fn perform(store: &Store, app: &mut App, effects: Vec<Effect>) -> crate::store::Result<()> {
    let mut queue = effects;
    while let Some(effect) = queue.pop() {
        match effect {
            Effect::LoadPage { offset, limit } => {
                if app.search.is_some() {
                    continue; // search results are loaded whole
                }
                let rows = tickets::list(
                    store.conn(),
                    &tickets::ListFilter {
                        limit: Some(limit),
                        offset,
                        ..list_filter(app.filter)
                    },
                )?;
                queue.extend(app.page_loaded(offset, rows));
            }
            Effect::Reload => {
                let total =
                    tickets::count_filtered(store.conn(), &list_filter(app.filter))?.max(0) as u32;
                app.list_reset(total);
                queue.push(Effect::LoadPage {
                    offset: 0,
                    limit: app::PAGE,
                });
            }
            Effect::Search { query } => {
                let hits = search::tickets(store.conn(), &query, app::PAGE)?;
                let mut rows = Vec::with_capacity(hits.len());
                for h in hits {
                    rows.push(tickets::get(store.conn(), h.ticket_id)?);
                }
                queue.extend(app.search_loaded(rows));
            }
            Effect::LoadTicket { ticket_id } => {
                let ticket = tickets::get(store.conn(), ticket_id)?;
                let messages = messages::for_ticket(store.conn(), ticket_id)?;
                let draft = messages::latest_draft(store.conn(), ticket_id)?;
                app.ticket_loaded(Open {
                    ticket,
                    messages,
                    draft,
                });
            }
        }
    }
    Ok(())
}

/// The list the review screen shows: next SLA deadline first; noise and spam only when the
/// status filter asks for them.
pub fn list_filter(status: Option<crate::store::TicketStatus>) -> tickets::ListFilter {
    tickets::ListFilter {
        status,
        hide_filtered: true,
        order: tickets::Order::Due,
        ..Default::default()
    }
}

/// A model with the first page and the first ticket loaded.
pub fn start(store: &Store, now: i64) -> crate::store::Result<App> {
    let total = tickets::count_filtered(store.conn(), &list_filter(None))?.max(0) as u32;
    let mut app = App::new(total, now);
    perform(
        store,
        &mut app,
        vec![Effect::LoadPage {
            offset: 0,
            limit: app::PAGE,
        }],
    )?;
    Ok(app)
}

/// Keys go to the open text input first, then to the keymap.
pub fn handle_key(app: &mut App, keymap: &Keymap, key: KeyEvent) -> Vec<Effect> {
    if app.editing() {
        let input = match key.code {
            KeyCode::Enter => Some(Input::Submit),
            KeyCode::Esc => Some(Input::Cancel),
            KeyCode::Backspace => Some(Input::Backspace),
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                Some(Input::Char(c))
            }
            _ => None,
        };
        return input.map(|i| app.input(i)).unwrap_or_default();
    }
    if app.overlay == app::Overlay::Help {
        // Any key closes the help (`update` closes it on a mapped key; this covers the rest).
        return match keymap.action(key) {
            Some(a) => app.update(a),
            None => {
                app.overlay = app::Overlay::None;
                Vec::new()
            }
        };
    }
    keymap
        .action(key)
        .map(|a| app.update(a))
        .unwrap_or_default()
}

/// Runs the review screen on the terminal until the user quits.
pub fn run(store: &Store, now: i64) -> anyhow::Result<()> {
    let mut app = start(store, now)?;
    let keymap = Keymap::default_map();
    let theme = views::Theme::from_env();
    // SIGTERM (and SIGHUP, when the SSH session drops) end the loop like `q`, so the terminal
    // is restored; try_init installs a panic hook that restores it before a panic prints.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, std::sync::Arc::clone(&stop))?;
    }
    let mut terminal = ratatui::try_init()?;
    let result = (|| -> anyhow::Result<()> {
        while !app.quit && !stop.load(std::sync::atomic::Ordering::Relaxed) {
            terminal.draw(|f| views::draw(f, &mut app, &keymap, theme))?;
            if !event::poll(Duration::from_millis(250))? {
                continue;
            }
            // Drain every queued event, then draw once.
            loop {
                if let Event::Key(key) = event::read()?
                    && key.kind != KeyEventKind::Release
                {
                    let effects = handle_key(&mut app, &keymap, key);
                    perform(store, &mut app, effects)?;
                }
                if app.quit || !event::poll(Duration::ZERO)? {
                    break;
                }
            }
        }
        Ok(())
    })();
    ratatui::restore();
    result
}
