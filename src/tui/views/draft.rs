use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::ai::Analysis;
use crate::store::DraftState;
use crate::store::OutboxState;
use crate::tui::app::{App, EditTarget, Pane};
use crate::tui::widgets::safe_text::{clean, lines};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    if let Some(ed) = app.editor.as_mut() {
        let title = match ed.target {
            EditTarget::Draft => {
                " Editing the reply · Ctrl-S save · Esc Esc discard · Ctrl-U undo "
            }
            EditTarget::Note => " Internal note (never sent) · Ctrl-S add · Esc Esc discard ",
        };
        ed.area.set_block(theme.block(title, true));
        ed.area.set_cursor_line_style(Style::new());
        frame.render_widget(&ed.area, area);
        return;
    }
    let block = theme.block(" Draft ", app.focus == Pane::Draft);
    let mut text: Vec<Line<'_>> = Vec::new();
    match app.open.as_ref().map(|o| &o.draft) {
        None => {}
        Some(None) => {
            text.push(Line::from(
                "No draft: this ticket holds automatic mail, which is never answered by itself.",
            ));
        }
        Some(Some(d)) => {
            let analysis: Option<Analysis> = d
                .analysis_json
                .as_deref()
                .and_then(|j| serde_json::from_str(j).ok());
            let mut head = vec![Span::styled(
                format!("{} ", d.state),
                theme.fg(theme.accent).add_modifier(Modifier::BOLD),
            )];
            if let Some(a) = &analysis {
                let prio = match a.priority.as_str() {
                    "urgent" => theme.fg(theme.error).add_modifier(Modifier::BOLD),
                    "high" => theme.fg(theme.error),
                    _ => Style::new(),
                };
                head.push(Span::raw(format!("· {} · ", clean(&a.category))));
                head.push(Span::styled(clean(&a.priority), prio));
                head.push(Span::raw(format!(
                    " · {} · {}",
                    clean(&a.sentiment),
                    clean(&a.language)
                )));
                if a.escalate {
                    head.push(Span::styled(
                        " · asks for a person",
                        theme.fg(theme.error).add_modifier(Modifier::BOLD),
                    ));
                }
                head.push(Span::styled(
                    format!(" · confidence {:.2} · {}", a.confidence, clean(&a.drafter)),
                    theme.dim(),
                ));
            }
            text.push(Line::from(head));
            let outbox = app.open.as_ref().and_then(|o| o.outbox.as_ref());
            match (d.state, outbox) {
                (DraftState::Approved | DraftState::Queued, Some(o)) => {
                    let line = match (o.state, &o.last_error) {
                        (OutboxState::Queued, Some(e)) => format!(
                            "approved · in the outbox, will retry ({} tries so far): {} · u takes it back",
                            o.attempts,
                            clean(e)
                        ),
                        (OutboxState::Queued, None) => {
                            "approved · in the outbox, sent when online · u takes it back"
                                .to_owned()
                        }
                        (OutboxState::Sending, _) => "approved · being sent…".to_owned(),
                        (s, _) => format!("approved · {s}"),
                    };
                    text.push(Line::styled(line, theme.fg(theme.ok)));
                }
                (DraftState::Failed, o) => {
                    let err = o
                        .and_then(|o| o.last_error.clone())
                        .unwrap_or_else(|| "sending failed".into());
                    text.push(Line::styled(
                        format!("NOT SENT: {} · e edit, then a to send again", clean(&err)),
                        theme.fg(theme.error).add_modifier(Modifier::BOLD),
                    ));
                }
                (DraftState::Sent, Some(o)) => {
                    text.push(Line::styled(
                        format!(
                            "sent {} to {}",
                            o.sent_at.map(super::datetime).unwrap_or_default(),
                            clean(&o.recipients)
                        ),
                        theme.dim(),
                    ));
                }
                _ => {}
            }
            if let Some(a) = &analysis {
                for flag in &a.flags {
                    text.push(Line::styled(
                        format!("⚑ {}", clean(flag)),
                        theme.fg(theme.warn).add_modifier(Modifier::BOLD),
                    ));
                }
            }
            match d.state {
                DraftState::New
                    if app
                        .bg
                        .streaming
                        .as_ref()
                        .is_some_and(|(t, _)| app.open.as_ref().is_some_and(|o| o.ticket.id == *t)) =>
                {
                    let (_, partial) = app.bg.streaming.as_ref().expect("checked");
                    text.push(Line::styled("writing…", theme.fg(theme.accent)));
                    text.push(Line::default());
                    text.extend(lines(partial, theme.dim()));
                }
                DraftState::New => text.push(Line::styled(
                    "Waiting for analysis (it runs in the background; `helpdesk analyse` from a shell).",
                    theme.dim(),
                )),
                DraftState::AnalysisFailed => {
                    text.push(Line::styled(
                        format!(
                            "Analysis failed: {}",
                            clean(d.error.as_deref().unwrap_or("no reason recorded"))
                        ),
                        theme.fg(theme.error),
                    ));
                    text.push(Line::styled(
                        "Run `helpdesk analyse --retry-failed` to try again.",
                        theme.dim(),
                    ));
                }
                DraftState::Rejected => text.push(Line::styled(
                    format!(
                        "No reply: {}",
                        clean(d.reject_reason.as_deref().unwrap_or("rejected"))
                    ),
                    theme.dim(),
                )),
                _ => {
                    text.push(Line::default());
                    text.extend(lines(&d.body, Style::new()));
                }
            }
        }
    }
    let scroll = if app.focus == Pane::Draft {
        app.scroll
    } else {
        0
    };
    frame.render_widget(
        Paragraph::new(text)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll, 0)),
        area,
    );
}
