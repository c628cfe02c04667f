use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use super::Theme;
use crate::tui::keymap::{Entry, Keymap};

/// Room for the keys of an entry (` PageDown ctrl-d `, with a space each side).
const KEY_WIDTH: usize = 15;

fn line(e: &Entry, key_width: usize, width: usize) -> Line<'static> {
    let keys = e.keys.join(" ");
    // Only where the screen is narrower than the keymap's longest line: cut, visibly.
    let room = width.saturating_sub(key_width + 2);
    let help: String = if e.help.chars().count() > room {
        let mut cut: String = e.help.chars().take(room.saturating_sub(1)).collect();
        cut.push('…');
        cut
    } else {
        e.help.clone()
    };
    Line::from(vec![
        Span::styled(
            format!(" {keys:<key_width$} "),
            Style::new().add_modifier(Modifier::BOLD),
        ),
        Span::raw(help),
    ])
}

/// The current keymap; in two columns when one does not fit the height.
pub fn draw(frame: &mut Frame<'_>, area: Rect, keymap: &Keymap, theme: Theme, scroll: &mut u16) {
    let n = keymap.entries.len() as u16;
    let one_column = n + 4 <= area.height || area.width < 100;
    let (columns, rows) = if one_column {
        (1u16, n)
    } else {
        (2, n.div_ceil(2))
    };
    let height = (rows + 4).min(area.height);
    // As wide as the longest line needs (a space after it), the screen permitting.
    let longest = keymap
        .entries
        .iter()
        .map(|e| e.help.chars().count())
        .max()
        .unwrap_or(0);
    let column = (KEY_WIDTH + 2 + longest + 1) as u16;
    // The footer line needs some 60 columns.
    let width = (columns * column + 2).max(62).min(area.width);
    let [row] = Layout::vertical([Constraint::Length(height)])
        .flex(Flex::Center)
        .areas(area);
    let [popup] = Layout::horizontal([Constraint::Length(width)])
        .flex(Flex::Center)
        .areas(row);
    let key_width = KEY_WIDTH;
    let col_width = (usize::from(width.saturating_sub(2)) / usize::from(columns)).max(20);
    let visible = usize::from(height.saturating_sub(4)).max(1);
    let max_scroll = usize::from(rows).saturating_sub(visible);
    *scroll = (*scroll).min(max_scroll as u16);
    let first = usize::from(*scroll);
    let mut lines: Vec<Line<'_>> = Vec::new();
    for r in first..usize::from(rows).min(first + visible) {
        let mut spans = Vec::new();
        for c in 0..usize::from(columns) {
            let Some(e) = keymap.entries.get(c * usize::from(rows) + r) else {
                continue;
            };
            let mut l = line(e, key_width, col_width);
            let used: usize = l.spans.iter().map(|s| s.content.chars().count()).sum();
            if c + 1 < usize::from(columns) {
                l.spans
                    .push(Span::raw(" ".repeat(col_width.saturating_sub(used))));
            }
            spans.extend(l.spans);
        }
        lines.push(Line::from(spans));
    }
    let below = usize::from(rows).saturating_sub(first + visible);
    lines.push(Line::default());
    lines.push(Line::styled(
        if below > 0 || first > 0 {
            format!(" j/k scroll ({below} more below) · any other key closes this")
        } else {
            " any key closes this · `:` runs any action by name".to_owned()
        },
        theme.dim(),
    ));
    frame.render_widget(Clear, popup);
    frame.render_widget(
        Paragraph::new(lines).block(theme.block(" Keys ", true)),
        popup,
    );
}
