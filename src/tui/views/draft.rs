use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Wrap};

use super::Theme;
use crate::store::DraftState;
use crate::tui::app::{App, Pane};

pub fn draw(frame: &mut Frame<'_>, area: Rect, app: &mut App, theme: Theme) {
    let block = theme.block(" Draft ", app.focus == Pane::Draft);
    let text: Vec<Line<'_>> = match &app.open {
        None => vec![Line::from("")],
        Some(o) => match o.draft {
            None => vec![
                Line::from(
                    "No draft: this ticket holds automatic mail, which is never answered by itself.",
                ),
                Line::styled("Reason: see the thread above.", theme.dim()),
            ],
            Some(DraftState::New) => vec![
                Line::from("Draft: new — waiting for analysis."),
                Line::styled(
                    "The reply draft appears here once the ticket has been analysed.",
                    theme.dim(),
                ),
            ],
            Some(state) => vec![Line::from(format!("Draft: {state}"))],
        },
    };
    frame.render_widget(
        Paragraph::new(text).block(block).wrap(Wrap { trim: false }),
        area,
    );
}
