use std::io::Write;

use anyhow::{Result, anyhow};
use serde::Serialize;

use crate::store::{
    EscalationState, TicketStatus, events,
    messages::{self, MessageRow},
    tickets::{self, ListFilter, Order, TicketRow},
};
use crate::ticket::{TicketNumber, sla};

use super::{Context, UsageError, output};

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// List tickets, most recent activity first (noise and spam only with --all or --status)
    List(ListArgs),
    /// Show one ticket with its messages and events
    Show(ShowArgs),
    /// Set a ticket's status, e.g. `open` to restore one set aside as noise
    Status(StatusArgs),
    /// Set a ticket's priority (kept when the ticket is analysed again)
    Priority(PriorityArgs),
    /// Save an attachment to a file (N as numbered by `ticket show`)
    Save(SaveArgs),
}

#[derive(Debug, clap::Args)]
pub struct SaveArgs {
    /// The ticket number, e.g. TKT-2026-00042
    pub number: String,
    /// The attachment's number in `ticket show` (1 is the first)
    pub attachment: usize,
    /// Directory to write into [default: your Downloads folder]
    #[arg(long, value_name = "DIR")]
    pub out: Option<std::path::PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    /// Only tickets in this status: open, waiting, resolved, closed, spam, noise
    #[arg(long, value_name = "S")]
    pub status: Option<String>,
    /// Include noise and spam
    #[arg(long, conflicts_with = "status")]
    pub all: bool,
    /// Only tickets in this category (as analysis or a rule set it; case does not matter)
    #[arg(long, value_name = "C")]
    pub category: Option<String>,
    /// Only tickets of this priority: low, medium, high, urgent
    #[arg(long, value_name = "P")]
    pub priority: Option<String>,
    /// Only open tickets past their SLA deadline (first response, or resolution once answered)
    #[arg(long)]
    pub overdue: bool,
    /// Only open tickets whose next SLA deadline falls within this time from now, e.g. 2h, 30m,
    /// 1d (with --overdue, those past it too)
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub due_within: Option<i64>,
    /// Order: `activity` (newest first) or `due` (next SLA deadline first); --overdue and
    /// --due-within order by due
    #[arg(long, value_name = "ORDER")]
    pub sort: Option<SortOrder>,
    /// At most this many tickets
    #[arg(long, value_name = "N")]
    pub limit: Option<u32>,
    /// One JSON object per ticket, for scripts
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum SortOrder {
    Activity,
    Due,
}

#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The ticket number, e.g. TKT-2026-00042
    pub number: String,
    /// open, waiting, resolved, closed, spam or noise
    pub status: String,
}

#[derive(Debug, clap::Args)]
pub struct PriorityArgs {
    /// The ticket number, e.g. TKT-2026-00042
    pub number: String,
    /// low, medium, high or urgent
    pub priority: String,
}

/// `90s`, `30m`, `2h`, `1d`, `1h30m` as seconds.
pub fn parse_duration(s: &str) -> Result<i64, String> {
    let bad = || format!("{s:?} is not a duration; write it like 30m, 2h, 1d or 1h30m");
    let mut total = 0i64;
    let mut digits = String::new();
    for c in s.trim().chars() {
        if c.is_ascii_digit() {
            digits.push(c);
            continue;
        }
        let n: i64 = digits.parse().map_err(|_| bad())?;
        digits.clear();
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 7 * 86_400,
            _ => return Err(bad()),
        };
        total = total
            .checked_add(n.checked_mul(unit).ok_or_else(bad)?)
            .ok_or_else(bad)?;
    }
    if !digits.is_empty() || total <= 0 {
        return Err(bad());
    }
    Ok(total)
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
        Command::Status(a) => set_status(ctx, a),
        Command::Priority(a) => set_priority(ctx, a),
        Command::Save(a) => save(ctx, a),
    }
}

/// Finds a ticket by the number given on the command line.
pub fn find(ctx: &Context, store: &crate::store::Store, given: &str) -> Result<TicketRow> {
    let number: TicketNumber = given.parse().map_err(|e: String| UsageError(e))?;
    tickets::by_number(store.conn(), &number.to_string())?.ok_or_else(|| {
        anyhow!(
            "no ticket {number} in {}; `helpdesk ticket list --all` shows what there is",
            ctx.paths.store.display()
        )
    })
}

fn policy(ctx: &Context) -> Result<sla::Policy> {
    sla::Policy::from_config(&ctx.config.sla)
        .map_err(|(k, m)| UsageError(format!("{k}: {m}")).into())
}

fn set_status(ctx: &Context, args: &StatusArgs) -> Result<()> {
    let status: TicketStatus = args.status.parse().map_err(|e: String| UsageError(e))?;
    let policy = policy(ctx)?;
    let mut store = ctx.open_store()?;
    let t = find(ctx, &store, &args.number)?;
    let old = crate::ticket::status::set_status(
        &mut store,
        &policy,
        t.id,
        status,
        "set by the admin",
        super::now(),
    )?;
    if old == status {
        println!("{} is already {status}", t.number);
    } else {
        println!("{}: {old} → {status}", t.number);
    }
    Ok(())
}

fn set_priority(ctx: &Context, args: &PriorityArgs) -> Result<()> {
    let p = args.priority.as_str();
    if !crate::mail::rules::PRIORITIES.contains(&p) {
        return Err(UsageError(format!(
            "{p:?} is not a priority; use one of {}",
            crate::mail::rules::PRIORITIES.join(", ")
        ))
        .into());
    }
    let policy = policy(ctx)?;
    let mut store = ctx.open_store()?;
    let t = find(ctx, &store, &args.number)?;
    let old = crate::ticket::status::set_priority(&mut store, &policy, t.id, p, super::now())?;
    println!(
        "{}: priority {} → {p}",
        t.number,
        old.as_deref().unwrap_or("unset")
    );
    Ok(())
}

fn list(ctx: &Context, args: &ListArgs) -> Result<()> {
    let status = match &args.status {
        Some(s) => Some(
            s.parse::<TicketStatus>()
                .map_err(|e| UsageError(format!("--status: {e}")))?,
        ),
        None => None,
    };
    if let Some(p) = &args.priority
        && !crate::ai::analysis::PRIORITIES.contains(&p.as_str())
    {
        return Err(UsageError(format!(
            "--priority: unknown priority {p:?}; valid: {}",
            crate::ai::analysis::PRIORITIES.join(", ")
        ))
        .into());
    }
    let store = ctx.open_store()?;
    let now = super::now();
    let (due_before, due_from) = match (args.overdue, args.due_within) {
        (true, Some(d)) => (Some(now + d), None),
        (true, None) => (Some(now), None),
        (false, Some(d)) => (Some(now + d), Some(now)),
        (false, None) => (None, None),
    };
    let order = match args.sort {
        Some(SortOrder::Due) => Order::Due,
        Some(SortOrder::Activity) => Order::Activity,
        None if due_before.is_some() => Order::Due,
        None => Order::Activity,
    };
    let rows = tickets::list(
        store.conn(),
        &ListFilter {
            status,
            category: args.category.clone(),
            priority: args.priority.clone(),
            limit: args.limit,
            offset: 0,
            hide_filtered: !args.all,
            order,
            due_before,
            due_from,
            reverse: false,
        },
    )?;
    let mut out = std::io::stdout().lock();
    if args.json {
        return output::json(&mut out, &rows);
    }
    if rows.is_empty() && due_before.is_some() {
        writeln!(out, "No open ticket is due in that time.")?;
        return Ok(());
    }
    print_list_at(&mut out, &rows, now)
}

pub fn print_list(out: &mut impl Write, rows: &[TicketRow]) -> Result<()> {
    print_list_at(out, rows, super::now())
}

/// The ticket table; the SLA column is the time left to the next deadline at `now`
/// (`-3h`: three hours overdue; empty when the ticket is not in our court).
pub fn print_list_at(out: &mut impl Write, rows: &[TicketRow], now: i64) -> Result<()> {
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
                format!(
                    "{}{}",
                    t.number,
                    if t.flagged || t.escalation == Some(EscalationState::Marked) {
                        "!"
                    } else {
                        ""
                    }
                ),
                t.status.to_string(),
                t.next_due().map_or_else(String::new, |d| sla::left(now, d)),
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
            "NUMBER", "STATUS", "SLA", "PRIORITY", "CATEGORY", "MSGS", "FROM", "SUBJECT",
        ],
        &table,
    )?;
    if rows
        .iter()
        .any(|t| t.flagged || t.escalation == Some(EscalationState::Marked))
    {
        writeln!(
            out,
            "\n! flagged for review or marked for escalation: `helpdesk ticket show NUMBER` says why"
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

fn save(ctx: &Context, args: &SaveArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let ticket = find(ctx, &store, &args.number)?;
    let ids = crate::mail::attachments::numbered(&messages::for_ticket(store.conn(), ticket.id)?);
    let Some(&id) = args.attachment.checked_sub(1).and_then(|i| ids.get(i)) else {
        return Err(UsageError(match ids.len() {
            0 => format!("{} has no attachments", ticket.number),
            n => format!(
                "{} has {n} attachment{}: give a number from 1 to {n}",
                ticket.number,
                if n == 1 { "" } else { "s" }
            ),
        })
        .into());
    };
    let dir = args
        .out
        .clone()
        .unwrap_or_else(crate::mail::attachments::default_dir);
    let path = crate::mail::attachments::save(store.conn(), id, &dir)?;
    println!("{}", path.display());
    Ok(())
}

fn show(ctx: &Context, args: &ShowArgs) -> Result<()> {
    let store = ctx.open_store()?;
    let ticket = find(ctx, &store, &args.number)?;
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
    let now = super::now();
    let clock = |due: i64, done: Option<i64>| match done {
        Some(at) if at <= due => format!("met ({} UTC)", output::time(at)),
        Some(at) => format!(
            "missed ({} UTC, due {} UTC)",
            output::time(at),
            output::time(due)
        ),
        None if t.status == TicketStatus::Open => format!(
            "due {} UTC ({})",
            output::time(due),
            match sla::left(now, due) {
                l if l.starts_with('-') => format!("overdue by {}", &l[1..]),
                l => format!("{l} left"),
            }
        ),
        None => format!("due {} UTC (paused: {})", output::time(due), t.status),
    };
    if let Some(due) = t.sla_due_at {
        writeln!(
            out,
            "SLA:       first response {}",
            clock(due, t.first_response_at)
        )?;
    }
    if let Some(due) = t.resolution_due_at {
        writeln!(out, "           resolution {}", clock(due, t.resolved_at))?;
    }
    if let Some(state) = t.escalation {
        let what = match state {
            EscalationState::Marked => {
                "marked for escalation (`helpdesk escalate NUMBER` confirms)"
            }
            EscalationState::Pending => "escalation pending (`helpdesk escalate --retry` retries)",
            EscalationState::Escalated => "escalated",
            EscalationState::Dismissed => "escalation declined",
        };
        writeln!(
            out,
            "Escalation: {what}: {}",
            t.escalation_reason.as_deref().unwrap_or("")
        )?;
    }
    if let Some(u) = &t.escalation_url {
        writeln!(out, "Issue:     {u}")?;
    }
    if let Some(l) = &t.linked_ticket {
        writeln!(out, "Linked:    {l}")?;
    }
    let mut attachment_no = 0;
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
            attachment_no += 1;
            writeln!(
                out,
                "  Attachment {attachment_no}: {} ({}, {}){}{}",
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
