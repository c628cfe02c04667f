//! `helpdesk export`: tickets, messages (metadata and text) and events as JSON or CSV.

use std::io::{BufWriter, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};
use base64::Engine as _;
use serde::Serialize;

use crate::store::{Store, events, messages, tickets};

use super::{Context, UsageError};

/// Export tickets, messages and events (JSON or CSV)
///
/// JSON: one document {"tickets": [...], "messages": [...], "events": [...]} to stdout or
/// --output FILE. CSV: tickets.csv, messages.csv and events.csv in the --output directory.
/// Messages carry their metadata and cleaned text; the raw RFC 5322 bytes only with --raw
/// (base64). In CSV, a text cell starting with = + - @ gets a leading ' so that spreadsheets do
/// not run it as a formula.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// json or csv
    #[arg(long, value_name = "FORMAT")]
    pub format: Format,
    /// The file (JSON; default stdout) or directory (CSV; required) to write
    #[arg(long, short, value_name = "PATH")]
    pub output: Option<PathBuf>,
    /// Include each message's raw bytes, base64-encoded
    #[arg(long)]
    pub raw: bool,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    Json,
    Csv,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let store = ctx.open_store()?;
    match args.format {
        Format::Json => match &args.output {
            Some(path) => {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                let mut out = BufWriter::new(file);
                json(&store, &mut out, args.raw)?;
                out.flush()?;
                eprintln!("Exported to {}", path.display());
                Ok(())
            }
            None => {
                let mut out = BufWriter::new(std::io::stdout().lock());
                json(&store, &mut out, args.raw)?;
                out.flush()?;
                Ok(())
            }
        },
        Format::Csv => {
            let Some(dir) = &args.output else {
                bail!(UsageError(
                    "--format csv writes three files: give a directory with --output DIR".into()
                ));
            };
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating the directory {}", dir.display()))?;
            csv(&store, dir, args.raw)?;
            eprintln!(
                "Exported tickets.csv, messages.csv and events.csv to {}",
                dir.display()
            );
            Ok(())
        }
    }
}

#[derive(Serialize)]
struct MessageOut<'a> {
    ticket: &'a str,
    #[serde(flatten)]
    message: &'a messages::MessageRow,
    #[serde(skip_serializing_if = "Option::is_none")]
    raw_base64: Option<String>,
}

#[derive(Serialize)]
struct EventOut<'a> {
    ticket: &'a str,
    at: i64,
    kind: &'a str,
    detail: &'a str,
    message_id: Option<&'a str>,
}

/// Every ticket in number order with its messages; `each` sees them one ticket at a time.
fn walk(
    store: &Store,
    each: &mut dyn FnMut(&tickets::TicketRow, &[messages::MessageRow]) -> Result<()>,
) -> Result<()> {
    let all = tickets::list(store.conn(), &tickets::ListFilter::default())?;
    let mut sorted: Vec<&tickets::TicketRow> = all.iter().collect();
    sorted.sort_by_key(|t| t.id);
    for t in sorted {
        let msgs = messages::for_ticket(store.conn(), t.id)?;
        each(t, &msgs)?;
    }
    Ok(())
}

fn raw_of(store: &Store, m: &messages::MessageRow, raw: bool) -> Result<Option<String>> {
    if !raw {
        return Ok(None);
    }
    Ok(messages::raw(store.conn(), &m.message_id)?
        .map(|b| base64::engine::general_purpose::STANDARD.encode(b)))
}

/// Ticket numbers and Message-IDs by row id, for the event log.
fn ids(
    store: &Store,
) -> Result<(
    std::collections::HashMap<i64, String>,
    std::collections::HashMap<i64, String>,
)> {
    let mut numbers = std::collections::HashMap::new();
    let mut stmt = store.conn().prepare("SELECT id, number FROM tickets")?;
    for r in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (id, n) = r?;
        numbers.insert(id, n);
    }
    let mut message_ids = std::collections::HashMap::new();
    let mut stmt = store
        .conn()
        .prepare("SELECT id, message_id FROM messages")?;
    for r in stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))? {
        let (id, m) = r?;
        message_ids.insert(id, m);
    }
    Ok((numbers, message_ids))
}

fn json(store: &Store, out: &mut impl Write, raw: bool) -> Result<()> {
    write!(out, "{{\n\"tickets\": [")?;
    let all = tickets::list(store.conn(), &tickets::ListFilter::default())?;
    let mut sorted: Vec<&tickets::TicketRow> = all.iter().collect();
    sorted.sort_by_key(|t| t.id);
    for (i, t) in sorted.iter().enumerate() {
        out.write_all(if i == 0 { b"\n" } else { b",\n" })?;
        serde_json::to_writer(&mut *out, t)?;
    }
    write!(out, "\n],\n\"messages\": [")?;
    let mut first = true;
    walk(store, &mut |t, msgs| {
        for m in msgs {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            serde_json::to_writer(
                &mut *out,
                &MessageOut {
                    ticket: &t.number,
                    message: m,
                    raw_base64: raw_of(store, m, raw)?,
                },
            )?;
        }
        Ok(())
    })?;
    write!(out, "\n],\n\"events\": [")?;
    let (numbers, message_ids) = ids(store)?;
    let mut first = true;
    events::all(store.conn(), &mut |ticket_id, e, message| {
        let r = (|| -> Result<()> {
            out.write_all(if first { b"\n" } else { b",\n" })?;
            first = false;
            serde_json::to_writer(
                &mut *out,
                &EventOut {
                    ticket: numbers.get(&ticket_id).map_or("", String::as_str),
                    at: e.at,
                    kind: &e.kind,
                    detail: &e.detail,
                    message_id: message
                        .and_then(|m| message_ids.get(&m))
                        .map(String::as_str),
                },
            )?;
            Ok(())
        })();
        r.map_err(|e| crate::store::StoreError::NotFound(format!("writing the export: {e}")))
    })?;
    writeln!(out, "\n]\n}}")?;
    Ok(())
}

/// One CSV cell (RFC 4180 quoting); text that a spreadsheet would run as a formula is
/// prefixed with `'`.
fn cell(s: &str) -> String {
    let guarded = if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

fn num(v: Option<i64>) -> String {
    v.map_or_else(String::new, |v| v.to_string())
}

fn line(out: &mut impl Write, cells: &[String]) -> std::io::Result<()> {
    out.write_all(cells.join(",").as_bytes())?;
    out.write_all(b"\r\n")
}

fn create(dir: &std::path::Path, name: &str) -> Result<BufWriter<std::fs::File>> {
    let path = dir.join(name);
    Ok(BufWriter::new(
        std::fs::File::create(&path).with_context(|| format!("creating {}", path.display()))?,
    ))
}

fn csv(store: &Store, dir: &std::path::Path, raw: bool) -> Result<()> {
    let mut t_out = create(dir, "tickets.csv")?;
    let header = [
        "number",
        "status",
        "priority",
        "category",
        "requester_address",
        "requester_name",
        "subject",
        "summary",
        "messages",
        "flagged",
        "review_reason",
        "linked_ticket",
        "created_at",
        "updated_at",
        "last_inbound_at",
        "first_response_at",
        "sla_due_at",
        "resolution_due_at",
        "resolved_at",
        "closed_at",
        "escalation",
        "escalation_reason",
        "escalation_url",
    ];
    line(&mut t_out, &header.map(String::from))?;
    let mut m_out = create(dir, "messages.csv")?;
    let mut m_header = vec![
        "ticket",
        "message_id",
        "direction",
        "class",
        "class_reason",
        "from_address",
        "from_name",
        "to",
        "cc",
        "subject",
        "date",
        "stored_at",
        "in_reply_to",
        "references",
        "body",
        "quoted",
        "signature",
        "attachments",
        "raw_size",
        "source",
        "parse_error",
    ];
    if raw {
        m_header.push("raw_base64");
    }
    line(
        &mut m_out,
        &m_header.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
    )?;
    walk(store, &mut |t, msgs| {
        line(
            &mut t_out,
            &[
                cell(&t.number),
                cell(t.status.as_str()),
                cell(t.priority.as_deref().unwrap_or("")),
                cell(t.category.as_deref().unwrap_or("")),
                cell(&t.requester.address),
                cell(t.requester.name.as_deref().unwrap_or("")),
                cell(&t.subject),
                cell(t.summary.as_deref().unwrap_or("")),
                t.message_count.to_string(),
                u8::from(t.flagged).to_string(),
                cell(t.review_reason.as_deref().unwrap_or("")),
                cell(t.linked_ticket.as_deref().unwrap_or("")),
                t.created_at.to_string(),
                t.updated_at.to_string(),
                num(t.last_inbound_at),
                num(t.first_response_at),
                num(t.sla_due_at),
                num(t.resolution_due_at),
                num(t.resolved_at),
                num(t.closed_at),
                cell(t.escalation.map_or("", |e| e.as_str())),
                cell(t.escalation_reason.as_deref().unwrap_or("")),
                cell(t.escalation_url.as_deref().unwrap_or("")),
            ],
        )?;
        for m in msgs {
            let attachments: Vec<String> = m
                .attachments
                .iter()
                .map(|a| {
                    format!(
                        "{} ({}, {} bytes)",
                        a.filename.as_deref().unwrap_or("(unnamed)"),
                        a.content_type,
                        a.size
                    )
                })
                .collect();
            let mut cells = vec![
                cell(&t.number),
                cell(&m.message_id),
                cell(m.direction.as_str()),
                cell(m.class.as_str()),
                cell(m.class_reason.as_deref().unwrap_or("")),
                cell(m.from_addr.as_deref().unwrap_or("")),
                cell(m.from_name.as_deref().unwrap_or("")),
                cell(&m.to),
                cell(&m.cc),
                cell(&m.subject),
                num(m.date),
                m.stored_at.to_string(),
                cell(&m.in_reply_to),
                cell(&m.references),
                cell(&m.body),
                cell(&m.quoted),
                cell(&m.signature),
                cell(&attachments.join("; ")),
                m.raw_size.to_string(),
                cell(&m.source),
                cell(m.parse_error.as_deref().unwrap_or("")),
            ];
            if raw {
                cells.push(raw_of(store, m, true)?.unwrap_or_default());
            }
            line(&mut m_out, &cells)?;
        }
        Ok(())
    })?;
    t_out.flush()?;
    m_out.flush()?;
    let mut e_out = create(dir, "events.csv")?;
    line(
        &mut e_out,
        &["ticket", "at", "kind", "detail", "message_id"].map(String::from),
    )?;
    let (numbers, message_ids) = ids(store)?;
    events::all(store.conn(), &mut |ticket_id, e, message| {
        line(
            &mut e_out,
            &[
                cell(numbers.get(&ticket_id).map_or("", String::as_str)),
                e.at.to_string(),
                cell(&e.kind),
                cell(&e.detail),
                cell(
                    message
                        .and_then(|m| message_ids.get(&m))
                        .map_or("", String::as_str),
                ),
            ],
        )
        .map_err(|e| crate::store::StoreError::NotFound(format!("writing events.csv: {e}")))
    })?;
    e_out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::cell;

    #[test]
    fn csv_cells_quote_and_defuse_formulas() {
        assert_eq!(cell("plain"), "plain");
        assert_eq!(cell("a,b"), "\"a,b\"");
        assert_eq!(cell("say \"hi\"\nbye"), "\"say \"\"hi\"\"\nbye\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
