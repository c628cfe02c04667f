//! What the review screen gets from the configuration: who replies are from, and the
//! background jobs (sync with IDLE, analysis, the outbox), each only when configured.

use std::time::Duration;

use anyhow::{Result, anyhow};

use crate::ai::{self, offline::OfflineDrafter};
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

/// The offline drafter as a background job.
pub fn analysis_job(ctx: &Context) -> Result<Job> {
    let drafter = OfflineDrafter::bundled()
        .map_err(|e| anyhow!("the bundled classifier data is broken: {e}"))?;
    let signature = ctx
        .config
        .account
        .signature
        .clone()
        .unwrap_or_else(|| ctx.config.account.name.clone());
    Ok(Box::new(
        move |store: &mut Store, progress: &dyn Fn(u64, u64)| {
            let r = ai::analyse_pending(
                store,
                &drafter,
                &signature,
                None,
                &super::now,
                &mut |d, t| progress(d, t),
            )
            .map_err(|e| e.to_string())?;
            Ok(if r.drafted + r.noise == 0 {
                String::new()
            } else {
                format!("{} drafted, {} noise", r.drafted, r.noise)
            })
        },
    ))
}

fn sync_job(ctx: &Context) -> Result<(Job, Waiter)> {
    let settings = sync::imap_settings(ctx)?;
    let poll = Duration::from_secs(
        ctx.config
            .imap
            .as_ref()
            .map_or(60, |c| c.poll_seconds.max(5)),
    );
    let ctx = owned(ctx);
    let waiter_settings = settings.clone();
    let mut ingest = None;
    let job: Job = Box::new(move |store: &mut Store, progress: &dyn Fn(u64, u64)| {
        if ingest.is_none() {
            ingest = Some(ctx.ingest(store).map_err(|e| format!("{e:#}"))?);
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
    });
    let waiter: Waiter = Box::new(move || sync::wait_for_mail(&waiter_settings, poll));
    Ok((job, waiter))
}

fn flush_job(ctx: &Context) -> Result<Job> {
    let out = send::outgoing(ctx)?;
    Ok(Box::new(
        move |store: &mut Store, progress: &dyn Fn(u64, u64)| {
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
