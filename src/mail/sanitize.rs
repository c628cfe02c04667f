//! Text from mail never reaches a terminal, a table or a prompt with control characters in it:
//! an ESC or BEL in a subject could move the cursor, set the window title or write the clipboard
//! (OSC 52). Everything shown is cleaned here once, when the message is parsed; the raw bytes
//! stay untouched in the store.

/// Multi-line text: keeps newline and tab, turns CRLF and lone CR into newline, drops every
/// other C0 and C1 control character and DEL.
pub fn clean_text(input: &str) -> String {
    // Byte by byte, copying runs of clean text whole: every fetched message's text passes
    // through here. The characters dropped are one byte (C0, DEL) or the two bytes C2 80–9F
    // (C1), so every cut falls on a character boundary.
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let (mut from, mut i) = (0, 0);
    while i < b.len() {
        // Most bytes are kept as they are: one table lookup each.
        if !SPECIAL[b[i] as usize] {
            i += 1;
            continue;
        }
        let drop = match b[i] {
            b'\n' | b'\t' => 0,
            b'\r' => {
                out.push_str(&input[from..i]);
                if b.get(i + 1) != Some(&b'\n') {
                    out.push('\n');
                }
                i += 1;
                from = i;
                continue;
            }
            0..=0x1f | 0x7f => 1,
            0xc2 if matches!(b.get(i + 1), Some(0x80..=0x9f)) => 2,
            _ => 0,
        };
        if drop == 0 {
            i += 1;
        } else {
            out.push_str(&input[from..i]);
            i += drop;
            from = i;
        }
    }
    out.push_str(&input[from..]);
    out
}

/// Bytes [`clean_text`] must look at: C0 controls but newline and tab, DEL, and C2 (the lead
/// byte of C1 controls, and of other characters).
const SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut b = 0;
    while b < 256 {
        t[b] = (b < 0x20 && b != b'\n' as usize && b != b'\t' as usize) || b == 0x7f || b == 0xc2;
        b += 1;
    }
    t
};

/// One-line text (subjects, names, file names): like [`clean_text`], and any line break or tab
/// becomes a single space.
pub fn clean_line(input: &str) -> String {
    // Byte by byte like clean_text (Message-IDs, addresses and subjects of every fetched
    // message pass through here): a run of kept bytes is copied whole.
    let b = input.as_bytes();
    let mut out = String::with_capacity(input.len());
    let (mut from, mut i) = (0, 0);
    let mut last_space = false;
    while i < b.len() {
        match b[i] {
            b' ' if !last_space => {
                last_space = true;
                i += 1;
            }
            b' ' | b'\n' | b'\r' | b'\t' => {
                out.push_str(&input[from..i]);
                if !last_space {
                    out.push(' ');
                    last_space = true;
                }
                i += 1;
                from = i;
            }
            0..=0x1f | 0x7f => {
                out.push_str(&input[from..i]);
                i += 1;
                from = i;
            }
            0xc2 if matches!(b.get(i + 1), Some(0x80..=0x9f)) => {
                out.push_str(&input[from..i]);
                i += 2;
                from = i;
            }
            _ => {
                last_space = false;
                i += 1;
            }
        }
    }
    out.push_str(&input[from..]);
    let trimmed = out.trim();
    if trimmed.len() == out.len() {
        out
    } else {
        trimmed.to_owned()
    }
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

    /// The character-by-character definition [`clean_text`] implements on bytes.
    fn clean_text_by_chars(input: &str) -> String {
        let mut out = String::new();
        let mut chars = input.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\n' | '\t' => out.push(c),
                '\r' if chars.peek() != Some(&'\n') => out.push('\n'),
                '\r' => {}
                c if c.is_control() => {}
                c => out.push(c),
            }
        }
        out
    }

    /// The character-by-character definition [`clean_line`] implements on bytes.
    fn clean_line_by_chars(input: &str) -> String {
        let mut out = String::new();
        let mut last_space = false;
        for c in input.chars() {
            let c = match c {
                '\n' | '\r' | '\t' => ' ',
                c if c.is_control() => continue,
                c => c,
            };
            if c == ' ' && last_space {
                continue;
            }
            last_space = c == ' ';
            out.push(c);
        }
        out.trim().to_owned()
    }

    #[test]
    fn clean_text_matches_its_definition_on_every_kind_of_character() {
        // C0, DEL, C1 (U+0085 is C2 85), U+00A0 (C2 A0, kept), other two-, three- and
        // four-byte characters, CR before and not before LF.
        let pool = [
            "a", "\r", "\n", "\t", "\0", "\u{1b}", "\u{7f}", "\u{80}", "\u{85}", "\u{9f}",
            "\u{a0}", "é", "\u{2028}", "€", "😀", " ",
        ];
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut s = String::new();
            for _ in 0..12 {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                s.push_str(pool[(seed >> 33) as usize % pool.len()]);
            }
            assert_eq!(clean_text(&s), clean_text_by_chars(&s), "{s:?}");
            assert_eq!(clean_line(&s), clean_line_by_chars(&s), "{s:?}");
        }
    }

    #[test]
    fn text_keeps_newlines_and_tabs_and_folds_cr() {
        assert_eq!(clean_text("a\r\nb\rc\td\0e"), "a\nb\nc\tde");
        assert_eq!(clean_line("  Re:\r\n  hello\tworld  "), "Re: hello world");
    }
}
