//! Full-text search (FTS5, bm25) over subject, sender and the cleaned text of messages.

use rusqlite::{Connection, params};

use super::Result;

#[derive(Debug, Clone)]
pub struct Hit {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
    pub rank: f64,
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
/// it are text, not syntax) and the last one matches as a prefix, for results as you type.
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
    q.push('*');
    Some(q)
}

/// Tickets whose messages match, best first, one hit per ticket.
pub fn tickets(conn: &Connection, input: &str, limit: u32) -> Result<Vec<Hit>> {
    let Some(query) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.number, t.subject, min(f.rank) AS r
         FROM messages_fts f JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id
         WHERE messages_fts MATCH ?1
         GROUP BY t.id ORDER BY r LIMIT ?2",
    )?;
    let rows = stmt.query_map(params![query, limit], |r| {
        Ok(Hit {
            ticket_id: r.get(0)?,
            number: r.get(1)?,
            subject: r.get(2)?,
            rank: r.get(3)?,
        })
    })?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

#[cfg(test)]
mod tests {
    use super::fts_query;

    #[test]
    fn query_quotes_words_and_prefixes_the_last() {
        assert_eq!(fts_query("  "), None);
        assert_eq!(fts_query("sync"), Some("\"sync\"*".into()));
        assert_eq!(
            fts_query("login 2FA-code \"x"),
            Some("\"login\" \"2FA-code\" \"\"\"x\"*".into())
        );
    }
}
