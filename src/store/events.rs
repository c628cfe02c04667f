//! The append-only event log of each ticket (the schema refuses UPDATE and DELETE).

use rusqlite::{Connection, params};
use serde::Serialize;

use super::Result;
use super::db::Db;

#[derive(Debug, Clone, Serialize)]
pub struct EventRow {
    pub at: i64,
    pub kind: String,
    pub detail: String,
}

pub fn append(
    conn: &impl Db,
    ticket_id: i64,
    at: i64,
    kind: &str,
    detail: &str,
    message_id: Option<i64>,
) -> Result<()> {
    conn.with_stmt(
        "INSERT INTO events (ticket_id, at, kind, detail, message_id) VALUES (?1, ?2, ?3, ?4, ?5)",
        |s| s.execute(params![ticket_id, at, kind, detail, message_id]),
    )?;
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

/// `analysed` events after the event id `after`: (event id, ticket id), oldest first.
pub fn analysed_since(conn: &Connection, after: i64) -> Result<Vec<(i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ticket_id FROM events WHERE id > ?1 AND kind = 'analysed' ORDER BY id",
    )?;
    let rows = stmt.query_map([after], |r| Ok((r.get(0)?, r.get(1)?)))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Every event of every ticket, for export: (ticket id, event, message row id).
pub fn all(
    conn: &Connection,
    each: &mut dyn FnMut(i64, EventRow, Option<i64>) -> Result<()>,
) -> Result<()> {
    let mut stmt = conn
        .prepare_cached("SELECT ticket_id, at, kind, detail, message_id FROM events ORDER BY id")?;
    let mut rows = stmt.query([])?;
    while let Some(r) = rows.next()? {
        each(
            r.get(0)?,
            EventRow {
                at: r.get(1)?,
                kind: r.get(2)?,
                detail: r.get(3)?,
            },
            r.get(4)?,
        )?;
    }
    Ok(())
}
