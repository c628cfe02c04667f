//! Messages (raw bytes kept whole), their attachments, and the draft waiting on each ticket.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::db::Db;
use super::{Direction, DraftState, MessageClass, Result};

/// A message to store. Text fields are already sanitised for display.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub ticket_id: i64,
    pub message_id: &'a str,
    pub message_id_synthetic: bool,
    pub direction: Direction,
    pub class: MessageClass,
    pub class_reason: Option<&'a str>,
    pub from_addr: Option<&'a str>,
    pub from_name: Option<&'a str>,
    pub reply_to: Option<&'a str>,
    pub to_addrs: &'a str,
    pub cc_addrs: &'a str,
    pub subject: &'a str,
    pub sent_at: Option<i64>,
    pub stored_at: i64,
    pub in_reply_to: &'a str,
    pub refs: &'a str,
    pub body_text: &'a str,
    pub quoted_text: &'a str,
    pub signature_text: &'a str,
    pub body_source: &'a str,
    pub parse_error: Option<&'a str>,
    pub raw: &'a [u8],
    pub raw_sha256: &'a str,
    pub source: &'a str,
    pub mailbox: Option<&'a str>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
}

pub fn insert(conn: &impl Db, m: &NewMessage<'_>) -> Result<i64> {
    let sender = match (m.from_name, m.from_addr) {
        (Some(n), Some(a)) if !n.is_empty() => format!("{n} <{a}>"),
        (_, Some(a)) => a.to_owned(),
        (Some(n), None) => n.to_owned(),
        (None, None) => String::new(),
    };
    conn.with_stmt(
        "INSERT INTO messages (ticket_id, message_id, message_id_synthetic, direction, class,
             class_reason, from_addr, from_name, sender, reply_to, to_addrs, cc_addrs, subject,
             sent_at, stored_at, in_reply_to, refs, body_text, quoted_text, signature_text,
             body_source, parse_error, raw, raw_size, raw_sha256, source, mailbox, uidvalidity, uid)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18,
             ?19, ?20, ?21, ?22, ?23, ?24, ?25, ?26, ?27, ?28, ?29)",
        |s| {
            s.execute(params![
                m.ticket_id,
                m.message_id,
                m.message_id_synthetic,
                m.direction,
                m.class,
                m.class_reason,
                m.from_addr,
                m.from_name,
                sender,
                m.reply_to,
                m.to_addrs,
                m.cc_addrs,
                m.subject,
                m.sent_at,
                m.stored_at,
                m.in_reply_to,
                m.refs,
                m.body_text,
                m.quoted_text,
                m.signature_text,
                m.body_source,
                m.parse_error,
                m.raw,
                m.raw.len() as i64,
                m.raw_sha256,
                m.source,
                m.mailbox,
                m.uidvalidity,
                m.uid,
            ])
        },
    )?;
    let id = conn.connection().last_insert_rowid();
    // Queued for the search index (migrations 004 and 010).
    conn.with_stmt("INSERT INTO search_queue (message_id) VALUES (?1)", |s| {
        s.execute([id])
    })?;
    Ok(id)
}

pub fn exists(conn: &impl Db, message_id: &str) -> Result<bool> {
    Ok(
        conn.with_stmt("SELECT 1 FROM messages WHERE message_id = ?1", |s| {
            s.exists([message_id])
        })?,
    )
}

/// A stored message found by its Message-ID: which ticket holds it and when it was written.
#[derive(Debug, Clone, Copy)]
pub struct Found {
    pub ticket_id: i64,
    pub row_id: i64,
    pub direction: Direction,
    pub sent_at: Option<i64>,
}

pub fn find(conn: &impl Db, message_id: &str) -> Result<Option<Found>> {
    Ok(conn.with_stmt(
        "SELECT ticket_id, id, direction, sent_at FROM messages WHERE message_id = ?1",
        |s| {
            s.query_row([message_id], |r| {
                Ok(Found {
                    ticket_id: r.get(0)?,
                    row_id: r.get(1)?,
                    direction: r.get(2)?,
                    sent_at: r.get(3)?,
                })
            })
            .optional()
        },
    )?)
}

/// A stored message for display and export (the raw bytes are fetched apart, by [`raw`]).
#[derive(Debug, Clone, Serialize)]
pub struct MessageRow {
    #[serde(skip)]
    pub id: i64,
    pub message_id: String,
    pub message_id_synthetic: bool,
    pub direction: Direction,
    pub class: MessageClass,
    pub class_reason: Option<String>,
    pub from_addr: Option<String>,
    pub from_name: Option<String>,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub date: Option<i64>,
    pub stored_at: i64,
    pub in_reply_to: String,
    pub references: String,
    pub body: String,
    pub quoted: String,
    pub signature: String,
    pub body_source: String,
    pub parse_error: Option<String>,
    pub raw_size: i64,
    pub source: String,
    pub attachments: Vec<AttachmentRow>,
}

pub fn for_ticket(conn: &Connection, ticket_id: i64) -> Result<Vec<MessageRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, message_id, message_id_synthetic, direction, class, class_reason, from_addr,
             from_name, to_addrs, cc_addrs, subject, sent_at, stored_at, in_reply_to, refs,
             body_text, quoted_text, signature_text, body_source, parse_error, raw_size, source
         FROM messages WHERE ticket_id = ?1 ORDER BY coalesce(sent_at, stored_at), id",
    )?;
    let mut rows = stmt
        .query_map([ticket_id], |r| {
            Ok(MessageRow {
                id: r.get(0)?,
                message_id: r.get(1)?,
                message_id_synthetic: r.get(2)?,
                direction: r.get(3)?,
                class: r.get(4)?,
                class_reason: r.get(5)?,
                from_addr: r.get(6)?,
                from_name: r.get(7)?,
                to: r.get(8)?,
                cc: r.get(9)?,
                subject: r.get(10)?,
                date: r.get(11)?,
                stored_at: r.get(12)?,
                in_reply_to: r.get(13)?,
                references: r.get(14)?,
                body: r.get(15)?,
                quoted: r.get(16)?,
                signature: r.get(17)?,
                body_source: r.get(18)?,
                parse_error: r.get(19)?,
                raw_size: r.get(20)?,
                source: r.get(21)?,
                attachments: Vec::new(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    for m in &mut rows {
        m.attachments = attachments(conn, m.id)?;
    }
    Ok(rows)
}

/// The raw RFC 5322 bytes of a message, exactly as received.
pub fn raw(conn: &Connection, message_id: &str) -> Result<Option<Vec<u8>>> {
    Ok(conn
        .prepare_cached("SELECT raw FROM messages WHERE message_id = ?1")?
        .query_row([message_id], |r| r.get(0))
        .optional()?)
}

pub fn count(conn: &Connection) -> Result<i64> {
    Ok(conn.query_row("SELECT count(*) FROM messages", [], |r| r.get(0))?)
}

/// An attachment to store. `content` is None when it was over the size cap.
#[derive(Debug, Clone)]
pub struct NewAttachment<'a> {
    pub filename: Option<&'a str>,
    pub content_type: &'a str,
    pub size: usize,
    pub sha256: &'a str,
    pub content_id: Option<&'a str>,
    pub inline: bool,
    pub content: Option<&'a [u8]>,
    pub note: Option<&'a str>,
}

pub fn insert_attachment(conn: &impl Db, message: i64, a: &NewAttachment<'_>) -> Result<()> {
    conn.with_stmt(
        "INSERT INTO attachments (message_id, filename, content_type, size, sha256, content_id,
             inline, content, note)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        |s| {
            s.execute(params![
                message,
                a.filename,
                a.content_type,
                a.size as i64,
                a.sha256,
                a.content_id,
                a.inline,
                a.content,
                a.note
            ])
        },
    )?;
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct AttachmentRow {
    pub id: i64,
    pub filename: Option<String>,
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub content_id: Option<String>,
    pub inline: bool,
    pub stored: bool,
    pub note: Option<String>,
}

pub fn attachments(conn: &Connection, message: i64) -> Result<Vec<AttachmentRow>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, filename, content_type, size, sha256, content_id, inline,
                content IS NOT NULL, note
         FROM attachments WHERE message_id = ?1 ORDER BY id",
    )?;
    let rows = stmt.query_map([message], |r| {
        Ok(AttachmentRow {
            id: r.get(0)?,
            filename: r.get(1)?,
            content_type: r.get(2)?,
            size: r.get(3)?,
            sha256: r.get(4)?,
            content_id: r.get(5)?,
            inline: r.get(6)?,
            stored: r.get(7)?,
            note: r.get(8)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// An attachment's name, SHA-256 and stored bytes (None when it was over the size cap), with
/// the raw mail of its message, from which such an attachment can be cut again.
pub struct AttachmentContent {
    pub filename: Option<String>,
    pub sha256: String,
    pub content: Option<Vec<u8>>,
    pub raw: Vec<u8>,
}

pub fn attachment_content(conn: &Connection, id: i64) -> Result<Option<AttachmentContent>> {
    Ok(conn
        .prepare_cached(
            "SELECT a.filename, a.sha256, a.content, m.raw
             FROM attachments a JOIN messages m ON m.id = a.message_id WHERE a.id = ?1",
        )?
        .query_row([id], |r| {
            Ok(AttachmentContent {
                filename: r.get(0)?,
                sha256: r.get(1)?,
                content: r.get(2)?,
                raw: r.get(3)?,
            })
        })
        .optional()?)
}

/// A new customer turn needs an answer: the ticket's pending draft (if any) goes back to `new`
/// and points at the newest message; otherwise a `new` draft is created.
pub fn draft_for_new_turn(conn: &impl Db, ticket_id: i64, message: i64, now: i64) -> Result<()> {
    let pending: Option<(i64, DraftState)> = conn.with_stmt(
        "SELECT id, state FROM drafts WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
        |s| {
            s.query_row([ticket_id], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        },
    )?;
    match pending {
        // Still new: only what it answers changes. Setting `state` to the value it has would
        // still rewrite its entry in the drafts_state index (a third of storing a reply).
        Some((id, DraftState::New)) => {
            conn.with_stmt(
                "UPDATE drafts SET reply_to_message = ?2, updated_at = ?3 WHERE id = ?1",
                |s| s.execute(params![id, message, now]),
            )?;
        }
        Some((id, state)) if state.is_pending() => {
            conn.with_stmt(
                "UPDATE drafts SET state = 'new', reply_to_message = ?2, updated_at = ?3
                 WHERE id = ?1",
                |s| s.execute(params![id, message, now]),
            )?;
        }
        _ => insert_draft(conn, ticket_id, message, now)?,
    }
    Ok(())
}

/// A `new` draft answering `message`, for a ticket that has none pending (a new ticket).
pub fn insert_draft(conn: &impl Db, ticket_id: i64, message: i64, now: i64) -> Result<()> {
    conn.with_stmt(
        "INSERT INTO drafts (ticket_id, reply_to_message, state, created_at, updated_at)
         VALUES (?1, ?2, 'new', ?3, ?3)",
        |s| s.execute(params![ticket_id, message, now]),
    )?;
    Ok(())
}

/// The newest draft of a ticket, if any.
pub fn latest_draft_state(conn: &Connection, ticket_id: i64) -> Result<Option<DraftState>> {
    Ok(conn
        .prepare_cached("SELECT state FROM drafts WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1")?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?)
}

/// A ticket's draft as the review screen shows it.
#[derive(Debug, Clone, Serialize)]
pub struct DraftRow {
    #[serde(skip)]
    pub id: i64,
    pub state: DraftState,
    pub body: String,
    pub analysis_json: Option<String>,
    pub reject_reason: Option<String>,
    /// Why the analysis failed (state `analysis_failed`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

pub fn latest_draft(conn: &Connection, ticket_id: i64) -> Result<Option<DraftRow>> {
    Ok(conn
        .prepare_cached(
            "SELECT id, state, body, analysis_json, reject_reason, error FROM drafts
             WHERE ticket_id = ?1 ORDER BY id DESC LIMIT 1",
        )?
        .query_row([ticket_id], |r| {
            Ok(DraftRow {
                id: r.get(0)?,
                state: r.get(1)?,
                body: r.get(2)?,
                analysis_json: r.get(3)?,
                reject_reason: r.get(4)?,
                error: r.get(5)?,
            })
        })
        .optional()?)
}

/// A draft waiting for analysis: (draft, ticket, message answered).
pub fn pending_drafts(
    conn: &Connection,
    ticket_id: Option<i64>,
) -> Result<Vec<(i64, i64, Option<i64>)>> {
    pending_drafts_in(conn, ticket_id, false)
}

/// Like [`pending_drafts`]; with `failed`, drafts whose analysis failed are taken again too.
pub fn pending_drafts_in(
    conn: &Connection,
    ticket_id: Option<i64>,
    failed: bool,
) -> Result<Vec<(i64, i64, Option<i64>)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, ticket_id, reply_to_message FROM drafts
         WHERE (state = 'new' OR (?2 AND state = 'analysis_failed'))
           AND (?1 IS NULL OR ticket_id = ?1) ORDER BY id",
    )?;
    let rows = stmt.query_map(params![ticket_id, failed], |r| {
        Ok((r.get(0)?, r.get(1)?, r.get(2)?))
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// The analysis of a draft failed: it is shown as such, with the reason, and no body.
pub fn set_draft_failed(conn: &Connection, draft_id: i64, error: &str, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE drafts SET state = 'analysis_failed', body = '', analysis_json = NULL,
             error = ?2, updated_at = ?3 WHERE id = ?1",
    )?
    .execute(params![draft_id, error, now])?;
    Ok(())
}

/// One message of a thread as analysis reads it (no raw bytes, no attachments).
#[derive(Debug, Clone)]
pub struct ThreadMessage {
    pub id: i64,
    pub direction: Direction,
    pub class: MessageClass,
    pub from_addr: Option<String>,
    pub from_name: Option<String>,
    pub subject: String,
    /// The Date header, else when it was stored.
    pub at: i64,
    pub body: String,
}

/// A ticket's messages and notes, newest first.
pub fn thread(conn: &Connection, ticket_id: i64) -> Result<Vec<ThreadMessage>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id, direction, class, from_addr, from_name, subject,
             coalesce(sent_at, stored_at), body_text
         FROM messages WHERE ticket_id = ?1
         ORDER BY coalesce(sent_at, stored_at) DESC, id DESC",
    )?;
    let rows = stmt.query_map([ticket_id], |r| {
        Ok(ThreadMessage {
            id: r.get(0)?,
            direction: r.get(1)?,
            class: r.get(2)?,
            from_addr: r.get(3)?,
            from_name: r.get(4)?,
            subject: r.get(5)?,
            at: r.get(6)?,
            body: r.get(7)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Subject and new text of a stored message.
pub fn text_of(conn: &Connection, row_id: i64) -> Result<(String, String)> {
    Ok(conn
        .prepare_cached("SELECT subject, body_text FROM messages WHERE id = ?1")?
        .query_row([row_id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Stores an analysis on its draft and moves it to `state`.
pub fn set_draft(
    conn: &Connection,
    draft_id: i64,
    state: DraftState,
    body: &str,
    analysis_json: Option<&str>,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE drafts SET state = ?2, body = ?3, analysis_json = ?4, reject_reason = ?5,
             updated_at = ?6 WHERE id = ?1",
    )?
    .execute(params![draft_id, state, body, analysis_json, reason, now])?;
    Ok(())
}

/// The customer message a reply answers: what composing the reply needs from it.
#[derive(Debug, Clone)]
pub struct Answered {
    pub id: i64,
    pub message_id: String,
    pub synthetic: bool,
    pub class: MessageClass,
    pub from_addr: Option<String>,
    pub from_name: Option<String>,
    pub reply_to: Option<String>,
    pub to: String,
    pub cc: String,
    pub subject: String,
    pub date: Option<i64>,
    pub in_reply_to: String,
    pub references: String,
    pub body: String,
}

const ANSWERED: &str = "SELECT id, message_id, message_id_synthetic, class, from_addr, from_name,
        reply_to, to_addrs, cc_addrs, subject, sent_at, in_reply_to, refs, body_text
    FROM messages";

fn answered_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Answered> {
    Ok(Answered {
        id: r.get(0)?,
        message_id: r.get(1)?,
        synthetic: r.get(2)?,
        class: r.get(3)?,
        from_addr: r.get(4)?,
        from_name: r.get(5)?,
        reply_to: r.get(6)?,
        to: r.get(7)?,
        cc: r.get(8)?,
        subject: r.get(9)?,
        date: r.get(10)?,
        in_reply_to: r.get(11)?,
        references: r.get(12)?,
        body: r.get(13)?,
    })
}

/// The ticket's last inbound message from a person (the one a reply answers).
pub fn last_inbound(conn: &Connection, ticket_id: i64) -> Result<Option<Answered>> {
    Ok(conn
        .prepare_cached(&format!(
            "{ANSWERED} WHERE ticket_id = ?1 AND direction = 'inbound' AND class = 'human'
             ORDER BY coalesce(sent_at, stored_at) DESC, id DESC LIMIT 1"
        ))?
        .query_row([ticket_id], answered_row)
        .optional()?)
}

/// The first message of a ticket (the one that opened it).
pub fn first_of(conn: &Connection, ticket_id: i64) -> Result<Option<Answered>> {
    Ok(conn
        .prepare_cached(&format!(
            "{ANSWERED} WHERE ticket_id = ?1 ORDER BY id LIMIT 1"
        ))?
        .query_row([ticket_id], answered_row)
        .optional()?)
}

/// Moves a draft to another review state (approve, reject, undo, sent, failed), with an
/// optional reason or error.
pub fn set_draft_state(
    conn: &Connection,
    draft_id: i64,
    state: DraftState,
    reason: Option<&str>,
    now: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE drafts SET state = ?2,
             reject_reason = CASE WHEN ?2 = 'rejected' THEN ?3 ELSE reject_reason END,
             error = CASE WHEN ?2 = 'failed' THEN ?3 WHEN ?2 IN ('sent', 'drafted', 'approved') THEN NULL ELSE error END,
             updated_at = ?4 WHERE id = ?1",
    )?
    .execute(params![draft_id, state, reason, now])?;
    Ok(())
}

/// Replaces a draft's text (the admin's edit).
pub fn set_draft_body(conn: &Connection, draft_id: i64, body: &str, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE drafts SET body = ?2, updated_at = ?3 WHERE id = ?1")?
        .execute(params![draft_id, body, now])?;
    Ok(())
}

/// The error stored on a draft (analysis or sending).
pub fn draft_error(conn: &Connection, draft_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT error FROM drafts WHERE id = ?1")?
        .query_row([draft_id], |r| r.get(0))?)
}

/// How many drafts are in a state (the analysis queue is `new`).
pub fn count_in_state(conn: &Connection, state: DraftState) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM drafts WHERE state = ?1")?
        .query_row([state], |r| r.get(0))?)
}

/// The newest inbound message of a ticket (the one a reply answers).
pub fn latest_inbound(conn: &Connection, ticket_id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached(
            "SELECT id FROM messages WHERE ticket_id = ?1 AND direction = 'inbound'
             ORDER BY coalesce(sent_at, stored_at) DESC, id DESC LIMIT 1",
        )?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?)
}

/// How many messages the customer side wrote on a ticket (machine mail not counted).
pub fn customer_turns(conn: &Connection, ticket_id: i64) -> Result<i64> {
    Ok(conn
        .prepare_cached(
            "SELECT count(*) FROM messages
             WHERE ticket_id = ?1 AND direction = 'inbound' AND class = 'human'",
        )?
        .query_row([ticket_id], |r| r.get(0))?)
}

/// Rejects the ticket's drafts still waiting for review or analysis, with `reason`: a newer
/// draft replaces them. Returns how many.
pub fn supersede_pending(
    conn: &Connection,
    ticket_id: i64,
    reason: &str,
    now: i64,
) -> Result<usize> {
    Ok(conn
        .prepare_cached(
            "UPDATE drafts SET state = 'rejected', reject_reason = ?2, updated_at = ?3
             WHERE ticket_id = ?1 AND state IN ('new', 'drafted', 'analysis_failed')",
        )?
        .execute(params![ticket_id, reason, now])?)
}

/// A reply written without analysis (e.g. the escalation notice), ready for review.
pub fn insert_drafted(
    conn: &Connection,
    ticket_id: i64,
    reply_to: Option<i64>,
    body: &str,
    now: i64,
) -> Result<i64> {
    conn.prepare_cached(
        "INSERT INTO drafts (ticket_id, reply_to_message, state, body, created_at, updated_at)
         VALUES (?1, ?2, 'drafted', ?3, ?4, ?4)",
    )?
    .execute(params![ticket_id, reply_to, body, now])?;
    Ok(conn.last_insert_rowid())
}

/// The analysis JSON of the ticket's newest analysed draft.
pub fn latest_analysis(conn: &Connection, ticket_id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached(
            "SELECT analysis_json FROM drafts WHERE ticket_id = ?1 AND analysis_json IS NOT NULL
             ORDER BY updated_at DESC, id DESC LIMIT 1",
        )?
        .query_row([ticket_id], |r| r.get(0))
        .optional()?)
}
