//! The admin's decisions on a draft, shared by the CLI and the TUI: approve (render into the
//! outbox), reject with a reason, take an approval back before it is sent, edit, retry.
//! Each is one transaction with an event.

use crate::store::{
    self, DraftState, OutboxKind, OutboxState, Store, events, messages,
    messages::DraftRow,
    outbox::{self, NewOutbox},
    tickets,
};
use crate::ticket::TicketNumber;

use super::compose::{self, ComposeError, Sender};

#[derive(Debug, thiserror::Error)]
pub enum ReviewError {
    #[error("{0} has no reply draft")]
    NoDraft(String),
    #[error("{ticket}: the draft is {state}; {hint}")]
    WrongState {
        ticket: String,
        state: String,
        hint: &'static str,
    },
    #[error("{0}: the draft is empty; write a reply first (`e` in the review screen)")]
    Empty(String),
    #[error("{ticket}: {source}")]
    Compose {
        ticket: String,
        source: ComposeError,
    },
    #[error("[account] address is not set: replies need a From address; add it to the config")]
    NoAddress,
    #[error(transparent)]
    Store(#[from] store::StoreError),
}

fn latest(
    conn: &rusqlite::Connection,
    ticket_id: i64,
    number: &str,
) -> Result<DraftRow, ReviewError> {
    messages::latest_draft(conn, ticket_id)?.ok_or_else(|| ReviewError::NoDraft(number.to_owned()))
}

/// What an approval queued.
#[derive(Debug, Clone)]
pub struct Approved {
    pub outbox_id: i64,
    pub message_id: String,
    pub recipient: String,
    pub subject: String,
}

/// Approves the ticket's draft: the reply is rendered (Message-ID minted now) and queued in
/// the same transaction as the draft's new state.
pub fn approve(
    store: &mut Store,
    sender: &Sender,
    ticket_id: i64,
    now: i64,
) -> Result<Approved, ReviewError> {
    if sender.address.is_empty() {
        return Err(ReviewError::NoAddress);
    }
    let tx = store.write()?;
    let t = tickets::get(&tx, ticket_id)?;
    let draft = latest(&tx, ticket_id, &t.number)?;
    match draft.state {
        DraftState::Drafted
        | DraftState::AnalysisFailed
        | DraftState::Failed
        | DraftState::Rejected => {}
        DraftState::New => {
            return Err(ReviewError::WrongState {
                ticket: t.number,
                state: "not analysed yet".into(),
                hint: "run `helpdesk analyse` or write the reply yourself first",
            });
        }
        s @ (DraftState::Approved | DraftState::Queued) => {
            return Err(ReviewError::WrongState {
                ticket: t.number,
                state: s.to_string(),
                hint: "it is already in the outbox",
            });
        }
        DraftState::Sent => {
            return Err(ReviewError::WrongState {
                ticket: t.number,
                state: "sent".into(),
                hint: "it has already left",
            });
        }
    }
    if draft.body.trim().is_empty() {
        return Err(ReviewError::Empty(t.number));
    }
    let answered = messages::last_inbound(&tx, ticket_id)?.ok_or_else(|| ReviewError::Compose {
        ticket: t.number.clone(),
        source: ComposeError::NothingToAnswer,
    })?;
    let number: TicketNumber = t.number.parse().map_err(|_| ReviewError::Compose {
        ticket: t.number.clone(),
        source: ComposeError::Build(format!("{} is not a ticket number", t.number)),
    })?;
    let mut seq = outbox::count_for_ticket(&tx, ticket_id)? as u32 + 1;
    let composed = loop {
        let c = compose::reply(sender, &number, &answered, &draft.body, seq, now).map_err(
            |source| ReviewError::Compose {
                ticket: t.number.clone(),
                source,
            },
        )?;
        if !messages::exists(&tx, &c.message_id)? && outbox_id_free(&tx, &c.message_id)? {
            break c;
        }
        seq += 1;
    };
    let outbox_id = outbox::enqueue(
        &tx,
        &NewOutbox {
            ticket_id,
            draft_id: Some(draft.id),
            kind: OutboxKind::Reply,
            message_id: &composed.message_id,
            recipients: &composed.recipient,
            subject: &composed.subject,
            raw: &composed.raw,
            now,
        },
    )?;
    messages::set_draft_state(&tx, draft.id, DraftState::Approved, None, now)?;
    tickets::touch(&tx, ticket_id, now)?;
    events::append(
        &tx,
        ticket_id,
        now,
        "approved",
        &format!(
            "reply to {} queued <{}>",
            composed.recipient, composed.message_id
        ),
        None,
    )?;
    Store::commit(tx)?;
    Ok(Approved {
        outbox_id,
        message_id: composed.message_id,
        recipient: composed.recipient,
        subject: composed.subject,
    })
}

fn outbox_id_free(conn: &rusqlite::Connection, message_id: &str) -> store::Result<bool> {
    Ok(!conn
        .prepare_cached("SELECT 1 FROM outbox WHERE message_id = ?1")?
        .exists([message_id])?)
}

/// Rejects the draft with a reason: nothing is sent.
pub fn reject(
    store: &mut Store,
    ticket_id: i64,
    reason: &str,
    now: i64,
) -> Result<(), ReviewError> {
    let tx = store.write()?;
    let t = tickets::get(&tx, ticket_id)?;
    let draft = latest(&tx, ticket_id, &t.number)?;
    if matches!(draft.state, DraftState::Approved | DraftState::Queued) {
        return Err(ReviewError::WrongState {
            ticket: t.number,
            state: "approved".into(),
            hint: "take the approval back first (`u`, or `helpdesk unapprove`)",
        });
    }
    if draft.state == DraftState::Sent {
        return Err(ReviewError::WrongState {
            ticket: t.number,
            state: "sent".into(),
            hint: "it has already left",
        });
    }
    let reason = reason.trim();
    messages::set_draft_state(&tx, draft.id, DraftState::Rejected, Some(reason), now)?;
    tickets::touch(&tx, ticket_id, now)?;
    events::append(&tx, ticket_id, now, "rejected", reason, None)?;
    Store::commit(tx)?;
    Ok(())
}

/// Takes an approval back while its reply is still queued (not yet being sent).
pub fn unapprove(store: &mut Store, ticket_id: i64, now: i64) -> Result<(), ReviewError> {
    let tx = store.write()?;
    let t = tickets::get(&tx, ticket_id)?;
    let draft = latest(&tx, ticket_id, &t.number)?;
    if !matches!(draft.state, DraftState::Approved | DraftState::Queued) {
        return Err(ReviewError::WrongState {
            ticket: t.number,
            state: draft.state.to_string(),
            hint: "only an approved reply that has not been sent can be taken back",
        });
    }
    let row = outbox::for_draft(&tx, draft.id)?;
    match row {
        Some(r) if r.state == OutboxState::Queued => {
            outbox::withdraw(&tx, r.id)?;
        }
        Some(r) => {
            return Err(ReviewError::WrongState {
                ticket: t.number,
                state: format!("already {}", r.state),
                hint: "it can no longer be taken back",
            });
        }
        None => {}
    }
    messages::set_draft_state(&tx, draft.id, DraftState::Drafted, None, now)?;
    events::append(
        &tx,
        ticket_id,
        now,
        "unapproved",
        "approval taken back before sending",
        None,
    )?;
    Store::commit(tx)?;
    Ok(())
}

/// Replaces the draft's text. An approved, unsent draft is taken back first (it must be
/// approved again); a failed one stays failed until approved again.
pub fn edit(store: &mut Store, ticket_id: i64, body: &str, now: i64) -> Result<(), ReviewError> {
    {
        let t = tickets::get(store.conn(), ticket_id)?;
        let draft = latest(store.conn(), ticket_id, &t.number)?;
        if matches!(draft.state, DraftState::Approved | DraftState::Queued) {
            unapprove(store, ticket_id, now)?;
        }
        if draft.state == DraftState::Sent {
            return Err(ReviewError::WrongState {
                ticket: t.number,
                state: "sent".into(),
                hint: "it has already left",
            });
        }
    }
    let tx = store.write()?;
    let t = tickets::get(&tx, ticket_id)?;
    let draft = latest(&tx, ticket_id, &t.number)?;
    messages::set_draft_body(&tx, draft.id, body, now)?;
    if matches!(
        draft.state,
        DraftState::New | DraftState::Rejected | DraftState::AnalysisFailed
    ) {
        messages::set_draft_state(&tx, draft.id, DraftState::Drafted, None, now)?;
    }
    events::append(
        &tx,
        ticket_id,
        now,
        "edited",
        &format!("draft edited ({} characters)", body.chars().count()),
        None,
    )?;
    Store::commit(tx)?;
    Ok(())
}

/// Puts a failed outbox message back in the queue as it is.
pub fn retry(store: &mut Store, outbox_id: i64, now: i64) -> Result<bool, ReviewError> {
    let tx = store.write()?;
    let Some(row) = outbox::get(&tx, outbox_id)? else {
        return Ok(false);
    };
    if !outbox::retry(&tx, outbox_id)? {
        return Ok(false);
    }
    if let Some(d) = row.draft_id {
        messages::set_draft_state(&tx, d, DraftState::Approved, None, now)?;
    }
    events::append(
        &tx,
        row.ticket_id,
        now,
        "send-retry",
        &format!(
            "{} to {} queued again by the admin",
            row.kind, row.recipients
        ),
        None,
    )?;
    Store::commit(tx)?;
    Ok(true)
}

/// Adds an internal note to the ticket: shown in the thread, never sent.
pub fn add_note(
    store: &mut Store,
    ticket_id: i64,
    text: &str,
    now: i64,
) -> Result<i64, ReviewError> {
    let text = text.trim();
    let mut nonce = [0u8; 8];
    getrandom::fill(&mut nonce).expect("the operating system's random source");
    let id = format!("note-{now}-{}@helpdesk.invalid", hex::encode(nonce));
    let tx = store.write()?;
    let row = messages::insert(
        &tx,
        &messages::NewMessage {
            ticket_id,
            message_id: &id,
            message_id_synthetic: true,
            direction: crate::store::Direction::Note,
            class: crate::store::MessageClass::Note,
            class_reason: None,
            from_addr: None,
            from_name: Some("internal note"),
            reply_to: None,
            to_addrs: "",
            cc_addrs: "",
            subject: "",
            sent_at: Some(now),
            stored_at: now,
            in_reply_to: "",
            refs: "",
            body_text: text,
            quoted_text: "",
            signature_text: "",
            body_source: "note",
            parse_error: None,
            raw: text.as_bytes(),
            raw_sha256: &crate::mail::parse::sha256_hex(text.as_bytes()),
            source: "note",
            mailbox: None,
            uidvalidity: None,
            uid: None,
        },
    )?;
    tickets::touch(&tx, ticket_id, now)?;
    events::append(
        &tx,
        ticket_id,
        now,
        "note",
        &format!("internal note ({} characters)", text.chars().count()),
        Some(row),
    )?;
    Store::commit(tx)?;
    Ok(row)
}

/// What the admin can set on a ticket from the review screen or the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Status(crate::store::TicketStatus),
    Priority(String),
    Category(String),
}

pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

/// Sets a status, priority or category, with an event naming the old and new value. Status
/// and priority go through `ticket::status`, so the SLA clocks follow (a reopened ticket starts
/// them again; a new priority recomputes the due times) and the priority is pinned.
pub fn set_field(
    store: &mut Store,
    policy: &crate::ticket::sla::Policy,
    ticket_id: i64,
    field: &Field,
    now: i64,
) -> Result<(), ReviewError> {
    match field {
        Field::Status(s) => {
            crate::ticket::status::set_status(
                store,
                policy,
                ticket_id,
                *s,
                "set by the admin",
                now,
            )?;
        }
        Field::Priority(p) => {
            crate::ticket::status::set_priority(store, policy, ticket_id, p, now)?;
        }
        Field::Category(c) => {
            let tx = store.write()?;
            let old = tickets::set_category(&tx, ticket_id, c, now)?;
            events::append(
                &tx,
                ticket_id,
                now,
                "category",
                &format!("{} → {c} (by the admin)", old.as_deref().unwrap_or("none")),
                None,
            )?;
            Store::commit(tx)?;
        }
    }
    Ok(())
}

/// Sends the draft back to analysis: the next analysis pass writes a new one.
pub fn regenerate(store: &mut Store, ticket_id: i64, now: i64) -> Result<(), ReviewError> {
    let tx = store.write()?;
    let t = tickets::get(&tx, ticket_id)?;
    let draft = latest(&tx, ticket_id, &t.number)?;
    if !draft.state.is_pending()
        && !matches!(draft.state, DraftState::Rejected | DraftState::Failed)
    {
        return Err(ReviewError::WrongState {
            ticket: t.number,
            state: draft.state.to_string(),
            hint: "take the approval back first",
        });
    }
    messages::set_draft_state(&tx, draft.id, DraftState::New, None, now)?;
    events::append(
        &tx,
        ticket_id,
        now,
        "regenerate",
        "draft sent back for a new analysis",
        None,
    )?;
    Store::commit(tx)?;
    Ok(())
}
