//! The sync stage: new mail from an IMAP mailbox into the store, incrementally and crash-safe.
//!
//! Per mailbox the store keeps UIDVALIDITY, the highest UID stored and the highest UID whose
//! `after_ingest` action was applied (store/sync.rs). A pass fetches only newer UIDs with one
//! `UID FETCH` per batch of a range, on a thread of its own, while this thread parses and
//! stores them; each batch commits together with the new highest UID. Only then are flags set
//! or messages moved, so a crash anywhere loses nothing and stores nothing twice (ingest is
//! idempotent by Message-ID, which also makes a UIDVALIDITY reset safe). The `imap` crate is
//! blocking: callers in async code run this in `spawn_blocking`.

use std::cell::{Cell, RefCell};
use std::io::{Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::atomic::Ordering::SeqCst;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::store::{self, Store, sync::SyncState};

use super::groups::{self, Groups};
use super::ingest::{Ingest, Prepared, RawMessage, Summary};

/// How a connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Implicit TLS (IMAPS 993, SMTPS 465).
    Tls,
    /// STARTTLS on the plain port (IMAP 143, submission 587).
    Starttls,
    /// Plaintext: only to a loopback address.
    None,
}

/// What to do on the server with a message once it is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AfterIngest {
    Seen,
    Move(String),
    Nothing,
}

#[derive(Debug, Clone)]
pub enum Auth {
    Password(Secret),
    /// OAuth 2 access token (Gmail, Microsoft 365), sent with SASL XOAUTH2.
    XOAuth2(Secret),
}

#[derive(Debug, Clone)]
pub struct Tls {
    /// Extra trusted CA certificate (PEM), for a private CA.
    pub ca_file: Option<PathBuf>,
    /// Skip certificate verification (explicitly configured; warned about on every run).
    pub accept_invalid_certs: bool,
}

#[derive(Debug, Clone)]
pub struct ImapSettings {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub tls: Tls,
    pub username: String,
    pub auth: Auth,
    pub mailbox: String,
    pub after_ingest: AfterIngest,
    pub connect_timeout: Duration,
    pub io_timeout: Duration,
    /// Messages per `UID FETCH` and per store transaction.
    pub batch: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SyncError {
    #[error("cannot resolve IMAP host {host}: {source}; check [imap] host and your DNS")]
    Resolve {
        host: String,
        source: std::io::Error,
    },
    #[error(
        "cannot connect to IMAP server {host}:{port}: {source}; check [imap] host and port, and that the server is up and reachable"
    )]
    Connect {
        host: String,
        port: u16,
        source: std::io::Error,
    },
    #[error(
        "TLS with {host}:{port} failed: {detail}; check [imap] security and port (993 for tls, 143 for starttls), or trust a private CA with [imap] tls_ca_file"
    )]
    Tls {
        host: String,
        port: u16,
        detail: String,
    },
    #[error("cannot read the CA file {path}: {detail}; check [imap] tls_ca_file")]
    CaFile { path: PathBuf, detail: String },
    #[error(
        "IMAP login to {host} as {user} was rejected ({detail}); {check}, then run `helpdesk doctor`"
    )]
    Login {
        host: String,
        user: String,
        detail: String,
        /// What to look at, for the kind of credentials used.
        check: &'static str,
    },
    #[error("the mailbox {mailbox:?} cannot be opened on {host} ({detail}); check [imap] mailbox")]
    Mailbox {
        host: String,
        mailbox: String,
        detail: String,
    },
    #[error(
        "the IMAP server {host} stopped answering or dropped the connection ({detail}); what was stored is kept, the next sync resumes"
    )]
    Connection { host: String, detail: String },
    #[error("the IMAP server {host} refused {command}: {detail}")]
    Command {
        host: String,
        command: String,
        detail: String,
    },
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

impl SyncError {
    /// Worth trying again later (network, server), as opposed to configuration problems.
    pub fn is_retryable(&self) -> bool {
        match self {
            SyncError::Resolve { .. }
            | SyncError::Connect { .. }
            | SyncError::Connection { .. }
            | SyncError::Command { .. } => true,
            SyncError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// What one pass did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    pub mailbox: String,
    pub fetched: u64,
    pub summary: Summary,
    /// The server's UIDVALIDITY changed: the mailbox was read again, matched by Message-ID.
    pub uidvalidity_reset: bool,
    /// Messages whose `after_ingest` action was applied in this pass.
    pub flagged: u64,
    pub seconds: f64,
}

/// Progress of a pass, for a progress bar or the TUI's status line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Progress {
    Connected,
    /// `total` new messages to fetch.
    Found {
        total: u64,
    },
    Stored {
        done: u64,
        total: u64,
    },
}

pub use super::fetch::Conn;
use super::fetch::Stream;

/// A logged-in session, and a handle on its connection for the bulk fetch
/// ([`super::fetch::uid_fetch`]). Every `imap` crate command is reachable through it.
pub struct Session {
    imap: imap::Session<Conn>,
    conn: Conn,
}

impl std::ops::Deref for Session {
    type Target = imap::Session<Conn>;
    fn deref(&self) -> &imap::Session<Conn> {
        &self.imap
    }
}

impl std::ops::DerefMut for Session {
    fn deref_mut(&mut self) -> &mut imap::Session<Conn> {
        &mut self.imap
    }
}

/// SASL XOAUTH2 (Google's and Microsoft's; RFC 7628's error handling).
struct XOAuth2<'a> {
    user: &'a str,
    token: &'a str,
    sent: Cell<bool>,
    /// The server's error after a refused token: a JSON object such as
    /// `{"status":"invalid_token","schemes":"bearer","scope":"mail"}`.
    error: RefCell<Option<String>>,
}

impl<'a> XOAuth2<'a> {
    fn new(user: &'a str, token: &'a str) -> XOAuth2<'a> {
        XOAuth2 {
            user,
            token,
            sent: Cell::new(false),
            error: RefCell::new(None),
        }
    }

    /// The status and scope from the server's error, for the message: `token status
    /// "invalid_token", scope "mail"`.
    fn server_error(&self) -> Option<String> {
        let raw = self.error.borrow().clone()?;
        let json: serde_json::Value = serde_json::from_str(&raw).ok()?;
        let field = |k: &str| match json.get(k)? {
            serde_json::Value::String(s) => Some(s.clone()),
            other => Some(other.to_string()),
        };
        let mut parts = Vec::new();
        if let Some(status) = field("status") {
            parts.push(format!("token status {status:?}"));
        }
        if let Some(scope) = field("scope") {
            parts.push(format!("scope {scope:?}"));
        }
        (!parts.is_empty()).then(|| parts.join(", "))
    }
}

impl imap::Authenticator for XOAuth2<'_> {
    type Response = String;
    fn process(&self, challenge: &[u8]) -> String {
        if !self.sent.replace(true) {
            return format!("user={}\x01auth=Bearer {}\x01\x01", self.user, self.token);
        }
        // A second challenge means the token was refused and carries the reason; the client
        // must answer it with an empty response (Gmail insists), after which the server says
        // NO. Sending the token again would be wrong, and a secret sent twice.
        *self.error.borrow_mut() = Some(String::from_utf8_lossy(challenge).into_owned());
        String::new()
    }
}

/// A TLS failure with `s`'s server, and what to check.
fn tls_error(s: &ImapSettings, detail: String) -> SyncError {
    SyncError::Tls {
        host: s.host.clone(),
        port: s.port,
        detail,
    }
}

/// The TLS context: the system's roots, or only the private CA of `tls_ca_file`.
///
/// OpenSSL is used directly rather than through native-tls: native-tls loads the system's CA
/// bundle twice for every connection (once in `SslConnector::builder`, once from its probe),
/// and still loads it when a private CA replaces it. That was 30 of the 50 ms of a no-change
/// sync. Verification is what `SslConnector` does: the peer's chain ([`connect_tls`] checks
/// the host name or IP address), TLS 1.2 at least.
fn tls_context(s: &ImapSettings) -> Result<openssl::ssl::SslContext, SyncError> {
    use openssl::ssl::{SslContextBuilder, SslMethod, SslOptions, SslVerifyMode, SslVersion};
    let tls_err = |detail: String| tls_error(s, detail);
    let mut b =
        SslContextBuilder::new(SslMethod::tls_client()).map_err(|e| tls_err(e.to_string()))?;
    b.set_min_proto_version(Some(SslVersion::TLS1_2))
        .map_err(|e| tls_err(e.to_string()))?;
    b.set_options(SslOptions::NO_COMPRESSION);
    // Read what the socket holds at once rather than a record's header, then its body: a
    // 10,000-message sync made some 17,000 recv calls without it.
    b.set_read_ahead(true);
    match &s.tls.ca_file {
        Some(path) => {
            let ca_err = |detail: String| SyncError::CaFile {
                path: path.clone(),
                detail,
            };
            let pem = std::fs::read(path).map_err(|e| ca_err(e.to_string()))?;
            let certs =
                openssl::x509::X509::stack_from_pem(&pem).map_err(|e| ca_err(e.to_string()))?;
            if certs.is_empty() {
                return Err(ca_err("no PEM certificate in it".into()));
            }
            // A private CA is trusted instead of the system's roots, not besides them.
            let mut store = openssl::x509::store::X509StoreBuilder::new()
                .map_err(|e| tls_err(e.to_string()))?;
            for c in certs {
                store.add_cert(c).map_err(|e| ca_err(e.to_string()))?;
            }
            b.set_cert_store(store.build());
        }
        None => {
            b.set_default_verify_paths()
                .map_err(|e| tls_err(e.to_string()))?;
        }
    }
    if s.tls.accept_invalid_certs {
        tracing::warn!(host = %s.host, "IMAP certificate verification is turned off ([imap] tls_accept_invalid_certs)");
        b.set_verify(SslVerifyMode::NONE);
    } else {
        b.set_verify(SslVerifyMode::PEER);
    }
    Ok(b.build())
}

/// The TLS handshake over `tcp`, checking the certificate names `s.host` (a DNS name, or an
/// IP address in its IP SAN).
fn connect_tls(
    s: &ImapSettings,
    tcp: TcpStream,
) -> Result<openssl::ssl::SslStream<TcpStream>, SyncError> {
    let tls_err = |detail: String| tls_error(s, detail);
    let ctx = tls_context(s)?;
    let mut ssl = openssl::ssl::Ssl::new(&ctx).map_err(|e| tls_err(e.to_string()))?;
    let host = s.host.trim_start_matches('[').trim_end_matches(']');
    let ip = host.parse::<std::net::IpAddr>().ok();
    if !s.tls.accept_invalid_certs {
        let param = ssl.param_mut();
        param.set_hostflags(openssl::x509::verify::X509CheckFlags::NO_PARTIAL_WILDCARDS);
        match ip {
            Some(ip) => param.set_ip(ip),
            None => param.set_host(host),
        }
        .map_err(|e| tls_err(e.to_string()))?;
    }
    if ip.is_none() {
        // SNI names a host, never an address (RFC 6066).
        ssl.set_hostname(host).map_err(|e| tls_err(e.to_string()))?;
    }
    ssl.connect(tcp).map_err(|e| {
        tls_err(match e {
            openssl::ssl::HandshakeError::Failure(m) => {
                let verify = m.ssl().verify_result();
                if verify == openssl::x509::X509VerifyResult::OK {
                    m.error().to_string()
                } else {
                    format!("the certificate is not trusted: {}", verify.error_string())
                }
            }
            other => other.to_string(),
        })
    })
}

/// Reads one CRLF-terminated line byte by byte, so nothing after it is consumed (the TLS
/// handshake follows STARTTLS's OK on the same socket).
fn read_line(tcp: &mut TcpStream) -> std::io::Result<String> {
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    while line.len() < 8192 {
        if tcp.read(&mut byte)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
        if byte[0] == b'\n' {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&line).into_owned())
}

const PASSWORD_CHECK: &str = "check [imap] username and password_command (or password_env)";
const XOAUTH2_CHECK: &str = "check [imap] username (the account the token was issued for) and that oauth2_token_command prints a current access token with the mail scope (tokens expire, often within an hour)";

/// Connects, secures and logs in.
pub fn connect(s: &ImapSettings) -> Result<Session, SyncError> {
    let addrs: Vec<_> = (s.host.as_str(), s.port)
        .to_socket_addrs()
        .map_err(|source| SyncError::Resolve {
            host: s.host.clone(),
            source,
        })?
        .collect();
    let mut last_err = None;
    let mut tcp = None;
    for addr in &addrs {
        match TcpStream::connect_timeout(addr, s.connect_timeout) {
            Ok(t) => {
                tcp = Some(t);
                break;
            }
            Err(e) => last_err = Some(e),
        }
    }
    let conn_err = |source| SyncError::Connect {
        host: s.host.clone(),
        port: s.port,
        source,
    };
    let mut tcp = tcp.ok_or_else(|| {
        conn_err(last_err.unwrap_or_else(|| std::io::ErrorKind::AddrNotAvailable.into()))
    })?;
    tcp.set_read_timeout(Some(s.io_timeout)).map_err(conn_err)?;
    tcp.set_write_timeout(Some(s.io_timeout))
        .map_err(conn_err)?;
    let _ = tcp.set_nodelay(true);
    let lost = |detail: String| SyncError::Connection {
        host: s.host.clone(),
        detail,
    };
    let tls_err = |detail: String| tls_error(s, detail);

    let (client, conn): (imap::Client<Conn>, Conn) = match s.security {
        Security::Tls => {
            let tls = connect_tls(s, tcp)?;
            let conn = Conn::new(Stream::Tls(tls));
            let mut c = imap::Client::new(conn.clone());
            c.read_greeting().map_err(|e| lost(e.to_string()))?;
            (c, conn)
        }
        Security::Starttls => {
            let greeting = read_line(&mut tcp).map_err(|e| lost(e.to_string()))?;
            if !greeting.starts_with("* OK") {
                return Err(lost(format!("unexpected greeting {:?}", greeting.trim())));
            }
            tcp.write_all(b"s0 STARTTLS\r\n")
                .map_err(|e| lost(e.to_string()))?;
            loop {
                let line = read_line(&mut tcp).map_err(|e| lost(e.to_string()))?;
                if line.starts_with("s0 ") {
                    if !line.starts_with("s0 OK") {
                        return Err(tls_err(format!(
                            "the server refused STARTTLS: {}",
                            line.trim()
                        )));
                    }
                    break;
                }
            }
            let tls = connect_tls(s, tcp)?;
            let conn = Conn::new(Stream::Tls(tls));
            (imap::Client::new(conn.clone()), conn)
        }
        Security::None => {
            let conn = Conn::new(Stream::Plain(tcp));
            let mut c = imap::Client::new(conn.clone());
            c.read_greeting().map_err(|e| lost(e.to_string()))?;
            (c, conn)
        }
    };
    let login_err = |e: imap::Error, check: &'static str, more: Option<String>| match e {
        imap::Error::No(d) | imap::Error::Bad(d) => SyncError::Login {
            host: s.host.clone(),
            user: s.username.clone(),
            detail: match more {
                Some(more) => format!("{}; {more}", d.trim()),
                None => d.trim().to_string(),
            },
            check,
        },
        other => lost(other.to_string()),
    };
    let session = match &s.auth {
        Auth::Password(p) => client
            .login(&s.username, p.expose())
            .map_err(|(e, _)| login_err(e, PASSWORD_CHECK, None))?,
        Auth::XOAuth2(token) => {
            let auth = XOAuth2::new(&s.username, token.expose());
            client
                .authenticate("XOAUTH2", &auth)
                .map_err(|(e, _)| login_err(e, XOAUTH2_CHECK, auth.server_error()))?
        }
    };
    Ok(Session {
        imap: session,
        conn,
    })
}

/// Compresses sorted UIDs into an IMAP sequence set: `1:5,8,10:12`.
pub fn uid_set(uids: &[u32]) -> String {
    let mut out = String::new();
    let mut i = 0;
    while i < uids.len() {
        let start = uids[i];
        let mut end = start;
        while i + 1 < uids.len() && uids[i + 1] == end + 1 {
            i += 1;
            end = uids[i];
        }
        if !out.is_empty() {
            out.push(',');
        }
        if start == end {
            out.push_str(&start.to_string());
        } else {
            out.push_str(&format!("{start}:{end}"));
        }
        i += 1;
    }
    out
}

/// What the fetching thread hands on: raw messages, batch ends, or the error that stopped it.
enum Raw {
    Message { uid: u32, raw: Vec<u8> },
    BatchEnd,
    Failed(SyncError),
}

/// The fetcher's side of the channel to the parser.
type RawGroups = Groups<Raw, SyncSender<Vec<Raw>>>;

/// Bytes of fetched mail on their way from the fetcher to the store. The fetcher waits while
/// [`InFlight::MAX`] are (a larger message goes alone), so that memory stays bounded when the
/// mailbox holds many large messages; the store gives them back as it stores each one.
///
/// Both sides touch it once per message, so the common case is lock-free: the count is an
/// atomic, and the store takes the lock (and wakes the fetcher) only when the fetcher waits.
/// A lock and a wake-up per message were 13,000 futex calls on a 10,000-message sync.
#[derive(Default)]
struct InFlight {
    bytes: std::sync::atomic::AtomicUsize,
    closed: std::sync::atomic::AtomicBool,
    /// How many wait (set under `lock`, read by the store after it gives bytes back).
    waiters: std::sync::atomic::AtomicUsize,
    lock: std::sync::Mutex<()>,
    freed: std::sync::Condvar,
}

impl InFlight {
    const MAX: usize = 32 << 20;

    fn fits(&self, n: usize) -> Option<usize> {
        let bytes = self.bytes.load(SeqCst);
        (self.closed.load(SeqCst) || bytes == 0 || bytes + n <= Self::MAX).then_some(bytes)
    }

    fn take(&self, n: usize) {
        loop {
            if let Some(bytes) = self.fits(n) {
                if self
                    .bytes
                    .compare_exchange(bytes, bytes + n, SeqCst, SeqCst)
                    .is_ok()
                {
                    return;
                }
                continue;
            }
            // Registered as waiting before the count is read again: a store that gives bytes
            // back after that read sees the waiter and wakes it (it takes the lock to do so,
            // which this thread holds until it waits).
            let guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.waiters.fetch_add(1, SeqCst);
            let guard = if self.fits(n).is_none() {
                self.freed
                    .wait_timeout(guard, Duration::from_secs(1))
                    .unwrap_or_else(|e| e.into_inner())
                    .0
            } else {
                guard
            };
            self.waiters.fetch_sub(1, SeqCst);
            drop(guard);
        }
    }

    fn give(&self, n: usize) {
        // Never below zero, even if given more than was taken.
        let _ = self
            .bytes
            .fetch_update(SeqCst, SeqCst, |b| Some(b.saturating_sub(n)));
        self.wake();
    }

    fn wake(&self) {
        if self.waiters.load(SeqCst) > 0 {
            let _guard = self.lock.lock().unwrap_or_else(|e| e.into_inner());
            self.freed.notify_all();
        }
    }

    /// The store stopped: the fetcher waits no longer (what it sends goes nowhere).
    fn close(&self) {
        self.closed.store(true, SeqCst);
        self.wake();
    }
}

/// Room for `len` more bytes in flight, before a message of that size is queued. What waits in
/// the fetcher's own group counts as in flight, yet only the store gives bytes back: when the
/// message does not fit, that group goes on first. (Before, a message over 31 MiB behind small
/// ones in an unsent group waited for bytes the fetcher itself held, for ever.) False once the
/// store has stopped.
fn make_room(in_flight: &InFlight, send: &mut RawGroups, len: usize) -> bool {
    if in_flight.fits(len).is_none() && !send.flush() {
        return false;
    }
    in_flight.take(len);
    true
}

enum Fetched {
    Message {
        uid: u32,
        raw: Vec<u8>,
        prepared: Box<Prepared>,
    },
    /// Every message of the batch up to this UID has been sent.
    BatchEnd,
    Failed(SyncError),
}

/// A message the store is done with, handed back to the parsing thread to be freed there
/// (groups::give_back).
type Spent = (Vec<u8>, Box<Prepared>);

/// Asks the kernel to treat the calling thread as a batch job: it keeps its share of the CPU,
/// but waking up no longer lets it take a core from a thread that is running.
///
/// For the fetcher. It wakes for every few TLS records the server sends, some 1,100 times on a
/// 10,000-message sync, and each time it took the core from the parser or the storing thread,
/// which set the pace when both cores are busy. Its reads can wait: the socket buffer and the
/// queues behind it hold more than a scheduling slice of mail. Warm bench (10 interleaved
/// runs): 500 → 463 ms. Linux only, where the policy is per thread.
fn batch_scheduling() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // SAFETY: a plain system call on the calling thread (pid 0), with a valid parameter.
        let r = unsafe { libc::sched_setscheduler(0, libc::SCHED_BATCH, &param) };
        if r != 0 {
            tracing::debug!(error = %std::io::Error::last_os_error(), "SCHED_BATCH refused");
        }
    }
}

/// One pass over the configured mailbox.
pub fn sync_once(
    store: &mut Store,
    ingest: &Ingest,
    s: &ImapSettings,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(Progress),
) -> Result<SyncReport, SyncError> {
    let started = Instant::now();
    sync_connected(store, ingest, s, connect(s), started, now, progress)
}

/// [`sync_once`] on a connection made meanwhile (`helpdesk sync` logs in while it opens the
/// store), `started` when the connecting started.
pub fn sync_connected(
    store: &mut Store,
    ingest: &Ingest,
    s: &ImapSettings,
    connected: Result<Session, SyncError>,
    started: Instant,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(Progress),
) -> Result<SyncReport, SyncError> {
    let mut report = SyncReport {
        mailbox: s.mailbox.clone(),
        ..SyncReport::default()
    };
    let mut session = connected?;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "connected and logged in"
    );
    progress(Progress::Connected);
    let mailbox_err = |e: imap::Error| SyncError::Mailbox {
        host: s.host.clone(),
        mailbox: s.mailbox.clone(),
        detail: e.to_string(),
    };
    // STATUS reads the mailbox's index header without opening it: when nothing is new and
    // nothing is left to flag, a pass ends here (the common case of a frequent sync).
    let asked = Instant::now();
    let status = session
        .status(&s.mailbox, "(UIDNEXT UIDVALIDITY)")
        .map_err(mailbox_err)?;
    // A round trip that costs next to nothing (a near server): see `batches`.
    let near = asked.elapsed() < NEAR_SERVER;
    if let (Some(next), Some(validity), Some(st)) = (
        status.uid_next,
        status.uid_validity,
        store::sync::get(store.conn(), &s.mailbox)?,
    ) && validity == st.uidvalidity
        && next <= st.last_uid + 1
        && st.applied_uid >= st.last_uid
    {
        let tx = store.write()?;
        store::sync::set(
            &tx,
            &s.mailbox,
            &SyncState {
                last_sync_at: Some(now()),
                ..st
            },
        )?;
        Store::commit(tx)?;
        let _ = session.logout();
        report.seconds = started.elapsed().as_secs_f64();
        tracing::debug!(
            ms = started.elapsed().as_millis() as u64,
            "nothing new (STATUS)"
        );
        return Ok(report);
    }
    let mailbox = session.select(&s.mailbox).map_err(|e| SyncError::Mailbox {
        host: s.host.clone(),
        mailbox: s.mailbox.clone(),
        detail: e.to_string(),
    })?;
    let uidvalidity = mailbox.uid_validity.unwrap_or(0);
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        exists = mailbox.exists,
        "mailbox selected"
    );
    let mut state = match store::sync::get(store.conn(), &s.mailbox)? {
        Some(st) if st.uidvalidity == uidvalidity => st,
        Some(_) => {
            report.uidvalidity_reset = true;
            tracing::warn!(mailbox = %s.mailbox, "UIDVALIDITY changed: reading the mailbox again, matching by Message-ID");
            SyncState {
                uidvalidity,
                last_uid: 0,
                applied_uid: 0,
                last_sync_at: None,
            }
        }
        None => SyncState {
            uidvalidity,
            last_uid: 0,
            applied_uid: 0,
            last_sync_at: None,
        },
    };

    // A previous pass may have stored messages and stopped before flagging them. A failure
    // here (say, a move folder that does not exist) must not stop new mail from coming in:
    // it is reported once the pass has stored what is new.
    let mut after_ingest_error = None;
    if state.applied_uid < state.last_uid {
        match apply_after_ingest(&mut session, s, state.applied_uid + 1, state.last_uid) {
            Ok(n) => {
                report.flagged += n;
                state.applied_uid = state.last_uid;
                let tx = store.write()?;
                store::sync::set(&tx, &s.mailbox, &state)?;
                Store::commit(tx)?;
            }
            // The server refused (say, a move folder that does not exist): the connection is
            // sound, new mail still comes in. Anything else (a timeout, a broken connection)
            // leaves the session unusable: stop here, the next sync starts over.
            Err(e @ SyncError::Command { .. }) => after_ingest_error = Some(e),
            Err(e) => {
                let tx = store.write()?;
                store::sync::set_error(&tx, &s.mailbox, &e.to_string())?;
                Store::commit(tx)?;
                return Err(e);
            }
        }
    }

    let nothing_new = mailbox.exists == 0
        || mailbox
            .uid_next
            .is_some_and(|next| next <= state.last_uid + 1);
    let mut uids: Vec<u32> = if nothing_new {
        Vec::new()
    } else {
        session
            .uid_search(format!("UID {}:*", state.last_uid + 1))
            .map_err(|e| command_err(s, "UID SEARCH", e))?
            .into_iter()
            // `n:*` always matches the highest UID, even when it is below n.
            .filter(|&u| u > state.last_uid)
            .collect()
    };
    uids.sort_unstable();
    let total = uids.len() as u64;
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        total,
        "new messages listed"
    );
    progress(Progress::Found { total });

    if !uids.is_empty() {
        // Three stages: fetching (network, TLS, IMAP parsing), parsing mail, storing. The
        // fetcher asks for the next batch while the last one is parsed and stored, so the
        // server works while we do.
        // At most 8 + 4 groups wait between the stages: some 400 small messages, enough to
        // smooth the stages' pace; or as many large ones (a group of its own each).
        let (raw_send, raw_recv) = sync_channel::<Vec<Raw>>(8);
        let (send, recv) = sync_channel::<Vec<Fetched>>(4);
        let (give_back, take_back) = groups::give_back::<Spent>();
        let in_flight = InFlight::default();
        let result = std::thread::scope(|scope| {
            let session = &mut session;
            let uids = &uids;
            let in_flight = &in_flight;
            let fetcher = scope.spawn(move || {
                batch_scheduling();
                let batches = batches(uids, s.batch, near);
                fetch_all(session, s, &batches, &mut Groups::new(raw_send), in_flight)
            });
            let parser = scope.spawn(move || {
                for group in raw_recv {
                    // Freed here, where it was parsed (groups::give_back).
                    take_back.free();
                    let out = group
                        .into_iter()
                        .map(|item| match item {
                            Raw::Message { uid, raw } => {
                                let prepared = Box::new(ingest.prepare(&raw));
                                Fetched::Message { uid, raw, prepared }
                            }
                            Raw::BatchEnd => Fetched::BatchEnd,
                            Raw::Failed(e) => Fetched::Failed(e),
                        })
                        .collect();
                    if send.send(out).is_err() {
                        return;
                    }
                }
            });
            // A fourth indexes for search while the next batches are stored.
            let stored = store::indexer::with_indexer(store, total, |store, pace| {
                // Whatever stops the store, a panic included, the fetcher must not wait for it.
                let _close = store::indexer::OnDrop(|| in_flight.close());
                let stored = store_all(
                    store,
                    ingest,
                    s,
                    &mut state,
                    (recv, give_back),
                    (pace, in_flight),
                    now,
                    &mut report,
                    progress,
                    total,
                );
                tracing::debug!(ms = started.elapsed().as_millis() as u64, "stored");
                stored
            });
            let _ = fetcher.join();
            let _ = parser.join();
            tracing::debug!(ms = started.elapsed().as_millis() as u64, "indexed");
            stored
        });
        result?;
    }

    if state.applied_uid < state.last_uid && after_ingest_error.is_none() {
        match apply_after_ingest(&mut session, s, state.applied_uid + 1, state.last_uid) {
            Ok(n) => {
                report.flagged += n;
                state.applied_uid = state.last_uid;
            }
            Err(e) => after_ingest_error = Some(e),
        }
    }
    state.last_sync_at = Some(now());
    let tx = store.write()?;
    store::sync::set(&tx, &s.mailbox, &state)?;
    if let Some(e) = &after_ingest_error {
        store::sync::set_error(&tx, &s.mailbox, &e.to_string())?;
    }
    Store::commit_unindexed(tx)?;
    // Normally nothing is left: the indexer followed the store. After it failed, what it did
    // not index is indexed here, in steps that lock only the search file.
    if let Err(e) = store.index_leftovers() {
        tracing::warn!(error = %e, "the search index is behind: it catches up later");
    }
    if let Some(e) = after_ingest_error {
        // The messages are stored; only the server-side action is left for the next pass.
        // After a broken connection the session may still owe a reply: no LOGOUT then.
        if matches!(e, SyncError::Command { .. }) {
            let _ = session.logout();
        }
        return Err(e);
    }
    tracing::debug!(
        ms = started.elapsed().as_millis() as u64,
        "stored and committed"
    );
    let _ = session.logout();
    report.seconds = started.elapsed().as_secs_f64();
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "logged out");
    Ok(report)
}

fn command_err(s: &ImapSettings, command: &str, e: imap::Error) -> SyncError {
    match e {
        imap::Error::No(d) | imap::Error::Bad(d) => SyncError::Command {
            host: s.host.clone(),
            command: command.into(),
            detail: d,
        },
        other => SyncError::Connection {
            host: s.host.clone(),
            detail: other.to_string(),
        },
    }
}

/// The UID ranges fetched (and committed) one at a time, `batch` UIDs each. From a near server
/// (`near`) a sync of more than one batch fetches its last `batch` UIDs in halves (a half, a
/// quarter, … until a piece is at most twice [`TAIL_BATCH`]): search indexes each committed
/// batch on a thread of its own, and after the last one the sync waits for it, so that wait
/// becomes the indexing of 125 messages (some 3 ms) instead of 1,000. Each piece costs a round
/// trip, which only a near server makes cheaper than what it saves.
pub fn batches(uids: &[u32], batch: usize, near: bool) -> Vec<&[u32]> {
    let batch = batch.max(1);
    if !near || uids.len() <= batch {
        return uids.chunks(batch).collect();
    }
    let (front, mut rest) = uids.split_at(uids.len() - batch);
    let mut out: Vec<&[u32]> = front.chunks(batch).collect();
    while rest.len() > 2 * TAIL_BATCH {
        let (a, b) = rest.split_at(rest.len() / 2);
        out.push(a);
        rest = b;
    }
    if !rest.is_empty() {
        out.push(rest);
    }
    out
}

/// Where [`batches`] stops halving.
const TAIL_BATCH: usize = 100;

/// A STATUS round trip shorter than this makes the server near ([`batches`]): the same host
/// or its LAN, not a server across the internet.
const NEAR_SERVER: Duration = Duration::from_millis(5);

/// The fetching thread: one `UID FETCH` per batch of a UID range. Each message is handed on as
/// soon as it has arrived, in UID order (a message the server sends ahead of a lower UID waits
/// for it, so the highest UID stored never passes one not stored yet).
fn fetch_all(
    session: &mut Session,
    s: &ImapSettings,
    batches: &[&[u32]],
    send: &mut RawGroups,
    in_flight: &InFlight,
) {
    for &chunk in batches {
        let set = uid_set(chunk);
        let mut waiting: std::collections::BTreeMap<u32, Vec<u8>> = Default::default();
        let mut next = 0;
        let mut open = true;
        let direct = super::fetch::uid_fetch(&session.conn, &set, |uid, body| {
            // A UID that was not asked for is not ours to store (nor to advance past).
            if chunk.binary_search(&uid).is_err() {
                return true;
            }
            waiting.insert(uid, body.to_vec());
            while let Some(raw) = chunk.get(next).and_then(|u| waiting.remove(u)) {
                let uid = chunk[next];
                next += 1;
                let len = raw.len();
                if !make_room(in_flight, send, len) || !send.push(Raw::Message { uid, raw }, len) {
                    open = false;
                    return false;
                }
            }
            true
        });
        if !open {
            return;
        }
        let sent = &chunk[..next];
        let got: Vec<(u32, Vec<u8>)> = match direct {
            // What waits behind a UID the server did not send comes last (see below).
            Ok(()) => waiting.into_iter().collect(),
            Err(super::fetch::FetchError::Busy) => {
                tracing::debug!(
                    "the imap crate may hold buffered bytes: its UID FETCH reads this batch"
                );
                match session.uid_fetch(&set, "(UID BODY.PEEK[])") {
                    Ok(fetches) => {
                        let mut got: Vec<(u32, Vec<u8>)> = fetches
                            .iter()
                            .filter_map(|f| Some((f.uid?, f.body()?.to_vec())))
                            .filter(|(u, _)| chunk.binary_search(u).is_ok())
                            .collect();
                        got.sort_unstable_by_key(|(u, _)| *u);
                        got
                    }
                    Err(e) => {
                        send.push(Raw::Failed(command_err(s, "UID FETCH", e)), 0);
                        return;
                    }
                }
            }
            Err(super::fetch::FetchError::Refused(detail)) => {
                send.push(
                    Raw::Failed(SyncError::Command {
                        host: s.host.clone(),
                        command: "UID FETCH".into(),
                        detail,
                    }),
                    0,
                );
                return;
            }
            Err(super::fetch::FetchError::Lost(detail)) => {
                send.push(
                    Raw::Failed(SyncError::Connection {
                        host: s.host.clone(),
                        detail,
                    }),
                    0,
                );
                return;
            }
        };
        // A UID the server sent nothing for was expunged meanwhile, or could not be read. The
        // highest UID stored must not pass one that still exists: the batch stops before it
        // and the sync reports it (the next sync starts there again).
        let missing: Vec<u32> = chunk
            .iter()
            .copied()
            .filter(|u| sent.binary_search(u).is_err() && !got.iter().any(|(g, _)| g == u))
            .collect();
        let mut blocked = None;
        if !missing.is_empty() {
            match session.uid_search(format!("UID {}", uid_set(&missing))) {
                Ok(found) => blocked = missing.iter().copied().find(|u| found.contains(u)),
                Err(e) => {
                    send.push(Raw::Failed(command_err(s, "UID SEARCH", e)), 0);
                    return;
                }
            }
        }
        for (uid, raw) in got {
            if blocked.is_some_and(|b| uid > b) {
                break;
            }
            let len = raw.len();
            if !make_room(in_flight, send, len) || !send.push(Raw::Message { uid, raw }, len) {
                return;
            }
        }
        if let Some(uid) = blocked {
            send.push(
                Raw::Failed(SyncError::Command {
                    host: s.host.clone(),
                    command: "UID FETCH".into(),
                    detail: format!(
                        "the server sent no content for UID {uid} of {}, which still exists; \
                         what came before it is stored, and the next sync starts from it again",
                        s.mailbox
                    ),
                }),
                0,
            );
            return;
        }
        // The end of a batch goes on at once: the store commits it.
        if !send.push(Raw::BatchEnd, 0) || !send.flush() {
            return;
        }
    }
}

/// The storing thread: a transaction per fetched batch, committed with the new highest UID.
#[allow(clippy::too_many_arguments)]
fn store_all(
    store: &mut Store,
    ingest: &Ingest,
    s: &ImapSettings,
    state: &mut SyncState,
    (recv, mut give_back): (Receiver<Vec<Fetched>>, groups::GiveBack<Spent>),
    (pace, in_flight): (&store::indexer::Pace, &InFlight),
    now: &dyn Fn() -> i64,
    report: &mut SyncReport,
    progress: &mut dyn FnMut(Progress),
    total: u64,
) -> Result<(), SyncError> {
    let source = format!("imap:{}", s.mailbox);
    // Where the storing thread waits (for the debug log): for mail, and for the indexer.
    let (mut for_mail, mut for_indexer) = (Duration::ZERO, Duration::ZERO);
    let mut items = std::iter::from_fn(|| {
        let t = Instant::now();
        let group = recv.recv().ok();
        for_mail += t.elapsed();
        group
    })
    .flatten();
    let mut failure = None;
    let mut ended = false;
    while !ended {
        let tx = store.write()?;
        // The ingest statements, prepared once for the batch (store::db).
        let batch = store::db::Batch::new(&tx);
        let mut stored = false;
        let mut batch_stored = 0;
        loop {
            match items.next() {
                None => {
                    ended = true;
                    break;
                }
                Some(Fetched::BatchEnd) => break,
                Some(Fetched::Failed(e)) => {
                    failure = Some(e);
                    ended = true;
                    break;
                }
                Some(Fetched::Message { uid, raw, prepared }) => {
                    let r = ingest.store(
                        &batch,
                        &RawMessage {
                            bytes: &raw,
                            source: &source,
                            mailbox: Some(&s.mailbox),
                            uidvalidity: Some(state.uidvalidity),
                            uid: Some(uid),
                        },
                        &prepared,
                        now(),
                    )?;
                    report
                        .summary
                        .add(&r.outcome, r.class, r.parse_error.is_some());
                    let len = raw.len();
                    in_flight.give(len);
                    report.fetched += 1;
                    batch_stored += 1;
                    state.last_uid = state.last_uid.max(uid);
                    stored = true;
                    give_back.push((raw, prepared), len);
                }
            }
        }
        // Whatever arrived whole is kept, also when the connection broke mid-batch.
        if stored {
            store::sync::set(&tx, &s.mailbox, state)?;
        }
        drop(batch);
        Store::commit_unindexed(tx)?;
        pace.stored(batch_stored);
        let t = Instant::now();
        pace.wait_for_indexer();
        for_indexer += t.elapsed();
        if stored {
            progress(Progress::Stored {
                done: report.fetched,
                total,
            });
        }
    }
    drop(items);
    tracing::debug!(
        waited_for_mail_ms = for_mail.as_millis() as u64,
        waited_for_indexer_ms = for_indexer.as_millis() as u64,
        "storing thread done"
    );
    match failure {
        Some(e) => {
            let tx = store.write()?;
            store::sync::set_error(&tx, &s.mailbox, &e.to_string())?;
            Store::commit(tx)?;
            Err(e)
        }
        None => Ok(()),
    }
}

/// Marks \Seen or moves the stored messages `from..=to` (UIDs).
fn apply_after_ingest(
    session: &mut Session,
    s: &ImapSettings,
    from: u32,
    to: u32,
) -> Result<u64, SyncError> {
    let set = format!("{from}:{to}");
    let count = u64::from(to - from + 1);
    match &s.after_ingest {
        AfterIngest::Nothing => Ok(0),
        AfterIngest::Seen => {
            session
                .uid_store(&set, "+FLAGS.SILENT (\\Seen)")
                .map_err(|e| command_err(s, "UID STORE", e))?;
            Ok(count)
        }
        AfterIngest::Move(folder) => {
            let caps = session
                .capabilities()
                .map_err(|e| command_err(s, "CAPABILITY", e))?;
            if caps.has_str("MOVE") {
                session
                    .uid_mv(&set, folder)
                    .map_err(|e| command_err(s, &format!("UID MOVE to {folder}"), e))?;
            } else {
                session
                    .uid_copy(&set, folder)
                    .map_err(|e| command_err(s, &format!("UID COPY to {folder}"), e))?;
                session
                    .uid_store(&set, "+FLAGS.SILENT (\\Deleted)")
                    .map_err(|e| command_err(s, "UID STORE", e))?;
                let uidplus = caps.has_str("UIDPLUS");
                if uidplus {
                    session
                        .uid_expunge(&set)
                        .map_err(|e| command_err(s, "UID EXPUNGE", e))?;
                } else {
                    session
                        .expunge()
                        .map_err(|e| command_err(s, "EXPUNGE", e))?;
                }
            }
            Ok(count)
        }
    }
}

/// Whether the server can push new mail (IDLE, RFC 2177).
pub fn has_idle(session: &mut Session) -> bool {
    session
        .capabilities()
        .map(|c| c.has_str("IDLE"))
        .unwrap_or(false)
}

/// Waits for new mail with IDLE, at most `timeout`; true when the mailbox changed.
pub fn idle_wait(session: &mut Session, timeout: Duration) -> Result<bool, String> {
    let handle = session.idle().map_err(|e| e.to_string())?;
    match handle.wait_with_timeout(timeout) {
        Ok(imap::extensions::idle::WaitOutcome::MailboxChanged) => Ok(true),
        Ok(imap::extensions::idle::WaitOutcome::TimedOut) => Ok(false),
        Err(e) => Err(e.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::{Groups, InFlight, Raw, XOAuth2, batches, make_room, uid_set};
    use imap::Authenticator;

    #[test]
    fn in_flight_bytes_are_bounded_and_a_large_message_goes_alone() {
        let f = InFlight::default();
        f.take(InFlight::MAX - 10);
        let waited = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|s| {
            let taker = s.spawn(|| {
                // Does not fit beside what is in flight: waits until it is given back.
                f.take(20);
                assert!(waited.load(std::sync::atomic::Ordering::SeqCst));
            });
            std::thread::sleep(std::time::Duration::from_millis(50));
            waited.store(true, std::sync::atomic::Ordering::SeqCst);
            f.give(InFlight::MAX - 10);
            taker.join().unwrap();
        });
        f.give(20);
        // Larger than the bound, with nothing else in flight: goes.
        f.take(InFlight::MAX * 2);
        // Closed: nothing waits any more.
        f.close();
        f.take(10);
    }

    #[test]
    fn from_a_near_server_the_last_batch_is_fetched_in_halves() {
        let sizes = |n: u32, batch, near| -> Vec<usize> {
            let uids: Vec<u32> = (1..=n).collect();
            let b = batches(&uids, batch, near);
            // In UID order, each UID once.
            assert_eq!(b.concat(), uids);
            b.iter().map(|b| b.len()).collect()
        };
        let halves = [500, 250, 125, 125];
        assert_eq!(
            sizes(10_000, 1000, true),
            [[1000; 9].as_slice(), &halves].concat()
        );
        // The last full batch is halved, whatever is left before it.
        assert_eq!(
            sizes(10_001, 1000, true),
            [[1000; 9].as_slice(), &[1], &halves].concat()
        );
        assert_eq!(
            sizes(1500, 1000, true),
            [[500].as_slice(), &halves].concat()
        );
        // One batch or less: one round trip, as from a far server.
        assert_eq!(sizes(1000, 1000, true), [1000]);
        assert_eq!(sizes(30, 1000, true), [30]);
        assert_eq!(sizes(10_000, 1000, false), [1000; 10]);
        assert_eq!(sizes(0, 1000, true), Vec::<usize>::new());
        // A batch of 0 is taken as 1, as before.
        assert_eq!(sizes(3, 0, true), [1, 1, 1]);
    }

    #[test]
    fn a_large_message_behind_small_ones_sends_them_on_instead_of_waiting_for_them() {
        let (tx, rx) = std::sync::mpsc::sync_channel::<Vec<Raw>>(8);
        let mut group = Groups::new(tx);
        let f = InFlight::default();
        // A small message waits in the fetcher's group (it goes on at 32 or 1 MiB).
        assert!(make_room(&f, &mut group, 10));
        assert!(group.push(
            Raw::Message {
                uid: 1,
                raw: vec![0; 10]
            },
            10
        ));
        std::thread::scope(|s| {
            let group = &mut group;
            let f = &f;
            let taker = s.spawn(move || make_room(f, group, InFlight::MAX));
            // The store: gets the small one, stores it, gives its bytes back.
            let got = rx.recv_timeout(std::time::Duration::from_secs(5));
            f.give(10);
            if got.is_err() {
                f.close(); // lets the taker go, so that the test fails instead of hanging
            }
            assert!(taker.join().unwrap());
            assert_eq!(
                got.map(|g| g.len()).ok(),
                Some(1),
                "the waiting group was not sent on"
            );
        });
    }

    #[test]
    fn uid_sets_are_compressed() {
        assert_eq!(uid_set(&[1, 2, 3, 5, 7, 8]), "1:3,5,7:8");
        assert_eq!(uid_set(&[42]), "42");
        assert_eq!(uid_set(&[]), "");
    }

    #[test]
    fn xoauth2_sends_the_token_once_and_acknowledges_the_error_empty() {
        let a = XOAuth2::new("support@example.com", "tok");
        assert_eq!(
            a.process(b""),
            "user=support@example.com\x01auth=Bearer tok\x01\x01"
        );
        assert_eq!(a.server_error(), None);
        // Gmail's answer to a stale token.
        let error = br#"{"status":"400","schemes":"Bearer","scope":"https://mail.google.com/"}"#;
        assert_eq!(a.process(error), "");
        assert_eq!(
            a.server_error().as_deref(),
            Some(r#"token status "400", scope "https://mail.google.com/""#)
        );
    }
}
