use std::io::IsTerminal;

use anyhow::{Result, anyhow, bail};
use indicatif::ProgressBar;

use crate::ai::{self, offline::OfflineDrafter};
use crate::config::Provider;
use crate::store::tickets;
use crate::ticket::TicketNumber;

use super::{Context, UsageError, output};

/// Classify tickets and draft replies (the built-in offline drafter)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One ticket, e.g. TKT-2026-00042
    #[arg(conflicts_with = "pending")]
    pub number: Option<String>,
    /// Every ticket whose draft waits for analysis (the default)
    #[arg(long)]
    pub pending: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    if ctx.config.ai.provider == Provider::Openai {
        bail!(UsageError(
            "[ai] provider = \"openai\" is not available yet; set provider = \"offline\" to use the built-in drafter".into()
        ));
    }
    let mut store = ctx.open_store()?;
    let ticket = match &args.number {
        Some(n) => {
            let number: TicketNumber = n.parse().map_err(UsageError)?;
            let t = tickets::by_number(store.conn(), &number.to_string())?.ok_or_else(|| {
                anyhow!("no ticket {number}; `helpdesk ticket list` shows what there is")
            })?;
            Some(t.id)
        }
        None => None,
    };
    let report = analyse(ctx, &mut store, ticket)?;
    let marked = after_analysis(ctx, &mut store)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &report)?;
    } else {
        use std::io::Write;
        writeln!(
            out,
            "{} drafted, {} set aside as noise, {} asking for a person",
            report.drafted, report.noise, report.escalations
        )?;
        for (number, reason) in &marked {
            writeln!(out, "{number}: marked for escalation: {reason}")?;
        }
        if !marked.is_empty() && !ctx.config.escalation.auto {
            writeln!(
                out,
                "`helpdesk escalate NUMBER` escalates one; `helpdesk escalate` lists them"
            )?;
        }
    }
    Ok(())
}

/// After analysis: SLA due times follow the new priorities, tickets are marked for escalation
/// (escalate::review), and with `escalation.auto` the marked ones are escalated at once.
/// Returns the tickets newly marked.
pub fn after_analysis(
    ctx: &Context,
    store: &mut crate::store::Store,
) -> Result<Vec<(String, String)>> {
    let review = crate::escalate::review(store, &ctx.config, super::now())?;
    if ctx.config.escalation.auto && !review.marked.is_empty() {
        let delivered = crate::escalate::Targets::from_config(&ctx.config).and_then(|targets| {
            crate::escalate::deliver_pending(store, &ctx.config, &targets, &super::now)
        });
        match delivered {
            Ok(outcomes) => {
                for o in outcomes
                    .iter()
                    .filter_map(|o| o.error.as_ref().map(|e| (o, e)))
                {
                    eprintln!(
                        "{}: escalation not delivered yet: {}; `helpdesk escalate --retry` retries",
                        o.0.number, o.1
                    );
                }
            }
            Err(e) => eprintln!(
                "escalation (escalation.auto) could not run: {e}; `helpdesk escalate --retry` retries"
            ),
        }
    }
    Ok(review.marked)
}

/// Runs the offline drafter over pending drafts, with a progress bar on a terminal.
pub fn analyse(
    ctx: &Context,
    store: &mut crate::store::Store,
    ticket: Option<i64>,
) -> Result<ai::AnalyseReport> {
    let drafter = OfflineDrafter::bundled()
        .map_err(|e| anyhow!("the bundled classifier data is broken: {e}"))?;
    let signature = ctx
        .config
        .account
        .signature
        .clone()
        .unwrap_or_else(|| ctx.config.account.name.clone());
    let bar = std::io::stderr().is_terminal().then(ProgressBar::hidden);
    let mut progress = |done: u64, total: u64| {
        if let Some(b) = &bar {
            if b.is_hidden() && total > 20 {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            b.set_length(total);
            b.set_position(done);
        }
    };
    let report = ai::analyse_pending(
        store,
        &drafter,
        &signature,
        ticket,
        &super::now,
        &mut progress,
    )?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(report)
}
