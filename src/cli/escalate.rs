//! `helpdesk escalate`: confirm, retry, decline and list escalations.

use std::io::Write;

use anyhow::{Result, bail};

use crate::escalate::{self, Targets};
use crate::store::{EscalationState, escalations, tickets};

use super::{Context, UsageError, output, ticket};

/// Escalate a ticket to GitLab and chat (or list, retry, review, decline escalations)
///
/// With a ticket number: confirm its escalation and deliver it: the GitLab issue (found again
/// rather than created twice), the chat message and a reply draft telling the customer. Asking
/// twice changes nothing. Without one: list the tickets marked or pending.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The ticket number, e.g. TKT-2026-00042
    pub number: Option<String>,
    /// Decline the marked escalation of NUMBER instead
    #[arg(long, requires = "number")]
    pub dismiss: bool,
    /// Look for tickets to mark (analysis, rounds, SLA breaches) and update SLA due times
    #[arg(long, conflicts_with = "number")]
    pub review: bool,
    /// Deliver the escalations still pending (and, with escalation.auto, the marked ones)
    #[arg(long, conflicts_with = "number")]
    pub retry: bool,
    /// Print the result as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let mut store = ctx.open_store()?;
    let mut out = std::io::stdout().lock();
    if let Some(n) = &args.number {
        let t = ticket::find(ctx, &store, n)?;
        if args.dismiss {
            if escalate::dismiss(&mut store, t.id, super::now())? {
                writeln!(out, "{}: escalation declined", t.number)?;
                return Ok(());
            }
            bail!(UsageError(format!(
                "{} is not marked for escalation; nothing to decline",
                t.number
            )));
        }
        let targets = Targets::from_config(&ctx.config)?;
        let outcome = escalate::escalate(&mut store, &targets, t.id, &super::now)?;
        return report(&mut out, &[outcome], args.json);
    }
    if args.review || args.retry {
        if args.review {
            let r = escalate::review(&mut store, &ctx.config, super::now())?;
            if args.json && !ctx.config.escalation.auto {
                return output::json(&mut out, &r);
            }
            if !args.json {
                for (number, reason) in &r.marked {
                    writeln!(out, "{number}: marked for escalation: {reason}")?;
                }
                writeln!(
                    out,
                    "{} marked, SLA due times updated on {} tickets",
                    r.marked.len(),
                    r.sla_updated
                )?;
            }
            if !ctx.config.escalation.auto && !args.retry {
                return Ok(());
            }
        }
        let pending = !escalations::in_state(store.conn(), EscalationState::Pending)?.is_empty()
            || (ctx.config.escalation.auto
                && !escalations::in_state(store.conn(), EscalationState::Marked)?.is_empty());
        if !pending {
            if args.json {
                return output::json(&mut out, &Vec::<escalate::Outcome>::new());
            }
            writeln!(out, "No escalation to deliver.")?;
            return Ok(());
        }
        let targets = Targets::from_config(&ctx.config)?;
        let outcomes = escalate::deliver_pending(&mut store, &ctx.config, &targets, &super::now)?;
        return report(&mut out, &outcomes, args.json);
    }
    list(&mut out, &store, args.json)
}

fn report(out: &mut impl Write, outcomes: &[escalate::Outcome], json: bool) -> Result<()> {
    if json {
        output::json(out, &outcomes)?;
    } else {
        for o in outcomes {
            match (&o.error, &o.issue_url) {
                (Some(e), _) => writeln!(out, "{}: not escalated yet: {e}", o.number)?,
                (None, Some(u)) => writeln!(out, "{}: {} ({u})", o.number, o.state)?,
                (None, None) => writeln!(out, "{}: {}", o.number, o.state)?,
            }
        }
    }
    let failed = outcomes.iter().filter(|o| o.error.is_some()).count();
    if failed > 0 {
        bail!(
            "{failed} escalation(s) not delivered; they stay pending: fix the cause, then run \
             `helpdesk escalate --retry`"
        );
    }
    Ok(())
}

#[derive(serde::Serialize)]
struct Listed {
    number: String,
    state: EscalationState,
    reason: String,
    marked_at: i64,
    attempts: i64,
    last_error: Option<String>,
    issue_url: Option<String>,
}

fn list(out: &mut impl Write, store: &crate::store::Store, json: bool) -> Result<()> {
    let mut rows = Vec::new();
    for state in [EscalationState::Marked, EscalationState::Pending] {
        for e in escalations::in_state(store.conn(), state)? {
            let t = tickets::get(store.conn(), e.ticket_id)?;
            rows.push(Listed {
                number: t.number,
                state: e.state,
                reason: e.reason,
                marked_at: e.marked_at,
                attempts: e.attempts,
                last_error: e.last_error,
                issue_url: t.escalation_url,
            });
        }
    }
    if json {
        return output::json(out, &rows);
    }
    if rows.is_empty() {
        writeln!(
            out,
            "No ticket is marked for escalation. `helpdesk escalate --review` looks for some."
        )?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.number.clone(),
                r.state.to_string(),
                output::time(r.marked_at),
                match &r.last_error {
                    Some(e) => output::truncate(&format!("{} (last error: {e})", r.reason), 100),
                    None => output::truncate(&r.reason, 100),
                },
            ]
        })
        .collect();
    output::table(out, &["NUMBER", "STATE", "MARKED (UTC)", "REASON"], &table)?;
    writeln!(
        out,
        "\n`helpdesk escalate NUMBER` escalates one; `--dismiss` declines it."
    )?;
    Ok(())
}
