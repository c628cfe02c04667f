//! Analysis and reply drafts. Two drafters: the offline one (no network, no key) and the
//! OpenAI-compatible client ([`openai`]), chosen by `[ai] provider`. The stage takes drafts in
//! state `new`, gives each an [`Analysis`] and a reply and moves it to `drafted`; a greeting
//! with no request sets the ticket to `noise` (reversible) with no reply; an analysis that
//! cannot be made leaves the draft in `analysis_failed` with the reason. Every draft passes
//! the output [`checks`] first, whose flags are stored in the analysis and shown with it.
//!
//! [`analyse_pending`] is the blocking offline stage; [`analyse_pending_async`] runs either
//! drafter concurrently (at most `max_concurrent` requests in flight) with the store on a
//! thread of its own, so that no SQLite call blocks the runtime.

pub mod analysis;
pub mod checks;
pub mod classifier;
pub mod escalation;
pub mod offline;
pub mod openai;
pub mod partial;
pub mod prompt;
mod stage;
pub mod templates;

pub use analysis::Analysis;
pub use stage::{Engine, StageError, StageEvent, analyse_pending_async};

use rusqlite::Connection;

use crate::config::Config;
use crate::store::{self, DraftState, Store, TicketStatus, events, messages, tickets};
use prompt::TurnContext;

/// What one analysis pass did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AnalyseReport {
    pub drafted: u64,
    pub noise: u64,
    pub escalations: u64,
    /// Drafts left in `analysis_failed`.
    pub failed: u64,
    /// Drafts the output checks flagged.
    pub flagged: u64,
}

impl AnalyseReport {
    fn add(&mut self, other: &AnalyseReport) {
        self.drafted += other.drafted;
        self.noise += other.noise;
        self.escalations += other.escalations;
        self.failed += other.failed;
        self.flagged += other.flagged;
    }
}

/// What the stage needs besides the drafter.
#[derive(Debug, Clone, Default)]
pub struct StageOptions {
    /// One ticket, or every pending draft.
    pub ticket: Option<i64>,
    /// Take drafts in `analysis_failed` again too.
    pub retry_failed: bool,
    /// Stream answers, sending the draft as it is written ([`StageEvent::Partial`]).
    pub stream: bool,
    pub signature: String,
    /// Domains drafts may link to: `[ai] allowed_domains` and the support address's domain.
    pub allowed_domains: Vec<String>,
}

impl StageOptions {
    pub fn from_config(config: &Config) -> StageOptions {
        let mut allowed_domains = config.ai.allowed_domains.clone();
        if let Some(domain) = config
            .account
            .address
            .as_deref()
            .and_then(|a| a.rsplit_once('@'))
            .map(|(_, d)| d.to_lowercase())
        {
            allowed_domains.push(domain);
        }
        StageOptions {
            signature: prompt::signature_of(config),
            allowed_domains,
            ..StageOptions::default()
        }
    }
}

/// The result of analysing one turn, before it is stored.
// Nearly always the large variant; boxing it would only add an allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Outcome {
    Analysed(Analysis),
    /// Why no analysis could be made (never holds a secret: the client redacts).
    Failed(String),
}

/// Analyses the pending drafts (all, or one ticket's) with the offline drafter, one short
/// transaction each.
pub fn analyse_pending(
    store: &mut Store,
    drafter: &offline::OfflineDrafter,
    options: &StageOptions,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(u64, u64),
) -> store::Result<AnalyseReport> {
    let pending = messages::pending_drafts_in(store.conn(), options.ticket, options.retry_failed)?;
    let total = pending.len() as u64;
    let mut report = AnalyseReport::default();
    for (i, (draft_id, ticket_id, message)) in pending.into_iter().enumerate() {
        let turn = prompt::load_turn(store.conn(), draft_id, ticket_id, message, 0)?;
        // The reply of a resolved ticket the customer's text closely resembles, as a
        // suggestion in the steps (never in the reply itself).
        let similar = store::search::similar_resolved_reply(
            store.conn(),
            &format!("{}\n{}", turn.subject, turn.text),
        )?;
        let outcome = offline_outcome(drafter, &turn, options, similar.as_ref());
        let tx = store.write()?;
        report.add(&store_outcome(&tx, &turn, &outcome, now())?);
        Store::commit(tx)?;
        progress(i as u64 + 1, total);
    }
    Ok(report)
}

/// The offline drafter's analysis of a turn, checked.
pub fn offline_outcome(
    drafter: &offline::OfflineDrafter,
    turn: &TurnContext,
    options: &StageOptions,
    similar: Option<&(String, String)>,
) -> Outcome {
    let mut a = drafter.analyse(&offline::Turn {
        number: &turn.number,
        requester_name: turn.requester_name.as_deref(),
        subject: &turn.subject,
        text: &turn.text,
        signature: &options.signature,
    });
    if let Some((number, reply)) = similar {
        offline::suggest_similar(&mut a, number, reply);
    }
    checked(Outcome::Analysed(a), turn, options)
}

/// Ends a reply with the signature when the model left it out (the prompt asks for it).
pub fn ensure_signature(a: &mut Analysis, signature: &str) {
    let signature = signature.trim();
    if !a.reply.trim().is_empty() && !signature.is_empty() && !a.reply.contains(signature) {
        a.reply = format!("{}\n\n{signature}", a.reply.trim_end());
    }
}

/// Runs the output checks on an analysis and stores their flags in it.
pub fn checked(outcome: Outcome, turn: &TurnContext, options: &StageOptions) -> Outcome {
    let Outcome::Analysed(mut a) = outcome else {
        return outcome;
    };
    let sources: Vec<checks::Source<'_>> = turn
        .thread
        .iter()
        .map(|m| checks::Source {
            ours: m.direction != store::Direction::Inbound,
            text: &m.body,
        })
        .chain(turn.notes.iter().map(|n| checks::Source {
            ours: true,
            text: &n.body,
        }))
        .chain(turn.similar.iter().map(|s| checks::Source {
            ours: true,
            text: &s.reply,
        }))
        // Addresses from the headers are facts of the thread, not text anyone wrote.
        .chain(
            turn.thread
                .iter()
                .filter_map(|m| m.from_addr.as_deref())
                .chain([turn.requester_addr.as_str()])
                .map(|addr| checks::Source {
                    ours: true,
                    text: addr,
                }),
        )
        .collect();
    a.flags = checks::check(
        &a,
        &sources,
        &checks::Allowed {
            domains: options.allowed_domains.clone(),
            signature: &options.signature,
        },
    );
    Outcome::Analysed(a)
}

/// Stores one outcome on its draft and ticket, with its event; call inside a write
/// transaction. Returns what it counted.
pub fn store_outcome(
    conn: &Connection,
    turn: &TurnContext,
    outcome: &Outcome,
    at: i64,
) -> store::Result<AnalyseReport> {
    let mut report = AnalyseReport::default();
    let (draft_id, ticket_id, message) = (turn.draft_id, turn.ticket_id, turn.message_id);
    let a = match outcome {
        Outcome::Failed(error) => {
            messages::set_draft_failed(conn, draft_id, error, at)?;
            events::append(conn, ticket_id, at, "analysis failed", error, message)?;
            report.failed = 1;
            return Ok(report);
        }
        Outcome::Analysed(a) => a,
    };
    let json = serde_json::to_string(a).expect("an analysis serializes");
    tickets::set_analysis(
        conn,
        ticket_id,
        &tickets::AnalysisFields {
            category: &a.category,
            priority: &a.priority,
            language: &a.language,
            sentiment: &a.sentiment,
            summary: &a.summary,
        },
        at,
    )?;
    if a.noise {
        messages::set_draft(
            conn,
            draft_id,
            DraftState::Rejected,
            "",
            Some(&json),
            Some("no reply needed: a greeting or thanks with no request"),
            at,
        )?;
        let old = tickets::set_status(conn, ticket_id, TicketStatus::Noise, at)?;
        let who = if a.drafter == "offline" {
            "offline"
        } else {
            "AI"
        };
        events::append(
            conn,
            ticket_id,
            at,
            "status",
            &format!("{old} → noise: greeting or thanks with no request ({who} analysis)"),
            message,
        )?;
        report.noise = 1;
    } else {
        messages::set_draft(
            conn,
            draft_id,
            DraftState::Drafted,
            &a.reply,
            Some(&json),
            None,
            at,
        )?;
        report.drafted = 1;
    }
    let detail = format!(
        "{} · {} · {} · {}{} (confidence {:.2}, {}){}",
        a.category,
        a.priority,
        a.sentiment,
        a.language,
        if a.escalate {
            " · asks for a person"
        } else {
            ""
        },
        a.confidence,
        a.drafter,
        if a.flags.is_empty() {
            String::new()
        } else {
            format!(" · flagged: {}", a.flags.join("; "))
        }
    );
    events::append(conn, ticket_id, at, "analysed", &detail, message)?;
    if a.escalate {
        report.escalations = 1;
    }
    if !a.flags.is_empty() {
        report.flagged = 1;
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_requesters_address_may_be_named_but_not_another() {
        let mut a: Analysis = serde_json::from_value(serde_json::json!({
            "category": "Other", "priority": "low", "sentiment": "neutral", "language": "en",
            "summary": "s", "steps": [], "reply": "We wrote to dana@customer.example.",
            "escalate": false, "escalate_reason": null, "questions": [], "noise": false,
            "confidence": 0.5, "drafter": "m"
        }))
        .unwrap();
        let turn = TurnContext {
            draft_id: 1,
            ticket_id: 1,
            message_id: None,
            number: "TKT-2026-00001".into(),
            requester_name: None,
            requester_addr: "dana@customer.example".into(),
            subject: "s".into(),
            text: "t".into(),
            thread: Vec::new(),
            notes: Vec::new(),
            similar: Vec::new(),
        };
        let flags = |a: &Analysis| match checked(
            Outcome::Analysed(a.clone()),
            &turn,
            &StageOptions::default(),
        ) {
            Outcome::Analysed(a) => a.flags,
            Outcome::Failed(e) => panic!("{e}"),
        };
        assert!(flags(&a).is_empty(), "{:?}", flags(&a));
        a.reply = "We wrote to eve@elsewhere.example.".into();
        assert_eq!(flags(&a).len(), 1);
    }

    #[test]
    fn a_reply_without_the_signature_gets_it_once() {
        let mut a: Analysis = serde_json::from_value(serde_json::json!({
            "category": "Other", "priority": "low", "sentiment": "neutral", "language": "en",
            "summary": "s", "steps": [], "reply": "Hi Dana,\n\nDone.\n", "escalate": false,
            "escalate_reason": null, "questions": [], "noise": false, "confidence": 0.5,
            "drafter": "m"
        }))
        .unwrap();
        ensure_signature(&mut a, "— Lumen Support");
        assert_eq!(a.reply, "Hi Dana,\n\nDone.\n\n— Lumen Support");
        ensure_signature(&mut a, "— Lumen Support");
        assert_eq!(a.reply.matches("— Lumen Support").count(), 1);
        a.reply.clear();
        ensure_signature(&mut a, "— Lumen Support");
        assert!(a.reply.is_empty(), "an empty reply stays empty");
    }
}
