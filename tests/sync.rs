//! IMAP sync against a real Dovecot on 127.0.0.1 (tests/support/servers.rs).

mod support;

use std::time::Duration;

use helpdesk::config::Config;
use helpdesk::mail::imap::{self, AfterIngest, Auth, ImapSettings, Progress, Security, Tls};
use helpdesk::secret::Secret;
use helpdesk::store::{Store, messages};
use support::servers::MailServers;
use support::{helpdesk, mail, stderr};

struct Client {
    _dir: tempfile::TempDir,
    store: Store,
    ingest: helpdesk::mail::ingest::Ingest,
    settings: ImapSettings,
}

fn settings(srv: &MailServers, security: Security) -> ImapSettings {
    ImapSettings {
        host: "localhost".into(),
        port: match security {
            Security::Tls => srv.imaps_port,
            _ => srv.imap_port,
        },
        security,
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
        batch: 200,
    }
}

fn client(srv: &MailServers, security: Security) -> Client {
    let dir = tempfile::tempdir().unwrap();
    let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
    let mut config = Config::default();
    config.account.address = Some("support@lumencloud.example".into());
    let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
    Client {
        _dir: dir,
        store,
        ingest,
        settings: settings(srv, security),
    }
}

impl Client {
    fn sync(&mut self) -> Result<imap::SyncReport, imap::SyncError> {
        imap::sync_once(
            &mut self.store,
            &self.ingest,
            &self.settings,
            &helpdesk::cli::now,
            &mut |_| {},
        )
    }
    fn count(&self) -> i64 {
        messages::count(self.store.conn()).unwrap()
    }
    /// How many tickets search finds for `word` (the sync indexes in a thread of its own).
    fn found(&self, word: &str) -> usize {
        helpdesk::store::search::tickets(self.store.conn(), word, 5000)
            .unwrap()
            .len()
    }
}

fn msg(i: usize) -> Vec<u8> {
    mail()
        .from(&format!("Customer {i} <c{i}@customer.example>"))
        .subject(&format!("Question {i}"))
        .id(&format!("q{i}@customer.example"))
        .body(&format!("Hello, question number {i}.\n"))
        .build()
}

fn seed(srv: &MailServers, range: std::ops::Range<usize>) {
    for i in range {
        srv.deliver("support", &msg(i));
    }
}

#[test]
fn first_sync_then_nothing_then_only_the_new_mail() {
    let srv = MailServers::start();
    seed(&srv, 0..5);
    let mut c = client(&srv, Security::Tls);
    let r = c.sync().unwrap();
    assert_eq!((r.fetched, r.summary.new_tickets), (5, 5));
    let again = c.sync().unwrap();
    assert_eq!(again.fetched, 0);
    seed(&srv, 5..8);
    let third = c.sync().unwrap();
    assert_eq!(third.fetched, 3);
    assert_eq!(c.count(), 8);
    assert_eq!(c.found("question"), 8, "every synced message is indexed");
    support::assert_foreign_keys_hold(c.store.conn());
}

#[test]
fn starttls_works_and_sync_marks_messages_seen() {
    let srv = MailServers::start();
    seed(&srv, 0..3);
    let mut c = client(&srv, Security::Starttls);
    let r = c.sync().unwrap();
    assert_eq!((r.fetched, r.flagged), (3, 3));
    let mut s = imap::connect(&c.settings).unwrap();
    s.select("INBOX").unwrap();
    let unseen = s.uid_search("UNSEEN").unwrap();
    assert!(unseen.is_empty(), "still unseen: {unseen:?}");
}

#[test]
fn after_ingest_move_empties_the_inbox_into_the_folder() {
    let srv = MailServers::start();
    seed(&srv, 0..4);
    let mut c = client(&srv, Security::Tls);
    c.settings.after_ingest = AfterIngest::Move("Archive".into());
    assert_eq!(c.sync().unwrap().fetched, 4);
    let mut s = imap::connect(&c.settings).unwrap();
    assert_eq!(s.select("INBOX").unwrap().exists, 0);
    assert_eq!(s.select("Archive").unwrap().exists, 4);
    // Moved mail is not fetched again, and new mail still is.
    seed(&srv, 4..5);
    assert_eq!(c.sync().unwrap().fetched, 1);
    assert_eq!(c.count(), 5);
}

#[test]
fn after_ingest_none_leaves_mail_unseen() {
    let srv = MailServers::start();
    seed(&srv, 0..2);
    let mut c = client(&srv, Security::Tls);
    c.settings.after_ingest = AfterIngest::Nothing;
    c.sync().unwrap();
    let mut s = imap::connect(&c.settings).unwrap();
    s.select("INBOX").unwrap();
    assert_eq!(s.uid_search("UNSEEN").unwrap().len(), 2);
}

#[test]
fn a_uidvalidity_reset_creates_no_duplicate() {
    let mut srv = MailServers::start();
    seed(&srv, 0..6);
    let mut c = client(&srv, Security::Tls);
    c.settings.after_ingest = AfterIngest::Nothing;
    assert_eq!(c.sync().unwrap().fetched, 6);
    srv.reset_uidvalidity("support");
    seed(&srv, 6..7);
    let r = c.sync().unwrap();
    assert!(r.uidvalidity_reset);
    assert_eq!(r.fetched, 7);
    assert_eq!(r.summary.duplicates, 6);
    assert_eq!(c.count(), 7);
    support::assert_foreign_keys_hold(c.store.conn());
}

#[test]
fn a_server_stopped_mid_sync_loses_and_duplicates_nothing() {
    let mut srv = MailServers::start();
    let total = 1200;
    srv.seed_maildir("support", (0..total).map(msg));
    let mut c = client(&srv, Security::Tls);
    c.settings.batch = 100;
    // Stop Dovecot as soon as the first batch is stored.
    let stopped = std::sync::atomic::AtomicBool::new(false);
    let result = {
        let srv_ref = &mut srv;
        let mut progress = |p: Progress| {
            if let Progress::Stored { .. } = p
                && !stopped.swap(true, std::sync::atomic::Ordering::SeqCst)
            {
                srv_ref.stop_dovecot();
            }
        };
        imap::sync_once(
            &mut c.store,
            &c.ingest,
            &c.settings,
            &helpdesk::cli::now,
            &mut progress,
        )
    };
    assert!(
        result.is_err(),
        "the sync should have failed when the server went away"
    );
    let partial = c.count();
    assert!(
        partial >= 100 && partial < total as i64,
        "{partial} stored before the stop"
    );
    // Also after a pass that failed while storing.
    support::assert_foreign_keys_hold(c.store.conn());
    srv.start_dovecot();
    let r = c.sync().unwrap();
    assert_eq!(c.count(), total as i64);
    assert_eq!(r.summary.duplicates, 0, "nothing is fetched twice");
    let distinct: i64 = c
        .store
        .conn()
        .query_row("SELECT count(DISTINCT message_id) FROM messages", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(distinct, total as i64);
    assert_eq!(c.found("question"), total, "every message is indexed once");
    support::assert_foreign_keys_hold(c.store.conn());
}

#[test]
fn a_20_mb_message_and_1000_messages_in_one_sync() {
    let srv = MailServers::start();
    srv.seed_maildir("support", (0..1000).map(msg));
    let big = {
        let line = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\n";
        let mut body = String::with_capacity(20 * 1024 * 1024 + 100);
        while body.len() < 20 * 1024 * 1024 {
            body.push_str(line);
        }
        mail()
            .from("big@customer.example")
            .subject("Huge log")
            .id("huge@customer.example")
            .body(&body)
            .build()
    };
    // IMAP serves CRLF line ends; with CRLF in the file the bytes must come back unchanged.
    let big = String::from_utf8(big)
        .unwrap()
        .replace('\n', "\r\n")
        .into_bytes();
    srv.seed_maildir("support", std::iter::once(big.clone()));
    let mut c = client(&srv, Security::Tls);
    let r = c.sync().unwrap();
    assert_eq!(r.fetched, 1001);
    let raw = messages::raw(c.store.conn(), "huge@customer.example")
        .unwrap()
        .unwrap();
    assert_eq!(raw.len(), big.len());
    assert!(raw == big, "the 20 MB message changed on the way");
    assert_eq!(c.found("question"), 1000);
    assert_eq!(c.found("huge"), 1);
}

#[test]
fn a_wrong_password_is_a_clear_error_and_a_non_zero_exit() {
    let srv = MailServers::start();
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[account]\naddress = \"support@lumencloud.example\"\n\n[imap]\nhost = \"localhost\"\nport = {}\nsecurity = \"tls\"\nusername = \"support\"\npassword_command = \"echo wrong-password\"\ntls_ca_file = \"{}\"\n",
            srv.imaps_port,
            srv.ca_cert.display()
        ),
    )
    .unwrap();
    let store = dir.path().join("s.sqlite3");
    let out = helpdesk(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "sync",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let e = stderr(&out);
    assert!(
        e.contains("IMAP login to localhost as support was rejected"),
        "{e}"
    );
    assert!(e.contains("password_command"), "{e}");
    assert!(!e.contains("wrong-password"), "the password leaked: {e}");

    // The right password through the binary works, with a summary.
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap().replace(
            "echo wrong-password",
            &format!("echo {}", srv.password("support")),
        ),
    )
    .unwrap();
    srv.deliver("support", &msg(1));
    let out = helpdesk(
        dir.path(),
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "sync",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(support::stdout(&out).contains("INBOX: 1 fetched"));
}

#[test]
fn an_unreachable_server_names_host_and_port() {
    let srv = MailServers::start();
    let mut c = client(&srv, Security::Tls);
    c.settings.port = srv.free_port();
    let e = c.sync().unwrap_err().to_string();
    assert!(
        e.contains("cannot connect to IMAP server localhost:"),
        "{e}"
    );
    assert!(e.contains("check [imap] host and port"), "{e}");
}

#[test]
fn a_failing_after_ingest_action_never_blocks_new_mail() {
    let srv = MailServers::start();
    seed(&srv, 0..2);
    let mut c = client(&srv, Security::Tls);
    c.settings.after_ingest = AfterIngest::Move("NoSuchFolder".into());
    let e = c.sync().unwrap_err().to_string();
    assert!(e.contains("NoSuchFolder"), "{e}");
    assert_eq!(
        c.count(),
        2,
        "the messages are stored even though the move failed"
    );
    // Still misconfigured: new mail keeps arriving, and the error keeps being reported.
    seed(&srv, 2..3);
    assert!(c.sync().is_err());
    assert_eq!(c.count(), 3);
    // Fixed: the pending action is applied to everything stored.
    c.settings.after_ingest = AfterIngest::Move("Archive".into());
    let r = c.sync().unwrap();
    assert_eq!(r.flagged, 3);
    let mut s = imap::connect(&c.settings).unwrap();
    assert_eq!(s.select("Archive").unwrap().exists, 3);
}

#[test]
fn certificates_are_verified_against_the_ca_and_the_host_name() {
    let srv = MailServers::start();
    // By IP address: the certificate's IP SAN matches.
    let mut s = settings(&srv, Security::Tls);
    s.host = "127.0.0.1".into();
    assert!(imap::connect(&s).is_ok());
    // Without tls_ca_file the self-signed certificate is not trusted (system roots only).
    let mut s = settings(&srv, Security::Tls);
    s.tls.ca_file = None;
    let e = imap::connect(&s).err().unwrap().to_string();
    assert!(e.contains("TLS with localhost:"), "{e}");
    assert!(e.contains("not trusted"), "{e}");
    // STARTTLS checks the same.
    let mut s = settings(&srv, Security::Starttls);
    s.tls.ca_file = None;
    let e = imap::connect(&s).err().unwrap().to_string();
    assert!(e.contains("not trusted"), "{e}");
    // Turning verification off (explicitly) connects.
    let mut s = settings(&srv, Security::Tls);
    s.tls.ca_file = None;
    s.tls.accept_invalid_certs = true;
    assert!(imap::connect(&s).is_ok());
}

#[test]
fn a_trusted_certificate_for_another_name_is_refused() {
    // A TLS server on 127.0.0.1 whose self-signed certificate names only other.example:
    // trusted as a CA, but neither "localhost" nor 127.0.0.1 is in it.
    let srv = MailServers::start();
    let dir = tempfile::tempdir().unwrap();
    let (cert, key) = (dir.path().join("c.pem"), dir.path().join("k.pem"));
    let ok = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args(["-subj", "/CN=other.example"])
        .args(["-addext", "subjectAltName=DNS:other.example"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(ok.success());
    let port = srv.free_port();
    // Killed on drop, so a failing assertion does not leave it running.
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let _server = Kill(
        std::process::Command::new("openssl")
            .args(["s_server", "-quiet", "-naccept", "4"])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .arg("-cert")
            .arg(&cert)
            .arg("-key")
            .arg(&key)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    // Wait (bounded) until it listens.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "s_server did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    for host in ["localhost", "127.0.0.1"] {
        let mut s = settings(&srv, Security::Tls);
        s.host = host.into();
        s.port = port;
        s.tls.ca_file = Some(cert.clone());
        s.connect_timeout = Duration::from_secs(5);
        s.io_timeout = Duration::from_secs(5);
        let e = imap::connect(&s).err().unwrap().to_string();
        assert!(
            e.contains("not trusted") && e.contains("mismatch"),
            "{host}: {e}"
        );
    }
}
