//! An OpenAI-compatible server for tests and benchmarks, on 127.0.0.1 in this process (a
//! thread with its own tokio runtime, so that it works like a server elsewhere): `POST
//! /v1/chat/completions` answers from a script of [`Reply`]s, as JSON or as SSE when the
//! request asks to stream, and records every request.
#![allow(dead_code)]

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

pub const MODEL: &str = "fake-model-1";

/// What the server does with one request.
#[derive(Debug, Clone)]
pub enum Reply {
    /// A completion whose message is `content`, after `delay`: JSON, or SSE in `pieces`
    /// chunks when the request streams.
    Content {
        content: String,
        delay: Duration,
        pieces: usize,
    },
    /// An error status with its headers and body.
    Status {
        status: u16,
        headers: Vec<(String, String)>,
        body: String,
    },
    /// Waits, then replies.
    Sleep(Duration, Box<Reply>),
}

impl Reply {
    pub fn content(content: impl Into<String>) -> Reply {
        Reply::Content {
            content: content.into(),
            delay: Duration::ZERO,
            pieces: 8,
        }
    }

    pub fn status(status: u16, headers: &[(&str, &str)], body: &str) -> Reply {
        Reply::Status {
            status,
            headers: headers
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect(),
            body: body.to_owned(),
        }
    }
}

/// One request as received.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: Instant,
    pub authorization: Option<String>,
    pub body: serde_json::Value,
}

impl Received {
    /// The content of message `i` of the request.
    pub fn message(&self, i: usize) -> String {
        self.body["messages"][i]["content"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn roles(&self) -> Vec<String> {
        self.body["messages"]
            .as_array()
            .map(|m| {
                m.iter()
                    .map(|x| x["role"].as_str().unwrap_or_default().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn format(&self) -> String {
        self.body["response_format"]["type"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub fn streams(&self) -> bool {
        self.body["stream"].as_bool() == Some(true)
    }
}

#[derive(Default)]
struct Shared {
    script: Mutex<VecDeque<Reply>>,
    default: Mutex<Option<Reply>>,
    received: Mutex<Vec<Received>>,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
}

pub struct FakeOpenAi {
    /// The base URL, as `[ai] base_url` takes it (ends in /v1).
    pub base_url: String,
    shared: Arc<Shared>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeOpenAi {
    pub fn start() -> FakeOpenAi {
        let shared = Arc::new(Shared::default());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let state = shared.clone();
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(1)
                .enable_all()
                .build()
                .expect("fake server runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind 127.0.0.1");
                ready_tx
                    .send(listener.local_addr().expect("local addr"))
                    .expect("report the port");
                let app = axum::Router::new()
                    .route("/v1/chat/completions", axum::routing::post(chat))
                    .with_state(state);
                // Not a graceful shutdown: a handler asleep in a timeout test would hold it.
                tokio::select! {
                    r = axum::serve(listener, app).into_future() => r.expect("fake server"),
                    _ = stopped => {}
                }
            });
            // Handlers still sleeping (a timed-out request) are dropped with the runtime.
            rt.shutdown_timeout(Duration::from_millis(100));
        });
        let addr = ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("fake server started");
        FakeOpenAi {
            base_url: format!("http://{addr}/v1"),
            shared,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// Queues a reply for the next request that finds the queue non-empty.
    pub fn push(&self, reply: Reply) -> &Self {
        self.shared.script.lock().unwrap().push_back(reply);
        self
    }

    /// The reply once the script is used up (without one, a 500).
    pub fn set_default(&self, reply: Reply) {
        *self.shared.default.lock().unwrap() = Some(reply);
    }

    pub fn received(&self) -> Vec<Received> {
        self.shared.received.lock().unwrap().clone()
    }

    /// The most requests that were being answered at once.
    pub fn max_in_flight(&self) -> usize {
        self.shared.max_in_flight.load(Ordering::SeqCst)
    }
}

impl Drop for FakeOpenAi {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct InFlight<'a>(&'a Shared);

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

async fn chat(State(shared): State<Arc<Shared>>, headers: HeaderMap, body: Bytes) -> Response {
    let now = shared.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    shared.max_in_flight.fetch_max(now, Ordering::SeqCst);
    let _guard = InFlight(&shared);
    let body: serde_json::Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => return error(400, &format!("request body is not JSON: {e}")),
    };
    let request = Received {
        at: Instant::now(),
        authorization: headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned),
        body,
    };
    let stream = request.streams();
    shared.received.lock().unwrap().push(request);
    let reply = shared
        .script
        .lock()
        .unwrap()
        .pop_front()
        .or_else(|| shared.default.lock().unwrap().clone());
    let mut reply = match reply {
        Some(r) => r,
        None => return error(500, "the fake server has no reply scripted"),
    };
    loop {
        match reply {
            Reply::Sleep(d, then) => {
                tokio::time::sleep(d).await;
                reply = *then;
            }
            Reply::Status {
                status,
                headers,
                body,
            } => {
                let mut r = Response::builder().status(status);
                for (n, v) in headers {
                    r = r.header(n, v);
                }
                return r
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .expect("status response");
            }
            Reply::Content {
                content,
                delay,
                pieces,
            } => {
                tokio::time::sleep(delay).await;
                return if stream {
                    sse(&content, pieces)
                } else {
                    completion(&content)
                };
            }
        }
    }
}

fn error(status: u16, message: &str) -> Response {
    Response::builder()
        .status(StatusCode::from_u16(status).expect("status"))
        .header("content-type", "application/json")
        .body(Body::from(
            serde_json::json!({"error": {"message": message, "type": "invalid_request_error"}})
                .to_string(),
        ))
        .expect("error response")
}

fn completion(content: &str) -> Response {
    let body = serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": 1_795_176_000u32,
        "model": MODEL,
        "choices": [{
            "index": 0,
            "message": {"role": "assistant", "content": content},
            "finish_reason": "stop"
        }],
        "usage": {"prompt_tokens": 100, "completion_tokens": 50, "total_tokens": 150}
    });
    Response::builder()
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .expect("completion response")
}

/// The content in `pieces` SSE chunks, 5 ms apart, then `[DONE]`.
fn sse(content: &str, pieces: usize) -> Response {
    let chars: Vec<char> = content.chars().collect();
    let size = chars.len().div_ceil(pieces.max(1)).max(1);
    let mut events: Vec<String> = vec![chunk(
        serde_json::json!({"role": "assistant", "content": ""}),
        None,
    )];
    for part in chars.chunks(size) {
        let text: String = part.iter().collect();
        events.push(chunk(serde_json::json!({"content": text}), None));
    }
    events.push(chunk(serde_json::json!({}), Some("stop")));
    events.push("data: [DONE]\n\n".to_owned());
    let stream = futures_util::stream::iter(events).then(|e| async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        Ok::<_, std::convert::Infallible>(Bytes::from(e))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .header("cache-control", "no-cache")
        .body(Body::from_stream(stream))
        .expect("sse response")
}

fn chunk(delta: serde_json::Value, finish: Option<&str>) -> String {
    let v = serde_json::json!({
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": 1_795_176_000u32,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]
    });
    format!("data: {v}\n\n")
}

use futures_util::StreamExt as _;

/// A valid analysis answer with this reply.
pub fn answer(reply: &str) -> String {
    serde_json::json!({
        "category": "Technical",
        "priority": "high",
        "sentiment": "negative",
        "language": "en",
        "summary": "Sync is stuck at 99%",
        "steps": ["Restart the desktop app"],
        "reply": reply,
        "escalate": false,
        "escalate_reason": null,
        "questions": ["Which version of the app do you use?"],
        "noise": false,
        "confidence": 0.72
    })
    .to_string()
}
