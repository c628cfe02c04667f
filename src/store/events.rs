//! The append-only event log of each ticket (the schema refuses UPDATE and DELETE).

use rusqlite::{Connection, params};
use serde::Serialize;

use super::Result;

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

pub fn append(
    conn: &Connection,
    ticket_id: i64,
    at: i64,
    kind: &str,
    detail: &str,
    message_id: Option<i64>,
) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO events (ticket_id, at, kind, detail, message_id) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![ticket_id, at, kind, detail, message_id])?;
    Ok(())
}

pub fn for_ticket(conn: &Connection, ticket_id: i64) -> Result<Vec<EventRow>> {
    let mut stmt = conn
        .prepare_cached("SELECT at, kind, detail FROM events WHERE ticket_id = ?1 ORDER BY id")?;
    let rows = stmt.query_map([ticket_id], |r| {
        Ok(EventRow {
            at: r.get(0)?,
            kind: r.get(1)?,
            detail: r.get(2)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}
