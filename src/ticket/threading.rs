//! Which ticket an inbound message belongs to (MAIL-RULES C3.1–C3.3), read from the store.

use crate::store::db::Db;

use crate::store::{self, messages, tickets};

use super::token::{self, TokenKey};
use super::{TagMatcher, TicketNumber};

/// What threading needs to know about us.
#[derive(Debug, Clone)]
pub struct Threader {
    pub key: TokenKey,
    pub domain: String,
    pub tags: TagMatcher,
}

/// What threading reads from a message.
#[derive(Debug, Clone, Default)]
pub struct ThreadQuery<'a> {
    pub in_reply_to: &'a [String],
    pub references: &'a [String],
    pub subject: &'a str,
    /// The sender's address, lowercased.
    pub sender: Option<&'a str>,
    /// Whether the subject tag may be used at all (human and out-of-office mail).
    pub use_tag: bool,
    /// The tag is trusted without the participant check (our own mail).
    pub trust_tag: bool,
}

/// How a message was matched to its ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    Token,
    InReplyTo,
    References,
    SubjectTag,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Token => "our Message-ID in In-Reply-To/References",
            Via::InReplyTo => "In-Reply-To",
            Via::References => "References",
            Via::SubjectTag => "subject tag from a participant",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Thread {
    Existing {
        ticket_id: i64,
        via: Via,
    },
    /// A new ticket; `mentions` is a ticket whose tag a non-participant quoted.
    New {
        mentions: Option<(i64, TicketNumber)>,
    },
}

impl Threader {
    /// Our token in the given ids, if any names an existing ticket.
    pub fn by_token(&self, conn: &impl Db, ids: &[&String]) -> store::Result<Option<i64>> {
        for id in ids {
            if let Some(tok) = token::verify(&self.key, id, self.tags.prefix(), &self.domain)
                && let Some(t) =
                    tickets::state_by_number(conn.connection(), &tok.number().to_string())?
            {
                return Ok(Some(t.id));
            }
        }
        Ok(None)
    }

    pub fn resolve(&self, conn: &impl Db, q: &ThreadQuery<'_>) -> store::Result<Thread> {
        // 1. Our minted ids: In-Reply-To first, then References newest first.
        let ids: Vec<&String> = q
            .in_reply_to
            .iter()
            .chain(q.references.iter().rev())
            .collect();
        if let Some(ticket_id) = self.by_token(conn, &ids)? {
            return Ok(Thread::Existing {
                ticket_id,
                via: Via::Token,
            });
        }
        // 2. Any stored message: In-Reply-To beats References; among several, the newest.
        for id in q.in_reply_to {
            if let Some(found) = messages::find(conn, id)? {
                return Ok(Thread::Existing {
                    ticket_id: found.ticket_id,
                    via: Via::InReplyTo,
                });
            }
        }
        let mut best: Option<messages::Found> = None;
        for id in q.references {
            if let Some(found) = messages::find(conn, id)? {
                let newer =
                    best.is_none_or(|b| (found.sent_at, found.row_id) > (b.sent_at, b.row_id));
                if newer {
                    best = Some(found);
                }
            }
        }
        if let Some(found) = best {
            return Ok(Thread::Existing {
                ticket_id: found.ticket_id,
                via: Via::References,
            });
        }
        // 3. The subject tag, only from a participant; a stranger gets a new, linked ticket.
        let mut mentions = None;
        if q.use_tag {
            for number in self.tags.find_all(q.subject) {
                let Some(t) = tickets::state_by_number(conn.connection(), &number.to_string())?
                else {
                    continue; // an unknown number is ignored
                };
                let participant = match q.sender {
                    Some(s) => tickets::is_participant(conn.connection(), t.id, s)?,
                    None => false,
                };
                if q.trust_tag || participant {
                    return Ok(Thread::Existing {
                        ticket_id: t.id,
                        via: Via::SubjectTag,
                    });
                }
                mentions.get_or_insert((t.id, number));
            }
        }
        Ok(Thread::New { mentions })
    }
}
