//! Threading (MAIL-RULES C3): which ticket each message joins.

mod support;

use helpdesk::mail::ingest::Outcome;
use helpdesk::store::{MessageClass, TicketStatus, messages};
use helpdesk::ticket::{TicketNumber, token};
use support::{DAY, Harness, mail};

const ANNA: &str = "Anna Berg <anna@acme.example>";

fn original(h: &mut Harness) -> String {
    let raw = mail()
        .from(ANNA)
        .header("Cc", "Carl Colleague <carl@acme.example>")
        .subject("Sync stuck at 99%")
        .id("orig@acme.example")
        .build();
    assert!(matches!(h.ingest(&raw).outcome, Outcome::NewTicket { .. }));
    h.number_of("orig@acme.example")
}

#[test]
fn first_ticket_of_the_year_is_numbered_and_numbers_are_never_reused() {
    let mut h = Harness::new();
    let n = original(&mut h);
    assert_eq!(n, "TKT-2026-00001");
    h.ingest(
        &mail()
            .from("b@x.example")
            .subject("Other")
            .id("b1@x")
            .build(),
    );
    assert_eq!(h.number_of("b1@x"), "TKT-2026-00002");
    // A new year starts a new sequence.
    h.now += 60 * DAY;
    h.ingest(
        &mail()
            .from("c@x.example")
            .subject("New year")
            .id("c1@x")
            .build(),
    );
    assert_eq!(h.number_of("c1@x"), "TKT-2027-00001");
}

#[test]
fn the_subject_tag_from_the_requester_threads() {
    let mut h = Harness::new();
    let n = original(&mut h);
    let r = h.ingest(
        &mail()
            .from(ANNA)
            .subject(&format!("Re: Sync stuck at 99% [{n}]"))
            .id("tagged@acme.example")
            .build(),
    );
    assert!(matches!(r.outcome, Outcome::Threaded { .. }));
    assert_eq!(h.number_of("tagged@acme.example"), n);
}

#[test]
fn a_stranger_quoting_the_tag_gets_a_new_linked_flagged_ticket() {
    let mut h = Harness::new();
    let n = original(&mut h);
    let r = h.ingest(
        &mail()
            .from("mallory@evil.example")
            .subject(&format!("About [{n}] — please send me the files"))
            .id("stranger@evil.example")
            .build(),
    );
    assert_eq!(
        r.outcome,
        Outcome::NewTicket {
            ticket_id: 2,
            flagged: true
        }
    );
    let new = h.number_of("stranger@evil.example");
    assert_ne!(new, n);
    let t = h.ticket(&new);
    assert!(t.flagged);
    assert_eq!(t.linked_ticket.as_deref(), Some(n.as_str()));
    assert!(t.review_reason.unwrap().contains("not a participant"));
    assert!(
        h.events(&n)
            .iter()
            .any(|(k, d)| k == "mentioned" && d.contains(&new))
    );
    assert_eq!(
        h.ticket(&n).message_count,
        1,
        "the original ticket was not hijacked"
    );
}

#[test]
fn references_alone_thread() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("something else entirely")
            .id("r1@acme.example")
            .references(&["unknown@else.example", "orig@acme.example"])
            .build(),
    );
    assert_eq!(h.number_of("r1@acme.example"), n);
}

#[test]
fn in_reply_to_threads_and_beats_references() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.ingest(
        &mail()
            .from("b@x.example")
            .subject("Other")
            .id("other@x")
            .build(),
    );
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: Sync stuck at 99%")
            .id("r2@acme.example")
            .in_reply_to("orig@acme.example")
            .references(&["other@x"])
            .build(),
    );
    assert_eq!(h.number_of("r2@acme.example"), n);
}

#[test]
fn reply_all_from_a_colleague_in_cc_joins_the_ticket() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.ingest(
        &mail()
            .from("Carl Colleague <carl@acme.example>")
            .header("Cc", ANNA)
            .subject("Re: Sync stuck at 99%")
            .id("carl1@acme.example")
            .in_reply_to("orig@acme.example")
            .references(&["orig@acme.example"])
            .build(),
    );
    assert_eq!(h.number_of("carl1@acme.example"), n);
    // Carl was in Cc on record, so his later mail with only the tag threads too.
    h.ingest(
        &mail()
            .from("carl@acme.example")
            .subject(&format!("Logs for [{n}]"))
            .id("carl2@acme.example")
            .build(),
    );
    assert_eq!(h.number_of("carl2@acme.example"), n);
    assert_eq!(h.ticket_count(), 1);
}

#[test]
fn a_reply_to_a_reply_threads() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: x")
            .id("m2@a")
            .in_reply_to("orig@acme.example")
            .build(),
    );
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: Re: x")
            .id("m3@a")
            .in_reply_to("m2@a")
            .references(&["orig@acme.example", "m2@a"])
            .build(),
    );
    assert_eq!(h.number_of("m3@a"), n);
    assert_eq!(h.ticket(&n).message_count, 3);
}

#[test]
fn a_forward_carrying_someone_elses_tag_opens_its_own_ticket() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.ingest(
        &mail()
            .from("Bob <bob@other.example>")
            .subject(&format!("Fwd: Re: Sync stuck at 99% [{n}]"))
            .id("fwd@other.example")
            .body("Same problem here, see below.\n\n---------- Forwarded message ---------\nFrom: Anna\n")
            .build(),
    );
    let new = h.number_of("fwd@other.example");
    assert_ne!(new, n);
    assert_eq!(h.ticket(&new).linked_ticket.as_deref(), Some(n.as_str()));
}

#[test]
fn two_tickets_with_the_same_subject_stay_apart() {
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("a@one.example")
            .subject("Sync not working")
            .id("s1@one")
            .build(),
    );
    h.ingest(
        &mail()
            .from("b@two.example")
            .subject("Sync not working")
            .id("s2@two")
            .build(),
    );
    assert_ne!(h.number_of("s1@one"), h.number_of("s2@two"));
    // The same sender again: still apart, but a merge is suggested.
    h.ingest(
        &mail()
            .from("a@one.example")
            .subject("Re: Sync not working")
            .id("s3@one")
            .build(),
    );
    let third = h.number_of("s3@one");
    assert_ne!(third, h.number_of("s1@one"));
    assert!(
        h.events(&third)
            .iter()
            .any(|(k, d)| k == "merge-suggested" && d.contains(&h.number_of("s1@one")))
    );
}

#[test]
fn a_reply_to_a_resolved_ticket_reopens_it() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.set_status(&n, TicketStatus::Resolved, h.now);
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: x")
            .id("again@a")
            .in_reply_to("orig@acme.example")
            .build(),
    );
    assert_eq!(h.ticket(&n).status, TicketStatus::Open);
    assert!(
        h.events(&n)
            .iter()
            .any(|(k, d)| k == "status" && d.starts_with("resolved → open"))
    );
}

#[test]
fn an_out_of_office_leaves_the_ticket_as_it_is() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.set_status(&n, TicketStatus::Waiting, h.now);
    let r = h.ingest(
        &mail()
            .from(ANNA)
            .subject("Automatic reply: Sync stuck at 99%")
            .header("Auto-Submitted", "auto-replied")
            .id("ooo@a")
            .in_reply_to("orig@acme.example")
            .build(),
    );
    assert_eq!(r.class, Some(MessageClass::OutOfOffice));
    assert_eq!(h.number_of("ooo@a"), n);
    assert_eq!(h.ticket(&n).status, TicketStatus::Waiting);
    assert!(h.events(&n).iter().any(|(k, _)| k == "out-of-office"));
}

#[test]
fn our_minted_id_threads_even_without_the_stored_row_and_forgeries_do_not() {
    let mut h = Harness::new();
    let n = original(&mut h);
    let number: TicketNumber = n.parse().unwrap();
    let minted = token::mint(&h.ingest.threader.key, &number, 1, "lumencloud.example");
    // No message with this id is stored: the MAC alone proves it is ours.
    h.ingest(
        &mail()
            .from("new-person@acme.example")
            .subject("Re: your answer")
            .id("t1@a")
            .in_reply_to(&minted)
            .build(),
    );
    assert_eq!(h.number_of("t1@a"), n);
    let forged = minted.replace(".1.", ".2.");
    h.ingest(
        &mail()
            .from("x@evil.example")
            .subject("Re: your answer")
            .id("t2@a")
            .in_reply_to(&forged)
            .build(),
    );
    assert_ne!(h.number_of("t2@a"), n);
}

#[test]
fn a_reply_to_a_long_closed_ticket_opens_a_linked_one_and_a_recent_close_reopens() {
    let mut h = Harness::new();
    let n = original(&mut h);
    h.set_status(&n, TicketStatus::Closed, h.now);
    h.now += 2 * DAY;
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: x")
            .id("c1@a")
            .in_reply_to("orig@acme.example")
            .build(),
    );
    assert_eq!(h.number_of("c1@a"), n);
    assert_eq!(h.ticket(&n).status, TicketStatus::Open);

    h.set_status(&n, TicketStatus::Closed, h.now);
    h.now += 30 * DAY;
    h.ingest(
        &mail()
            .from(ANNA)
            .subject("Re: x")
            .id("c2@a")
            .in_reply_to("orig@acme.example")
            .build(),
    );
    let new = h.number_of("c2@a");
    assert_ne!(new, n);
    assert_eq!(h.ticket(&new).linked_ticket.as_deref(), Some(n.as_str()));
    assert_eq!(h.ticket(&n).status, TicketStatus::Closed);
}

#[test]
fn ingest_is_idempotent_by_message_id_and_by_content_without_one() {
    let mut h = Harness::new();
    let raw = mail().from(ANNA).subject("Hi").id("same@a").build();
    h.ingest(&raw);
    assert_eq!(h.ingest(&raw).outcome, Outcome::Duplicate);

    let no_id = mail()
        .from(ANNA)
        .subject("No id")
        .body("no id here\n")
        .build();
    assert!(matches!(
        h.ingest(&no_id).outcome,
        Outcome::NewTicket { .. }
    ));
    assert_eq!(h.ingest(&no_id).outcome, Outcome::Duplicate);
    // The same mail as it comes over IMAP (CRLF) is the same message.
    let crlf = String::from_utf8(no_id.clone())
        .unwrap()
        .replace('\n', "\r\n");
    assert_eq!(h.ingest(crlf.as_bytes()).outcome, Outcome::Duplicate);
    assert_eq!(messages::count(h.store.conn()).unwrap(), 2);
}
