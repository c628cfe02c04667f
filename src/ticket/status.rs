//! Status and priority changes made by the admin (CLI, review screen): one transaction each,
//! with its event, and the SLA clocks kept right. A ticket taken back from noise or spam, or
//! reopened after it was resolved or closed, is a request again: its clocks start over from the
//! customer's latest message.

use crate::store::{self, Store, TicketStatus, events, tickets};

use super::sla;

/// Sets a ticket's status; returns the previous one. `why` goes into the event.
pub fn set_status(
    store: &mut Store,
    policy: &sla::Policy,
    ticket_id: i64,
    status: TicketStatus,
    why: &str,
    now: i64,
) -> store::Result<TicketStatus> {
    let tx = store.write()?;
    let old = tickets::set_status(&tx, ticket_id, status, now)?;
    if old != status {
        events::append(
            &tx,
            ticket_id,
            now,
            "status",
            &format!("{old} → {status}: {why}"),
            None,
        )?;
        let over = matches!(
            old,
            TicketStatus::Noise
                | TicketStatus::Spam
                | TicketStatus::Resolved
                | TicketStatus::Closed
        );
        if over && status == TicketStatus::Open {
            let t = tickets::get(&tx, ticket_id)?;
            let start = t.last_inbound_at.unwrap_or(now).min(now);
            let due = sla::start(&tx, policy, ticket_id, start)?;
            events::append(
                &tx,
                ticket_id,
                now,
                "sla",
                &format!(
                    "clocks restarted: first response due {}, resolution due {}",
                    sla::format_utc(due.first_response),
                    sla::format_utc(due.resolution)
                ),
                None,
            )?;
        }
    }
    Store::commit(tx)?;
    Ok(old)
}

/// Takes a ticket set aside as noise (or spam) back into the open list: the one-key restore of
/// the review screen. Returns false when the ticket was neither.
pub fn restore_from_noise(
    store: &mut Store,
    policy: &sla::Policy,
    ticket_id: i64,
    now: i64,
) -> store::Result<bool> {
    let state = tickets::state(store.conn(), ticket_id)?;
    if !matches!(state.status, TicketStatus::Noise | TicketStatus::Spam) {
        return Ok(false);
    }
    set_status(
        store,
        policy,
        ticket_id,
        TicketStatus::Open,
        "restored by the admin",
        now,
    )?;
    Ok(true)
}

/// Sets and pins a ticket's priority (analysis no longer changes it) and recomputes its due
/// times. Returns the previous priority.
pub fn set_priority(
    store: &mut Store,
    policy: &sla::Policy,
    ticket_id: i64,
    priority: &str,
    now: i64,
) -> store::Result<Option<String>> {
    let tx = store.write()?;
    let old = tickets::set_priority(&tx, ticket_id, priority, now)?;
    if old.as_deref() != Some(priority) {
        let due = sla::refresh(&tx, policy, ticket_id)?;
        let detail = match due {
            Some(d) => format!(
                "priority {} → {priority} (set by the admin); first response due {}, resolution due {}",
                old.as_deref().unwrap_or("unset"),
                sla::format_utc(d.first_response),
                sla::format_utc(d.resolution)
            ),
            None => format!(
                "priority {} → {priority} (set by the admin)",
                old.as_deref().unwrap_or("unset")
            ),
        };
        events::append(&tx, ticket_id, now, "priority", &detail, None)?;
    }
    Store::commit(tx)?;
    Ok(old)
}
