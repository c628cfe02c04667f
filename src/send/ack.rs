//! The ticket-number acknowledgment (MAIL-RULES C5, RFC 3834). Ingest marks a new ticket from
//! a person `pending`; this stage decides each one: queue the acknowledgment, or withhold it and
//! log the rule that withheld it on the ticket.

use crate::store::{
    self, MessageClass, OutboxKind, Store, events, messages,
    outbox::{self, NewOutbox},
    tickets,
};
use crate::ticket::TicketNumber;

use super::compose::{self, Sender};

const HOUR: i64 = 3600;
const DAY: i64 = 24 * HOUR;
/// No acknowledgment to an address that bounced permanently in this window (C5.1).
const BOUNCE_WINDOW: i64 = 60 * DAY;
/// Zammad's global caps on automatic replies: (window in seconds, most in it).
const GLOBAL_CAPS: &[(i64, i64)] = &[
    (600, 30),
    (1800, 60),
    (HOUR, 120),
    (3 * HOUR, 240),
    (10 * HOUR, 360),
];

#[derive(Debug, Clone)]
pub struct AckSettings {
    pub per_sender_per_hour: u32,
    pub per_sender_per_day: u32,
    /// The text replacing the bundled templates (`[tickets] ack_template`).
    pub template: Option<String>,
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct AckReport {
    pub queued: u64,
    pub withheld: u64,
}

fn bundled(lang: &str) -> &'static str {
    match lang {
        "fr" => include_str!("../../assets/templates/ack.fr.txt"),
        "de" => include_str!("../../assets/templates/ack.de.txt"),
        "es" => include_str!("../../assets/templates/ack.es.txt"),
        _ => include_str!("../../assets/templates/ack.en.txt"),
    }
}

fn fill(template: &str, name: &str, ticket: &str, subject: &str, signature: &str) -> String {
    template
        .replace("{name}", name)
        .replace("{ticket}", ticket)
        .replace("{subject}", subject)
        .replace("{signature}", signature)
}

/// Why no acknowledgment may go to this ticket, if one may not.
fn withheld_by(
    conn: &rusqlite::Connection,
    sender: &Sender,
    settings: &AckSettings,
    first: &messages::Answered,
    now: i64,
) -> store::Result<Result<String, String>> {
    if first.class != MessageClass::Human {
        return Ok(Err(format!(
            "the message is {} (never answered automatically)",
            first.class
        )));
    }
    let ours = sender.address.to_ascii_lowercase();
    let addressed = first
        .to
        .split(',')
        .chain(first.cc.split(','))
        .any(|a| a.to_ascii_lowercase().contains(&ours));
    if !addressed {
        return Ok(Err(
            "our address is not in To or Cc (a Bcc, list or forwarded copy)".into(),
        ));
    }
    let to = match compose::reply_address(first, &sender.address) {
        Ok(to) => to.to_ascii_lowercase(),
        Err(e) => return Ok(Err(e.to_string())),
    };
    if outbox::permanent_failure_to_since(conn, &to, now - BOUNCE_WINDOW)? {
        return Ok(Err(format!(
            "mail to {to} failed permanently in the last 60 days"
        )));
    }
    let hour = outbox::acks_to_since(conn, &to, now - HOUR)?;
    if hour >= i64::from(settings.per_sender_per_hour) {
        return Ok(Err(format!(
            "{to} already got {hour} acknowledgment(s) this hour (limit {})",
            settings.per_sender_per_hour
        )));
    }
    let day = outbox::acks_to_since(conn, &to, now - DAY)?;
    if day >= i64::from(settings.per_sender_per_day) {
        return Ok(Err(format!(
            "{to} already got {day} acknowledgment(s) in 24 hours (limit {})",
            settings.per_sender_per_day
        )));
    }
    for &(window, cap) in GLOBAL_CAPS {
        let n = outbox::acks_since(conn, now - window)?;
        if n >= cap {
            return Ok(Err(format!(
                "{n} acknowledgments in the last {} minutes reach the global cap of {cap}",
                window / 60
            )));
        }
    }
    Ok(Ok(to))
}

/// Decides every pending acknowledgment, one transaction each.
pub fn acknowledge_pending(
    store: &mut Store,
    sender: &Sender,
    settings: &AckSettings,
    now: i64,
) -> store::Result<AckReport> {
    let mut report = AckReport::default();
    for ticket_id in tickets::ack_pending(store.conn())? {
        let tx = store.write()?;
        let t = tickets::get(&tx, ticket_id)?;
        let decision = match messages::first_of(&tx, ticket_id)? {
            Some(first) => withheld_by(&tx, sender, settings, &first, now)?.map(|to| (to, first)),
            None => Err("the ticket has no message".into()),
        };
        let decision = decision.and_then(|(to, first)| {
            let number: TicketNumber = t
                .number
                .parse()
                .map_err(|_| format!("{} is not a ticket number", t.number))?;
            let lang = crate::ai::offline::language_of(&first.body);
            let template = settings
                .template
                .as_deref()
                .unwrap_or_else(|| bundled(&lang));
            let name = first
                .from_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .unwrap_or_else(|| to.clone());
            let signature = sender
                .signature
                .clone()
                .unwrap_or_else(|| sender.name.clone());
            let text = fill(template, &name, &t.number, &t.subject, &signature);
            let seq =
                outbox::count_for_ticket(&tx, ticket_id).map_err(|e| e.to_string())? as u32 + 1;
            compose::acknowledgment(sender, &number, &first, &to, &text, seq, now)
                .map_err(|e| e.to_string())
        });
        match decision {
            Ok(c) => {
                outbox::enqueue(
                    &tx,
                    &NewOutbox {
                        ticket_id,
                        draft_id: None,
                        kind: OutboxKind::Acknowledgment,
                        message_id: &c.message_id,
                        recipients: &c.recipient,
                        subject: &c.subject,
                        raw: &c.raw,
                        now,
                    },
                )?;
                tickets::set_ack_state(&tx, ticket_id, "queued")?;
                events::append(
                    &tx,
                    ticket_id,
                    now,
                    "ack-queued",
                    &format!(
                        "acknowledgment to {} queued <{}>",
                        c.recipient, c.message_id
                    ),
                    None,
                )?;
                report.queued += 1;
            }
            Err(rule) => {
                tickets::set_ack_state(&tx, ticket_id, "withheld")?;
                events::append(&tx, ticket_id, now, "ack-withheld", &rule, None)?;
                report.withheld += 1;
            }
        }
        Store::commit(tx)?;
    }
    Ok(report)
}
