//! Mail text becomes terminal text only here. Parsing already removed control characters
//! (mail/sanitize.rs); this removes any that reach the screen anyway, so that no escape
//! sequence from a subject can move the cursor, set the title or write the clipboard.

use ratatui::style::Style;
use ratatui::text::{Line, Span};

/// One line of mail text: tabs become spaces, every other control character is dropped.
pub fn clean(s: &str) -> String {
    s.chars()
        .filter_map(|c| match c {
            '\t' => Some(' '),
            c if c.is_control() => None,
            c => Some(c),
        })
        .collect()
}

pub fn span<'a>(s: &str, style: Style) -> Span<'a> {
    Span::styled(clean(s), style)
}

/// Multi-line mail text as lines.
pub fn lines<'a>(text: &str, style: Style) -> Vec<Line<'a>> {
    text.lines().map(|l| Line::from(span(l, style))).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_never_reach_the_screen() {
        let s = super::clean("a\u{1b}]0;x\u{7}b\u{1b}[2J\u{9b}c\td");
        assert_eq!(s, "a]0;xb[2Jc d");
    }
}
