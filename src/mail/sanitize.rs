//! Text from mail never reaches a terminal, a table or a prompt with control characters in it:
//! an ESC or BEL in a subject could move the cursor, set the window title or write the clipboard
//! (OSC 52). Everything shown is cleaned here once, when the message is parsed; the raw bytes
//! stay untouched in the store.

/// Multi-line text: keeps newline and tab, turns CRLF and lone CR into newline, drops every
/// other C0 and C1 control character and DEL.
pub fn clean_text(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut chars = input.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\n' | '\t' => out.push(c),
            '\r' => {
                if chars.peek() != Some(&'\n') {
                    out.push('\n');
                }
            }
            c if is_control(c) => {}
            c => out.push(c),
        }
    }
    out
}

/// One-line text (subjects, names, file names): like [`clean_text`], and any line break or tab
/// becomes a single space.
pub fn clean_line(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    let mut last_space = false;
    for c in input.chars() {
        let c = match c {
            '\n' | '\r' | '\t' => ' ',
            c if is_control(c) => continue,
            c => c,
        };
        if c == ' ' {
            if last_space {
                continue;
            }
            last_space = true;
        } else {
            last_space = false;
        }
        out.push(c);
    }
    out.trim().to_owned()
}

/// C0, DEL and C1 (U+0080–U+009F, which some terminals read as 8-bit CSI/OSC).
fn is_control(c: char) -> bool {
    c.is_control()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_sequences_lose_their_escape() {
        let s = "a\u{1b}]0;title\u{7}b\u{1b}[2Jc\u{9b}31md\u{1b}]52;c;ZXZpbA==\u{7}";
        let t = clean_line(s);
        assert!(!t.chars().any(char::is_control), "{t:?}");
        assert_eq!(t, "a]0;titleb[2Jc31md]52;c;ZXZpbA==");
    }

    #[test]
    fn text_keeps_newlines_and_tabs_and_folds_cr() {
        assert_eq!(clean_text("a\r\nb\rc\td\0e"), "a\nb\nc\tde");
        assert_eq!(clean_line("  Re:\r\n  hello\tworld  "), "Re: hello world");
    }
}
