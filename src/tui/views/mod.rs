//! Drawing: each pane reads the model and draws; nothing here changes state.

mod draft;
mod help;
mod list;
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
        help::draw(frame, frame.area(), keymap, theme, &mut app.help_scroll);
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

fn draw_prompt(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) -> bool {
    use super::app::{Prompt, TextPrompt};
    let clean = super::widgets::safe_text::clean;
    let line = match &app.prompt {
        None => return false,
        Some(Prompt::Text { kind, text }) => {
            let (label, hint) = match kind {
                TextPrompt::RejectReason => ("Reject, reason: ", "   Enter reject · Esc cancel"),
                TextPrompt::Command => (":", "   Enter run · Esc cancel · :help lists commands"),
            };
            let bulk = if app.selection.is_empty() {
                String::new()
            } else {
                format!("({} selected) ", app.selection.len())
            };
            Line::from(vec![
                Span::styled(format!("{bulk}{label}"), theme.fg(Color::Cyan)),
                Span::raw(clean(text)),
                Span::styled("█", theme.dim()),
                Span::styled(hint, theme.dim()),
            ])
        }
        Some(Prompt::Choice(kind)) => {
            let mut spans = vec![Span::styled(
                format!("Set {}: ", kind.name()),
                theme.fg(Color::Cyan),
            )];
            for (key, label, _) in kind.choices(&app.categories) {
                spans.push(Span::styled(format!("{key}"), theme.fg(Color::Yellow)));
                spans.push(Span::raw(format!(" {} ", clean(&label))));
            }
            spans.push(Span::styled(" Esc cancel", theme.dim()));
            Line::from(spans)
        }
    };
    frame.render_widget(line, area);
    true
}

/// Sync, analysis and outbox, short: `sync 12:03` / `offline: …`, `drafting 3/9`, `outbox 2`.
fn background_spans(app: &App, theme: Theme) -> Vec<Span<'static>> {
    let bg = &app.bg;
    let mut out = Vec::new();
    let clock = |t: i64| {
        chrono::DateTime::from_timestamp(t, 0)
            .map_or_else(String::new, |d| d.format("%H:%M").to_string())
    };
    if bg.sync_enabled {
        let s = if bg.syncing {
            Span::styled(" syncing… ", theme.fg(Color::Cyan))
        } else if let Some(e) = &bg.sync_error {
            let short: String = super::widgets::safe_text::clean(e)
                .chars()
                .take(60)
                .collect();
            Span::styled(format!(" offline: {short} "), theme.fg(Color::Red))
        } else if let Some((t, _)) = &bg.last_sync {
            Span::styled(format!(" synced {} ", clock(*t)), theme.fg(Color::Green))
        } else {
            Span::styled(" connecting… ", theme.dim())
        };
        out.push(s);
    }
    match bg.analysing {
        Some((d, t)) if t > 0 => out.push(Span::styled(
            format!(" drafting {d}/{t} "),
            theme.fg(Color::Cyan),
        )),
        _ if bg.pending_analysis > 0 => out.push(Span::styled(
            format!(" {} to draft ", bg.pending_analysis),
            theme.dim(),
        )),
        _ => {}
    }
    let o = &bg.outbox;
    if let Some((d, t)) = bg.sending.filter(|(_, t)| *t > 0) {
        out.push(Span::styled(
            format!(" sending {d}/{t} "),
            theme.fg(Color::Cyan),
        ));
    } else if o.queued + o.sending > 0 {
        let why = match (&bg.send_error, bg.send_enabled) {
            (Some(_), _) => " (offline)",
            (None, false) => " (no [smtp])",
            _ => "",
        };
        out.push(Span::styled(
            format!(" outbox {}{why} ", o.queued + o.sending),
            theme.fg(Color::Yellow),
        ));
    }
    if o.failed > 0 {
        out.push(Span::styled(
            format!(" {} failed ", o.failed),
            theme.fg(Color::Red).add_modifier(Modifier::BOLD),
        ));
    }
    out
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    if draw_prompt(frame, area, app, theme) {
        return;
    }
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
    if !app.selection.is_empty() {
        spans.push(Span::styled(
            format!(" {} selected ", app.selection.len()),
            theme.fg(Color::Cyan),
        ));
    }
    spans.extend(background_spans(app, theme));
    if !app.status.is_empty() {
        spans.push(Span::raw(format!(
            " {}",
            super::widgets::safe_text::clean(&app.status)
        )));
    } else {
        spans.push(Span::styled(
            "  a approve · r reject · e edit · / search · : command · ? keys · q quit",
            theme.dim(),
        ));
    }
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
