//! Sending against the real servers of tests/support/servers.rs: replies go out through the
//! aiosmtpd submission server into Dovecot, and are read back over IMAP from the customer's
//! mailbox and support's Sent folder.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use helpdesk::config::Config;
use helpdesk::mail::imap::{self, AfterIngest, Auth, ImapSettings, Security, Tls};
use helpdesk::secret::Secret;
use helpdesk::send::{self, Outgoing, SentFolder, SmtpSettings, ack, compose::Sender, review};
use helpdesk::store::{DraftState, OutboxState, Store, TicketStatus, messages, outbox, tickets};
use helpdesk::ticket::TagMatcher;
use support::servers::MailServers;
use support::{mail, stderr, stdout};

const CUSTOMER: &str = "customer@customer.example";
const SUPPORT: &str = "support@lumencloud.example";

fn imap_settings(srv: &MailServers) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port: srv.imaps_port,
        security: Security::Tls,
        tls: Tls {
            ca_file: Some(srv.ca_cert.clone()),
            accept_invalid_certs: false,
        },
        username: "support".into(),
        auth: Auth::Password(Secret::new(srv.password("support"))),
        mailbox: "INBOX".into(),
        after_ingest: AfterIngest::Seen,
        connect_timeout: Duration::from_secs(5),
        io_timeout: Duration::from_secs(20),
        batch: 500,
    }
}

struct Desk {
    dir: tempfile::TempDir,
    store: Store,
    ingest: helpdesk::mail::ingest::Ingest,
    sender: Sender,
    out: Outgoing,
    imap: ImapSettings,
}

fn desk(srv: &MailServers, acknowledge: bool) -> Desk {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("store.sqlite3")).unwrap();
    let mut config = Config::default();
    config.account.address = Some(SUPPORT.into());
    config.tickets.acknowledge = acknowledge;
    let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
    let imap = imap_settings(srv);
    let sender = Sender {
        name: "Lumen Support".into(),
        address: SUPPORT.into(),
        signature: Some("Lumen Cloud Support".into()),
        quote_original: true,
        key: ingest.identity.key.clone(),
        tags: TagMatcher::new("TKT"),
    };
    let out = Outgoing {
        smtp: SmtpSettings {
            host: "localhost".into(),
            port: srv.smtp_port,
            security: Security::Starttls,
            ca_file: Some(srv.ca_cert.clone()),
            accept_invalid_certs: false,
            username: "support".into(),
            password: Secret::new(srv.password("support")),
            timeout: Duration::from_secs(20),
        },
        from: SUPPORT.into(),
        sent_folder: Some(SentFolder {
            imap: imap.clone(),
            folder: "Sent".into(),
        }),
        max_attempts: 3,
        retry_base: Duration::ZERO,
    };
    Desk {
        dir,
        store,
        ingest,
        sender,
        out,
        imap,
    }
}

impl Desk {
    fn sync(&mut self) -> imap::SyncReport {
        imap::sync_once(
            &mut self.store,
            &self.ingest,
            &self.imap,
            &helpdesk::cli::now,
            &mut |_| {},
        )
        .unwrap()
    }

    fn id(&self, number: &str) -> i64 {
        tickets::by_number(self.store.conn(), number)
            .unwrap()
            .unwrap()
            .id
    }

    fn numbers(&self) -> Vec<String> {
        tickets::list(self.store.conn(), &Default::default())
            .unwrap()
            .into_iter()
            .map(|t| t.number)
            .collect()
    }

    fn write_and_approve(&mut self, number: &str, body: &str) -> review::Approved {
        let id = self.id(number);
        review::edit(&mut self.store, id, body, helpdesk::cli::now()).unwrap();
        review::approve(&mut self.store, &self.sender, id, helpdesk::cli::now()).unwrap()
    }

    fn flush(&mut self) -> send::FlushReport {
        send::flush(
            &mut self.store,
            &self.out,
            &helpdesk::cli::now,
            &mut |_, _| {},
        )
        .unwrap()
    }

    fn draft_state(&self, number: &str) -> DraftState {
        messages::latest_draft(self.store.conn(), self.id(number))
            .unwrap()
            .unwrap()
            .state
    }
}

/// The header block of a raw message, unfolded, as (lowercase name, value) pairs.
fn headers(raw: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(raw);
    let head = text
        .split("\r\n\r\n")
        .next()
        .unwrap()
        .replace("\r\n ", " ")
        .replace("\r\n\t", " ");
    head.split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect()
}

fn header(raw: &[u8], name: &str) -> Option<String> {
    headers(raw)
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

fn decoded_subject(raw: &[u8]) -> String {
    helpdesk::mail::parse::parse(raw).unwrap().subject
}

/// Waits until `count` messages are in the mailbox, then checks that no more arrive for a
/// short while (a duplicate would show up here).
fn exactly(srv: &MailServers, user: &str, mailbox: &str, count: usize) -> Vec<Vec<u8>> {
    srv.wait_for_messages(user, mailbox, count);
    std::thread::sleep(Duration::from_millis(300));
    let all = srv.fetch_all(user, mailbox);
    assert_eq!(
        all.len(),
        count,
        "{user}/{mailbox} holds {} messages",
        all.len()
    );
    all
}

fn question(id: &str, subject: &str) -> Vec<u8> {
    mail()
        .from(&format!("Carla Customer <{CUSTOMER}>"))
        .subject(subject)
        .id(id)
        .body("Hello,\n\nthe CSV export stops at 1000 rows. Can you help?\n\nCarla\n")
        .build()
}

#[test]
fn an_approved_reply_arrives_threaded_and_the_answer_reopens_the_ticket() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("q1@customer.example", "Export stops early"),
    );
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    let id = d.id(&number);
    review::add_note(
        &mut d.store,
        id,
        "SECRET-NOTE: customer is on the legacy plan",
        1,
    )
    .unwrap();
    let approved = d.write_and_approve(
        &number,
        "Hello Carla,\n\nplease update to 4.2; the limit is gone there.",
    );
    assert_eq!(d.draft_state(&number), DraftState::Approved);

    let r = d.flush();
    assert_eq!((r.sent, r.failed, r.connections), (1, 0, 1), "{r:?}");

    let inbox = exactly(&srv, "customer", "INBOX", 1);
    let raw = &inbox[0];
    let from = header(raw, "from").unwrap();
    assert!(
        from.contains("Lumen Support") && from.contains(SUPPORT),
        "{from}"
    );
    assert!(header(raw, "to").unwrap().contains(CUSTOMER));
    assert_eq!(
        decoded_subject(raw),
        format!("Re: Export stops early [{number}]")
    );
    assert_eq!(header(raw, "in-reply-to").unwrap(), "<q1@customer.example>");
    let refs = header(raw, "references").unwrap();
    assert!(refs.contains("<q1@customer.example>"), "{refs}");
    assert!(
        refs.contains(&format!("<{number}@lumencloud.example>")),
        "{refs}"
    );
    assert_eq!(
        header(raw, "message-id").unwrap(),
        format!("<{}>", approved.message_id)
    );
    assert!(
        header(raw, "auto-submitted").is_none(),
        "a human reply is not automatic"
    );
    let text = String::from_utf8_lossy(raw);
    assert!(
        !text.contains("SECRET-NOTE"),
        "an internal note left the building"
    );
    let body = helpdesk::mail::parse::parse(raw).unwrap().body;
    assert!(
        body.new_text.contains("please update to 4.2"),
        "{:?}",
        body.new_text
    );

    let sent = exactly(&srv, "support", "Sent", 1);
    assert_eq!(header(&sent[0], "message-id"), header(raw, "message-id"));

    let t = tickets::state(d.store.conn(), id).unwrap();
    assert_eq!(t.status, TicketStatus::Waiting);
    assert!(
        tickets::first_response_at(d.store.conn(), id)
            .unwrap()
            .is_some()
    );
    assert_eq!(d.draft_state(&number), DraftState::Sent);
    let stored = messages::for_ticket(d.store.conn(), id).unwrap();
    assert!(
        stored.iter().any(|m| m.message_id == approved.message_id),
        "the reply is on the ticket"
    );

    // The customer answers from their mail client, through SMTP.
    let answer = mail()
        .from(&format!("Carla Customer <{CUSTOMER}>"))
        .subject(&decoded_subject(raw))
        .id("a1@customer.example")
        .in_reply_to(&approved.message_id)
        .references(&["q1@customer.example", &approved.message_id])
        .body("Thanks, that worked, but now the dates are wrong.\n")
        .build();
    let (code, text) = srv.submit("customer", SUPPORT, &answer);
    assert_eq!(code, 250, "{text}");
    srv.wait_for_messages("support", "INBOX", 2);
    let r = d.sync();
    assert_eq!((r.summary.threaded, r.summary.new_tickets), (1, 0), "{r:?}");
    assert_eq!(d.numbers(), vec![number.clone()]);
    assert_eq!(
        tickets::state(d.store.conn(), id).unwrap().status,
        TicketStatus::Open
    );
}

fn auto_reply() -> Vec<u8> {
    mail()
        .from("Out Of Office <ooo@customer.example>")
        .subject("Automatic reply: Export")
        .id("ooo1@customer.example")
        .header("Auto-Submitted", "auto-replied")
        .body("I am away until Monday.\n")
        .build()
}

fn bounce() -> Vec<u8> {
    let body = "--b1\nContent-Type: text/plain\n\nDelivery failed.\n\n--b1\nContent-Type: message/delivery-status\n\nReporting-MTA: dns; mx.customer.example\n\nFinal-Recipient: rfc822; gone@customer.example\nAction: failed\nStatus: 5.1.1\n\n--b1--\n";
    mail()
        .from("Mail Delivery System <MAILER-DAEMON@mx.customer.example>")
        .subject("Undelivered Mail Returned to Sender")
        .id("dsn1@mx.customer.example")
        .header(
            "Content-Type",
            "multipart/report; report-type=delivery-status; boundary=\"b1\"",
        )
        .body(body)
        .build()
}

#[test]
fn acknowledgments_go_to_people_only_and_respect_the_per_sender_limit() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("first@customer.example", "Cannot log in"),
    );
    srv.deliver("support", &auto_reply());
    srv.deliver("support", &bounce());
    srv.deliver(
        "support",
        &mail()
            .from("Users list <users@lists.customer.example>")
            .subject("[users] Weekly digest")
            .id("list1@lists.customer.example")
            .header("List-Id", "<users.lists.customer.example>")
            .header("Precedence", "list")
            .build(),
    );
    srv.deliver(
        "support",
        &mail()
            .from("No Reply <no-reply@shop.customer.example>")
            .subject("Your order")
            .id("nr1@shop.customer.example")
            .build(),
    );
    srv.deliver(
        "support",
        &mail()
            .from(&format!("Support <{SUPPORT}>"))
            .subject("Note to self")
            .id("self1@lumencloud.example")
            .build(),
    );
    srv.deliver(
        "support",
        &mail()
            .from("Bcc Person <bcc@customer.example>")
            .header("To", "someone-else@customer.example")
            .subject("FYI")
            .id("bcc1@customer.example")
            .build(),
    );
    // A burst of 50 new tickets from the same person.
    srv.seed_maildir(
        "support",
        (0..50).map(|i| {
            question(
                &format!("burst{i}@customer.example"),
                &format!("Burst question {i}"),
            )
        }),
    );
    let mut d = desk(&srv, true);
    let r = d.sync();
    assert_eq!(r.fetched, 57);

    let settings = ack::AckSettings {
        per_sender_per_hour: 1,
        per_sender_per_day: 1,
        template: None,
    };
    let acks =
        ack::acknowledge_pending(&mut d.store, &d.sender, &settings, helpdesk::cli::now()).unwrap();
    assert_eq!(acks.queued, 1, "{acks:?}");
    let f = d.flush();
    assert_eq!((f.sent, f.failed), (1, 0), "{f:?}");

    let inbox = exactly(&srv, "customer", "INBOX", 1);
    let raw = &inbox[0];
    let first = tickets::list(d.store.conn(), &Default::default())
        .unwrap()
        .into_iter()
        .find(|t| t.subject == "Cannot log in")
        .unwrap();
    assert!(decoded_subject(raw).contains(&format!("[{}]", first.number)));
    assert_eq!(
        header(raw, "auto-submitted").as_deref(),
        Some("auto-replied")
    );
    assert_eq!(
        header(raw, "x-auto-response-suppress").as_deref(),
        Some("All")
    );
    assert_eq!(
        header(raw, "in-reply-to").as_deref(),
        Some("<first@customer.example>")
    );
    let text = helpdesk::mail::parse::parse(raw).unwrap().body.new_text;
    assert!(text.contains(&first.number), "{text}");

    // Every other new ticket's acknowledgment was withheld, with the rule logged.
    let rows = outbox::list(d.store.conn(), &[]).unwrap();
    assert_eq!(rows.len(), 1, "{rows:?}");
    let mut burst_withheld = 0;
    for t in tickets::list(d.store.conn(), &Default::default()).unwrap() {
        let state = tickets::ack_state(d.store.conn(), t.id).unwrap();
        let events = helpdesk::store::events::for_ticket(d.store.conn(), t.id).unwrap();
        let withheld = events.iter().find(|e| e.kind == "ack-withheld");
        if t.id == first.id {
            assert_eq!(state.as_deref(), Some("queued"));
        } else if t.subject.starts_with("Burst question") {
            assert_eq!(state.as_deref(), Some("withheld"));
            assert!(withheld.unwrap().detail.contains("this hour"), "{events:?}");
            burst_withheld += 1;
        } else if t.subject == "FYI" {
            assert!(
                withheld.unwrap().detail.contains("not in To or Cc"),
                "{events:?}"
            );
        } else {
            // Machine mail and our own: never marked for an acknowledgment at all, or withheld.
            assert_ne!(
                state.as_deref(),
                Some("queued"),
                "{}: {events:?}",
                t.subject
            );
            assert!(
                !rows.iter().any(|r| r.ticket_id == t.id),
                "{} got an acknowledgment",
                t.subject
            );
        }
    }
    assert_eq!(burst_withheld, 50);
    // A second pass decides nothing again.
    let again =
        ack::acknowledge_pending(&mut d.store, &d.sender, &settings, helpdesk::cli::now()).unwrap();
    assert_eq!((again.queued, again.withheld), (0, 0));
}

#[test]
fn smtp_451_then_success_is_delivered_once() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("t1@customer.example", "Temporary trouble"),
    );
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    d.write_and_approve(&number, "Hello,\n\nhere is the answer.");
    srv.inject_smtp_failure(451, 1);
    let first = d.flush();
    assert_eq!(
        (first.sent, first.retrying, first.failed),
        (0, 1, 0),
        "{first:?}"
    );
    let row = &outbox::list(d.store.conn(), &[]).unwrap()[0];
    assert_eq!(row.state, OutboxState::Queued);
    assert!(
        row.last_error.as_deref().unwrap().starts_with("451"),
        "{row:?}"
    );
    let second = d.flush();
    assert_eq!(
        (second.sent, second.retrying, second.failed),
        (1, 0, 0),
        "{second:?}"
    );
    exactly(&srv, "customer", "INBOX", 1);
    assert_eq!(outbox::list(d.store.conn(), &[]).unwrap()[0].attempts, 2);
}

#[test]
fn smtp_550_fails_with_the_servers_text_and_can_be_retried() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("p1@customer.example", "Permanent trouble"),
    );
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    d.write_and_approve(&number, "Hello,\n\nhere is the answer.");
    srv.inject_smtp_failure(550, 1);
    let r = d.flush();
    assert_eq!((r.sent, r.failed), (0, 1), "{r:?}");
    let row = outbox::list(d.store.conn(), &[]).unwrap().remove(0);
    assert_eq!(row.state, OutboxState::Failed);
    let err = row.last_error.clone().unwrap();
    assert!(
        err.contains("550") && err.contains("Message rejected (injected)"),
        "{err}"
    );
    assert_eq!(d.draft_state(&number), DraftState::Failed);
    let draft_id = messages::latest_draft(d.store.conn(), d.id(&number))
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        messages::draft_error(d.store.conn(), draft_id)
            .unwrap()
            .as_deref(),
        Some(err.as_str())
    );

    // `helpdesk outbox` shows it with its error.
    let home = tempfile::tempdir().unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(["--store"])
        .arg(d.dir.path().join("store.sqlite3"))
        .arg("outbox")
        .env("HOME", home.path())
        .env("XDG_CONFIG_HOME", home.path().join("config"))
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("Message rejected (injected)"),
        "{}",
        stdout(&o)
    );

    // The admin retries: it goes out once.
    assert!(review::retry(&mut d.store, row.id, helpdesk::cli::now()).unwrap());
    let again = d.flush();
    assert_eq!((again.sent, again.failed), (1, 0), "{again:?}");
    exactly(&srv, "customer", "INBOX", 1);
    assert_eq!(d.draft_state(&number), DraftState::Sent);
}

#[test]
fn header_injection_in_the_subject_and_display_name_adds_no_header() {
    let srv = MailServers::start();
    srv.deliver("support", &question("h1@customer.example", "Harmless"));
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    // As if a subject or a configured name carried raw line breaks past every other check.
    d.store
        .conn()
        .execute(
            "UPDATE messages SET subject = 'Help\r\nBcc: evil@attacker.example\r\nX-Injected: yes'",
            [],
        )
        .unwrap();
    d.sender.name = "Support\r\nX-Injected: yes\r\nBcc: evil@attacker.example".into();
    d.write_and_approve(&number, "Hello,\n\nanswer.");
    assert_eq!(d.flush().sent, 1);
    let inbox = exactly(&srv, "customer", "INBOX", 1);
    let names: Vec<String> = headers(&inbox[0]).into_iter().map(|(n, _)| n).collect();
    assert!(
        !names.iter().any(|n| n == "bcc" || n == "x-injected"),
        "{names:?}"
    );
    for single in ["subject", "from", "to", "message-id"] {
        assert_eq!(
            names.iter().filter(|n| *n == single).count(),
            1,
            "{single}: {names:?}"
        );
    }
    let subject = decoded_subject(&inbox[0]);
    assert!(
        subject.starts_with("Re: Help Bcc: evil@attacker.example"),
        "{subject}"
    );
}

#[test]
fn two_hundred_replies_go_over_one_smtp_connection() {
    let srv = MailServers::start();
    srv.seed_maildir(
        "support",
        (0..200).map(|i| question(&format!("m{i}@customer.example"), &format!("Question {i}"))),
    );
    let mut d = desk(&srv, false);
    assert_eq!(d.sync().fetched, 200);
    for number in d.numbers() {
        d.write_and_approve(&number, "Hello,\n\nthe answer is in our docs.");
    }
    let (conns_before, logins_before) = srv.smtp_stats();
    let started = Instant::now();
    let r = d.flush();
    let secs = started.elapsed().as_secs_f64();
    assert_eq!((r.sent, r.failed, r.connections), (200, 0, 1), "{r:?}");
    let (conns, logins) = srv.smtp_stats();
    assert_eq!((conns - conns_before, logins - logins_before), (1, 1));
    eprintln!(
        "200 replies sent over one SMTP connection (plus Sent copies) in {secs:.2} s: {:.0} messages/s",
        200.0 / secs
    );
    exactly(&srv, "customer", "INBOX", 200);
    assert_eq!(srv.fetch_all("support", "Sent").len(), 200);
}

/// A config for the real binary, with passwords from the environment.
fn write_config(srv: &MailServers, dir: &Path) -> PathBuf {
    write_config_with(srv, dir, "")
}

fn write_config_with(srv: &MailServers, dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("config.toml");
    let ca = srv.ca_cert.display();
    std::fs::write(
        &path,
        format!(
            r#"[account]
name = "Lumen Support"
address = "{SUPPORT}"

[imap]
host = "localhost"
port = {imaps}
security = "tls"
username = "support"
password_env = "TEST_MAIL_PASSWORD"
tls_ca_file = "{ca}"

[smtp]
host = "localhost"
port = {smtp}
security = "starttls"
username = "support"
password_env = "TEST_MAIL_PASSWORD"
tls_ca_file = "{ca}"
save_sent = "Sent"
retry_seconds = 0
{extra}
"#,
            imaps = srv.imaps_port,
            smtp = srv.smtp_port,
        ),
    )
    .unwrap();
    path
}

fn run(
    srv: &MailServers,
    dir: &Path,
    config: &Path,
    args: &[&str],
    abort_at: Option<&str>,
) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    c.arg("--config")
        .arg(config)
        .arg("--store")
        .arg(dir.join("store.sqlite3"))
        .args(args)
        .env("HOME", dir)
        .env("TEST_MAIL_PASSWORD", srv.password("support"))
        .env_remove("HELPDESK_TEST_ABORT_AT");
    if let Some(at) = abort_at {
        c.env("HELPDESK_TEST_ABORT_AT", at);
    }
    c.output().unwrap()
}

/// Approves one reply with the CLI and kills `helpdesk send` at `abort_at`; `tamper` may then
/// change the store as a different crash point would have left it. Returns the store path.
fn crash_while_sending(srv: &MailServers, dir: &Path, abort_at: &str, tamper: &str) {
    let config = write_config(srv, dir);
    let o = run(srv, dir, &config, &["sync"], None);
    assert!(o.status.success(), "sync: {}", stderr(&o));
    let store_path = dir.join("store.sqlite3");
    let number = {
        let mut store = Store::open(&store_path).unwrap();
        let t = tickets::list(store.conn(), &Default::default())
            .unwrap()
            .remove(0);
        review::edit(
            &mut store,
            t.id,
            "Hello,\n\nthe answer.",
            helpdesk::cli::now(),
        )
        .unwrap();
        t.number
    };
    let o = run(srv, dir, &config, &["approve", &number], None);
    assert!(o.status.success(), "approve: {}", stderr(&o));
    let o = run(srv, dir, &config, &["send"], Some(abort_at));
    assert!(
        !o.status.success(),
        "send was meant to die at {abort_at}: {}",
        stdout(&o)
    );
    {
        let store = Store::open(&store_path).unwrap();
        let row = outbox::list(store.conn(), &[]).unwrap().remove(0);
        assert_eq!(row.state, OutboxState::Sending, "{row:?}");
        if !tamper.is_empty() {
            store.conn().execute_batch(tamper).unwrap();
        }
    }
    let o = run(srv, dir, &config, &["send"], None);
    assert!(o.status.success(), "send after the crash: {}", stderr(&o));
    assert!(
        stdout(&o).contains("found delivered (not sent again)"),
        "{}",
        stdout(&o)
    );
    exactly(srv, "customer", "INBOX", 1);
    exactly(srv, "support", "Sent", 1);
    let store = Store::open(&store_path).unwrap();
    let row = outbox::list(store.conn(), &[]).unwrap().remove(0);
    assert_eq!((row.state, row.attempts), (OutboxState::Sent, 1), "{row:?}");
    let id = tickets::by_number(store.conn(), &number)
        .unwrap()
        .unwrap()
        .id;
    assert_eq!(
        tickets::state(store.conn(), id).unwrap().status,
        TicketStatus::Waiting
    );
    // Nothing is left to send.
    let o = run(srv, dir, &config, &["send", "--dry-run"], None);
    assert_eq!(stdout(&o).trim(), "nothing to send");
}

#[test]
fn killed_after_the_server_accepted_it_the_reply_is_not_sent_twice() {
    let srv = MailServers::start();
    srv.deliver("support", &question("k1@customer.example", "Crash one"));
    let dir = tempfile::tempdir().unwrap();
    crash_while_sending(&srv, dir.path(), "accepted", "");
}

#[test]
fn killed_after_the_sent_copy_the_reply_is_not_sent_twice() {
    let srv = MailServers::start();
    srv.deliver("support", &question("k2@customer.example", "Crash two"));
    let dir = tempfile::tempdir().unwrap();
    crash_while_sending(&srv, dir.path(), "sent-copy", "");
}

#[test]
fn an_interrupted_send_found_in_the_sent_folder_is_not_sent_again() {
    // The acceptance never reached the store (as with a server that files sent mail itself):
    // the Sent folder alone proves the message left.
    let srv = MailServers::start();
    srv.deliver("support", &question("k3@customer.example", "Crash three"));
    let dir = tempfile::tempdir().unwrap();
    crash_while_sending(
        &srv,
        dir.path(),
        "sent-copy",
        "UPDATE outbox SET smtp_accepted_at = NULL, smtp_response = NULL, sent_copy_at = NULL",
    );
}

#[test]
fn an_interrupted_send_absent_from_sent_is_sent_exactly_once() {
    let srv = MailServers::start();
    srv.deliver("support", &question("k4@customer.example", "Crash four"));
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    d.write_and_approve(&number, "Hello,\n\nthe answer.");
    // Died after claiming the row, before SMTP.
    d.store
        .conn()
        .execute("UPDATE outbox SET state = 'sending', attempts = 1", [])
        .unwrap();
    let r = d.flush();
    assert_eq!((r.requeued, r.sent), (1, 1), "{r:?}");
    exactly(&srv, "customer", "INBOX", 1);
}

#[test]
fn an_approval_can_be_taken_back_until_it_is_sent() {
    let srv = MailServers::start();
    srv.deliver("support", &question("u1@customer.example", "Undo"));
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    let id = d.id(&number);
    d.write_and_approve(&number, "First version.");
    review::unapprove(&mut d.store, id, helpdesk::cli::now()).unwrap();
    assert_eq!(d.draft_state(&number), DraftState::Drafted);
    assert!(outbox::list(d.store.conn(), &[]).unwrap().is_empty());
    assert_eq!(d.flush().sent, 0);
    let a = d.write_and_approve(&number, "Second version.");
    assert_eq!(d.flush().sent, 1);
    let err = review::unapprove(&mut d.store, id, helpdesk::cli::now()).unwrap_err();
    assert!(err.to_string().contains("sent"), "{err}");
    let inbox = exactly(&srv, "customer", "INBOX", 1);
    assert_eq!(
        header(&inbox[0], "message-id").unwrap(),
        format!("<{}>", a.message_id)
    );
    assert!(String::from_utf8_lossy(&inbox[0]).contains("Second version."));
}

#[test]
fn with_the_smtp_server_down_replies_wait_in_the_outbox() {
    let srv = MailServers::start();
    srv.deliver("support", &question("o1@customer.example", "Offline"));
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    d.write_and_approve(&number, "Hello,\n\nanswer.");
    let real_port = d.out.smtp.port;
    d.out.smtp.port = srv.free_port();
    let r = d.flush();
    assert_eq!(r.sent, 0);
    let why = r.stopped.unwrap();
    assert!(
        why.contains("cannot reach the SMTP server localhost"),
        "{why}"
    );
    let row = outbox::list(d.store.conn(), &[]).unwrap().remove(0);
    assert_eq!((row.state, row.attempts), (OutboxState::Queued, 0));
    d.out.smtp.port = real_port;
    assert_eq!(d.flush().sent, 1);
    exactly(&srv, "customer", "INBOX", 1);
}

#[test]
fn sync_acknowledges_a_new_ticket_and_doctor_checks_the_smtp_login() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("s1@customer.example", "Where is my invoice?"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = write_config_with(&srv, dir.path(), "\n[tickets]\nacknowledge = true\n");
    let o = run(&srv, dir.path(), &config, &["sync"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("acknowledgments: 1 queued"),
        "{}",
        stdout(&o)
    );
    let inbox = exactly(&srv, "customer", "INBOX", 1);
    assert_eq!(
        header(&inbox[0], "auto-submitted").as_deref(),
        Some("auto-replied")
    );
    // A second sync has nothing new to acknowledge.
    let o = run(&srv, dir.path(), &config, &["sync"], None);
    assert!(o.status.success(), "{}", stderr(&o));
    exactly(&srv, "customer", "INBOX", 1);

    let o = run(&srv, dir.path(), &config, &["doctor"], None);
    let out = stdout(&o) + &stderr(&o);
    assert!(
        out.contains("support@localhost:") && out.contains("logged in"),
        "{out}"
    );
    let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
    let o = c
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(dir.path().join("store.sqlite3"))
        .arg("doctor")
        .env("HOME", dir.path())
        .env("TEST_MAIL_PASSWORD", "wrong-password")
        .output()
        .unwrap();
    let out = stdout(&o) + &stderr(&o);
    assert!(!o.status.success(), "{out}");
    assert!(out.contains("refused the login of support"), "{out}");
    assert!(
        !out.contains("wrong-password"),
        "the password leaked: {out}"
    );
}

#[test]
fn implicit_tls_delivers_and_an_untrusted_certificate_is_refused() {
    let srv = MailServers::start();
    srv.deliver(
        "support",
        &question("tls1@customer.example", "Over implicit TLS"),
    );
    let mut d = desk(&srv, false);
    d.sync();
    let number = d.numbers().remove(0);
    d.write_and_approve(&number, "Hello,\n\nsent over implicit TLS.");
    d.out.smtp.security = Security::Tls;
    d.out.smtp.port = srv.smtps_port;
    // Without the private CA the server's certificate is not trusted: nothing is sent.
    d.out.smtp.ca_file = None;
    let r = d.flush();
    assert_eq!(r.sent, 0);
    let why = r.stopped.unwrap();
    assert!(
        why.contains("localhost") && why.contains("security"),
        "{why}"
    );
    assert_eq!(
        outbox::list(d.store.conn(), &[]).unwrap()[0].state,
        OutboxState::Queued
    );
    d.out.smtp.ca_file = Some(srv.ca_cert.clone());
    let r = d.flush();
    assert_eq!((r.sent, r.connections), (1, 1), "{r:?}");
    let inbox = exactly(&srv, "customer", "INBOX", 1);
    assert!(String::from_utf8_lossy(&inbox[0]).contains("sent over implicit TLS"));
}
