//! Real mail servers for tests (DESIGN §7), all on 127.0.0.1 and private to one test:
//!
//! * Dovecot (IMAP with STARTTLS, IMAPS, LMTP) with its own config, run as root, users
//!   `support` and `customer` with Maildirs in a temp dir;
//! * an SMTP submission server (`smtp_lmtp.py`, aiosmtpd under Debian's `/usr/bin/python3`)
//!   that requires AUTH (PLAIN/LOGIN, also without TLS), offers STARTTLS, and delivers over
//!   LMTP into the same Dovecot; with injectable failures and connection/login counters.
//!
//! `MailServers::start()` sets everything up and returns when all ports accept; `Drop` stops
//! both servers and removes the directory. Needs root and the packages in `scripts/test`.
#![allow(dead_code)]

use std::collections::HashSet;
use std::fs;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::os::unix::fs::{PermissionsExt, chown};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// (user, address, password). The address's local part is the user, for IMAP, LMTP and SMTP.
pub const USERS: [(&str, &str, &str); 2] = [
    (
        "support",
        "support@lumencloud.example",
        "support-test-password",
    ),
    (
        "customer",
        "customer@customer.example",
        "customer-test-password",
    ),
];

/// How long starting or stopping a server may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(20);
const IO_TIMEOUT: Duration = Duration::from_secs(20);
const DOVECOT: &str = "/usr/sbin/dovecot";
const DOVEADM: &str = "/usr/bin/doveadm";
const PYTHON: &str = "/usr/bin/python3";
const SMTP_SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/smtp_lmtp.py");

pub struct MailServers {
    /// The self-signed certificate of both servers (CN and SAN `localhost`, SAN 127.0.0.1):
    /// trust it as a CA.
    pub ca_cert: PathBuf,
    /// IMAP without TLS, offering STARTTLS (plaintext login allowed: it is loopback).
    pub imap_port: u16,
    /// IMAP over TLS.
    pub imaps_port: u16,
    pub lmtp_port: u16,
    /// SMTP submission: AUTH required, STARTTLS offered.
    pub smtp_port: u16,
    /// SMTP submission with implicit TLS (as on port 465).
    pub smtps_port: u16,
    dir: tempfile::TempDir,
    conf: PathBuf,
    dovecot: Option<Child>,
    smtp: Option<Child>,
    options: Options,
}

/// How to set up the servers; `Options::default()` is what `MailServers::start()` uses.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Also accept OAuth 2 logins (SASL XOAUTH2 and OAUTHBEARER) through Dovecot's `oauth2`
    /// passdb, which validates each token by POSTing `token=…` to this URL (RFC 7662 token
    /// introspection; an `Introspection` server). Password logins (PLAIN, LOGIN) keep using
    /// the passwd-file passdb.
    pub oauth2_introspection: Option<String>,
    /// Where the servers' directory (Maildirs, configuration, certificate, logs) is made;
    /// the system's temporary directory when `None`. The sync benchmark puts it in memory.
    pub dir_in: Option<PathBuf>,
}

impl MailServers {
    /// Starts Dovecot and the SMTP server; panics (with their logs) if either does not come up
    /// within 10 s.
    pub fn start() -> MailServers {
        MailServers::start_with(Options::default())
    }

    /// `start` with options, such as an OAuth 2 passdb. A server the options point at (the
    /// introspection endpoint) must already listen: Dovecot asks it on every OAuth 2 login.
    pub fn start_with(options: Options) -> MailServers {
        assert_root();
        let (uid, gid) = dovecot_ids();
        let mut dir = tempfile::Builder::new();
        dir.prefix("helpdesk-mail-");
        let dir = match &options.dir_in {
            Some(parent) => dir.tempdir_in(parent),
            None => dir.tempdir(),
        }
        .expect("create temp dir");
        let root = dir.path().to_path_buf();
        // Dovecot's mail processes run as `dovecot`: a 0700 temp dir would lock them out.
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        assert_searchable_ancestors(&root);

        let ca_cert = root.join("cert.pem");
        let key = root.join("key.pem");
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
            ])
            .args(["-nodes", "-days", "2", "-subj", "/CN=localhost"])
            .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
            .arg("-keyout")
            .arg(&key)
            .arg("-out")
            .arg(&ca_cert));

        let users: String = USERS
            .iter()
            .map(|(user, _, pw)| format!("{user}:{{PLAIN}}{pw}\n"))
            .collect();
        fs::write(root.join("users"), users).unwrap();
        fs::set_permissions(root.join("users"), fs::Permissions::from_mode(0o644)).unwrap();
        for (user, _, _) in USERS {
            let home = root.join("home").join(user);
            fs::create_dir_all(&home).unwrap();
            chown(&home, Some(uid), Some(gid)).unwrap();
        }
        for d in ["run", "state"] {
            fs::create_dir(root.join(d)).unwrap();
        }

        let mut servers = MailServers {
            ca_cert,
            imap_port: 0,
            imaps_port: 0,
            lmtp_port: 0,
            smtp_port: 0,
            smtps_port: 0,
            conf: root.join("dovecot.conf"),
            dir,
            dovecot: None,
            smtp: None,
            options,
        };
        // A port picked here can, rarely, be taken before the server binds it: pick again then.
        // The SMTP server (Python: the slowest to start) starts while Dovecot does.
        for attempt in 1.. {
            servers.imap_port = servers.free_port();
            servers.imaps_port = servers.free_port();
            servers.lmtp_port = servers.free_port();
            servers.smtp_port = servers.free_port();
            servers.smtps_port = servers.free_port();
            servers.write_dovecot_conf(uid, gid);
            servers.spawn_smtp();
            let started = servers
                .try_start_dovecot(false)
                .and_then(|()| servers.wait_smtp());
            match started {
                Ok(()) => break,
                Err(e) if attempt < 3 && e.to_lowercase().contains("address already in use") => {
                    servers.try_stop_dovecot();
                    servers.stop_smtp();
                }
                Err(e) => panic!("{e}"),
            }
        }
        servers
    }

    /// The temp dir holding config, logs (`dovecot.log`, `smtp.log`) and homes.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn password(&self, user: &str) -> &'static str {
        user_entry(user).2
    }

    /// The mail address of a user: `support@lumencloud.example`, `customer@customer.example`.
    pub fn address(&self, user: &str) -> &'static str {
        user_entry(user).1
    }

    pub fn maildir(&self, user: &str) -> PathBuf {
        user_entry(user);
        self.dir.path().join("home").join(user).join("Maildir")
    }

    /// A 127.0.0.1 port nothing listens on (and that no other `MailServers` in this process
    /// was given).
    pub fn free_port(&self) -> u16 {
        static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
        let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
        let given = given.get_or_insert_with(HashSet::new);
        for _ in 0..100 {
            let port = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
                .and_then(|l| l.local_addr())
                .expect("bind 127.0.0.1:0")
                .port();
            if given.insert(port) {
                return port;
            }
        }
        panic!("no free port found in 100 tries");
    }

    /// Delivers a raw message (LF or CRLF line ends) to a user's INBOX through Dovecot's LMTP.
    /// The envelope sender is the first address in `From:` (or `sender@example.invalid`).
    pub fn deliver(&self, user: &str, raw: &[u8]) {
        let rcpt = self.address(user);
        let from = envelope_sender(raw);
        let mut c = SmtpClient::connect(self.lmtp_port).expect("connect to LMTP");
        c.expect_reply(220, "LMTP greeting");
        c.command("LHLO localhost", 250);
        c.command(&format!("MAIL FROM:<{from}> BODY=8BITMIME"), 250);
        c.command(&format!("RCPT TO:<{rcpt}>"), 250);
        c.command("DATA", 354);
        let (code, text) = c.send_data(raw);
        assert_eq!(code, 250, "LMTP delivery to {rcpt} failed: {code} {text}");
        c.command("QUIT", 221);
    }

    /// Puts messages straight into a user's `Maildir/new` (as mail delivered while nobody
    /// looked): much faster than `deliver` for hundreds of messages. Stored as given: Dovecot
    /// serves bare LF line ends as CRLF over IMAP.
    pub fn seed_maildir(&self, user: &str, messages: impl IntoIterator<Item = Vec<u8>>) {
        static SEQ: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let (uid, gid) = dovecot_ids();
        let maildir = self.maildir(user);
        for sub in ["", "cur", "new", "tmp"] {
            let d = maildir.join(sub);
            if !d.exists() {
                fs::create_dir(&d).unwrap();
                fs::set_permissions(&d, fs::Permissions::from_mode(0o700)).unwrap();
                chown(&d, Some(uid), Some(gid)).unwrap();
            }
        }
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        for raw in messages {
            let n = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            let name = format!(
                "{}.M{}P{}Q{n}.helpdesk-test",
                now.as_secs(),
                now.subsec_micros(),
                std::process::id()
            );
            let tmp = maildir.join("tmp").join(&name);
            fs::write(&tmp, &raw).unwrap();
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600)).unwrap();
            chown(&tmp, Some(uid), Some(gid)).unwrap();
            fs::rename(&tmp, maildir.join("new").join(&name)).unwrap();
        }
    }

    /// Gives a user's INBOX a new UIDVALIDITY (the old one + 1), as after a server migration.
    pub fn reset_uidvalidity(&mut self, user: &str) {
        let out = run(Command::new(DOVEADM).arg("-c").arg(&self.conf).args([
            "mailbox",
            "status",
            "-u",
            user,
            "uidvalidity",
            "INBOX",
        ]));
        // "INBOX uidvalidity=1795417348"
        let old: u32 = out
            .split_whitespace()
            .find_map(|w| w.strip_prefix("uidvalidity=")?.parse().ok())
            .unwrap_or_else(|| panic!("unexpected doveadm mailbox status output: {out:?}"));
        run(Command::new(DOVEADM)
            .arg("-c")
            .arg(&self.conf)
            .args(["mailbox", "update", "-u", user, "--uid-validity"])
            .arg((old + 1).to_string())
            .arg("INBOX"));
    }

    /// The next `count` SMTP DATA commands are answered with `code` (451, 550, …) instead of
    /// delivering. Calls queue up in order.
    pub fn inject_smtp_failure(&self, code: u16, count: u32) {
        let control = self.dir.path().join("smtp-control");
        let mut text = fs::read_to_string(&control).unwrap_or_default();
        text.push_str(&format!("{code} {count}\n"));
        let tmp = self.dir.path().join("smtp-control.new");
        fs::write(&tmp, text).unwrap();
        fs::rename(tmp, control).unwrap();
    }

    /// (TCP connections accepted, successful AUTHs) by the SMTP server so far.
    pub fn smtp_stats(&self) -> (u64, u64) {
        let text = fs::read_to_string(self.dir.path().join("smtp-stats")).unwrap();
        let field = |name: &str| {
            text.lines()
                .find_map(|l| l.strip_prefix(name)?.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in smtp-stats: {text:?}"))
        };
        (field("connections "), field("logins "))
    }

    /// Stops Dovecot (SIGTERM to the master, which takes about a second), dropping every
    /// IMAP connection. The SMTP server stays up, answering 451 while LMTP is down.
    pub fn stop_dovecot(&mut self) {
        if let Some(err) = self.try_stop_dovecot() {
            panic!("{err}");
        }
    }

    /// Starts Dovecot again after `stop_dovecot`, on the same ports with the same mail.
    pub fn start_dovecot(&mut self) {
        assert!(self.dovecot.is_none(), "Dovecot is already running");
        if let Err(e) = self.try_start_dovecot(true) {
            panic!("{e}");
        }
    }

    /// A TLS connector trusting `ca_cert` (and nothing else).
    pub fn tls_connector(&self) -> native_tls::TlsConnector {
        let pem = fs::read(&self.ca_cert).unwrap();
        native_tls::TlsConnector::builder()
            .disable_built_in_roots(true)
            .add_root_certificate(native_tls::Certificate::from_pem(&pem).unwrap())
            .build()
            .unwrap()
    }

    /// A logged-in IMAPS session for a user, host name `localhost`, with I/O timeouts.
    pub fn imap(&self, user: &str) -> imap::Session<native_tls::TlsStream<TcpStream>> {
        let tcp = connect(self.imaps_port).expect("connect to IMAPS");
        let tls = self
            .tls_connector()
            .connect("localhost", tcp)
            .expect("TLS handshake");
        let mut client = imap::Client::new(tls);
        client.read_greeting().expect("IMAP greeting");
        client
            .login(user, self.password(user))
            .map_err(|(e, _)| e)
            .expect("IMAP login")
    }

    /// The full messages in a user's mailbox, in sequence order (read with BODY.PEEK).
    pub fn fetch_all(&self, user: &str, mailbox: &str) -> Vec<Vec<u8>> {
        let mut s = self.imap(user);
        let exists = s.select(mailbox).expect("SELECT").exists;
        let all = fetch_bodies(&mut s, exists);
        s.logout().ok();
        all
    }

    /// Waits (up to 10 s) until a user's mailbox holds at least `count` messages and returns
    /// them all: for mail sent through SMTP.
    pub fn wait_for_messages(&self, user: &str, mailbox: &str, count: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + PATIENCE;
        let mut s = self.imap(user);
        for _ in 0..1000 {
            let exists = s.select(mailbox).expect("SELECT").exists;
            if exists as usize >= count {
                let all = fetch_bodies(&mut s, exists);
                s.logout().ok();
                return all;
            }
            if Instant::now() > deadline {
                panic!("{user}/{mailbox}: {exists} messages after {PATIENCE:?}, expected {count}");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        unreachable!("bounded by the deadline");
    }

    /// Submits a message through the SMTP server as `user` (EHLO, AUTH PLAIN, MAIL, RCPT,
    /// DATA), as a customer's mail client would. Returns the DATA reply.
    pub fn submit(&self, user: &str, to: &str, raw: &[u8]) -> (u16, String) {
        let mut c = self.smtp_client();
        c.command("EHLO customer.example", 250);
        let (code, text) = c.auth_plain(user, self.password(user));
        assert_eq!(code, 235, "AUTH as {user}: {code} {text}");
        c.command(&format!("MAIL FROM:<{}>", self.address(user)), 250);
        c.command(&format!("RCPT TO:<{to}>"), 250);
        c.command("DATA", 354);
        let reply = c.send_data(raw);
        c.send("QUIT");
        reply
    }

    /// A new plaintext connection to the SMTP server, greeting already read.
    pub fn smtp_client(&self) -> SmtpClient<TcpStream> {
        let mut c = SmtpClient::connect(self.smtp_port).expect("connect to SMTP");
        c.expect_reply(220, "SMTP greeting");
        c
    }

    fn write_dovecot_conf(&self, uid: u32, gid: u32) {
        let d = self.dir.path().display();
        let (imap, imaps, lmtp) = (self.imap_port, self.imaps_port, self.lmtp_port);
        let passwd_file =
            format!("driver = passwd-file\n  args = scheme=PLAIN username_format=%n {d}/users");
        let (mechanisms, passdbs) = match &self.options.oauth2_introspection {
            None => ("plain login", format!("passdb {{\n  {passwd_file}\n}}\n")),
            Some(url) => {
                // Each passdb only for its own mechanisms: a password is never sent to the
                // identity provider, and a token never compared with a password. `none` is
                // the lookup without a login (LMTP's and doveadm's userdb checks the user
                // exists through the passdb): without it, no passdb answers and delivery fails.
                let ext = self.dir.path().join("oauth2.conf.ext");
                fs::write(&ext, oauth2_conf(url)).unwrap();
                (
                    // auth_verbose: why a token was refused, in dovecot.log.
                    "plain login xoauth2 oauthbearer\nauth_verbose = yes",
                    format!(
                        "passdb {{\n  {passwd_file}\n  mechanisms = plain login none\n}}\n\
                         passdb {{\n  driver = oauth2\n  mechanisms = xoauth2 oauthbearer\n  args = {}\n}}\n",
                        ext.display()
                    ),
                )
            }
        };
        let conf = format!(
            r#"# A private Dovecot for one test, written by tests/support/servers.rs.
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = {mechanisms}
# `support` and `support@lumencloud.example` are one user, over IMAP and LMTP alike.
auth_username_format = %Ln
# Answer wrong passwords at once (default: 2 s, growing with anvil's penalty, disabled below).
auth_failure_delay = 0
mail_location = maildir:~/Maildir
mail_fsync = never
first_valid_uid = 0
postmaster_address = postmaster@localhost
{passdbs}userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/home/%n
}}
service imap-login {{
  inet_listener imap {{
    port = {imap}
  }}
  inet_listener imaps {{
    port = {imaps}
    ssl = yes
  }}
}}
service lmtp {{
  inet_listener lmtp {{
    port = {lmtp}
  }}
}}
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
namespace inbox {{
  inbox = yes
  mailbox Sent {{
    special_use = \Sent
    auto = create
  }}
  mailbox Archive {{
    auto = create
  }}
}}
"#
        );
        fs::write(&self.conf, conf).unwrap();
    }

    /// Runs `dovecot -F` as a child (so it can be waited for) and waits until IMAP, IMAPS
    /// and LMTP accept. With `retry_busy_ports`, retries while a port is still held (by the
    /// previous instance's last processes) until the deadline.
    fn try_start_dovecot(&mut self, retry_busy_ports: bool) -> Result<(), String> {
        let deadline = Instant::now() + PATIENCE;
        let log = self.dir.path().join("dovecot.log");
        let stderr_path = self.dir.path().join("dovecot.stderr");
        for _ in 0..100 {
            let log_start = fs::metadata(&log).map(|m| m.len()).unwrap_or(0);
            let stderr = fs::File::create(&stderr_path).unwrap();
            let mut child = Command::new(DOVECOT)
                .arg("-F")
                .arg("-c")
                .arg(&self.conf)
                .stdin(Stdio::null())
                .stdout(stderr.try_clone().unwrap())
                .stderr(stderr)
                .spawn()
                .map_err(|e| format!("cannot run {DOVECOT} ({e}); scripts/test installs it"))?;
            let ports = [self.imap_port, self.imaps_port, self.lmtp_port];
            let mut exited = None;
            while Instant::now() < deadline {
                if let Some(status) = child.try_wait().unwrap() {
                    exited = Some(status);
                    break;
                }
                if ports.iter().all(|&p| connect(p).is_ok()) {
                    self.dovecot = Some(child);
                    return Ok(());
                }
                std::thread::sleep(POLL);
            }
            let logs = format!(
                "{}{}",
                fs::read_to_string(&stderr_path).unwrap_or_default(),
                read_from(&log, log_start)
            );
            match exited {
                Some(_)
                    if retry_busy_ports
                        && logs.contains("Address already in use")
                        && Instant::now() < deadline =>
                {
                    std::thread::sleep(Duration::from_millis(100));
                    continue;
                }
                Some(status) => return Err(format!("dovecot exited ({status}):\n{logs}")),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(format!(
                        "dovecot ports {ports:?} not ready after {PATIENCE:?}:\n{logs}"
                    ));
                }
            }
        }
        Err("dovecot did not start in 100 attempts".into())
    }

    /// SIGTERM to the master (pid from `master.pid`), then `dovecot stop`, then SIGKILL; each
    /// with a bounded wait. Returns an error message instead of panicking (used by Drop).
    fn try_stop_dovecot(&mut self) -> Option<String> {
        let mut child = self.dovecot.take()?;
        let pid = fs::read_to_string(self.dir.path().join("run/master.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
            .unwrap_or(child.id() as i32);
        // The master does not take its IMAP processes down with it (they linger until their
        // clients leave): signal all of them, so that open connections drop as on a crash.
        // SAFETY: kill(2) with the pid we started and its descendants, listed just before.
        unsafe { libc::kill(pid, libc::SIGTERM) };
        let others = descendants(pid);
        for &p in &others {
            unsafe { libc::kill(p, libc::SIGTERM) };
        }
        if wait_exit(&mut child, PATIENCE / 2) && wait_gone(&others, PATIENCE / 2) {
            return None;
        }
        let _ = Command::new(DOVECOT)
            .arg("-c")
            .arg(&self.conf)
            .arg("stop")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        if wait_exit(&mut child, PATIENCE / 2) {
            return None;
        }
        let _ = child.kill();
        let _ = child.wait();
        for &p in &others {
            unsafe { libc::kill(p, libc::SIGKILL) };
        }
        Some(format!(
            "dovecot (pid {pid}) ignored SIGTERM and `dovecot stop`; killed"
        ))
    }

    fn spawn_smtp(&mut self) {
        let d = self.dir.path();
        let _ = fs::remove_file(d.join("smtp-stats"));
        let log = fs::File::create(d.join("smtp.log")).unwrap();
        let child = Command::new(PYTHON)
            .arg("-I")
            .arg(SMTP_SCRIPT)
            .args(["--port", &self.smtp_port.to_string()])
            .args(["--tls-port", &self.smtps_port.to_string()])
            .args(["--lmtp-port", &self.lmtp_port.to_string()])
            .arg("--cert")
            .arg(&self.ca_cert)
            .arg("--key")
            .arg(d.join("key.pem"))
            .arg("--users")
            .arg(d.join("users"))
            .arg("--control")
            .arg(d.join("smtp-control"))
            .arg("--stats")
            .arg(d.join("smtp-stats"))
            .env_remove("PYTHONPATH")
            .env_remove("PYTHONHOME")
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {PYTHON} ({e}); scripts/test installs it"));
        self.smtp = Some(child);
    }

    /// Waits for the SMTP server's stats file, which it writes once it listens (a probe
    /// connection would count as a connection).
    fn wait_smtp(&mut self) -> Result<(), String> {
        let d = self.dir.path();
        let logs = || fs::read_to_string(d.join("smtp.log")).unwrap_or_default();
        let child = self.smtp.as_mut().expect("SMTP server spawned");
        let deadline = Instant::now() + PATIENCE;
        while !d.join("smtp-stats").exists() {
            if let Some(status) = child.try_wait().unwrap() {
                return Err(format!("the SMTP server exited ({status}):\n{}", logs()));
            }
            if Instant::now() > deadline {
                return Err(format!(
                    "the SMTP server was not ready after {PATIENCE:?}:\n{}",
                    logs()
                ));
            }
            std::thread::sleep(POLL);
        }
        Ok(())
    }

    /// SIGKILL: the SMTP server keeps nothing worth a clean shutdown.
    fn stop_smtp(&mut self) {
        if let Some(mut smtp) = self.smtp.take() {
            let _ = smtp.kill();
            let _ = smtp.wait();
        }
    }
}

impl Drop for MailServers {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // The test failed: show what the servers said.
            for log in ["dovecot.log", "smtp.log"] {
                let text = fs::read_to_string(self.dir.path().join(log)).unwrap_or_default();
                let tail: Vec<&str> = text.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                eprintln!("--- {log} (last 40 lines) ---\n{}", tail.join("\n"));
            }
        }
        self.stop_smtp();
        if let Some(err) = self.try_stop_dovecot() {
            eprintln!("MailServers: {err}");
        }
    }
}

/// A minimal SMTP/LMTP client: one command, one reply, with timeouts. Generic over the
/// stream so it works after STARTTLS too.
pub struct SmtpClient<S: Read + Write> {
    stream: BufReader<S>,
}

impl SmtpClient<TcpStream> {
    pub fn connect(port: u16) -> io::Result<SmtpClient<TcpStream>> {
        Ok(SmtpClient::new(connect(port)?))
    }

    /// Sends STARTTLS, expects 220, and continues over TLS (host name `localhost`). EHLO again
    /// afterwards.
    pub fn starttls(
        mut self,
        tls: &native_tls::TlsConnector,
    ) -> SmtpClient<native_tls::TlsStream<TcpStream>> {
        self.command("STARTTLS", 220);
        assert!(self.stream.buffer().is_empty(), "data after STARTTLS reply");
        let tcp = self.stream.into_inner();
        SmtpClient::new(tls.connect("localhost", tcp).expect("TLS handshake"))
    }
}

impl<S: Read + Write> SmtpClient<S> {
    pub fn new(stream: S) -> SmtpClient<S> {
        SmtpClient {
            stream: BufReader::new(stream),
        }
    }

    /// Reads one (possibly multi-line) reply: its code and its text lines joined by '\n'.
    pub fn read_reply(&mut self) -> (u16, String) {
        let mut text = Vec::new();
        for _ in 0..1000 {
            let mut line = String::new();
            let n = self.stream.read_line(&mut line).expect("read SMTP reply");
            assert!(n > 0, "connection closed; reply so far: {text:?}");
            let line = line.trim_end_matches(['\r', '\n']);
            assert!(line.len() >= 3, "malformed reply line {line:?}");
            let code: u16 = line[..3].parse().expect("reply code");
            text.push(line.get(4..).unwrap_or("").to_string());
            if line.as_bytes().get(3) != Some(&b'-') {
                return (code, text.join("\n"));
            }
        }
        panic!("reply longer than 1000 lines");
    }

    pub fn expect_reply(&mut self, code: u16, what: &str) -> String {
        let (got, text) = self.read_reply();
        assert_eq!(got, code, "{what}: expected {code}, got {got} {text}");
        text
    }

    /// Sends a command line and returns its reply, whatever the code.
    pub fn send(&mut self, line: &str) -> (u16, String) {
        // One write per command: a split line would wait for a delayed ACK (Nagle).
        let s = self.stream.get_mut();
        s.write_all(format!("{line}\r\n").as_bytes())
            .expect("write command");
        s.flush().expect("flush");
        self.read_reply()
    }

    /// Sends a command line and asserts the reply code; returns the reply text.
    pub fn command(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.send(line);
        assert_eq!(got, code, "{line:?}: expected {code}, got {got} {text}");
        text
    }

    /// After a 354: sends the message with CRLF line ends and dot-stuffing, then the final dot;
    /// returns the reply (LMTP: the reply for the first recipient).
    pub fn send_data(&mut self, raw: &[u8]) -> (u16, String) {
        let mut out = Vec::with_capacity(raw.len() + raw.len() / 20 + 8);
        let body = raw.strip_suffix(b"\n").unwrap_or(raw);
        for line in body.split(|&b| b == b'\n') {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if line.starts_with(b".") {
                out.push(b'.');
            }
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b".\r\n");
        let s = self.stream.get_mut();
        s.write_all(&out).expect("write DATA");
        s.flush().expect("flush");
        self.read_reply()
    }

    /// `AUTH PLAIN` with the initial response; returns the reply.
    pub fn auth_plain(&mut self, user: &str, password: &str) -> (u16, String) {
        let token = base64(format!("\0{user}\0{password}").as_bytes());
        self.send(&format!("AUTH PLAIN {token}"))
    }
}

pub fn base64(data: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Dovecot's `oauth2` passdb settings (`dovecot-oauth2.conf.ext`): every token is checked
/// with an RFC 7662 introspection POST (no tokeninfo URL, no local JWT validation), whose
/// answer must hold `"active": true` and the user's name in `"username"`.
fn oauth2_conf(introspection_url: &str) -> String {
    format!(
        "# Written by tests/support/servers.rs.
introspection_mode = post
introspection_url = {introspection_url}
force_introspection = yes
username_attribute = username
active_attribute = active
active_value = true
timeout_msecs = 5000
"
    )
}

fn fetch_bodies<S: Read + Write>(s: &mut imap::Session<S>, exists: u32) -> Vec<Vec<u8>> {
    if exists == 0 {
        return Vec::new();
    }
    let fetches = s.fetch("1:*", "BODY.PEEK[]").expect("FETCH");
    fetches
        .iter()
        .map(|f| f.body().expect("a body").to_vec())
        .collect()
}

fn user_entry(user: &str) -> (&'static str, &'static str, &'static str) {
    USERS
        .into_iter()
        .find(|(u, _, _)| *u == user)
        .unwrap_or_else(|| panic!("unknown test mail user {user:?} (support or customer)"))
}

/// A TCP connection to 127.0.0.1:port with connect and I/O timeouts.
fn connect(port: u16) -> io::Result<TcpStream> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let s = TcpStream::connect_timeout(&addr, Duration::from_millis(500))?;
    s.set_nodelay(true)?;
    s.set_read_timeout(Some(IO_TIMEOUT))?;
    s.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(s)
}

fn wait_exit(child: &mut Child, patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if matches!(child.try_wait(), Ok(Some(_)) | Err(_)) {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// The pids of all descendants of `root` (from /proc).
fn descendants(root: i32) -> Vec<i32> {
    let mut parent = Vec::new();
    for entry in fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<i32>().ok())
        else {
            continue;
        };
        if let Some(ppid) = proc_stat(pid).map(|(_, ppid)| ppid) {
            parent.push((pid, ppid));
        }
    }
    let mut found = vec![root];
    let mut i = 0;
    while i < found.len() {
        let p = found[i];
        found.extend(
            parent
                .iter()
                .filter(|(_, pp)| *pp == p)
                .map(|(pid, _)| *pid),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// (state, ppid) of a process, from /proc/<pid>/stat.
fn proc_stat(pid: i32) -> Option<(char, i32)> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let mut fields = stat.get(stat.rfind(')')? + 1..)?.split_whitespace();
    let state = fields.next()?.chars().next()?;
    Some((state, fields.next()?.parse().ok()?))
}

/// Waits until none of `pids` runs (gone or a zombie).
fn wait_gone(pids: &[i32], patience: Duration) -> bool {
    let deadline = Instant::now() + patience;
    loop {
        if pids
            .iter()
            .all(|&p| matches!(proc_stat(p), None | Some(('Z', _))))
        {
            return true;
        }
        if Instant::now() > deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Runs a command that must succeed; returns its stdout.
fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().unwrap_or_else(|e| {
        panic!("cannot run {cmd:?}: {e}; scripts/test installs what is needed")
    });
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn read_from(path: &Path, offset: u64) -> String {
    let bytes = fs::read(path).unwrap_or_default();
    String::from_utf8_lossy(bytes.get(offset as usize..).unwrap_or(&[])).into_owned()
}

/// The first address in `From:`, for the envelope (a null sender would look like a bounce).
fn envelope_sender(raw: &[u8]) -> String {
    let text = String::from_utf8_lossy(raw);
    let from = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .find_map(|l| {
            let (name, value) = l.split_once(':')?;
            name.eq_ignore_ascii_case("from")
                .then(|| value.trim().to_string())
        });
    let addr = from.and_then(|v| match (v.find('<'), v.find('>')) {
        (Some(a), Some(b)) if a < b => Some(v[a + 1..b].to_string()),
        _ => v
            .split_whitespace()
            .find(|w| w.contains('@'))
            .map(str::to_string),
    });
    addr.filter(|a| a.contains('@') && !a.contains(char::is_whitespace))
        .unwrap_or_else(|| "sender@example.invalid".into())
}

fn assert_root() {
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_string));
    assert_eq!(
        euid.as_deref(),
        Some("0"),
        "the mail-server tests run Dovecot as root (DESIGN §7): run them as root"
    );
}

/// uid and gid of the `dovecot` system user (from /etc/passwd).
fn dovecot_ids() -> (u32, u32) {
    let passwd = fs::read_to_string("/etc/passwd").unwrap();
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == "dovecot").then(|| (f[2].parse().ok(), f[3].parse().ok()))
        })
        .and_then(|(u, g)| Some((u?, g?)))
        .expect("no `dovecot` user: install dovecot-imapd (scripts/test does)")
}

fn assert_searchable_ancestors(dir: &Path) {
    for a in dir.ancestors().skip(1) {
        let mode = fs::metadata(a).map(|m| m.permissions().mode()).unwrap_or(0);
        assert!(
            mode & 0o001 != 0,
            "{} (mode {mode:o}) is not searchable by others, so Dovecot's mail processes \
             (user dovecot) cannot reach {}; point TMPDIR elsewhere",
            a.display(),
            dir.display()
        );
    }
}
