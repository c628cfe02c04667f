use std::io::Write;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::store::{
    TicketStatus, events,
    messages::{self, MessageRow},
    tickets::{self, ListFilter, TicketRow},
};
use crate::ticket::TicketNumber;

use super::{Context, UsageError, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List tickets, most recent activity first
    List(ListArgs),
    /// Show one ticket with its messages and events
    Show(ShowArgs),
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only tickets in this status: open, waiting, resolved, closed, spam, noise
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// At most this many tickets
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// One JSON object per ticket, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, clap::Args)]
pub struct ShowArgs {
    /// The ticket number, e.g. TKT-2026-00042
    pub number: String,
    /// Unfold quoted history and signatures
    #[arg(long)]
    pub full: bool,
    /// The ticket, its messages and events as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, cmd: &Command) -> Result<()> {
    match cmd {
        Command::List(a) => list(ctx, a),
        Command::Show(a) => show(ctx, a),
    }
}

fn list(ctx: &Context, args: &ListArgs) -> Result<()> {
    let status = match &args.status {
        Some(s) => Some(
            s.parse::<TicketStatus>()
                .map_err(|e| UsageError(format!("--status: {e}")))?,
        ),
        None => None,
    };
    let store = ctx.open_store()?;
    let rows = tickets::list(
        store.conn(),
        &ListFilter {
            status,
            limit: args.limit,
            offset: 0,
        },
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return output::json(&mut out, &rows);
    }
    print_list(&mut out, &rows)
}

pub fn print_list(out: &mut impl Write, rows: &[TicketRow]) -> Result<()> {
    if rows.is_empty() {
        writeln!(
            out,
            "No tickets. Import mail with `helpdesk import PATH` (or try `helpdesk demo`)."
        )?;
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|t| {
            vec![
                format!("{}{}", t.number, if t.flagged { "!" } else { "" }),
                t.status.to_string(),
                t.priority.clone().unwrap_or_else(|| "-".into()),
                t.category.clone().unwrap_or_else(|| "-".into()),
                t.message_count.to_string(),
                output::truncate(
                    t.requester.name.as_deref().unwrap_or(&t.requester.address),
                    24,
                ),
                output::truncate(&t.subject, 60),
            ]
        })
        .collect();
    output::table(
        out,
        &[
            "NUMBER", "STATUS", "PRIORITY", "CATEGORY", "MSGS", "FROM", "SUBJECT",
        ],
        &table,
    )?;
    if rows.iter().any(|t| t.flagged) {
        writeln!(
            out,
            "\n! flagged for review: `helpdesk ticket show NUMBER` says why"
        )?;
    }
    Ok(())
}

#[derive(Serialize)]
struct ShowJson<'a> {
    #[serde(flatten)]
    ticket: &'a TicketRow,
    messages: &'a [MessageRow],
    events: &'a [events::EventRow],
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<()> {
    let number: TicketNumber = args.number.parse().map_err(|e: String| UsageError(e))?;
    let store = ctx.open_store()?;
    let ticket = tickets::by_number(store.conn(), &number.to_string())?.ok_or_else(|| {
        anyhow!(
            "no ticket {number} in {}; `helpdesk ticket list` shows what there is",
            ctx.paths.store.display()
        )
    })?;
    let msgs = messages::for_ticket(store.conn(), ticket.id)?;
    let evs = events::for_ticket(store.conn(), ticket.id)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return output::json(
            &mut out,
            &ShowJson {
                ticket: &ticket,
                messages: &msgs,
                events: &evs,
            },
        );
    }
    print_ticket(&mut out, &ticket, &msgs, &evs, args.full)
}

fn print_ticket(
    out: &mut impl Write,
    t: &TicketRow,
    msgs: &[MessageRow],
    evs: &[events::EventRow],
    full: bool,
) -> Result<()> {
    writeln!(
        out,
        "{}  {}{}",
        t.number,
        t.status,
        if t.flagged { "  [flagged]" } else { "" }
    )?;
    writeln!(out, "Subject:   {}", t.subject)?;
    match &t.requester.name {
        Some(n) => writeln!(out, "Requester: {n} <{}>", t.requester.address)?,
        None => writeln!(out, "Requester: {}", t.requester.address)?,
    }
    writeln!(
        out,
        "Priority:  {}   Category: {}   Messages: {}",
        t.priority.as_deref().unwrap_or("-"),
        t.category.as_deref().unwrap_or("-"),
        t.message_count
    )?;
    writeln!(
        out,
        "Created:   {} UTC   Updated: {} UTC",
        output::time(t.created_at),
        output::time(t.updated_at)
    )?;
    if let Some(r) = &t.review_reason {
        writeln!(out, "Review:    {r}")?;
    }
    if let Some(l) = &t.linked_ticket {
        writeln!(out, "Linked:    {l}")?;
    }
    for (i, m) in msgs.iter().enumerate() {
        let from = match (&m.from_name, &m.from_addr) {
            (Some(n), Some(a)) => format!("{n} <{a}>"),
            (None, Some(a)) => a.clone(),
            _ => "(unknown sender)".into(),
        };
        let when = m.date.map_or_else(|| "no date".into(), output::time);
        writeln!(
            out,
            "\n── {}/{} · {} · {} · {} ──",
            i + 1,
            msgs.len(),
            m.direction,
            when,
            from
        )?;
        if !m.subject.is_empty() {
            writeln!(out, "Subject: {}", m.subject)?;
        }
        match &m.class_reason {
            Some(r) => writeln!(out, "Class:   {} ({r})", m.class)?,
            None => writeln!(out, "Class:   {}", m.class)?,
        }
        if let Some(e) = &m.parse_error {
            writeln!(
                out,
                "Parse error: {e} — the raw message ({} bytes) is kept",
                m.raw_size
            )?;
        }
        writeln!(out)?;
        if !m.body.is_empty() {
            writeln!(out, "{}", m.body)?;
        }
        for (label, text) in [("quoted history", &m.quoted), ("signature", &m.signature)] {
            if text.is_empty() {
                continue;
            }
            if full {
                writeln!(out, "\n[{label}]\n{text}")?;
            } else {
                writeln!(
                    out,
                    "  [{label}: {} lines folded; --full shows them]",
                    text.lines().count()
                )?;
            }
        }
        for a in &m.attachments {
            writeln!(
                out,
                "  Attachment: {} ({}, {}){}{}",
                a.filename.as_deref().unwrap_or("(unnamed)"),
                a.content_type,
                output::size(a.size),
                if a.inline { " inline" } else { "" },
                a.note
                    .as_ref()
                    .map(|n| format!(" — {n}"))
                    .unwrap_or_default()
            )?;
        }
    }
    writeln!(out, "\nEvents:")?;
    for e in evs {
        writeln!(out, "  {}  {:<16} {}", output::time(e.at), e.kind, e.detail)?;
    }
    Ok(())
}
