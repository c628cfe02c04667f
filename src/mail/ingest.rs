//! The ingest stage: raw bytes in, a stored message on the right ticket out, in the caller's
//! transaction. Parse, classify (C2), thread (C3), store, log. Idempotent by Message-ID; a
//! message that cannot be parsed is stored raw on a flagged ticket, never dropped.

use std::collections::BTreeMap;

use crate::store::db::Db;
use chrono::Datelike;
use rusqlite::Connection;
use serde::Serialize;

use crate::store::{
    self, Direction, MessageClass, TicketStatus, events,
    messages::{self, NewAttachment, NewMessage},
    tickets::{self, NewTicket},
};
use crate::ticket::threading::{Thread, ThreadQuery, Threader, Via};
use crate::ticket::{TicketNumber, sla, subject, token};

use super::loops::{self, Identity};
use super::parse::{self, Parsed};
use super::rules::{self, Rules};

/// Settings of the ingest stage.
#[derive(Debug, Clone)]
pub struct Ingest {
    pub identity: Identity,
    pub threader: Threader,
    /// A reply to a ticket closed longer ago than this opens a new, linked ticket.
    pub reopen_closed_days: i64,
    /// Attachments above this keep only their metadata.
    pub max_attachment_bytes: usize,
    /// Mark new tickets from people, fetched from the mailbox, for the ticket-number
    /// acknowledgment (decided later by `send::ack`, which applies the loop and rate rules).
    /// Imported files never get one.
    pub acknowledge: bool,
    /// When a new ticket's first response and resolution are due.
    pub sla: sla::Policy,
    /// The admin's `[[rules]]`, applied to every inbound message.
    pub rules: Rules,
}

/// One message to ingest and where it came from.
#[derive(Debug, Clone, Copy)]
pub struct RawMessage<'a> {
    pub bytes: &'a [u8],
    /// `import:<path>`, `imap`, `demo`…
    pub source: &'a str,
    pub mailbox: Option<&'a str>,
    pub uidvalidity: Option<u32>,
    pub uid: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    NewTicket { ticket_id: i64, flagged: bool },
    Threaded { ticket_id: i64, flagged: bool },
    Duplicate,
}

/// Counts of an ingest run, printed by `import` and `sync`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Summary {
    pub messages: u64,
    pub new_tickets: u64,
    pub threaded: u64,
    pub duplicates: u64,
    pub flagged: u64,
    pub parse_failures: u64,
    pub by_class: BTreeMap<String, u64>,
}

impl Summary {
    pub fn add(&mut self, outcome: &Outcome, class: Option<MessageClass>, parse_failed: bool) {
        self.messages += 1;
        match outcome {
            Outcome::NewTicket { flagged, .. } => {
                self.new_tickets += 1;
                self.flagged += u64::from(*flagged);
            }
            Outcome::Threaded { flagged, .. } => {
                self.threaded += 1;
                self.flagged += u64::from(*flagged);
            }
            Outcome::Duplicate => self.duplicates += 1,
        }
        if parse_failed {
            self.parse_failures += 1;
        }
        if let (Some(c), false) = (class, matches!(outcome, Outcome::Duplicate)) {
            *self.by_class.entry(c.as_str().to_owned()).or_default() += 1;
        }
    }
}

/// What [`Ingest::one`] did, with the class for the summary.
#[derive(Debug, Clone)]
pub struct Ingested {
    pub outcome: Outcome,
    pub class: Option<MessageClass>,
    pub parse_error: Option<String>,
}

const DAY: i64 = 86_400;

/// The part of ingesting that needs no store: parsing, identity and class. It can run on
/// another thread than the one writing to the store.
#[derive(Debug)]
pub struct Prepared {
    parsed: Result<Parsed, String>,
    message_id: String,
    synthetic: bool,
    class: Option<loops::Classification>,
    raw_sha256: String,
}

impl Ingest {
    /// Parses and classifies a message (no store access).
    pub fn prepare(&self, raw: &[u8]) -> Prepared {
        let parsed = parse::parse(raw);
        let (message_id, synthetic) = match parsed.as_ref().ok().and_then(|p| p.message_id.clone())
        {
            Some(id) => (id, false),
            None => (parse::synthetic_id(raw), true),
        };
        let class = parsed
            .as_ref()
            .ok()
            .map(|p| loops::classify(p, &self.identity));
        Prepared {
            parsed,
            message_id,
            synthetic,
            class,
            raw_sha256: parse::sha256_hex(raw),
        }
    }

    /// Ingests one message inside the caller's write transaction.
    pub fn one(&self, tx: &Connection, raw: &RawMessage<'_>, now: i64) -> store::Result<Ingested> {
        let prepared = self.prepare(raw.bytes);
        self.store(tx, raw, &prepared, now)
    }

    /// Stores a prepared message inside the caller's write transaction: threads it, files it
    /// on its ticket and logs what happened. A message already stored is a duplicate.
    pub fn store(
        &self,
        tx: &impl Db,
        raw: &RawMessage<'_>,
        prepared: &Prepared,
        now: i64,
    ) -> store::Result<Ingested> {
        let message_id = &prepared.message_id;
        if messages::exists(tx, message_id)? {
            return Ok(Ingested {
                outcome: Outcome::Duplicate,
                class: None,
                parse_error: None,
            });
        }
        let (p, c) = match (&prepared.parsed, &prepared.class) {
            (Ok(p), Some(c)) => (p, c),
            _ => {
                let e = match &prepared.parsed {
                    Err(e) => e.as_str(),
                    Ok(_) => "the message could not be classified",
                };
                let outcome =
                    self.store_unparsed(tx, raw, message_id, &prepared.raw_sha256, e, now)?;
                return Ok(Ingested {
                    outcome,
                    class: None,
                    parse_error: Some(e.to_owned()),
                });
            }
        };
        let mut ctx = Ctx {
            ing: self,
            tx,
            raw,
            p,
            message_id,
            synthetic: prepared.synthetic,
            raw_sha256: &prepared.raw_sha256,
            class: c.class,
            reason: &c.reason,
            now,
            requester_added: None,
        };
        let outcome = match c.class {
            MessageClass::Human | MessageClass::Note => ctx.human()?,
            MessageClass::OutOfOffice => ctx.automatic(true, false)?,
            MessageClass::OwnLoop => ctx.automatic(true, true)?,
            MessageClass::Bounce => ctx.bounce()?,
            MessageClass::AutoGenerated | MessageClass::NoReply => ctx.automatic(false, false)?,
        };
        Ok(Ingested {
            outcome,
            class: Some(c.class),
            parse_error: None,
        })
    }

    fn next_number(&self, tx: &impl Db, now: i64) -> store::Result<TicketNumber> {
        let year = chrono::DateTime::from_timestamp(now, 0).map_or(1970, |d| d.year());
        let prefix = self.threader.tags.prefix();
        let seq = tickets::next_seq(tx, prefix, year)?;
        Ok(TicketNumber::new(prefix, year, seq))
    }

    fn store_unparsed(
        &self,
        tx: &impl Db,
        raw: &RawMessage<'_>,
        message_id: &str,
        raw_sha256: &str,
        error: &str,
        now: i64,
    ) -> store::Result<Outcome> {
        let number = self.next_number(tx, now)?.to_string();
        let reason = format!("could not be parsed ({error}); the raw message is kept");
        let ticket_id = tickets::insert(
            tx,
            &NewTicket {
                number: &number,
                subject: "(unreadable message)",
                subject_norm: "(unreadable message)",
                requester_addr: "(unknown sender)",
                requester_name: None,
                status: TicketStatus::Open,
                review_reason: Some(&reason),
                flagged: true,
                linked_ticket_id: None,
                last_inbound_at: Some(now),
                now,
                sla: None,
            },
        )?;
        let row = messages::insert(
            tx,
            &NewMessage {
                ticket_id,
                message_id,
                message_id_synthetic: true,
                direction: Direction::Inbound,
                class: MessageClass::Human,
                class_reason: None,
                from_addr: None,
                from_name: None,
                reply_to: None,
                to_addrs: "",
                cc_addrs: "",
                subject: "",
                sent_at: None,
                stored_at: now,
                in_reply_to: "",
                refs: "",
                body_text: "",
                quoted_text: "",
                signature_text: "",
                body_source: "none",
                parse_error: Some(error),
                raw: raw.bytes,
                raw_sha256,
                source: raw.source,
                mailbox: raw.mailbox,
                uidvalidity: raw.uidvalidity,
                uid: raw.uid,
            },
        )?;
        events::append(tx, ticket_id, now, "quarantined", &reason, Some(row))?;
        Ok(Outcome::NewTicket {
            ticket_id,
            flagged: true,
        })
    }
}

/// One message being ingested.
struct Ctx<'a, D: Db> {
    ing: &'a Ingest,
    tx: &'a D,
    raw: &'a RawMessage<'a>,
    p: &'a Parsed,
    message_id: &'a str,
    synthetic: bool,
    raw_sha256: &'a str,
    class: MessageClass,
    reason: &'a str,
    now: i64,
    /// The requester's address once added as a participant of a new ticket.
    requester_added: Option<String>,
}

impl<D: Db> Ctx<'_, D> {
    fn sender(&self) -> Option<&str> {
        self.p.from.as_ref().map(|f| f.addr.as_str())
    }

    /// When the customer wrote: the Date header, unless missing or in the future.
    fn sent_at(&self) -> i64 {
        self.p.date.filter(|d| *d <= self.now).unwrap_or(self.now)
    }

    fn mark_for_ack(&self, ticket_id: i64) -> store::Result<()> {
        if self.ing.acknowledge && self.raw.source.starts_with("imap") {
            tickets::set_ack_state(self.tx.connection(), ticket_id, "pending")?;
        }
        Ok(())
    }

    fn sender_display(&self) -> String {
        self.p
            .from
            .as_ref()
            .map_or_else(|| "an unknown sender".to_owned(), |f| f.to_string())
    }

    fn query(&self, use_tag: bool, trust_tag: bool) -> ThreadQuery<'_> {
        ThreadQuery {
            in_reply_to: &self.p.in_reply_to,
            references: &self.p.references,
            subject: &self.p.subject,
            sender: self.sender(),
            use_tag,
            trust_tag,
        }
    }

    fn human(&mut self) -> store::Result<Outcome> {
        let thread = self
            .ing
            .threader
            .resolve(self.tx, &self.query(true, false))?;
        match thread {
            Thread::Existing { ticket_id, via } => {
                let state = tickets::state(self.tx, ticket_id)?;
                let limit = self.ing.reopen_closed_days * DAY;
                if state.status == TicketStatus::Closed
                    && state.closed_at.is_some_and(|at| self.now - at > limit)
                {
                    let old = tickets::get(self.tx.connection(), ticket_id)?;
                    let reason = format!(
                        "follow-up to {} (closed more than {} days ago)",
                        old.number, self.ing.reopen_closed_days
                    );
                    let (new_id, row, number) =
                        self.new_ticket(TicketStatus::Open, None, false, Some(ticket_id))?;
                    events::append(self.tx, new_id, self.now, "linked", &reason, Some(row))?;
                    events::append(
                        self.tx,
                        ticket_id,
                        self.now,
                        "follow-up",
                        &format!("{} opened for a reply to this closed ticket", number),
                        None,
                    )?;
                    if self.apply_rules(new_id, row)? {
                        messages::insert_draft(self.tx, new_id, row, self.now)?;
                        self.mark_for_ack(new_id)?;
                    }
                    return Ok(Outcome::NewTicket {
                        ticket_id: new_id,
                        flagged: false,
                    });
                }
                let row = self.attach(ticket_id, Direction::Inbound)?;
                tickets::touch_inbound(self.tx, ticket_id, self.now, self.sent_at())?;
                events::append(
                    self.tx,
                    ticket_id,
                    self.now,
                    "received",
                    &format!(
                        "reply from {} (threaded by {})",
                        self.sender_display(),
                        via.as_str()
                    ),
                    Some(row),
                )?;
                if matches!(
                    state.status,
                    TicketStatus::Waiting
                        | TicketStatus::Resolved
                        | TicketStatus::Closed
                        | TicketStatus::Noise
                ) {
                    tickets::set_status(
                        self.tx.connection(),
                        ticket_id,
                        TicketStatus::Open,
                        self.now,
                    )?;
                    events::append(
                        self.tx,
                        ticket_id,
                        self.now,
                        "status",
                        &format!("{} → open: the customer replied", state.status),
                        Some(row),
                    )?;
                    // Waiting was the customer's turn; anything else was over: a new request.
                    if state.status != TicketStatus::Waiting {
                        self.start_sla(ticket_id, row, "reopened")?;
                    }
                }
                if self.apply_rules(ticket_id, row)? {
                    messages::draft_for_new_turn(self.tx, ticket_id, row, self.now)?;
                }
                Ok(Outcome::Threaded {
                    ticket_id,
                    flagged: false,
                })
            }
            Thread::New { mentions } => {
                let (review, linked) = match &mentions {
                    Some((id, number)) => (
                        Some(format!(
                            "subject mentions {number}, but {} is not a participant of it",
                            self.sender().unwrap_or("the sender")
                        )),
                        Some(*id),
                    ),
                    None => (None, None),
                };
                let (ticket_id, row, number) = self.new_ticket(
                    TicketStatus::Open,
                    review.as_deref(),
                    mentions.is_some(),
                    linked,
                )?;
                events::append(
                    self.tx,
                    ticket_id,
                    self.now,
                    "created",
                    &format!("new ticket from {}", self.sender_display()),
                    Some(row),
                )?;
                let flagged = mentions.is_some();
                if let Some((mentioned, mentioned_number)) = mentions {
                    events::append(
                        self.tx,
                        ticket_id,
                        self.now,
                        "linked",
                        &format!("mentions {mentioned_number}"),
                        Some(row),
                    )?;
                    events::append(
                        self.tx,
                        mentioned,
                        self.now,
                        "mentioned",
                        &format!(
                            "{} quoted this ticket's tag; kept apart as {number}",
                            self.sender_display()
                        ),
                        None,
                    )?;
                }
                if let Some(requester) = self.sender() {
                    let subject_norm = subject::normalize(&self.p.subject, &self.ing.threader.tags);
                    if let Some((_, other)) = tickets::same_subject_since(
                        self.tx,
                        requester,
                        &subject_norm,
                        self.now - 7 * DAY,
                        ticket_id,
                    )? {
                        events::append(
                            self.tx,
                            ticket_id,
                            self.now,
                            "merge-suggested",
                            &format!("same sender and subject as {other} within 7 days"),
                            None,
                        )?;
                    }
                }
                if self.apply_rules(ticket_id, row)? {
                    messages::insert_draft(self.tx, ticket_id, row, self.now)?;
                    self.mark_for_ack(ticket_id)?;
                }
                Ok(Outcome::NewTicket { ticket_id, flagged })
            }
        }
    }

    /// Out-of-office, own copies, list and no-reply mail: joins its ticket without changing it,
    /// or opens one to review. `use_tag`: may the subject tag thread it; `ours`: trust the tag.
    fn automatic(&mut self, use_tag: bool, ours: bool) -> store::Result<Outcome> {
        let thread = self
            .ing
            .threader
            .resolve(self.tx, &self.query(use_tag, ours))?;
        self.attach_or_review(thread)
    }

    fn bounce(&mut self) -> store::Result<Outcome> {
        // Bounce linkage (C3.4): the enclosed original's id, then the bounce's own headers.
        let original = self
            .p
            .report
            .as_ref()
            .and_then(|r| r.original_message_id.clone());
        let mut thread = None;
        if let Some(id) = &original {
            let ids = [id.clone()];
            let refs: Vec<&String> = ids.iter().collect();
            if let Some(t) = self.ing.threader.by_token(self.tx, &refs)? {
                thread = Some(Thread::Existing {
                    ticket_id: t,
                    via: Via::Token,
                });
            } else if let Some(found) = messages::find(self.tx, id)? {
                thread = Some(Thread::Existing {
                    ticket_id: found.ticket_id,
                    via: Via::References,
                });
            }
        }
        let thread = match thread {
            Some(t) => t,
            None => self
                .ing
                .threader
                .resolve(self.tx, &self.query(false, false))?,
        };
        self.attach_or_review(thread)
    }

    fn attach_or_review(&mut self, thread: Thread) -> store::Result<Outcome> {
        let direction = if self.class == MessageClass::OwnLoop {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        match thread {
            Thread::Existing { ticket_id, .. } => {
                let row = self.attach(ticket_id, direction)?;
                tickets::touch(self.tx.connection(), ticket_id, self.now)?;
                events::append(
                    self.tx,
                    ticket_id,
                    self.now,
                    self.class.as_str(),
                    &self.event_detail(),
                    Some(row),
                )?;
                if direction == Direction::Inbound {
                    self.apply_rules(ticket_id, row)?;
                }
                Ok(Outcome::Threaded {
                    ticket_id,
                    flagged: false,
                })
            }
            Thread::New { .. } => {
                // Machine mail with no ticket to join (auto-replies, newsletters, alerts,
                // notifications, bounces): kept as noise, reviewable and restorable with one
                // key, never answered by itself. A rule can set another status.
                let review = format!(
                    "{}: {}; not answered automatically",
                    self.class, self.reason
                );
                let (ticket_id, row, _) =
                    self.new_ticket(TicketStatus::Noise, Some(&review), false, None)?;
                events::append(self.tx, ticket_id, self.now, "created", &review, Some(row))?;
                if direction == Direction::Inbound {
                    self.apply_rules(ticket_id, row)?;
                }
                Ok(Outcome::NewTicket {
                    ticket_id,
                    flagged: false,
                })
            }
        }
    }

    fn event_detail(&self) -> String {
        let mut d = format!(
            "{} from {}: {}",
            self.class,
            self.sender_display(),
            self.reason
        );
        if let Some(r) = &self.p.report {
            if !r.statuses.is_empty() {
                d.push_str(&format!(
                    "; {} delivery to {} (status {}{})",
                    if r.is_permanent() {
                        "permanent failure of"
                    } else {
                        "delayed"
                    },
                    if r.final_recipients.is_empty() {
                        "?".to_owned()
                    } else {
                        r.final_recipients.join(", ")
                    },
                    r.statuses.join(", "),
                    r.diagnostic
                        .as_ref()
                        .map(|x| format!(": {x}"))
                        .unwrap_or_default()
                ));
            }
            if let Some(id) = &r.original_message_id {
                d.push_str(&format!("; original <{id}>"));
            }
        }
        d
    }

    /// Creates a ticket for this message and stores the message on it.
    fn new_ticket(
        &mut self,
        status: TicketStatus,
        review: Option<&str>,
        flagged: bool,
        linked: Option<i64>,
    ) -> store::Result<(i64, i64, String)> {
        let tags = &self.ing.threader.tags;
        let mut display = subject::display(&self.p.subject, tags);
        if display.is_empty() {
            display = "(no subject)".into();
        }
        let norm = display.to_lowercase();
        let number = self.ing.next_number(self.tx, self.now)?.to_string();
        // Our own copy's "requester" is the person it was sent to.
        let direction = if self.class == MessageClass::OwnLoop {
            Direction::Outbound
        } else {
            Direction::Inbound
        };
        let requester = if self.class == MessageClass::OwnLoop {
            self.p
                .to
                .iter()
                .find(|m| !self.ing.identity.is_ours(&m.addr))
                .or(self.p.from.as_ref())
        } else {
            self.p.from.as_ref()
        };
        // An inbound ticket's clocks start with it: its due times go in with the row (a new
        // ticket has no priority yet), instead of a second write to it.
        let sla = (direction == Direction::Inbound).then(|| {
            let start = self.sent_at();
            let due = self.ing.sla.due(start, None);
            tickets::SlaTimes {
                start,
                first_response_due: due.first_response,
                resolution_due: due.resolution,
            }
        });
        let ticket_id = tickets::insert(
            self.tx,
            &NewTicket {
                number: &number,
                subject: &display,
                subject_norm: &norm,
                requester_addr: requester.map_or("(unknown sender)", |m| m.addr.as_str()),
                requester_name: requester.and_then(|m| m.name.as_deref()),
                status,
                review_reason: review,
                flagged,
                linked_ticket_id: linked,
                last_inbound_at: (direction == Direction::Inbound).then_some(self.sent_at()),
                now: self.now,
                sla,
            },
        )?;
        if let Some(r) = requester {
            tickets::add_participant(self.tx, ticket_id, &r.addr, "requester")?;
            self.requester_added = Some(r.addr.clone());
        }
        let row = self.attach(ticket_id, direction)?;
        Ok((ticket_id, row, number))
    }

    /// Starts the SLA clocks again from this message (a ticket reopened after it was over).
    fn start_sla(&mut self, ticket_id: i64, row: i64, why: &str) -> store::Result<()> {
        let due = sla::start(
            self.tx.connection(),
            &self.ing.sla,
            ticket_id,
            self.sent_at(),
        )?;
        events::append(
            self.tx,
            ticket_id,
            self.now,
            "sla",
            &format!(
                "{why}: first response due {}, resolution due {}",
                sla::format_utc(due.first_response),
                sla::format_utc(due.resolution)
            ),
            Some(row),
        )
    }

    /// Applies the matching `[[rules]]` to the message's ticket and logs each; returns whether
    /// the message should still be queued for AI analysis and a draft.
    fn apply_rules(&mut self, ticket_id: i64, row: i64) -> store::Result<bool> {
        let rules = &self.ing.rules;
        if rules.is_empty() {
            return Ok(true);
        }
        let message = rules::Message {
            from: self.sender(),
            subject: &self.p.subject,
            body: &self.p.body.new_text,
        };
        let matched = rules.matching(&message);
        for m in &matched {
            events::append(
                self.tx,
                ticket_id,
                self.now,
                "rule",
                &format!("rule {:?} matched: {}", m.name, m.actions.describe()),
                Some(row),
            )?;
        }
        let a = Rules::decide(&matched);
        if let Some(p) = &a.priority {
            let old = tickets::set_priority(self.tx.connection(), ticket_id, p, self.now)?;
            if old.as_deref() != Some(p.as_str()) {
                sla::refresh(self.tx.connection(), &self.ing.sla, ticket_id)?;
            }
        }
        if let Some(c) = &a.category {
            tickets::set_category(self.tx.connection(), ticket_id, c, self.now)?;
        }
        if let Some(s) = a.status {
            let old = tickets::set_status(self.tx.connection(), ticket_id, s, self.now)?;
            if old != s {
                events::append(
                    self.tx,
                    ticket_id,
                    self.now,
                    "status",
                    &format!("{old} → {s}: set by a rule"),
                    Some(row),
                )?;
            }
        }
        Ok(!a.skip_ai && a.status.is_none_or(|s| s == TicketStatus::Open))
    }

    /// Stores the message, its attachments and its participants on a ticket.
    fn attach(&mut self, ticket_id: i64, direction: Direction) -> store::Result<i64> {
        let p = self.p;
        let join = |list: &[parse::Mailbox]| {
            list.iter()
                .map(|m| m.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        let class_reason = (!self.reason.is_empty()).then_some(self.reason);
        let row = messages::insert(
            self.tx,
            &NewMessage {
                ticket_id,
                message_id: self.message_id,
                message_id_synthetic: self.synthetic,
                direction,
                class: self.class,
                class_reason,
                from_addr: p.from.as_ref().map(|f| f.addr.as_str()),
                from_name: p.from.as_ref().and_then(|f| f.name.as_deref()),
                reply_to: p.reply_to.as_ref().map(|f| f.addr.as_str()),
                to_addrs: &join(&p.to),
                cc_addrs: &join(&p.cc),
                subject: &p.subject,
                sent_at: p.date,
                stored_at: self.now,
                in_reply_to: &p.in_reply_to.join(" "),
                refs: &p.references.join(" "),
                body_text: &p.body.new_text,
                quoted_text: &p.body.quoted,
                signature_text: &p.body.signature,
                body_source: p.body_source,
                parse_error: None,
                raw: self.raw.bytes,
                raw_sha256: self.raw_sha256,
                source: self.raw.source,
                mailbox: self.raw.mailbox,
                uidvalidity: self.raw.uidvalidity,
                uid: self.raw.uid,
            },
        )?;
        let cap = self.ing.max_attachment_bytes;
        for a in &p.attachments {
            let over = a.content.len() > cap;
            let note = over.then(|| {
                format!(
                    "{} bytes, over the {} byte cap: metadata only",
                    a.content.len(),
                    cap
                )
            });
            messages::insert_attachment(
                self.tx,
                row,
                &NewAttachment {
                    filename: a.filename.as_deref(),
                    content_type: &a.content_type,
                    size: a.content.len(),
                    sha256: &a.sha256,
                    content_id: a.content_id.as_deref(),
                    inline: a.inline,
                    content: (!over).then_some(a.content.as_slice()),
                    note: note.as_deref(),
                },
            )?;
        }
        if self.class == MessageClass::Human {
            let mut added: Vec<&str> = self.requester_added.as_deref().into_iter().collect();
            if let Some(s) = self.sender()
                && !added.contains(&s)
            {
                tickets::add_participant(self.tx, ticket_id, s, "sender")?;
                added.push(s);
            }
            for m in p.to.iter().chain(&p.cc) {
                if !self.ing.identity.is_ours(&m.addr) && !added.contains(&m.addr.as_str()) {
                    tickets::add_participant(self.tx, ticket_id, &m.addr, "cc")?;
                    added.push(&m.addr);
                }
            }
        }
        Ok(row)
    }
}

/// Builds the identity and threader from the account address, prefix and instance key.
pub fn identity_for(
    address: Option<&str>,
    prefix: &str,
    key: token::TokenKey,
) -> (Identity, Threader) {
    let addresses: Vec<String> = address.map(|a| a.to_lowercase()).into_iter().collect();
    let domain = address
        .and_then(|a| a.rsplit_once('@'))
        .map_or_else(|| "helpdesk.invalid".to_owned(), |(_, d)| d.to_lowercase());
    let tags = crate::ticket::TagMatcher::new(prefix);
    (
        Identity {
            addresses,
            domain: domain.clone(),
            prefix: prefix.to_ascii_uppercase(),
            key: key.clone(),
        },
        Threader { key, domain, tags },
    )
}
