//! `helpdesk approve`, `reject`, `unapprove`, `send` and `outbox`: the review decisions and the
//! outbox from the command line (the same library calls as the review screen).

use std::io::{IsTerminal, Write};
use std::time::Duration;

use anyhow::{Context as _, Result, anyhow};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Smtp, is_loopback};
use crate::secret::Secret;
use crate::send::{
    self, Outgoing, SentFolder, SmtpSettings,
    ack::{self, AckSettings},
    compose::Sender,
    review,
};
use crate::store::{OutboxState, Store, outbox, tickets};
use crate::ticket::{TagMatcher, TicketNumber};

use super::{Context, UsageError, output, sync};

#[derive(Debug, clap::Args)]
pub struct ApproveArgs {
    /// The ticket whose draft to approve (TKT-2026-00042)
    pub number: String,
}

#[derive(Debug, clap::Args)]
pub struct RejectArgs {
    /// The ticket whose draft to reject
    pub number: String,
    /// Why (kept on the ticket)
    #[arg(long)]
    pub reason: String,
}

#[derive(Debug, clap::Args)]
pub struct UnapproveArgs {
    /// The ticket whose approved, not yet sent reply to take back
    pub number: String,
}

#[derive(Debug, clap::Args)]
pub struct SendArgs {
    /// Show what would be sent, without connecting to anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct OutboxArgs {
    #[command(subcommand)]
    pub command: Option<OutboxCommand>,
    /// Also list sent messages
    #[arg(long)]
    pub all: bool,
    /// Print JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Subcommand)]
pub enum OutboxCommand {
    /// Put a failed message back in the queue as it is
    Retry {
        /// The outbox id (first column of `helpdesk outbox`)
        id: i64,
    },
}

fn ticket_id(store: &Store, number: &str) -> Result<i64> {
    let number: TicketNumber = number.parse().map_err(UsageError)?;
    Ok(tickets::by_number(store.conn(), &number.to_string())?
        .ok_or_else(|| anyhow!("no ticket {number}; `helpdesk ticket list` shows what there is"))?
        .id)
}

/// Who we are when we write: the `[account]` section and the store's token key.
pub fn sender(ctx: &Context, store: &mut Store) -> Result<Sender> {
    let ingest = ctx.ingest(store)?;
    let c = &ctx.config.account;
    Ok(Sender {
        name: c.name.clone(),
        address: c.address.clone().unwrap_or_default(),
        signature: c.signature.clone(),
        quote_original: c.quote_original,
        key: ingest.identity.key.clone(),
        tags: TagMatcher::new(&ctx.config.tickets.prefix),
    })
}

/// The SMTP password: password_command, password_env, or a plain password in a private file.
pub fn smtp_password(ctx: &Context, c: &Smtp) -> Result<Secret> {
    sync::configured_password(
        ctx,
        "smtp",
        c.password_command.as_deref(),
        c.password_env.as_deref(),
        c.password.as_deref(),
    )?
    .ok_or_else(|| anyhow!("no SMTP credentials: set [smtp] password_command or password_env"))
}

/// The `[smtp]` section (and the `[imap]` account for the Sent folder), resolved.
pub fn outgoing(ctx: &Context) -> Result<Outgoing> {
    let Some(c) = &ctx.config.smtp else {
        return Err(UsageError(format!(
            "no [smtp] section in {}: approved replies wait in the outbox until one is added (see config.example.toml)",
            ctx.paths.config.display()
        ))
        .into());
    };
    let from = ctx.config.account.address.clone().ok_or_else(|| {
        UsageError("[account] address is not set: it is the sender of every reply".into())
    })?;
    if c.security == crate::mail::imap::Security::None {
        if !is_loopback(&c.host) {
            return Err(UsageError(
                "[smtp] security = \"none\" is only allowed for a loopback host".into(),
            )
            .into());
        }
        eprintln!(
            "helpdesk: warning: SMTP to {} without TLS (allowed on loopback only)",
            c.host
        );
    }
    if c.tls_accept_invalid_certs {
        eprintln!(
            "helpdesk: warning: [smtp] tls_accept_invalid_certs = true: the server's certificate is not checked"
        );
    }
    let sent_folder = match c.save_sent.as_deref().map(str::trim) {
        Some(folder) if !folder.is_empty() => {
            let imap = sync::imap_settings(ctx).context(
                "[smtp] save_sent needs the [imap] account to save copies in (set save_sent = \"\" to keep none)",
            )?;
            Some(SentFolder {
                imap,
                folder: folder.to_owned(),
            })
        }
        _ => None,
    };
    Ok(Outgoing {
        smtp: SmtpSettings {
            host: c.host.clone(),
            port: c.port,
            security: c.security,
            ca_file: c.tls_ca_file.clone(),
            accept_invalid_certs: c.tls_accept_invalid_certs,
            username: c.username.clone(),
            password: smtp_password(ctx, c)?,
            timeout: Duration::from_secs(c.timeout_seconds.max(1)),
        },
        from,
        sent_folder,
        max_attempts: c.max_attempts.max(1),
        retry_base: Duration::from_secs(c.retry_seconds),
    })
}

pub fn ack_settings(ctx: &Context) -> Result<AckSettings> {
    let t = &ctx.config.tickets;
    let template = match &t.ack_template {
        Some(p) => Some(
            std::fs::read_to_string(p)
                .with_context(|| format!("[tickets] ack_template {}", p.display()))?,
        ),
        None => None,
    };
    Ok(AckSettings {
        per_sender_per_hour: t.ack_per_sender_per_hour,
        per_sender_per_day: t.ack_per_sender_per_day,
        template,
    })
}

pub fn approve(ctx: &Context, args: &ApproveArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    let id = ticket_id(&store, &args.number)?;
    let sender = sender(ctx, &mut store)?;
    let a = review::approve(&mut store, &sender, id, super::now())?;
    println!(
        "{}: reply to {} queued ({}); `helpdesk send` sends it",
        args.number, a.recipient, a.subject
    );
    Ok(())
}

pub fn reject(ctx: &Context, args: &RejectArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    let id = ticket_id(&store, &args.number)?;
    review::reject(&mut store, id, &args.reason, super::now())?;
    println!("{}: draft rejected", args.number);
    Ok(())
}

pub fn unapprove(ctx: &Context, args: &UnapproveArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    let id = ticket_id(&store, &args.number)?;
    review::unapprove(&mut store, id, super::now())?;
    println!(
        "{}: approval taken back; the draft waits for review",
        args.number
    );
    Ok(())
}

#[derive(serde::Serialize)]
struct SendJson {
    acknowledgments: ack::AckReport,
    #[serde(flatten)]
    flush: send::FlushReport,
    seconds: f64,
}

pub fn send(ctx: &Context, args: &SendArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    if args.dry_run {
        let rows = outbox::list(store.conn(), &[OutboxState::Queued, OutboxState::Sending])?;
        let now = super::now();
        let mut out = std::io::stdout().lock();
        if rows.is_empty() {
            writeln!(out, "nothing to send")?;
        }
        for r in rows {
            let when = match r.next_attempt_at {
                Some(t) if t > now => format!("retry in {} s", t - now),
                _ if r.state == OutboxState::Sending => "interrupted: checked in Sent first".into(),
                _ => "now".into(),
            };
            writeln!(
                out,
                "would send {} #{} for {} to {}: {} ({when})",
                r.kind, r.id, r.ticket, r.recipients, r.subject
            )?;
        }
        return Ok(());
    }
    let out_cfg = outgoing(ctx)?;
    let acks = if ctx.config.tickets.acknowledge {
        let sender = sender(ctx, &mut store)?;
        ack::acknowledge_pending(&mut store, &sender, &ack_settings(ctx)?, super::now())?
    } else {
        ack::AckReport::default()
    };
    let bar = std::io::stderr().is_terminal().then(|| {
        let b = ProgressBar::new(0);
        b.set_style(
            ProgressStyle::with_template("{bar:30} {pos}/{len} sent {per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        b
    });
    let report = send::flush(&mut store, &out_cfg, &super::now, &mut |done, total| {
        if let Some(b) = &bar {
            b.set_length(total);
            b.set_position(done);
        }
    });
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    let report = report?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(
            &mut out,
            &SendJson {
                acknowledgments: acks,
                seconds: report.elapsed.as_secs_f64(),
                flush: report.clone(),
            },
        )?;
    } else {
        print_flush(&mut out, &report, &acks)?;
    }
    if let Some(why) = &report.stopped {
        return Err(anyhow!("{why}"));
    }
    Ok(())
}

pub fn print_flush(
    out: &mut impl Write,
    r: &send::FlushReport,
    acks: &ack::AckReport,
) -> Result<()> {
    if acks.queued + acks.withheld > 0 {
        writeln!(
            out,
            "acknowledgments: {} queued, {} withheld by the loop and rate rules",
            acks.queued, acks.withheld
        )?;
    }
    writeln!(
        out,
        "{} sent, {} to retry, {} failed in {:.2} s over {} SMTP connection(s)",
        r.sent,
        r.retrying,
        r.failed,
        r.elapsed.as_secs_f64(),
        r.connections
    )?;
    if r.recovered + r.requeued > 0 {
        writeln!(
            out,
            "interrupted sends: {} found delivered (not sent again), {} queued again",
            r.recovered, r.requeued
        )?;
    }
    for w in &r.warnings {
        writeln!(out, "warning: {w}")?;
    }
    if r.failed > 0 {
        writeln!(out, "`helpdesk outbox` shows the errors")?;
    }
    Ok(())
}

pub fn outbox_cmd(ctx: &Context, args: &OutboxArgs) -> Result<()> {
    let mut store = ctx.open_store()?;
    if let Some(OutboxCommand::Retry { id }) = &args.command {
        if review::retry(&mut store, *id, super::now())? {
            println!("outbox #{id} queued again; `helpdesk send` sends it");
            return Ok(());
        }
        return Err(anyhow!(
            "outbox #{id} is not a failed message; `helpdesk outbox` lists them"
        ));
    }
    let states: &[OutboxState] = if args.all {
        &[]
    } else {
        &[
            OutboxState::Queued,
            OutboxState::Sending,
            OutboxState::Failed,
        ]
    };
    let rows = outbox::list(store.conn(), states)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return output::json(&mut out, &rows);
    }
    if rows.is_empty() {
        writeln!(out, "the outbox is empty")?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.ticket.clone(),
                r.kind.to_string(),
                r.state.to_string(),
                r.attempts.to_string(),
                r.recipients.clone(),
                r.last_error
                    .clone()
                    .or_else(|| r.sent_copy_error.clone())
                    .unwrap_or_else(|| r.subject.clone()),
            ]
        })
        .collect();
    output::table(
        &mut out,
        &[
            "ID",
            "TICKET",
            "KIND",
            "STATE",
            "TRIES",
            "TO",
            "ERROR / SUBJECT",
        ],
        &table,
    )
}
