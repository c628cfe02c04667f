//! Sending (DESIGN §1, MAIL-RULES C4, C5): approval renders a reply into the outbox in one
//! transaction; a flush sends what is due over one SMTP session, saves a copy in the Sent
//! folder and records the result.
//!
//! Exactly once. Each message goes `queued` → `sending` (committed) → SMTP → the server's
//! acceptance committed at once (`smtp_accepted_at`) → copy APPENDed to Sent → `sent`. A row
//! found in `sending` by the next flush (the process died on the way) is never sent blindly:
//! if its acceptance was recorded it is only finished; otherwise its Message-ID is looked up
//! in the Sent folder first (servers like Gmail file sent mail themselves) and it is sent
//! again only when absent. If the Sent folder cannot be reached the row waits. The one window
//! left is between the server's `250` and our commit of it, a local write of a millisecond.
//!
//! Failures. SMTP 4xx and network errors are retried with a doubling wait, `max_attempts` in
//! all, then the message is `failed`; 5xx is `failed` at once with the server's text. A failed
//! message keeps its error (shown by `helpdesk outbox` and in the TUI) until the admin retries
//! it or edits and approves the draft again.

pub mod ack;
pub mod compose;
pub mod review;
pub mod smtp;

use std::time::{Duration, Instant};

use crate::mail::imap::{self as imap_sync, ImapSettings};
use crate::mail::parse;
use crate::store::{
    self, Direction, DraftState, MessageClass, OutboxKind, Store, TicketStatus, events, messages,
    outbox::{self, OutboxRow},
    tickets,
};

pub use smtp::SmtpSettings;

/// Everything a flush needs.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub smtp: SmtpSettings,
    /// The envelope sender (the account address).
    pub from: String,
    /// Where copies go, and where an interrupted send is looked up.
    pub sent_folder: Option<SentFolder>,
    pub max_attempts: u32,
    pub retry_base: Duration,
}

#[derive(Debug, Clone)]
pub struct SentFolder {
    pub imap: ImapSettings,
    pub folder: String,
}

/// What one flush did.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct FlushReport {
    pub sent: u64,
    /// Temporary failures put back in the queue.
    pub retrying: u64,
    pub failed: u64,
    /// Interrupted sends found delivered (accepted earlier or found in Sent): not sent again.
    pub recovered: u64,
    /// Interrupted sends absent from Sent: queued again.
    pub requeued: u64,
    /// SMTP sessions opened.
    pub connections: u64,
    /// Why the flush stopped early (the server unreachable, a login refused), if it did.
    pub stopped: Option<String>,
    /// Problems that did not stop it (a Sent copy that could not be saved…).
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub elapsed: Duration,
}

/// Where a test may stop the process (`HELPDESK_TEST_ABORT_AT`), to check that a crash there
/// neither loses nor repeats a message. Read once per flush; unset in normal use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum AbortAt {
    /// Right after the SMTP server's acceptance is committed.
    Accepted,
    /// Right after the copy is saved in the Sent folder.
    SentCopy,
}

fn abort_at() -> Option<AbortAt> {
    match std::env::var("HELPDESK_TEST_ABORT_AT").ok()?.as_str() {
        "accepted" => Some(AbortAt::Accepted),
        "sent-copy" => Some(AbortAt::SentCopy),
        _ => None,
    }
}

fn maybe_abort(at: AbortAt, armed: Option<AbortAt>) {
    if armed == Some(at) {
        // As abrupt as a kill -9: no destructors, no flushing.
        std::process::abort();
    }
}

/// A lazily opened IMAP session on the Sent folder.
struct Sent<'a> {
    cfg: &'a SentFolder,
    session: Option<imap_sync::Session>,
}

impl Sent<'_> {
    fn session(&mut self) -> Result<&mut imap_sync::Session, String> {
        if self.session.is_none() {
            let s = imap_sync::connect(&self.cfg.imap).map_err(|e| e.to_string())?;
            self.session = Some(s);
        }
        Ok(self.session.as_mut().expect("just opened"))
    }

    /// Is a message with this Message-ID in the folder? `Ok(false)` also when the folder does
    /// not exist yet.
    fn contains(&mut self, message_id: &str) -> Result<bool, String> {
        let folder = self.cfg.folder.clone();
        let s = self.session()?;
        if s.examine(&folder).is_err() {
            return Ok(false);
        }
        let id = message_id.replace(['"', '\\'], "");
        let found = s
            .uid_search(format!("HEADER Message-ID \"{id}\""))
            .map_err(|e| format!("searching {folder} for <{id}>: {e}"))?;
        Ok(!found.is_empty())
    }

    fn append(&mut self, raw: &[u8]) -> Result<(), String> {
        let folder = self.cfg.folder.clone();
        let s = self.session()?;
        match s.append_with_flags(&folder, raw, &[imap::types::Flag::Seen]) {
            Ok(()) => Ok(()),
            Err(first) => {
                // [TRYCREATE]: the folder does not exist yet.
                if s.create(&folder).is_ok() {
                    s.append_with_flags(&folder, raw, &[imap::types::Flag::Seen])
                        .map_err(|e| format!("saving a copy in {folder}: {e}"))
                } else {
                    Err(format!("saving a copy in {folder}: {first}"))
                }
            }
        }
    }

    fn close(self) {
        if let Some(mut s) = self.session {
            let _ = s.logout();
        }
    }
}

fn backoff(base: Duration, attempts: i64) -> i64 {
    let factor = 1u64 << (attempts.clamp(1, 12) - 1);
    (base.as_secs().saturating_mul(factor)).min(3600) as i64
}

/// Sends what is due: first finishes sends a crash interrupted, then the queue, oldest first,
/// over one SMTP session. Bounded: each queued row is tried at most once per flush.
pub fn flush(
    store: &mut Store,
    out: &Outgoing,
    now: &dyn Fn() -> i64,
    progress: &mut dyn FnMut(u64, u64),
) -> store::Result<FlushReport> {
    let started = Instant::now();
    let armed = abort_at();
    let mut report = FlushReport::default();
    let mut sent = out
        .sent_folder
        .as_ref()
        .map(|cfg| Sent { cfg, session: None });

    recover(store, &mut sent, now, &mut report)?;

    let due = outbox::due(store.conn(), now(), 100_000)?;
    let total = due.len() as u64;
    let mut session: Option<smtp::Session> = None;
    for (i, row) in due.into_iter().enumerate() {
        if report.stopped.is_some() {
            break;
        }
        if session.as_ref().is_some_and(smtp::Session::is_broken) {
            session = None;
        }
        if session.is_none() {
            match smtp::Session::open(&out.smtp) {
                Ok(s) => {
                    report.connections += 1;
                    session = Some(s);
                }
                Err(e) => {
                    // Nothing was tried: the queue waits for the network or a fixed config.
                    let tx = store.write()?;
                    outbox::requeue(
                        &tx,
                        row.id,
                        &e.to_string(),
                        row.next_attempt_at.unwrap_or(0),
                    )?;
                    Store::commit(tx)?;
                    report.stopped = Some(e.to_string());
                    break;
                }
            }
        }
        let tx = store.write()?;
        let claimed = outbox::claim(&tx, row.id)?;
        Store::commit(tx)?;
        if !claimed {
            continue;
        }
        let raw = outbox::raw(store.conn(), row.id)?;
        let recipients: Vec<String> = row
            .recipients
            .split(',')
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        let outcome = session
            .as_mut()
            .expect("opened above")
            .send(&out.from, &recipients, &raw);
        match outcome {
            smtp::Outcome::Accepted(response) => {
                let at = now();
                let tx = store.write()?;
                outbox::mark_accepted(&tx, row.id, &response, at)?;
                Store::commit(tx)?;
                maybe_abort(AbortAt::Accepted, armed);
                let copy = save_copy(&mut sent, &row, &raw);
                maybe_abort(AbortAt::SentCopy, armed);
                finish(
                    store,
                    &row,
                    &raw,
                    copy.as_ref().err(),
                    sent.is_some(),
                    now(),
                    "",
                )?;
                if let Err(w) = copy {
                    report.warnings.push(format!("{}: {w}", row.ticket));
                }
                report.sent += 1;
            }
            smtp::Outcome::Temporary(error) => {
                let attempts = row.attempts + 1;
                let tx = store.write()?;
                if attempts >= i64::from(out.max_attempts) {
                    let error = format!("gave up after {attempts} attempts: {error}");
                    fail(&tx, &row, &error, now())?;
                    report.failed += 1;
                } else {
                    let at = now() + backoff(out.retry_base, attempts);
                    outbox::requeue(&tx, row.id, &error, at)?;
                    events::append(
                        &tx,
                        row.ticket_id,
                        now(),
                        "send-retry",
                        &format!(
                            "{} to {} not accepted yet (attempt {attempts} of {}): {error}",
                            row.kind, row.recipients, out.max_attempts
                        ),
                        None,
                    )?;
                    report.retrying += 1;
                }
                Store::commit(tx)?;
            }
            smtp::Outcome::Permanent(error) => {
                let tx = store.write()?;
                fail(&tx, &row, &error, now())?;
                Store::commit(tx)?;
                report.failed += 1;
            }
        }
        progress(i as u64 + 1, total);
    }
    if let Some(s) = session {
        s.quit();
    }
    if let Some(s) = sent {
        s.close();
    }
    report.elapsed = started.elapsed();
    Ok(report)
}

/// Rows left in `sending` by an interrupted flush: finished if delivered, queued again only
/// when the Sent folder shows they never left.
fn recover(
    store: &mut Store,
    sent: &mut Option<Sent<'_>>,
    now: &dyn Fn() -> i64,
    report: &mut FlushReport,
) -> store::Result<()> {
    for row in outbox::in_flight(store.conn())? {
        let raw = outbox::raw(store.conn(), row.id)?;
        if row.smtp_accepted_at.is_some() {
            // Delivered; only the Sent copy and the bookkeeping may be missing.
            let copy = match sent.as_mut() {
                Some(s) => match s.contains(&row.message_id) {
                    Ok(true) => Ok(()),
                    Ok(false) => s.append(&raw),
                    Err(e) => Err(e),
                },
                None => Ok(()),
            };
            finish(
                store,
                &row,
                &raw,
                copy.as_ref().err(),
                sent.is_some(),
                now(),
                " (finished after an interruption; the server had accepted it, not sent again)",
            )?;
            report.recovered += 1;
            continue;
        }
        let Some(s) = sent.as_mut() else {
            // No Sent folder to ask: send again (at least once) and say so.
            let tx = store.write()?;
            outbox::requeue(
                &tx,
                row.id,
                "interrupted while sending and no [smtp] save_sent folder to check; sending again",
                now(),
            )?;
            Store::commit(tx)?;
            report.requeued += 1;
            continue;
        };
        match s.contains(&row.message_id) {
            Ok(true) => {
                let at = now();
                let tx = store.write()?;
                outbox::mark_accepted(
                    &tx,
                    row.id,
                    "found in the Sent folder after an interruption",
                    at,
                )?;
                outbox::mark_sent_copy(&tx, row.id, None, at)?;
                Store::commit(tx)?;
                finish(
                    store,
                    &row,
                    &raw,
                    None,
                    false,
                    at,
                    " (found in the Sent folder after an interruption; not sent again)",
                )?;
                report.recovered += 1;
            }
            Ok(false) => {
                let tx = store.write()?;
                outbox::requeue(
                    &tx,
                    row.id,
                    "interrupted before the server accepted it (not in the Sent folder); sending again",
                    now(),
                )?;
                Store::commit(tx)?;
                report.requeued += 1;
            }
            Err(e) => {
                // Unknown: never risk a duplicate. It waits for the next flush.
                report.warnings.push(format!(
                    "{}: an interrupted send cannot be checked in the Sent folder yet ({e}); it waits",
                    row.ticket
                ));
            }
        }
    }
    Ok(())
}

fn save_copy(sent: &mut Option<Sent<'_>>, row: &OutboxRow, raw: &[u8]) -> Result<(), String> {
    let Some(s) = sent.as_mut() else {
        return Ok(());
    };
    let r = s.append(raw);
    if r.is_err() {
        // A broken session is reopened for the next message.
        s.session = None;
    }
    r.map_err(|e| format!("{} was sent but {e}", row.message_id))
}

fn fail(tx: &rusqlite::Connection, row: &OutboxRow, error: &str, now: i64) -> store::Result<()> {
    outbox::mark_failed(tx, row.id, error)?;
    if let Some(d) = row.draft_id {
        messages::set_draft_state(tx, d, DraftState::Failed, Some(error), now)?;
    }
    events::append(
        tx,
        row.ticket_id,
        now,
        "send-failed",
        &format!("{} to {} failed: {error}", row.kind, row.recipients),
        None,
    )?;
    Ok(())
}

/// The bookkeeping of a delivered message, in one transaction: the outbox row `sent`, the
/// message stored on the ticket, the draft `sent`, the ticket `waiting` with its first-response
/// time, and an event.
fn finish(
    store: &mut Store,
    row: &OutboxRow,
    raw: &[u8],
    copy_error: Option<&String>,
    copy_tried: bool,
    now: i64,
    note: &str,
) -> store::Result<()> {
    let tx = store.write()?;
    if copy_tried {
        outbox::mark_sent_copy(&tx, row.id, copy_error.map(String::as_str), now)?;
    }
    outbox::mark_sent(&tx, row.id, now)?;
    let message_row = store_outbound(&tx, row, raw, now)?;
    if let Some(d) = row.draft_id {
        messages::set_draft_state(&tx, d, DraftState::Sent, None, now)?;
    }
    if row.kind == OutboxKind::Reply {
        let status = tickets::state(&tx, row.ticket_id)?.status;
        if matches!(
            status,
            TicketStatus::Open | TicketStatus::Noise | TicketStatus::Spam
        ) {
            tickets::set_status(&tx, row.ticket_id, TicketStatus::Waiting, now)?;
        }
        tickets::record_response(&tx, row.ticket_id, now)?;
    } else {
        tickets::touch(&tx, row.ticket_id, now)?;
    }
    let copy = match (copy_tried, copy_error) {
        (false, _) => String::new(),
        (true, None) => "; copy saved in Sent".into(),
        (true, Some(e)) => format!("; {e}"),
    };
    events::append(
        &tx,
        row.ticket_id,
        now,
        "sent",
        &format!(
            "{} sent to {} <{}>{copy}{note}",
            row.kind, row.recipients, row.message_id
        ),
        message_row,
    )?;
    Store::commit(tx)
}

/// Stores the sent message on its ticket (outbound), unless its copy came back already.
fn store_outbound(
    tx: &rusqlite::Connection,
    row: &OutboxRow,
    raw: &[u8],
    now: i64,
) -> store::Result<Option<i64>> {
    if messages::exists(tx, &row.message_id)? {
        return Ok(None);
    }
    let p = parse::parse(raw).ok();
    let join = |list: &[parse::Mailbox]| {
        list.iter()
            .map(|m| m.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let from = p.as_ref().and_then(|p| p.from.clone());
    let id = messages::insert(
        tx,
        &messages::NewMessage {
            ticket_id: row.ticket_id,
            message_id: &row.message_id,
            message_id_synthetic: false,
            direction: Direction::Outbound,
            class: MessageClass::Human,
            class_reason: (row.kind == OutboxKind::Acknowledgment)
                .then_some("automatic acknowledgment"),
            from_addr: from.as_ref().map(|f| f.addr.as_str()),
            from_name: from.as_ref().and_then(|f| f.name.as_deref()),
            reply_to: None,
            to_addrs: &p
                .as_ref()
                .map_or_else(|| row.recipients.clone(), |p| join(&p.to)),
            cc_addrs: "",
            subject: &row.subject,
            sent_at: Some(now),
            stored_at: now,
            in_reply_to: &p
                .as_ref()
                .map(|p| p.in_reply_to.join(" "))
                .unwrap_or_default(),
            refs: &p
                .as_ref()
                .map(|p| p.references.join(" "))
                .unwrap_or_default(),
            body_text: p.as_ref().map_or("", |p| p.body.new_text.as_str()),
            quoted_text: p.as_ref().map_or("", |p| p.body.quoted.as_str()),
            signature_text: p.as_ref().map_or("", |p| p.body.signature.as_str()),
            body_source: p.as_ref().map_or("none", |p| p.body_source),
            parse_error: None,
            raw,
            raw_sha256: &parse::sha256_hex(raw),
            source: "outbox",
            mailbox: None,
            uidvalidity: None,
            uid: None,
        },
    )?;
    Ok(Some(id))
}
