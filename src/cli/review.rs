//! What the review screen gets from the configuration: who replies are from, and the
//! background jobs (sync with IDLE, analysis, the outbox), each only when configured.

use std::time::Duration;

use anyhow::{Result, anyhow};

use std::sync::Arc;

use crate::ai::{self, Engine, StageEvent, StageOptions, offline::OfflineDrafter, openai};
use crate::config::Provider;
use crate::store::Store;
use crate::tui::{Backends, Job, Waiter};

use super::{Context, send, sync};

fn owned(ctx: &Context) -> Context {
    Context {
        paths: ctx.paths.clone(),
        config: ctx.config.clone(),
        config_found: ctx.config_found,
    }
}

/// Analysis as a background job: the offline drafter on the job's store, or the
/// OpenAI-compatible client on a small runtime of its own (the stage opens its own store).
pub fn analysis_job(ctx: &Context) -> Result<Job> {
    let mut options = StageOptions::from_config(&ctx.config);
    // The review screen shows a reply as the model writes it.
    options.stream = true;
    let summary = |r: ai::AnalyseReport| {
        if r.drafted + r.noise + r.failed == 0 {
            String::new()
        } else {
            let mut s = format!("{} drafted, {} noise", r.drafted, r.noise);
            if r.failed > 0 {
                s.push_str(&format!(", {} failed", r.failed));
            }
            s
        }
    };
    match ctx.config.ai.provider {
        Provider::Offline => {
            let drafter = OfflineDrafter::bundled()
                .map_err(|e| anyhow!("the bundled classifier data is broken: {e}"))?;
            Ok(Box::new(
                move |store: &mut Store,
                      progress: &dyn Fn(u64, u64),
                      _partial: &dyn Fn(i64, String)| {
                    ai::analyse_pending(store, &drafter, &options, &super::now, &mut |d, t| {
                        progress(d, t)
                    })
                    .map(summary)
                    .map_err(|e| e.to_string())
                },
            ))
        }
        Provider::Openai => {
            let settings = openai::Settings::from_config(&ctx.config.ai)?;
            let prompt = ai::prompt::PromptSettings::from_config(&ctx.config)?;
            let client = openai::Client::new(settings)?;
            let engine = Arc::new(Engine::Openai { client, prompt });
            let options = Arc::new(options);
            let path = ctx.paths.store.clone();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()?;
            Ok(Box::new(
                move |_store: &mut Store,
                      progress: &dyn Fn(u64, u64),
                      partial: &dyn Fn(i64, String)| {
                    let (engine, options, path) =
                        (Arc::clone(&engine), Arc::clone(&options), path.clone());
                    runtime.block_on(async move {
                        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
                        let stage = tokio::spawn(async move {
                            ai::analyse_pending_async(&path, engine, options, super::now, Some(tx))
                                .await
                        });
                        while let Some(event) = rx.recv().await {
                            match event {
                                StageEvent::Progress { done, total } => progress(done, total),
                                StageEvent::Partial {
                                    ticket_id, text, ..
                                } => partial(ticket_id, text),
                            }
                        }
                        match stage.await {
                            Ok(Ok(r)) => Ok(summary(r)),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(e) => Err(format!("the analysis task failed: {e}")),
                        }
                    })
                },
            ))
        }
    }
}

fn sync_job(ctx: &Context) -> Result<(Job, Waiter)> {
    let mut settings = sync::imap_settings(ctx)?;
    let poll = Duration::from_secs(
        ctx.config
            .imap
            .as_ref()
            .map_or(60, |c| c.poll_seconds.max(5)),
    );
    let store_path = ctx.paths.store.clone();
    let ctx = owned(ctx);
    let waiter_ctx = owned(&ctx);
    let mut waiter_settings = settings.clone();
    let mut ingest = None;
    let mut first = true;
    let job: Job = Box::new(
        move |store: &mut Store, progress: &dyn Fn(u64, u64), _: &dyn Fn(i64, String)| {
            if ingest.is_none() {
                ingest = Some(ctx.ingest(store).map_err(|e| format!("{e:#}"))?);
            }
            // OAuth 2 access tokens expire: a fresh one for every pass but the first.
            if !std::mem::take(&mut first) {
                sync::refresh_token(&ctx, &mut settings).map_err(|e| format!("{e:#}"))?;
            }
            let ing = ingest.as_ref().expect("set above");
            let r = crate::mail::imap::sync_once(store, ing, &settings, &super::now, &mut |p| {
                if let crate::mail::imap::Progress::Stored { done, total } = p {
                    progress(done, total);
                }
            })
            .map_err(|e| e.to_string())?;
            if ctx.config.tickets.acknowledge {
                let sender = send::sender(&ctx, store).map_err(|e| format!("{e:#}"))?;
                let settings = send::ack_settings(&ctx).map_err(|e| format!("{e:#}"))?;
                crate::send::ack::acknowledge_pending(store, &sender, &settings, super::now())
                    .map_err(|e| e.to_string())?;
            }
            Ok(if r.fetched == 0 {
                String::new()
            } else {
                format!(
                    "{} new messages: {} new tickets, {} replies",
                    r.fetched, r.summary.new_tickets, r.summary.threaded
                )
            })
        },
    );
    let mut waiter_store: Option<Store> = None;
    let waiter: Waiter = Box::new(move || {
        // The IDLE connection logs in too: with a token valid now.
        if sync::refresh_token(&waiter_ctx, &mut waiter_settings).is_err() {
            // The next pass reports the problem; poll meanwhile.
            std::thread::sleep(poll);
            return;
        }
        // One store connection for the watcher's life, opened on first use.
        if waiter_store.is_none() {
            waiter_store = Store::open(&store_path).ok();
        }
        let stored = waiter_store.as_ref().and_then(|s| {
            crate::store::sync::get(s.conn(), &waiter_settings.mailbox)
                .ok()
                .flatten()
                .map(|st| st.last_uid)
                // Nothing stored yet: any mail in the mailbox is new.
                .or(Some(0))
        });
        sync::wait_for_mail(&waiter_settings, poll, stored)
    });
    Ok((job, waiter))
}

fn flush_job(ctx: &Context) -> Result<Job> {
    let out = send::outgoing(ctx)?;
    Ok(Box::new(
        move |store: &mut Store, progress: &dyn Fn(u64, u64), _partial: &dyn Fn(i64, String)| {
            let due = crate::store::outbox::due(store.conn(), super::now(), 1)
                .map_err(|e| e.to_string())?;
            let counts = crate::store::outbox::counts(store.conn()).map_err(|e| e.to_string())?;
            if due.is_empty() && counts.sending == 0 {
                return Ok(String::new());
            }
            let r = crate::send::flush(store, &out, &super::now, &mut |d, t| progress(d, t))
                .map_err(|e| e.to_string())?;
            if let Some(why) = r.stopped {
                return Err(why);
            }
            let mut s = format!("outbox: {} sent", r.sent);
            if r.retrying > 0 {
                s.push_str(&format!(", {} to retry", r.retrying));
            }
            if r.failed > 0 {
                s.push_str(&format!(", {} failed (see the draft)", r.failed));
            }
            Ok(s)
        },
    ))
}

/// Everything configured; what is not configured (or fails to set up) is left out, with a
/// warning printed before the screen opens.
pub fn backends(ctx: &Context, store: &mut Store, analyse: bool) -> Backends {
    let mut b = Backends::none(ctx.paths.store.clone());
    b.theme = crate::tui::views::Theme::from_config(&ctx.config.theme);
    match crate::tui::keymap::Keymap::with_overrides(&ctx.config.keys) {
        Ok(k) => b.keymap = k,
        Err(e) => eprintln!("helpdesk: warning: [keys]: {e}; using the default keys"),
    }
    if let Ok(tz) = ctx.config.sla.timezone.parse() {
        b.tz = tz;
    }
    if let Ok(policy) = crate::ticket::sla::Policy::from_config(&ctx.config.sla) {
        b.policy = policy;
    }
    if ctx.config.escalation.gitlab.is_some() || ctx.config.escalation.chat.is_some() {
        match crate::escalate::Targets::from_config(&ctx.config) {
            Ok(targets) => {
                let path = ctx.paths.store.clone();
                let targets = std::sync::Arc::new(targets);
                b.escalate = Some(std::sync::Arc::new(move |id: i64| {
                    let mut store = Store::open(&path).map_err(|e| e.to_string())?;
                    let o = crate::escalate::escalate(&mut store, &targets, id, &super::now)
                        .map_err(|e| e.to_string())?;
                    Ok(match (o.issue_url, o.error) {
                        (_, Some(e)) => {
                            format!("{}: escalation pending ({e}); x retries", o.number)
                        }
                        (Some(url), None) => format!("{}: escalated: {url}", o.number),
                        (None, None) => format!("{}: escalated", o.number),
                    })
                }));
            }
            Err(e) => eprintln!("helpdesk: warning: escalation is off: {e}"),
        }
    }
    // The config checks that the list is not empty.
    b.categories = ctx.config.ai.categories.clone();
    if ctx.config.account.address.is_some() {
        match send::sender(ctx, store) {
            Ok(s) => b.sender = Some(s),
            Err(e) => eprintln!("helpdesk: warning: approving is off: {e:#}"),
        }
    }
    if analyse {
        match analysis_job(ctx) {
            Ok(j) => b.analyse = Some(j),
            Err(e) => eprintln!("helpdesk: warning: background analysis is off: {e:#}"),
        }
    }
    if ctx.config.imap.is_some() {
        match sync_job(ctx) {
            Ok((j, w)) => {
                b.sync = Some(j);
                b.wait_for_mail = Some(w);
            }
            Err(e) => eprintln!("helpdesk: warning: background sync is off: {e:#}"),
        }
    }
    if ctx.config.smtp.is_some() {
        match flush_job(ctx) {
            Ok(j) => b.flush = Some(j),
            Err(e) => eprintln!("helpdesk: warning: sending is off: {e:#}"),
        }
    }
    b
}
