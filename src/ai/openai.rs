//! The OpenAI-compatible client (OpenAI, Ollama, llama.cpp, vLLM…) over async-openai.
//!
//! async-openai's own retry layer reads Retry-After only as whole seconds, does not retry
//! timeouts and has no jitter, and its errors drop the response headers; so the client runs on
//! our [`Transport`] instead (a tower service, async-openai's `middleware` feature): each
//! attempt has a deadline, and a 429, a 5xx, a timeout or a failed connection is retried with
//! exponential backoff and jitter, or after the Retry-After the server asked for. A semaphore
//! keeps at most `max_concurrent` requests in flight. The API key goes only into the
//! Authorization header: every error text passes through [`Client::redact`].

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_openai::config::OpenAIConfig;
use async_openai::error::OpenAIError;
use async_openai::middleware::HttpRequestFactory;
use async_openai::types::chat::{
    ChatCompletionRequestAssistantMessage, ChatCompletionRequestAssistantMessageContent,
    ChatCompletionRequestMessage, ChatCompletionRequestSystemMessage,
    ChatCompletionRequestUserMessage, CreateChatCompletionRequest, ResponseFormat,
    ResponseFormatJsonSchema,
};
use futures_util::StreamExt;
use tokio::sync::Semaphore;

use super::analysis::{self, Analysis};
use super::partial;
use super::prompt::Prompt;
use crate::config::{self, StructuredOutput};
use crate::secret::{self, Secret, SecretError};

/// How one request is retried.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Deadline of one attempt (until the whole answer, or a streamed answer's headers).
    pub timeout: Duration,
    pub max_retries: u32,
    /// The first backoff; it doubles per attempt up to `backoff_max`, then jitter takes up to
    /// half of it off.
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    /// A Retry-After longer than this is not waited for: the request fails at once.
    pub max_retry_after: Duration,
}

/// Everything the client needs, resolved from `[ai]` (the key read from its env var or command).
#[derive(Debug, Clone)]
pub struct Settings {
    pub base_url: String,
    pub model: String,
    pub key: Option<Secret>,
    pub max_concurrent: usize,
    pub retry: RetryPolicy,
    pub structured: StructuredOutput,
}

impl Settings {
    pub fn from_config(ai: &config::Ai) -> Result<Settings, SecretError> {
        let key = match (&ai.api_key_env, &ai.api_key_command) {
            (Some(var), _) => Some(secret::from_env("[ai] api_key_env", var)?),
            (None, Some(cmd)) => Some(secret::from_command("[ai] api_key_command", cmd)?),
            (None, None) => None,
        };
        Ok(Settings {
            base_url: ai.base_url.clone(),
            model: ai.model.clone(),
            key,
            max_concurrent: ai.max_concurrent.max(1) as usize,
            retry: RetryPolicy {
                timeout: Duration::from_secs(ai.timeout_seconds.max(1)),
                max_retries: ai.max_retries,
                backoff_base: Duration::from_millis(500),
                backoff_max: Duration::from_secs(30),
                max_retry_after: Duration::from_secs(120),
            },
            structured: ai.structured_output,
        })
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "the AI endpoint {url} gave no answer within {secs} s ({attempts} attempt(s)); check that it runs, or raise [ai] timeout_seconds"
    )]
    Timeout {
        url: String,
        secs: u64,
        attempts: u32,
    },
    #[error(
        "cannot reach the AI endpoint {url} ({message}; {attempts} attempt(s)); check [ai] base_url and that the server runs"
    )]
    Connect {
        url: String,
        message: String,
        attempts: u32,
    },
    #[error("the AI endpoint {url} answered {status}: {message}{hint}")]
    Status {
        url: String,
        status: u16,
        message: String,
        /// What the user can do, for the statuses where we know.
        hint: String,
    },
    #[error("the AI endpoint {url} sent something that is not a chat completion: {message}")]
    Protocol { url: String, message: String },
    #[error("the model gave no answer{}", refusal.as_ref().map(|r| format!(" (it refused: {r})")).unwrap_or_default())]
    Empty { refusal: Option<String> },
}

impl ClientError {
    /// Worth trying again later (the endpoint was down, slow or busy).
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Timeout { .. } | ClientError::Connect { .. } => true,
            ClientError::Status { status, .. } => *status == 429 || *status >= 500,
            _ => false,
        }
    }
}

/// Why an analysis could not be made; stored in `drafts.error`.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    #[error("{0}")]
    Endpoint(#[from] ClientError),
    #[error("the model's answer broke the analysis schema twice (asked once to fix it): {0}")]
    Schema(String),
}

/// A message of the conversation with the model.
#[derive(Debug, Clone)]
pub enum Turn {
    System(String),
    User(String),
    Assistant(String),
}

#[derive(Debug, Clone)]
pub struct Completion {
    pub text: String,
    pub model: String,
}

/// Receives the reply draft as far as the model has written it (streaming only).
pub type PartialSink<'a> = &'a (dyn Fn(&str) + Send + Sync);

pub struct Client {
    buffered: async_openai::Client<OpenAIConfig>,
    streaming: async_openai::Client<OpenAIConfig>,
    permits: Arc<Semaphore>,
    settings: Settings,
    url: String,
    /// Set once the endpoint refused json_schema and accepted JSON mode.
    schema_refused: AtomicBool,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Client {
    pub fn new(settings: Settings) -> Result<Client, ClientError> {
        let base = settings.base_url.trim_end_matches('/').to_owned();
        let url = format!("{base}/chat/completions");
        let http = reqwest::Client::builder()
            .user_agent(concat!("helpdesk/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(settings.retry.timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| ClientError::Connect {
                url: url.clone(),
                message: format!("the HTTP client could not be set up: {e}"),
                attempts: 0,
            })?;
        // Built by hand: OpenAIConfig::new() would pick up OPENAI_API_KEY and OPENAI_BASE_URL
        // from the environment, and send a key the config did not name.
        let config = OpenAIConfig::new()
            .with_api_base(base)
            .with_api_key(settings.key.as_ref().map_or("", Secret::expose))
            .with_org_id("")
            .with_project_id("");
        let policy = Arc::new(settings.retry.clone());
        let transport = |buffer| Transport {
            http: http.clone(),
            policy: policy.clone(),
            buffer,
        };
        Ok(Client {
            buffered: async_openai::Client::build(http.clone(), config.clone())
                .with_http_service(transport(true)),
            streaming: async_openai::Client::build(http.clone(), config)
                .with_http_service(transport(false)),
            permits: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
            url,
            settings,
            schema_refused: AtomicBool::new(false),
        })
    }

    pub fn model(&self) -> &str {
        &self.settings.model
    }

    pub fn max_concurrent(&self) -> usize {
        self.settings.max_concurrent
    }

    /// Replaces the API key wherever a server echoed it into a text we keep or show.
    pub fn redact(&self, text: &str) -> String {
        match &self.settings.key {
            Some(k) if k.expose().len() >= 4 => text.replace(k.expose(), "[redacted]"),
            _ => text.to_owned(),
        }
    }

    /// One chat completion; streamed when `partial` is given, which then hears the `reply`
    /// field of the JSON answer as it grows.
    pub async fn complete(
        &self,
        turns: &[Turn],
        format: Option<ResponseFormat>,
        partial: Option<PartialSink<'_>>,
    ) -> Result<Completion, ClientError> {
        let request = CreateChatCompletionRequest {
            model: self.settings.model.clone(),
            messages: turns.iter().map(to_message).collect(),
            response_format: format,
            ..Default::default()
        };
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| ClientError::Connect {
                url: self.url.clone(),
                message: "the client is shutting down".into(),
                attempts: 0,
            })?;
        let completion = match partial {
            None => self.complete_buffered(request).await,
            Some(sink) => self.complete_streamed(request, sink).await,
        };
        // A server may echo the key into an answer too.
        completion
            .map(|c| Completion {
                text: self.redact(&c.text),
                model: c.model,
            })
            .map_err(|e| self.redact_error(e))
    }

    async fn complete_buffered(
        &self,
        request: CreateChatCompletionRequest,
    ) -> Result<Completion, ClientError> {
        let response = self
            .buffered
            .chat()
            .create(request)
            .await
            .map_err(|e| self.map_error(e))?;
        let model = response.model;
        let Some(choice) = response.choices.into_iter().next() else {
            return Err(ClientError::Empty { refusal: None });
        };
        match choice.message.content.filter(|c| !c.trim().is_empty()) {
            Some(text) => Ok(Completion { text, model }),
            None => Err(ClientError::Empty {
                refusal: choice.message.refusal,
            }),
        }
    }

    async fn complete_streamed(
        &self,
        request: CreateChatCompletionRequest,
        sink: PartialSink<'_>,
    ) -> Result<Completion, ClientError> {
        let mut stream = self
            .streaming
            .chat()
            .create_stream(request)
            .await
            .map_err(|e| self.map_error(e))?;
        let mut text = String::new();
        let mut refusal = String::new();
        let mut model = String::new();
        let mut shown = 0;
        let idle = self.settings.retry.timeout;
        loop {
            let next = tokio::time::timeout(idle, stream.next())
                .await
                .map_err(|_| ClientError::Timeout {
                    url: self.url.clone(),
                    secs: idle.as_secs(),
                    attempts: 1,
                })?;
            let chunk = match next {
                None => break,
                Some(Ok(chunk)) => chunk,
                Some(Err(e)) => return Err(self.map_error(e)),
            };
            if model.is_empty() {
                model = chunk.model;
            }
            for choice in chunk.choices {
                text.extend(choice.delta.content);
                refusal.extend(choice.delta.refusal);
            }
            if let Some(reply) = partial::field_so_far(&text, "reply")
                && reply.len() != shown
            {
                shown = reply.len();
                sink(&reply);
            }
        }
        if text.trim().is_empty() {
            return Err(ClientError::Empty {
                refusal: (!refusal.is_empty()).then_some(refusal),
            });
        }
        Ok(Completion { text, model })
    }

    /// Analyses one turn: asks for the JSON answer (json_schema, or JSON mode where the
    /// endpoint refuses it), validates it, and asks once more with the validation error when
    /// it does not hold.
    pub async fn analyse(
        &self,
        prompt: &Prompt,
        categories: &[String],
        partial: Option<PartialSink<'_>>,
    ) -> Result<Analysis, Failure> {
        let mut turns = vec![
            Turn::System(prompt.system.clone()),
            Turn::User(prompt.user.clone()),
        ];
        let first = self.complete_json(&turns, categories, partial).await?;
        let error = match analysis::validate(&first.text, categories, &drafter(&first, self)) {
            Ok(a) => return Ok(a),
            Err(e) => e,
        };
        tracing::info!(error = %error, "the model's answer broke the schema; asking it to fix it");
        turns.push(Turn::Assistant(first.text));
        turns.push(Turn::User(format!(
            "Your answer could not be used: {error}. Answer again with only the corrected JSON object, with every key described in your instructions."
        )));
        let second = self.complete_json(&turns, categories, partial).await?;
        analysis::validate(&second.text, categories, &drafter(&second, self))
            .map_err(|e| Failure::Schema(self.redact(&e)))
    }

    async fn complete_json(
        &self,
        turns: &[Turn],
        categories: &[String],
        partial: Option<PartialSink<'_>>,
    ) -> Result<Completion, ClientError> {
        let schema = ResponseFormat::JsonSchema {
            json_schema: ResponseFormatJsonSchema {
                description: Some("The analysis of a support ticket and the reply draft".into()),
                name: "ticket_analysis".into(),
                schema: analysis::json_schema(categories),
                strict: Some(true),
            },
        };
        let use_schema = match self.settings.structured {
            StructuredOutput::JsonSchema => true,
            StructuredOutput::JsonObject => false,
            StructuredOutput::Auto => !self.schema_refused.load(Ordering::Relaxed),
        };
        if !use_schema {
            return self
                .complete(turns, Some(ResponseFormat::JsonObject), partial)
                .await;
        }
        match self.complete(turns, Some(schema), partial).await {
            Err(ClientError::Status { status: 400, .. })
                if self.settings.structured == StructuredOutput::Auto =>
            {
                let c = self
                    .complete(turns, Some(ResponseFormat::JsonObject), partial)
                    .await?;
                if !self.schema_refused.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        url = %self.url,
                        "the endpoint refused response_format json_schema (400) but took JSON mode; using JSON mode from now on"
                    );
                }
                Ok(c)
            }
            other => other,
        }
    }

    fn redact_error(&self, e: ClientError) -> ClientError {
        match e {
            ClientError::Status {
                url,
                status,
                message,
                hint,
            } => ClientError::Status {
                url,
                status,
                message: self.redact(&message),
                hint,
            },
            ClientError::Connect {
                url,
                message,
                attempts,
            } => ClientError::Connect {
                url,
                message: self.redact(&message),
                attempts,
            },
            ClientError::Protocol { url, message } => ClientError::Protocol {
                url,
                message: self.redact(&message),
            },
            ClientError::Empty { refusal } => ClientError::Empty {
                refusal: refusal.map(|r| self.redact(&r)),
            },
            e @ ClientError::Timeout { .. } => e,
        }
    }

    fn map_error(&self, e: OpenAIError) -> ClientError {
        let url = self.url.clone();
        match e {
            OpenAIError::Boxed(b) => match b.downcast::<TransportError>() {
                Ok(t) => match *t {
                    TransportError::Timeout { attempts } => ClientError::Timeout {
                        url,
                        secs: self.settings.retry.timeout.as_secs(),
                        attempts,
                    },
                    TransportError::Connect { message, attempts } => ClientError::Connect {
                        url,
                        message,
                        attempts,
                    },
                    TransportError::Status {
                        status,
                        message,
                        attempts,
                    } => status_error(url, status, &message, attempts),
                    TransportError::WaitTooLong { status, wait } => ClientError::Status {
                        url,
                        status,
                        message: format!("the endpoint asks to wait {} s", wait.as_secs()),
                        hint: "; try again later, or lower [ai] max_concurrent".into(),
                    },
                },
                Err(other) => ClientError::Protocol {
                    url,
                    message: other.to_string(),
                },
            },
            OpenAIError::ApiError(api) => {
                status_error(url, api.status_code.as_u16(), &api.api_error.to_string(), 1)
            }
            OpenAIError::Reqwest(e) => ClientError::Connect {
                url,
                message: e.to_string(),
                attempts: 1,
            },
            OpenAIError::JSONDeserialize(e, body) => ClientError::Protocol {
                url,
                message: format!("{e} in {:?}", excerpt(&body)),
            },
            OpenAIError::StreamError(e) => ClientError::Protocol {
                url,
                message: format!("the stream broke off: {e}"),
            },
            other => ClientError::Protocol {
                url,
                message: other.to_string(),
            },
        }
    }
}

fn drafter(c: &Completion, client: &Client) -> String {
    if c.model.trim().is_empty() {
        client.settings.model.clone()
    } else {
        c.model.clone()
    }
}

fn status_error(url: String, status: u16, message: &str, attempts: u32) -> ClientError {
    let mut hint = match status {
        401 | 403 => "; check the API key ([ai] api_key_env or api_key_command)".to_owned(),
        404 => "; check [ai] base_url (it usually ends in /v1) and [ai] model".to_owned(),
        429 => "; the rate limit holds: lower [ai] max_concurrent or try later".to_owned(),
        s if s >= 500 => "; the server failed: try again later".to_owned(),
        _ => String::new(),
    };
    if attempts > 1 {
        hint.push_str(&format!(" ({attempts} attempts)"));
    }
    ClientError::Status {
        url,
        status,
        message: excerpt(message),
        hint,
    }
}

fn excerpt(s: &str) -> String {
    let s = s.trim();
    let mut out: String = s.chars().take(300).collect();
    if s.chars().count() > 300 {
        out.push('…');
    }
    out
}

fn to_message(t: &Turn) -> ChatCompletionRequestMessage {
    match t {
        Turn::System(s) => ChatCompletionRequestSystemMessage {
            content: s.as_str().into(),
            name: None,
        }
        .into(),
        Turn::User(s) => ChatCompletionRequestUserMessage {
            content: s.as_str().into(),
            name: None,
        }
        .into(),
        Turn::Assistant(s) => ChatCompletionRequestAssistantMessage {
            content: Some(ChatCompletionRequestAssistantMessageContent::Text(
                s.clone(),
            )),
            ..Default::default()
        }
        .into(),
    }
}

/// Why the transport gave up; carried through async-openai as `OpenAIError::Boxed`.
#[derive(Debug, thiserror::Error)]
enum TransportError {
    #[error("no answer in time after {attempts} attempt(s)")]
    Timeout { attempts: u32 },
    #[error("{message} after {attempts} attempt(s)")]
    Connect { message: String, attempts: u32 },
    #[error("status {status} after {attempts} attempt(s): {message}")]
    Status {
        status: u16,
        message: String,
        attempts: u32,
    },
    #[error("status {status}: asked to wait {wait:?}")]
    WaitTooLong { status: u16, wait: Duration },
}

/// The HTTP layer under async-openai: deadline per attempt, retries, Retry-After.
#[derive(Clone)]
struct Transport {
    http: reqwest::Client,
    policy: Arc<RetryPolicy>,
    /// Read the whole body within the attempt's deadline (not for streams).
    buffer: bool,
}

type SendFuture = Pin<Box<dyn Future<Output = Result<reqwest::Response, OpenAIError>> + Send>>;

impl tower::Service<HttpRequestFactory> for Transport {
    type Response = reqwest::Response;
    type Error = OpenAIError;
    type Future = SendFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), OpenAIError>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: HttpRequestFactory) -> SendFuture {
        Box::pin(self.clone().send(request))
    }
}

enum Retry {
    Timeout,
    Connect(String),
    Status(u16, String),
}

impl Transport {
    async fn send(self, factory: HttpRequestFactory) -> Result<reqwest::Response, OpenAIError> {
        let p = &*self.policy;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let request = factory.build().await?;
            let outcome = tokio::time::timeout(p.timeout, self.exchange(request)).await;
            let (why, asked) = match outcome {
                Err(_) => (Retry::Timeout, None),
                Ok(Err(e)) if e.is_builder() => return Err(OpenAIError::Reqwest(e)),
                Ok(Err(e)) => (Retry::Connect(without_url(&e)), None),
                Ok(Ok(response)) => {
                    let status = response.status().as_u16();
                    if status != 429 && status < 500 {
                        return Ok(response);
                    }
                    let asked = retry_after(response.headers());
                    let body = match tokio::time::timeout(p.timeout, response.text()).await {
                        Ok(Ok(b)) => b,
                        _ => String::new(),
                    };
                    // OpenAI's "insufficient_quota" is a 429 that no wait will cure.
                    if status == 429 && body.contains("insufficient_quota") {
                        return Err(boxed(TransportError::Status {
                            status,
                            message: error_message(&body),
                            attempts: attempt,
                        }));
                    }
                    (Retry::Status(status, error_message(&body)), asked)
                }
            };
            if attempt > p.max_retries {
                return Err(boxed(match why {
                    Retry::Timeout => TransportError::Timeout { attempts: attempt },
                    Retry::Connect(message) => TransportError::Connect {
                        message,
                        attempts: attempt,
                    },
                    Retry::Status(status, message) => TransportError::Status {
                        status,
                        message,
                        attempts: attempt,
                    },
                }));
            }
            let delay = match asked {
                Some(wait) if wait > p.max_retry_after => {
                    let status = match why {
                        Retry::Status(s, _) => s,
                        _ => 429,
                    };
                    return Err(boxed(TransportError::WaitTooLong { status, wait }));
                }
                // Honoured in full, plus up to a tenth more so that waiting clients spread out.
                Some(wait) => wait + jitter(wait / 10),
                None => backoff(p, attempt),
            };
            tracing::warn!(
                attempt,
                delay_ms = delay.as_millis() as u64,
                reason = match &why {
                    Retry::Timeout => "timeout".to_owned(),
                    Retry::Connect(m) => m.clone(),
                    Retry::Status(s, _) => format!("status {s}"),
                },
                "AI request failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
    }

    async fn exchange(&self, request: reqwest::Request) -> reqwest::Result<reqwest::Response> {
        let response = self.http.execute(request).await?;
        if !self.buffer || !response.status().is_success() {
            return Ok(response);
        }
        let status = response.status();
        let version = response.version();
        let headers = response.headers().clone();
        let body = response.bytes().await?;
        let mut rebuilt = http::Response::new(reqwest::Body::from(body));
        *rebuilt.status_mut() = status;
        *rebuilt.version_mut() = version;
        *rebuilt.headers_mut() = headers;
        Ok(reqwest::Response::from(rebuilt))
    }
}

fn boxed(e: TransportError) -> OpenAIError {
    OpenAIError::Boxed(Box::new(e))
}

/// A reqwest error without its URL (the message names the endpoint already) and its chain.
fn without_url(e: &reqwest::Error) -> String {
    let mut msg = e.to_string();
    if let Some(url) = e.url() {
        msg = msg
            .replace(&format!(" ({url})"), "")
            .replace(url.as_str(), "");
    }
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        msg.push_str(": ");
        msg.push_str(&s.to_string());
        source = s.source();
    }
    msg
}

/// The `error.message` of an OpenAI-style error body, else the body itself.
fn error_message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| excerpt(body))
}

/// Retry-After (seconds or an HTTP date), or OpenAI's retry-after-ms.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let get = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(ms) = get("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && ms.is_finite()
        && ms >= 0.0
    {
        return Some(Duration::from_secs_f64(ms / 1000.0));
    }
    let v = get("retry-after")?;
    if let Ok(secs) = v.parse::<f64>() {
        return (secs.is_finite() && secs >= 0.0).then(|| Duration::from_secs_f64(secs));
    }
    let date = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let wait = date.timestamp_millis() - chrono::Utc::now().timestamp_millis();
    Some(Duration::from_millis(wait.max(0) as u64))
}

/// Exponential backoff with "equal jitter": half the step fixed, half random.
fn backoff(p: &RetryPolicy, attempt: u32) -> Duration {
    let step = p
        .backoff_base
        .saturating_mul(2u32.saturating_pow(attempt.saturating_sub(1)))
        .min(p.backoff_max);
    step / 2 + jitter(step / 2)
}

/// A random duration from zero to `max`.
fn jitter(max: Duration) -> Duration {
    let r = getrandom::u64().unwrap_or(0) as f64 / u64::MAX as f64;
    max.mul_f64(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_dates_and_milliseconds() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after", "2".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(2)));
        h.insert("retry-after", "0.5".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(500)));
        let later = chrono::Utc::now() + chrono::Duration::seconds(30);
        let date = later.format("%a, %d %b %Y %H:%M:%S GMT").to_string();
        h.insert("retry-after", date.parse().unwrap());
        let d = retry_after(&h).unwrap();
        assert!(
            d > Duration::from_secs(27) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        h.insert("retry-after", "soon".parse().unwrap());
        assert_eq!(retry_after(&h), None);
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
    }

    #[test]
    fn backoff_doubles_within_its_cap_with_jitter() {
        let p = RetryPolicy {
            timeout: Duration::from_secs(1),
            max_retries: 5,
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_millis(1000),
            max_retry_after: Duration::from_secs(60),
        };
        for _ in 0..50 {
            let b1 = backoff(&p, 1);
            assert!(b1 >= Duration::from_millis(50) && b1 <= Duration::from_millis(100));
            let b3 = backoff(&p, 3);
            assert!(b3 >= Duration::from_millis(200) && b3 <= Duration::from_millis(400));
            let b9 = backoff(&p, 9);
            assert!(b9 >= Duration::from_millis(500) && b9 <= Duration::from_millis(1000));
        }
        let spread: std::collections::HashSet<_> = (0..20).map(|_| backoff(&p, 4)).collect();
        assert!(spread.len() > 1, "jitter varies the delay");
    }

    #[test]
    fn the_key_is_redacted_and_never_in_debug() {
        let ai = config::Ai {
            api_key_command: Some("echo sk-test-abcdef123".into()),
            ..config::Ai::default()
        };
        let s = Settings::from_config(&ai).unwrap();
        assert!(!format!("{s:?}").contains("sk-test-abcdef123"));
        let c = Client::new(s).unwrap();
        assert!(!format!("{c:?}").contains("sk-test-abcdef123"));
        assert_eq!(
            c.redact("Incorrect API key provided: sk-test-abcdef123."),
            "Incorrect API key provided: [redacted]."
        );
    }
}
