//! Composing outbound mail (MAIL-RULES C4, C5): a reply to the ticket's last customer message,
//! or the ticket-number acknowledgment. Every header is built from typed lettre values, so a
//! CR or LF in a subject or a display name cannot add a header (lettre encodes it as an
//! RFC 2047 word; we also fold it to a space first, so nothing odd is shown).

use std::sync::LazyLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lettre::Message;
use lettre::message::header::{ContentTransferEncoding, ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, SinglePart};
use regex::Regex;

use crate::mail::parse::LOOP_HEADER;
use crate::store::messages::Answered;
use crate::ticket::token::{self, TokenKey};
use crate::ticket::{TagMatcher, TicketNumber, subject};

/// Zammad caps the free text of a subject at 110 characters.
const SUBJECT_TEXT_MAX: usize = 110;
/// References longer than this keep the first 4 and the last 6 ids (as Request Tracker does).
const REFERENCES_MAX: usize = 10;

/// Who we are when we write.
#[derive(Debug, Clone)]
pub struct Sender {
    pub name: String,
    pub address: String,
    pub signature: Option<String>,
    /// Quote the customer's message under the reply.
    pub quote_original: bool,
    pub key: TokenKey,
    pub tags: TagMatcher,
}

impl Sender {
    pub fn domain(&self) -> &str {
        self.address.rsplit_once('@').map_or("", |(_, d)| d)
    }

    fn mailbox(&self) -> Result<Mailbox, ComposeError> {
        let addr = self.address.parse().map_err(|e| {
            ComposeError::Address(format!("[account] address {:?}: {e}", self.address))
        })?;
        Ok(Mailbox::new(Some(one_line(&self.name)), addr))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error("{0}")]
    Address(String),
    #[error("the ticket has no message from the customer to answer")]
    NothingToAnswer,
    #[error(
        "no address to reply to: {0}; the customer's From/Reply-To is missing, ours or a no-reply address"
    )]
    NoRecipient(String),
    #[error("building the message failed: {0}")]
    Build(String),
}

/// A rendered message, ready for the outbox.
#[derive(Debug, Clone)]
pub struct Composed {
    /// Without angle brackets.
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
    pub raw: Vec<u8>,
}

static FOREIGN_TAG: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\[[^\[\]]*#\s*\d+\]|\[SR ID:[^\[\]]+\]|\[ref:[^\[\]]+:ref\]|\(INC\d+\)")
        .expect("foreign tag regex")
});

/// CR, LF and other control characters folded to spaces: a value stays on one line.
fn one_line(s: &str) -> String {
    let s: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// C4.1: `Re: ` + the normalized subject + foreign tags kept + our tag once; only the free text
/// is truncated.
pub fn reply_subject(original: &str, number: &TicketNumber, tags: &TagMatcher) -> String {
    let original = one_line(original);
    let foreign: Vec<String> = FOREIGN_TAG
        .find_iter(&original)
        .map(|m| m.as_str().to_owned())
        .collect();
    let mut text = original.clone();
    for f in &foreign {
        text = text.replace(f.as_str(), " ");
    }
    let mut text = subject::display(&text, tags);
    if text.chars().count() > SUBJECT_TEXT_MAX {
        text = text.chars().take(SUBJECT_TEXT_MAX).collect::<String>();
        text = format!("{} [...]", text.trim_end());
    }
    let mut out = String::from("Re: ");
    out.push_str(if text.is_empty() {
        "(no subject)"
    } else {
        &text
    });
    for f in foreign {
        out.push(' ');
        out.push_str(&f);
    }
    out.push(' ');
    out.push_str(&number.tag());
    out
}

fn bracket(id: &str) -> String {
    format!("<{}>", id.trim_matches(|c| c == '<' || c == '>'))
}

/// Ids in a References/In-Reply-To column (space separated, brackets optional).
fn ids(s: &str) -> Vec<String> {
    s.split_whitespace()
        .map(|x| x.trim_matches(|c| c == '<' || c == '>').to_owned())
        .filter(|x| !x.is_empty())
        .collect()
}

/// C4.2: its References (or In-Reply-To) + its Message-ID + our pseudo-ref, trimmed to the
/// first 4 and last 6 when long.
pub fn references(answered: &Answered, pseudo_ref: &str) -> Vec<String> {
    let mut refs = ids(&answered.references);
    if refs.is_empty() {
        refs = ids(&answered.in_reply_to);
    }
    if !answered.synthetic {
        refs.push(answered.message_id.clone());
    }
    refs.retain(|r| r != pseudo_ref);
    refs.push(pseudo_ref.to_owned());
    let mut seen = std::collections::HashSet::new();
    refs.retain(|r| seen.insert(r.to_ascii_lowercase()));
    if refs.len() > REFERENCES_MAX {
        let tail = refs.split_off(refs.len() - 6);
        refs.truncate(4);
        refs.extend(tail);
    }
    refs
}

/// C5.4: Reply-To if it parses and is not ours or a no-reply address, else From.
pub fn reply_address(answered: &Answered, ours: &str) -> Result<String, ComposeError> {
    let usable = |a: &str| {
        let a = a.trim();
        a.parse::<lettre::Address>().is_ok()
            && !a.eq_ignore_ascii_case(ours)
            && !crate::mail::loops::is_no_reply_address(a)
    };
    if let Some(r) = answered.reply_to.as_deref().filter(|a| usable(a)) {
        return Ok(r.trim().to_owned());
    }
    match answered.from_addr.as_deref() {
        Some(f) if usable(f) => Ok(f.trim().to_owned()),
        Some(f) => Err(ComposeError::NoRecipient(f.to_owned())),
        None => Err(ComposeError::NoRecipient("no From address".into())),
    }
}

fn system_time(unix: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(unix.max(0) as u64)
}

/// Text of a reply: the draft, our signature unless the draft already ends with it, and the
/// quoted original when configured.
fn reply_body(sender: &Sender, body: &str, answered: &Answered) -> String {
    let mut text = body.trim_end().replace("\r\n", "\n");
    if let Some(sig) = sender
        .signature
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        && !text.contains(sig)
    {
        text.push_str("\n\n-- \n");
        text.push_str(sig);
    }
    if sender.quote_original && !answered.body.trim().is_empty() {
        let who = match (&answered.from_name, &answered.from_addr) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (None, Some(a)) => a.clone(),
            _ => "you".into(),
        };
        let when = answered
            .date
            .and_then(|d| chrono::DateTime::from_timestamp(d, 0))
            .map(|d| d.format("On %a, %d %b %Y %H:%M UTC, ").to_string())
            .unwrap_or_default();
        text.push_str(&format!("\n\n{when}{who} wrote:\n"));
        for line in answered.body.trim_end().lines() {
            text.push('>');
            if !line.is_empty() {
                text.push(' ');
            }
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push('\n');
    text
}

/// What both kinds of mail share.
struct Envelope<'a> {
    sender: &'a Sender,
    number: &'a TicketNumber,
    answered: &'a Answered,
    to: String,
    subject: String,
    message_id: String,
    now: i64,
    automatic: bool,
    body: String,
}

fn render(e: Envelope<'_>) -> Result<Composed, ComposeError> {
    let pseudo = token::pseudo_ref(e.number, e.sender.domain());
    let refs = references(e.answered, &pseudo);
    let to: lettre::Address =
        e.to.parse()
            .map_err(|err| ComposeError::NoRecipient(format!("{:?}: {err}", e.to)))?;
    let to_name = if e.answered.from_addr.as_deref() == Some(e.to.as_str()) {
        e.answered.from_name.as_deref().map(one_line)
    } else {
        None
    };
    let mut b = Message::builder()
        .from(e.sender.mailbox()?)
        .to(Mailbox::new(to_name, to))
        .subject(e.subject.clone())
        .message_id(Some(bracket(&e.message_id)))
        .date(system_time(e.now));
    if !e.answered.synthetic {
        b = b.in_reply_to(bracket(&e.answered.message_id));
    }
    if !refs.is_empty() {
        b = b.references(
            refs.iter()
                .map(|r| bracket(r))
                .collect::<Vec<_>>()
                .join(" "),
        );
    }
    // Our instance's loop header (RT-style) on every message: our own copy coming back is
    // recognised (MAIL-RULES C2, C4.3).
    b = b.raw_header(HeaderValue::new(
        HeaderName::new_from_ascii_str(LOOP_HEADER),
        e.sender.address.to_ascii_lowercase(),
    ));
    if e.automatic {
        b = b
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-replied".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Precedence"),
                "bulk".into(),
            ));
    }
    let part = SinglePart::builder()
        .header(ContentType::TEXT_PLAIN)
        .header(ContentTransferEncoding::QuotedPrintable)
        .body(e.body);
    let message = b
        .singlepart(part)
        .map_err(|err| ComposeError::Build(err.to_string()))?;
    Ok(Composed {
        message_id: e.message_id,
        recipient: e.to,
        subject: e.subject,
        raw: message.formatted(),
    })
}

/// A human-approved reply to `answered`. `seq` numbers the messages we send on the ticket.
pub fn reply(
    sender: &Sender,
    number: &TicketNumber,
    answered: &Answered,
    body: &str,
    seq: u32,
    now: i64,
) -> Result<Composed, ComposeError> {
    let to = reply_address(answered, &sender.address)?;
    render(Envelope {
        sender,
        number,
        answered,
        subject: reply_subject(&answered.subject, number, &sender.tags),
        message_id: token::mint(&sender.key, number, seq, sender.domain()),
        to,
        now,
        automatic: false,
        body: reply_body(sender, body, answered),
    })
}

/// The ticket-number acknowledgment (C5.2), already checked against the loop rules.
pub fn acknowledgment(
    sender: &Sender,
    number: &TicketNumber,
    answered: &Answered,
    to: &str,
    text: &str,
    seq: u32,
    now: i64,
) -> Result<Composed, ComposeError> {
    render(Envelope {
        sender,
        number,
        answered,
        subject: reply_subject(&answered.subject, number, &sender.tags),
        message_id: token::mint(&sender.key, number, seq, sender.domain()),
        to: to.to_owned(),
        now,
        automatic: true,
        body: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MessageClass;

    fn answered() -> Answered {
        Answered {
            id: 1,
            message_id: "abc@customer.example".into(),
            synthetic: false,
            class: MessageClass::Human,
            from_addr: Some("ann@customer.example".into()),
            from_name: Some("Ann".into()),
            reply_to: None,
            to: "support@lumencloud.example".into(),
            cc: String::new(),
            subject: "Re: Export broken [ACME #123]".into(),
            date: Some(1_700_000_000),
            in_reply_to: String::new(),
            references: String::new(),
            body: "It fails.\nPlease help.".into(),
        }
    }

    fn sender() -> Sender {
        Sender {
            name: "Lumen Support".into(),
            address: "support@lumencloud.example".into(),
            signature: Some("Lumen Support".into()),
            quote_original: true,
            key: TokenKey::from_hex(&"11".repeat(32)).unwrap(),
            tags: TagMatcher::new("TKT"),
        }
    }

    #[test]
    fn subject_keeps_foreign_tags_and_adds_ours_once() {
        let n = TicketNumber::new("TKT", 2026, 42);
        let t = TagMatcher::new("TKT");
        assert_eq!(
            reply_subject("Re: Export broken [ACME #123]", &n, &t),
            "Re: Export broken [ACME #123] [TKT-2026-00042]"
        );
        assert_eq!(
            reply_subject("RE: AW: Login [TKT-2026-00042]", &n, &t),
            "Re: Login [TKT-2026-00042]"
        );
        let long = "x".repeat(300);
        let s = reply_subject(&format!("{long} (INC0012345)"), &n, &t);
        assert!(s.ends_with("[...] (INC0012345) [TKT-2026-00042]"), "{s}");
        assert_eq!(
            reply_subject("Hi\r\nBcc: evil@x", &n, &t),
            "Re: Hi Bcc: evil@x [TKT-2026-00042]"
        );
    }

    #[test]
    fn references_keep_first_four_and_last_six() {
        let mut a = answered();
        a.references = (0..20)
            .map(|i| format!("<r{i}@x>"))
            .collect::<Vec<_>>()
            .join(" ");
        let r = references(&a, "TKT-2026-00042@lumencloud.example");
        assert_eq!(r.len(), 10);
        assert_eq!(r[0], "r0@x");
        assert_eq!(r[3], "r3@x");
        assert_eq!(r[9], "TKT-2026-00042@lumencloud.example");
        assert_eq!(r[8], "abc@customer.example");
    }

    #[test]
    fn reply_address_prefers_a_usable_reply_to() {
        let mut a = answered();
        a.reply_to = Some("noreply@customer.example".into());
        assert_eq!(
            reply_address(&a, "support@lumencloud.example").unwrap(),
            "ann@customer.example"
        );
        a.reply_to = Some("team@customer.example".into());
        assert_eq!(
            reply_address(&a, "support@lumencloud.example").unwrap(),
            "team@customer.example"
        );
        a.reply_to = None;
        a.from_addr = Some("support@lumencloud.example".into());
        assert!(reply_address(&a, "support@lumencloud.example").is_err());
    }

    #[test]
    fn a_reply_has_threading_headers_and_no_injected_header() {
        let mut s = sender();
        s.name = "Support\r\nBcc: evil@attacker.example".into();
        let mut a = answered();
        a.subject = "Help\r\nBcc: evil@attacker.example".into();
        let n = TicketNumber::new("TKT", 2026, 42);
        let c = reply(&s, &n, &a, "Hello Ann,\n\nfixed. Grüße", 1, 1_700_000_100).unwrap();
        let raw = String::from_utf8(c.raw.clone()).unwrap();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap();
        assert!(
            !head
                .lines()
                .any(|l| l.to_ascii_lowercase().starts_with("bcc:")),
            "{head}"
        );
        assert!(
            head.contains("In-Reply-To: <abc@customer.example>"),
            "{head}"
        );
        assert!(
            head.contains("X-Helpdesk-Loop: support@lumencloud.example"),
            "{head}"
        );
        assert!(!head.contains("Auto-Submitted"), "{head}");
        assert!(
            head.contains("Content-Transfer-Encoding: quoted-printable"),
            "{head}"
        );
        assert!(body.contains("Gr=C3=BC=C3=9Fe"), "{body}");
        assert!(body.contains("> It fails."), "{body}");
        assert!(
            c.message_id.starts_with("tkt-2026-00042.1."),
            "{}",
            c.message_id
        );
        assert!(raw.is_ascii());
    }
}
