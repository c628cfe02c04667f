//! XOAUTH2 logins (`[imap] oauth2_token_command`, for Gmail and Microsoft 365) against a real
//! Dovecot whose `oauth2` passdb validates every token with an introspection request to a
//! stand-in identity provider on 127.0.0.1 (tests/support/introspection.rs).

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use helpdesk::mail::imap::{self, AfterIngest, Auth, ImapSettings, Security, Tls};
use helpdesk::secret::Secret;
use support::introspection::Introspection;
use support::servers::{MailServers, Options};
use support::{helpdesk, mail, stderr, stdout};

/// The access token the identity provider knows, for `support`.
const TOKEN: &str = "ya29.VALID-support-token";
/// A token it does not know (expired, revoked, or for another client).
const STALE: &str = "ya29.EXPIRED-token-1234";

struct Setup {
    idp: Introspection,
    srv: MailServers,
    dir: tempfile::TempDir,
}

/// The identity provider first (Dovecot asks it on every OAuth 2 login), then the servers.
fn setup() -> Setup {
    let idp = Introspection::start(&[(TOKEN, "support")]);
    let srv = MailServers::start_with(Options {
        oauth2_introspection: Some(idp.url().to_string()),
        ..Options::default()
    });
    Setup {
        idp,
        srv,
        dir: tempfile::tempdir().unwrap(),
    }
}

impl Setup {
    /// A config logging in as `support` with the token `token_command` prints.
    fn config(&self, token_command: &str) -> PathBuf {
        let cfg = self.dir.path().join("config.toml");
        std::fs::write(
            &cfg,
            format!(
                "[account]\naddress = \"support@lumencloud.example\"\n\n[imap]\nhost = \"localhost\"\nport = {}\nsecurity = \"tls\"\nusername = \"support\"\noauth2_token_command = {token_command:?}\ntls_ca_file = {:?}\n",
                self.srv.imaps_port,
                self.srv.ca_cert.display().to_string()
            ),
        )
        .unwrap();
        cfg
    }

    fn run(&self, cfg: &Path, command: &str) -> Output {
        let store = self.dir.path().join("s.sqlite3");
        helpdesk(
            self.dir.path(),
            &[
                "--config",
                cfg.to_str().unwrap(),
                "--store",
                store.to_str().unwrap(),
                command,
            ],
        )
    }

    fn settings(&self, user: &str, token: &str) -> ImapSettings {
        ImapSettings {
            host: "localhost".into(),
            port: self.srv.imaps_port,
            security: Security::Tls,
            tls: Tls {
                ca_file: Some(self.srv.ca_cert.clone()),
                accept_invalid_certs: false,
            },
            username: user.into(),
            auth: Auth::XOAuth2(Secret::new(token)),
            mailbox: "INBOX".into(),
            after_ingest: AfterIngest::Nothing,
            connect_timeout: Duration::from_secs(5),
            io_timeout: Duration::from_secs(20),
            batch: 200,
        }
    }
}

fn msg(i: usize) -> Vec<u8> {
    mail()
        .from(&format!("Customer {i} <c{i}@customer.example>"))
        .subject(&format!("Question {i}"))
        .id(&format!("oauth-q{i}@customer.example"))
        .body(&format!("Hello, question number {i}.\n"))
        .build()
}

#[test]
fn sync_logs_in_with_the_token_from_oauth2_token_command() {
    let s = setup();
    for i in 0..3 {
        s.srv.deliver("support", &msg(i));
    }
    let cfg = s.config(&format!("printf %s {TOKEN}"));
    let out = s.run(&cfg, "sync");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("INBOX: 3 fetched"),
        "{}",
        stdout(&out)
    );

    // The login went through Dovecot's oauth2 passdb: the identity provider was asked about
    // exactly this token, as an RFC 7662 form POST, and said it was active.
    let seen = s.idp.requests();
    assert!(!seen.is_empty(), "the identity provider was never asked");
    for r in &seen {
        assert_eq!(
            (r.method.as_str(), r.path.as_str()),
            ("POST", "/introspect")
        );
        assert_eq!(r.token.as_deref(), Some(TOKEN));
        assert!(r.active);
    }

    // A second sync logs in again (no cached login) and fetches nothing new.
    let asked = s.idp.count(TOKEN);
    let out = s.run(&cfg, "sync");
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stdout(&out).contains("INBOX: 0 fetched"),
        "{}",
        stdout(&out)
    );
    assert!(s.idp.count(TOKEN) > asked);
    assert!(
        !stdout(&out).contains(TOKEN) && !stderr(&out).contains(TOKEN),
        "the token was printed"
    );
}

#[test]
fn password_logins_keep_working_next_to_the_oauth2_passdb() {
    let s = setup();
    s.srv.deliver("support", &msg(1));
    // PLAIN/LOGIN go to the passwd-file passdb only: the identity provider never sees them.
    assert_eq!(s.srv.fetch_all("support", "INBOX").len(), 1);
    assert!(s.idp.requests().is_empty(), "{:?}", s.idp.requests());
    // And the password is no access token: XOAUTH2 with it is refused.
    let e = imap::connect(&s.settings("support", s.srv.password("support")))
        .err()
        .expect("XOAUTH2 with the password must fail");
    assert!(matches!(e, imap::SyncError::Login { .. }), "{e}");
    assert_eq!(s.idp.count(s.srv.password("support")), 1);
}

#[test]
fn a_token_of_another_user_is_refused() {
    let s = setup();
    // The token is valid, but the identity provider says it is support's, not customer's.
    let e = imap::connect(&s.settings("customer", TOKEN))
        .err()
        .expect("customer must not log in with support's token");
    assert!(matches!(e, imap::SyncError::Login { .. }), "{e}");
    assert_eq!(s.idp.count(TOKEN), 1);
    // The same token as support works, through the library too.
    let mut session = imap::connect(&s.settings("support", TOKEN)).expect("XOAUTH2 login");
    session.select("INBOX").expect("SELECT");
    session.logout().ok();
}

#[test]
fn a_rejected_token_is_a_clear_error_that_never_shows_the_token() {
    let s = setup();
    s.srv.deliver("support", &msg(1));
    let cfg = s.config(&format!("printf %s {STALE}"));
    let out = s.run(&cfg, "sync");
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let e = stderr(&out);
    assert!(
        e.contains("IMAP login to localhost as support was rejected"),
        "{e}"
    );
    assert!(e.contains("oauth2_token_command"), "{e}");
    assert!(!e.contains("password_command"), "{e}");
    // Dovecot's RFC 7628 error, which the client acknowledged with an empty response.
    assert!(e.contains("token status \"401\""), "{e}");
    assert!(
        !e.contains(STALE) && !stdout(&out).contains(STALE),
        "the token leaked: {e}"
    );
    // Dovecot asked the identity provider, which said no.
    let seen = s.idp.requests();
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert_eq!(seen[0].token.as_deref(), Some(STALE));
    assert!(!seen[0].active);

    // A failing token command is its own error, naming the key.
    let cfg = s.config("echo 'token cache is locked' >&2; exit 3");
    let out = s.run(&cfg, "sync");
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("oauth2_token_command"),
        "{}",
        stderr(&out)
    );
    assert_eq!(s.idp.requests().len(), 1, "no login without a token");
}

#[test]
fn doctor_reports_the_xoauth2_login() {
    let s = setup();
    s.srv.deliver("support", &msg(1));
    let out = s.run(&s.config(&format!("printf %s {TOKEN}")), "doctor");
    let text = stdout(&out) + &stderr(&out);
    let line = text
        .lines()
        .find(|l| l.contains("imap"))
        .unwrap_or_else(|| panic!("no imap line: {text}"));
    assert!(line.starts_with("ok"), "{text}");
    assert!(line.contains("support@localhost:"), "{line}");
    assert!(line.contains("logged in with XOAUTH2"), "{line}");
    assert!(line.contains("INBOX has 1 messages"), "{line}");
    assert_eq!(s.idp.count(TOKEN), 1);

    let out = s.run(&s.config(&format!("printf %s {STALE}")), "doctor");
    let text = stdout(&out) + &stderr(&out);
    assert!(!out.status.success(), "{text}");
    let line = text
        .lines()
        .find(|l| l.contains("imap"))
        .unwrap_or_else(|| panic!("no imap line: {text}"));
    assert!(line.starts_with("FAIL"), "{text}");
    assert!(line.contains("oauth2_token_command"), "{line}");
    assert!(!text.contains(STALE), "the token leaked: {text}");
}

/// `sync --watch` runs for hours while access tokens last about one: it must ask
/// `oauth2_token_command` again instead of logging in with the token it started with.
#[test]
fn watch_asks_for_a_fresh_token_when_the_old_one_expires() {
    use std::io::BufRead;
    use std::process::{Command, Stdio};
    use std::sync::mpsc;

    const NEXT: &str = "ya29.REFRESHED-support-token";
    let s = setup();
    let token_file = s.dir.path().join("token");
    std::fs::write(&token_file, TOKEN).unwrap();
    let cfg = s.config(&format!("cat {}", token_file.display()));
    std::fs::write(
        &cfg,
        std::fs::read_to_string(&cfg).unwrap() + "poll_seconds = 5\n",
    )
    .unwrap();
    s.srv.deliver("support", &msg(1));

    let mut child = Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .arg("--config")
        .arg(&cfg)
        .arg("--store")
        .arg(s.dir.path().join("s.sqlite3"))
        .args(["sync", "--watch"])
        .env("HOME", s.dir.path())
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_STORE")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, lines) = mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let wait_for = |what: &str, child: &mut std::process::Child| -> Result<(), String> {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        while std::time::Instant::now() < deadline {
            match lines.recv_timeout(Duration::from_millis(200)) {
                Ok(line) if line.contains(what) => return Ok(()),
                Ok(_) | Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("sync --watch exited ({status}) before {what:?}"));
            }
        }
        Err(format!("no {what:?} from sync --watch in 30 s"))
    };
    let first = wait_for("INBOX: 1 fetched", &mut child);

    // The token expires and the helper hands out a new one; then new mail arrives.
    let second = first.and_then(|()| {
        s.idp.revoke(TOKEN);
        s.idp.allow(NEXT, "support");
        std::fs::write(&token_file, NEXT).unwrap();
        s.srv.deliver("support", &msg(2));
        wait_for("INBOX: 1 fetched", &mut child)
    });
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut err).unwrap();
    reader.join().unwrap();
    if let Err(e) = second {
        panic!("{e}; stderr:\n{err}");
    }
    assert!(s.idp.count(NEXT) >= 1, "{:?}", s.idp.requests());
    assert!(
        !err.contains(TOKEN) && !err.contains(NEXT),
        "a token was printed: {err}"
    );
}
