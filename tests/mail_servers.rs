//! The test mail servers themselves (tests/support/servers.rs): Dovecot over IMAPS, STARTTLS
//! and LMTP, and the SMTP server delivering into it, with failure injection and counters.

mod support;

use std::net::{Ipv4Addr, TcpStream};
use std::time::{Duration, Instant};

use support::mail;
use support::servers::{MailServers, SmtpClient, base64};

fn msg(i: usize) -> Vec<u8> {
    mail()
        .from(&format!("Customer {i} <c{i}@customer.example>"))
        .subject(&format!("Question {i}"))
        .id(&format!("q{i}@customer.example"))
        .body(&format!("Hello, question number {i}.\n.leading dot\n"))
        .build()
}

fn tcp(port: u16) -> TcpStream {
    let s = TcpStream::connect_timeout(&(Ipv4Addr::LOCALHOST, port).into(), Duration::from_secs(5))
        .unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(20))).unwrap();
    s
}

fn tls(srv: &MailServers) -> native_tls::TlsConnector {
    let pem = std::fs::read(&srv.ca_cert).unwrap();
    native_tls::TlsConnector::builder()
        .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
        .build()
        .unwrap()
}

/// One message from support to the customer, over an authenticated SMTP client.
fn send<S: std::io::Read + std::io::Write>(c: &mut SmtpClient<S>, subject: &str) -> (u16, String) {
    c.command("MAIL FROM:<support@lumencloud.example>", 250);
    c.command("RCPT TO:<customer@customer.example>", 250);
    c.command("DATA", 354);
    let raw = mail()
        .from("Support <support@lumencloud.example>")
        .header("To", "customer@customer.example")
        .subject(subject)
        .body("Here is your answer.\n.\n..two dots\n")
        .build();
    c.send_data(&raw)
}

fn subjects(messages: &[Vec<u8>]) -> Vec<String> {
    messages
        .iter()
        .filter_map(|m| {
            String::from_utf8_lossy(m)
                .lines()
                .find_map(|l| l.strip_prefix("Subject: ").map(str::to_string))
        })
        .collect()
}

#[test]
fn mail_delivered_over_lmtp_is_read_over_imaps_and_starttls() {
    let started = Instant::now();
    let srv = MailServers::start();
    eprintln!(
        "MailServers::start took {} ms",
        started.elapsed().as_millis()
    );
    for i in 0..3 {
        srv.deliver("support", &msg(i));
    }
    let tls = tls(&srv);

    // IMAPS, host name checked against the certificate.
    let stream = tls.connect("localhost", tcp(srv.imaps_port)).unwrap();
    let mut client = imap::Client::new(stream);
    client.read_greeting().unwrap();
    let mut s = client
        .login("support", srv.password("support"))
        .map_err(|(e, _)| e)
        .unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 3);
    let names = s.list(None, Some("*")).unwrap();
    let sent = names
        .iter()
        .find(|n| n.name() == "Sent")
        .expect("a Sent mailbox");
    assert!(
        sent.attributes()
            .contains(&imap::types::NameAttribute::Custom("\\Sent".into()))
    );
    assert!(names.iter().any(|n| n.name() == "Archive"));
    let fetched = s.fetch("1", "BODY.PEEK[]").unwrap();
    let body = String::from_utf8_lossy(fetched[0].body().unwrap()).into_owned();
    assert!(body.contains("Subject: Question 0\r\n"), "{body}");
    assert!(
        body.contains("\r\n.leading dot\r\n"),
        "dot-stuffing undone: {body}"
    );
    s.logout().unwrap();

    // STARTTLS on the plain port.
    let mut client = imap::Client::new(tcp(srv.imap_port));
    client.read_greeting().unwrap();
    let client = client.secure("localhost", &tls).unwrap();
    let mut s = client
        .login("support@lumencloud.example", srv.password("support"))
        .map_err(|(e, _)| e)
        .unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 3);
    s.logout().unwrap();

    assert_eq!(srv.fetch_all("customer", "INBOX").len(), 0);
}

#[test]
fn a_wrong_password_is_a_no() {
    let srv = MailServers::start();
    let stream = tls(&srv).connect("localhost", tcp(srv.imaps_port)).unwrap();
    let mut client = imap::Client::new(stream);
    client.read_greeting().unwrap();
    let started = Instant::now();
    match client.login("support", "not-the-password") {
        Err((imap::Error::No(text), _)) => assert!(text.contains("AUTHENTICATIONFAILED"), "{text}"),
        Err((e, _)) => panic!("expected NO, got {e:?}"),
        Ok(_) => panic!("logged in with a wrong password"),
    }
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn smtp_auth_plain_delivers_to_the_customer_mailbox() {
    let srv = MailServers::start();
    let mut c = srv.smtp_client();
    let ehlo = c.command("EHLO helpdesk.test", 250);
    assert!(
        ehlo.contains("STARTTLS") && ehlo.contains("AUTH LOGIN PLAIN"),
        "{ehlo}"
    );
    // No relaying without AUTH.
    let (code, _) = c.send("MAIL FROM:<support@lumencloud.example>");
    assert_eq!(code, 530);
    assert_eq!(c.auth_plain("support", srv.password("support")).0, 235);
    let (code, text) = send(&mut c, "Re: Question 1");
    assert_eq!(code, 250, "{text}");
    c.command("QUIT", 221);

    let got = srv.wait_for_messages("customer", "INBOX", 1);
    assert_eq!(subjects(&got), ["Re: Question 1"]);
    let body = String::from_utf8_lossy(&got[0]);
    assert!(body.contains("\r\n.\r\n..two dots\r\n"), "{body}");
    assert!(
        body.contains("Delivered-To: customer@customer.example"),
        "{body}"
    );
    assert_eq!(srv.smtp_stats(), (1, 1));

    // A wrong password and an unknown recipient are refused.
    let mut c = srv.smtp_client();
    c.command("EHLO helpdesk.test", 250);
    assert_eq!(c.auth_plain("support", "wrong").0, 535);
    assert_eq!(c.auth_plain("customer", srv.password("customer")).0, 235);
    c.command("MAIL FROM:<customer@customer.example>", 250);
    assert_eq!(c.send("RCPT TO:<nobody@lumencloud.example>").0, 550);
    assert_eq!(srv.smtp_stats(), (2, 2));
}

#[test]
fn smtp_starttls_auth_login_and_injected_failures() {
    let srv = MailServers::start();
    let mut c = srv.smtp_client();
    c.command("EHLO helpdesk.test", 250);
    let mut c = c.starttls(&tls(&srv));
    c.command("EHLO helpdesk.test", 250);
    c.command("AUTH LOGIN", 334);
    c.command(&base64(b"support"), 334);
    c.command(&base64(srv.password("support").as_bytes()), 235);

    srv.inject_smtp_failure(451, 1);
    srv.inject_smtp_failure(550, 1);
    let (code, text) = send(&mut c, "first try");
    assert_eq!(
        (code, text.as_str()),
        (451, "4.3.0 Try again later (injected)")
    );
    let (code, text) = send(&mut c, "second try");
    assert_eq!(code, 550, "{text}");
    let (code, text) = send(&mut c, "third try");
    assert_eq!(code, 250, "{text}");
    c.command("QUIT", 221);

    let got = srv.wait_for_messages("customer", "INBOX", 1);
    assert_eq!(subjects(&got), ["third try"]);
    // STARTTLS does not count as a second connection.
    assert_eq!(srv.smtp_stats(), (1, 1));
}

#[test]
fn dovecot_restarts_on_the_same_ports_and_seeded_mail_and_uidvalidity() {
    let mut srv = MailServers::start();
    srv.deliver("support", &msg(0));
    srv.seed_maildir("support", (1..40).map(msg));
    let mut s = srv.imap("support");
    let before = s.select("INBOX").unwrap();
    assert_eq!(before.exists, 40);
    s.logout().unwrap();

    srv.reset_uidvalidity("support");
    let mut s = srv.imap("support");
    let after = s.select("INBOX").unwrap();
    assert_eq!(after.exists, 40);
    assert_ne!(after.uid_validity, before.uid_validity);

    let ports = (srv.imap_port, srv.imaps_port, srv.lmtp_port);
    let stopping = Instant::now();
    srv.stop_dovecot();
    eprintln!("stop_dovecot took {} ms", stopping.elapsed().as_millis());
    // The open session is gone, and so is the listener.
    assert!(s.noop().is_err());
    assert!(TcpStream::connect((Ipv4Addr::LOCALHOST, srv.imaps_port)).is_err());
    // SMTP stays up but cannot deliver: a temporary failure.
    let mut c = srv.smtp_client();
    c.command("EHLO helpdesk.test", 250);
    c.auth_plain("support", srv.password("support"));
    let (code, text) = send(&mut c, "while down");
    assert_eq!(code, 451, "{text}");

    let starting = Instant::now();
    srv.start_dovecot();
    eprintln!("start_dovecot took {} ms", starting.elapsed().as_millis());
    assert_eq!((srv.imap_port, srv.imaps_port, srv.lmtp_port), ports);
    let (code, text) = send(&mut c, "after restart");
    assert_eq!(code, 250, "{text}");
    assert_eq!(
        subjects(&srv.wait_for_messages("customer", "INBOX", 1)),
        ["after restart"]
    );
    srv.deliver("support", &msg(40));
    assert_eq!(srv.fetch_all("support", "INBOX").len(), 41);
}
