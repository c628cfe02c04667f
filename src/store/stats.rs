//! Statistics over the store: tickets by status, category and priority; first-response and
//! resolution times; SLA compliance per priority; created and resolved tickets per day; the top
//! requesters. Read-only queries; `helpdesk stats` and the TUI statistics view show the result.
//!
//! Counts by status include every ticket; everything else leaves out `noise` and `spam`, which
//! are not work. Times run from when the ticket entered the store (`created_at`) to the first
//! reply (`first_response_at`) and to resolution (`resolved_at`). Percentiles interpolate
//! linearly between the two nearest values (the median of an even count is their mean).

use chrono::TimeZone;
use chrono_tz::Tz;
use rusqlite::{Connection, params};
use serde::Serialize;

use super::{Result, TicketStatus};

/// Days in the created/resolved series.
pub const SERIES_DAYS: usize = 30;
/// Requesters in the top list.
pub const TOP_REQUESTERS: usize = 10;

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Stats {
    /// When the figures were computed (unix seconds); "overdue" is relative to it.
    pub at: i64,
    pub tickets: i64,
    pub by_status: Vec<Count>,
    pub by_category: Vec<Count>,
    pub by_priority: Vec<Count>,
    pub first_response: Times,
    pub resolution: Times,
    pub sla: Vec<Compliance>,
    /// The last 30 days, oldest first, the last being today (in the given time zone).
    pub daily: Vec<Day>,
    pub top_requesters: Vec<TopRequester>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Count {
    pub name: String,
    pub tickets: i64,
}

/// Durations in seconds over `count` tickets; `None` when there are none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Times {
    pub count: usize,
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// Deadlines kept and missed, per priority. `pending`: not done yet and not yet due.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Compliance {
    pub priority: String,
    pub first_response: Kept,
    pub resolution: Kept,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Kept {
    pub met: i64,
    pub breached: i64,
    pub pending: i64,
    /// met / (met + breached), as a percentage; `None` before any deadline was decided.
    pub percent: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Day {
    /// YYYY-MM-DD in the time zone of the statistics.
    pub date: String,
    pub created: i64,
    pub resolved: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TopRequester {
    pub address: String,
    pub name: Option<String>,
    pub tickets: i64,
}

const PRIORITIES: [&str; 4] = ["urgent", "high", "medium", "low"];
/// The label of tickets with no priority yet.
pub const NO_PRIORITY: &str = "unset";
const NO_CATEGORY: &str = "(none)";
const WORK: &str = "status NOT IN ('noise', 'spam')";

/// Computes every figure at `now`; days are cut in `tz`.
pub fn compute(conn: &Connection, now: i64, tz: Tz) -> Result<Stats> {
    let tickets: i64 = conn.query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))?;

    let mut by_status = Vec::new();
    for s in TicketStatus::ALL {
        let n: i64 = conn
            .prepare_cached("SELECT count(*) FROM tickets WHERE status = ?1")?
            .query_row([s], |r| r.get(0))?;
        by_status.push(Count {
            name: s.as_str().into(),
            tickets: n,
        });
    }

    let by_category = counts(
        conn,
        &format!(
            "SELECT coalesce(category, '{NO_CATEGORY}'), count(*) FROM tickets WHERE {WORK}
             GROUP BY 1 ORDER BY 2 DESC, 1"
        ),
    )?;
    let mut by_priority = counts(
        conn,
        &format!(
            "SELECT coalesce(priority, '{NO_PRIORITY}'), count(*) FROM tickets WHERE {WORK}
             GROUP BY 1"
        ),
    )?;
    by_priority.sort_by_key(|c| priority_rank(&c.name));

    let first_response = times(
        conn,
        &format!(
            "SELECT max(first_response_at - created_at, 0) FROM tickets
             WHERE {WORK} AND first_response_at IS NOT NULL"
        ),
    )?;
    let resolution = times(
        conn,
        &format!(
            "SELECT max(resolved_at - created_at, 0) FROM tickets
             WHERE {WORK} AND resolved_at IS NOT NULL"
        ),
    )?;

    let sla = compliance(conn, now)?;
    let daily = daily(conn, now, tz)?;

    let mut stmt = conn.prepare_cached(&format!(
        "SELECT requester_addr, max(requester_name), count(*) FROM tickets WHERE {WORK}
         GROUP BY requester_addr ORDER BY 3 DESC, 1 LIMIT ?1"
    ))?;
    let top_requesters = stmt
        .query_map([TOP_REQUESTERS as i64], |r| {
            Ok(TopRequester {
                address: r.get(0)?,
                name: r.get(1)?,
                tickets: r.get(2)?,
            })
        })?
        .collect::<rusqlite::Result<_>>()?;

    Ok(Stats {
        at: now,
        tickets,
        by_status,
        by_category,
        by_priority,
        first_response,
        resolution,
        sla,
        daily,
        top_requesters,
    })
}

fn priority_rank(p: &str) -> usize {
    PRIORITIES
        .iter()
        .position(|x| *x == p)
        .unwrap_or(PRIORITIES.len())
}

fn counts(conn: &Connection, sql: &str) -> Result<Vec<Count>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map([], |r| {
        Ok(Count {
            name: r.get(0)?,
            tickets: r.get(1)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn times(conn: &Connection, sql: &str) -> Result<Times> {
    let mut stmt = conn.prepare_cached(sql)?;
    let mut v: Vec<i64> = stmt
        .query_map([], |r| r.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    v.sort_unstable();
    Ok(Times {
        count: v.len(),
        median: percentile(&v, 0.5),
        p90: percentile(&v, 0.9),
    })
}

/// The `q` quantile of sorted values, interpolating between the two nearest ranks.
pub fn percentile(sorted: &[i64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = last as f64 * q;
    let (lo, hi) = (pos.floor() as usize, pos.ceil() as usize);
    let frac = pos - lo as f64;
    Some(sorted[lo] as f64 + (sorted[hi] - sorted[lo]) as f64 * frac)
}

fn compliance(conn: &Connection, now: i64) -> Result<Vec<Compliance>> {
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT coalesce(priority, '{NO_PRIORITY}'), status, sla_due_at, first_response_at,
             resolution_due_at, resolved_at
         FROM tickets WHERE {WORK} AND (sla_due_at IS NOT NULL OR resolution_due_at IS NOT NULL)"
    ))?;
    let mut out: Vec<Compliance> = Vec::new();
    let rows = stmt.query_map([], |r| {
        Ok((
            r.get::<_, String>(0)?,
            r.get::<_, TicketStatus>(1)?,
            r.get::<_, Option<i64>>(2)?,
            r.get::<_, Option<i64>>(3)?,
            r.get::<_, Option<i64>>(4)?,
            r.get::<_, Option<i64>>(5)?,
        ))
    })?;
    for row in rows {
        let (priority, status, fr_due, fr_at, res_due, res_at) = row?;
        let active = matches!(status, TicketStatus::Open | TicketStatus::Waiting);
        let i = match out.iter().position(|c| c.priority == priority) {
            Some(i) => i,
            None => {
                out.push(Compliance {
                    priority,
                    first_response: Kept::default(),
                    resolution: Kept::default(),
                });
                out.len() - 1
            }
        };
        let c = &mut out[i];
        count_deadline(&mut c.first_response, fr_due, fr_at, active, now);
        count_deadline(&mut c.resolution, res_due, res_at, active, now);
    }
    for c in &mut out {
        for k in [&mut c.first_response, &mut c.resolution] {
            let decided = k.met + k.breached;
            k.percent = (decided > 0).then(|| k.met as f64 * 100.0 / decided as f64);
        }
    }
    out.sort_by_key(|c| priority_rank(&c.priority));
    Ok(out)
}

/// A deadline is met when done by it, breached when done later or still open past it; one
/// never done on a ticket no longer active (closed with no reply needed) does not count.
fn count_deadline(k: &mut Kept, due: Option<i64>, done: Option<i64>, active: bool, now: i64) {
    let Some(due) = due else { return };
    match done {
        Some(at) if at <= due => k.met += 1,
        Some(_) => k.breached += 1,
        None if active && now > due => k.breached += 1,
        None if active => k.pending += 1,
        None => {}
    }
}

fn daily(conn: &Connection, now: i64, tz: Tz) -> Result<Vec<Day>> {
    let today = tz
        .timestamp_opt(now, 0)
        .single()
        .map_or_else(|| chrono::Utc::now().date_naive(), |d| d.date_naive());
    let first = today - chrono::Duration::days(SERIES_DAYS as i64 - 1);
    let mut days: Vec<Day> = (0..SERIES_DAYS as i64)
        .map(|i| Day {
            date: (first + chrono::Duration::days(i))
                .format("%Y-%m-%d")
                .to_string(),
            created: 0,
            resolved: 0,
        })
        .collect();
    // A day before `first` begins at most 14 hours before its UTC midnight.
    let since = first
        .and_hms_opt(0, 0, 0)
        .map_or(0, |d| d.and_utc().timestamp() - 14 * 3600);
    let index = |t: i64| -> Option<usize> {
        let d = tz.timestamp_opt(t, 0).single()?.date_naive();
        let i = (d - first).num_days();
        (0..SERIES_DAYS as i64).contains(&i).then_some(i as usize)
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT created_at, resolved_at FROM tickets
         WHERE {WORK} AND (created_at >= ?1 OR resolved_at >= ?1)"
    ))?;
    let rows = stmt.query_map(params![since], |r| {
        Ok((r.get::<_, i64>(0)?, r.get::<_, Option<i64>>(1)?))
    })?;
    for row in rows {
        let (created, resolved) = row?;
        if let Some(i) = index(created) {
            days[i].created += 1;
        }
        if let Some(i) = resolved.and_then(index) {
            days[i].resolved += 1;
        }
    }
    Ok(days)
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_interpolate() {
        assert_eq!(percentile(&[], 0.5), None);
        assert_eq!(percentile(&[7], 0.9), Some(7.0));
        assert_eq!(percentile(&[1, 2, 3, 4], 0.5), Some(2.5));
        // 10 values 10..=100: p90 sits 0.1 of the way from 90 to 100.
        let v: Vec<i64> = (1..=10).map(|i| i * 10).collect();
        assert_eq!(percentile(&v, 0.9), Some(91.0));
    }
}
