//! `PREFIX-YYYY-NNNNN` numbers and the `[PREFIX-YYYY-NNNNN]` subject tag.

use std::fmt;
use std::str::FromStr;

use regex::Regex;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct TicketNumber {
    pub prefix: String,
    pub year: i32,
    pub seq: i64,
}

impl TicketNumber {
    pub fn new(prefix: &str, year: i32, seq: i64) -> Self {
        TicketNumber {
            prefix: prefix.to_ascii_uppercase(),
            year,
            seq,
        }
    }

    /// The tag carried in subjects: `[TKT-2026-00042]`.
    pub fn tag(&self) -> String {
        format!("[{self}]")
    }
}

impl fmt::Display for TicketNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}-{:05}", self.prefix, self.year, self.seq)
    }
}

impl FromStr for TicketNumber {
    type Err = String;

    /// Accepts `TKT-2026-00042`, any case, with or without the zero padding.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "{s:?} is not a ticket number (expected PREFIX-YYYY-NNNNN, e.g. TKT-2026-00042)"
            )
        };
        let s = s.trim().trim_start_matches('[').trim_end_matches(']');
        let mut parts = s.rsplitn(3, '-');
        let seq = parts.next().ok_or_else(bad)?;
        let year = parts.next().ok_or_else(bad)?;
        let prefix = parts.next().ok_or_else(bad)?;
        if prefix.is_empty()
            || !prefix.chars().all(|c| c.is_ascii_alphanumeric())
            || year.len() != 4
            || seq.is_empty()
            || seq.len() > 12
        {
            return Err(bad());
        }
        Ok(TicketNumber::new(
            prefix,
            year.parse().map_err(|_| bad())?,
            seq.parse().map_err(|_| bad())?,
        ))
    }
}

/// Finds our tags in a subject: any position, any case, tolerant of `#` and spaces
/// (`[TKT-2026-00042]`, `[ #tkt 2026-42 ]`). Foreign tags (`[SR ID:…]`) are not ours.
#[derive(Debug, Clone)]
pub struct TagMatcher {
    prefix: String,
    re: Regex,
}

impl TagMatcher {
    pub fn new(prefix: &str) -> Self {
        let re = Regex::new(&format!(
            r"(?i)\[\s*#?\s*({})\s*[-#\s]?\s*(\d{{4}})\s*-\s*(\d{{1,12}})\s*\]",
            regex::escape(prefix)
        ))
        .expect("tag regex from an escaped prefix");
        TagMatcher {
            prefix: prefix.to_ascii_uppercase(),
            re,
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// Every tag in the subject, in order of appearance.
    pub fn find_all(&self, subject: &str) -> Vec<TicketNumber> {
        self.re
            .captures_iter(subject)
            .filter_map(|c| {
                Some(TicketNumber::new(
                    &self.prefix,
                    c[2].parse().ok()?,
                    c[3].parse().ok()?,
                ))
            })
            .collect()
    }

    /// The subject with our tags removed.
    pub fn strip(&self, subject: &str) -> String {
        self.re.replace_all(subject, " ").into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses() {
        let n = TicketNumber::new("tkt", 2026, 42);
        assert_eq!(n.to_string(), "TKT-2026-00042");
        assert_eq!("tkt-2026-00042".parse::<TicketNumber>().unwrap(), n);
        assert_eq!("[TKT-2026-42]".parse::<TicketNumber>().unwrap(), n);
        assert!("TKT-26-1".parse::<TicketNumber>().is_err());
        assert!("hello".parse::<TicketNumber>().is_err());
        assert_eq!(
            TicketNumber::new("TKT", 2026, 123456).to_string(),
            "TKT-2026-123456"
        );
    }

    #[test]
    fn finds_tags_anywhere_tolerantly() {
        let m = TagMatcher::new("TKT");
        let n = TicketNumber::new("TKT", 2026, 42);
        for s in [
            "Re: Sync broken [TKT-2026-00042]",
            "[tkt-2026-00042] Re: x",
            "AW: x [ #TKT-2026-00042 ]",
            "x [TKT 2026-42]",
            "x [#TKT-2026 - 00042]",
        ] {
            assert_eq!(m.find_all(s), vec![n.clone()], "{s}");
        }
        assert!(
            m.find_all("Re: [SR ID:123] (INC0042) TKT-2026-00042")
                .is_empty()
        );
        assert!(m.find_all("[ABC-2026-00042]").is_empty());
    }
}
