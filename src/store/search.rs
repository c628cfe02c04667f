//! Full-text search (FTS5, bm25) over subject, sender and the cleaned text of messages.

use rusqlite::{Connection, params};

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

#[cfg(test)]
mod tests {
    use super::fts_query;

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
