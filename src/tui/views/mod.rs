//! Drawing: each pane reads the model and draws; nothing here changes state.

mod draft;
mod help;
mod list;
pub mod stats;
mod thread;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders};

use super::app::{App, Overlay, Pane};
use super::keymap::Keymap;

/// Below this width the panes take the whole screen one at a time.
pub const SPLIT_WIDTH: u16 = 100;

/// Colours, or none when NO_COLOR is set.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
}

impl Theme {
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
        }
    }
    pub fn fg(&self, c: Color) -> Style {
        if self.color {
            Style::new().fg(c)
        } else {
            Style::new()
        }
    }
    pub fn dim(&self) -> Style {
        Style::new().add_modifier(Modifier::DIM)
    }
    pub fn selected(&self) -> Style {
        if self.color {
            Style::new().bg(Color::Blue).fg(Color::White)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    pub fn block<'a>(&self, title: &'a str, focused: bool) -> Block<'a> {
        let style = if focused {
            self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Block::new()
            .borders(Borders::ALL)
            .border_style(style)
            .title(title)
    }
}

pub fn draw(frame: &mut Frame<'_>, app: &mut App, keymap: &Keymap, theme: Theme) {
    let [body, status] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    if body.width >= SPLIT_WIDTH {
        let [left, right] =
            Layout::horizontal([Constraint::Percentage(42), Constraint::Percentage(58)])
                .areas(body);
        let [top, bottom] =
            Layout::vertical([Constraint::Percentage(62), Constraint::Percentage(38)]).areas(right);
        list::draw(frame, left, app, theme);
        thread::draw(frame, top, app, theme);
        draft::draw(frame, bottom, app, theme);
    } else {
        let [tabs, pane] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(2)]).areas(body);
        draw_tabs(frame, tabs, app.focus, theme);
        match app.focus {
            Pane::List => list::draw(frame, pane, app, theme),
            Pane::Thread => thread::draw(frame, pane, app, theme),
            Pane::Draft => draft::draw(frame, pane, app, theme),
        }
    }
    draw_status(frame, status, app, theme);
    if app.overlay == Overlay::Help {
        help::draw(frame, frame.area(), keymap, theme);
    }
}

fn draw_tabs(frame: &mut Frame<'_>, area: Rect, focus: Pane, theme: Theme) {
    let spans: Vec<Span<'_>> = [
        (Pane::List, " Tickets "),
        (Pane::Thread, " Thread "),
        (Pane::Draft, " Draft "),
    ]
    .into_iter()
    .flat_map(|(p, name)| {
        let style = if p == focus {
            theme.selected()
        } else {
            theme.dim()
        };
        [Span::styled(name, style), Span::raw(" ")]
    })
    .collect();
    frame.render_widget(Line::from(spans), area);
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    if let Some(search) = &app.search
        && search.editing
    {
        let line = Line::from(vec![
            Span::styled("/", theme.fg(Color::Cyan)),
            Span::raw(super::widgets::safe_text::clean(&search.query)),
            Span::styled("█", theme.dim()),
            Span::styled(
                format!("   {} found · Enter keep · Esc clear", app.total),
                theme.dim(),
            ),
        ]);
        frame.render_widget(line, area);
        return;
    }
    let position = if app.total == 0 {
        "no tickets".to_owned()
    } else {
        format!("{}/{} tickets", app.selected + 1, app.total)
    };
    let mut spans = vec![Span::styled(format!(" {position} "), theme.selected())];
    if let Some(f) = app.filter {
        spans.push(Span::styled(
            format!(" status: {f} "),
            theme.fg(Color::Yellow),
        ));
    }
    if let Some(s) = &app.search {
        spans.push(Span::styled(
            format!(" search: {} ", super::widgets::safe_text::clean(&s.query)),
            theme.fg(Color::Yellow),
        ));
    }
    if !app.status.is_empty() {
        spans.push(Span::raw(format!(
            " {}",
            super::widgets::safe_text::clean(&app.status)
        )));
    }
    spans.push(Span::styled(
        "  / search · f filter · Tab panes · z unfold · ? keys · q quit",
        theme.dim(),
    ));
    frame.render_widget(Line::from(spans), area);
}

/// A ticket's age: `45m`, `5h`, `3d`, `2mo`.
pub fn age(now: i64, then: i64) -> String {
    let s = (now - then).max(0);
    match s {
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3600),
        s if s < 60 * 86_400 => format!("{}d", s / 86_400),
        s => format!("{}mo", s / (30 * 86_400)),
    }
}

/// A unix time as `2026-11-23 09:41` (UTC).
pub fn datetime(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map_or_else(|| "?".into(), |d| d.format("%Y-%m-%d %H:%M").to_string())
}
