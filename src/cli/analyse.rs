use std::io::IsTerminal;
use std::sync::Arc;

use anyhow::{Context as _, Result, anyhow};
use indicatif::ProgressBar;

use crate::ai::{self, Engine, StageEvent, StageOptions, offline::OfflineDrafter, openai};
use crate::config::Provider;
use crate::store::tickets;
use crate::ticket::TicketNumber;

use super::{Context, UsageError, output};

/// Classify tickets and draft replies ([ai] provider: the offline drafter or an
/// OpenAI-compatible endpoint)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// One ticket, e.g. TKT-2026-00042
    #[arg(conflicts_with = "pending")]
    pub number: Option<String>,
    /// Every ticket whose draft waits for analysis (the default)
    #[arg(long)]
    pub pending: bool,
    /// Also analyse again the drafts whose analysis failed
    #[arg(long)]
    pub retry_failed: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let store = ctx.open_store()?;
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
    let mut options = StageOptions::from_config(&ctx.config);
    options.ticket = ticket;
    options.retry_failed = args.retry_failed;
    let report = match ctx.config.ai.provider {
        Provider::Offline => {
            let mut store = store;
            analyse(ctx, &mut store, &options)?
        }
        Provider::Openai => {
            drop(store);
            analyse_openai(ctx, options)?
        }
    };
    // SLA clocks follow the new priorities; tickets are marked for escalation.
    let mut store = ctx.open_store()?;
    let marked = after_analysis(ctx, &mut store)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &report)?;
    } else {
        use std::io::Write;
        let mut line = format!(
            "{} drafted, {} set aside as noise, {} asking for a person",
            report.drafted, report.noise, report.escalations
        );
        if report.flagged > 0 {
            line.push_str(&format!(", {} flagged by the checks", report.flagged));
        }
        if report.failed > 0 {
            line.push_str(&format!(
                ", {} failed (see `helpdesk ticket show`; `helpdesk analyse --retry-failed` tries again)",
                report.failed
            ));
        }
        writeln!(out, "{line}")?;
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

fn progress_bar() -> (Option<ProgressBar>, impl Fn(u64, u64)) {
    let bar = std::io::stderr().is_terminal().then(ProgressBar::hidden);
    let b = bar.clone();
    let update = move |done: u64, total: u64| {
        if let Some(b) = &b {
            if b.is_hidden() && total > 20 {
                b.set_draw_target(indicatif::ProgressDrawTarget::stderr());
            }
            b.set_length(total);
            b.set_position(done);
        }
    };
    (bar, update)
}

/// Runs the offline drafter over pending drafts, with a progress bar on a terminal.
pub fn analyse(
    _ctx: &Context,
    store: &mut crate::store::Store,
    options: &StageOptions,
) -> Result<ai::AnalyseReport> {
    let drafter = OfflineDrafter::bundled()
        .map_err(|e| anyhow!("the bundled classifier data is broken: {e}"))?;
    let (bar, update) = progress_bar();
    let mut progress = |done, total| update(done, total);
    let report = ai::analyse_pending(store, &drafter, options, &super::now, &mut progress)?;
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    Ok(report)
}

/// Runs the OpenAI-compatible client over pending drafts on a small tokio runtime.
fn analyse_openai(ctx: &Context, options: StageOptions) -> Result<ai::AnalyseReport> {
    let settings =
        openai::Settings::from_config(&ctx.config.ai).map_err(|e| UsageError(e.to_string()))?;
    let prompt = ai::prompt::PromptSettings::from_config(&ctx.config)
        .map_err(|e| UsageError(e.to_string()))?;
    let client = openai::Client::new(settings)?;
    let engine = Arc::new(Engine::Openai { client, prompt });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let (bar, update) = progress_bar();
    let path = ctx.paths.store.clone();
    let report = runtime.block_on(async move {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let stage = tokio::spawn(async move {
            ai::analyse_pending_async(&path, engine, Arc::new(options), super::now, Some(tx)).await
        });
        while let Some(event) = rx.recv().await {
            if let StageEvent::Progress { done, total } = event {
                update(done, total);
            }
        }
        anyhow::Ok(stage.await.context("the analysis task failed")??)
    });
    if let Some(b) = bar {
        b.finish_and_clear();
    }
    report.with_context(|| format!("analysing tickets in {}", ctx.paths.store.display()))
}
