//! The model of the review screen and `update`, which decides and never does I/O: it returns
//! the loads the runtime should perform.

use std::str::FromStr;

use crate::store::TicketStatus;
use crate::store::messages::{DraftRow, MessageRow};
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
            other => return Err(format!("unknown action {other:?} in the keymap")),
        })
    }
}

/// What the runtime must load for the model.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// A window of the ticket list: `limit` rows from `offset`.
    LoadPage { offset: u32, limit: u32 },
    /// The selected ticket's messages and draft.
    LoadTicket { ticket_id: i64 },
    /// Count the tickets of the current filter, then load the first page.
    Reload,
    /// Full-text search; the results replace the list.
    Search { query: String },
}

/// The open ticket.
#[derive(Debug, Clone)]
pub struct Open {
    pub ticket: TicketRow,
    pub messages: Vec<MessageRow>,
    pub draft: Option<DraftRow>,
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
    /// Only tickets in this status (`f` cycles); `None` is all.
    pub filter: Option<TicketStatus>,
    pub search: Option<Search>,
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
            filter: None,
            search: None,
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
        if self.overlay == Overlay::Help {
            // Any key closes the help; q still quits.
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
                Vec::new()
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
                const CYCLE: [Option<TicketStatus>; 7] = [
                    None,
                    Some(TicketStatus::Open),
                    Some(TicketStatus::Waiting),
                    Some(TicketStatus::Resolved),
                    Some(TicketStatus::Closed),
                    Some(TicketStatus::Noise),
                    Some(TicketStatus::Spam),
                ];
                let i = CYCLE.iter().position(|f| *f == self.filter).unwrap_or(0);
                self.filter = CYCLE[(i + 1) % CYCLE.len()];
                self.search = None;
                vec![Effect::Reload]
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
        app.update(Action::Down);
        assert_eq!(app.overlay, Overlay::None);
        app.update(Action::Quit);
        assert!(app.quit);
    }
}
