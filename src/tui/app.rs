//! The model of the review screen and `update`, which decides and never does I/O: it returns
//! the loads the runtime should perform.

use std::collections::BTreeSet;
use std::str::FromStr;

use ratatui_textarea::TextArea;

use super::filter::{self, Filter};
use crate::send::review::{Field, PRIORITIES};
use crate::store::TicketStatus;
use crate::store::messages::{DraftRow, MessageRow};
use crate::store::outbox::{Counts, OutboxRow};
use crate::store::tickets::TicketRow;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pane {
    List,
    Thread,
    Draft,
}

/// The open overlay: one at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlay {
    None,
    Help,
    /// The statistics (`S`).
    Stats,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Down,
    Up,
    Top,
    Bottom,
    PageDown,
    PageUp,
    NextPane,
    PrevPane,
    Open,
    Back,
    ToggleFold,
    Search,
    Filter,
    Help,
    Quit,
    Approve,
    Reject,
    Unapprove,
    Edit,
    EditExternal,
    Regenerate,
    Note,
    SetCategory,
    SetPriority,
    SetStatus,
    Command,
    Select,
    Restore,
    SendNow,
    SyncNow,
    Escalate,
    Stats,
}

/// A question on the status line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Prompt {
    /// A line of text: the reason of a rejection, or a `:` command.
    Text { kind: TextPrompt, text: String },
    /// One key picks one of the choices.
    Choice(ChoiceKind),
    /// `f`: one key picks what to filter (`None`), then one more its value.
    Filter(Option<ChoiceKind>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextPrompt {
    RejectReason,
    Command,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChoiceKind {
    Status,
    Priority,
    Category,
}

impl ChoiceKind {
    /// (key, label, value) of each choice.
    pub fn choices(self, categories: &[String]) -> Vec<(char, String, Field)> {
        match self {
            ChoiceKind::Status => [
                ('o', TicketStatus::Open),
                ('w', TicketStatus::Waiting),
                ('r', TicketStatus::Resolved),
                ('c', TicketStatus::Closed),
                ('n', TicketStatus::Noise),
                ('s', TicketStatus::Spam),
            ]
            .into_iter()
            .map(|(k, st)| (k, st.to_string(), Field::Status(st)))
            .collect(),
            ChoiceKind::Priority => PRIORITIES
                .iter()
                .map(|p| {
                    (
                        p.chars().next().unwrap_or('?'),
                        (*p).to_owned(),
                        Field::Priority((*p).into()),
                    )
                })
                .collect(),
            ChoiceKind::Category => categories
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    (
                        char::from_digit(i as u32 + 1, 36).unwrap_or('?'),
                        c.clone(),
                        Field::Category(c.clone()),
                    )
                })
                .collect(),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            ChoiceKind::Status => "status",
            ChoiceKind::Priority => "priority",
            ChoiceKind::Category => "category",
        }
    }
}

/// What the inline editor edits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EditTarget {
    Draft,
    Note,
}

/// The inline editor (ratatui-textarea: undo, word motions, Emacs-like keys).
#[derive(Debug, Clone)]
pub struct Editor {
    pub target: EditTarget,
    pub ticket_id: i64,
    pub area: TextArea<'static>,
    pub original: String,
    /// Esc was pressed once on changed text: a second Esc discards.
    pub confirm_discard: bool,
}

impl Editor {
    pub fn text(&self) -> String {
        self.area.lines().join("\n")
    }
}

/// What the background tasks last reported, for the status line.
#[derive(Debug, Clone, Default)]
pub struct Background {
    pub sync_enabled: bool,
    pub send_enabled: bool,
    /// When the last sync pass ended well, and what it did.
    pub last_sync: Option<(i64, String)>,
    /// The last failure, cleared by the next success.
    pub sync_error: Option<String>,
    pub syncing: bool,
    pub analysing: Option<(u64, u64)>,
    pub sending: Option<(u64, u64)>,
    pub send_error: Option<String>,
    pub pending_analysis: i64,
    pub outbox: Counts,
    /// The reply the model is writing now: (ticket, text so far).
    pub streaming: Option<(i64, String)>,
}

/// Editing keys while a text input (the search line) is open.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Char(char),
    Backspace,
    Submit,
    Cancel,
}

/// The search line: while `editing`, keys go to it; results replace the list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Search {
    pub query: String,
    pub editing: bool,
}

impl FromStr for Action {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Ok(match s {
            "down" => Action::Down,
            "up" => Action::Up,
            "top" => Action::Top,
            "bottom" => Action::Bottom,
            "page_down" => Action::PageDown,
            "page_up" => Action::PageUp,
            "next_pane" => Action::NextPane,
            "prev_pane" => Action::PrevPane,
            "open" => Action::Open,
            "back" => Action::Back,
            "toggle_fold" => Action::ToggleFold,
            "search" => Action::Search,
            "filter" => Action::Filter,
            "help" => Action::Help,
            "quit" => Action::Quit,
            "approve" => Action::Approve,
            "reject" => Action::Reject,
            "unapprove" => Action::Unapprove,
            "edit" => Action::Edit,
            "edit_external" => Action::EditExternal,
            "regenerate" => Action::Regenerate,
            "note" => Action::Note,
            "set_category" => Action::SetCategory,
            "set_priority" => Action::SetPriority,
            "set_status" => Action::SetStatus,
            "command" => Action::Command,
            "select" => Action::Select,
            "restore" => Action::Restore,
            "send_now" => Action::SendNow,
            "sync_now" => Action::SyncNow,
            "escalate" => Action::Escalate,
            "stats" => Action::Stats,
            other => return Err(format!("unknown action {other:?} in the keymap")),
        })
    }
}

/// What the runtime must load for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A window of the ticket list: `limit` rows from `offset`.
    LoadPage {
        offset: u32,
        limit: u32,
    },
    /// The selected ticket's messages and draft.
    LoadTicket {
        ticket_id: i64,
    },
    /// Count the tickets of the current filter, then load the first page.
    Reload,
    /// Full-text search; the results replace the list.
    Search {
        query: String,
    },
    /// Re-read the list window and the open ticket (after a change or new mail).
    Refresh,
    Approve {
        ids: Vec<i64>,
    },
    Reject {
        ids: Vec<i64>,
        reason: String,
    },
    Unapprove {
        id: i64,
    },
    SaveDraft {
        id: i64,
        body: String,
    },
    SaveNote {
        id: i64,
        text: String,
    },
    SetField {
        ids: Vec<i64>,
        field: Field,
    },
    Regenerate {
        id: i64,
    },
    /// Suspend the screen and edit the draft in $EDITOR.
    ExternalEdit {
        id: i64,
        body: String,
    },
    WakeOutbox,
    WakeSync,
    /// Escalate (GitLab issue, chat message, customer draft) in the background.
    Escalate {
        id: i64,
    },
    /// Compute the statistics for the `S` overlay.
    LoadStats,
    /// Write an attachment to a file (`:save N [DIR]`); no directory means Downloads.
    SaveAttachment {
        id: i64,
        dir: Option<std::path::PathBuf>,
    },
}

/// The open ticket.
#[derive(Debug, Clone)]
pub struct Open {
    pub ticket: TicketRow,
    pub messages: Vec<MessageRow>,
    pub draft: Option<DraftRow>,
    /// The outbox row of the draft, once approved: its state and error.
    pub outbox: Option<OutboxRow>,
}

/// Rows of the list kept in memory around the selection; the rest stays in SQLite.
pub const PAGE: u32 = 200;

#[derive(Debug, Clone)]
pub struct App {
    pub total: u32,
    /// `page` holds rows `offset..offset + page.len()` of the list.
    pub offset: u32,
    pub page: Vec<TicketRow>,
    pub selected: u32,
    pub focus: Pane,
    pub overlay: Overlay,
    pub open: Option<Open>,
    pub unfold: bool,
    pub scroll: u16,
    /// Rows visible in the list pane, for page moves (set by the view).
    pub visible: u16,
    pub status: String,
    pub now: i64,
    pub quit: bool,
    /// Which tickets the list shows (`f`, `:filter`).
    pub filter: Filter,
    pub search: Option<Search>,
    pub prompt: Option<Prompt>,
    pub editor: Option<Editor>,
    /// Tickets picked with `v`/Space for a bulk approve, reject or status.
    pub selection: BTreeSet<i64>,
    pub categories: Vec<String>,
    pub bg: Background,
    /// First line of the key help shown (it scrolls when taller than the screen).
    pub help_scroll: u16,
    /// The statistics shown by `S`, computed when it opens.
    pub stats: Option<crate::store::stats::Stats>,
}

impl App {
    pub fn new(total: u32, now: i64) -> App {
        App {
            total,
            offset: 0,
            page: Vec::new(),
            selected: 0,
            focus: Pane::List,
            overlay: Overlay::None,
            open: None,
            unfold: false,
            scroll: 0,
            visible: 20,
            status: String::new(),
            now,
            quit: false,
            filter: Filter::default(),
            search: None,
            prompt: None,
            editor: None,
            selection: BTreeSet::new(),
            categories: crate::config::DEFAULT_CATEGORIES
                .iter()
                .map(|c| (*c).to_owned())
                .collect(),
            bg: Background::default(),
            help_scroll: 0,
            stats: None,
        }
    }

    /// The list was re-counted (filter or search changed): start at its top.
    pub fn list_reset(&mut self, total: u32) {
        self.total = total;
        self.selected = 0;
        self.offset = 0;
        self.page.clear();
        self.open = None;
    }

    /// Search results arrived: they are the whole list while the search is on.
    pub fn search_loaded(&mut self, rows: Vec<TicketRow>) -> Vec<Effect> {
        self.list_reset(rows.len() as u32);
        self.page_loaded(0, rows)
    }

    /// A key while the search line is open.
    pub fn input(&mut self, key: Input) -> Vec<Effect> {
        let Some(search) = self.search.as_mut() else {
            return Vec::new();
        };
        match key {
            Input::Char(c) => search.query.push(c),
            Input::Backspace => {
                search.query.pop();
            }
            Input::Submit => {
                search.editing = false;
                if search.query.trim().is_empty() {
                    self.search = None;
                    return vec![Effect::Reload];
                }
                return Vec::new();
            }
            Input::Cancel => {
                self.search = None;
                return vec![Effect::Reload];
            }
        }
        if search.query.trim().is_empty() {
            return vec![Effect::Reload];
        }
        vec![Effect::Search {
            query: search.query.clone(),
        }]
    }

    pub fn editing(&self) -> bool {
        self.search.as_ref().is_some_and(|s| s.editing)
    }

    /// The ticket under the cursor.
    pub fn current(&self) -> Option<i64> {
        self.selected_row().map(|t| t.id)
    }

    /// What a bulk-capable action applies to: the selection, else the current ticket.
    fn targets(&self) -> Vec<i64> {
        if self.selection.is_empty() {
            self.current().into_iter().collect()
        } else {
            self.selection.iter().copied().collect()
        }
    }

    /// The open ticket, if it is the one under the cursor.
    fn open_current(&self) -> Option<&Open> {
        let id = self.current()?;
        self.open.as_ref().filter(|o| o.ticket.id == id)
    }

    /// `:save N [DIR]`: the open ticket's Nth attachment (as numbered in the thread).
    fn save_attachment(&mut self, arg: &str) -> Vec<Effect> {
        let (n, dir) = arg
            .split_once(char::is_whitespace)
            .map_or((arg, ""), |(n, d)| (n, d.trim()));
        let Some(open) = self.open_current() else {
            return self.say("no ticket open");
        };
        let all = crate::mail::attachments::numbered(&open.messages);
        if all.is_empty() {
            return self.say("this ticket has no attachments");
        }
        let Some(id) = n
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| all.get(i).copied())
        else {
            return self.say(format!(
                "usage: :save N [DIR], N from 1 to {} (the 📎 numbers in the thread)",
                all.len()
            ));
        };
        let dir = (!dir.is_empty()).then(|| expand_home(dir));
        vec![Effect::SaveAttachment { id, dir }]
    }

    fn say(&mut self, text: impl Into<String>) -> Vec<Effect> {
        self.status = text.into();
        Vec::new()
    }

    fn open_editor(&mut self, target: EditTarget) -> Vec<Effect> {
        let Some(open) = self.open_current() else {
            return self.say("no ticket open");
        };
        let id = open.ticket.id;
        let original = match target {
            EditTarget::Draft => match &open.draft {
                Some(d) if d.state == crate::store::DraftState::Sent => {
                    return self.say("this reply has been sent; it can no longer be edited");
                }
                Some(d) => d.body.clone(),
                None => return self.say("this ticket has no reply draft (automatic mail)"),
            },
            EditTarget::Note => String::new(),
        };
        let mut area = TextArea::new(original.lines().map(str::to_owned).collect());
        // A paragraph is one line of the reply: shown wrapped at words, saved as it is.
        area.set_wrap_mode(ratatui_textarea::WrapMode::WordOrGlyph);
        area.move_cursor(ratatui_textarea::CursorMove::Top);
        self.editor = Some(Editor {
            target,
            ticket_id: id,
            area,
            original,
            confirm_discard: false,
        });
        self.focus = Pane::Draft;
        Vec::new()
    }

    /// Ctrl-S in the editor.
    pub fn editor_save(&mut self) -> Vec<Effect> {
        let Some(ed) = self.editor.take() else {
            return Vec::new();
        };
        let text = ed.text();
        match ed.target {
            EditTarget::Draft => vec![Effect::SaveDraft {
                id: ed.ticket_id,
                body: text,
            }],
            EditTarget::Note if text.trim().is_empty() => self.say("empty note not added"),
            EditTarget::Note => vec![Effect::SaveNote {
                id: ed.ticket_id,
                text,
            }],
        }
    }

    /// Esc in the editor: closes it when nothing changed, else asks for a second Esc.
    pub fn editor_escape(&mut self) -> Vec<Effect> {
        let Some(ed) = self.editor.as_mut() else {
            return Vec::new();
        };
        if ed.text() == ed.original || ed.confirm_discard {
            self.editor = None;
            return self.say("edit discarded");
        }
        ed.confirm_discard = true;
        self.say("unsaved changes: Ctrl-S saves, Esc again discards")
    }

    /// A key while a prompt is open.
    pub fn prompt_input(&mut self, key: Input) -> Vec<Effect> {
        let Some(prompt) = self.prompt.as_mut() else {
            return Vec::new();
        };
        match prompt {
            Prompt::Choice(kind) => {
                let kind = *kind;
                match key {
                    Input::Char(c) => {
                        self.prompt = None;
                        let choice = kind
                            .choices(&self.categories)
                            .into_iter()
                            .find(|(k, _, _)| *k == c.to_ascii_lowercase());
                        match choice {
                            Some((_, _, field)) => self.set_field(field),
                            None => self.say(format!("no {} for {c:?}", kind.name())),
                        }
                    }
                    _ => {
                        self.prompt = None;
                        Vec::new()
                    }
                }
            }
            Prompt::Filter(dimension) => {
                let dimension = *dimension;
                self.prompt = None;
                match (key, dimension) {
                    (Input::Char(c), None) => self.filter_dimension(c.to_ascii_lowercase()),
                    (Input::Char(c), Some(kind)) => self.filter_value(kind, c),
                    // Backspace goes back to what to filter; Enter and Esc close.
                    (Input::Backspace, Some(_)) => {
                        self.prompt = Some(Prompt::Filter(None));
                        Vec::new()
                    }
                    _ => Vec::new(),
                }
            }
            Prompt::Text { kind, text } => match key {
                Input::Char(c) => {
                    text.push(c);
                    Vec::new()
                }
                Input::Backspace => {
                    text.pop();
                    Vec::new()
                }
                Input::Cancel => {
                    self.prompt = None;
                    Vec::new()
                }
                Input::Submit => {
                    let (kind, text) = (*kind, text.trim().to_owned());
                    self.prompt = None;
                    match kind {
                        TextPrompt::RejectReason if text.is_empty() => {
                            self.say("a rejection needs a reason; nothing changed")
                        }
                        TextPrompt::RejectReason => self.reject(text),
                        TextPrompt::Command => self.run_command(&text),
                    }
                }
            },
        }
    }

    /// The first key of the `f` prompt: what to filter, or clear every filter.
    fn filter_dimension(&mut self, c: char) -> Vec<Effect> {
        if c == filter::CLEAR_KEY {
            self.status = "filters cleared".into();
            return self.set_filter(Filter::default());
        }
        match filter::DIMENSIONS.iter().find(|(k, _)| *k == c) {
            Some((_, kind)) => {
                self.prompt = Some(Prompt::Filter(Some(*kind)));
                Vec::new()
            }
            None => {
                let keys: Vec<String> = filter::DIMENSIONS
                    .iter()
                    .map(|(k, kind)| format!("{k} {}", kind.name()))
                    .collect();
                self.say(format!(
                    "nothing to filter on {c:?}: {}, {} clears all",
                    keys.join(", "),
                    filter::CLEAR_KEY
                ))
            }
        }
    }

    /// The second key of the `f` prompt: a value of the dimension, or any.
    fn filter_value(&mut self, kind: ChoiceKind, c: char) -> Vec<Effect> {
        let mut new = self.filter.clone();
        if c == filter::ANY_KEY {
            new.clear(kind);
            return self.set_filter(new);
        }
        let choice = kind
            .choices(&self.categories)
            .into_iter()
            .find(|(k, _, _)| *k == c.to_ascii_lowercase());
        match choice {
            Some((_, _, value)) => {
                new.apply(value);
                self.set_filter(new)
            }
            None => self.say(format!(
                "no {} for {c:?} ({} is any)",
                kind.name(),
                filter::ANY_KEY
            )),
        }
    }

    /// A new filter: the search ends and the list starts again from its top.
    fn set_filter(&mut self, filter: Filter) -> Vec<Effect> {
        self.filter = filter;
        self.search = None;
        vec![Effect::Reload]
    }

    fn set_field(&mut self, field: Field) -> Vec<Effect> {
        let ids = self.targets();
        if ids.is_empty() {
            return self.say("no ticket");
        }
        self.selection.clear();
        vec![Effect::SetField { ids, field }]
    }

    fn reject(&mut self, reason: String) -> Vec<Effect> {
        let ids = self.targets();
        if ids.is_empty() {
            return self.say("no ticket");
        }
        self.selection.clear();
        vec![Effect::Reject { ids, reason }]
    }

    /// A `:` command: every action by name, some with an argument.
    pub fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let (cmd, arg) = line
            .split_once(char::is_whitespace)
            .map_or((line, ""), |(c, a)| (c, a.trim()));
        let cmd = cmd.to_ascii_lowercase();
        let pick = |kind: ChoiceKind, arg: &str, cats: &[String]| {
            kind.choices(cats)
                .into_iter()
                .find(|(_, label, _)| label.eq_ignore_ascii_case(arg))
                .map(|(_, _, f)| f)
        };
        let action = match cmd.as_str() {
            "" => return Vec::new(),
            "q" | "quit" => Action::Quit,
            "help" => Action::Help,
            "a" | "approve" => Action::Approve,
            "u" | "undo" | "unapprove" => Action::Unapprove,
            "e" | "edit" => Action::Edit,
            "editor" => Action::EditExternal,
            "regenerate" | "redraft" => Action::Regenerate,
            "select" => Action::Select,
            "restore" => Action::Restore,
            "send" => Action::SendNow,
            "sync" => Action::SyncNow,
            "x" | "escalate" => Action::Escalate,
            "stats" => Action::Stats,
            "unselect" | "clear" => {
                self.selection.clear();
                return self.say("selection cleared");
            }
            "r" | "reject" if arg.is_empty() => Action::Reject,
            "r" | "reject" => return self.reject(arg.to_owned()),
            "save" | "w" => return self.save_attachment(arg),
            "n" | "note" if arg.is_empty() => Action::Note,
            "n" | "note" => {
                return match self.current() {
                    Some(id) => vec![Effect::SaveNote {
                        id,
                        text: arg.to_owned(),
                    }],
                    None => self.say("no ticket"),
                };
            }
            "s" | "status" | "p" | "priority" | "c" | "category" => {
                let kind = match cmd.chars().next() {
                    Some('s') => ChoiceKind::Status,
                    Some('p') => ChoiceKind::Priority,
                    _ => ChoiceKind::Category,
                };
                if arg.is_empty() {
                    self.prompt = Some(Prompt::Choice(kind));
                    return Vec::new();
                }
                return match pick(kind, arg, &self.categories) {
                    Some(f) => self.set_field(f),
                    None => {
                        let valid: Vec<String> = kind
                            .choices(&self.categories)
                            .into_iter()
                            .map(|(_, l, _)| l)
                            .collect();
                        self.say(format!(
                            "unknown {} {arg:?}; valid: {}",
                            kind.name(),
                            valid.join(", ")
                        ))
                    }
                };
            }
            "search" | "/" => {
                self.search = Some(Search {
                    query: arg.to_owned(),
                    editing: false,
                });
                if arg.is_empty() {
                    self.search = None;
                    return vec![Effect::Reload];
                }
                return vec![Effect::Search {
                    query: arg.to_owned(),
                }];
            }
            "filter" => {
                return match Filter::parse(arg, &self.categories) {
                    Ok(f) => self.set_filter(f),
                    Err(e) => self.say(e),
                };
            }
            other => {
                return self.say(format!(
                    "unknown command {other:?}: approve, reject REASON, undo, edit, editor, note [TEXT], regenerate, status S, priority P, category C, escalate, stats, select, clear, restore, search Q, filter all|S|status=S category=C priority=P, send, sync, help, quit"
                ));
            }
        };
        self.update(action)
    }

    pub fn selected_row(&self) -> Option<&TicketRow> {
        self.selected
            .checked_sub(self.offset)
            .and_then(|i| self.page.get(i as usize))
    }

    /// The loads needed after the selection moved.
    fn after_move(&mut self) -> Vec<Effect> {
        self.scroll = 0;
        let in_page =
            self.selected >= self.offset && self.selected < self.offset + self.page.len() as u32;
        if !in_page && self.total > 0 {
            let offset = self.selected.saturating_sub(PAGE / 4);
            return vec![Effect::LoadPage {
                offset,
                limit: PAGE,
            }];
        }
        self.select_effect()
    }

    fn select_effect(&self) -> Vec<Effect> {
        match self.selected_row() {
            Some(t) if self.open.as_ref().map(|o| o.ticket.id) != Some(t.id) => {
                vec![Effect::LoadTicket { ticket_id: t.id }]
            }
            _ => Vec::new(),
        }
    }

    /// A page arrived.
    pub fn page_loaded(&mut self, offset: u32, rows: Vec<TicketRow>) -> Vec<Effect> {
        self.offset = offset;
        self.page = rows;
        self.select_effect()
    }

    pub fn ticket_loaded(&mut self, open: Open) {
        self.open = Some(open);
    }

    fn move_to(&mut self, target: i64) -> Vec<Effect> {
        if self.total == 0 {
            return Vec::new();
        }
        let clamped = target.clamp(0, i64::from(self.total) - 1) as u32;
        if clamped == self.selected {
            return Vec::new();
        }
        self.selected = clamped;
        self.after_move()
    }

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        if self.overlay == Overlay::Stats {
            self.overlay = Overlay::None;
            if action == Action::Quit {
                self.quit = true;
            }
            return Vec::new();
        }
        if self.overlay == Overlay::Help {
            // j/k and the page keys scroll a help taller than the screen; any other key
            // closes it; q still quits.
            match action {
                Action::Down => {
                    self.help_scroll = self.help_scroll.saturating_add(1);
                    return Vec::new();
                }
                Action::PageDown => {
                    self.help_scroll = self.help_scroll.saturating_add(10);
                    return Vec::new();
                }
                Action::Up => {
                    self.help_scroll = self.help_scroll.saturating_sub(1);
                    return Vec::new();
                }
                Action::PageUp => {
                    self.help_scroll = self.help_scroll.saturating_sub(10);
                    return Vec::new();
                }
                _ => {}
            }
            self.overlay = Overlay::None;
            if action == Action::Quit {
                self.quit = true;
            }
            return Vec::new();
        }
        let page = i64::from(self.visible.max(1));
        let sel = i64::from(self.selected);
        match (action, self.focus) {
            (Action::Quit, _) => {
                self.quit = true;
                Vec::new()
            }
            (Action::Help, _) => {
                self.overlay = Overlay::Help;
                self.help_scroll = 0;
                Vec::new()
            }
            (Action::Approve, _) => {
                let ids = self.targets();
                if ids.is_empty() {
                    return self.say("no ticket");
                }
                self.selection.clear();
                vec![Effect::Approve { ids }]
            }
            (Action::Reject, _) => {
                self.prompt = Some(Prompt::Text {
                    kind: TextPrompt::RejectReason,
                    text: String::new(),
                });
                Vec::new()
            }
            (Action::Unapprove, _) => match self.current() {
                Some(id) => vec![Effect::Unapprove { id }],
                None => self.say("no ticket"),
            },
            (Action::Edit, _) => self.open_editor(EditTarget::Draft),
            (Action::Note, _) => self.open_editor(EditTarget::Note),
            (Action::EditExternal, _) => match self.open_current().and_then(|o| {
                o.draft
                    .as_ref()
                    .filter(|d| d.state != crate::store::DraftState::Sent)
                    .map(|d| (o.ticket.id, d.body.clone()))
            }) {
                Some((id, body)) => vec![Effect::ExternalEdit { id, body }],
                None => self.say("no draft to edit here"),
            },
            (Action::Regenerate, _) => match self.current() {
                Some(id) => vec![Effect::Regenerate { id }],
                None => self.say("no ticket"),
            },
            (Action::SetCategory, _) => {
                self.prompt = Some(Prompt::Choice(ChoiceKind::Category));
                Vec::new()
            }
            (Action::SetPriority, _) => {
                self.prompt = Some(Prompt::Choice(ChoiceKind::Priority));
                Vec::new()
            }
            (Action::SetStatus, _) => {
                self.prompt = Some(Prompt::Choice(ChoiceKind::Status));
                Vec::new()
            }
            (Action::Command, _) => {
                self.prompt = Some(Prompt::Text {
                    kind: TextPrompt::Command,
                    text: String::new(),
                });
                Vec::new()
            }
            (Action::Select, _) => {
                let Some(id) = self.current() else {
                    return Vec::new();
                };
                if !self.selection.remove(&id) {
                    self.selection.insert(id);
                }
                self.status = format!("{} selected", self.selection.len());
                self.move_to(sel + 1)
            }
            (Action::Restore, _) => self.set_field(Field::Status(TicketStatus::Open)),
            (Action::SendNow, _) => {
                self.status = "sending the outbox…".into();
                vec![Effect::WakeOutbox]
            }
            (Action::Escalate, _) => match self.current() {
                Some(id) => {
                    self.status = "escalating…".into();
                    vec![Effect::Escalate { id }]
                }
                None => self.say("no ticket"),
            },
            (Action::Stats, _) => {
                self.overlay = Overlay::Stats;
                vec![Effect::LoadStats]
            }
            (Action::SyncNow, _) => {
                self.status = "checking for new mail…".into();
                vec![Effect::WakeSync]
            }
            (Action::ToggleFold, _) => {
                self.unfold = !self.unfold;
                Vec::new()
            }
            (Action::Search, _) => {
                self.focus = Pane::List;
                let query = self.search.take().map(|s| s.query).unwrap_or_default();
                self.search = Some(Search {
                    query,
                    editing: true,
                });
                Vec::new()
            }
            (Action::Filter, _) => {
                // The list shows the filter in its title while the prompt asks.
                self.focus = Pane::List;
                self.prompt = Some(Prompt::Filter(None));
                Vec::new()
            }
            (Action::NextPane, f) => {
                self.focus = match f {
                    Pane::List => Pane::Thread,
                    Pane::Thread => Pane::Draft,
                    Pane::Draft => Pane::List,
                };
                Vec::new()
            }
            (Action::PrevPane, f) => {
                self.focus = match f {
                    Pane::List => Pane::Draft,
                    Pane::Thread => Pane::List,
                    Pane::Draft => Pane::Thread,
                };
                Vec::new()
            }
            (Action::Open, _) => {
                self.focus = Pane::Thread;
                self.select_effect()
            }
            (Action::Back, _) => {
                self.focus = Pane::List;
                Vec::new()
            }
            (Action::Down, Pane::List) => self.move_to(sel + 1),
            (Action::Up, Pane::List) => self.move_to(sel - 1),
            (Action::Top, Pane::List) => self.move_to(0),
            (Action::Bottom, Pane::List) => self.move_to(i64::from(self.total) - 1),
            (Action::PageDown, Pane::List) => self.move_to(sel + page),
            (Action::PageUp, Pane::List) => self.move_to(sel - page),
            (Action::Down, _) => {
                self.scroll = self.scroll.saturating_add(1);
                Vec::new()
            }
            (Action::Up, _) => {
                self.scroll = self.scroll.saturating_sub(1);
                Vec::new()
            }
            (Action::PageDown, _) => {
                self.scroll = self.scroll.saturating_add(self.visible);
                Vec::new()
            }
            (Action::PageUp, _) => {
                self.scroll = self.scroll.saturating_sub(self.visible);
                Vec::new()
            }
            (Action::Top, _) => {
                self.scroll = 0;
                Vec::new()
            }
            (Action::Bottom, _) => {
                self.scroll = u16::MAX / 2;
                Vec::new()
            }
        }
    }
}

/// `~/x` as the home directory's `x`.
fn expand_home(dir: &str) -> std::path::PathBuf {
    let home = || directories::BaseDirs::new().map(|b| b.home_dir().to_path_buf());
    match dir.strip_prefix("~/") {
        Some(rest) => home().map_or_else(|| dir.into(), |h| h.join(rest)),
        None if dir == "~" => home().unwrap_or_else(|| dir.into()),
        None => dir.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: i64) -> TicketRow {
        TicketRow {
            id,
            number: format!("TKT-2026-{id:05}"),
            status: crate::store::TicketStatus::Open,
            priority: None,
            category: None,
            requester: crate::store::tickets::Requester {
                address: "a@x".into(),
                name: None,
            },
            subject: "s".into(),
            message_count: 1,
            flagged: false,
            review_reason: None,
            linked_ticket: None,
            created_at: 0,
            updated_at: 0,
            last_inbound_at: None,
            closed_at: None,
            summary: None,
            sla_start_at: None,
            sla_due_at: None,
            resolution_due_at: None,
            first_response_at: None,
            resolved_at: None,
            escalation: None,
            escalation_reason: None,
            escalation_url: None,
        }
    }

    #[test]
    fn moving_past_the_page_asks_for_the_next_window_and_clamps_at_the_ends() {
        let mut app = App::new(1000, 0);
        let fx = app.page_loaded(0, (1..=PAGE as i64).map(row).collect());
        assert_eq!(fx, vec![Effect::LoadTicket { ticket_id: 1 }]);
        assert_eq!(app.update(Action::Up), vec![]);
        assert_eq!(
            app.update(Action::Down),
            vec![Effect::LoadTicket { ticket_id: 2 }]
        );
        let fx = app.update(Action::Bottom);
        assert_eq!(
            fx,
            vec![Effect::LoadPage {
                offset: 999 - PAGE / 4,
                limit: PAGE
            }]
        );
        assert_eq!(app.selected, 999);
        assert_eq!(app.update(Action::Down), vec![]);
    }

    #[test]
    fn panes_cycle_help_closes_on_any_key_and_q_quits() {
        let mut app = App::new(0, 0);
        app.update(Action::NextPane);
        assert_eq!(app.focus, Pane::Thread);
        app.update(Action::PrevPane);
        assert_eq!(app.focus, Pane::List);
        app.update(Action::Help);
        assert_eq!(app.overlay, Overlay::Help);
        // j/k scroll a tall help; any other key closes it.
        app.update(Action::Down);
        assert_eq!((app.overlay, app.help_scroll), (Overlay::Help, 1));
        app.update(Action::Top);
        assert_eq!(app.overlay, Overlay::None);
        app.update(Action::Quit);
        assert!(app.quit);
    }
}
