//! The bulk `UID FETCH` of a sync, read straight off the connection.
//!
//! The `imap` crate reads a response line by line and parses everything read so far after each
//! line, until the tagged completion: for a message literal of 60 lines that is 60 parses of
//! the response's start, then one more of the whole batch. On a 10,000-message sync that was
//! 2.5 of 11.6 billion instructions, a fifth of the sync's CPU on a 2-core machine where the
//! sync is CPU-bound. This reader scans each response once and hands every message on as soon
//! as its literal is complete, so parsing and storing start with the first message instead of
//! after the first batch.
//!
//! It shares the connection with the crate's session ([`Conn`] is a handle). It is used only
//! when the crate has nothing buffered: the bytes last read from the socket must end with the
//! tagged completion of the crate's last command (the crate reads up to the end of that line,
//! so nothing is left in its buffer). Otherwise the caller uses the crate's `uid_fetch`. Bytes
//! this reader took from the socket beyond its own completion are handed back to the next read.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The byte stream under a session: TLS, or plain TCP to loopback.
pub enum Stream {
    Plain(TcpStream),
    Tls(openssl::ssl::SslStream<TcpStream>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(t) => t,
            Stream::Tls(t) => t.get_ref(),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(t) => t.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(t) => t.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(t) => t.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

/// A connection shared by the `imap` crate's session and [`uid_fetch`].
#[derive(Clone)]
pub struct Conn(Arc<Mutex<Link>>);

struct Link {
    stream: Stream,
    /// Bytes read from the socket but not yet consumed: returned by the next reads first.
    pushback: Vec<u8>,
    /// The end of what the last read returned (at most [`TAIL`] bytes).
    tail: Vec<u8>,
    /// The tag of the last command written, and whether a write starts a new line.
    last_tag: Vec<u8>,
    line_start: bool,
}

const TAIL: usize = 512;

impl Conn {
    pub fn new(stream: Stream) -> Conn {
        Conn(Arc::new(Mutex::new(Link {
            stream,
            pushback: Vec::new(),
            tail: Vec::new(),
            last_tag: Vec::new(),
            line_start: true,
        })))
    }

    fn link(&self) -> MutexGuard<'_, Link> {
        // A panic while holding the lock leaves the bytes as they were: still usable.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn set_read_timeout(&self, timeout: Option<Duration>) -> std::io::Result<()> {
        self.link().stream.tcp().set_read_timeout(timeout)
    }
}

impl Link {
    /// Nothing is buffered above us: the last bytes read end with the tagged completion of
    /// the last command written.
    fn idle(&self) -> bool {
        if !self.pushback.is_empty() || self.last_tag.is_empty() || !self.tail.ends_with(b"\r\n") {
            return false;
        }
        let body = &self.tail[..self.tail.len() - 2];
        let line = match body.iter().rposition(|&b| b == b'\n') {
            Some(i) => &body[i + 1..],
            None if self.tail.len() < TAIL => body,
            None => return false,
        };
        line.starts_with(&self.last_tag) && line.get(self.last_tag.len()) == Some(&b' ')
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let mut link = self.link();
        let n = if link.pushback.is_empty() {
            link.stream.read(buf)?
        } else {
            let n = buf.len().min(link.pushback.len());
            buf[..n].copy_from_slice(&link.pushback[..n]);
            link.pushback.drain(..n);
            n
        };
        let got = &buf[..n];
        if got.len() >= TAIL {
            link.tail.clear();
            link.tail.extend_from_slice(&got[got.len() - TAIL..]);
        } else {
            link.tail.extend_from_slice(got);
            let excess = link.tail.len().saturating_sub(TAIL);
            link.tail.drain(..excess);
        }
        Ok(n)
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut link = self.link();
        let n = link.stream.write(buf)?;
        // Only what was written counts: the rest comes again in the next call.
        let written = &buf[..n];
        if link.line_start && !written.is_empty() {
            let tag_end = written
                .iter()
                .position(|&b| b == b' ')
                .unwrap_or(written.len());
            link.last_tag = written[..tag_end].to_vec();
        }
        if !written.is_empty() {
            link.line_start = written.ends_with(b"\n");
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.link().stream.flush()
    }
}

impl imap::extensions::idle::SetReadTimeout for Conn {
    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> imap::error::Result<()> {
        Conn::set_read_timeout(self, timeout).map_err(imap::Error::Io)
    }
}

/// Why [`uid_fetch`] stopped.
#[derive(Debug)]
pub enum FetchError {
    /// The crate may have bytes buffered: use its `uid_fetch` for this batch.
    Busy,
    /// The server answered NO or BAD.
    Refused(String),
    /// The connection failed or closed, or the server sent something this reader does not
    /// understand.
    Lost(String),
}

/// Sends `UID FETCH set (UID BODY.PEEK[])` and calls `each(uid, message)` for every message as
/// soon as it has arrived whole; `each` returns false to stop reading (the rest of the
/// response is then left unread and the connection must not be used again).
pub fn uid_fetch(
    conn: &Conn,
    set: &str,
    mut each: impl FnMut(u32, &[u8]) -> bool,
) -> Result<(), FetchError> {
    let mut link = conn.link();
    if !link.idle() {
        return Err(FetchError::Busy);
    }
    const TAG: &[u8] = b"hdf";
    let command = format!("hdf UID FETCH {set} (UID BODY.PEEK[])\r\n");
    link.stream
        .write_all(command.as_bytes())
        .and_then(|()| link.stream.flush())
        .map_err(|e| FetchError::Lost(e.to_string()))?;
    link.last_tag = TAG.to_vec();
    link.line_start = true;

    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut start = 0;
    let mut chunk = vec![0u8; 64 * 1024];
    // Reads until `buf` holds at least `need` bytes from `start`.
    let mut fill = |link: &mut Link, buf: &mut Vec<u8>, start: &mut usize, need: usize| {
        while buf.len() - *start < need {
            if *start > 0 && *start >= buf.len() / 2 {
                buf.drain(..*start);
                *start = 0;
            }
            let n = link
                .stream
                .read(&mut chunk)
                .map_err(|e| FetchError::Lost(e.to_string()))?;
            if n == 0 {
                return Err(FetchError::Lost("the server closed the connection".into()));
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        Ok(())
    };
    loop {
        // One response: a line, and for each literal it announces, the literal and the rest.
        let mut need = 1;
        let parsed = loop {
            fill(&mut link, &mut buf, &mut start, need)?;
            match parse_response(&buf[start..]) {
                Parsed::Incomplete(more) => need = buf.len() - start + more,
                other => break other,
            }
        };
        match parsed {
            Parsed::Incomplete(_) => unreachable!("handled above"),
            Parsed::Bad(why) => return Err(FetchError::Lost(why)),
            Parsed::Fetch { len, uid, body } => {
                let whole = &buf[start..start + len];
                // A body may also come as a quoted string (RFC 3501 allows it for short ones);
                // NIL, or no body at all, is a message that is gone: skipped, as the imap
                // crate skips it.
                let quoted;
                let body = match body {
                    Some((from, to)) => Some(&whole[from..to]),
                    None => {
                        quoted = quoted_body(whole);
                        quoted.as_deref()
                    }
                };
                if let (Some(uid), Some(body)) = (uid, body)
                    && !each(uid, body)
                {
                    return Ok(());
                }
                start += len;
            }
            Parsed::Other { len, line_start } => {
                let line = &buf[start + line_start..start + len];
                if line.starts_with(TAG) && line.get(TAG.len()) == Some(&b' ') {
                    let status = String::from_utf8_lossy(&line[TAG.len() + 1..])
                        .trim_end()
                        .to_owned();
                    start += len;
                    // Bytes past our completion belong to whoever reads next.
                    let rest = buf[start..].to_vec();
                    link.pushback = rest;
                    link.tail = b"hdf OK\r\n".to_vec();
                    if status.starts_with("OK") {
                        return Ok(());
                    }
                    return Err(FetchError::Refused(status));
                }
                if line.starts_with(b"* BYE") {
                    let why = String::from_utf8_lossy(line).trim_end().to_owned();
                    return Err(FetchError::Lost(why));
                }
                // Untagged data (EXISTS, RECENT, FLAGS updates…) is not ours to act on.
                start += len;
            }
        }
    }
}

/// One response parsed from the start of a buffer.
#[derive(Debug, PartialEq)]
enum Parsed {
    /// At least this many more bytes are needed.
    Incomplete(usize),
    /// A FETCH response of `len` bytes; `body` is the range of its BODY[] literal.
    Fetch {
        len: usize,
        uid: Option<u32>,
        body: Option<(usize, usize)>,
    },
    /// Any other response of `len` bytes; its last line starts at `line_start`.
    Other { len: usize, line_start: usize },
    /// Something this reader will not read: the connection cannot be trusted after it.
    Bad(String),
}

/// Parses one response. Literals (`{n}\r\n` then n bytes) may appear anywhere; a FETCH's
/// `BODY[]` literal is located, and `UID n` read, outside literals.
fn parse_response(b: &[u8]) -> Parsed {
    let mut pos = 0;
    let mut line_start = 0;
    let mut body = None;
    let mut uid = None;
    let is_fetch = is_fetch_start(b);
    loop {
        let Some(eol) = find_crlf(&b[pos..]) else {
            // Outside literals a line is short; a server that never ends one is not waited for
            // until memory runs out.
            if b.len() - pos > MAX_LINE {
                return Parsed::Bad(format!("the server sent a line of over {MAX_LINE} bytes"));
            }
            return Parsed::Incomplete(1);
        };
        let line = &b[pos..pos + eol];
        // The part of the line after the last literal (or the line start).
        if is_fetch {
            scan_items(line, &mut uid);
        }
        match literal_len(line) {
            Some(Err(why)) => return Parsed::Bad(why),
            Some(Ok(n)) => {
                let lit_start = pos + eol + 2;
                if b.len() < lit_start + n {
                    return Parsed::Incomplete(lit_start + n - b.len());
                }
                if is_fetch && ends_with_body_item(&line[..line.len() - digits_len(line) - 2]) {
                    body = Some((lit_start, lit_start + n));
                }
                pos = lit_start + n;
                line_start = pos;
            }
            None => {
                let len = pos + eol + 2;
                return if is_fetch {
                    Parsed::Fetch { len, uid, body }
                } else {
                    Parsed::Other { len, line_start }
                };
            }
        }
    }
}

/// The `BODY[] "..."` of a FETCH response, unescaped.
fn quoted_body(response: &[u8]) -> Option<Vec<u8>> {
    let upper = response.to_ascii_uppercase();
    let at = find(&upper, b"BODY[] \"")? + b"BODY[] \"".len();
    let mut out = Vec::new();
    let mut bytes = response[at..].iter();
    while let Some(&c) = bytes.next() {
        match c {
            b'"' => return Some(out),
            b'\\' => out.push(*bytes.next()?),
            b'\r' | b'\n' => return None,
            c => out.push(c),
        }
    }
    None
}

fn find_crlf(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = b[from..].iter().position(|&c| c == b'\n') {
        let at = from + i;
        if at > 0 && b[at - 1] == b'\r' {
            return Some(at - 1);
        }
        from = at + 1;
    }
    None
}

/// `* 12 FETCH (`
fn is_fetch_start(b: &[u8]) -> bool {
    let Some(rest) = b.strip_prefix(b"* ") else {
        return false;
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    digits > 0 && rest[digits..].starts_with(b" FETCH (")
}

/// The n of a line ending in `{n}` (a literal follows).
/// The longest protocol line accepted (literals aside).
const MAX_LINE: usize = 1 << 20;

/// The largest literal accepted: a message bigger than this is refused, not read.
pub const MAX_LITERAL: usize = 1 << 30;

/// The n of a line ending in `{n}` (a literal follows): None when there is none, Err when the
/// announced length is over [`MAX_LITERAL`] (or not a number this reader can hold).
fn literal_len(line: &[u8]) -> Option<Result<usize, String>> {
    let inner = line.strip_suffix(b"}")?;
    let d = digits_len_of(inner);
    if d == 0 || inner.len() < d + 1 || inner[inner.len() - d - 1] != b'{' {
        return None;
    }
    let digits = std::str::from_utf8(&inner[inner.len() - d..]).unwrap_or("");
    Some(match digits.parse::<usize>() {
        Ok(n) if n <= MAX_LITERAL => Ok(n),
        _ => Err(format!(
            "the server announced a literal of {digits} bytes (at most {MAX_LITERAL} are read)"
        )),
    })
}

/// Length of the digits before the final `}` of a literal announcement.
fn digits_len(line: &[u8]) -> usize {
    digits_len_of(&line[..line.len() - 1])
}

fn digits_len_of(b: &[u8]) -> usize {
    b.iter().rev().take_while(|c| c.is_ascii_digit()).count()
}

/// Whether the text before a literal ends with the item name `BODY[]` (and a space).
fn ends_with_body_item(before: &[u8]) -> bool {
    let t = before.strip_suffix(b" ").unwrap_or(before);
    let upper: Vec<u8> = t[t.len().saturating_sub(7)..].to_ascii_uppercase();
    upper.ends_with(b"BODY[]") && (upper.len() < 7 || matches!(upper[0], b' ' | b'('))
}

/// Reads `UID n` from a stretch of a FETCH response outside literals.
fn scan_items(part: &[u8], uid: &mut Option<u32>) {
    let upper = part.to_ascii_uppercase();
    let mut from = 0;
    while let Some(i) = find(&upper[from..], b"UID ") {
        let at = from + i;
        let before_ok = at == 0 || matches!(upper[at - 1], b' ' | b'(');
        let digits: Vec<u8> = upper[at + 4..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .copied()
            .collect();
        if before_ok
            && !digits.is_empty()
            && let Ok(n) = std::str::from_utf8(&digits).unwrap_or("").parse()
        {
            *uid = Some(n);
            return;
        }
        from = at + 4;
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::{Conn, FetchError, Parsed, Stream, parse_response, uid_fetch};
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// A connection to a scripted server on 127.0.0.1: for each command line it reads, it
    /// writes the next reply. Ends after the script (bounded).
    fn scripted(replies: Vec<Vec<u8>>) -> (Conn, std::thread::JoinHandle<Vec<String>>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (s, _) = listener.accept().unwrap();
            s.set_read_timeout(Some(std::time::Duration::from_secs(5)))
                .unwrap();
            let mut w = s.try_clone().unwrap();
            let mut r = BufReader::new(s);
            let mut commands = Vec::new();
            for reply in replies {
                let mut line = String::new();
                if r.read_line(&mut line).unwrap_or(0) == 0 {
                    break;
                }
                commands.push(line.trim_end().to_owned());
                w.write_all(&reply).unwrap();
            }
            commands
        });
        let tcp = TcpStream::connect(addr).unwrap();
        tcp.set_read_timeout(Some(std::time::Duration::from_secs(5)))
            .unwrap();
        (Conn::new(Stream::Plain(tcp)), server)
    }

    /// What a client of the conn (the imap crate) does: a command, then lines up to its tag.
    fn command(conn: &mut Conn, tag: &str, text: &str) -> String {
        conn.write_all(format!("{tag} {text}\r\n").as_bytes())
            .unwrap();
        conn.flush().unwrap();
        let mut got = Vec::new();
        let mut byte = [0u8; 1];
        // Byte by byte, like a buffered reader that happened to read exactly this much.
        while !got.ends_with(b"\r\n")
            || !got
                .rsplit(|&b| b == b'\n')
                .nth(1)
                .unwrap_or(&got)
                .starts_with(tag.as_bytes())
        {
            if conn.read(&mut byte).unwrap() == 0 {
                break;
            }
            got.push(byte[0]);
        }
        String::from_utf8_lossy(&got).into_owned()
    }

    #[test]
    fn the_direct_fetch_reads_after_a_finished_command_and_hands_back_what_follows() {
        let (mut conn, server) = scripted(vec![
            b"a1 OK selected\r\n".to_vec(),
            b"* 1 FETCH (UID 7 BODY[] {4}\r\nab\r\n)\r\n* 2 FETCH (UID 8 BODY[] {1}\r\nx)\r\nhdf OK done\r\n* 3 EXISTS\r\n".to_vec(),
            b"a2 OK noop\r\n".to_vec(),
        ]);
        assert!(command(&mut conn, "a1", "SELECT INBOX").ends_with("a1 OK selected\r\n"));
        let mut got = Vec::new();
        uid_fetch(&conn, "7:8", |uid, body| {
            got.push((uid, body.to_vec()));
            true
        })
        .unwrap();
        assert_eq!(got, [(7, b"ab\r\n".to_vec()), (8, b"x".to_vec())]);
        // The untagged line after our completion reaches the next reader, first.
        let next = command(&mut conn, "a2", "NOOP");
        assert_eq!(next, "* 3 EXISTS\r\na2 OK noop\r\n");
        drop(conn);
        let commands = server.join().unwrap();
        assert_eq!(commands[1], "hdf UID FETCH 7:8 (UID BODY.PEEK[])");
    }

    #[test]
    fn the_direct_fetch_stands_back_when_bytes_may_be_buffered_above_it() {
        let (mut conn, server) = scripted(vec![b"a1 OK selected\r\n".to_vec()]);
        // Before any command, and after a command whose completion was not the last read.
        assert!(matches!(
            uid_fetch(&conn, "1", |_, _| true),
            Err(FetchError::Busy)
        ));
        conn.write_all(b"a1 SELECT INBOX\r\n").unwrap();
        let mut part = [0u8; 4];
        conn.read_exact(&mut part).unwrap();
        assert!(matches!(
            uid_fetch(&conn, "1", |_, _| true),
            Err(FetchError::Busy)
        ));
        drop(conn);
        server.join().unwrap();
    }

    #[test]
    fn a_refusal_and_a_closed_connection_are_errors() {
        let (mut conn, server) = scripted(vec![
            b"a1 OK selected\r\n".to_vec(),
            b"hdf NO [SERVERBUG] oops\r\n".to_vec(),
        ]);
        command(&mut conn, "a1", "SELECT INBOX");
        match uid_fetch(&conn, "1", |_, _| true) {
            Err(FetchError::Refused(why)) => assert_eq!(why, "NO [SERVERBUG] oops"),
            other => panic!("{other:?}"),
        }
        // The server's script ends: the next fetch finds the connection closed mid-response.
        server.join().unwrap();
        match uid_fetch(&conn, "1", |_, _| true) {
            Err(FetchError::Lost(_)) => {}
            other => panic!("{other:?}"),
        }
    }

    fn fetch(b: &[u8]) -> (usize, Option<u32>, Option<Vec<u8>>) {
        match parse_response(b) {
            Parsed::Fetch { len, uid, body } => (len, uid, body.map(|(s, e)| b[s..e].to_vec())),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_fetch_with_its_literal_in_either_order() {
        let r = b"* 1 FETCH (UID 42 BODY[] {5}\r\nab\r\nc)\r\n* 2 FETCH";
        let first = r.len() - b"* 2 FETCH".len();
        assert_eq!(fetch(r), (first, Some(42), Some(b"ab\r\nc".to_vec())));
        let r = b"* 7 FETCH (BODY[] {3}\r\nxyz UID 9)\r\n";
        assert_eq!(fetch(r), (r.len(), Some(9), Some(b"xyz".to_vec())));
        let r = b"* 7 FETCH (UID 9 FLAGS (\\Seen) BODY[] {0}\r\n)\r\n";
        assert_eq!(fetch(r), (r.len(), Some(9), Some(Vec::new())));
    }

    #[test]
    fn a_literal_that_looks_like_a_response_is_data() {
        // The message itself contains lines like a tagged completion and a literal marker.
        let msg = b"hdf OK fake\r\nX: {99}\r\nUID 1\r\n";
        let mut r = format!("* 3 FETCH (UID 77 BODY[] {{{}}}\r\n", msg.len()).into_bytes();
        r.extend_from_slice(msg);
        r.extend_from_slice(b")\r\n");
        assert_eq!(fetch(&r), (r.len(), Some(77), Some(msg.to_vec())));
    }

    #[test]
    fn an_absurd_literal_length_is_refused_not_read() {
        for r in [
            &b"* 1 FETCH (UID 4 BODY[] {18446744073709551586}\r\nab)\r\n"[..],
            b"* 1 FETCH (UID 4 BODY[] {999999999999999999999999}\r\nab)\r\n",
            b"* 1 FETCH (UID 4 BODY[] {1073741825}\r\n",
        ] {
            assert!(matches!(parse_response(r), Parsed::Bad(_)), "{r:?}");
        }
        let endless = vec![b'x'; (1 << 20) + 10];
        assert!(matches!(parse_response(&endless), Parsed::Bad(_)));
    }

    #[test]
    fn incomplete_responses_say_how_much_is_missing() {
        assert_eq!(parse_response(b"* 1 FETCH (UID 4"), Parsed::Incomplete(1));
        assert_eq!(
            parse_response(b"* 1 FETCH (UID 4 BODY[] {10}\r\nabc"),
            Parsed::Incomplete(7)
        );
        assert_eq!(
            parse_response(b"* 1 FETCH (UID 4 BODY[] {3}\r\nabc"),
            Parsed::Incomplete(1)
        );
    }

    #[test]
    fn other_responses_and_a_body_of_nil() {
        assert_eq!(
            parse_response(b"* 12 EXISTS\r\nhdf OK done\r\n"),
            Parsed::Other {
                len: 13,
                line_start: 0
            }
        );
        let r = b"* 1 FETCH (UID 5 BODY[] NIL)\r\n";
        assert_eq!(fetch(r), (r.len(), Some(5), None));
        assert_eq!(
            super::quoted_body(b"* 1 FETCH (UID 5 BODY[] \"Subject: a \\\"b\\\"\")\r\n"),
            Some(b"Subject: a \"b\"".to_vec())
        );
        assert_eq!(
            super::quoted_body(b"* 1 FETCH (UID 5 BODY[] NIL)\r\n"),
            None
        );
        // A header literal is not the body.
        let r = b"* 1 FETCH (UID 5 BODY[HEADER] {2}\r\nab)\r\n";
        assert_eq!(fetch(r), (r.len(), Some(5), None));
    }
}
