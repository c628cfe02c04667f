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

/// Colours by role (from `[theme]` in the config), or none when NO_COLOR is set.
#[derive(Debug, Clone, Copy)]
pub struct Theme {
    pub color: bool,
    /// Focused borders, prompts, work in progress.
    pub accent: Color,
    /// Done: synced, sent, waiting.
    pub ok: Color,
    /// Needs a look: open tickets, filters, queued mail.
    pub warn: Color,
    /// Failures, urgent and high priority, requests for a person.
    pub error: Color,
    /// Internal notes.
    pub note: Color,
    pub selected_fg: Color,
    pub selected_bg: Color,
}

impl Default for Theme {
    fn default() -> Theme {
        Theme {
            color: true,
            accent: Color::Cyan,
            ok: Color::Green,
            warn: Color::Yellow,
            error: Color::Red,
            note: Color::Magenta,
            selected_fg: Color::White,
            selected_bg: Color::Blue,
        }
    }
}

impl Theme {
    /// The default colours, none when NO_COLOR is set.
    pub fn from_env() -> Theme {
        Theme {
            color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
            ..Theme::default()
        }
    }

    /// The config's `[theme]` over the defaults (its colours were checked when it loaded).
    pub fn from_config(t: &crate::config::ThemeConfig) -> Theme {
        let mut theme = Theme::from_env();
        let pick =
            |v: &Option<String>, d: Color| v.as_deref().and_then(|s| s.parse().ok()).unwrap_or(d);
        theme.accent = pick(&t.accent, theme.accent);
        theme.ok = pick(&t.ok, theme.ok);
        theme.warn = pick(&t.warn, theme.warn);
        theme.error = pick(&t.error, theme.error);
        theme.note = pick(&t.note, theme.note);
        theme.selected_fg = pick(&t.selected_fg, theme.selected_fg);
        theme.selected_bg = pick(&t.selected_bg, theme.selected_bg);
        theme
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
            Style::new().bg(self.selected_bg).fg(self.selected_fg)
        } else {
            Style::new().add_modifier(Modifier::REVERSED)
        }
    }
    pub fn block<'a>(&self, title: &'a str, focused: bool) -> Block<'a> {
        let style = if focused {
            self.fg(self.accent).add_modifier(Modifier::BOLD)
        } else {
            Style::new()
        };
        Block::new()
            .borders(Borders::ALL)
            .border_style(style)
            .title(title)
    }
}

/// The most lines a one-key prompt takes at the bottom before its choices are cut off.
const PROMPT_LINES: usize = 4;

pub fn draw(frame: &mut Frame<'_>, app: &mut App, keymap: &Keymap, theme: Theme) {
    let prompt = prompt_lines(app, theme, frame.area().width);
    let status_height = prompt
        .as_ref()
        .map_or(1, |l| l.len().clamp(1, PROMPT_LINES)) as u16;
    let [body, status] = Layout::vertical([Constraint::Min(3), Constraint::Length(status_height)])
        .areas(frame.area());
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
    match prompt {
        Some(lines) => frame.render_widget(ratatui::widgets::Paragraph::new(lines), status),
        None => draw_status(frame, status, app, theme),
    }
    if app.overlay == Overlay::Stats {
        let area = frame.area();
        frame.render_widget(ratatui::widgets::Clear, area);
        match &app.stats {
            Some(stats) => stats::render(frame, area, stats, theme),
            None => frame.render_widget(Line::from(" computing the statistics…"), area),
        }
    }
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

/// The open prompt, on as many lines of `width` as its choices need.
fn prompt_lines(app: &App, theme: Theme, width: u16) -> Option<Vec<Line<'static>>> {
    use super::app::{Prompt, TextPrompt};
    use super::filter::{ANY_KEY, CLEAR_KEY, DIMENSIONS};
    let clean = super::widgets::safe_text::clean;
    let choice = |key: char, label: String, style: Style| {
        vec![
            Span::styled(key.to_string(), theme.fg(theme.warn)),
            Span::raw(" "),
            Span::styled(label, style),
            Span::raw(" "),
        ]
    };
    let cancel = vec![Span::styled(" Esc cancel", theme.dim())];
    let lines = match app.prompt.as_ref()? {
        Prompt::Text { kind, text } => {
            let (label, hint) = match kind {
                TextPrompt::RejectReason => ("Reject, reason: ", "   Enter reject · Esc cancel"),
                TextPrompt::Command => (":", "   Enter run · Esc cancel · :help lists commands"),
            };
            let bulk = if app.selection.is_empty() {
                String::new()
            } else {
                format!("({} selected) ", app.selection.len())
            };
            vec![Line::from(vec![
                Span::styled(format!("{bulk}{label}"), theme.fg(theme.accent)),
                Span::raw(clean(text)),
                Span::styled("█", theme.dim()),
                Span::styled(hint, theme.dim()),
            ])]
        }
        Prompt::Choice(kind) => {
            let mut items: Vec<Vec<Span<'static>>> = kind
                .choices(&app.categories)
                .into_iter()
                .map(|(key, label, _)| choice(key, clean(&label), Style::new()))
                .collect();
            items.push(cancel);
            pack(
                Span::styled(format!("Set {}: ", kind.name()), theme.fg(theme.accent)),
                items,
                width,
            )
        }
        Prompt::Filter(None) => {
            let mut items: Vec<Vec<Span<'static>>> = DIMENSIONS
                .iter()
                .map(|(key, kind)| {
                    let label = match app.filter.get(*kind) {
                        Some(v) => format!("{}={}", kind.name(), clean(&v)),
                        None => kind.name().to_owned(),
                    };
                    choice(*key, label, Style::new())
                })
                .collect();
            items.push(choice(CLEAR_KEY, "clear all".into(), Style::new()));
            items.push(cancel);
            pack(
                Span::styled("Filter by: ", theme.fg(theme.accent)),
                items,
                width,
            )
        }
        Prompt::Filter(Some(kind)) => {
            // The value filtered now stands out.
            let current = app.filter.get(*kind);
            let mut items: Vec<Vec<Span<'static>>> = kind
                .choices(&app.categories)
                .into_iter()
                .map(|(key, label, _)| {
                    let style = if current.as_deref() == Some(label.as_str()) {
                        theme.selected()
                    } else {
                        Style::new()
                    };
                    choice(key, clean(&label), style)
                })
                .collect();
            let any = if current.is_none() {
                theme.selected()
            } else {
                Style::new()
            };
            items.push(choice(ANY_KEY, "any".into(), any));
            items.push(cancel);
            pack(
                Span::styled(
                    format!("Filter by {}: ", kind.name()),
                    theme.fg(theme.accent),
                ),
                items,
                width,
            )
        }
    };
    Some(lines)
}

/// `head`, then the items on as many lines of `width` as they need (continuation lines
/// indented under the first item); an item is never split across lines.
fn pack(head: Span<'static>, items: Vec<Vec<Span<'static>>>, width: u16) -> Vec<Line<'static>> {
    let indent = head.width();
    let mut lines = Vec::new();
    let mut line = vec![head];
    let mut used = indent;
    let mut empty = true;
    for item in items {
        let w: usize = item.iter().map(Span::width).sum();
        if !empty && used + w > usize::from(width) {
            lines.push(Line::from(std::mem::take(&mut line)));
            line.push(Span::raw(" ".repeat(indent)));
            used = indent;
        }
        used += w;
        empty = false;
        line.extend(item);
    }
    lines.push(Line::from(line));
    lines
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
            Span::styled(" syncing… ", theme.fg(theme.accent))
        } else if let Some(e) = &bg.sync_error {
            let short: String = super::widgets::safe_text::clean(e)
                .chars()
                .take(60)
                .collect();
            Span::styled(format!(" offline: {short} "), theme.fg(theme.error))
        } else if let Some((t, _)) = &bg.last_sync {
            Span::styled(format!(" synced {} ", clock(*t)), theme.fg(theme.ok))
        } else {
            Span::styled(" connecting… ", theme.dim())
        };
        out.push(s);
    }
    match bg.analysing {
        Some((d, t)) if t > 0 => out.push(Span::styled(
            format!(" drafting {d}/{t} "),
            theme.fg(theme.accent),
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
            theme.fg(theme.accent),
        ));
    } else if o.queued + o.sending > 0 {
        let why = match (&bg.send_error, bg.send_enabled) {
            (Some(_), _) => " (offline)",
            (None, false) => " (no [smtp])",
            _ => "",
        };
        out.push(Span::styled(
            format!(" outbox {}{why} ", o.queued + o.sending),
            theme.fg(theme.warn),
        ));
    }
    if o.failed > 0 {
        out.push(Span::styled(
            format!(" {} failed ", o.failed),
            theme.fg(theme.error).add_modifier(Modifier::BOLD),
        ));
    }
    out
}

fn draw_status(frame: &mut Frame<'_>, area: Rect, app: &App, theme: Theme) {
    if let Some(search) = &app.search
        && search.editing
    {
        let line = Line::from(vec![
            Span::styled("/", theme.fg(theme.accent)),
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
    // A search lists what it finds whatever the filter; the filter is back when it ends.
    if !app.filter.is_empty() && app.search.is_none() {
        spans.push(Span::styled(
            format!(
                " {} ",
                super::widgets::safe_text::clean(&app.filter.describe())
            ),
            theme.fg(theme.warn),
        ));
    }
    if let Some(s) = &app.search {
        spans.push(Span::styled(
            format!(" search: {} ", super::widgets::safe_text::clean(&s.query)),
            theme.fg(theme.warn),
        ));
    }
    if !app.selection.is_empty() {
        spans.push(Span::styled(
            format!(" {} selected ", app.selection.len()),
            theme.fg(theme.accent),
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
