//! Where each mailbox's sync stands: UIDVALIDITY, the highest UID stored, the highest UID whose
//! `after_ingest` action was applied on the server, and the last error.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SyncState {
    pub uidvalidity: u32,
    pub last_uid: u32,
    pub applied_uid: u32,
    pub last_sync_at: Option<i64>,
}

pub fn get(conn: &Connection, mailbox: &str) -> Result<Option<SyncState>> {
    Ok(conn
        .prepare_cached(
            "SELECT uidvalidity, last_uid, applied_uid, last_sync_at FROM sync_state WHERE mailbox = ?1",
        )?
        .query_row([mailbox], |r| {
            Ok(SyncState {
                uidvalidity: r.get(0)?,
                last_uid: r.get(1)?,
                applied_uid: r.get(2)?,
                last_sync_at: r.get(3)?,
            })
        })
        .optional()?)
}

/// Records progress; written in the same transaction as the messages it covers.
pub fn set(conn: &Connection, mailbox: &str, s: &SyncState) -> Result<()> {
    conn.prepare_cached(
        "INSERT INTO sync_state (mailbox, uidvalidity, last_uid, applied_uid, last_sync_at, last_error)
         VALUES (?1, ?2, ?3, ?4, ?5, NULL)
         ON CONFLICT (mailbox) DO UPDATE SET uidvalidity = ?2, last_uid = ?3, applied_uid = ?4,
             last_sync_at = ?5, last_error = NULL",
    )?
    .execute(params![mailbox, s.uidvalidity, s.last_uid, s.applied_uid, s.last_sync_at])?;
    Ok(())
}

/// Records why the last sync failed (shown by the status line and `doctor`).
pub fn set_error(conn: &Connection, mailbox: &str, error: &str) -> Result<()> {
    conn.prepare_cached("UPDATE sync_state SET last_error = ?2 WHERE mailbox = ?1")?
        .execute(params![mailbox, error])?;
    Ok(())
}

pub fn last_error(conn: &Connection, mailbox: &str) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT last_error FROM sync_state WHERE mailbox = ?1")?
        .query_row([mailbox], |r| r.get(0))
        .optional()?
        .flatten())
}
