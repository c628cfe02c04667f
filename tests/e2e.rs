//! The real binary in a pseudo-terminal, read back through a terminal emulator (vt100): the
//! demo session a newcomer runs, and escape sequences from mail that must not reach the
//! terminal. Every wait is bounded.

mod support;

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use portable_pty::{CommandBuilder, PtySize, native_pty_system};

/// Records what mail text must never make the terminal do.
#[derive(Default)]
struct Watch {
    titles: Vec<Vec<u8>>,
    clipboard_writes: usize,
}

impl vt100::Callbacks for Watch {
    fn set_window_title(&mut self, _: &mut vt100::Screen, title: &[u8]) {
        self.titles.push(title.to_vec());
    }
    fn copy_to_clipboard(&mut self, _: &mut vt100::Screen, _ty: &[u8], _data: &[u8]) {
        self.clipboard_writes += 1;
    }
}

struct Session {
    parser: vt100::Parser<Watch>,
    bytes: Receiver<Vec<u8>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

const PATIENCE: Duration = Duration::from_secs(15);

impl Session {
    fn start(args: &[&str], home: &std::path::Path, cols: u16, rows: u16) -> Session {
        Session::start_with(args, home, cols, rows, &[])
    }

    fn start_with(
        args: &[&str],
        home: &std::path::Path,
        cols: u16,
        rows: u16,
        env: &[(&str, &str)],
    ) -> Session {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_helpdesk"));
        cmd.args(args);
        cmd.env("HOME", home);
        cmd.env("XDG_CONFIG_HOME", home.join("config"));
        cmd.env("XDG_DATA_HOME", home.join("data"));
        cmd.env("TERM", "xterm-256color");
        cmd.env_remove("HELPDESK_STORE");
        cmd.env_remove("HELPDESK_CONFIG");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.cwd(home);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let (send, bytes) = channel();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 || send.send(buf[..n].to_vec()).is_err() {
                    break;
                }
            }
        });
        Session {
            parser: vt100::Parser::new_with_callbacks(rows, cols, 0, Watch::default()),
            bytes,
            writer,
            child,
            _master: pair.master,
        }
    }

    fn screen(&self) -> String {
        self.parser.screen().contents()
    }

    /// Reads output until the screen satisfies `ok`, or fails after PATIENCE.
    fn wait_for(&mut self, what: &str, ok: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if ok(&self.screen()) {
                return;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "timed out waiting for {what}; screen:\n{}",
                self.screen()
            );
            if let Ok(b) = self
                .bytes
                .recv_timeout(left.min(Duration::from_millis(100)))
            {
                self.parser.process(&b);
            }
        }
    }

    fn wait_text(&mut self, text: &str) {
        let t = text.to_owned();
        self.wait_for(text, move |s| s.contains(&t));
    }

    fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
    }

    /// Waits for the process to end by itself; returns its success.
    fn wait_exit(&mut self) -> bool {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                while let Ok(b) = self.bytes.recv_timeout(Duration::from_millis(50)) {
                    self.parser.process(&b);
                }
                return status.success();
            }
            assert!(
                Instant::now() < deadline,
                "helpdesk did not exit; screen:\n{}",
                self.screen()
            );
            if let Ok(b) = self.bytes.recv_timeout(Duration::from_millis(50)) {
                self.parser.process(&b);
            }
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

#[test]
fn the_demo_session_at_80x24() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(&["demo"], home.path(), 80, 24);
    // 40 tickets less the 5 of machine mail set aside as noise.
    s.wait_text("1/35 tickets");
    assert!(s.parser.screen().alternate_screen());
    s.send("j");
    s.wait_text("2/35 tickets");
    s.send("G");
    s.wait_text("35/35 tickets");
    s.send("g");
    s.wait_text("1/35 tickets");
    // Open the ticket: one pane at a time at 80 columns, the thread now. The list is in SLA
    // order: the oldest unanswered request (2 November) comes first.
    s.send("\r");
    s.wait_text("┌ Thread");
    s.wait_text("TKT-2026-00002");
    s.send("\t");
    s.wait_text("┌ Draft");
    s.send("?");
    s.wait_text("any other key closes this");
    s.send("x");
    s.wait_for("help closed", |sc| {
        !sc.contains("any other key closes this")
    });
    // The offline drafter runs in the background; then edit the draft inline and approve it.
    s.wait_text("drafted ·");
    s.send("e");
    s.wait_text("Editing the reply");
    s.send("Dear customer, ");
    s.send("\x13"); // Ctrl-S
    s.wait_text("draft saved");
    s.wait_text("Dear customer, H");
    s.send("a");
    s.wait_text("approved: queued in the outbox");
    s.wait_text("in the outbox, sent when online");
    // The command line reaches every action: take the approval back by name.
    s.send(":undo\r");
    s.wait_text("approval taken back");
    // Search as you type.
    s.send("/okta aud");
    s.wait_text("1 found");
    s.wait_text("SSO login fails with Ok");
    s.send("\r");
    s.wait_text("search: okta aud");
    // Filter: f, s for status, o for open (clears the search).
    s.send("f");
    s.wait_text("Filter by: s status");
    s.send("so");
    s.wait_text("status: open");
    assert!(!s.screen().contains("search: okta aud"), "{}", s.screen());
    s.send("q");
    assert!(s.wait_exit(), "helpdesk demo did not exit cleanly");
    assert!(
        !s.parser.screen().alternate_screen(),
        "the terminal was not restored"
    );
}

#[test]
fn escape_sequences_in_mail_do_not_reach_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let eml = home.path().join("evil.eml");
    std::fs::write(
        &eml,
        b"From: Mallory <m@evil.example>\nTo: support@lumencloud.example\nSubject: pwned \x1b]0;TITLE-HACK\x07 \x1b[2J \x1b]52;c;ZXZpbA==\x07 end\nMessage-ID: <esc@evil.example>\n\nbody \x1b[31mred \x1b]2;ANOTHER\x07 text\n",
    )
    .unwrap();
    let store = home.path().join("s.sqlite3");
    let out = support::helpdesk(
        home.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "import",
            eml.to_str().unwrap(),
        ],
    );
    assert!(out.status.success(), "{}", support::stderr(&out));
    for (cols, rows) in [(80, 24), (160, 48)] {
        let mut s = Session::start(
            &["--store", store.to_str().unwrap()],
            home.path(),
            cols,
            rows,
        );
        s.wait_text("1/1 tickets");
        s.send("\r");
        s.wait_text("body [31mred ]2;ANOTHER text");
        let screen = s.screen();
        assert!(
            screen.contains("pwned ]0;TITLE-HACK [2J ]52;c;ZXZpbA== end"),
            "{screen}"
        );
        assert!(
            s.parser.callbacks().titles.is_empty(),
            "the title was set: {:?}",
            s.parser.callbacks().titles
        );
        assert_eq!(
            s.parser.callbacks().clipboard_writes,
            0,
            "the clipboard was written"
        );
        s.send("q");
        assert!(s.wait_exit());
    }
}

#[test]
fn sigterm_restores_the_terminal() {
    let home = tempfile::tempdir().unwrap();
    let mut s = Session::start(&["demo"], home.path(), 80, 24);
    s.wait_text("1/35 tickets");
    assert!(s.parser.screen().alternate_screen());
    let pid = s.child.process_id().expect("a pid") as i32;
    // SAFETY: sending a signal to our own child process.
    assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0);
    s.wait_exit();
    assert!(
        !s.parser.screen().alternate_screen(),
        "the terminal was not restored"
    );
}

/// The review screen against the real servers: mail delivered while it is open shows up
/// (IMAP IDLE), the offline drafter drafts it in the background, and an approved reply leaves
/// through the background outbox and arrives in the customer's mailbox.
#[test]
fn the_review_screen_syncs_drafts_and_sends_in_the_background() {
    use support::servers::MailServers;
    let srv = MailServers::start();
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!(
            r#"[account]
name = "Lumen Support"
address = "support@lumencloud.example"

[imap]
host = "localhost"
port = {imaps}
username = "support"
password_env = "TEST_MAIL_PASSWORD"
tls_ca_file = "{ca}"
poll_seconds = 30

[smtp]
host = "localhost"
port = {smtp}
security = "starttls"
username = "support"
password_env = "TEST_MAIL_PASSWORD"
tls_ca_file = "{ca}"
"#,
            imaps = srv.imaps_port,
            smtp = srv.smtp_port,
            ca = srv.ca_cert.display(),
        ),
    )
    .unwrap();
    let store = home.path().join("store.sqlite3");
    let mut s = Session::start_with(
        &[
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ],
        home.path(),
        160,
        48,
        &[("TEST_MAIL_PASSWORD", srv.password("support"))],
    );
    s.wait_text("synced ");
    s.wait_text("No tickets");
    // New mail while the screen is open: IDLE wakes the sync.
    srv.deliver(
        "support",
        &support::mail()
            .from("Carla Customer <customer@customer.example>")
            .subject("Invoice address wrong")
            .id("live1@customer.example")
            .body("Hello,\n\nour invoice shows the old address. Can you fix it?\n")
            .build(),
    );
    s.wait_text("Invoice address wrong");
    s.wait_text("1/1 tickets");
    s.wait_text("drafted ·");
    s.send("a");
    s.wait_text("outbox: 1 sent");
    let inbox = srv.wait_for_messages("customer", "INBOX", 1);
    let text = String::from_utf8_lossy(&inbox[0]);
    assert!(text.contains("Invoice address wrong [TKT-"), "{text}");
    s.wait_text("waiting");
    s.send("q");
    assert!(s.wait_exit(), "helpdesk did not exit cleanly");
}
