//! A small HTTP/1.1 server on 127.0.0.1 for tests: a GitLab-API-compatible issues endpoint
//! and a chat webhook receiver. One connection at a time, `Connection: close`; the accept loop
//! stops when the server is dropped or after a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Request {
    pub method: String,
    /// Path and query, as sent.
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("a JSON body")
    }
    /// The decoded value of a query parameter.
    pub fn query(&self, key: &str) -> Option<String> {
        let q = self.target.split_once('?')?.1;
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| decode(v))
        })
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let h = std::str::from_utf8(&b[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(h, 16).unwrap());
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// What the handler answers: a status and a body, or hold the connection open until the
/// client gives up (to make it time out after the server did the work).
pub enum Reply {
    Json(u16, serde_json::Value),
    Text(u16, String),
    Hang,
}

type Handler = Box<dyn FnMut(&Request) -> Reply + Send>;

pub struct Server {
    pub port: u16,
    pub requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    pub fn start(mut handler: Handler) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, halt) = (Arc::clone(&requests), Arc::clone(&stop));
        let thread = std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            while !halt.load(Ordering::Relaxed) && Instant::now() < deadline {
                match listener.accept() {
                    Ok((stream, _)) => {
                        if let Some(req) = serve(stream, &mut handler) {
                            reqs.lock().unwrap().push(req);
                        }
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(5));
                    }
                    Err(_) => break,
                }
            }
        });
        Server {
            port,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn requests(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn serve(stream: TcpStream, handler: &mut Handler) -> Option<Request> {
    stream.set_nonblocking(false).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    let mut reader = BufReader::new(stream.try_clone().ok()?);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            break;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((n, v)) = h.split_once(':') {
            headers.push((n.trim().to_owned(), v.trim().to_owned()));
        }
    }
    let len: usize = headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; len];
    reader.read_exact(&mut body).ok()?;
    let req = Request {
        method,
        target,
        headers,
        body,
    };
    let mut stream = stream;
    let (status, content_type, text) = match handler(&req) {
        Reply::Json(s, v) => (s, "application/json", v.to_string()),
        Reply::Text(s, t) => (s, "text/plain", t),
        Reply::Hang => {
            // Wait (bounded) until the client gives up and closes the connection.
            let mut buf = [0u8; 64];
            let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
            let _ = stream.read(&mut buf);
            return Some(req);
        }
    };
    let _ = write!(
        stream,
        "HTTP/1.1 {status} X\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}",
        text.len()
    );
    let _ = stream.flush();
    Some(req)
}

/// The issues of a fake GitLab project, as the API keeps them.
#[derive(Debug, Clone, Default)]
pub struct Issues {
    pub list: Vec<serde_json::Value>,
}

/// A GitLab API v4 stand-in for one project: `GET .../issues?search=` and
/// `POST .../issues`, with PRIVATE-TOKEN checked. `hang_first_create`: the first create is
/// stored but never answered.
pub fn gitlab(
    project_path: &str,
    token: &str,
    hang_first_create: bool,
) -> (Server, Arc<Mutex<Issues>>) {
    let issues = Arc::new(Mutex::new(Issues::default()));
    let store = Arc::clone(&issues);
    let base = format!("/api/v4/projects/{project_path}/issues");
    let token = token.to_owned();
    let mut hang = hang_first_create;
    let port = Arc::new(Mutex::new(0u16));
    let port_in = Arc::clone(&port);
    let server = Server::start(Box::new(move |req: &Request| {
        if req.header("PRIVATE-TOKEN") != Some(token.as_str()) {
            return Reply::Json(401, serde_json::json!({"message": "401 Unauthorized"}));
        }
        if req.path() != base {
            return Reply::Json(404, serde_json::json!({"message": "404 Project Not Found"}));
        }
        let mut issues = store.lock().unwrap();
        match req.method.as_str() {
            "GET" => {
                let search = req.query("search").unwrap_or_default();
                let found: Vec<serde_json::Value> = issues
                    .list
                    .iter()
                    .filter(|i| i["title"].as_str().unwrap().contains(&search))
                    .cloned()
                    .collect();
                Reply::Json(200, serde_json::Value::Array(found))
            }
            "POST" => {
                let body = req.json();
                let Some(title) = body["title"].as_str() else {
                    return Reply::Json(400, serde_json::json!({"message": "title is missing"}));
                };
                let iid = issues.list.len() as i64 + 1;
                let labels: Vec<&str> = body["labels"]
                    .as_str()
                    .unwrap_or("")
                    .split(',')
                    .filter(|l| !l.is_empty())
                    .collect();
                let issue = serde_json::json!({
                    "id": 1000 + iid,
                    "iid": iid,
                    "title": title,
                    "description": body["description"],
                    "labels": labels,
                    "state": "opened",
                    "web_url": format!("http://127.0.0.1:{}/group/project/-/issues/{iid}", *port_in.lock().unwrap()),
                });
                issues.list.push(issue.clone());
                if hang {
                    hang = false;
                    return Reply::Hang;
                }
                Reply::Json(201, issue)
            }
            _ => Reply::Json(
                405,
                serde_json::json!({"message": "405 Method Not Allowed"}),
            ),
        }
    }));
    *port.lock().unwrap() = server.port;
    (server, issues)
}

/// A chat webhook receiver answering `status` to every post.
pub fn webhook(status: u16) -> Server {
    Server::start(Box::new(move |_req: &Request| {
        Reply::Text(status, "ok".into())
    }))
}
