//! An OAuth 2 token introspection endpoint (RFC 7662) on 127.0.0.1, the identity provider
//! for Dovecot's `oauth2` passdb (`servers::Options::oauth2_introspection`).
//!
//! `POST /introspect` with the form body `token=…` is answered
//! `{"active": true, "username": "<user>"}` for a token it was given and `{"active": false}`
//! for any other; every request is recorded. One connection at a time, `Connection: close`;
//! the thread stops when the value is dropped.
#![allow(dead_code)]

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Longer than any test runs: the accept loop ends by then even if never dropped.
const LIFETIME: Duration = Duration::from_secs(600);
const POLL: Duration = Duration::from_millis(5);
const IO_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUEST: usize = 64 * 1024;

/// One request as the endpoint saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The `token` form field (percent-decoded), if any.
    pub token: Option<String>,
    /// Whether the answer was `"active": true`.
    pub active: bool,
}

pub struct Introspection {
    url: String,
    valid: Arc<Mutex<HashMap<String, String>>>,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Introspection {
    /// Listens on 127.0.0.1 (a free port) and serves until dropped. `valid` maps each valid
    /// token to the user name it belongs to.
    pub fn start(valid: &[(&str, &str)]) -> Introspection {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let valid: Arc<Mutex<HashMap<String, String>>> = Arc::new(Mutex::new(
            valid
                .iter()
                .map(|(t, u)| (t.to_string(), u.to_string()))
                .collect(),
        ));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (valid, requests, stop) = (valid.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || serve(listener, &valid, &requests, &stop))
        };
        Introspection {
            url: format!("http://127.0.0.1:{port}/introspect"),
            valid,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT/introspect`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// From now on, `token` is valid for `user` (a refreshed access token).
    pub fn allow(&self, token: &str, user: &str) {
        self.lock_valid().insert(token.into(), user.into());
    }

    /// From now on, `token` is refused (expired or revoked).
    pub fn revoke(&self, token: &str) {
        self.lock_valid().remove(token);
    }

    fn lock_valid(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.valid.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every request so far, in order.
    pub fn requests(&self) -> Vec<Request> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// How many requests carried this token.
    pub fn count(&self, token: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.token.as_deref() == Some(token))
            .count()
    }
}

impl Drop for Introspection {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(
    listener: TcpListener,
    valid: &Mutex<HashMap<String, String>>,
    requests: &Mutex<Vec<Request>>,
    stop: &AtomicBool,
) {
    let end = Instant::now() + LIFETIME;
    while !stop.load(Ordering::SeqCst) && Instant::now() < end {
        match listener.accept() {
            Ok((stream, _)) => {
                // A broken request only fails the login that sent it.
                let valid = valid.lock().unwrap_or_else(|e| e.into_inner()).clone();
                if let Some(r) = answer(stream, &valid) {
                    requests.lock().unwrap_or_else(|e| e.into_inner()).push(r);
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(POLL),
            Err(_) => std::thread::sleep(POLL),
        }
    }
}

/// Reads one HTTP/1.1 request, answers it and closes the connection.
fn answer(mut stream: TcpStream, valid: &HashMap<String, String>) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    stream.set_write_timeout(Some(IO_TIMEOUT)).ok()?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(i) = find(&buf, b"\r\n\r\n") {
            break i;
        }
        if buf.len() > MAX_REQUEST {
            return None;
        }
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let mut start = lines.next()?.split_whitespace();
    let (method, path) = (start.next()?.to_string(), start.next()?.to_string());
    let length: usize = lines
        .filter_map(|l| l.split_once(':'))
        .find(|(n, _)| n.trim().eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0);
    if length > MAX_REQUEST {
        return None;
    }
    let mut body = buf[head_end + 4..].to_vec();
    while body.len() < length {
        let n = stream.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        body.extend_from_slice(&chunk[..n]);
    }
    body.truncate(length);
    let token = String::from_utf8_lossy(&body)
        .split('&')
        .find_map(|kv| kv.strip_prefix("token=").map(form_decode));
    let user = (method == "POST" && path == "/introspect")
        .then(|| token.as_ref().and_then(|t| valid.get(t)))
        .flatten();
    let json = match user {
        Some(u) => format!(r#"{{"active": true, "username": "{u}", "scope": "mail"}}"#),
        None => r#"{"active": false}"#.to_string(),
    };
    let status = if path == "/introspect" {
        "200 OK"
    } else {
        "404 Not Found"
    };
    let reply = format!(
        "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{json}",
        json.len()
    );
    let _ = stream.write_all(reply.as_bytes());
    let _ = stream.flush();
    Some(Request {
        method,
        path,
        token,
        active: user.is_some(),
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// `application/x-www-form-urlencoded` value: `+` is a space, `%XX` a byte.
fn form_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(v) => {
                        out.push(v);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
