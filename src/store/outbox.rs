//! The outbox: rendered messages on their way to the SMTP server, one row each, with the
//! state that makes delivery exactly-once (see `crate::send`).

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{OutboxKind, OutboxState, Result};

/// An outbox row without its raw bytes.
#[derive(Debug, Clone, Serialize)]
pub struct OutboxRow {
    pub id: i64,
    #[serde(skip)]
    pub ticket_id: i64,
    pub ticket: String,
    #[serde(skip)]
    pub draft_id: Option<i64>,
    pub kind: OutboxKind,
    pub message_id: String,
    pub state: OutboxState,
    pub recipients: String,
    pub subject: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<i64>,
    pub created_at: i64,
    pub sent_at: Option<i64>,
    pub smtp_accepted_at: Option<i64>,
    pub smtp_response: Option<String>,
    pub sent_copy_at: Option<i64>,
    pub sent_copy_error: Option<String>,
}

const SELECT: &str = "SELECT o.id, o.ticket_id, t.number, o.draft_id, o.kind, o.message_id,
        o.state, o.recipients, o.subject, o.attempts, o.last_error, o.next_attempt_at,
        o.created_at, o.sent_at, o.smtp_accepted_at, o.smtp_response, o.sent_copy_at,
        o.sent_copy_error
    FROM outbox o JOIN tickets t ON t.id = o.ticket_id";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        ticket_id: r.get(1)?,
        ticket: r.get(2)?,
        draft_id: r.get(3)?,
        kind: r.get(4)?,
        message_id: r.get(5)?,
        state: r.get(6)?,
        recipients: r.get(7)?,
        subject: r.get(8)?,
        attempts: r.get(9)?,
        last_error: r.get(10)?,
        next_attempt_at: r.get(11)?,
        created_at: r.get(12)?,
        sent_at: r.get(13)?,
        smtp_accepted_at: r.get(14)?,
        smtp_response: r.get(15)?,
        sent_copy_at: r.get(16)?,
        sent_copy_error: r.get(17)?,
    })
}

/// A rendered message to queue.
#[derive(Debug, Clone)]
pub struct NewOutbox<'a> {
    pub ticket_id: i64,
    pub draft_id: Option<i64>,
    pub kind: OutboxKind,
    pub message_id: &'a str,
    /// Envelope recipients, comma-separated.
    pub recipients: &'a str,
    pub subject: &'a str,
    pub raw: &'a [u8],
    pub now: i64,
}

pub fn enqueue(conn: &Connection, m: &NewOutbox<'_>) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO outbox (ticket_id, draft_id, kind, message_id, state, recipients, subject,
             raw, created_at)
         VALUES (?1, ?2, ?3, ?4, 'queued', ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        m.ticket_id,
        m.draft_id,
        m.kind,
        m.message_id,
        m.recipients,
        m.subject,
        m.raw,
        m.now
    ])?;
    Ok(conn.last_insert_rowid())
}

/// How many messages this ticket has had in the outbox (for numbering minted Message-IDs).
pub fn count_for_ticket(conn: &Connection, ticket_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM outbox WHERE ticket_id = ?1")?
        .query_row([ticket_id], |r| r.get(0))?)
}

pub fn get(conn: &Connection, id: i64) -> Result<Option<OutboxRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE o.id = ?1"))?
        .query_row([id], row)
        .optional()?)
}

pub fn raw(conn: &Connection, id: i64) -> Result<Vec<u8>> {
    Ok(conn
        .prepare_cached("SELECT raw FROM outbox WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// The outbox row of a draft, newest first (a failed one may have been re-approved).
pub fn for_draft(conn: &Connection, draft_id: i64) -> Result<Option<OutboxRow>> {
    Ok(conn
        .prepare_cached(&format!(
            "{SELECT} WHERE o.draft_id = ?1 ORDER BY o.id DESC LIMIT 1"
        ))?
        .query_row([draft_id], row)
        .optional()?)
}

/// Rows in the given states (all when empty), oldest first.
pub fn list(conn: &Connection, states: &[OutboxState]) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(&format!("{SELECT} ORDER BY o.id"))?;
    let rows = stmt.query_map([], row)?;
    let mut out = Vec::new();
    for r in rows {
        let r = r?;
        if states.is_empty() || states.contains(&r.state) {
            out.push(r);
        }
    }
    Ok(out)
}

/// Queued rows whose time has come, oldest first.
pub fn due(conn: &Connection, now: i64, limit: u32) -> Result<Vec<OutboxRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE o.state = 'queued' AND (o.next_attempt_at IS NULL OR o.next_attempt_at <= ?1)
         ORDER BY o.id LIMIT ?2"
    ))?;
    let rows = stmt.query_map(params![now, limit], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Rows left in `sending` by a process that stopped mid-send.
pub fn in_flight(conn: &Connection) -> Result<Vec<OutboxRow>> {
    let mut stmt =
        conn.prepare_cached(&format!("{SELECT} WHERE o.state = 'sending' ORDER BY o.id"))?;
    let rows = stmt.query_map([], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Queued, sending and failed counts, and the earliest next attempt of a queued row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Counts {
    pub queued: i64,
    pub sending: i64,
    pub failed: i64,
    pub sent: i64,
    pub next_attempt_at: Option<i64>,
}

pub fn counts(conn: &Connection) -> Result<Counts> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FILTER (WHERE state = 'queued'), count(*) FILTER (WHERE state = 'sending'),
                count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'sent'),
                min(next_attempt_at) FILTER (WHERE state = 'queued')
             FROM outbox",
        )?
        .query_row([], |r| {
            Ok(Counts {
                queued: r.get(0)?,
                sending: r.get(1)?,
                failed: r.get(2)?,
                sent: r.get(3)?,
                next_attempt_at: r.get(4)?,
            })
        })?)
}

/// Claims a queued row for sending. False when it is no longer queued (another process took
/// it, or the admin took the approval back).
pub fn claim(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET state = 'sending', attempts = attempts + 1
             WHERE id = ?1 AND state = 'queued'",
        )?
        .execute([id])?
        == 1)
}

/// The SMTP server accepted the message: from now on it is never sent again.
pub fn mark_accepted(conn: &Connection, id: i64, response: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET smtp_accepted_at = ?2, smtp_response = ?3, last_error = NULL
         WHERE id = ?1",
    )?
    .execute(params![id, now, response])?;
    Ok(())
}

/// Records the Sent-folder copy: saved at `now`, or the error.
pub fn mark_sent_copy(conn: &Connection, id: i64, error: Option<&str>, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET sent_copy_at = CASE WHEN ?2 IS NULL THEN ?3 ELSE NULL END,
             sent_copy_error = ?2 WHERE id = ?1",
    )?
    .execute(params![id, error, now])?;
    Ok(())
}

pub fn mark_sent(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'sent', sent_at = coalesce(smtp_accepted_at, ?2),
             next_attempt_at = NULL WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// Back to the queue after a temporary failure, to be tried at `next_attempt_at`.
pub fn requeue(conn: &Connection, id: i64, error: &str, next_attempt_at: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'queued', last_error = ?2, next_attempt_at = ?3 WHERE id = ?1",
    )?
    .execute(params![id, error, next_attempt_at])?;
    Ok(())
}

pub fn mark_failed(conn: &Connection, id: i64, error: &str) -> Result<()> {
    conn.prepare_cached(
        "UPDATE outbox SET state = 'failed', last_error = ?2, next_attempt_at = NULL WHERE id = ?1",
    )?
    .execute(params![id, error])?;
    Ok(())
}

/// A failed row goes back to the queue as it is (the admin's retry).
pub fn retry(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE outbox SET state = 'queued', attempts = 0, next_attempt_at = NULL
             WHERE id = ?1 AND state = 'failed'",
        )?
        .execute([id])?
        == 1)
}

/// Removes a row that never left (undoing an approval). False unless it is still queued.
pub fn withdraw(conn: &Connection, id: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached("DELETE FROM outbox WHERE id = ?1 AND state = 'queued'")?
        .execute([id])?
        == 1)
}

/// Acknowledgments queued to `recipient` since `since` (any state but failed).
pub fn acks_to_since(conn: &Connection, recipient: &str, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM outbox WHERE kind = 'acknowledgment' AND recipients = ?1
                 AND created_at >= ?2 AND state != 'failed'",
        )?
        .query_row(params![recipient, since], |r| r.get(0))?)
}

/// All acknowledgments queued since `since` (any state but failed).
pub fn acks_since(conn: &Connection, since: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM outbox WHERE kind = 'acknowledgment' AND created_at >= ?1
                 AND state != 'failed'",
        )?
        .query_row([since], |r| r.get(0))?)
}

/// A permanent (5xx) failure sending to `recipient` since `since`: the address bounces.
pub fn permanent_failure_to_since(conn: &Connection, recipient: &str, since: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE recipients = ?1 AND state = 'failed'
                 AND created_at >= ?2 AND last_error LIKE '5%')",
        )?
        .query_row(params![recipient, since], |r| r.get(0))?)
}
