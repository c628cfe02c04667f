//! Escalations: one row per ticket ever marked, with the reason and how far delivery got.
//! Each delivery step (GitLab issue, chat message, customer draft) records when it was done, so
//! a retry does only what is left.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::{EscalationState, Result};

#[derive(Debug, Clone, Serialize)]
pub struct EscalationRow {
    pub ticket_id: i64,
    pub state: EscalationState,
    pub reason: String,
    pub marked_at: i64,
    pub confirmed_at: Option<i64>,
    pub issue_iid: Option<i64>,
    pub notified_at: Option<i64>,
    pub drafted_at: Option<i64>,
    pub attempts: i64,
    pub last_error: Option<String>,
}

const SELECT: &str = "SELECT ticket_id, state, reason, marked_at, confirmed_at, issue_iid,
        notified_at, drafted_at, attempts, last_error FROM escalations";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EscalationRow> {
    Ok(EscalationRow {
        ticket_id: r.get(0)?,
        state: r.get(1)?,
        reason: r.get(2)?,
        marked_at: r.get(3)?,
        confirmed_at: r.get(4)?,
        issue_iid: r.get(5)?,
        notified_at: r.get(6)?,
        drafted_at: r.get(7)?,
        attempts: r.get(8)?,
        last_error: r.get(9)?,
    })
}

pub fn get(conn: &Connection, ticket_id: i64) -> Result<Option<EscalationRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE ticket_id = ?1"))?
        .query_row([ticket_id], row)
        .optional()?)
}

/// Escalations in a state, oldest mark first.
pub fn in_state(conn: &Connection, state: EscalationState) -> Result<Vec<EscalationRow>> {
    let mut stmt = conn.prepare_cached(&format!(
        "{SELECT} WHERE state = ?1 ORDER BY marked_at, ticket_id"
    ))?;
    let rows = stmt.query_map([state], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Marks a ticket for escalation unless it already has an escalation; true when it was marked.
pub fn mark(conn: &Connection, ticket_id: i64, reason: &str, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "INSERT INTO escalations (ticket_id, state, reason, marked_at, updated_at)
             VALUES (?1, 'marked', ?2, ?3, ?3) ON CONFLICT (ticket_id) DO NOTHING",
        )?
        .execute(params![ticket_id, reason, now])?
        == 1)
}

/// The admin confirmed (or escalation is automatic): marked, dismissed or new → pending.
/// A ticket never marked gets `reason`. Returns false when it was already pending or escalated.
pub fn confirm(conn: &Connection, ticket_id: i64, reason: &str, now: i64) -> Result<bool> {
    let changed = conn
        .prepare_cached(
            "INSERT INTO escalations (ticket_id, state, reason, marked_at, confirmed_at, updated_at)
             VALUES (?1, 'pending', ?2, ?3, ?3, ?3)
             ON CONFLICT (ticket_id) DO UPDATE SET state = 'pending', confirmed_at = ?3,
                 updated_at = ?3
             WHERE state IN ('marked', 'dismissed')",
        )?
        .execute(params![ticket_id, reason, now])?;
    Ok(changed == 1)
}

pub fn dismiss(conn: &Connection, ticket_id: i64, now: i64) -> Result<bool> {
    Ok(conn
        .prepare_cached(
            "UPDATE escalations SET state = 'dismissed', updated_at = ?2
             WHERE ticket_id = ?1 AND state = 'marked'",
        )?
        .execute(params![ticket_id, now])?
        == 1)
}

/// A delivery step that was done.
#[derive(Debug, Clone, Copy)]
pub enum Step {
    Issue { iid: i64 },
    Notified,
    Drafted,
}

pub fn step_done(conn: &Connection, ticket_id: i64, step: Step, now: i64) -> Result<()> {
    match step {
        Step::Issue { iid } => conn
            .prepare_cached(
                "UPDATE escalations SET issue_iid = ?2, updated_at = ?3 WHERE ticket_id = ?1",
            )?
            .execute(params![ticket_id, iid, now])?,
        Step::Notified => conn
            .prepare_cached(
                "UPDATE escalations SET notified_at = ?2, updated_at = ?2 WHERE ticket_id = ?1",
            )?
            .execute(params![ticket_id, now])?,
        Step::Drafted => conn
            .prepare_cached(
                "UPDATE escalations SET drafted_at = ?2, updated_at = ?2 WHERE ticket_id = ?1",
            )?
            .execute(params![ticket_id, now])?,
    };
    Ok(())
}

/// The end of a delivery attempt: escalated when `error` is None, else still pending with it.
pub fn attempt_done(
    conn: &Connection,
    ticket_id: i64,
    error: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE escalations SET attempts = attempts + 1, last_error = ?2, updated_at = ?3,
             state = CASE WHEN ?2 IS NULL THEN 'escalated' ELSE 'pending' END
         WHERE ticket_id = ?1",
    )?
    .execute(params![ticket_id, error, now])?;
    Ok(())
}

const CURSOR_KEY: &str = "escalation_review_cursor";

/// The last event id the escalation review has read.
pub fn cursor(conn: &Connection) -> Result<i64> {
    let v: Option<String> = conn
        .prepare_cached("SELECT value FROM meta WHERE key = ?1")?
        .query_row([CURSOR_KEY], |r| r.get(0))
        .optional()?;
    Ok(v.and_then(|v| v.parse().ok()).unwrap_or(0))
}

pub fn set_cursor(conn: &Connection, event_id: i64) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO meta (key, value) VALUES (?1, ?2)
         ON CONFLICT (key) DO UPDATE SET value = excluded.value",
    )?
    .execute(params![CURSOR_KEY, event_id.to_string()])?;
    Ok(())
}
