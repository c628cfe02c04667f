//! Full-text search (FTS5, bm25) over subject, sender and the cleaned text of messages.

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

#[derive(Debug, Clone)]
pub struct Hit {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
}

/// Indexes the messages queued by the insert and update triggers (see migration 002). Call it
/// last in a write transaction, just before commit: [`super::Store::commit`] does.
pub fn flush(conn: &Connection) -> Result<usize> {
    let n = conn
        .prepare_cached(
            "INSERT INTO messages_fts (rowid, subject, sender, body_text)
             SELECT m.id, m.subject, m.sender, m.body_text
             FROM fts_pending p JOIN messages m ON m.id = p.message_id",
        )?
        .execute([])?;
    conn.prepare_cached("DELETE FROM fts_pending")?
        .execute([])?;
    Ok(n)
}

/// Turns what a person types into an FTS5 query: every word is quoted (so `-`, `:` or `"` in
/// it are text, not syntax) and the last one, from two letters on, matches as a prefix, for
/// results as you type.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input
        .split_whitespace()
        .map(|w| w.replace('"', "\"\""))
        .filter(|w| !w.is_empty())
        .map(|w| format!("\"{w}\""))
        .collect();
    let (last, rest) = words.split_last()?;
    let mut q = rest.join(" ");
    if !q.is_empty() {
        q.push(' ');
    }
    q.push_str(last);
    // A one-letter prefix would merge the posting lists of every word with that letter: it
    // matches only the word itself until a second letter is typed.
    let typed = input.split_whitespace().last().unwrap_or("");
    if typed.chars().count() >= 2 {
        q.push('*');
    }
    Some(q)
}

/// Tickets whose messages match, the most recent message first, one hit per ticket. Recency
/// (not relevance) orders results as you type: FTS5 walks its index newest first and stops
/// once enough tickets are found, so a one-letter prefix on 300,000 messages stays fast.
pub fn tickets(conn: &Connection, input: &str, limit: u32) -> Result<Vec<Hit>> {
    let Some(query) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.number, t.subject
         FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1
               ORDER BY rowid DESC LIMIT ?2) f
         JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id",
    )?;
    // Several messages of one ticket may match: look a few times further than `limit`.
    let rows = stmt.query_map(params![query, i64::from(limit) * 4], |r| {
        Ok(Hit {
            ticket_id: r.get(0)?,
            number: r.get(1)?,
            subject: r.get(2)?,
        })
    })?;
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::new();
    for h in rows {
        let h = h?;
        if seen.insert(h.ticket_id) {
            hits.push(h);
            if hits.len() as u32 >= limit {
                break;
            }
        }
    }
    Ok(hits)
}

/// A resolved ticket like the one being answered, with the last reply we sent on it.
#[derive(Debug, Clone)]
pub struct Similar {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
    pub reply: String,
}

/// Words too common to tell tickets apart (English, French, German, Spanish): left out of the
/// similarity query, where each would only add rows to rank.
const STOPWORDS: &[&str] = &[
    "the", "and", "for", "you", "your", "are", "was", "with", "this", "that", "have", "has", "not",
    "but", "can", "could", "would", "will", "from", "our", "all", "any", "what", "when", "there",
    "they", "them", "thanks", "thank", "hello", "please", "since", "about", "again", "les", "des",
    "est", "une", "pour", "dans", "que", "qui", "pas", "sur", "vous", "nous", "avec", "mon", "mes",
    "merci", "bonjour", "der", "die", "das", "und", "ist", "nicht", "mit", "sie", "ich", "ein",
    "eine", "den", "dem", "auf", "für", "von", "bitte", "danke", "hallo", "los", "las", "del",
    "por", "con", "una", "para", "que", "mis", "gracias", "hola",
];

/// The resolved or closed tickets most like `text` (bm25 over subject, sender and text, any
/// of its words but the most common), best first, each with its final outbound reply; tickets
/// we never answered are skipped. At most 32 distinct words of `text` are searched.
pub fn similar_resolved(
    conn: &Connection,
    text: &str,
    except_ticket: i64,
    limit: usize,
) -> Result<Vec<Similar>> {
    let mut seen_words = std::collections::HashSet::new();
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .filter(|w| !STOPWORDS.contains(&w.as_str()) && seen_words.insert(w.clone()))
        .take(32)
        .map(|w| format!("\"{w}\""))
        .collect();
    if words.is_empty() || limit == 0 {
        return Ok(Vec::new());
    }
    let query = words.join(" OR ");
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.number, t.subject FROM messages_fts f
         JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id
         WHERE messages_fts MATCH ?1 AND t.status IN ('resolved', 'closed') AND t.id <> ?2
         ORDER BY bm25(messages_fts) LIMIT 200",
    )?;
    let candidates = stmt
        .query_map(params![query, except_ticket], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, String>(2)?,
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let mut last_reply = conn.prepare_cached(
        "SELECT body_text FROM messages WHERE ticket_id = ?1 AND direction = 'outbound'
         ORDER BY coalesce(sent_at, stored_at) DESC, id DESC LIMIT 1",
    )?;
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    for (ticket_id, number, subject) in candidates {
        if !seen.insert(ticket_id) {
            continue;
        }
        let reply: Option<String> = last_reply
            .query_row([ticket_id], |r| r.get(0))
            .map(Some)
            .or_else(super::no_row_is_none)?;
        if let Some(reply) = reply.filter(|r| !r.trim().is_empty()) {
            out.push(Similar {
                ticket_id,
                number,
                subject,
                reply,
            });
            if out.len() >= limit {
                break;
            }
        }
    }
    Ok(out)
}

/// Words too common to say two requests are alike (English, French, German, Spanish).
const COMMON: &[&str] = &[
    "about", "after", "again", "also", "been", "before", "could", "does", "doesn", "from", "have",
    "hello", "just", "know", "like", "many", "more", "much", "need", "only", "please", "same",
    "since", "some", "still", "thank", "thanks", "that", "their", "them", "then", "there", "these",
    "they", "this", "what", "when", "which", "will", "with", "would", "your", "aber", "alle",
    "auch", "bitte", "dann", "dass", "eine", "einen", "haben", "hallo", "immer", "kann", "mein",
    "meine", "nach", "nicht", "noch", "oder", "schon", "seit", "sind", "unser", "unsere", "wenn",
    "wird", "avec", "bonjour", "cette", "dans", "depuis", "elle", "encore", "mais", "merci",
    "nous", "notre", "pour", "sont", "sur", "tout", "vous", "votre", "ahora", "como", "desde",
    "esta", "este", "gracias", "hola", "para", "pero", "porque", "puede", "todo", "tengo",
];

/// Lowercase words of four letters or more that are not [`COMMON`].
fn keywords(text: &str) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    text.split(|c: char| !c.is_alphanumeric())
        .map(str::to_lowercase)
        .filter(|w| w.chars().count() >= 4 && !COMMON.contains(&w.as_str()))
        .filter(|w| seen.insert(w.clone()))
        .collect()
}

/// The final reply of the resolved or closed ticket whose customer wrote the most similar text,
/// as (ticket number, reply), for the drafter to suggest. Similar means: among the best bm25
/// matches of the text's keywords, an inbound message that shares at least three of them and a
/// third of them. The reply is the last outbound message, else the last sent draft.
pub fn similar_resolved_reply(conn: &Connection, text: &str) -> Result<Option<(String, String)>> {
    let mut words = keywords(text);
    // The longest words say the most; a bounded query stays fast on a large store.
    words.sort_by_key(|w| std::cmp::Reverse(w.chars().count()));
    words.truncate(16);
    if words.len() < 3 {
        return Ok(None);
    }
    let query = words
        .iter()
        .map(|w| format!("\"{w}\""))
        .collect::<Vec<_>>()
        .join(" OR ");
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.number, m.subject, m.body_text
         FROM (SELECT rowid, rank FROM messages_fts WHERE messages_fts MATCH ?1
               ORDER BY rank LIMIT 50) f
         JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id
         WHERE t.status IN ('resolved', 'closed') AND m.direction = 'inbound'
         ORDER BY f.rank LIMIT 5",
    )?;
    let candidates = stmt
        .query_map([query], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                format!("{} {}", r.get::<_, String>(2)?, r.get::<_, String>(3)?),
            ))
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    let needed = 3.max(words.len().div_ceil(3));
    for (ticket, number, their_text) in candidates {
        let theirs: std::collections::HashSet<String> = keywords(&their_text).into_iter().collect();
        if words.iter().filter(|w| theirs.contains(*w)).count() < needed {
            continue;
        }
        let reply: Option<String> = conn
            .prepare_cached(
                "SELECT body FROM (
                     SELECT body_text AS body, stored_at AS at, 1 AS sent FROM messages
                     WHERE ticket_id = ?1 AND direction = 'outbound' AND body_text <> ''
                     UNION ALL
                     SELECT body, updated_at, 0 FROM drafts
                     WHERE ticket_id = ?1 AND state = 'sent' AND body <> '')
                 ORDER BY at DESC, sent DESC LIMIT 1",
            )?
            .query_row([ticket], |r| r.get(0))
            .optional()?;
        if let Some(reply) = reply {
            return Ok(Some((number, reply)));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::{fts_query, keywords};

    #[test]
    fn keywords_skip_short_and_common_words_once_each() {
        assert_eq!(
            keywords("Please help: the SYNC is stuck, sync stuck since Monday"),
            ["help", "sync", "stuck", "monday"]
        );
    }

    #[test]
    fn query_quotes_words_and_prefixes_the_last() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("sync"), Some("\"sync\"*".into()));
        assert_eq!(fts_query("s"), Some("\"s\"".into()));
        assert_eq!(
            fts_query("login 2FA-code \"x"),
            Some("\"login\" \"2FA-code\" \"\"\"x\"*".into())
        );
    }
}
