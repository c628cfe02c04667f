//! Tickets, their numbering sequence and their participants.

use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;

use super::db::Db;
use super::{EscalationState, Result, StoreError, TicketStatus};

/// A ticket as stored, with its message count.
#[derive(Debug, Clone, Serialize)]
pub struct TicketRow {
    #[serde(skip)]
    pub id: i64,
    pub number: String,
    pub status: TicketStatus,
    pub priority: Option<String>,
    pub category: Option<String>,
    pub requester: Requester,
    pub subject: String,
    pub message_count: i64,
    pub flagged: bool,
    pub review_reason: Option<String>,
    pub linked_ticket: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
    pub last_inbound_at: Option<i64>,
    pub closed_at: Option<i64>,
    pub summary: Option<String>,
    /// When the SLA clocks started (the customer's first or reopening message).
    pub sla_start_at: Option<i64>,
    /// When the first response is due.
    pub sla_due_at: Option<i64>,
    pub resolution_due_at: Option<i64>,
    pub first_response_at: Option<i64>,
    pub resolved_at: Option<i64>,
    /// marked, pending, escalated or dismissed (see store::escalations).
    pub escalation: Option<EscalationState>,
    pub escalation_reason: Option<String>,
    pub escalation_url: Option<String>,
}

impl TicketRow {
    /// The next SLA deadline while the ticket is in our court (open): the first response until
    /// it is given, then the resolution. The same rule as [`NEXT_DUE`].
    pub fn next_due(&self) -> Option<i64> {
        if self.status != TicketStatus::Open {
            return None;
        }
        self.first_response_at
            .is_none()
            .then_some(self.sla_due_at)
            .flatten()
            .or(self.resolution_due_at)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct Requester {
    pub address: String,
    pub name: Option<String>,
}

/// What a new ticket starts with.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    pub number: &'a str,
    pub subject: &'a str,
    pub subject_norm: &'a str,
    pub requester_addr: &'a str,
    pub requester_name: Option<&'a str>,
    pub status: TicketStatus,
    pub review_reason: Option<&'a str>,
    pub flagged: bool,
    pub linked_ticket_id: Option<i64>,
    pub last_inbound_at: Option<i64>,
    pub now: i64,
    /// The SLA clocks, when they start with the ticket (see [`crate::ticket::sla::start`]).
    pub sla: Option<SlaTimes>,
}

/// When a ticket's SLA clocks started, and when its first response and resolution are due.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SlaTimes {
    pub start: i64,
    pub first_response_due: i64,
    pub resolution_due: i64,
}

const SELECT: &str = "SELECT t.id, t.number, t.status, t.priority, t.category, t.requester_addr,
        t.requester_name, t.subject,
        (SELECT count(*) FROM messages m WHERE m.ticket_id = t.id),
        t.flagged, t.review_reason, (SELECT l.number FROM tickets l WHERE l.id = t.linked_ticket_id),
        t.created_at, t.updated_at, t.last_inbound_at, t.closed_at,
        t.summary, t.sla_start_at, t.sla_due_at, t.resolution_due_at, t.first_response_at,
        t.resolved_at, e.state, e.reason, t.escalation_url
    FROM tickets t LEFT JOIN escalations e ON e.ticket_id = t.id";

/// The next SLA deadline of a ticket in our court, far in the future for the others: written
/// exactly as the index `tickets_sla_order` (migration 006) so that the planner uses it.
pub const NEXT_DUE: &str = "coalesce(CASE WHEN t.status = 'open'
                  THEN coalesce(CASE WHEN t.first_response_at IS NULL THEN t.sla_due_at END,
                                t.resolution_due_at) END,
             9223372036854775807)";

fn row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketRow> {
    Ok(TicketRow {
        id: r.get(0)?,
        number: r.get(1)?,
        status: r.get(2)?,
        priority: r.get(3)?,
        category: r.get(4)?,
        requester: Requester {
            address: r.get(5)?,
            name: r.get(6)?,
        },
        subject: r.get(7)?,
        message_count: r.get(8)?,
        flagged: r.get(9)?,
        review_reason: r.get(10)?,
        linked_ticket: r.get(11)?,
        created_at: r.get(12)?,
        updated_at: r.get(13)?,
        last_inbound_at: r.get(14)?,
        closed_at: r.get(15)?,
        summary: r.get(16)?,
        sla_start_at: r.get(17)?,
        sla_due_at: r.get(18)?,
        resolution_due_at: r.get(19)?,
        first_response_at: r.get(20)?,
        resolved_at: r.get(21)?,
        escalation: r.get(22)?,
        escalation_reason: r.get(23)?,
        escalation_url: r.get(24)?,
    })
}

/// Hands out the next number of (prefix, year). Call inside the write transaction that inserts
/// the ticket: the increment and the insert commit together or not at all.
///
/// An upsert then a read, not `RETURNING`: SQLite buffers RETURNING rows in a temporary b-tree,
/// built and dropped for every ticket.
pub fn next_seq(conn: &impl Db, prefix: &str, year: i32) -> Result<i64> {
    // Two statements: one upsert with RETURNING costs three times as much (SQLite collects
    // RETURNING rows in a temporary table).
    conn.with_stmt(
        "INSERT INTO ticket_seq (prefix, year, last) VALUES (?1, ?2, 1)
         ON CONFLICT (prefix, year) DO UPDATE SET last = last + 1",
        |s| s.execute(params![prefix, year]),
    )?;
    Ok(conn.with_stmt(
        "SELECT last FROM ticket_seq WHERE prefix = ?1 AND year = ?2",
        |s| s.query_row(params![prefix, year], |r| r.get(0)),
    )?)
}

pub fn insert(conn: &impl Db, t: &NewTicket<'_>) -> Result<i64> {
    conn.with_stmt(
        "INSERT INTO tickets (number, subject, subject_norm, requester_addr, requester_name,
             status, review_reason, flagged, linked_ticket_id, last_inbound_at, created_at,
             updated_at, sla_start_at, sla_due_at, resolution_due_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?11, ?12, ?13, ?14)",
        |s| {
            s.execute(params![
                t.number,
                t.subject,
                t.subject_norm,
                t.requester_addr,
                t.requester_name,
                t.status,
                t.review_reason,
                t.flagged,
                t.linked_ticket_id,
                t.last_inbound_at,
                t.now,
                t.sla.map(|s| s.start),
                t.sla.map(|s| s.first_response_due),
                t.sla.map(|s| s.resolution_due),
            ])
        },
    )?;
    Ok(conn.connection().last_insert_rowid())
}

pub fn get(conn: &Connection, id: i64) -> Result<TicketRow> {
    conn.prepare_cached(&format!("{SELECT} WHERE t.id = ?1"))?
        .query_row([id], row)
        .optional()?
        .ok_or_else(|| StoreError::NotFound(format!("no ticket with id {id}")))
}

pub fn by_number(conn: &Connection, number: &str) -> Result<Option<TicketRow>> {
    Ok(conn
        .prepare_cached(&format!("{SELECT} WHERE t.number = ?1"))?
        .query_row([number], row)
        .optional()?)
}

/// The id and status of a ticket by number, for threading.
pub fn state_by_number(conn: &Connection, number: &str) -> Result<Option<TicketState>> {
    Ok(conn
        .prepare_cached("SELECT id, status, closed_at FROM tickets WHERE number = ?1")?
        .query_row([number], state_row)
        .optional()?)
}

pub fn state(conn: &impl Db, id: i64) -> Result<TicketState> {
    Ok(conn.with_stmt(
        "SELECT id, status, closed_at FROM tickets WHERE id = ?1",
        |s| s.query_row([id], state_row),
    )?)
}

#[derive(Debug, Clone, Copy)]
pub struct TicketState {
    pub id: i64,
    pub status: TicketStatus,
    pub closed_at: Option<i64>,
}

fn state_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TicketState> {
    Ok(TicketState {
        id: r.get(0)?,
        status: r.get(1)?,
        closed_at: r.get(2)?,
    })
}

/// Which tickets to list, and in which order.
#[derive(Debug, Clone, Default)]
pub struct ListFilter {
    pub status: Option<TicketStatus>,
    /// Only tickets of this category (compared without regard to case: a rule may have set
    /// `billing` where analysis sets `Billing`).
    pub category: Option<String>,
    /// Only tickets of this priority (`low`, `medium`, `high`, `urgent`).
    pub priority: Option<String>,
    pub limit: Option<u32>,
    pub offset: u32,
    /// With no status given, leave out noise and spam (the default views).
    pub hide_filtered: bool,
    pub order: Order,
    /// Only tickets in our court whose next deadline is before this (overdue: now).
    pub due_before: Option<i64>,
    /// Only tickets in our court whose next deadline is at or after this.
    pub due_from: Option<i64>,
    /// Walk the order from its end: `offset` counts from the last row and the rows come
    /// last first. A page near the end of a long list is then as cheap as one near the top.
    pub reverse: bool,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Order {
    /// Newest activity first.
    #[default]
    Activity,
    /// Next SLA deadline first (overdue at the top), then the rest by activity.
    Due,
}

const WHERE: &str = "WHERE (?1 IS NULL OR t.status = ?1)
           AND (?1 IS NOT NULL OR ?4 = 0 OR t.status NOT IN ('noise', 'spam'))";

/// The conditions besides [`WHERE`], AND-combined with it. Each parameter appears whether its
/// filter is set or not (`?5 IS NULL` when not), so that the parameters stay the same; a
/// filter that is not set adds no condition on the row, so the unfiltered count keeps its
/// covering index. One statement per combination, each cached.
fn conditions(filter: &ListFilter) -> String {
    let mut w = String::new();
    match filter.due_before {
        Some(_) => w.push_str(&format!(" AND {NEXT_DUE} < ?5")),
        None => w.push_str(" AND ?5 IS NULL"),
    }
    match filter.due_from {
        Some(_) => w.push_str(&format!(
            " AND {NEXT_DUE} >= ?6 AND {NEXT_DUE} < 9223372036854775807"
        )),
        None => w.push_str(" AND ?6 IS NULL"),
    }
    w.push_str(match filter.category {
        Some(_) => " AND t.category = ?7 COLLATE NOCASE",
        None => " AND ?7 IS NULL",
    });
    w.push_str(match filter.priority {
        Some(_) => " AND t.priority = ?8",
        None => " AND ?8 IS NULL",
    });
    w
}

fn list_sql(filter: &ListFilter) -> String {
    let order = match (filter.order, filter.reverse) {
        (Order::Activity, false) => "t.updated_at DESC, t.id DESC".to_owned(),
        (Order::Activity, true) => "t.updated_at ASC, t.id ASC".to_owned(),
        (Order::Due, false) => format!("{NEXT_DUE}, t.updated_at DESC, t.id DESC"),
        (Order::Due, true) => format!("{NEXT_DUE} DESC, t.updated_at ASC, t.id ASC"),
    };
    format!(
        "{SELECT} {WHERE}{} ORDER BY {order} LIMIT ?2 OFFSET ?3",
        conditions(filter)
    )
}

/// The parameters ?1–?8 of the list's statements: ?2 and ?3 are the limit and offset (None
/// in [`count_filtered`], which has neither).
fn bind<'a>(filter: &'a ListFilter, window: &'a [Option<i64>; 2]) -> [&'a dyn rusqlite::ToSql; 8] {
    [
        &filter.status,
        &window[0],
        &window[1],
        &filter.hide_filtered,
        &filter.due_before,
        &filter.due_from,
        &filter.category,
        &filter.priority,
    ]
}

/// `[limit, offset]` of a list page; no limit is -1 to SQLite.
fn window(filter: &ListFilter) -> [Option<i64>; 2] {
    [
        Some(filter.limit.map_or(-1, i64::from)),
        Some(i64::from(filter.offset)),
    ]
}

pub fn list(conn: &Connection, filter: &ListFilter) -> Result<Vec<TicketRow>> {
    let window = window(filter);
    let mut stmt = conn.prepare_cached(&list_sql(filter))?;
    let rows = stmt.query_map(&bind(filter, &window)[..], row)?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// SQLite's plan for [`list`] with this filter, one step a line (for tests and benchmarks).
pub fn explain_list(conn: &Connection, filter: &ListFilter) -> Result<String> {
    let window = window(filter);
    let mut stmt = conn.prepare(&format!("EXPLAIN QUERY PLAN {}", list_sql(filter)))?;
    let rows = stmt.query_map(&bind(filter, &window)[..], |r| r.get::<_, String>(3))?;
    Ok(rows.collect::<rusqlite::Result<Vec<_>>>()?.join("\n"))
}

/// How many tickets [`list`] would give without limit and offset.
pub fn count_filtered(conn: &Connection, filter: &ListFilter) -> Result<i64> {
    Ok(conn
        .prepare_cached(&format!(
            "SELECT count(*) FROM tickets t {WHERE}{} AND ?2 IS NULL AND ?3 IS NULL",
            conditions(filter)
        ))?
        .query_row(&bind(filter, &[None, None])[..], |r| r.get(0))?)
}

pub fn count(conn: &Connection) -> Result<i64> {
    count_with(conn, None)
}

/// Tickets in a status (all when `None`).
pub fn count_with(conn: &Connection, status: Option<TicketStatus>) -> Result<i64> {
    Ok(conn
        .prepare_cached("SELECT count(*) FROM tickets WHERE (?1 IS NULL OR status = ?1)")?
        .query_row([status], |r| r.get(0))?)
}

/// Sets the status; `closed_at` follows it. Returns the previous status.
pub fn set_status(
    conn: &Connection,
    id: i64,
    status: TicketStatus,
    now: i64,
) -> Result<TicketStatus> {
    let old: TicketStatus = conn
        .prepare_cached("SELECT status FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached(
        "UPDATE tickets SET status = ?2, updated_at = ?3,
             closed_at = CASE WHEN ?2 = 'closed' THEN ?3 ELSE NULL END,
             resolved_at = CASE WHEN ?2 IN ('resolved', 'closed') THEN coalesce(resolved_at, ?3)
                           ELSE NULL END
         WHERE id = ?1",
    )?
    .execute(params![id, status, now])?;
    Ok(old)
}

/// Records that an inbound message arrived (the list sorts by activity).
/// `sent` is when the customer wrote (the message's Date, not after `now`).
pub fn touch_inbound(conn: &impl Db, id: i64, now: i64, sent: i64) -> Result<()> {
    conn.with_stmt(
        "UPDATE tickets SET updated_at = ?2,
             last_inbound_at = max(coalesce(last_inbound_at, 0), ?3) WHERE id = ?1",
        |s| s.execute(params![id, now, sent]),
    )?;
    Ok(())
}

pub fn touch(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached("UPDATE tickets SET updated_at = ?2 WHERE id = ?1")?
        .execute(params![id, now])?;
    Ok(())
}

/// Adds an address that may thread into the ticket by its tag; the first role stays.
pub fn add_participant(conn: &impl Db, ticket_id: i64, address: &str, role: &str) -> Result<()> {
    conn.with_stmt(
        "INSERT OR IGNORE INTO participants (ticket_id, address, role) VALUES (?1, lower(?2), ?3)",
        |s| s.execute(params![ticket_id, address, role]),
    )?;
    Ok(())
}

pub fn is_participant(conn: &Connection, ticket_id: i64, address: &str) -> Result<bool> {
    Ok(conn
        .prepare_cached("SELECT 1 FROM participants WHERE ticket_id = ?1 AND address = lower(?2)")?
        .exists(params![ticket_id, address])?)
}

/// The newest other ticket of the same requester and normalized subject created since `since`:
/// a merge suggestion (MAIL-RULES C3.5), never applied by itself.
pub fn same_subject_since(
    conn: &impl Db,
    requester: &str,
    subject_norm: &str,
    since: i64,
    except: i64,
) -> Result<Option<(i64, String)>> {
    Ok(conn.with_stmt(
        "SELECT id, number FROM tickets
         WHERE requester_addr = lower(?1) AND subject_norm = ?2 AND created_at >= ?3
           AND id <> ?4
         ORDER BY id DESC LIMIT 1",
        |s| {
            s.query_row(params![requester, subject_norm, since, except], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })
            .optional()
        },
    )?)
}

/// What analysis learned about a ticket.
pub struct AnalysisFields<'a> {
    pub category: &'a str,
    pub priority: &'a str,
    pub language: &'a str,
    pub sentiment: &'a str,
    pub summary: &'a str,
}

pub fn set_analysis(conn: &Connection, id: i64, a: &AnalysisFields<'_>, now: i64) -> Result<()> {
    // A priority or category pinned by a rule or by hand stays.
    conn.prepare_cached(
        "UPDATE tickets SET category = CASE WHEN category_pinned THEN category ELSE ?2 END,
             priority = CASE WHEN priority_pinned THEN priority ELSE ?3 END,
             language = ?4, sentiment = ?5, summary = ?6, updated_at = max(updated_at, ?7)
         WHERE id = ?1",
    )?
    .execute(params![
        id,
        a.category,
        a.priority,
        a.language,
        a.sentiment,
        a.summary,
        now
    ])?;
    Ok(())
}

/// A reply left: the first one sets the first-response time (kept thereafter).
pub fn record_response(conn: &Connection, id: i64, now: i64) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET first_response_at = coalesce(first_response_at, ?2), updated_at = ?2
         WHERE id = ?1",
    )?
    .execute(params![id, now])?;
    Ok(())
}

/// When the first reply left, if one did.
pub fn first_response_at(conn: &Connection, id: i64) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT first_response_at FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Marks a new ticket's acknowledgment decision (`pending`, `queued`, `withheld`).
pub fn set_ack_state(conn: &Connection, id: i64, state: &str) -> Result<()> {
    conn.prepare_cached("UPDATE tickets SET ack_state = ?2 WHERE id = ?1")?
        .execute(params![id, state])?;
    Ok(())
}

pub fn ack_state(conn: &Connection, id: i64) -> Result<Option<String>> {
    Ok(conn
        .prepare_cached("SELECT ack_state FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?)
}

/// Tickets whose acknowledgment is still to be decided, oldest first.
pub fn ack_pending(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt =
        conn.prepare_cached("SELECT id FROM tickets WHERE ack_state = 'pending' ORDER BY id")?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Sets the priority and pins it (analysis no longer changes it). Returns the previous one.
pub fn set_priority(
    conn: &Connection,
    id: i64,
    priority: &str,
    now: i64,
) -> Result<Option<String>> {
    let old: Option<String> = conn
        .prepare_cached("SELECT priority FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached(
        "UPDATE tickets SET priority = ?2, priority_pinned = 1, updated_at = max(updated_at, ?3)
         WHERE id = ?1",
    )?
    .execute(params![id, priority, now])?;
    Ok(old)
}

/// Sets the category and pins it. Returns the previous one.
pub fn set_category(
    conn: &Connection,
    id: i64,
    category: &str,
    now: i64,
) -> Result<Option<String>> {
    let old: Option<String> = conn
        .prepare_cached("SELECT category FROM tickets WHERE id = ?1")?
        .query_row([id], |r| r.get(0))?;
    conn.prepare_cached(
        "UPDATE tickets SET category = ?2, category_pinned = 1, updated_at = max(updated_at, ?3)
         WHERE id = ?1",
    )?
    .execute(params![id, category, now])?;
    Ok(old)
}

/// What the SLA clocks of a ticket depend on: (start, priority).
pub fn sla_inputs(conn: &Connection, id: i64) -> Result<(Option<i64>, Option<String>)> {
    Ok(conn
        .prepare_cached("SELECT sla_start_at, priority FROM tickets WHERE id = ?1")?
        .query_row([id], |r| Ok((r.get(0)?, r.get(1)?)))?)
}

/// Stores when the clocks started and when the first response and resolution are due.
pub fn set_sla(
    conn: &Connection,
    id: i64,
    start: i64,
    first_response_due: i64,
    resolution_due: i64,
) -> Result<()> {
    conn.prepare_cached(
        "UPDATE tickets SET sla_start_at = ?2, sla_due_at = ?3, resolution_due_at = ?4
         WHERE id = ?1",
    )?
    .execute(params![id, start, first_response_due, resolution_due])?;
    Ok(())
}

/// Open or waiting tickets whose due times were never computed (stored before migration 006).
pub fn missing_sla(conn: &Connection) -> Result<Vec<i64>> {
    let mut stmt = conn.prepare_cached(
        "SELECT id FROM tickets WHERE status IN ('open', 'waiting') AND sla_due_at IS NULL
         ORDER BY id",
    )?;
    let rows = stmt.query_map([], |r| r.get(0))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

/// Stores the URL of the ticket's escalation issue.
pub fn set_escalation_url(conn: &Connection, id: i64, url: &str) -> Result<()> {
    conn.prepare_cached("UPDATE tickets SET escalation_url = ?2 WHERE id = ?1")?
        .execute(params![id, url])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Store;

    /// 90 tickets across statuses, categories (one `billing` in another case, as a rule may
    /// set it) and priorities, some with running SLA clocks, the activity times interleaved.
    fn store(dir: &std::path::Path) -> Store {
        let store = Store::open(&dir.join("t.sqlite3")).unwrap();
        let statuses = [
            TicketStatus::Open,
            TicketStatus::Waiting,
            TicketStatus::Open,
            TicketStatus::Noise,
            TicketStatus::Closed,
        ];
        let categories = ["Billing", "Technical", "billing", "Account"];
        for i in 0..90_i64 {
            let number = format!("TKT-2026-{i:05}");
            let subject = format!("question {i}");
            let id = insert(
                store.conn(),
                &NewTicket {
                    number: &number,
                    subject: &subject,
                    subject_norm: &subject,
                    requester_addr: "c@customer.example",
                    requester_name: None,
                    status: statuses[i as usize % statuses.len()],
                    review_reason: None,
                    flagged: false,
                    linked_ticket_id: None,
                    last_inbound_at: None,
                    now: 1_000 + (i * 7) % 90,
                    sla: None,
                },
            )
            .unwrap();
            let fields = AnalysisFields {
                category: categories[i as usize % categories.len()],
                priority: ["low", "medium", "high", "urgent"][(i as usize / 2) % 4],
                language: "en",
                sentiment: "neutral",
                summary: "",
            };
            set_analysis(store.conn(), id, &fields, 0).unwrap();
            if i % 3 == 0 {
                set_sla(store.conn(), id, 500, 2_000 + (i * 13) % 50, 9_000).unwrap();
            }
        }
        store
    }

    #[test]
    fn category_and_priority_combine_with_status_and_pages_read_from_either_end_agree() {
        let dir = tempfile::tempdir().unwrap();
        let store = store(dir.path());
        let conn = store.conn();
        let everything = list(conn, &ListFilter::default()).unwrap();
        for (status, category, priority) in [
            (None, Some("Billing"), None),
            (None, None, Some("high")),
            (None, Some("Billing"), Some("high")),
            (Some(TicketStatus::Open), Some("BILLING"), Some("high")),
            (Some(TicketStatus::Noise), Some("billing"), None),
        ] {
            let filter = ListFilter {
                status,
                category: category.map(str::to_owned),
                priority: priority.map(str::to_owned),
                hide_filtered: true,
                order: Order::Due,
                ..Default::default()
            };
            let what = format!("{status:?} {category:?} {priority:?}");
            let all = list(conn, &filter).unwrap();
            let expected: Vec<&str> = everything
                .iter()
                .filter(|t| match status {
                    Some(s) => t.status == s,
                    None => !matches!(t.status, TicketStatus::Noise | TicketStatus::Spam),
                })
                .filter(|t| {
                    category.is_none_or(|c| {
                        t.category
                            .as_deref()
                            .is_some_and(|tc| tc.eq_ignore_ascii_case(c))
                    })
                })
                .filter(|t| priority.is_none_or(|p| t.priority.as_deref() == Some(p)))
                .map(|t| t.number.as_str())
                .collect();
            let mut got: Vec<&str> = all.iter().map(|t| t.number.as_str()).collect();
            assert!(all.len() >= 3, "{what}: {got:?}");
            assert_eq!(
                count_filtered(conn, &filter).unwrap(),
                all.len() as i64,
                "{what}"
            );
            got.sort_unstable();
            let mut want = expected.clone();
            want.sort_unstable();
            assert_eq!(got, want, "{what}");

            // Pages of 2 from the top, and the same windows read from the end, turned around.
            let n = all.len() as u32;
            for offset in (0..n).step_by(2) {
                let forward = list(
                    conn,
                    &ListFilter {
                        limit: Some(2),
                        offset,
                        ..filter.clone()
                    },
                )
                .unwrap();
                let end = (offset + 2).min(n);
                let mut backward = list(
                    conn,
                    &ListFilter {
                        limit: Some(end - offset),
                        offset: n - end,
                        reverse: true,
                        ..filter.clone()
                    },
                )
                .unwrap();
                backward.reverse();
                let ids = |rows: &[TicketRow]| rows.iter().map(|t| t.id).collect::<Vec<_>>();
                assert_eq!(
                    ids(&forward),
                    ids(&all[offset as usize..end as usize]),
                    "{what}"
                );
                assert_eq!(ids(&backward), ids(&forward), "{what} at {offset}");
            }

            // Still the order's index, without a sort.
            let plan = explain_list(conn, &filter).unwrap();
            assert!(plan.contains("tickets_sla_order"), "{what}: {plan}");
            assert!(!plan.contains("TEMP B-TREE"), "{what}: {plan}");
        }
    }
}
