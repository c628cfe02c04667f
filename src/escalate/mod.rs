//! Escalation: which tickets need a person beyond the support inbox, and handing them over.
//!
//! A ticket is *marked* (with the reason, shown by `helpdesk ticket show`) when its analysis
//! asks for it (an explicit request for a human, or the model's judgment), when the analysis is
//! less confident than `escalation.min_confidence`, when the customer has written more than
//! `escalation.max_rounds` times without the ticket being resolved, or, with
//! `escalation.on_sla_breach`, when a deadline passed. [`review`] finds these from the store,
//! so it works whatever ran the analysis.
//!
//! Once the admin confirms ([`escalate`]: `helpdesk escalate TKT-…`, `x` in the review screen),
//! or at once with `escalation.auto`, delivery runs each configured step once: a GitLab issue
//! (looked up by the ticket number in its title before creating, so a retry after a timeout
//! never makes a second one), a chat message, and a reply draft telling the customer, for
//! approval like any other. A step that fails leaves the escalation `pending` with the error;
//! [`deliver_pending`] retries what is left. Every step is logged as an event. Network calls
//! run outside any store transaction.

pub mod chat;
pub mod gitlab;

use std::time::Duration;

use crate::config::{self, Config};
use crate::secret::{self, Secret, SecretError};
use crate::store::{
    self, EscalationState, Store, StoreError, TicketStatus, escalations, events, messages,
    tickets::{self, ListFilter, TicketRow},
};
use crate::ticket::sla;

#[derive(Debug, thiserror::Error)]
pub enum EscalateError {
    #[error("{key}: {message}")]
    Config { key: String, message: String },
    #[error(transparent)]
    Secret(#[from] SecretError),
    #[error("{step}: {message}")]
    Gitlab {
        step: String,
        message: String,
        retryable: bool,
    },
    #[error("{step}: {message}")]
    Http { step: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    NotFound(String),
}

impl EscalateError {
    /// True when the same request may succeed later (timeouts, 5xx, rate limits).
    pub fn is_retryable(&self) -> bool {
        match self {
            EscalateError::Gitlab { retryable, .. } => *retryable,
            EscalateError::Http { .. } => true,
            EscalateError::Store(e) => e.is_retryable(),
            _ => false,
        }
    }
}

/// Why a ticket should be escalated, from its latest analysis and its history.
pub fn reason_from_analysis(
    analysis: &serde_json::Value,
    customer_turns: i64,
    settings: &config::Escalation,
) -> Option<String> {
    if analysis["noise"].as_bool() == Some(true) {
        return None;
    }
    if analysis["escalate"].as_bool() == Some(true) {
        let why = analysis["escalate_reason"]
            .as_str()
            .filter(|s| !s.trim().is_empty())
            .unwrap_or("the customer asks for a person");
        return Some(format!("analysis: {why}"));
    }
    if let Some(c) = analysis["confidence"].as_f64()
        && c < settings.min_confidence
    {
        return Some(format!(
            "analysis confidence {c:.2} is below escalation.min_confidence {:.2}",
            settings.min_confidence
        ));
    }
    let max = i64::from(settings.max_rounds);
    if max > 0 && customer_turns > max {
        return Some(format!(
            "{customer_turns} customer messages without resolution (escalation.max_rounds = {max})"
        ));
    }
    None
}

/// What one [`review`] did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Review {
    /// Tickets newly marked, with the reason.
    pub marked: Vec<(String, String)>,
    /// Tickets whose SLA due times were (re)computed.
    pub sla_updated: u64,
}

/// Reads what happened since the last review: tickets analysed since then get their SLA due
/// times recomputed (the priority may have changed) and are marked for escalation when their
/// analysis or history says so; with `on_sla_breach`, overdue tickets are marked too.
pub fn review(store: &mut Store, config: &Config, now: i64) -> store::Result<Review> {
    let policy = sla::Policy::from_config(&config.sla).unwrap_or_default();
    let settings = &config.escalation;
    let mut out = Review::default();

    let missing = tickets::missing_sla(store.conn())?;
    if !missing.is_empty() {
        let tx = store.write()?;
        for id in &missing {
            if sla::refresh(&tx, &policy, *id)?.is_some() {
                out.sla_updated += 1;
            }
        }
        Store::commit(tx)?;
    }

    let cursor = escalations::cursor(store.conn())?;
    let analysed = events::analysed_since(store.conn(), cursor)?;
    for chunk in analysed.chunks(500) {
        let tx = store.write()?;
        for &(_, ticket_id) in chunk {
            if sla::refresh(&tx, &policy, ticket_id)?.is_some() {
                out.sla_updated += 1;
            }
            let t = tickets::get(&tx, ticket_id)?;
            if t.escalation.is_some() || t.status != TicketStatus::Open {
                continue;
            }
            let Some(json) = messages::latest_analysis(&tx, ticket_id)? else {
                continue;
            };
            let analysis: serde_json::Value = serde_json::from_str(&json).unwrap_or_default();
            let turns = messages::customer_turns(&tx, ticket_id)?;
            if let Some(reason) = reason_from_analysis(&analysis, turns, settings)
                && mark(&tx, &t, &reason, now)?
            {
                out.marked.push((t.number.clone(), reason));
            }
        }
        if let Some(&(last, _)) = chunk.last() {
            escalations::set_cursor(&tx, last)?;
        }
        Store::commit(tx)?;
    }

    if settings.on_sla_breach {
        let overdue = tickets::list(
            store.conn(),
            &ListFilter {
                status: Some(TicketStatus::Open),
                due_before: Some(now),
                order: tickets::Order::Due,
                ..Default::default()
            },
        )?;
        let tx = store.write()?;
        for t in overdue.iter().filter(|t| t.escalation.is_none()) {
            let Some(due) = t.next_due() else { continue };
            let what = if t.first_response_at.is_none() && t.sla_due_at.is_some() {
                "first response"
            } else {
                "resolution"
            };
            let reason = format!("SLA breached: {what} was due {}", sla::format_utc(due));
            if mark(&tx, t, &reason, now)? {
                out.marked.push((t.number.clone(), reason));
            }
        }
        Store::commit(tx)?;
    }
    Ok(out)
}

fn mark(conn: &rusqlite::Connection, t: &TicketRow, reason: &str, now: i64) -> store::Result<bool> {
    let marked = escalations::mark(conn, t.id, reason, now)?;
    if marked {
        events::append(
            conn,
            t.id,
            now,
            "escalation-marked",
            &format!("marked for escalation: {reason}"),
            None,
        )?;
    }
    Ok(marked)
}

/// Marks a ticket for escalation by hand (or from another stage), with a reason.
pub fn mark_ticket(
    store: &mut Store,
    ticket_id: i64,
    reason: &str,
    now: i64,
) -> store::Result<bool> {
    let t = tickets::get(store.conn(), ticket_id)?;
    let tx = store.write()?;
    let marked = mark(&tx, &t, reason, now)?;
    Store::commit(tx)?;
    Ok(marked)
}

/// The admin declines a marked escalation.
pub fn dismiss(store: &mut Store, ticket_id: i64, now: i64) -> store::Result<bool> {
    let tx = store.write()?;
    let done = escalations::dismiss(&tx, ticket_id, now)?;
    if done {
        events::append(
            &tx,
            ticket_id,
            now,
            "escalation-dismissed",
            "the escalation was declined",
            None,
        )?;
    }
    Store::commit(tx)?;
    Ok(done)
}

/// Where escalations go, with the secrets resolved.
pub struct Targets {
    gitlab: Option<(gitlab::Gitlab, Vec<String>)>,
    chat: Option<(config::ChatFormat, Secret, Duration)>,
    signature: String,
}

impl Targets {
    /// Resolves tokens and webhook URLs from the environment or their commands.
    pub fn from_config(config: &Config) -> Result<Targets, EscalateError> {
        let e = &config.escalation;
        let gitlab = match &e.gitlab {
            Some(g) => {
                let token = match (&g.token_env, &g.token_command) {
                    (Some(var), _) => secret::from_env("[escalation.gitlab] token_env", var)?,
                    (None, Some(cmd)) => {
                        secret::from_command("[escalation.gitlab] token_command", cmd)?
                    }
                    (None, None) => {
                        return Err(EscalateError::Config {
                            key: "escalation.gitlab.token_env".into(),
                            message: "give token_env or token_command".into(),
                        });
                    }
                };
                Some((
                    gitlab::Gitlab::new(
                        &g.base_url,
                        &g.project,
                        token,
                        Duration::from_secs(g.timeout_seconds.max(1)),
                    )?,
                    g.labels.clone(),
                ))
            }
            None => None,
        };
        let chat = match &e.chat {
            Some(c) => {
                let url = match (&c.url_env, &c.url_command) {
                    (Some(var), _) => secret::from_env("[escalation.chat] url_env", var)?,
                    (None, Some(cmd)) => {
                        secret::from_command("[escalation.chat] url_command", cmd)?
                    }
                    (None, None) => {
                        return Err(EscalateError::Config {
                            key: "escalation.chat.url_env".into(),
                            message: "give url_env or url_command".into(),
                        });
                    }
                };
                Some((c.format, url, Duration::from_secs(c.timeout_seconds.max(1))))
            }
            None => None,
        };
        Ok(Targets {
            gitlab,
            chat,
            signature: config
                .account
                .signature
                .clone()
                .unwrap_or_else(|| config.account.name.clone()),
        })
    }
}

/// How an escalation ended.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Outcome {
    pub number: String,
    pub state: EscalationState,
    pub issue_url: Option<String>,
    pub error: Option<String>,
}

/// Confirms the escalation of a ticket (marked or not) and delivers it. Asking again for a
/// ticket already escalated changes nothing; one still pending is retried.
pub fn escalate(
    store: &mut Store,
    targets: &Targets,
    ticket_id: i64,
    now: &dyn Fn() -> i64,
) -> Result<Outcome, EscalateError> {
    let at = now();
    let tx = store.write()?;
    let existing = escalations::get(&tx, ticket_id)?;
    let confirmed = escalations::confirm(&tx, ticket_id, "escalated by the admin", at)?;
    if confirmed {
        let reason = existing
            .as_ref()
            .map_or("escalated by the admin", |e| e.reason.as_str());
        events::append(
            &tx,
            ticket_id,
            at,
            "escalation-confirmed",
            &format!("escalation confirmed: {reason}"),
            None,
        )?;
    }
    Store::commit(tx)?;
    deliver(store, targets, ticket_id, now)
}

/// Confirms every marked ticket (for `escalation.auto`) and delivers every pending one.
pub fn deliver_pending(
    store: &mut Store,
    config: &Config,
    targets: &Targets,
    now: &dyn Fn() -> i64,
) -> Result<Vec<Outcome>, EscalateError> {
    if config.escalation.auto {
        for e in escalations::in_state(store.conn(), EscalationState::Marked)? {
            let at = now();
            let tx = store.write()?;
            if escalations::confirm(&tx, e.ticket_id, &e.reason, at)? {
                events::append(
                    &tx,
                    e.ticket_id,
                    at,
                    "escalation-confirmed",
                    &format!("escalated automatically (escalation.auto): {}", e.reason),
                    None,
                )?;
            }
            Store::commit(tx)?;
        }
    }
    let mut out = Vec::new();
    for e in escalations::in_state(store.conn(), EscalationState::Pending)? {
        out.push(deliver(store, targets, e.ticket_id, now)?);
    }
    Ok(out)
}

/// Runs the steps of a pending escalation that are not done yet. A failed step is recorded
/// (the escalation stays pending) and returned in the outcome; store errors are returned.
pub fn deliver(
    store: &mut Store,
    targets: &Targets,
    ticket_id: i64,
    now: &dyn Fn() -> i64,
) -> Result<Outcome, EscalateError> {
    let t = tickets::get(store.conn(), ticket_id)?;
    let Some(e) = escalations::get(store.conn(), ticket_id)? else {
        return Err(EscalateError::NotFound(format!(
            "{} has no escalation to deliver",
            t.number
        )));
    };
    if e.state != EscalationState::Pending {
        return Ok(Outcome {
            number: t.number,
            state: e.state,
            issue_url: t.escalation_url,
            error: None,
        });
    }
    let excerpt = match messages::latest_inbound(store.conn(), ticket_id)? {
        Some(row) => messages::text_of(store.conn(), row)?.1,
        None => String::new(),
    };
    let excerpt = excerpt_of(&excerpt, 1200);
    let mut issue_url = t.escalation_url.clone();
    let result = (|| -> Result<(), EscalateError> {
        if let (Some((gl, labels)), None) = (&targets.gitlab, &issue_url) {
            let (issue, created) = match gl.find(&t.number)? {
                Some(found) => (found, false),
                None => {
                    let mut all = labels.clone();
                    all.extend(t.category.iter().cloned());
                    all.extend(t.priority.iter().map(|p| format!("priority::{p}")));
                    let issue = gl.create(
                        &gitlab::title(&t.number, &t.subject),
                        &issue_description(&t, &e.reason, &excerpt),
                        &all,
                    )?;
                    (issue, true)
                }
            };
            let at = now();
            let tx = store.write()?;
            tickets::set_escalation_url(&tx, ticket_id, &issue.web_url)?;
            escalations::step_done(
                &tx,
                ticket_id,
                escalations::Step::Issue { iid: issue.iid },
                at,
            )?;
            events::append(
                &tx,
                ticket_id,
                at,
                "escalation-issue",
                &format!(
                    "GitLab issue #{} {}: {}",
                    issue.iid,
                    if created {
                        "created"
                    } else {
                        "found (created by an earlier attempt)"
                    },
                    issue.web_url
                ),
                None,
            )?;
            Store::commit(tx)?;
            issue_url = Some(issue.web_url);
        }
        if let (Some((format, url, timeout)), None) = (&targets.chat, e.notified_at) {
            let notice = chat::Notice {
                number: t.number.clone(),
                subject: t.subject.clone(),
                status: t.status.to_string(),
                priority: t.priority.clone(),
                category: t.category.clone(),
                requester_address: t.requester.address.clone(),
                requester_name: t.requester.name.clone(),
                first_response_due_at: t.sla_due_at,
                resolution_due_at: t.resolution_due_at,
                reason: e.reason.clone(),
                summary: t.summary.clone(),
                excerpt: excerpt.clone(),
                issue_url: issue_url.clone(),
                at: now(),
            };
            chat::post(url, &chat::payload(*format, &notice), *timeout)?;
            let at = now();
            let tx = store.write()?;
            escalations::step_done(&tx, ticket_id, escalations::Step::Notified, at)?;
            events::append(
                &tx,
                ticket_id,
                at,
                "escalation-chat",
                &format!("chat message posted ({format:?} webhook)"),
                None,
            )?;
            Store::commit(tx)?;
        }
        if e.drafted_at.is_none() {
            let at = now();
            let tx = store.write()?;
            let language = tickets_language(&tx, ticket_id)?;
            let body = customer_notice(
                language.as_deref(),
                t.requester.name.as_deref(),
                &t.number,
                &targets.signature,
            );
            let superseded = messages::supersede_pending(
                &tx,
                ticket_id,
                "replaced by the escalation notice",
                at,
            )?;
            let reply_to = messages::latest_inbound(&tx, ticket_id)?;
            messages::insert_drafted(&tx, ticket_id, reply_to, &body, at)?;
            escalations::step_done(&tx, ticket_id, escalations::Step::Drafted, at)?;
            events::append(
                &tx,
                ticket_id,
                at,
                "escalation-draft",
                &format!(
                    "reply draft telling the customer about the escalation, waiting for approval{}",
                    if superseded > 0 {
                        " (it replaces the pending draft)"
                    } else {
                        ""
                    }
                ),
                None,
            )?;
            Store::commit(tx)?;
        }
        Ok(())
    })();
    let at = now();
    let error = match result {
        Ok(()) => None,
        Err(e @ EscalateError::Store(_)) => return Err(e),
        Err(e) => Some(e.to_string()),
    };
    let tx = store.write()?;
    escalations::attempt_done(&tx, ticket_id, error.as_deref(), at)?;
    match &error {
        None => {
            let mut done = Vec::new();
            if targets.gitlab.is_some() {
                done.push("GitLab issue");
            }
            if targets.chat.is_some() {
                done.push("chat message");
            }
            done.push("customer draft");
            events::append(
                &tx,
                ticket_id,
                at,
                "escalated",
                &format!("escalated: {}", done.join(", ")),
                None,
            )?;
        }
        Some(err) => {
            events::append(
                &tx,
                ticket_id,
                at,
                "escalation-failed",
                &format!(
                    "{err}; the escalation stays pending and is retried by `helpdesk escalate --retry`"
                ),
                None,
            )?;
        }
    }
    Store::commit(tx)?;
    Ok(Outcome {
        number: t.number,
        state: if error.is_none() {
            EscalationState::Escalated
        } else {
            EscalationState::Pending
        },
        issue_url,
        error,
    })
}

fn tickets_language(conn: &rusqlite::Connection, ticket_id: i64) -> store::Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT language FROM tickets WHERE id = ?1")?
        .query_row([ticket_id], |r| r.get(0))?)
}

/// The start of the customer's text, cut at a line end near `max` characters.
fn excerpt_of(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let cut: String = text.chars().take(max).collect();
    let end = cut
        .rfind('\n')
        .filter(|&i| i > max / 2)
        .unwrap_or(cut.len());
    format!("{}\n[…]", cut[..end].trim_end())
}

/// The issue body (GitLab Markdown). The customer's text goes in a code block, so that an
/// `@name` or `#123` in it mentions nobody and links nothing.
fn issue_description(t: &TicketRow, reason: &str, excerpt: &str) -> String {
    let requester = match &t.requester.name {
        Some(n) => format!("{n} <{}>", t.requester.address),
        None => t.requester.address.clone(),
    };
    let mut d = format!(
        "**Ticket:** {}  \n**Requester:** {}  \n**Priority:** {} · **Category:** {}  \n**Why escalated:** {}\n",
        t.number,
        requester.replace('<', "&lt;").replace('>', "&gt;"),
        t.priority.as_deref().unwrap_or("-"),
        t.category.as_deref().unwrap_or("-"),
        reason
    );
    if let Some(s) = t.summary.as_deref().filter(|s| !s.is_empty()) {
        d.push_str(&format!("\n**Summary:** {s}\n"));
    }
    if let Some(due) = t.next_due() {
        d.push_str(&format!(
            "\n**SLA:** next deadline {}\n",
            sla::format_utc(due)
        ));
    }
    if !excerpt.is_empty() {
        d.push_str(&format!(
            "\n**Latest customer message (excerpt):**\n\n```text\n{}\n```\n",
            excerpt.replace("```", "'''")
        ));
    }
    d.push_str(&format!(
        "\n---\nEscalated from helpdesk; reply to the customer through ticket {}.\n",
        t.number
    ));
    d
}

/// The reply telling the customer their request was escalated, in their language when known.
pub fn customer_notice(
    language: Option<&str>,
    name: Option<&str>,
    number: &str,
    signature: &str,
) -> String {
    let first = name
        .and_then(|n| n.split_whitespace().next())
        .filter(|n| n.chars().all(char::is_alphabetic));
    let (greeting, body) = match language {
        Some("fr") => (
            first.map_or("Bonjour,".to_owned(), |n| format!("Bonjour {n},")),
            format!(
                "Merci de votre patience. Nous avons transmis votre demande {number} à notre équipe \
                 spécialisée, qui l'examine et reviendra vers vous dès que possible. Vous n'avez rien \
                 à faire ; répondez simplement à ce message si vous souhaitez ajouter quelque chose."
            ),
        ),
        Some("de") => (
            first.map_or("Guten Tag,".to_owned(), |n| format!("Hallo {n},")),
            format!(
                "vielen Dank für Ihre Geduld. Wir haben Ihre Anfrage {number} an unser Fachteam \
                 weitergegeben, das sich darum kümmert und sich so bald wie möglich bei Ihnen meldet. \
                 Sie müssen nichts weiter tun; antworten Sie einfach auf diese Nachricht, wenn Sie \
                 etwas ergänzen möchten."
            ),
        ),
        Some("es") => (
            first.map_or("Hola:".to_owned(), |n| format!("Hola {n}:")),
            format!(
                "Gracias por su paciencia. Hemos trasladado su solicitud {number} a nuestro equipo \
                 especializado, que la revisará y se pondrá en contacto con usted lo antes posible. \
                 No tiene que hacer nada; responda a este mensaje si desea añadir algo."
            ),
        ),
        _ => (
            first.map_or("Hello,".to_owned(), |n| format!("Hello {n},")),
            format!(
                "Thank you for your patience. We have passed your request {number} to our \
                 specialist team, who will look into it and get back to you as soon as possible. \
                 There is nothing you need to do; just reply to this email if you would like to \
                 add anything."
            ),
        ),
    };
    format!("{greeting}\n\n{body}\n\n{signature}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn analysis_reasons_in_order() {
        let s = config::Escalation {
            min_confidence: 0.5,
            max_rounds: 2,
            ..Default::default()
        };
        let a = serde_json::json!({"escalate": true, "escalate_reason": "asks for a manager", "confidence": 0.9, "noise": false});
        assert_eq!(
            reason_from_analysis(&a, 1, &s).as_deref(),
            Some("analysis: asks for a manager")
        );
        let a = serde_json::json!({"escalate": false, "confidence": 0.2, "noise": false});
        assert!(reason_from_analysis(&a, 1, &s).unwrap().contains("0.20"));
        let a = serde_json::json!({"escalate": false, "confidence": 0.9, "noise": false});
        assert_eq!(reason_from_analysis(&a, 2, &s), None);
        assert!(
            reason_from_analysis(&a, 3, &s)
                .unwrap()
                .contains("3 customer messages")
        );
        let noise = serde_json::json!({"escalate": true, "confidence": 0.1, "noise": true});
        assert_eq!(reason_from_analysis(&noise, 9, &s), None);
    }

    #[test]
    fn notices_and_excerpts() {
        let n = customer_notice(Some("de"), Some("Jürgen Weiß"), "TKT-2026-00001", "Support");
        assert!(
            n.starts_with("Hallo Jürgen,") && n.contains("TKT-2026-00001"),
            "{n}"
        );
        let n = customer_notice(None, None, "TKT-2026-00001", "Support");
        assert!(n.starts_with("Hello,") && n.ends_with("Support"));
        let long = "line\n".repeat(500);
        let e = excerpt_of(&long, 100);
        assert!(e.len() < 110 && e.ends_with("[…]"), "{e}");
    }
}
