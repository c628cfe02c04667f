//! Random and truncated bytes never panic the parser or the importer, and nothing stored for
//! display carries a control character.

mod support;

use helpdesk::mail::parse;
use helpdesk::mail::sanitize::{clean_line, clean_text};
use helpdesk::store::messages;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use support::{Harness, mail};

fn samples() -> Vec<Vec<u8>> {
    vec![
        mail()
            .from("=?UTF-8?B?w4RnbmVz?= <a@x.example>")
            .subject("=?ISO-8859-1?Q?Caf=E9?= \u{1b}]0;t\u{7}")
            .id("s1@x")
            .build(),
        b"From: a@x\nSubject: multi\nContent-Type: multipart/mixed; boundary=X\n\n--X\nContent-Type: text/html\n\n<p>hi<blockquote>old</blockquote>\n--X\nContent-Type: application/pdf; name=a.pdf\nContent-Transfer-Encoding: base64\n\nJVBERi0xLjQK\n--X--\n".to_vec(),
        b"From: a@x\nSubject: report\nContent-Type: multipart/report; report-type=delivery-status; boundary=B\n\n--B\nContent-Type: message/delivery-status\n\nStatus: 5.1.1\n--B\nContent-Type: message/rfc822\n\nMessage-ID: <o@x>\nSubject: inner\n\nbody\n--B--\n".to_vec(),
    ]
}

fn assert_displayable(p: &parse::Parsed) {
    let bad = |s: &str| s.chars().any(|c| c.is_control() && c != '\n' && c != '\t');
    assert!(!bad(&p.subject) && !p.subject.contains('\n'));
    assert!(!bad(&p.body.new_text) && !bad(&p.body.quoted) && !bad(&p.body.signature));
    for m in p.from.iter().chain(&p.to).chain(&p.cc) {
        assert!(!bad(&m.addr) && !m.name.as_deref().is_some_and(bad));
    }
    for a in &p.attachments {
        assert!(!a.filename.as_deref().is_some_and(bad));
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic_the_parser(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(p) = parse::parse(&bytes) {
            assert_displayable(&p);
        }
    }

    #[test]
    fn header_like_noise_never_panics(s in "(([A-Za-z-]{1,12}: [ -~\u{80}-\u{10ffff}\u{1b}\u{7}]{0,40}\r?\n){0,8}\r?\n[ -~\n\u{1b}\u{9b}]{0,200})") {
        if let Ok(p) = parse::parse(s.as_bytes()) {
            assert_displayable(&p);
        }
    }

    #[test]
    fn sanitised_text_never_holds_escape(s in any::<String>()) {
        let t = clean_text(&s);
        let l = clean_line(&s);
        prop_assert!(!t.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
        prop_assert!(!l.chars().any(char::is_control));
    }
}

#[test]
fn truncated_messages_are_all_stored_and_never_panic() {
    let mut h = Harness::new();
    for sample in samples() {
        for cut in 0..=sample.len() {
            let mut raw = sample[..cut].to_vec();
            raw.extend_from_slice(format!("\n{cut}").as_bytes());
            let r = h.ingest(&raw);
            // Each variant is stored, or is a duplicate of a stored message with the same id.
            let id = match parse::parse(&raw).ok().and_then(|p| p.message_id) {
                Some(id) => id,
                None => parse::synthetic_id(&raw),
            };
            let stored = messages::raw(h.store.conn(), &id).unwrap();
            match r.outcome {
                helpdesk::mail::ingest::Outcome::Duplicate => assert!(stored.is_some()),
                _ => assert_eq!(stored.as_deref(), Some(raw.as_slice())),
            }
        }
    }
}

#[test]
fn random_bytes_imported_are_kept_raw_and_flagged() {
    let mut h = Harness::new();
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let strategy = proptest::collection::vec(any::<u8>(), 1..2048);
    for _ in 0..200 {
        let bytes = strategy.new_tree(&mut runner).unwrap().current();
        let r = h.ingest(&bytes);
        if r.parse_error.is_some() {
            // Never dropped: the exact bytes come back.
            let id = helpdesk::mail::parse::synthetic_id(&bytes);
            let raw = messages::raw(h.store.conn(), &id).unwrap().unwrap();
            assert_eq!(raw, bytes);
            let t = h.ticket(&h.number_of(&id));
            assert!(t.flagged && t.review_reason.unwrap().contains("could not be parsed"));
        }
    }
}

#[test]
fn a_nul_byte_and_escapes_in_subject_and_body_are_harmless() {
    let mut h = Harness::new();
    let raw = b"From: a@x.example\nSubject: hi \x1b]0;pwned\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07 end\nMessage-ID: <esc@x>\n\nbody\x00with nul \x1b[31mred\n".to_vec();
    h.ingest(&raw);
    let t = h.ticket(&h.number_of("esc@x"));
    assert_eq!(t.subject, "hi ]0;pwned [2J ]52;c;ZXZpbA== end");
    let m = &messages::for_ticket(h.store.conn(), t.id).unwrap()[0];
    assert_eq!(m.body, "bodywith nul [31mred");
    assert_eq!(
        messages::raw(h.store.conn(), "esc@x").unwrap().unwrap(),
        raw
    );
}
