use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::{Theme, age};
use crate::store::TicketStatus;
use crate::tui::app::{App, Pane};
use crate::tui::widgets::safe_text::span;

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let block = theme.block(" Tickets ", app.focus == Pane::List);
    app.visible = area.height.saturating_sub(3).max(1);
    if app.total == 0 {
        let text = Line::from(
            "No tickets. Import mail with `helpdesk import PATH` or try `helpdesk demo`.",
        );
        frame.render_widget(ratatui::widgets::Paragraph::new(text).block(block), area);
        return;
    }
    let rows: Vec<Row<'_>> = app
        .page
        .iter()
        .map(|t| {
            let status_style = match t.status {
                TicketStatus::Open => theme.fg(Color::Yellow),
                TicketStatus::Waiting => theme.fg(Color::Green),
                TicketStatus::Noise | TicketStatus::Spam => theme.dim(),
                _ => Style::new(),
            };
            let who = t.requester.name.as_deref().unwrap_or(&t.requester.address);
            let flag = if t.flagged { "!" } else { " " };
            Row::new(vec![
                Cell::from(span(
                    flag,
                    theme.fg(Color::Red).add_modifier(Modifier::BOLD),
                )),
                Cell::from(t.number.clone()),
                Cell::from(age(app.now, t.last_inbound_at.unwrap_or(t.created_at))),
                Cell::from(span(t.status.as_str(), status_style)),
                Cell::from(span(
                    match t.priority.as_deref() {
                        Some("urgent") => "urg",
                        Some("high") => "high",
                        Some("medium") => "med",
                        Some("low") => "low",
                        _ => "",
                    },
                    match t.priority.as_deref() {
                        Some("urgent" | "high") => theme.fg(Color::Red),
                        _ => theme.dim(),
                    },
                )),
                Cell::from(span(who, Style::new())),
                Cell::from(span(&t.subject, Style::new())),
            ])
        })
        .collect();
    let widths = [
        Constraint::Length(1),
        Constraint::Length(14),
        Constraint::Length(4),
        Constraint::Length(8),
        Constraint::Length(4),
        Constraint::Length(18),
        Constraint::Min(10),
    ];
    let table = Table::new(rows, widths)
        .header(
            Row::new(vec![
                "", "NUMBER", "AGE", "STATUS", "PRI", "FROM", "SUBJECT",
            ])
            .style(theme.dim()),
        )
        .row_highlight_style(theme.selected())
        .column_spacing(1)
        .block(block);
    let mut state = TableState::default()
        .with_selected(app.selected.checked_sub(app.offset).map(|i| i as usize));
    frame.render_stateful_widget(table, area, &mut state);
}
