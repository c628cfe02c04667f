//! The chat message of an escalation, in the format of the receiving service, posted to an
//! incoming webhook.
//!
//! - `slack`: `text` (the notification fallback) and Block Kit `blocks` (a header, the details
//!   as mrkdwn fields, the excerpt), within Slack's size limits.
//! - `google-chat`: `text` with Google Chat's markup (`*bold*`, `<url|label>`).
//! - `generic`: one JSON object, for scripts and other services:
//!   `{"event": "ticket.escalated", "ticket": {"number", "subject", "status", "priority",
//!   "category", "requester": {"address", "name"}, "first_response_due_at",
//!   "resolution_due_at"}, "reason", "summary", "excerpt", "issue_url", "at"}` with times as
//!   RFC 3339 strings and absent values as null.
//!
//! The webhook URL is a secret (it is the credential): it never appears in an error or a log.

use std::time::Duration;

use serde_json::{Value, json};

use super::EscalateError;
use super::gitlab::http_error;
use crate::config::ChatFormat;
use crate::secret::Secret;

/// What the message says about the ticket.
#[derive(Debug, Clone)]
pub struct Notice {
    pub number: String,
    pub subject: String,
    pub status: String,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub requester_address: String,
    pub requester_name: Option<String>,
    pub first_response_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub reason: String,
    pub summary: Option<String>,
    pub excerpt: String,
    pub issue_url: Option<String>,
    pub at: i64,
}

impl Notice {
    fn requester(&self) -> String {
        match &self.requester_name {
            Some(n) if !n.is_empty() => format!("{n} <{}>", self.requester_address),
            _ => self.requester_address.clone(),
        }
    }

    fn headline(&self) -> String {
        format!("Escalated {}: {}", self.number, self.subject)
    }
}

fn rfc3339(t: i64) -> Option<String> {
    chrono::DateTime::from_timestamp(t, 0).map(|d| d.to_rfc3339())
}

fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Slack and Google Chat treat `&`, `<` and `>` as markup.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The body to post for a format.
pub fn payload(format: ChatFormat, n: &Notice) -> Value {
    match format {
        ChatFormat::Slack => slack(n),
        ChatFormat::GoogleChat => google_chat(n),
        ChatFormat::Generic => generic(n),
    }
}

fn slack(n: &Notice) -> Value {
    let mut fields = vec![
        json!({"type": "mrkdwn", "text": format!("*Requester*\n{}", escape(&n.requester()))}),
        json!({"type": "mrkdwn", "text": format!("*Priority*\n{}", n.priority.as_deref().unwrap_or("-"))}),
        json!({"type": "mrkdwn", "text": format!("*Category*\n{}", escape(n.category.as_deref().unwrap_or("-")))}),
        json!({"type": "mrkdwn", "text": format!("*Why*\n{}", escape(&cut(&n.reason, 1900)))}),
    ];
    if let Some(url) = &n.issue_url {
        fields.push(json!({"type": "mrkdwn", "text": format!("*GitLab issue*\n<{url}|{}>", escape(&n.number))}));
    }
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": cut(&n.headline(), 150), "emoji": false}}),
        json!({"type": "section", "fields": fields}),
    ];
    if let Some(s) = n.summary.as_deref().filter(|s| !s.is_empty()) {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&format!("*Summary:* {}", escape(s)), 3000)}}));
    }
    if !n.excerpt.is_empty() {
        let quoted: String = escape(&cut(&n.excerpt, 2500))
            .lines()
            .map(|l| format!("&gt; {l}\n"))
            .collect();
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": cut(&quoted, 3000)}}),
        );
    }
    json!({
        "text": cut(&format!("{} ({})", n.headline(), n.reason), 3000),
        "blocks": blocks,
    })
}

fn google_chat(n: &Notice) -> Value {
    let mut t = format!("*{}*\n", escape(&n.headline()));
    t.push_str(&format!("Requester: {}\n", escape(&n.requester())));
    t.push_str(&format!(
        "Priority: {} · Category: {}\n",
        n.priority.as_deref().unwrap_or("-"),
        escape(n.category.as_deref().unwrap_or("-"))
    ));
    t.push_str(&format!("Why: {}\n", escape(&n.reason)));
    if let Some(s) = n.summary.as_deref().filter(|s| !s.is_empty()) {
        t.push_str(&format!("Summary: {}\n", escape(s)));
    }
    if let Some(url) = &n.issue_url {
        t.push_str(&format!("GitLab issue: <{url}|{}>\n", escape(&n.number)));
    }
    if !n.excerpt.is_empty() {
        t.push_str(&format!(
            "```\n{}\n```",
            cut(&n.excerpt, 1500).replace("```", "'''")
        ));
    }
    json!({ "text": cut(&t, 4000) })
}

fn generic(n: &Notice) -> Value {
    json!({
        "event": "ticket.escalated",
        "ticket": {
            "number": n.number,
            "subject": n.subject,
            "status": n.status,
            "priority": n.priority,
            "category": n.category,
            "requester": {"address": n.requester_address, "name": n.requester_name},
            "first_response_due_at": n.first_response_due_at.and_then(rfc3339),
            "resolution_due_at": n.resolution_due_at.and_then(rfc3339),
        },
        "reason": n.reason,
        "summary": n.summary,
        "excerpt": n.excerpt,
        "issue_url": n.issue_url,
        "at": rfc3339(n.at),
    })
}

/// Posts to the webhook.
pub fn post(url: &Secret, body: &Value, timeout: Duration) -> Result<(), EscalateError> {
    let step = "posting the chat message";
    let http = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .build()
        .map_err(|e| http_error(step, e))?;
    let response = http
        .post(url.expose())
        .header("Content-Type", "application/json; charset=UTF-8")
        .body(body.to_string())
        .send()
        .map_err(|e| http_error(step, e))?;
    let status = response.status();
    if status.is_success() {
        return Ok(());
    }
    let hint = match status.as_u16() {
        400 => "; the service did not accept the message format, check [escalation.chat] format",
        401 | 403 | 404 | 410 => {
            "; the webhook URL is wrong or was revoked: check [escalation.chat] url_env or url_command"
        }
        _ => "",
    };
    Err(EscalateError::Http {
        step: step.into(),
        message: format!("the chat service answered {status}{hint}"),
    })
}
