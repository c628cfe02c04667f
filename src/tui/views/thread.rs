use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::store::{Direction, MessageClass};
use crate::tui::app::{App, Pane};
use crate::tui::widgets::safe_text::{lines, span};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let block = theme.block(" Thread ", app.focus == Pane::Thread);
    let Some(open) = &app.open else {
        frame.render_widget(Paragraph::new("Select a ticket.").block(block), area);
        return;
    };
    let t = &open.ticket;
    let bold = Style::new().add_modifier(Modifier::BOLD);
    let mut out: Vec<Line<'_>> = vec![Line::from(vec![
        Span::styled(t.number.clone(), bold),
        Span::raw("  "),
        Span::styled(t.status.to_string(), theme.fg(theme.warn)),
        Span::raw("  "),
        span(&t.subject, bold),
    ])];
    let who = match &t.requester.name {
        Some(n) => format!("{n} <{}>", t.requester.address),
        None => t.requester.address.clone(),
    };
    out.push(Line::from(vec![
        Span::styled("From ", theme.dim()),
        span(&who, Style::new()),
    ]));
    if let Some(r) = &t.review_reason {
        out.push(Line::from(vec![
            Span::styled("Review ", theme.fg(theme.error)),
            span(r, Style::new()),
        ]));
    }
    if let Some(l) = &t.linked_ticket {
        out.push(Line::from(vec![
            Span::styled("Linked ", theme.dim()),
            Span::raw(l.clone()),
        ]));
    }
    let mut attachment_no = 0;
    for (i, m) in open.messages.iter().enumerate() {
        let from = m
            .from_name
            .clone()
            .or_else(|| m.from_addr.clone())
            .unwrap_or_else(|| "?".into());
        let when = m.date.map_or_else(|| "no date".into(), super::datetime);
        let kind = match (m.direction, m.class) {
            (Direction::Inbound, MessageClass::Human) => String::new(),
            (d, c) => format!(" · {d} · {c}"),
        };
        out.push(Line::default());
        out.push(Line::from(vec![
            Span::styled(
                format!("── {}/{} · {when} · ", i + 1, open.messages.len()),
                theme.dim(),
            ),
            span(&from, bold),
            Span::styled(format!("{kind} ──"), theme.dim()),
        ]));
        if let Some(r) = &m.class_reason {
            out.push(Line::from(Span::styled(
                format!("   ({})", crate::tui::widgets::safe_text::clean(r)),
                theme.dim(),
            )));
        }
        if let Some(e) = &m.parse_error {
            out.push(Line::from(Span::styled(
                format!(
                    "   could not be parsed: {e}; the raw message ({} bytes) is kept",
                    m.raw_size
                ),
                theme.fg(theme.error),
            )));
        }
        out.extend(lines(&m.body, Style::new()));
        for (label, text) in [("quoted history", &m.quoted), ("signature", &m.signature)] {
            if text.is_empty() {
                continue;
            }
            if app.unfold {
                out.extend(lines(text, theme.dim()));
            } else {
                out.push(Line::from(Span::styled(
                    format!("   [{label}: {} lines · z unfolds]", text.lines().count()),
                    theme.dim(),
                )));
            }
        }
        for a in &m.attachments {
            attachment_no += 1;
            out.push(Line::from(Span::styled(
                format!(
                    "   📎 {attachment_no} {} ({}, {} bytes)",
                    crate::tui::widgets::safe_text::clean(
                        a.filename.as_deref().unwrap_or("unnamed")
                    ),
                    a.content_type,
                    a.size
                ),
                theme.fg(theme.note),
            )));
        }
    }
    let inner_height = area.height.saturating_sub(2);
    let max_scroll = (out.len() as u16).saturating_sub(inner_height);
    if app.scroll > max_scroll && app.focus == Pane::Thread {
        app.scroll = max_scroll;
    }
    let scroll = if app.focus == Pane::Thread {
        app.scroll
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(out)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
