use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};

use super::{Theme, age};
use crate::store::{EscalationState, TicketStatus};
use crate::ticket::sla;
use crate::tui::app::{App, Pane};
use crate::tui::widgets::safe_text::{clean, span};
use unicode_width::UnicodeWidthStr;

/// ` Tickets ` or, filtered, ` Tickets (12) · status: open · priority: high `: the values
/// alone (` Tickets (12) · open · high `) where that does not fit. A search lists what it
/// finds whatever the filter, so the title leaves the filter out then.
fn title(app: &App, width: u16) -> String {
    if app.filter.is_empty() || app.search.is_some() {
        return " Tickets ".into();
    }
    let long = format!(" Tickets ({}) · {} ", app.total, app.filter.describe());
    let text = if long.width() + 2 <= usize::from(width) {
        long
    } else {
        format!(
            " Tickets ({}) · {} ",
            app.total,
            app.filter.describe_short()
        )
    };
    clean(&text)
}

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let title = title(app, area.width);
    let block = theme.block(&title, app.focus == Pane::List);
    app.visible = area.height.saturating_sub(3).max(1);
    if app.total == 0 {
        let text = match &app.search {
            Some(s) => format!("Nothing found for \"{}\".", clean(&s.query)),
            None if !app.filter.is_empty() => format!(
                "No ticket matches {}. `:filter all` shows every ticket.",
                clean(&app.filter.describe())
            ),
            None => {
                "No tickets. Import mail with `helpdesk import PATH` or try `helpdesk demo`.".into()
            }
        };
        frame.render_widget(
            ratatui::widgets::Paragraph::new(Line::from(text))
                .wrap(ratatui::widgets::Wrap { trim: true })
                .block(block),
            area,
        );
        return;
    }
    // Columns give way in order when the pane is narrow: FROM first (narrower below 90), then
    // PRI and AGE, then SLA; the number and the subject always stay whole.
    let inner = area.width.saturating_sub(2);
    let with_from = inner >= 72;
    let from_width = if inner >= 90 { 18 } else { 14 };
    let with_extras = inner >= 53;
    let with_sla = inner >= 40;
    let rows: Vec<Row<'_>> = app
        .page
        .iter()
        .map(|t| {
            let status_style = match t.status {
                TicketStatus::Open => theme.fg(theme.warn),
                TicketStatus::Waiting => theme.fg(theme.ok),
                TicketStatus::Noise | TicketStatus::Spam => theme.dim(),
                _ => Style::new(),
            };
            let who = t.requester.name.as_deref().unwrap_or(&t.requester.address);
            // The first column: `*` picked for a bulk action, else `!` flagged for review.
            let picked = app.selection.contains(&t.id);
            let flag = if picked {
                "*"
            } else if t.flagged || t.escalation == Some(EscalationState::Marked) {
                "!"
            } else {
                " "
            };
            let (prio, prio_style) = match t.priority.as_deref() {
                Some("urgent") => ("urg", theme.fg(theme.error).add_modifier(Modifier::BOLD)),
                Some("high") => ("high", theme.fg(theme.error)),
                Some("medium") => ("med", theme.dim()),
                Some("low") => ("low", theme.dim()),
                _ => ("", theme.dim()),
            };
            let mut cells = vec![
                Cell::from(span(
                    flag,
                    theme
                        .fg(if picked { theme.accent } else { theme.error })
                        .add_modifier(Modifier::BOLD),
                )),
                Cell::from(t.number.clone()),
            ];
            if with_extras {
                cells.push(Cell::from(age(
                    app.now,
                    t.last_inbound_at.unwrap_or(t.created_at),
                )));
            }
            cells.push(Cell::from(span(t.status.as_str(), status_style)));
            if with_sla {
                cells.push(match t.next_due() {
                    Some(due) => {
                        let style = match sla::urgency(app.now, t.sla_start_at, due) {
                            sla::Urgency::Overdue => {
                                theme.fg(theme.error).add_modifier(Modifier::BOLD)
                            }
                            sla::Urgency::Soon => theme.fg(theme.warn),
                            sla::Urgency::Later => Style::new(),
                        };
                        Cell::from(span(&sla::left(app.now, due), style))
                    }
                    None => Cell::from(""),
                });
            }
            if with_extras {
                cells.push(Cell::from(span(prio, prio_style)));
            }
            if with_from {
                cells.push(Cell::from(span(who, Style::new())));
            }
            cells.push(Cell::from(span(&t.subject, Style::new())));
            Row::new(cells)
        })
        .collect();
    let mut widths = vec![Constraint::Length(1), Constraint::Length(14)];
    let mut header = vec!["", "NUMBER"];
    if with_extras {
        widths.push(Constraint::Length(4));
        header.push("AGE");
    }
    widths.push(Constraint::Length(7));
    header.push("STATUS");
    if with_sla {
        widths.push(Constraint::Length(4));
        header.push("SLA");
    }
    if with_extras {
        widths.push(Constraint::Length(4));
        header.push("PRI");
    }
    if with_from {
        widths.push(Constraint::Length(from_width));
        header.push("FROM");
    }
    widths.push(Constraint::Fill(1));
    header.push("SUBJECT");
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.dim()))
        .row_highlight_style(theme.selected())
        .column_spacing(1)
        .block(block);
    let mut state = TableState::default()
        .with_selected(app.selected.checked_sub(app.offset).map(|i| i as usize));
    frame.render_stateful_widget(table, area, &mut state);
}
