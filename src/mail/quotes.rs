//! Splits a body into new text, quoted history and signature (MAIL-RULES C7). Nothing is
//! deleted: the three parts together hold every line of the input.

use std::sync::LazyLock;

use regex::Regex;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Split {
    pub new_text: String,
    pub quoted: String,
    pub signature: String,
}

/// The marker our own outbound mail carries above the quoted text.
pub const REPLY_ABOVE_MARKER: &str = "## Reply above this line ##";

// "On … wrote:" in EN/FR/DE/ES/PT/NL, matched on one line or two joined (clients wrap it).
static ATTRIBUTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(on\s.+\swrote|le\s.+\sa\s+écrit|am\s.+\sschrieb.*|el\s.+\sescribió|em\s.+\sescreveu|op\s.+\sschreef.*|.+\s(wrote|schrieb|escribió|a écrit)\s*)\s*:\s*$",
    )
    .expect("attribution regex")
});

static OPENER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*(on|le|am|el|em|op)\s").expect("attribution opener regex")
});

static ORIGINAL_MESSAGE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*-{2,}\s*(original message|ursprüngliche nachricht|message d'origine|mensaje original|mensagem original|oorspronkelijk bericht|forwarded message|message transféré|weitergeleitete nachricht)\s*-{2,}",
    )
    .expect("original-message regex")
});

static OUTLOOK_FROM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^\s*\*?(from|von|de|van|da)\s*:\*?\s+\S").expect("outlook from regex")
});

static OUTLOOK_NEXT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*\*?(sent|date|gesendet|datum|envoyé|enviado|verzonden|inviato|to|an|à|para|aan|subject|betreff|objet|asunto)\s*:",
    )
    .expect("outlook header regex")
});

static MOBILE_FOOTER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(sent from my \S.*|sent from (outlook|mail) for .*|get outlook for \S+|envoyé de mon \S.*|envoyé depuis mon \S.*|von meinem \S.* gesendet|enviado desde mi \S.*|enviado do meu \S.*|verzonden vanaf mijn \S.*)\s*$",
    )
    .expect("mobile footer regex")
});

/// Splits plain text (already cleaned of control characters).
pub fn split(text: &str) -> Split {
    let lines: Vec<&str> = text.lines().collect();
    let body_end = find_cut(&lines).unwrap_or(lines.len());
    let (new_lines, signature) = split_signature(&lines[..body_end]);
    Split {
        new_text: trim_blank_lines(new_lines),
        quoted: trim_blank_lines(&lines[body_end..]),
        signature: trim_blank_lines(signature),
    }
}

fn is_quote(line: &str) -> bool {
    line.trim_start().starts_with('>')
}

fn has_text(lines: &[&str]) -> bool {
    lines.iter().any(|l| !l.trim().is_empty())
}

/// Whether `line` can be a mobile footer at all: the first letter of one (of "sent from…",
/// "get outlook…", "envoyé…", "enviado…", "von meinem…", "verzonden…", in any case; 'ſ'
/// folds to 's'). Saves running [`MOBILE_FOOTER`] on every line.
fn may_be_footer(line: &str) -> bool {
    matches!(
        line.trim_start().chars().next(),
        Some('s' | 'S' | 'ſ' | 'g' | 'G' | 'e' | 'E' | 'v' | 'V')
    )
}

fn is_footer(line: &str) -> bool {
    may_be_footer(line) && MOBILE_FOOTER.is_match(line)
}

/// The first line where history starts, if the text above it is not empty.
fn find_cut(lines: &[&str]) -> Option<usize> {
    // own[i]: whether lines[..i] hold text of the writer's own; once, not again for every line.
    let mut own = Vec::with_capacity(lines.len() + 1);
    own.push(false);
    for l in lines {
        let before = own[own.len() - 1];
        own.push(before || (!l.trim().is_empty() && !is_quote(l)));
    }
    for i in 0..lines.len() {
        let line = lines[i];
        let trimmed = line.trim();
        if trimmed.is_empty() || !own[i] {
            continue;
        }
        if trimmed.contains(REPLY_ABOVE_MARKER)
            || (trimmed.starts_with("--") && ORIGINAL_MESSAGE.is_match(line))
        {
            return Some(i);
        }
        if trimmed.ends_with(':') && !is_quote(line) {
            // Clients wrap long attributions: "On …, Anna Berg <" / "anna@x> wrote:".
            let prev_joins = i > 0
                && !lines[i - 1].trim().is_empty()
                && !is_quote(lines[i - 1])
                && OPENER.is_match(lines[i - 1])
                && ATTRIBUTION.is_match(&format!("{} {}", lines[i - 1].trim(), trimmed))
                && own[i - 1];
            let candidate = prev_joins || ATTRIBUTION.is_match(line);
            if candidate {
                let start = if prev_joins { i - 1 } else { i };
                let rest = &lines[i + 1..];
                let any_quote = rest.iter().any(|l| is_quote(l));
                // Without `>` lines below, only a real attribution (a date or an address in
                // it) cuts: "My boss wrote:" followed by the customer's own text must stay.
                let looks_real = lines[start..=i]
                    .iter()
                    .any(|l| l.contains('@') || l.chars().any(|c| c.is_ascii_digit()));
                if (any_quote && quote_block_is_whole(rest)) || (!any_quote && looks_real) {
                    return Some(start);
                }
                if !any_quote {
                    continue;
                }
                // Text interleaved with quotes: an inline answer, kept whole (C7.3).
                return None;
            }
        }
        if trimmed.contains(':')
            && OUTLOOK_FROM.is_match(line)
            && lines[i + 1..]
                .iter()
                .take(4)
                .filter(|l| OUTLOOK_NEXT.is_match(l))
                .count()
                >= 2
        {
            // Outlook puts a rule of underscores above its header block.
            let start = if i > 0 && lines[i - 1].trim().chars().all(|c| c == '_') {
                i - 1
            } else {
                i
            };
            if own[start] {
                return Some(start);
            }
        }
        if is_quote(line) && quote_block_is_whole(&lines[i..]) {
            return Some(i);
        }
        if is_quote(line) {
            // Quotes followed by more of the writer's own text: inline answers.
            return None;
        }
    }
    None
}

/// True when what follows is only quoted lines (and blank lines, and a trailing signature), or
/// holds no quoted line at all (history pasted without `>`).
fn quote_block_is_whole(rest: &[&str]) -> bool {
    let quoted = rest.iter().filter(|l| is_quote(l)).count();
    if quoted == 0 {
        return true;
    }
    let mut seen_unquoted_after = false;
    let mut in_sig = false;
    for l in rest {
        if l.trim_end() == "--" || is_footer(l) {
            in_sig = true;
        }
        if !in_sig && !l.trim().is_empty() && !is_quote(l) {
            seen_unquoted_after = true;
        }
    }
    !seen_unquoted_after
}

/// Splits the signature off at the last RFC 3676 `-- ` line or a mobile footer.
fn split_signature<'l, 'a>(lines: &'l [&'a str]) -> (&'l [&'a str], &'l [&'a str]) {
    let cut = lines
        .iter()
        .rposition(|l| l.trim_end() == "--")
        .or_else(|| lines.iter().rposition(|l| is_footer(l)));
    match cut {
        Some(i) if has_text(&lines[..i]) => lines.split_at(i),
        _ => (lines, &[]),
    }
}

/// The lines joined by newlines, each without trailing white space, without the blank lines
/// at the start and the end.
fn trim_blank_lines(lines: &[&str]) -> String {
    let mut out = String::new();
    let (mut blanks, mut any) = (0, false);
    for l in lines {
        let t = l.trim_end();
        if t.is_empty() {
            blanks += usize::from(any);
            continue;
        }
        if any {
            for _ in 0..=blanks {
                out.push('\n');
            }
        }
        (blanks, any) = (0, true);
        out.push_str(t);
    }
    out
}

/// Where quoted history starts in an HTML body (Gmail, Outlook, Yahoo, Thunderbird, Apple).
pub fn html_quote_start(html: &str) -> Option<usize> {
    const MARKERS: &[&str] = &[
        "class=\"gmail_quote",
        "class=\"gmail_attr",
        "id=\"divRplyFwdMsg\"",
        "id=\"appendonsend\"",
        "class=\"yahoo_quoted",
        "class=\"moz-cite-prefix",
        "<blockquote",
    ];
    let lower = html.to_ascii_lowercase();
    MARKERS
        .iter()
        .filter_map(|m| lower.find(&m.to_ascii_lowercase()))
        .min()
        .map(|pos| lower[..pos].rfind('<').unwrap_or(pos))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// [`split`] as it was written first (joining lines, then splitting them again), against
    /// which the faster one is checked.
    fn split_by_joining(text: &str) -> Split {
        fn trim(s: &str) -> String {
            let lines: Vec<&str> = s.lines().collect();
            let start = lines.iter().position(|l| !l.trim().is_empty());
            let end = lines.iter().rposition(|l| !l.trim().is_empty());
            match (start, end) {
                (Some(a), Some(b)) => lines[a..=b]
                    .iter()
                    .map(|l| l.trim_end())
                    .collect::<Vec<_>>()
                    .join("\n"),
                _ => String::new(),
            }
        }
        let lines: Vec<&str> = text.lines().collect();
        let (body_end, quoted) = match find_cut(&lines) {
            Some(cut) => (cut, lines[cut..].join("\n")),
            None => (lines.len(), String::new()),
        };
        let (new_lines, signature) = split_signature(&lines[..body_end]);
        Split {
            new_text: trim(&new_lines.join("\n")),
            quoted: trim(&quoted),
            signature: trim(&signature.join("\n")),
        }
    }

    #[test]
    fn split_matches_its_first_form_on_mixed_lines() {
        let pool = [
            "Hello,",
            "",
            "   ",
            "Thanks\t ",
            "-- ",
            "--",
            "Sent from my iPhone",
            "> quoted",
            "  > quoted too",
            "On Tue, 10 Nov 2026 at 09:12, Anna <a@x> wrote:",
            "-----Original Message-----",
            "From: Anna <a@x>",
            "Sent: Tuesday",
            "Subject: hi",
            "My boss wrote:",
            "text \r",
        ];
        let mut seed = 11u64;
        for _ in 0..3000 {
            let mut lines = Vec::new();
            for _ in 0..(seed % 9 + 1) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                lines.push(pool[(seed >> 33) as usize % pool.len()]);
            }
            let text = lines.join("\n");
            assert_eq!(split(&text), split_by_joining(&text), "{text:?}");
        }
    }

    #[test]
    fn gmail_style_reply_splits_quote_and_signature() {
        let s = split(
            "Still broken.\n\nThanks\n-- \nAnna Berg\nACME\n\nOn Tue, 10 Nov 2026 at 09:12, Anna <a@x> wrote:\n> first\n> second\n",
        );
        assert_eq!(s.new_text, "Still broken.\n\nThanks");
        assert_eq!(s.signature, "--\nAnna Berg\nACME");
        assert!(s.quoted.starts_with("On Tue"));
        assert!(s.quoted.ends_with("> second"));
    }

    #[test]
    fn wrapped_attribution_is_found() {
        let s = split(
            "Yes.\n\nOn Tue, Nov 10, 2026 at 9:12 AM Anna Berg <\nanna@x.example> wrote:\n> hi",
        );
        assert_eq!(s.new_text, "Yes.");
        assert!(s.quoted.starts_with("On Tue"));
    }

    #[test]
    fn other_languages_and_outlook() {
        for (text, new) in [
            (
                "Merci\n\nLe mar. 10 nov. 2026 à 09:12, Anna <a@x> a écrit :\n> x",
                "Merci",
            ),
            (
                "Danke\n\nAm 10.11.2026 um 09:12 schrieb Anna <a@x>:\n> x",
                "Danke",
            ),
            (
                "Gracias\n\nEl mar, 10 nov 2026 a las 9:12, Anna escribió:\n> x",
                "Gracias",
            ),
            (
                "Obrigado\n\nEm ter., 10 de nov. de 2026, Anna escreveu:\n> x",
                "Obrigado",
            ),
            (
                "Dank\n\nOp di 10 nov. 2026 om 09:12 schreef Anna <a@x>:\n> x",
                "Dank",
            ),
            ("Fine\n\n-----Original Message-----\nFrom: a\nhello", "Fine"),
            (
                "See below\n\n________________________________\nFrom: Support <s@x>\nSent: Tuesday\nTo: me\nSubject: Re: x\n\nold text",
                "See below",
            ),
        ] {
            let s = split(text);
            assert_eq!(s.new_text, new, "{text}");
            assert!(!s.quoted.is_empty(), "{text}");
        }
    }

    #[test]
    fn inline_answers_are_kept_whole() {
        let text = "On Tue, Anna wrote:\n> Which version?\n4.2.1\n> Which OS?\nDebian 12";
        let s = split(text);
        assert_eq!(s.new_text, text);
        assert!(s.quoted.is_empty());
    }

    #[test]
    fn a_reply_that_is_only_a_quote_keeps_its_text() {
        let s = split("> only quoted\n> text");
        assert_eq!(s.new_text, "> only quoted\n> text");
    }

    #[test]
    fn a_colleague_wrote_line_without_quotes_is_not_a_cut() {
        let text = "Hello,\nMy boss wrote:\nwe need monthly invoices";
        assert_eq!(split(text).new_text, text);
    }

    #[test]
    fn mobile_footer_is_a_signature() {
        let s = split("ok thanks\n\nSent from my iPhone\n\n> older");
        assert_eq!(s.new_text, "ok thanks");
        assert_eq!(s.signature, "Sent from my iPhone");
        assert_eq!(s.quoted, "> older");
    }

    #[test]
    fn html_markers() {
        let html = "<div>new</div><div class=\"gmail_quote\"><div>old</div></div>";
        assert_eq!(html_quote_start(html), Some(14));
        assert_eq!(html_quote_start("<p>plain</p>"), None);
    }
}
