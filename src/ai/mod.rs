//! Analysis and reply drafts. The offline drafter works with no network and no key; the
//! OpenAI-compatible client is still to come. `analyse` is the stage: drafts in state `new`
//! get an [`Analysis`] and a reply and move to `drafted`, or, for a greeting with no request,
//! the ticket is set to `noise` (reversible) with no reply.

pub mod analysis;
pub mod classifier;
pub mod escalation;
pub mod offline;
pub mod templates;

pub use analysis::Analysis;

use crate::store::{self, DraftState, Store, TicketStatus, events, messages, tickets};

/// What one analysis pass did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AnalyseReport {
    pub drafted: u64,
    pub noise: u64,
    pub escalations: u64,
}

/// Analyses the pending drafts (all, or one ticket's), one short transaction each.
pub fn analyse_pending(
    store: &mut Store,
    drafter: &offline::OfflineDrafter,
    signature: &str,
    ticket: Option<i64>,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(u64, u64),
) -> store::Result<AnalyseReport> {
    let pending = messages::pending_drafts(store.conn(), ticket)?;
    let total = pending.len() as u64;
    let mut report = AnalyseReport::default();
    for (i, (draft_id, ticket_id, message)) in pending.into_iter().enumerate() {
        let t = tickets::get(store.conn(), ticket_id)?;
        let (subject, text) = match message {
            Some(m) => messages::text_of(store.conn(), m)?,
            None => (t.subject.clone(), String::new()),
        };
        let similar =
            store::search::similar_resolved_reply(store.conn(), &format!("{subject}\n{text}"))?;
        let mut a = drafter.analyse(&offline::Turn {
            number: &t.number,
            requester_name: t.requester.name.as_deref(),
            subject: &subject,
            text: &text,
            signature,
        });
        if let Some((number, reply)) = &similar {
            offline::suggest_similar(&mut a, number, reply);
        }
        let json = serde_json::to_string(&a).expect("an analysis serializes");
        let at = now();
        let tx = store.write()?;
        tickets::set_analysis(
            &tx,
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
                &tx,
                draft_id,
                DraftState::Rejected,
                "",
                Some(&json),
                Some("no reply needed: a greeting or thanks with no request"),
                at,
            )?;
            let old = tickets::set_status(&tx, ticket_id, TicketStatus::Noise, at)?;
            events::append(
                &tx,
                ticket_id,
                at,
                "status",
                &format!("{old} → noise: greeting or thanks with no request (offline analysis)"),
                message,
            )?;
            report.noise += 1;
        } else {
            messages::set_draft(
                &tx,
                draft_id,
                DraftState::Drafted,
                &a.reply,
                Some(&json),
                None,
                at,
            )?;
            report.drafted += 1;
        }
        let detail = format!(
            "{} · {} · {} · {}{} (confidence {:.2}, {})",
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
            a.drafter
        );
        events::append(&tx, ticket_id, at, "analysed", &detail, message)?;
        if a.escalate {
            report.escalations += 1;
        }
        Store::commit(tx)?;
        progress(i as u64 + 1, total);
    }
    Ok(report)
}
