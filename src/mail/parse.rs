//! MIME to [`Parsed`]: decoded headers, the text body split into new text, history and
//! signature, attachments, and what loop detection needs. Built on mail-parser; never panics on
//! any input (a failure becomes `Err` with the reason, and the caller keeps the raw bytes).

use mail_parser::{
    Address, HeaderValue, Message, MessageParser, MessagePart, MimeHeaders, PartType,
};
use sha2::{Digest, Sha256};

use super::quotes::{self, Split};
use super::sanitize::{clean_line, clean_text};

/// One parser for every message, parsing only the headers read here (Received above all was
/// 5% of an import). The others are skipped, not copied out as text: their names and places
/// are still recorded, so [`top_headers`] reads any of them from the bytes.
static PARSER: std::sync::LazyLock<MessageParser> = std::sync::LazyLock::new(|| {
    MessageParser::new()
        .with_mime_headers()
        .with_date_headers()
        .with_address_headers()
        .with_message_ids()
        .header_text(mail_parser::HeaderName::Subject)
        .default_header_ignore()
});

/// The header our outbound mail carries (RT-style loop prevention); its value is our address.
pub const LOOP_HEADER: &str = "X-Helpdesk-Loop";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mailbox {
    /// Lowercased address.
    pub addr: String,
    pub name: Option<String>,
}

impl Mailbox {
    pub fn local_part(&self) -> &str {
        self.addr.rsplit_once('@').map_or(&self.addr, |(l, _)| l)
    }
}

impl std::fmt::Display for Mailbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.name {
            Some(n) if !n.is_empty() => write!(f, "{n} <{}>", self.addr),
            _ => f.write_str(&self.addr),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ParsedAttachment {
    pub filename: Option<String>,
    pub content_type: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub content: Vec<u8>,
    pub sha256: String,
}

/// The headers that say a message was sent by a machine (MAIL-RULES C2).
#[derive(Debug, Clone, Default)]
pub struct AutoHeaders {
    pub auto_submitted: Option<String>,
    pub precedence: Option<String>,
    pub x_autoreply: bool,
    pub x_autorespond: bool,
    pub x_auto_response_suppress: bool,
    pub x_ms_exchange_inbox_rules_loop: bool,
    pub x_loop: Option<String>,
    pub list_id: Option<String>,
    pub list_unsubscribe: bool,
    pub x_fc_machinegenerated: bool,
    pub return_path_empty: bool,
    pub our_loop_header: Option<String>,
    pub delivery_status_report: bool,
}

/// What a delivery status notification (RFC 3464) says.
#[derive(Debug, Clone, Default)]
pub struct DeliveryReport {
    /// Status codes such as `5.1.1`.
    pub statuses: Vec<String>,
    pub final_recipients: Vec<String>,
    pub diagnostic: Option<String>,
    /// The Message-ID of the message that bounced, from the enclosed copy or headers.
    pub original_message_id: Option<String>,
}

impl DeliveryReport {
    pub fn is_permanent(&self) -> bool {
        self.statuses.iter().any(|s| s.starts_with('5'))
    }
}

#[derive(Debug, Clone)]
pub struct Parsed {
    pub message_id: Option<String>,
    pub from: Option<Mailbox>,
    pub reply_to: Option<Mailbox>,
    pub to: Vec<Mailbox>,
    pub cc: Vec<Mailbox>,
    pub subject: String,
    pub date: Option<i64>,
    pub in_reply_to: Vec<String>,
    pub references: Vec<String>,
    pub body: Split,
    /// `text/plain`, `text/html` or `none`.
    pub body_source: &'static str,
    pub attachments: Vec<ParsedAttachment>,
    pub auto: AutoHeaders,
    pub report: Option<DeliveryReport>,
}

/// The stable identity of a message without a Message-ID: a hash of its bytes with line ends
/// normalized, so the same mail read from a file (LF) or over IMAP (CRLF) gets the same id.
pub fn synthetic_id(raw: &[u8]) -> String {
    let mut h = Sha256::new();
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'\r' && raw.get(i + 1) == Some(&b'\n') {
            i += 1;
            continue;
        }
        h.update(&raw[i..i + 1]);
        i += 1;
    }
    format!(
        "sha256-{}@synthetic.helpdesk.invalid",
        &hex::encode(h.finalize())[..32]
    )
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Parses raw RFC 5322 bytes. `Err` carries why the message could not be read as mail.
pub fn parse(raw: &[u8]) -> Result<Parsed, String> {
    match std::panic::catch_unwind(|| parse_inner(raw)) {
        Ok(r) => r,
        Err(_) => Err("the MIME parser failed on this message".into()),
    }
}

fn parse_inner(raw: &[u8]) -> Result<Parsed, String> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err("the message is empty".into());
    }
    let msg = PARSER.parse(raw).ok_or("no RFC 5322 header found")?;
    let root_headers = msg.parts.first().map_or(0, |p| p.headers.len());
    if root_headers == 0 {
        return Err("no RFC 5322 header found".into());
    }
    if msg.from().is_none()
        && msg.subject().is_none()
        && msg.message_id().is_none()
        && msg.date().is_none()
    {
        return Err("none of From, Subject, Date or Message-ID is present".into());
    }

    let message_id = msg.message_id().map(clean_id).filter(|s| !s.is_empty());
    let subject = clean_line(&fix_c1(msg.subject().unwrap_or("")));
    let date = msg
        .date()
        .filter(|d| d.is_valid())
        .map(|d| d.to_timestamp());

    let (body, body_source) = body(&msg);
    let auto = auto_headers(&msg);
    let report = delivery_report(&msg, auto.delivery_status_report);

    Ok(Parsed {
        message_id,
        from: msg.from().and_then(first_mailbox),
        reply_to: msg.reply_to().and_then(first_mailbox),
        to: msg.to().map(mailboxes).unwrap_or_default(),
        cc: msg.cc().map(mailboxes).unwrap_or_default(),
        subject,
        date,
        in_reply_to: ids(msg.in_reply_to()),
        references: ids(msg.references()),
        body,
        body_source,
        attachments: attachments(&msg),
        auto,
        report,
    })
}

fn clean_id(id: &str) -> String {
    clean_line(id.trim().trim_start_matches('<').trim_end_matches('>')).replace(' ', "")
}

fn ids(v: &HeaderValue<'_>) -> Vec<String> {
    let list: Vec<String> = match v {
        HeaderValue::Text(t) => vec![clean_id(t)],
        HeaderValue::TextList(l) => l.iter().map(|t| clean_id(t)).collect(),
        _ => Vec::new(),
    };
    list.into_iter().filter(|s| !s.is_empty()).collect()
}

fn to_mailbox(a: &mail_parser::Addr<'_>) -> Option<Mailbox> {
    let addr = clean_line(a.address()?).to_lowercase();
    if addr.is_empty() {
        return None;
    }
    let name = a
        .name()
        .map(|n| clean_line(&fix_c1(n)))
        .filter(|n| !n.is_empty() && !n.eq_ignore_ascii_case(&addr));
    Some(Mailbox { addr, name })
}

fn first_mailbox(a: &Address<'_>) -> Option<Mailbox> {
    a.iter().find_map(to_mailbox)
}

fn mailboxes(a: &Address<'_>) -> Vec<Mailbox> {
    a.iter().filter_map(to_mailbox).collect()
}

/// Text decoded as ISO-8859-1 turns bytes 0x80–0x9F into C1 controls; senders who label
/// Windows-1252 text as ISO-8859-1 meant the Windows-1252 characters (MAIL-RULES C6.1).
fn fix_c1(s: &str) -> std::borrow::Cow<'_, str> {
    if !s.chars().any(|c| ('\u{80}'..='\u{9f}').contains(&c)) {
        return s.into();
    }
    s.chars()
        .map(|c| {
            if ('\u{80}'..='\u{9f}').contains(&c) {
                let byte = [c as u32 as u8];
                let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&byte);
                decoded.chars().next().unwrap_or(c)
            } else {
                c
            }
        })
        .collect::<String>()
        .into()
}

fn body(msg: &Message<'_>) -> (Split, &'static str) {
    let parts: Vec<&MessagePart<'_>> = msg
        .text_body
        .iter()
        .filter_map(|&i| msg.parts.get(i as usize))
        .collect();
    let mut fallback = false;
    let mut texts: Vec<(bool, String)> = Vec::new(); // (is_html, text)
    for part in &parts {
        match &part.body {
            PartType::Text(t) => match windows_1252_fallback(msg, part, t) {
                Some(fixed) => {
                    fallback = true;
                    texts.push((false, fixed));
                }
                None => texts.push((false, t.to_string())),
            },
            PartType::Html(h) => texts.push((true, h.to_string())),
            _ => {}
        }
    }
    let (split, source) = match texts.as_slice() {
        [] => (Split::default(), "none"),
        [(true, html)] => (split_html(html), "text/html"),
        many => {
            let mut text = String::new();
            let mut source = "text/plain";
            for (is_html, t) in many {
                if !text.is_empty() {
                    text.push_str("\n\n");
                }
                if *is_html {
                    source = "text/html";
                    text.push_str(&mail_parser::decoders::html::html_to_text(t));
                } else {
                    text.push_str(t);
                }
            }
            (quotes::split(&clean_text(&fix_c1(&text))), source)
        }
    };
    match (fallback, source) {
        (true, "text/html") => (split, "text/html; windows-1252 fallback"),
        (true, _) => (split, "text/plain; windows-1252 fallback"),
        _ => (split, source),
    }
}

/// A part declared UTF-8 (or undeclared) whose bytes are not UTF-8 decoded with replacement
/// characters: it is Windows-1252 in practice (MAIL-RULES C6.1). Decodes it again from the raw
/// bytes; `None` when the text decoded cleanly or another charset was declared.
fn windows_1252_fallback(msg: &Message<'_>, part: &MessagePart<'_>, text: &str) -> Option<String> {
    if !text.contains('\u{FFFD}') {
        return None;
    }
    let charset = part
        .content_type()
        .and_then(|ct| ct.attribute("charset"))
        .map(str::to_ascii_lowercase);
    if !matches!(
        charset.as_deref(),
        None | Some("utf-8" | "utf8" | "us-ascii")
    ) {
        return None;
    }
    let raw = msg
        .raw_message
        .get(part.offset_body as usize..part.offset_end as usize)?;
    let bytes = match part.encoding {
        mail_parser::Encoding::QuotedPrintable => {
            mail_parser::decoders::quoted_printable::quoted_printable_decode(raw)?
        }
        mail_parser::Encoding::Base64 => mail_parser::decoders::base64::base64_decode(raw)?,
        mail_parser::Encoding::None => raw.to_vec(),
    };
    if std::str::from_utf8(&bytes).is_ok() {
        return None;
    }
    let (decoded, _, _) = encoding_rs::WINDOWS_1252.decode(&bytes);
    Some(decoded.into_owned())
}

/// HTML is cut at its quote markers before it becomes text, then each side is converted once.
fn split_html(html: &str) -> Split {
    let to_text = |h: &str| clean_text(&fix_c1(&mail_parser::decoders::html::html_to_text(h)));
    if let Some(pos) = quotes::html_quote_start(html) {
        let mut s = quotes::split(&to_text(&html[..pos]));
        if !s.new_text.trim().is_empty() {
            let rest = to_text(&html[pos..]);
            s.quoted = if s.quoted.is_empty() {
                rest.trim().to_owned()
            } else {
                format!("{}\n{}", s.quoted, rest.trim())
            };
            return s;
        }
    }
    quotes::split(&to_text(html))
}

fn content_type_of(part: &mail_parser::MessagePart<'_>) -> String {
    match part.content_type() {
        Some(ct) => match &ct.c_subtype {
            Some(sub) => format!("{}/{}", ct.c_type, sub).to_ascii_lowercase(),
            None => ct.c_type.to_ascii_lowercase(),
        },
        None => match part.body {
            PartType::Message(_) => "message/rfc822".into(),
            PartType::Text(_) => "text/plain".into(),
            PartType::Html(_) => "text/html".into(),
            _ => "application/octet-stream".into(),
        },
    }
}

fn attachments(msg: &Message<'_>) -> Vec<ParsedAttachment> {
    msg.attachments
        .iter()
        .filter_map(|&i| msg.parts.get(i as usize))
        .map(|part| {
            let content_type = content_type_of(part);
            let filename = part
                .attachment_name()
                .map(clean_line)
                .filter(|n| !n.is_empty())
                .or_else(|| {
                    part.message()
                        .and_then(|m| m.subject())
                        .map(|s| format!("{}.eml", clean_line(s)))
                });
            let content_id = part
                .content_id()
                .map(|c| clean_id(c.trim_start_matches("cid:")));
            let disposition_inline = part
                .content_disposition()
                .map(|d| d.c_type.eq_ignore_ascii_case("inline"));
            let inline = disposition_inline.unwrap_or(content_id.is_some());
            let content = part.contents().to_vec();
            ParsedAttachment {
                filename,
                content_type,
                content_id,
                inline,
                sha256: sha256_hex(&content),
                content,
            }
        })
        .collect()
}

/// The raw values of the message's top-level headers named in `names` (any case), as
/// `Message::header_raw` reads each (the last of a name counts), in one pass: a dozen
/// `header_raw` calls each parsed the name again and compared it with every header, a tenth
/// of parsing a message.
fn top_headers<'a, const N: usize>(
    msg: &'a Message<'a>,
    names: &[&str; N],
) -> [Option<&'a str>; N] {
    let mut found = [None; N];
    let Some(root) = msg.parts.first() else {
        return found;
    };
    for h in &root.headers {
        let name = h.name.as_str();
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(name)) {
            found[i] = msg
                .raw_message
                .get(h.offset_start as usize..h.offset_end as usize)
                .and_then(|v| std::str::from_utf8(v).ok());
        }
    }
    found
}

fn auto_headers(msg: &Message<'_>) -> AutoHeaders {
    let [
        auto_submitted,
        precedence,
        x_autoreply,
        x_autorespond,
        x_auto_response_suppress,
        x_ms_exchange_inbox_rules_loop,
        x_loop,
        list_id,
        list_unsubscribe,
        x_fc_machinegenerated,
        return_path,
        our_loop_header,
    ] = top_headers(
        msg,
        &[
            "Auto-Submitted",
            "Precedence",
            "X-Autoreply",
            "X-Autorespond",
            "X-Auto-Response-Suppress",
            "X-MS-Exchange-Inbox-Rules-Loop",
            "X-Loop",
            "List-Id",
            "List-Unsubscribe",
            "X-FC-Machinegenerated",
            "Return-Path",
            LOOP_HEADER,
        ],
    );
    // As header_raw was read before: trimmed, and empty counts as absent.
    fn value(v: Option<&str>) -> Option<&str> {
        v.map(str::trim).filter(|v| !v.is_empty())
    }
    fn lower(v: Option<&str>) -> Option<String> {
        value(v).map(|v| clean_line(v).to_ascii_lowercase())
    }
    let report = msg.content_type().is_some_and(|ct| {
        ct.c_type.eq_ignore_ascii_case("multipart")
            && ct
                .c_subtype
                .as_deref()
                .is_some_and(|s| s.eq_ignore_ascii_case("report"))
            && ct.attributes.iter().flatten().any(|a| {
                a.name.eq_ignore_ascii_case("report-type")
                    && a.value.eq_ignore_ascii_case("delivery-status")
            })
    }) || msg
        .parts
        .iter()
        .any(|p| content_type_of(p) == "message/delivery-status");
    AutoHeaders {
        auto_submitted: lower(auto_submitted),
        precedence: lower(precedence),
        x_autoreply: value(x_autoreply).is_some(),
        x_autorespond: value(x_autorespond).is_some(),
        x_auto_response_suppress: value(x_auto_response_suppress).is_some(),
        x_ms_exchange_inbox_rules_loop: value(x_ms_exchange_inbox_rules_loop).is_some(),
        x_loop: lower(x_loop),
        list_id: lower(list_id),
        list_unsubscribe: value(list_unsubscribe).is_some(),
        x_fc_machinegenerated: value(x_fc_machinegenerated).is_some(),
        return_path_empty: return_path.is_some_and(|v| {
            v.trim()
                .trim_start_matches('<')
                .trim_end_matches('>')
                .trim()
                .is_empty()
        }),
        our_loop_header: lower(our_loop_header),
        delivery_status_report: report,
    }
}

fn delivery_report(msg: &Message<'_>, is_report: bool) -> Option<DeliveryReport> {
    let mut r = DeliveryReport::default();
    let mut found = false;
    for part in &msg.parts {
        let ct = content_type_of(part);
        match ct.as_str() {
            "message/delivery-status" | "message/global-delivery-status" => {
                found = true;
                let text = String::from_utf8_lossy(part.contents()).into_owned();
                for line in text.lines() {
                    let Some((k, v)) = line.split_once(':') else {
                        continue;
                    };
                    let v = clean_line(v);
                    match k.trim().to_ascii_lowercase().as_str() {
                        "status" => r
                            .statuses
                            .push(v.split_whitespace().next().unwrap_or("").to_owned()),
                        "final-recipient" | "original-recipient" => {
                            let addr = v.rsplit(';').next().unwrap_or("").trim().to_lowercase();
                            if !addr.is_empty() && !r.final_recipients.contains(&addr) {
                                r.final_recipients.push(addr);
                            }
                        }
                        "diagnostic-code" => r.diagnostic = Some(v),
                        _ => {}
                    }
                }
            }
            "message/rfc822" | "message/global" if r.original_message_id.is_none() => {
                r.original_message_id = part.message().and_then(|m| m.message_id()).map(clean_id);
            }
            "text/rfc822-headers" | "message/rfc822-headers" if r.original_message_id.is_none() => {
                // The enclosed headers usually lack the blank line that ends a header block.
                let mut bytes = part.contents().to_vec();
                bytes.extend_from_slice(b"\n\n");
                r.original_message_id = PARSER
                    .parse_headers(&bytes)
                    .and_then(|m| m.message_id().map(clean_id));
            }
            _ => {}
        }
    }
    (found || is_report).then_some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_utf8_falls_back_to_windows_1252() {
        let raw =
            b"From: a@x\nSubject: s\nContent-Type: text/plain; charset=utf-8\n\nCaf\xe9 \x80 10\n";
        let p = parse(raw).unwrap();
        assert_eq!(p.body.new_text, "Caf\u{e9} \u{20ac} 10");
        assert_eq!(p.body_source, "text/plain; windows-1252 fallback");
        let qp = b"From: a@x\nSubject: s\nContent-Type: text/plain\nContent-Transfer-Encoding: quoted-printable\n\nCaf=E9\n";
        assert_eq!(parse(qp).unwrap().body.new_text, "Caf\u{e9}");
        let ok = b"From: a@x\nSubject: s\nContent-Type: text/plain; charset=utf-8\n\nCaf\xc3\xa9\n";
        assert_eq!(parse(ok).unwrap().body_source, "text/plain");
    }

    #[test]
    fn windows_1252_labelled_latin1_keeps_its_euro_sign() {
        let raw = b"From: a@x\nSubject: s\nContent-Type: text/plain; charset=iso-8859-1\n\n\x93Price\x94: 10\x80\n";
        assert_eq!(
            parse(raw).unwrap().body.new_text,
            "\u{201c}Price\u{201d}: 10\u{20ac}"
        );
    }
}
