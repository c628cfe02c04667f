//! MIME parsing against fixture files (tests/fixtures/parse, expectations in expected.toml):
//! charsets, encoded words, HTML, multiparts, attachments, line endings, NUL bytes; plus a
//! generated 5 MB attachment.

mod support;

use std::path::Path;

use helpdesk::mail::parse::{self, Parsed};
use helpdesk::store::messages;
use serde::Deserialize;
use support::Harness;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    subject: Option<String>,
    from_name: Option<String>,
    from_addr: Option<String>,
    #[serde(default)]
    body_contains: Vec<String>,
    #[serde(default)]
    body_not_contains: Vec<String>,
    #[serde(default)]
    attachments: Vec<ExpectAttachment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ExpectAttachment {
    filename: String,
    content_type: String,
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/parse")
}

fn expectations() -> std::collections::BTreeMap<String, Expect> {
    let text = std::fs::read_to_string(fixtures().join("expected.toml")).unwrap();
    toml::from_str(&text).unwrap()
}

fn load(name: &str) -> (Vec<u8>, Parsed) {
    let raw = std::fs::read(fixtures().join(format!("{name}.eml"))).unwrap();
    let p = parse::parse(&raw).unwrap_or_else(|e| panic!("{name}: {e}"));
    (raw, p)
}

fn all_text(p: &Parsed) -> String {
    format!(
        "{}\n{}\n{}",
        p.body.new_text, p.body.quoted, p.body.signature
    )
}

#[test]
fn every_fixture_decodes_as_expected() {
    let cases = expectations();
    assert!(cases.len() >= 14, "only {} fixtures", cases.len());
    for (name, e) in &cases {
        let (_, p) = load(name);
        if let Some(s) = &e.subject {
            assert_eq!(&p.subject, s, "{name}: subject");
        }
        let from = p.from.as_ref();
        if let Some(n) = &e.from_name {
            assert_eq!(
                from.and_then(|f| f.name.as_deref()),
                Some(n.as_str()),
                "{name}: from name"
            );
        }
        if let Some(a) = &e.from_addr {
            assert_eq!(
                from.map(|f| f.addr.as_str()),
                Some(a.to_lowercase().as_str()),
                "{name}: from"
            );
        }
        let text = all_text(&p);
        for want in &e.body_contains {
            assert!(
                text.contains(want.as_str()),
                "{name}: body lacks {want:?}:\n{text}"
            );
        }
        for unwanted in &e.body_not_contains {
            assert!(
                !text.contains(unwanted.as_str()),
                "{name}: body has {unwanted:?}:\n{text}"
            );
        }
        for want in &e.attachments {
            assert!(
                p.attachments
                    .iter()
                    .any(|a| a.filename.as_deref() == Some(want.filename.as_str())
                        && a.content_type == want.content_type),
                "{name}: no attachment {want:?} in {:?}",
                p.attachments
                    .iter()
                    .map(|a| (&a.filename, &a.content_type))
                    .collect::<Vec<_>>()
            );
        }
        let bad = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
        assert!(
            !bad(&p.subject) && !bad(&text),
            "{name}: control characters survive"
        );
    }
}

#[test]
fn html_only_mail_is_turned_into_text() {
    let (_, p) = load("html_only");
    assert_eq!(p.body_source, "text/html");
    assert!(!p.body.new_text.contains('<'), "{}", p.body.new_text);
}

#[test]
fn alternative_prefers_plain_text() {
    let (_, p) = load("alternative");
    assert_eq!(p.body_source, "text/plain");
    assert!(p.body.new_text.contains("PLAIN VERSION"));
    assert!(!p.body.new_text.contains("HTML VERSION"));
}

#[test]
fn crlf_and_bare_lf_read_the_same() {
    let (_, a) = load("crlf");
    let (_, b) = load("lf");
    assert_eq!(a.subject, b.subject);
    assert_eq!(a.body, b.body);
    assert!(!a.body.new_text.contains('\r'));
}

#[test]
fn a_message_without_id_gets_a_stable_synthetic_one() {
    let (raw, p) = load("no_message_id");
    assert_eq!(p.message_id, None);
    let mut h = Harness::new();
    h.ingest(&raw);
    let id = parse::synthetic_id(&raw);
    assert!(id.ends_with("@synthetic.helpdesk.invalid"));
    let stored = messages::for_ticket(h.store.conn(), h.ticket(&h.number_of(&id)).id).unwrap();
    assert!(stored[0].message_id_synthetic);
}

#[test]
fn every_fixture_is_stored_and_its_raw_bytes_come_back_exactly() {
    let mut h = Harness::new();
    for name in expectations().keys() {
        let (raw, p) = load(name);
        h.ingest(&raw);
        let id = p.message_id.unwrap_or_else(|| parse::synthetic_id(&raw));
        assert_eq!(
            messages::raw(h.store.conn(), &id).unwrap().as_deref(),
            Some(&raw[..]),
            "{name}"
        );
    }
}

fn big_attachment_mail(size: usize) -> Vec<u8> {
    use std::fmt::Write;
    let mut data = Vec::with_capacity(size);
    let mut x: u32 = 1;
    while data.len() < size {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        data.push((x & 0xff) as u8);
    }
    const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut b64 = String::with_capacity(size * 4 / 3 + size / 50);
    for (i, chunk) in data.chunks(3).enumerate() {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for j in 0..4 {
            if j <= chunk.len() {
                b64.push(B64[(n >> (18 - 6 * j) & 63) as usize] as char);
            } else {
                b64.push('=');
            }
        }
        if i % 19 == 18 {
            b64.push('\n');
        }
    }
    let mut m = String::new();
    write!(
        m,
        "From: Big <big@x.example>\nTo: support@lumencloud.example\nSubject: Logs attached\n\
         Message-ID: <big@x.example>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\n\
         See the attached dump.\n--XX\nContent-Type: application/octet-stream\n\
         Content-Disposition: attachment; filename=\"dump.bin\"\nContent-Transfer-Encoding: base64\n\n{b64}\n--XX--\n"
    )
    .unwrap();
    m.into_bytes()
}

#[test]
fn a_5_mb_attachment_is_stored_whole_and_over_the_cap_only_described() {
    let raw = big_attachment_mail(5 * 1024 * 1024);
    let p = parse::parse(&raw).unwrap();
    assert_eq!(p.attachments.len(), 1);
    assert_eq!(p.attachments[0].content.len(), 5 * 1024 * 1024);
    assert_eq!(p.body.new_text, "See the attached dump.");

    let mut h = Harness::new();
    h.ingest(&raw);
    let id = h.ticket(&h.number_of("big@x.example")).id;
    let a = &messages::for_ticket(h.store.conn(), id).unwrap()[0].attachments[0];
    assert_eq!((a.size, a.stored), (5 * 1024 * 1024, true));
    assert_eq!(a.filename.as_deref(), Some("dump.bin"));

    let mut small = Harness::new();
    small.ingest.max_attachment_bytes = 1024 * 1024;
    small.ingest(&raw);
    let id = small.ticket(&small.number_of("big@x.example")).id;
    let a = &messages::for_ticket(small.store.conn(), id).unwrap()[0].attachments[0];
    assert!(!a.stored);
    assert!(a.note.as_deref().unwrap().contains("metadata only"));
    assert_eq!(
        messages::raw(small.store.conn(), "big@x.example")
            .unwrap()
            .unwrap(),
        raw
    );
}
