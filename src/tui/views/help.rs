use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::Theme;
use crate::tui::keymap::Keymap;

pub fn draw(frame: &mut Frame<'_>, area: Rect, keymap: &Keymap, theme: Theme) {
    let height = (keymap.entries.len() as u16 + 4).min(area.height);
    let width = 64.min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    let mut lines: Vec<Line<'_>> = keymap
        .entries
        .iter()
        .map(|e| {
            Line::from(vec![
                Span::styled(
                    format!(" {:<16}", e.keys.join(" ")),
                    Style::new().add_modifier(Modifier::BOLD),
                ),
                Span::raw(e.help.clone()),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::styled(" any key closes this", theme.dim()));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(theme.block(" Keys ", true)),
        popup,
    );
}
