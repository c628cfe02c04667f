//! Full-text search (FTS5, bm25) over subject, sender and the cleaned text of messages.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

use super::Result;

#[derive(Debug, Clone)]
pub struct Hit {
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
}

/// What the index holds of a message `m`: its text as [`index_text`] splits it.
const INDEX_INSERT: &str = "INSERT INTO search.messages_fts (rowid, subject, sender, body_text)
     SELECT m.id, hd_index_text(m.subject), hd_index_text(m.sender), hd_index_text(m.body_text)";

/// The layout of the search file; a file of another layout is emptied and rebuilt.
/// 2: no prefix index (1 kept one for three-letter prefixes, see [`PREFIX_FROM`]).
const SEARCH_VERSION: u32 = 2;

/// What marks a SQLite file as a helpdesk search index (its header's application id), "HDSX".
const APPLICATION_ID: i64 = 0x4844_5358;

/// The search index's file, beside the store: `helpdesk.sqlite3` → `helpdesk.search.sqlite3`.
/// It holds only what can be rebuilt from the store's messages (migration 010): delete it and
/// the next open indexes every message again.
pub fn path_for(store: &Path) -> PathBuf {
    let name = store.file_name().unwrap_or_default().to_string_lossy();
    let file = match name.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() => format!("{stem}.search.{ext}"),
        _ => format!("{name}.search"),
    };
    store.with_file_name(file)
}

/// Attaches the search file to a store connection as `search`, creating its tables when the
/// file is new (or of another layout). Writes to the store never lock it (Store::write), and
/// writes to it lock only it ([`lock`]), so a thread can index while another stores.
pub(super) fn attach(conn: &Connection, path: &Path) -> Result<()> {
    conn.execute(
        "ATTACH DATABASE ?1 AS search",
        [path.to_string_lossy().as_ref()],
    )?;
    // As the store's (Store::configure): fewer, larger writes. Only takes effect on a new file.
    conn.execute_batch("PRAGMA search.page_size = 16384")?;
    super::wal_mode(conn, "search")?;
    conn.execute_batch("PRAGMA search.synchronous = NORMAL")?;
    // Which store this index belongs to: a search file left from another store, or from a
    // later state of this one (a backup of the store put back), is rebuilt.
    // Written once; looked up first, so that a second connection (the sync's indexer) does
    // not wait for the store's write lock here.
    let has_id: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM main.meta WHERE key = 'store_id')",
        [],
        |r| r.get(0),
    )?;
    if !has_id {
        conn.execute(
            "INSERT OR IGNORE INTO main.meta (key, value)
             VALUES ('store_id', lower(hex(randomblob(16))))",
            [],
        )?;
    }
    if belongs(conn)? {
        return Ok(());
    }
    // Both files' write locks (rare: a new or replaced index), taken before looking again:
    // another process may have created the tables meanwhile.
    conn.execute_batch("BEGIN IMMEDIATE")?;
    // Whether tables of an index that no longer counts were dropped (their pages are free).
    let created = (|| -> Result<bool> {
        if belongs(conn)? {
            return Ok(false);
        }
        // Emptied only when it is one of ours (or holds nothing): the path is derived from the
        // store's name and might name some other database.
        let app: i64 = conn.query_row("PRAGMA search.application_id", [], |r| r.get(0))?;
        let has_tables: bool = conn.query_row(
            "SELECT EXISTS (SELECT 1 FROM search.sqlite_schema)",
            [],
            |r| r.get(0),
        )?;
        if has_tables && app != APPLICATION_ID {
            return Err(super::StoreError::ForeignSearchFile {
                path: path.to_owned(),
            });
        }
        let tables: Vec<String> = conn
            .prepare(
                "SELECT name FROM search.sqlite_schema WHERE type = 'table'
                 AND name NOT LIKE 'sqlite_%' AND name NOT LIKE 'messages_fts_%'",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        for t in tables {
            conn.execute_batch(&format!("DROP TABLE search.\"{}\"", t.replace('"', "\"\"")))?;
        }
        conn.execute_batch(&format!(
            "CREATE VIRTUAL TABLE search.messages_fts USING fts5(
                 subject, sender, body_text,
                 content = '', contentless_delete = 1,
                 tokenize = 'unicode61 remove_diacritics 2'
             );
             -- Terms wait in memory until 8 MiB of them (default 1 MiB) before FTS5 writes a
             -- segment: a batch of 1,000 messages makes one segment instead of several that
             -- must be merged again (indexing a 10,000-message import: 2.30 → 1.29 G
             -- instructions).
             INSERT INTO search.messages_fts (messages_fts, rank) VALUES ('hashsize', 8388608);
             -- Segments are merged 16 at a time (default 4): a sync indexes in chunks of
             -- 1,000 messages (imap::Pace), one segment each, and with 4 merging them again
             -- was a third of indexing a 10,000-message sync.
             INSERT INTO search.messages_fts (messages_fts, rank) VALUES ('automerge', 16);
             -- applied: the last search_queue entry (of the store) applied here; NULL until a
             -- rebuild starts. rebuilt_to: while rebuilding, every message up to this id is in;
             -- NULL once the rebuild is done.
             CREATE TABLE search.search_state (
                 id         INTEGER PRIMARY KEY CHECK (id = 1),
                 store_id   TEXT NOT NULL,
                 applied    INTEGER,
                 rebuilt_to INTEGER
             );
             INSERT INTO search.search_state (id, store_id, applied, rebuilt_to)
                 SELECT 1, value, NULL, 0 FROM main.meta WHERE key = 'store_id';
             PRAGMA search.application_id = {APPLICATION_ID};
             PRAGMA search.user_version = {SEARCH_VERSION};"
        ))?;
        Ok(has_tables)
    })();
    let emptied = match created {
        Ok(emptied) => {
            conn.execute_batch("COMMIT")?;
            emptied
        }
        Err(e) => {
            let _ = conn.execute_batch("ROLLBACK");
            return Err(e);
        }
    };
    if emptied {
        // The old index's pages are free but still in the file: given back to the disk now,
        // while the new index is empty and copying it costs nothing. Not waited for: with
        // another connection reading the file, it keeps its free pages.
        conn.busy_timeout(std::time::Duration::ZERO)?;
        if let Err(e) = conn.execute_batch("VACUUM search") {
            tracing::debug!(error = %e, "the search file keeps its free pages");
        }
        conn.busy_timeout(super::BUSY_TIMEOUT)?;
    }
    tracing::info!(path = %path.display(), "search index created; every message is indexed again");
    Ok(())
}

/// Whether the attached search file is an index of this store, in this layout, and in step
/// with its queue: not ahead (it cannot have applied an entry the store has not written), and
/// not behind what the store already forgot (entries up to `applied` are deleted, so a search
/// file that went back, say after a power cut or from an older backup, would miss them).
fn belongs(conn: &Connection) -> Result<bool> {
    let version: u32 = conn.query_row("PRAGMA search.user_version", [], |r| r.get(0))?;
    if version != SEARCH_VERSION {
        return Ok(false);
    }
    Ok(conn
        .query_row(
            "SELECT s.store_id = (SELECT value FROM main.meta WHERE key = 'store_id')
                 AND (s.applied IS NULL OR (
                     s.applied <= (SELECT coalesce(max(seq), 0) FROM main.search_queue)
                     AND s.applied >= (SELECT coalesce(min(seq), 1) - 1 FROM main.search_queue)))
             FROM search.search_state s",
            [],
            |r| r.get::<_, Option<bool>>(0),
        )
        .optional()?
        .flatten()
        .unwrap_or(false))
}

/// Whether the index lacks something: a rebuild not finished, or queue entries not applied.
pub fn lags(conn: &Connection) -> Result<bool> {
    Ok(conn.query_row(
        "SELECT s.applied IS NULL OR s.rebuilt_to IS NOT NULL
             OR EXISTS (SELECT 1 FROM main.search_queue WHERE seq > s.applied)
         FROM search.search_state s",
        [],
        |r| r.get(0),
    )?)
}

/// How far the search index is: messages in it, and queue entries it has not applied yet
/// (new, changed or deleted messages; while a rebuild runs, every message not reached yet).
pub fn status(conn: &Connection) -> Result<(i64, i64)> {
    Ok(conn.query_row(
        "SELECT (SELECT count(*) FROM search.messages_fts_docsize),
             CASE WHEN s.applied IS NULL OR s.rebuilt_to IS NOT NULL
                  THEN (SELECT count(*) FROM main.messages WHERE id > coalesce(s.rebuilt_to, 0))
                  ELSE 0 END
             + (SELECT count(*) FROM main.search_queue WHERE seq > coalesce(s.applied, 1 << 62))
         FROM search.search_state s",
        [],
        |r| Ok((r.get(0)?, r.get(1)?)),
    )?)
}

/// Takes the search file's write lock in a transaction that has not read it yet, without
/// locking the store (a `BEGIN IMMEDIATE` would lock both).
pub(super) fn lock(conn: &Connection) -> Result<()> {
    conn.prepare_cached("UPDATE search.search_state SET applied = applied WHERE 0")?
        .execute([])?;
    Ok(())
}

/// The last store queue entry the search file has applied.
fn applied(conn: &Connection) -> Result<Option<i64>> {
    Ok(conn
        .prepare_cached("SELECT applied FROM search.search_state")?
        .query_row([], |r| r.get(0))?)
}

/// Brings the index up to date with the store, at most `limit` messages of it; returns how
/// many messages were indexed (0: up to date). Runs in a transaction holding the search file's
/// write lock ([`lock`]); reads the store as of the transaction's start.
///
/// A new search file is first filled with every message (rebuilt_to), in steps of `limit`;
/// then each queue entry makes the index match its message as it is now: out if it was in,
/// in again if the message still exists. Applying an entry twice therefore does no harm.
pub fn index_some(conn: &Connection, limit: i64) -> Result<usize> {
    let (applied, rebuilt_to): (Option<i64>, Option<i64>) = conn
        .prepare_cached("SELECT applied, rebuilt_to FROM search.search_state")?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let applied = match applied {
        Some(a) => a,
        None => {
            // The rebuild starts: what the queue holds now is covered by reading every
            // message from here on.
            let last: i64 = conn
                .prepare_cached("SELECT coalesce(max(seq), 0) FROM search_queue")?
                .query_row([], |r| r.get(0))?;
            conn.prepare_cached("UPDATE search.search_state SET applied = ?1")?
                .execute([last])?;
            last
        }
    };
    if let Some(from) = rebuilt_to {
        let to: Option<i64> = conn
            .prepare_cached(
                "SELECT max(id) FROM (SELECT id FROM messages WHERE id > ?1 ORDER BY id LIMIT ?2)",
            )?
            .query_row(params![from, limit], |r| r.get(0))?;
        let Some(to) = to else {
            conn.prepare_cached("UPDATE search.search_state SET rebuilt_to = NULL")?
                .execute([])?;
            return index_some(conn, limit);
        };
        let n = conn
            .prepare_cached(&format!(
                "{INDEX_INSERT} FROM messages m WHERE m.id > ?1 AND m.id <= ?2
                 AND NOT EXISTS (SELECT 1 FROM search.messages_fts_docsize d WHERE d.id = m.id)"
            ))?
            .execute(params![from, to])?;
        conn.prepare_cached("UPDATE search.search_state SET rebuilt_to = ?1")?
            .execute([to])?;
        return Ok(n.max(1));
    }
    let to: Option<i64> = conn
        .prepare_cached(
            "SELECT max(seq) FROM (SELECT seq FROM search_queue WHERE seq > ?1 ORDER BY seq LIMIT ?2)",
        )?
        .query_row(params![applied, limit], |r| r.get(0))?;
    let Some(to) = to else {
        return Ok(0);
    };
    conn.prepare_cached(
        "DELETE FROM search.messages_fts WHERE rowid IN
             (SELECT q.message_id FROM search_queue q
              JOIN search.messages_fts_docsize d ON d.id = q.message_id
              WHERE q.seq > ?1 AND q.seq <= ?2)",
    )?
    .execute(params![applied, to])?;
    let n = conn
        .prepare_cached(&format!(
            "{INDEX_INSERT} FROM messages m WHERE m.id IN
                 (SELECT message_id FROM search_queue WHERE seq > ?1 AND seq <= ?2)"
        ))?
        .execute(params![applied, to])?;
    conn.prepare_cached("UPDATE search.search_state SET applied = ?1")?
        .execute([to])?;
    Ok(n.max(1))
}

/// Deletes the store's queue entries the search file applied before this transaction: in a
/// store write transaction. The newest entry stays, so that sequence numbers never go back.
pub fn forget_applied(conn: &Connection, applied: Option<i64>) -> Result<()> {
    if let Some(applied) = applied {
        conn.prepare_cached(
            "DELETE FROM search_queue WHERE seq <= ?1
             AND seq < (SELECT max(seq) FROM search_queue)",
        )?
        .execute([applied])?;
    }
    Ok(())
}

/// Indexes what the store's write transaction queued, before it commits
/// ([`super::Store::commit`]), and forgets the queue entries applied earlier.
pub fn flush(conn: &Connection) -> Result<usize> {
    lock(conn)?;
    let before = applied(conn)?;
    let mut n = 0;
    loop {
        let k = index_some(conn, 100_000)?;
        if k == 0 {
            break;
        }
        n += k;
    }
    forget_applied(conn, before)?;
    Ok(n)
}

/// For a store write transaction whose messages another connection indexes
/// ([`super::Store::commit_unindexed`]): forgets the queue entries already applied.
pub fn forget(conn: &Connection) -> Result<()> {
    let before = applied(conn)?;
    forget_applied(conn, before)
}

/// Text as the search index sees it: a space between letters and digits that touch
/// ("customer1234" → "customer 1234", "v2" → "v 2"), so ids, order numbers and VERP addresses
/// do not make one distinct word each, which a prefix search would have to merge one by one.
/// Queries go through the same function ([`fts_query`]), so typing "customer1234" finds it.
/// Registered as the SQL function `hd_index_text` on every store connection.
pub fn index_text(text: &str) -> std::borrow::Cow<'_, str> {
    // Every stored message's text passes through here on the storing thread: one pass over
    // the bytes, characters decoded only outside ASCII, a copy only once a boundary is found.
    // Bit 1: a letter, bit 2: a digit (a few characters, such as Ⅻ, are both).
    const LETTER: u8 = 1;
    const DIGIT: u8 = 2;
    const ASCII: [u8; 128] = {
        let mut t = [0u8; 128];
        let mut b = 0;
        while b < 128 {
            let c = b as u8;
            if c.is_ascii_alphabetic() {
                t[b] = LETTER;
            } else if c.is_ascii_digit() {
                t[b] = DIGIT;
            }
            b += 1;
        }
        t
    };
    #[inline(always)]
    fn kind_at(text: &str, i: usize) -> (u8, usize) {
        let b = text.as_bytes()[i];
        if b < 0x80 {
            return (ASCII[b as usize], 1);
        }
        let c = text[i..].chars().next().unwrap_or(' ');
        let k = (u8::from(c.is_alphabetic()) * LETTER) | (u8::from(c.is_numeric()) * DIGIT);
        (k, c.len_utf8())
    }
    // Nearly all mail text is ASCII (std checks that a word at a time): a letter or a digit
    // is exactly one of the two there, so a boundary is a change between them, one table
    // lookup per byte (a third of the time the character path takes).
    let mut prev = 0u8;
    if text.is_ascii() {
        return spaced(
            text,
            text.bytes().enumerate().filter_map(|(i, b)| {
                let k = ASCII[b as usize];
                let boundary = prev ^ k == LETTER | DIGIT;
                prev = k;
                boundary.then_some(i)
            }),
        );
    }
    let boundary =
        |a: u8, b: u8| (a & LETTER != 0 && b & DIGIT != 0) || (a & DIGIT != 0 && b & LETTER != 0);
    let mut i = 0;
    spaced(
        text,
        std::iter::from_fn(|| {
            while i < text.len() {
                let (k, len) = kind_at(text, i);
                let at = i;
                i += len;
                let hit = boundary(prev, k);
                prev = k;
                if hit {
                    return Some(at);
                }
            }
            None
        }),
    )
}

/// `text` with a space before each byte offset of `at` (rising); borrowed when there is none.
fn spaced(text: &str, at: impl Iterator<Item = usize>) -> std::borrow::Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut from = 0;
    for i in at {
        let o = out.get_or_insert_with(|| String::with_capacity(text.len() + 8));
        o.push_str(&text[from..i]);
        o.push(' ');
        from = i;
    }
    match out {
        None => std::borrow::Cow::Borrowed(text),
        Some(mut o) => {
            o.push_str(&text[from..]);
            std::borrow::Cow::Owned(o)
        }
    }
}

/// Registers [`index_text`] as `hd_index_text(text)` (NULL stays NULL) on a connection.
pub fn register_functions(conn: &Connection) -> rusqlite::Result<()> {
    use rusqlite::functions::FunctionFlags;
    conn.create_scalar_function(
        "hd_index_text",
        1,
        FunctionFlags::SQLITE_UTF8 | FunctionFlags::SQLITE_DETERMINISTIC,
        |ctx| {
            Ok(match ctx.get_raw(0) {
                rusqlite::types::ValueRef::Text(t) => Some(match std::str::from_utf8(t) {
                    // The store writes UTF-8 only; the lossy path is for a file edited by hand.
                    Ok(t) => index_text(t).into_owned(),
                    Err(_) => index_text(&String::from_utf8_lossy(t)).into_owned(),
                }),
                rusqlite::types::ValueRef::Null => None,
                other => Some(format!("{other:?}")),
            })
        },
    )
}

/// `word` without its last part (as the index splits it) when that part is shorter than
/// [`PREFIX_FROM`] and something comes before it.
fn without_short_tail(word: &str) -> &str {
    let split = index_text(word);
    let parts: Vec<&str> = split
        .split(|c: char| !c.is_alphanumeric())
        .filter(|p| !p.is_empty())
        .collect();
    let Some(last) = parts.last() else {
        return word;
    };
    if parts.len() < 2 || last.chars().count() >= PREFIX_FROM {
        return word;
    }
    // Cut the original word where its last part starts (index_text only adds spaces, so
    // the part's characters end the word, possibly followed by punctuation).
    let Some(at) = word.rfind(*last) else {
        return word;
    };
    word[..at].trim_end_matches(|c: char| !c.is_alphanumeric())
}

/// One word as an FTS5 string: as the index sees it ([`index_text`]), quoted, so that
/// punctuation in it is text, not query syntax.
fn quoted(word: &str) -> String {
    format!("\"{}\"", index_text(word).replace('"', "\"\""))
}

/// The shortest last word matched as a prefix. FTS5 merges the posting list of every word the
/// prefix starts; a shorter word would start too many, so it matches only itself until the
/// third letter is typed. "Word" is meant as the index splits text: the part after the last
/// punctuation, letter-digit change or space.
///
/// There is no prefix index (search file layout 1 had one for three letters). On the sync
/// benchmark's 10,000 realistic messages the widest prefix, "the", takes 1.0 ms without it and
/// 0.17 ms with it, so some 30 ms on a 300,000-message store against the 50 ms target for
/// results as you type; four letters ("invo", "ther") take at most 0.44 ms. The index cost
/// more than it saved: it held 40% of the search file, and writing it was 7% of a first sync's
/// wall time.
pub const PREFIX_FROM: usize = 3;

/// Turns what a person types into an FTS5 query: every word is quoted (so `-`, `:` or `"` in
/// it are text, not syntax) and the last one, from [`PREFIX_FROM`] letters on, matches as a
/// prefix, for results as you type.
pub fn fts_query(input: &str) -> Option<String> {
    let words: Vec<String> = input.split_whitespace().map(quoted).collect();
    let (last, rest) = words.split_last()?;
    let mut q = rest.join(" ");
    if !q.is_empty() {
        q.push(' ');
    }
    q.push_str(last);
    // The last word's last part as the index splits it: in "customer1234@e" that is "e",
    // whose prefix would be every word starting with e.
    let typed = input.split_whitespace().last().unwrap_or("");
    let last_part = index_text(typed)
        .split(|c: char| !c.is_alphanumeric())
        .rfind(|p| !p.is_empty())
        .map_or(0, |p| p.chars().count());
    if last_part >= PREFIX_FROM {
        q.push('*');
    }
    Some(q)
}

/// The query to run when [`fts_query`] finds nothing and its last word ends in a part of one
/// or two characters after others ("customer1", "jo@ex"), or is such a short word after other
/// words ("invoice re"): without that part or word. While it is typed, a short part matched
/// exactly often finds nothing until the third character; the results of what came before
/// then stay until it can narrow them.
pub fn fts_query_without_short_tail(input: &str) -> Option<String> {
    let last = input.split_whitespace().last()?;
    let head = &input[..input.rfind(last)?];
    let trimmed = without_short_tail(last);
    if trimmed != last {
        return fts_query(&format!("{head}{trimmed}"));
    }
    // A short last word of its own ("invoice re"): the words before it.
    let short = index_text(last)
        .split(|c: char| !c.is_alphanumeric())
        .all(|p| p.chars().count() < PREFIX_FROM);
    if short && !head.trim().is_empty() {
        return fts_query(head);
    }
    None
}

/// Tickets whose messages match, the most recent message first, one hit per ticket; a ticket
/// number being typed finds its tickets before that. Recency (not relevance) orders results
/// as you type: FTS5 walks its index newest first and stops once enough tickets are found.
pub fn tickets(conn: &Connection, input: &str, limit: u32) -> Result<Vec<Hit>> {
    let Some(query) = fts_query(input) else {
        return Ok(Vec::new());
    };
    let mut seen = std::collections::HashSet::new();
    let mut hits = Vec::new();
    // A ticket number being typed ("TKT-2026-0004") finds its tickets first, by an index
    // range on the number.
    if let Some(prefix) = number_prefix(input) {
        let mut stmt = conn.prepare_cached(
            "SELECT id, number, subject FROM tickets WHERE number >= ?1 AND number < ?2
             ORDER BY number LIMIT ?3",
        )?;
        // A range, not GLOB: with query planner stability on (Store::configure), SQLite does
        // not turn a bound GLOB pattern into an index range and would scan every number.
        // The prefix is ASCII; its last byte plus one bounds every number that starts with it.
        let mut end = prefix.clone().into_bytes();
        if let Some(last) = end.last_mut() {
            *last += 1;
        }
        let end = String::from_utf8(end).unwrap_or_default();
        let rows = stmt.query_map(params![prefix, end, limit], |r| {
            Ok(Hit {
                ticket_id: r.get(0)?,
                number: r.get(1)?,
                subject: r.get(2)?,
            })
        })?;
        for h in rows {
            let h = h?;
            seen.insert(h.ticket_id);
            hits.push(h);
        }
        if hits.len() as u32 >= limit {
            return Ok(hits);
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT t.id, t.number, t.subject
         FROM (SELECT rowid FROM messages_fts WHERE messages_fts MATCH ?1
               ORDER BY rowid DESC LIMIT ?2) f
         JOIN messages m ON m.id = f.rowid JOIN tickets t ON t.id = m.ticket_id",
    )?;
    // Several messages of one ticket may match: look a few times further than `limit`.
    if matching(&mut stmt, &query, limit, &mut seen, &mut hits)? == 0
        && let Some(wider) = fts_query_without_short_tail(input)
    {
        matching(&mut stmt, &wider, limit, &mut seen, &mut hits)?;
    }
    Ok(hits)
}

/// Runs the recency-ordered match, adding tickets not yet seen to `hits` up to `limit`;
/// returns how many messages matched.
fn matching(
    stmt: &mut rusqlite::CachedStatement<'_>,
    query: &str,
    limit: u32,
    seen: &mut std::collections::HashSet<i64>,
    hits: &mut Vec<Hit>,
) -> Result<usize> {
    let rows = stmt.query_map(params![query, i64::from(limit) * 4], |r| {
        Ok(Hit {
            ticket_id: r.get(0)?,
            number: r.get(1)?,
            subject: r.get(2)?,
        })
    })?;
    let mut matched = 0;
    for h in rows {
        let h = h?;
        matched += 1;
        if seen.insert(h.ticket_id) {
            hits.push(h);
            if hits.len() as u32 >= limit {
                break;
            }
        }
    }
    Ok(matched)
}

/// The input, upper-cased, when it is one word that looks like the start of a ticket number:
/// a letter then letters or digits (the configured prefix, "TKT", "HD2"), a dash, a digit, then
/// only digits and dashes ("tkt-2026-00", "TKT-2026-00042").
fn number_prefix(input: &str) -> Option<String> {
    let word = input.trim();
    let (letters, rest) = word.split_once('-')?;
    let ok = letters.starts_with(|c: char| c.is_ascii_alphabetic())
        && letters.chars().all(|c| c.is_ascii_alphanumeric())
        && rest.starts_with(|c: char| c.is_ascii_digit())
        && rest.chars().all(|c| c.is_ascii_digit() || c == '-');
    ok.then(|| word.to_ascii_uppercase())
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
        .map(|w| quoted(&w))
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
        .map(|w| quoted(w))
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
    use super::{fts_query, index_text, keywords};

    #[test]
    fn a_ticket_number_being_typed_is_recognised() {
        use super::number_prefix;
        assert_eq!(
            number_prefix(" tkt-2026-0004 "),
            Some("TKT-2026-0004".into())
        );
        assert_eq!(number_prefix("TKT-2"), Some("TKT-2".into()));
        for not in [
            "TKT",
            "TKT-",
            "TKT-x",
            "2026-1",
            "TKT-2026 sync",
            "TK*-1",
            "a-1[2]",
        ] {
            assert_eq!(number_prefix(not), None, "{not}");
        }
    }

    /// The obvious definition, character by character.
    fn reference(text: &str) -> String {
        let mut out = String::new();
        let mut prev: Option<char> = None;
        for c in text.chars() {
            if let Some(p) = prev
                && ((p.is_alphabetic() && c.is_numeric()) || (p.is_numeric() && c.is_alphabetic()))
            {
                out.push(' ');
            }
            out.push(c);
            prev = Some(c);
        }
        out
    }

    #[test]
    fn index_text_agrees_with_the_character_definition() {
        let samples = [
            "",
            "a",
            "1",
            "a1b2c3",
            "v4.12.1 build2026",
            "TKT-2026-00042",
            "Größe3ä",
            "报表2026年",
            "٣abc",
            "x\u{301}1",
            "émile99@exämple7.org",
            "10:30am – 2FA ok",
            "🙂1a",
            "ǅ9",
            "Ⅻb",
            "a\u{0}1",
        ];
        for s in samples {
            assert_eq!(index_text(s), reference(s), "{s:?}");
        }
        // And pseudo-random mixes of letters, digits, punctuation and wide characters, and of
        // ASCII alone (its own path).
        let mut x: u64 = 7;
        for (alphabet, n) in [("aZ09 .-_@é報٣🙂\u{301}\n", 500), ("aZ09 .-_@\n", 500)] {
            let alphabet: Vec<char> = alphabet.chars().collect();
            for _ in 0..n {
                let s: String = (0..40)
                    .map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        alphabet[(x % alphabet.len() as u64) as usize]
                    })
                    .collect();
                assert_eq!(index_text(&s), reference(&s), "{s:?}");
            }
        }
    }

    #[test]
    fn index_text_splits_letters_from_digits_only() {
        assert_eq!(
            index_text("plain words, no digits"),
            "plain words, no digits"
        );
        assert!(matches!(index_text("plain"), std::borrow::Cow::Borrowed(_)));
        assert_eq!(
            index_text("customer1234@ex12.example"),
            "customer 1234@ex 12.example"
        );
        assert_eq!(
            index_text("TKT-2026-00042 v2 2FA"),
            "TKT-2026-00042 v 2 2 FA"
        );
        assert_eq!(index_text("Größe3ä"), "Größe 3 ä");
        assert_eq!(index_text("a1"), "a 1");
    }

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
        assert_eq!(fts_query("syn"), Some("\"syn\"*".into()));
        assert_eq!(fts_query("sy"), Some("\"sy\"".into()));
        assert_eq!(
            fts_query("customer123"),
            Some("\"customer 123\"*".into()),
            "letters and digits split as in the index"
        );
        assert_eq!(fts_query("customer12"), Some("\"customer 12\"".into()));
        assert_eq!(fts_query("jo@exa"), Some("\"jo@exa\"*".into()));
        // When that finds nothing: the query without the short last part.
        use super::fts_query_without_short_tail as wider;
        assert_eq!(wider("customer12"), Some("\"customer\"*".into()));
        assert_eq!(
            wider("invoice customer1"),
            Some("\"invoice\" \"customer\"*".into())
        );
        assert_eq!(wider("jo@ex"), Some("\"jo\"".into()));
        assert_eq!(wider("jo@exa"), None);
        assert_eq!(wider("ab"), None, "a lone short word has nothing before it");
        assert_eq!(wider("invoice re"), Some("\"invoice\"*".into()));
        assert_eq!(wider("invoice ref"), None);
        assert_eq!(wider("x1"), Some("\"x\"".into()));
        assert_eq!(
            fts_query("login 2FA-code \"x"),
            Some("\"login\" \"2 FA-code\" \"\"\"x\"".into())
        );
    }
}
