//! The TOML configuration: serde structs that reject unknown keys, enums for closed choices,
//! then a validation pass across fields. Every error names the key, its line and what would be
//! valid. Paths come from the XDG directories unless `--config`/`--store` (or `HELPDESK_CONFIG`,
//! `HELPDESK_STORE`) say otherwise.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}, line {line}: {key}: {message}")]
    Invalid {
        path: PathBuf,
        line: usize,
        key: String,
        message: String,
    },
    #[error("{path}: {message}")]
    Syntax { path: PathBuf, message: String },
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    pub account: Account,
    pub imap: Option<Imap>,
    pub smtp: Option<Smtp>,
    pub ai: Ai,
    pub tickets: Tickets,
    pub sla: Sla,
    pub import: Import,
    /// Colours of the review screen, by role.
    pub theme: ThemeConfig,
    /// Keys of the review screen: action name → keys, replacing that action's default keys.
    pub keys: std::collections::BTreeMap<String, Vec<String>>,
    pub escalation: Escalation,
    pub rules: Vec<Rule>,
}

/// `[theme]`: a colour per role, as a name (`cyan`, `lightred`), `#rrggbb` or an index (`33`).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ThemeConfig {
    pub accent: Option<String>,
    pub ok: Option<String>,
    pub warn: Option<String>,
    pub error: Option<String>,
    pub note: Option<String>,
    pub selected_fg: Option<String>,
    pub selected_bg: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Account {
    pub name: String,
    pub address: Option<String>,
    pub signature: Option<String>,
    /// Quote the customer's message under a reply.
    pub quote_original: bool,
}

impl Default for Account {
    fn default() -> Self {
        Account {
            name: "Support".into(),
            address: None,
            signature: None,
            quote_original: false,
        }
    }
}

pub use crate::mail::imap::{AfterIngest, Security};

impl FromStr for AfterIngest {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "seen" => Ok(AfterIngest::Seen),
            "none" => Ok(AfterIngest::Nothing),
            _ => match s.strip_prefix("move:") {
                Some(folder) if !folder.trim().is_empty() => {
                    Ok(AfterIngest::Move(folder.trim().to_owned()))
                }
                _ => Err(format!(
                    "invalid value {s:?}, expected one of \"seen\", \"none\", \"move:FOLDER\""
                )),
            },
        }
    }
}

impl<'de> Deserialize<'de> for AfterIngest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Imap {
    pub host: String,
    #[serde(default = "default_imap_port")]
    pub port: u16,
    #[serde(default = "default_tls")]
    pub security: Security,
    pub username: String,
    pub password_command: Option<String>,
    pub password_env: Option<String>,
    /// Refused unless the config file is private (mode 0600).
    pub password: Option<String>,
    /// Prints an OAuth 2 access token; used with XOAUTH2 instead of a password.
    pub oauth2_token_command: Option<String>,
    pub tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_accept_invalid_certs: bool,
    #[serde(default = "default_mailbox")]
    pub mailbox: String,
    #[serde(default = "default_after_ingest")]
    pub after_ingest: AfterIngest,
    #[serde(default = "default_poll")]
    pub poll_seconds: u64,
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout_seconds: u64,
    #[serde(default = "default_io_timeout")]
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    #[serde(default = "default_starttls")]
    pub security: Security,
    pub username: String,
    pub password_command: Option<String>,
    pub password_env: Option<String>,
    /// Refused unless the config file is private (mode 0600).
    pub password: Option<String>,
    pub tls_ca_file: Option<PathBuf>,
    #[serde(default)]
    pub tls_accept_invalid_certs: bool,
    #[serde(default = "default_io_timeout")]
    pub timeout_seconds: u64,
    #[serde(default = "default_sent")]
    pub save_sent: Option<String>,
    /// Tries per message for temporary (4xx, network) failures before it is `failed`.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// The wait before the first retry; it doubles on each further try (at most an hour).
    #[serde(default = "default_retry_seconds")]
    pub retry_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Openai,
    Offline,
}

/// How the model is asked for JSON (README: JSON mode vs json_schema).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StructuredOutput {
    /// json_schema, falling back to JSON mode when the endpoint answers 400 to it.
    Auto,
    JsonSchema,
    JsonObject,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Ai {
    pub provider: Provider,
    pub base_url: String,
    pub model: String,
    pub api_key_env: Option<String>,
    pub max_concurrent: u32,
    pub timeout_seconds: u64,
    /// A command whose first output line is the API key (instead of api_key_env).
    pub api_key_command: Option<String>,
    /// A file that replaces the bundled master prompt (assets/prompts/system.md).
    pub prompt_path: Option<PathBuf>,
    /// The categories the analysis chooses from.
    pub categories: Vec<String>,
    /// Domains a draft may link to or name addresses at without a flag, besides those in
    /// the thread (subdomains included).
    pub allowed_domains: Vec<String>,
    /// Retries of one request after a 429, a 5xx, a timeout or a refused connection.
    pub max_retries: u32,
    /// The model's context budget in tokens: the thread is trimmed (oldest first) to fit.
    pub context_tokens: u32,
    pub structured_output: StructuredOutput,
}

pub const DEFAULT_CATEGORIES: [&str; 6] = [
    "Billing",
    "Technical",
    "Login/Access",
    "Feature Request",
    "General Inquiry",
    "Other",
];

impl Default for Ai {
    fn default() -> Self {
        Ai {
            provider: Provider::Offline,
            base_url: "https://api.openai.com/v1".into(),
            model: "gpt-4o-mini".into(),
            api_key_env: None,
            max_concurrent: 4,
            timeout_seconds: 60,
            api_key_command: None,
            prompt_path: None,
            categories: DEFAULT_CATEGORIES.iter().map(|c| (*c).to_owned()).collect(),
            allowed_domains: Vec::new(),
            max_retries: 4,
            context_tokens: 8000,
            structured_output: StructuredOutput::Auto,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tickets {
    pub prefix: String,
    pub acknowledge: bool,
    pub reopen_closed_days: u32,
    /// At most this many acknowledgments to one sender per hour…
    pub ack_per_sender_per_hour: u32,
    /// …and per 24 hours (FreeScout sends one).
    pub ack_per_sender_per_day: u32,
    /// A file replacing the bundled acknowledgment text (assets/templates/ack.*.txt).
    pub ack_template: Option<PathBuf>,
}

impl Default for Tickets {
    fn default() -> Self {
        Tickets {
            prefix: "TKT".into(),
            acknowledge: false,
            reopen_closed_days: 14,
            ack_per_sender_per_hour: 1,
            ack_per_sender_per_day: 1,
            ack_template: None,
        }
    }
}

/// Hours to first response by priority, hours to resolution (`[sla.resolution]`), and the
/// calendar they count in (see `ticket::sla`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Sla {
    pub urgent: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
    pub resolution: SlaResolution,
    /// e.g. "Mon-Fri 09:00-17:00"; absent: the clock runs around the clock.
    pub business_hours: Option<String>,
    /// IANA time zone of the business hours and holidays.
    pub timezone: String,
    /// Days without business hours, "YYYY-MM-DD".
    pub holidays: Vec<String>,
}

impl Default for Sla {
    fn default() -> Self {
        Sla {
            urgent: 2,
            high: 4,
            medium: 24,
            low: 72,
            resolution: SlaResolution::default(),
            business_hours: None,
            timezone: "UTC".into(),
            holidays: Vec::new(),
        }
    }
}

/// Hours to resolution, by priority.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SlaResolution {
    pub urgent: u32,
    pub high: u32,
    pub medium: u32,
    pub low: u32,
}

impl Default for SlaResolution {
    fn default() -> Self {
        SlaResolution {
            urgent: 8,
            high: 24,
            medium: 72,
            low: 168,
        }
    }
}

/// When a ticket is marked for escalation, and where an escalation goes.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Escalation {
    /// An analysis less confident than this marks the ticket (0 turns it off).
    pub min_confidence: f64,
    /// More customer messages than this without resolution mark the ticket (0 turns it off).
    pub max_rounds: u32,
    /// Mark tickets whose SLA is breached.
    pub on_sla_breach: bool,
    /// Escalate marked tickets at once instead of waiting for `helpdesk escalate`.
    pub auto: bool,
    pub gitlab: Option<Gitlab>,
    pub chat: Option<Chat>,
}

impl Default for Escalation {
    fn default() -> Self {
        Escalation {
            min_confidence: 0.0,
            max_rounds: 4,
            on_sla_breach: false,
            auto: false,
            gitlab: None,
            chat: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gitlab {
    /// e.g. "https://gitlab.com"; the API is under /api/v4.
    pub base_url: String,
    /// The project's numeric id or its path ("group/project").
    pub project: String,
    pub token_env: Option<String>,
    pub token_command: Option<String>,
    /// Labels added to every issue, besides the ticket's category and priority.
    #[serde(default)]
    pub labels: Vec<String>,
    #[serde(default = "default_http_timeout")]
    pub timeout_seconds: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChatFormat {
    Slack,
    GoogleChat,
    Generic,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Chat {
    pub format: ChatFormat,
    /// The webhook URL holds a secret: it comes from an environment variable or a command.
    pub url_env: Option<String>,
    pub url_command: Option<String>,
    #[serde(default = "default_http_timeout")]
    pub timeout_seconds: u64,
}

fn default_http_timeout() -> u64 {
    20
}

/// One `[[rules]]` entry: every condition given must match an inbound message; then its
/// actions apply to the message's ticket, in file order (a later rule wins).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// Shown in the ticket's events.
    pub name: Option<String>,
    /// The sender's address (case-insensitive, whole address).
    pub from: Option<String>,
    pub from_regex: Option<String>,
    /// The sender's domain or a parent domain of it.
    pub domain: Option<String>,
    /// Text the subject contains (case-insensitive).
    pub subject: Option<String>,
    pub subject_regex: Option<String>,
    /// Text the new text of the message contains (case-insensitive).
    pub body: Option<String>,
    pub body_regex: Option<String>,
    pub set_priority: Option<String>,
    pub set_category: Option<String>,
    pub set_status: Option<String>,
    /// Queue no AI analysis or draft for the message.
    #[serde(default)]
    pub skip_ai: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Import {
    pub max_attachment_mb: u32,
}

impl Default for Import {
    fn default() -> Self {
        Import {
            max_attachment_mb: 25,
        }
    }
}

fn default_imap_port() -> u16 {
    993
}
fn default_smtp_port() -> u16 {
    587
}
fn default_tls() -> Security {
    Security::Tls
}
fn default_starttls() -> Security {
    Security::Starttls
}
fn default_mailbox() -> String {
    "INBOX".into()
}
fn default_after_ingest() -> AfterIngest {
    AfterIngest::Seen
}
fn default_poll() -> u64 {
    60
}
fn default_connect_timeout() -> u64 {
    15
}
fn default_io_timeout() -> u64 {
    60
}
fn default_max_attempts() -> u32 {
    5
}
fn default_retry_seconds() -> u64 {
    60
}
fn default_sent() -> Option<String> {
    Some("Sent".into())
}

impl Config {
    /// Reads and validates a config file.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: path.to_owned(),
            source,
        })?;
        Config::parse(&text, path)
    }

    /// Parses and validates config text; `path` only names it in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Config, ConfigError> {
        let de = toml::de::Deserializer::parse(text).map_err(|e| syntax(text, path, &e))?;
        let config: Config = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let line = inner
                .span()
                .map(|s| line_of(text, s.start))
                .or_else(|| locate(text, &key))
                .unwrap_or(1);
            ConfigError::Invalid {
                path: path.to_owned(),
                line,
                key,
                message: inner.message().trim().to_owned(),
            }
        })?;
        config
            .validate()
            .map_err(|(key, message)| ConfigError::Invalid {
                path: path.to_owned(),
                line: locate(text, &key).unwrap_or(1),
                key,
                message,
            })?;
        Ok(config)
    }

    /// Checks across fields; an error names the key and what would be valid.
    fn validate(&self) -> Result<(), (String, String)> {
        let err = |k: &str, m: String| Err((k.to_owned(), m));
        if let Some(a) = &self.account.address
            && !is_address(a)
        {
            return err(
                "account.address",
                format!("{a:?} is not an email address; write it as name@example.com"),
            );
        }
        let p = &self.tickets.prefix;
        if p.is_empty()
            || p.len() > 10
            || !p
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit())
            || !p.starts_with(|c: char| c.is_ascii_uppercase())
        {
            return err(
                "tickets.prefix",
                format!(
                    "{p:?} is not valid: use 1 to 10 capital letters or digits, starting with a letter (e.g. \"TKT\")"
                ),
            );
        }
        for (section, host, security) in [
            (
                "imap",
                self.imap.as_ref().map(|i| &i.host),
                self.imap.as_ref().map(|i| i.security),
            ),
            (
                "smtp",
                self.smtp.as_ref().map(|s| &s.host),
                self.smtp.as_ref().map(|s| s.security),
            ),
        ] {
            if let (Some(host), Some(Security::None)) = (host, security)
                && !is_loopback(host)
            {
                return err(
                    &format!("{section}.security"),
                    format!(
                        "\"none\" (plaintext) is only allowed for 127.0.0.1/localhost, not {host:?}; use \"tls\" or \"starttls\""
                    ),
                );
            }
        }
        if let Some(s) = &self.smtp
            && (s.max_attempts == 0 || s.max_attempts > 100)
        {
            return err(
                "smtp.max_attempts",
                format!("{} is out of range; use 1 to 100", s.max_attempts),
            );
        }
        if let Some(t) = &self.tickets.ack_template
            && !t.is_file()
        {
            return err(
                "tickets.ack_template",
                format!(
                    "{} is not a readable file; give the path of a text file or remove the key",
                    t.display()
                ),
            );
        }
        let t = &self.theme;
        for (key, value) in [
            ("accent", &t.accent),
            ("ok", &t.ok),
            ("warn", &t.warn),
            ("error", &t.error),
            ("note", &t.note),
            ("selected_fg", &t.selected_fg),
            ("selected_bg", &t.selected_bg),
        ] {
            if let Some(v) = value
                && v.parse::<ratatui::style::Color>().is_err()
            {
                return err(
                    &format!("theme.{key}"),
                    format!(
                        "{v:?} is not a colour; use a name (black, red, green, yellow, blue, magenta, cyan, gray, white, lightred…), \"#rrggbb\" or an index 0-255"
                    ),
                );
            }
        }
        for (action, keys) in &self.keys {
            if let Err(e) = crate::tui::keymap::check_override(action, keys) {
                return err(&format!("keys.{action}"), e);
            }
        }
        if self.ai.max_concurrent == 0 || self.ai.max_concurrent > 64 {
            return err(
                "ai.max_concurrent",
                format!("{} is out of range; use 1 to 64", self.ai.max_concurrent),
            );
        }
        if self.ai.provider == Provider::Openai
            && !(self.ai.base_url.starts_with("https://")
                || self.ai.base_url.starts_with("http://"))
        {
            return err(
                "ai.base_url",
                format!("{:?} is not an http(s) URL", self.ai.base_url),
            );
        }
        crate::ticket::sla::Policy::from_config(&self.sla)?;
        let e = &self.escalation;
        if !(0.0..=1.0).contains(&e.min_confidence) {
            return err(
                "escalation.min_confidence",
                format!("{} is out of range; use 0 (off) to 1", e.min_confidence),
            );
        }
        if let Some(g) = &e.gitlab {
            if !(g.base_url.starts_with("https://") || g.base_url.starts_with("http://")) {
                return err(
                    "escalation.gitlab.base_url",
                    format!("{:?} is not an http(s) URL", g.base_url),
                );
            }
            if g.token_env.is_none() == g.token_command.is_none() {
                return err(
                    "escalation.gitlab.token_env",
                    "give exactly one of token_env and token_command".into(),
                );
            }
            if g.project.trim().is_empty() {
                return err(
                    "escalation.gitlab.project",
                    "name the project by its id or path (\"group/project\")".into(),
                );
            }
        }
        if let Some(c) = &e.chat
            && c.url_env.is_none() == c.url_command.is_none()
        {
            return err(
                "escalation.chat.url_env",
                "give exactly one of url_env and url_command".into(),
            );
        }
        crate::mail::rules::Rules::compile(&self.rules)?;
        self.validate_ai()?;
        Ok(())
    }

    fn validate_ai(&self) -> Result<(), (String, String)> {
        let ai = &self.ai;
        let err = |k: &str, m: String| Err((k.to_owned(), m));
        if ai.api_key_env.is_some() && ai.api_key_command.is_some() {
            return err(
                "ai.api_key_command",
                "set either api_key_env or api_key_command, not both".into(),
            );
        }
        if ai.timeout_seconds == 0 || ai.timeout_seconds > 3600 {
            return err(
                "ai.timeout_seconds",
                format!("{} is out of range; use 1 to 3600", ai.timeout_seconds),
            );
        }
        if ai.max_retries > 10 {
            return err(
                "ai.max_retries",
                format!("{} is out of range; use 0 to 10", ai.max_retries),
            );
        }
        if !(1000..=2_000_000).contains(&ai.context_tokens) {
            return err(
                "ai.context_tokens",
                format!(
                    "{} is out of range; use 1000 to 2000000 (the model's context window)",
                    ai.context_tokens
                ),
            );
        }
        if ai.categories.is_empty() {
            return err(
                "ai.categories",
                "the list is empty; name at least one category, e.g. [\"Billing\", \"Other\"]"
                    .into(),
            );
        }
        for (i, c) in ai.categories.iter().enumerate() {
            if c.trim().is_empty() || c.chars().count() > 40 {
                return err(
                    "ai.categories",
                    format!("{c:?} is not a category name: use 1 to 40 characters"),
                );
            }
            if ai.categories[..i].iter().any(|o| o.eq_ignore_ascii_case(c)) {
                return err("ai.categories", format!("{c:?} is listed twice"));
            }
        }
        for d in &ai.allowed_domains {
            let ok = !d.is_empty()
                && d.contains('.')
                && d.chars()
                    .all(|c| c.is_alphanumeric() || c == '.' || c == '-');
            if !ok {
                return err(
                    "ai.allowed_domains",
                    format!("{d:?} is not a domain; write it as example.com (no scheme, no path)"),
                );
            }
        }
        Ok(())
    }

    pub fn max_attachment_bytes(&self) -> usize {
        self.import.max_attachment_mb as usize * 1024 * 1024
    }
}

fn is_address(a: &str) -> bool {
    match a.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !a.chars().any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

pub fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host
            .trim_matches(|c| c == '[' || c == ']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn syntax(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    match e.span() {
        Some(s) => ConfigError::Invalid {
            path: path.to_owned(),
            line: line_of(text, s.start),
            key: "(syntax)".into(),
            message: e.message().trim().to_owned(),
        },
        None => ConfigError::Syntax {
            path: path.to_owned(),
            message: e.message().trim().to_owned(),
        },
    }
}

fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// The line of `section.key` in the file (or of the section header for `section`).
fn locate(text: &str, dotted: &str) -> Option<usize> {
    if let Some((array, rest)) = dotted.split_once('[')
        && let Some((index, key)) = rest.split_once(']')
    {
        return locate_in_array(
            text,
            array,
            index.parse().ok()?,
            key.trim_start_matches('.'),
        );
    }
    let (section, key) = match dotted.rsplit_once('.') {
        Some((s, k)) => (s, Some(k)),
        None => (dotted, None),
    };
    let mut current = String::new();
    let mut header_line = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            current = name.trim().to_owned();
            if current == section {
                header_line = Some(i + 1);
            }
            continue;
        }
        if current == section
            && let Some(k) = key
            && t.split('=').next().map(str::trim) == Some(k)
        {
            return Some(i + 1);
        }
    }
    header_line
}

/// The line of `key` in the `index`th `[[array]]` table (or of its header).
fn locate_in_array(text: &str, array: &str, index: usize, key: &str) -> Option<usize> {
    let mut seen = 0usize;
    let mut header_line = None;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim();
        if t.starts_with('[') {
            let name = t.trim_matches(|c| c == '[' || c == ']').trim();
            if t.starts_with("[[") && name == array {
                seen += 1;
                if seen == index + 1 {
                    header_line = Some(i + 1);
                    continue;
                }
            }
            if header_line.is_some() {
                break;
            }
            continue;
        }
        if header_line.is_some()
            && !key.is_empty()
            && t.split('=').next().map(str::trim) == Some(key)
        {
            return Some(i + 1);
        }
    }
    header_line
}

/// Where helpdesk keeps its files, from `directories` unless overridden.
#[derive(Debug, Clone)]
pub struct Paths {
    pub config: PathBuf,
    pub store: PathBuf,
    pub log_dir: PathBuf,
}

impl Paths {
    pub fn resolve(config: Option<PathBuf>, store: Option<PathBuf>) -> Paths {
        let dirs = directories::ProjectDirs::from("", "", "helpdesk");
        let fallback = || PathBuf::from(".helpdesk");
        let config = config.unwrap_or_else(|| {
            dirs.as_ref()
                .map_or_else(fallback, |d| d.config_dir().to_owned())
                .join("config.toml")
        });
        let store = store.unwrap_or_else(|| {
            dirs.as_ref()
                .map_or_else(fallback, |d| d.data_dir().to_owned())
                .join("helpdesk.sqlite3")
        });
        let log_dir = dirs
            .as_ref()
            .map(|d| d.state_dir().unwrap_or(d.data_local_dir()).to_owned())
            .unwrap_or_else(fallback);
        Paths {
            config,
            store,
            log_dir,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, String> {
        Config::parse(text, Path::new("c.toml")).map_err(|e| e.to_string())
    }

    #[test]
    fn example_config_parses() {
        let text = include_str!("../config.example.toml");
        let c = parse(text).unwrap();
        assert_eq!(c.tickets.prefix, "TKT");
        assert!(c.imap.is_some() && c.smtp.is_some());
    }

    #[test]
    fn bad_theme_colours_and_keys_name_their_key() {
        let e = parse("[theme]\naccent = \"blurple\"\n").unwrap_err();
        assert!(
            e.contains("theme.accent") && e.contains("line 2") && e.contains("#rrggbb"),
            "{e}"
        );
        let e = parse("[keys]\napprove = [\"a\"]\nfly = [\"x\"]\n").unwrap_err();
        assert!(
            e.contains("keys.fly") && e.contains("line 3") && e.contains("valid: down"),
            "{e}"
        );
        let c = parse("[theme]\naccent = \"#ff8800\"\n[keys]\napprove = [\"y\", \"ctrl-a\"]\n")
            .unwrap();
        assert_eq!(c.keys["approve"], vec!["y", "ctrl-a"]);
    }

    #[test]
    fn empty_config_is_all_defaults() {
        let c = parse("").unwrap();
        assert_eq!(c.sla.medium, 24);
        assert_eq!(c.ai.provider, Provider::Offline);
    }

    #[test]
    fn unknown_key_names_key_line_and_valid_keys() {
        let e = parse("[account]\nname = \"x\"\n\n[tickets]\nprefx = \"TKT\"\n").unwrap_err();
        assert!(e.contains("line 5"), "{e}");
        assert!(e.contains("prefx"), "{e}");
        assert!(e.contains("prefix"), "{e}");
    }

    #[test]
    fn wrong_type_names_key_and_line() {
        let e = parse("[imap]\nhost = \"h\"\nusername = \"u\"\nport = \"993\"\n").unwrap_err();
        assert!(e.contains("line 4") && e.contains("imap.port"), "{e}");
    }

    #[test]
    fn bad_enum_lists_valid_values() {
        let e = parse("[imap]\nhost = \"h\"\nusername = \"u\"\nsecurity = \"ssl\"\n").unwrap_err();
        assert!(e.contains("line 4") && e.contains("imap.security"), "{e}");
        assert!(
            e.contains("tls") && e.contains("starttls") && e.contains("none"),
            "{e}"
        );
        let e = parse("[imap]\nhost = \"h\"\nusername = \"u\"\nafter_ingest = \"delete\"\n")
            .unwrap_err();
        assert!(e.contains("move:FOLDER") && e.contains("line 4"), "{e}");
    }

    #[test]
    fn ai_keys_are_validated_by_name() {
        let c = parse("[ai]\nprovider = \"openai\"\napi_key_command = \"pass show ai\"\nallowed_domains = [\"lumencloud.example\"]\nstructured_output = \"json_object\"\n").unwrap();
        assert_eq!(c.ai.structured_output, StructuredOutput::JsonObject);
        assert_eq!(c.ai.categories.len(), 6);
        let e = parse("[ai]\napi_key_env = \"K\"\napi_key_command = \"pass\"\n").unwrap_err();
        assert!(
            e.contains("ai.api_key_command") && e.contains("line 3"),
            "{e}"
        );
        let e = parse("[ai]\nallowed_domains = [\"https://x.example/\"]\n").unwrap_err();
        assert!(
            e.contains("ai.allowed_domains") && e.contains("line 2"),
            "{e}"
        );
        let e = parse("[ai]\ncategories = []\n").unwrap_err();
        assert!(e.contains("ai.categories"), "{e}");
        let e = parse("[ai]\nstructured_output = \"xml\"\n").unwrap_err();
        assert!(
            e.contains("json_schema") && e.contains("json_object"),
            "{e}"
        );
    }

    #[test]
    fn validation_names_the_key() {
        let e =
            parse("[imap]\nhost = \"imap.example.com\"\nusername = \"u\"\nsecurity = \"none\"\n")
                .unwrap_err();
        assert!(e.contains("imap.security") && e.contains("line 4"), "{e}");
        assert!(
            parse("[imap]\nhost = \"127.0.0.1\"\nusername = \"u\"\nsecurity = \"none\"\n").is_ok()
        );
        let e = parse("[tickets]\n\nprefix = \"tk-t\"\n").unwrap_err();
        assert!(e.contains("tickets.prefix") && e.contains("line 3"), "{e}");
        let e = parse("[account]\naddress = \"nobody\"\n").unwrap_err();
        assert!(e.contains("account.address") && e.contains("line 2"), "{e}");
    }
}
