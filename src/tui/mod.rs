//! The review screen: `app` holds the model and decides (`update` returns effects), `views`
//! draw it, `keymap` maps keys to actions from assets/keymap.toml, and `run` is the runtime.
//!
//! The runtime is a tokio loop over one stream of messages: keys (read on a thread of their
//! own), a one-second tick, and reports from the background workers (sync, analysis, outbox),
//! each on its own thread with its own store connection. The loop never waits for the network:
//! it performs the model's effects against the local store (milliseconds) and redraws.

pub mod app;
pub mod filter;
pub mod keymap;
pub mod views;
pub mod widgets;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc as std_mpsc;
use std::time::Duration;

use ratatui::crossterm::event::{self, Event, KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::send::compose::Sender;
use crate::send::review;
use crate::store::{DraftState, Store, messages, outbox, search, tickets};
use app::{App, Effect, Input, Open};
use keymap::Keymap;

/// One pass of a background stage against its own store: a summary (empty when nothing
/// changed), or what went wrong. The callbacks report progress (done, total) and a reply as the
/// model writes it (ticket, text so far).
pub type Job = Box<
    dyn FnMut(&mut Store, &dyn Fn(u64, u64), &dyn Fn(i64, String)) -> Result<String, String> + Send,
>;

/// Blocks until the mailbox may have new mail (IMAP IDLE, or a poll interval).
pub type Waiter = Box<dyn FnMut() + Send>;

/// Escalates one ticket against its own store (GitLab, chat, the customer's draft): a summary
/// or the error.
pub type Escalator = Arc<dyn Fn(i64) -> Result<String, String> + Send + Sync>;

/// What the review screen can do beyond the store: set up by the command line from the config.
pub struct Backends {
    pub store_path: PathBuf,
    /// Who approved replies come from; without it approving explains what to configure.
    pub sender: Option<Sender>,
    pub sync: Option<Job>,
    pub wait_for_mail: Option<Waiter>,
    pub analyse: Option<Job>,
    pub flush: Option<Job>,
    pub categories: Vec<String>,
    /// `assets/keymap.toml` with the config's `[keys]`.
    pub keymap: Keymap,
    pub theme: views::Theme,
    pub escalate: Option<Escalator>,
    /// The time zone of the statistics (`[sla] timezone`).
    pub tz: chrono_tz::Tz,
    pub policy: crate::ticket::sla::Policy,
}

impl Backends {
    /// Browsing and deciding only: nothing in the background.
    pub fn none(store_path: PathBuf) -> Backends {
        Backends {
            store_path,
            sender: None,
            sync: None,
            wait_for_mail: None,
            analyse: None,
            flush: None,
            categories: crate::config::DEFAULT_CATEGORIES
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            keymap: Keymap::default_map(),
            theme: views::Theme::from_env(),
            escalate: None,
            tz: chrono_tz::UTC,
            policy: Default::default(),
        }
    }
}

/// Which worker a report comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Sync,
    Analysis,
    Outbox,
    Escalation,
}

/// A worker's report.
#[derive(Debug, Clone)]
pub enum Report {
    Started(Stage),
    Progress(Stage, u64, u64),
    /// A reply draft as far as the model has written it.
    Partial {
        ticket_id: i64,
        text: String,
    },
    Done(Stage, Result<String, String>),
}

/// Wakes the workers.
#[derive(Default, Clone)]
pub struct Wakers {
    sync: Option<std_mpsc::Sender<()>>,
    analysis: Option<std_mpsc::Sender<()>>,
    outbox: Option<std_mpsc::Sender<()>>,
}

impl Wakers {
    fn wake(&self, stage: Stage) {
        let w = match stage {
            Stage::Sync => &self.sync,
            Stage::Analysis => &self.analysis,
            Stage::Outbox => &self.outbox,
            Stage::Escalation => &None,
        };
        if let Some(w) = w {
            let _ = w.send(());
        }
    }
}

/// What `perform` needs besides the model: the store, who we write as, and the workers.
pub struct Services<'a> {
    pub store: &'a mut Store,
    pub sender: Option<&'a Sender>,
    pub wakers: Wakers,
    /// An `$EDITOR` session the runtime must run (it owns the terminal).
    pub external_edit: Option<(i64, String)>,
    /// Tickets to escalate in the background.
    pub escalations: Vec<i64>,
    pub tz: chrono_tz::Tz,
    /// The SLA, for clocks that follow a status or priority change.
    pub policy: crate::ticket::sla::Policy,
}

/// Performs effects with no sender and no workers (tests, benchmarks).
pub fn perform(store: &mut Store, app: &mut App, effects: Vec<Effect>) -> crate::store::Result<()> {
    let mut s = Services {
        store,
        sender: None,
        wakers: Wakers::default(),
        external_edit: None,
        escalations: Vec::new(),
        tz: chrono_tz::UTC,
        policy: Default::default(),
    };
    perform_with(&mut s, app, effects)
}

fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

/// Runs one decision against the store for each ticket; returns (done, first error).
fn each(
    ids: &[i64],
    mut f: impl FnMut(i64) -> Result<(), review::ReviewError>,
) -> (usize, Option<String>) {
    let mut done = 0;
    let mut first_error = None;
    for &id in ids {
        match f(id) {
            Ok(()) => done += 1,
            Err(e) => {
                if first_error.is_none() {
                    first_error = Some(e.to_string());
                }
            }
        }
    }
    (done, first_error)
}

fn outcome(app: &mut App, what: &str, ids: &[i64], r: (usize, Option<String>)) {
    app.status = match r {
        (n, None) if ids.len() == 1 && n == 1 => what.to_owned(),
        (n, None) => format!("{what}: {n} tickets"),
        (n, Some(e)) if ids.len() == 1 || n == 0 => e,
        (n, Some(e)) => format!("{what}: {n} of {}; {e}", ids.len()),
    };
}

/// Loads what the model asked for and carries out its decisions.
pub fn perform_with(
    s: &mut Services<'_>,
    app: &mut App,
    effects: Vec<Effect>,
) -> crate::store::Result<()> {
    let mut queue = effects;
    while let Some(effect) = queue.pop() {
        match effect {
            Effect::LoadPage { offset, limit } => {
                if app.search.is_some() {
                    continue; // search results are loaded whole
                }
                let rows = load_window(s.store, &app.filter, app.total, offset, limit)?;
                queue.extend(app.page_loaded(offset, rows));
            }
            Effect::Reload => {
                let total = tickets::count_filtered(s.store.conn(), &list_filter(&app.filter))?
                    .max(0) as u32;
                app.list_reset(total);
                queue.push(Effect::LoadPage {
                    offset: 0,
                    limit: app::PAGE,
                });
            }
            Effect::Refresh => {
                app.open = None;
                if let Some(search) = app.search.clone() {
                    let selected = app.selected;
                    let rows = search_rows(s.store, &search.query)?;
                    app.total = rows.len() as u32;
                    app.selected = selected.min(app.total.saturating_sub(1));
                    app.offset = 0;
                    queue.extend(app.page_loaded(0, rows));
                } else {
                    // The ticket under the cursor stays under it when a change moved it in the
                    // list order (and is still within the loaded window).
                    let keep = app.current();
                    let total = tickets::count_filtered(s.store.conn(), &list_filter(&app.filter))?
                        .max(0) as u32;
                    app.total = total;
                    app.selected = app.selected.min(total.saturating_sub(1));
                    let offset = app.offset.min(app.selected);
                    let rows = load_window(s.store, &app.filter, total, offset, app::PAGE)?;
                    if let Some(i) = keep.and_then(|id| rows.iter().position(|t| t.id == id)) {
                        app.selected = offset + i as u32;
                    }
                    queue.extend(app.page_loaded(offset, rows));
                }
                refresh_counts(s.store, app)?;
            }
            Effect::Search { query } => {
                let rows = search_rows(s.store, &query)?;
                queue.extend(app.search_loaded(rows));
            }
            Effect::LoadTicket { ticket_id } => {
                let ticket = tickets::get(s.store.conn(), ticket_id)?;
                let messages = messages::for_ticket(s.store.conn(), ticket_id)?;
                let draft = messages::latest_draft(s.store.conn(), ticket_id)?;
                let outbox = match &draft {
                    Some(d) => outbox::for_draft(s.store.conn(), d.id)?,
                    None => None,
                };
                app.ticket_loaded(Open {
                    ticket,
                    messages,
                    draft,
                    outbox,
                });
            }
            Effect::Approve { ids } => {
                let Some(sender) = s.sender else {
                    app.status =
                        "approving needs [account] address in the config (the sender of replies)"
                            .into();
                    continue;
                };
                let r = each(&ids, |id| {
                    review::approve(s.store, sender, id, now()).map(|_| ())
                });
                let queued = r.0 > 0;
                outcome(app, "approved: queued in the outbox", &ids, r);
                if queued {
                    if s.wakers.outbox.is_none() {
                        app.status.push_str(" (no [smtp] yet: it waits there)");
                    }
                    s.wakers.wake(Stage::Outbox);
                }
                queue.push(Effect::Refresh);
            }
            Effect::Reject { ids, reason } => {
                let r = each(&ids, |id| review::reject(s.store, id, &reason, now()));
                outcome(app, "rejected", &ids, r);
                queue.push(Effect::Refresh);
            }
            Effect::Unapprove { id } => {
                let r = each(&[id], |id| review::unapprove(s.store, id, now()));
                outcome(
                    app,
                    "approval taken back: the draft waits for review",
                    &[id],
                    r,
                );
                queue.push(Effect::Refresh);
            }
            Effect::SaveDraft { id, body } => {
                let r = each(&[id], |id| review::edit(s.store, id, &body, now()));
                outcome(app, "draft saved", &[id], r);
                queue.push(Effect::Refresh);
            }
            Effect::SaveNote { id, text } => {
                let r = each(&[id], |id| {
                    review::add_note(s.store, id, &text, now()).map(|_| ())
                });
                outcome(app, "internal note added (never sent)", &[id], r);
                queue.push(Effect::Refresh);
            }
            Effect::SetField { ids, field } => {
                let what = match &field {
                    review::Field::Status(st) => format!("status set to {st}"),
                    review::Field::Priority(p) => format!("priority set to {p}"),
                    review::Field::Category(c) => format!("category set to {c}"),
                };
                let r = each(&ids, |id| {
                    review::set_field(s.store, &s.policy, id, &field, now())
                });
                outcome(app, &what, &ids, r);
                queue.push(Effect::Refresh);
            }
            Effect::Regenerate { id } => {
                let r = each(&[id], |id| review::regenerate(s.store, id, now()));
                let ok = r.0 == 1;
                outcome(app, "draft sent back for a new analysis", &[id], r);
                if ok {
                    s.wakers.wake(Stage::Analysis);
                }
                queue.push(Effect::Refresh);
            }
            Effect::ExternalEdit { id, body } => {
                s.external_edit = Some((id, body));
            }
            Effect::WakeOutbox => {
                if s.wakers.outbox.is_none() {
                    app.status =
                        "no [smtp] section in the config: replies wait in the outbox".into();
                }
                s.wakers.wake(Stage::Outbox);
            }
            Effect::Escalate { id } => s.escalations.push(id),
            Effect::LoadStats => {
                app.stats = Some(crate::store::stats::compute(s.store.conn(), now(), s.tz)?);
            }
            Effect::SaveAttachment { id, dir } => {
                let dir = dir.unwrap_or_else(crate::mail::attachments::default_dir);
                app.status = match crate::mail::attachments::save(s.store.conn(), id, &dir) {
                    Ok(path) => format!("saved to {}", path.display()),
                    Err(e) => format!("not saved: {e:#}"),
                };
            }
            Effect::WakeSync => {
                if s.wakers.sync.is_none() {
                    app.status = "no [imap] section in the config: nothing to sync".into();
                }
                s.wakers.wake(Stage::Sync);
            }
        }
    }
    Ok(())
}

/// The tickets a full-text search finds (one page, newest message first).
fn search_rows(store: &Store, query: &str) -> crate::store::Result<Vec<tickets::TicketRow>> {
    search::tickets(store.conn(), query, app::PAGE)?
        .into_iter()
        .map(|h| tickets::get(store.conn(), h.ticket_id))
        .collect()
}

/// Rows `offset..offset + limit` of the list. In the second half of a long list they are read
/// from its end (reverse order, then turned around): SQLite walks an index from either end,
/// but an OFFSET deep into it costs a step per skipped row.
fn load_window(
    store: &Store,
    filter: &filter::Filter,
    total: u32,
    offset: u32,
    limit: u32,
) -> crate::store::Result<Vec<tickets::TicketRow>> {
    let end = offset.saturating_add(limit).min(total);
    if total > 2 * limit && offset > total / 2 {
        let mut rows = tickets::list(
            store.conn(),
            &tickets::ListFilter {
                limit: Some(end.saturating_sub(offset)),
                offset: total - end,
                reverse: true,
                ..list_filter(filter)
            },
        )?;
        rows.reverse();
        return Ok(rows);
    }
    tickets::list(
        store.conn(),
        &tickets::ListFilter {
            limit: Some(limit),
            offset,
            ..list_filter(filter)
        },
    )
}

/// The analysis and outbox queues for the status line.
fn refresh_counts(store: &Store, app: &mut App) -> crate::store::Result<()> {
    app.bg.pending_analysis = messages::count_in_state(store.conn(), DraftState::New)?;
    app.bg.outbox = outbox::counts(store.conn())?;
    Ok(())
}

/// The list the review screen shows: next SLA deadline first; noise and spam only when the
/// status filter asks for them.
pub fn list_filter(filter: &filter::Filter) -> tickets::ListFilter {
    tickets::ListFilter {
        status: filter.status,
        category: filter.category.clone(),
        priority: filter.priority.clone(),
        hide_filtered: true,
        order: tickets::Order::Due,
        ..Default::default()
    }
}

/// A model with the first page and the first ticket loaded.
pub fn start(store: &mut Store, now: i64) -> crate::store::Result<App> {
    let total =
        tickets::count_filtered(store.conn(), &list_filter(&Default::default()))?.max(0) as u32;
    let mut app = App::new(total, now);
    perform(
        store,
        &mut app,
        vec![Effect::LoadPage {
            offset: 0,
            limit: app::PAGE,
        }],
    )?;
    refresh_counts(store, &mut app)?;
    Ok(app)
}

/// Keys go to the editor or the open prompt first, then to the keymap.
pub fn handle_key(app: &mut App, keymap: &Keymap, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(ed) = app.editor.as_mut() {
        return match key.code {
            KeyCode::Char('s') if ctrl => app.editor_save(),
            KeyCode::Esc => app.editor_escape(),
            _ => {
                ed.confirm_discard = false;
                ed.area.input(key);
                Vec::new()
            }
        };
    }
    if app.prompt.is_some() || app.editing() {
        let input = match key.code {
            KeyCode::Enter => Some(Input::Submit),
            KeyCode::Esc => Some(Input::Cancel),
            KeyCode::Backspace => Some(Input::Backspace),
            KeyCode::Char('c') if ctrl => Some(Input::Cancel),
            KeyCode::Char(c) if !ctrl => Some(Input::Char(c)),
            _ => None,
        };
        let Some(input) = input else {
            return Vec::new();
        };
        return if app.prompt.is_some() {
            app.prompt_input(input)
        } else {
            app.input(input)
        };
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

/// Messages into the loop.
enum Msg {
    Key(KeyEvent),
    Resize,
    Bg(Report),
}

/// Reads terminal events on a thread of its own; stops reading while `paused` (an external
/// editor owns the terminal) and ends with `stop`.
fn spawn_reader(
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    paused: Arc<AtomicBool>,
    idle: Arc<AtomicBool>,
    stop: Arc<AtomicBool>,
) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            if paused.load(Ordering::Relaxed) {
                idle.store(true, Ordering::Release);
                std::thread::sleep(Duration::from_millis(10));
                continue;
            }
            idle.store(false, Ordering::Release);
            match event::poll(Duration::from_millis(50)) {
                Ok(true) => {}
                Ok(false) => continue,
                Err(_) => break,
            }
            let msg = match event::read() {
                Ok(Event::Key(k)) if k.kind != KeyEventKind::Release => Msg::Key(k),
                Ok(Event::Resize(..)) => Msg::Resize,
                Ok(_) => continue,
                Err(_) => break,
            };
            if tx.send(msg).is_err() {
                break;
            }
        }
    });
}

/// A worker: runs its job now, then whenever woken or every `every`, until `stop`.
fn spawn_worker(
    stage: Stage,
    mut job: Job,
    store_path: PathBuf,
    every: Duration,
    tx: tokio::sync::mpsc::UnboundedSender<Msg>,
    stop: Arc<AtomicBool>,
    then: Option<std_mpsc::Sender<()>>,
) -> std_mpsc::Sender<()> {
    let (wake_tx, wake_rx) = std_mpsc::channel::<()>();
    std::thread::spawn(move || {
        let mut store = match Store::open(&store_path) {
            Ok(s) => s,
            Err(e) => {
                let _ = tx.send(Msg::Bg(Report::Done(stage, Err(e.to_string()))));
                return;
            }
        };
        while !stop.load(Ordering::Relaxed) {
            if tx.send(Msg::Bg(Report::Started(stage))).is_err() {
                return;
            }
            let progress_tx = tx.clone();
            let progress = move |done: u64, total: u64| {
                let _ = progress_tx.send(Msg::Bg(Report::Progress(stage, done, total)));
            };
            let partial_tx = tx.clone();
            let partial = move |ticket_id: i64, text: String| {
                let _ = partial_tx.send(Msg::Bg(Report::Partial { ticket_id, text }));
            };
            let r = job(&mut store, &progress, &partial);
            let changed = matches!(&r, Ok(s) if !s.is_empty());
            if tx.send(Msg::Bg(Report::Done(stage, r))).is_err() {
                return;
            }
            if changed && let Some(next) = &then {
                let _ = next.send(());
            }
            // Wait for a wake-up or the interval; coalesce wake-ups that piled up meanwhile.
            match wake_rx.recv_timeout(every) {
                Ok(()) | Err(std_mpsc::RecvTimeoutError::Timeout) => {
                    while wake_rx.try_recv().is_ok() {}
                }
                Err(std_mpsc::RecvTimeoutError::Disconnected) => return,
            }
        }
    });
    wake_tx
}

fn apply_report(app: &mut App, report: Report) -> bool {
    let bg = &mut app.bg;
    match report {
        Report::Started(Stage::Sync) => bg.syncing = true,
        Report::Started(Stage::Analysis) => bg.analysing = Some((0, 0)),
        Report::Started(Stage::Outbox) => bg.sending = Some((0, 0)),
        Report::Started(Stage::Escalation) | Report::Progress(Stage::Escalation, ..) => {}
        Report::Progress(Stage::Sync, ..) => {}
        Report::Progress(Stage::Analysis, d, t) => bg.analysing = Some((d, t)),
        Report::Progress(Stage::Outbox, d, t) => bg.sending = Some((d, t)),
        Report::Partial { ticket_id, text } => bg.streaming = Some((ticket_id, text)),
        Report::Done(stage, r) => {
            let changed = matches!(&r, Ok(s) if !s.is_empty());
            match stage {
                Stage::Sync => {
                    bg.syncing = false;
                    match r {
                        Ok(s) => {
                            bg.last_sync = Some((now(), s));
                            bg.sync_error = None;
                        }
                        Err(e) => bg.sync_error = Some(e),
                    }
                }
                Stage::Analysis => {
                    bg.analysing = None;
                    bg.streaming = None;
                    if let Err(e) = r {
                        app.status = format!("analysis: {e}");
                    }
                }
                Stage::Escalation => {
                    app.status = match r {
                        Ok(s) => s,
                        Err(e) => format!("escalation: {e}"),
                    };
                    return true;
                }
                Stage::Outbox => {
                    bg.sending = None;
                    match r {
                        Ok(s) => {
                            bg.send_error = None;
                            if !s.is_empty() {
                                app.status = s;
                            }
                        }
                        Err(e) => bg.send_error = Some(e),
                    }
                }
            }
            return changed;
        }
    }
    false
}

/// Suspends the screen, edits `body` in $VISUAL/$EDITOR (else vi), and returns the new text
/// (None when unchanged or when the editor failed).
fn edit_externally(body: &str) -> Result<Option<String>, String> {
    let dir = tempfile::Builder::new()
        .prefix("helpdesk-draft-")
        .tempdir()
        .map_err(|e| format!("temporary file: {e}"))?;
    let path = dir.path().join("reply.txt");
    std::fs::write(&path, body).map_err(|e| format!("temporary file: {e}"))?;
    let editor = std::env::var("VISUAL")
        .ok()
        .filter(|v| !v.trim().is_empty())
        .or_else(|| {
            std::env::var("EDITOR")
                .ok()
                .filter(|v| !v.trim().is_empty())
        })
        .unwrap_or_else(|| "vi".into());
    let status = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("sh")
        .arg(&path)
        .status()
        .map_err(|e| format!("cannot start the editor {editor:?}: {e}"))?;
    if !status.success() {
        return Err(format!(
            "the editor {editor:?} exited with {status}; the draft is unchanged"
        ));
    }
    let text = std::fs::read_to_string(&path).map_err(|e| format!("reading the edit: {e}"))?;
    let text = text.trim_end_matches('\n').to_owned();
    Ok((text != body.trim_end_matches('\n')).then_some(text))
}

/// Runs the review screen on the terminal until the user quits.
pub fn run(store: &mut Store, now_at_start: i64, mut backends: Backends) -> anyhow::Result<()> {
    let mut app = start(store, now_at_start)?;
    app.categories = std::mem::take(&mut backends.categories);
    app.bg.sync_enabled = backends.sync.is_some();
    app.bg.send_enabled = backends.flush.is_some();
    let keymap = std::mem::replace(&mut backends.keymap, Keymap::default_map());
    let theme = backends.theme;
    // SIGTERM (and SIGHUP, when the SSH session drops) end the loop like `q`, so the terminal
    // is restored; try_init installs a panic hook that restores it before a panic prints.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP] {
        signal_hook::flag::register(signal, Arc::clone(&stop))?;
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()?;
    let mut terminal = ratatui::try_init()?;
    let result = runtime.block_on(async {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Msg>();
        let paused = Arc::new(AtomicBool::new(false));
        let reader_idle = Arc::new(AtomicBool::new(false));
        let workers_stop = Arc::new(AtomicBool::new(false));
        spawn_reader(
            tx.clone(),
            Arc::clone(&paused),
            Arc::clone(&reader_idle),
            Arc::clone(&workers_stop),
        );
        let mut wakers = Wakers::default();
        let path = backends.store_path.clone();
        if let Some(job) = backends.analyse.take() {
            wakers.analysis = Some(spawn_worker(
                Stage::Analysis,
                job,
                path.clone(),
                Duration::from_secs(30),
                tx.clone(),
                Arc::clone(&workers_stop),
                None,
            ));
        }
        if let Some(job) = backends.flush.take() {
            wakers.outbox = Some(spawn_worker(
                Stage::Outbox,
                job,
                path.clone(),
                Duration::from_secs(30),
                tx.clone(),
                Arc::clone(&workers_stop),
                None,
            ));
        }
        if let Some(job) = backends.sync.take() {
            let sync_wake = spawn_worker(
                Stage::Sync,
                job,
                path.clone(),
                Duration::from_secs(15 * 60),
                tx.clone(),
                Arc::clone(&workers_stop),
                wakers.analysis.clone(),
            );
            if let Some(mut wait) = backends.wait_for_mail.take() {
                let wake = sync_wake.clone();
                let stop = Arc::clone(&workers_stop);
                std::thread::spawn(move || {
                    // At most one wake-up every few seconds, whatever the server does.
                    const MIN_GAP: Duration = Duration::from_secs(3);
                    while !stop.load(Ordering::Relaxed) {
                        let started = std::time::Instant::now();
                        wait();
                        if wake.send(()).is_err() {
                            return;
                        }
                        std::thread::sleep(MIN_GAP.saturating_sub(started.elapsed()));
                    }
                });
            }
            wakers.sync = Some(sync_wake);
        }
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        let mut services = Services {
            store,
            sender: backends.sender.as_ref(),
            wakers,
            external_edit: None,
            escalations: Vec::new(),
            tz: backends.tz,
            policy: backends.policy.clone(),
        };
        while !app.quit && !stop.load(Ordering::Relaxed) {
            terminal.draw(|f| views::draw(f, &mut app, &keymap, theme))?;
            let first = tokio::select! {
                m = rx.recv() => m,
                _ = tick.tick() => {
                    app.now = now();
                    refresh_counts(&*services.store, &mut app)?;
                    continue;
                }
            };
            let Some(first) = first else { break };
            // Handle everything queued, then draw once.
            let mut next = Some(first);
            let mut refresh = false;
            while let Some(msg) = next.take() {
                match msg {
                    Msg::Key(key) => {
                        let effects = handle_key(&mut app, &keymap, key);
                        perform_with(&mut services, &mut app, effects)?;
                    }
                    Msg::Resize => {}
                    Msg::Bg(report) => refresh |= apply_report(&mut app, report),
                }
                if app.quit {
                    break;
                }
                next = rx.try_recv().ok();
            }
            if refresh && app.editor.is_none() {
                perform_with(&mut services, &mut app, vec![Effect::Refresh])?;
            }
            for id in std::mem::take(&mut services.escalations) {
                match &backends.escalate {
                    Some(escalate) => {
                        let (escalate, tx) = (Arc::clone(escalate), tx.clone());
                        std::thread::spawn(move || {
                            let r = escalate(id);
                            let _ = tx.send(Msg::Bg(Report::Done(Stage::Escalation, r)));
                        });
                    }
                    None => {
                        app.status =
                            "escalation is not set up: add [escalation.gitlab] and/or [escalation.chat]"
                                .into();
                    }
                }
            }
            if let Some((id, body)) = services.external_edit.take() {
                paused.store(true, Ordering::Release);
                for _ in 0..100 {
                    if reader_idle.load(Ordering::Acquire) {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                ratatui::restore();
                let edited = edit_externally(&body);
                terminal = ratatui::try_init()?;
                terminal.clear()?;
                paused.store(false, Ordering::Release);
                let effects = match edited {
                    Ok(Some(text)) => vec![Effect::SaveDraft { id, body: text }],
                    Ok(None) => {
                        app.status = "draft unchanged".into();
                        Vec::new()
                    }
                    Err(e) => {
                        app.status = e;
                        Vec::new()
                    }
                };
                perform_with(&mut services, &mut app, effects)?;
            }
        }
        workers_stop.store(true, Ordering::Relaxed);
        Ok::<(), anyhow::Error>(())
    });
    ratatui::restore();
    result
}
