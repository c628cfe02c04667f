//! Subject normalization for comparison and display (MAIL-RULES C3.7): repeated reply and
//! forward prefixes in many languages, list prefixes at the start and our tag are removed.

use std::sync::LazyLock;

use regex::Regex;

use super::TagMatcher;

static PREFIX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\s*(?:(?:re|aw|sv|vs|antw|antwort|fwd?|fw|wg|tr|rv|réf|ref|rif|odp|vl|r)\s*(?:\[\d+\]|\(\d+\))?\s*:|\[[^\]]{1,40}\])\s*",
    )
    .expect("subject prefix regex")
});

/// The subject as shown on the ticket: prefixes and our tag gone, case kept.
pub fn display(subject: &str, tags: &TagMatcher) -> String {
    let stripped = tags.strip(subject);
    let mut s = stripped.trim();
    loop {
        match PREFIX.find(s) {
            Some(m) if m.end() > 0 && m.end() < s.len() => s = s[m.end()..].trim_start(),
            Some(m) if m.end() == s.len() && m.end() > 0 => {
                s = "";
                break;
            }
            _ => break,
        }
    }
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The key two subjects are compared by: [`display`], lowercased.
pub fn normalize(subject: &str, tags: &TagMatcher) -> String {
    display(subject, tags).to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_prefixes_lists_and_our_tag() {
        let t = TagMatcher::new("TKT");
        for s in [
            "Re: RE[2]: Fwd: Sync broken",
            "AW: WG: Sync broken [TKT-2026-00001]",
            "SV: VS: Antw: Sync  broken",
            "Réf : TR: Sync broken",
            "[users-list] Re: Sync broken",
            "Re:Sync broken",
        ] {
            assert_eq!(display(s, &t), "Sync broken", "{s}");
        }
        assert_eq!(normalize("RE: SYNC Broken", &t), "sync broken");
        assert_eq!(display("Re: ", &t), "");
        // A word that merely starts like a prefix stays.
        assert_eq!(display("Reactivation needed", &t), "Reactivation needed");
    }
}
