//! The store: migrations from every earlier version, file permissions, the append-only event
//! log, and two processes writing at once.

mod support;

use std::os::unix::fs::PermissionsExt;

use helpdesk::store::{SCHEMA_VERSION, Store, search};
use rusqlite::params;
use support::mail;

fn schema(store: &Store) -> Vec<(String, String)> {
    let mut stmt = store
        .conn()
        .prepare("SELECT name, sql FROM sqlite_master WHERE sql IS NOT NULL ORDER BY name")
        .unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .collect::<rusqlite::Result<_>>()
        .unwrap()
}

/// Rows every schema version since 1 can hold, written as helpdesk at that version wrote them
/// (from version 4 on, the app queues a new message for search itself).
fn seed(store: &Store, version: u32) {
    let c = store.conn();
    c.execute(
        "INSERT INTO tickets (number, subject, subject_norm, requester_addr, status, created_at, updated_at)
         VALUES ('TKT-2026-00001', 'Sync stuck', 'sync stuck', 'a@x.example', 'open', 1, 1)",
        [],
    )
    .unwrap();
    c.execute(
        "INSERT INTO messages (ticket_id, message_id, direction, class, subject, sender, body_text,
             stored_at, raw, raw_size, raw_sha256, source)
         VALUES (1, 'm1@x', 'inbound', 'human', 'Sync stuck', 'a@x.example', 'the quokka is stuck',
             1, ?1, 3, 'h', 'test')",
        params![b"raw".to_vec()],
    )
    .unwrap();
    if version >= 10 {
        c.execute("INSERT INTO search_queue (message_id) VALUES (1)", [])
            .unwrap();
    } else if version >= 4 {
        c.execute("INSERT INTO fts_pending (message_id) VALUES (1)", [])
            .unwrap();
    }
}

#[test]
fn migrating_from_empty_and_from_every_earlier_version_gives_the_same_schema() {
    let dir = tempfile::tempdir().unwrap();
    let fresh = Store::open(&dir.path().join("fresh.sqlite3")).unwrap();
    assert_eq!(fresh.schema_version().unwrap(), SCHEMA_VERSION);
    let expected = schema(&fresh);
    assert!(expected.iter().any(|(n, _)| n == "search_queue"));
    assert!(!expected.iter().any(|(n, _)| n.starts_with("messages_fts")));

    for from in 0..SCHEMA_VERSION {
        let path = dir.path().join(format!("v{from}.sqlite3"));
        {
            let old = Store::open_at_version(&path, from).unwrap();
            assert_eq!(old.schema_version().unwrap(), from);
            if from >= 1 {
                seed(&old, from);
            }
        }
        let store = Store::open(&path).unwrap();
        assert_eq!(
            store.schema_version().unwrap(),
            SCHEMA_VERSION,
            "from v{from}"
        );
        assert_eq!(
            schema(&store),
            expected,
            "schema after migrating from v{from}"
        );
        let ok: String = store
            .conn()
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(ok, "ok");
        if from >= 1 {
            // Rows written before the search index existed are found by it.
            let hits = search::tickets(store.conn(), "quokka", 10).unwrap();
            assert_eq!(hits.len(), 1, "from v{from}");
            assert_eq!(hits[0].number, "TKT-2026-00001");
        }
    }
}

/// The ticket numbers search finds for what was typed, in result order.
fn found(c: &rusqlite::Connection, typed: &str) -> Vec<String> {
    search::tickets(c, typed, 10)
        .unwrap()
        .into_iter()
        .map(|h| h.number)
        .collect()
}

#[test]
fn ingested_messages_are_found_by_search_and_edits_reindex() {
    let mut h = support::Harness::new();
    h.ingest(
        &mail()
            .from("Zoë <zoe@x.example>")
            .subject("Sync stuck")
            .id("f1@x")
            .body("the quokka ate my invoice\n")
            .build(),
    );
    h.ingest(
        &mail()
            .from("b@x.example")
            .subject("Other")
            .id("f2@x")
            .body("nothing here\n")
            .build(),
    );
    let c = h.store.conn();
    let hits = |q: &str| found(c, q);
    assert_eq!(hits("quokka"), ["TKT-2026-00001"]);
    assert_eq!(
        hits("quok"),
        ["TKT-2026-00001"],
        "prefix match while typing"
    );
    assert_eq!(hits("zoe"), ["TKT-2026-00001"], "sender, diacritics folded");
    assert_eq!(hits("sync stuck"), ["TKT-2026-00001"]);
    // A second word being typed keeps the first word's results until it narrows them.
    assert_eq!(hits("quokka z"), ["TKT-2026-00001"]);
    assert!(hits("quokka zeb").is_empty());
    assert!(hits("elephant").is_empty());
    let pending: i64 = c
        .query_row(
            "SELECT count(*) FROM search_queue
             WHERE seq > coalesce((SELECT applied FROM search.search_state), -1)",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(pending, 0);
    c.execute(
        "UPDATE messages SET body_text = 'an elephant now' WHERE message_id = 'f1@x'",
        [],
    )
    .unwrap();
    search::flush(c).unwrap();
    assert_eq!(hits("elephant"), ["TKT-2026-00001"]);
    assert!(hits("quokka").is_empty());
    // FTS5 checks its index for consistency and fails on any damage.
    c.execute(
        "INSERT INTO messages_fts(messages_fts) VALUES('integrity-check')",
        [],
    )
    .unwrap();
}

#[test]
fn ids_with_digits_and_ticket_numbers_are_found_as_typed() {
    let mut h = support::Harness::new();
    h.ingest(
        &mail()
            .from("Customer 1234 <customer1234@acme.example>")
            .subject("Order ORD12345 failed")
            .id("d1@x")
            .body("upgrade to v2 please\n")
            .build(),
    );
    h.ingest(
        &mail()
            .from("customer99@acme.example")
            .subject("Another")
            .id("d2@x")
            .body("plain\n")
            .build(),
    );
    let c = h.store.conn();
    let hits = |q: &str| found(c, q);
    let one = ["TKT-2026-00001"];
    for q in [
        "customer1234",
        "customer123",
        "ord12345",
        "ORD123",
        "order ord1234",
        "v2",
    ] {
        assert_eq!(hits(q), one, "{q}");
    }
    assert_eq!(hits("customer99"), ["TKT-2026-00002"]);
    assert_eq!(hits("another"), ["TKT-2026-00002"]);
    // While the digits are typed: "customer1" and "customer12" match nothing exactly, so the
    // results for "customer" stay instead of an empty list.
    assert_eq!(hits("customer12"), ["TKT-2026-00002", "TKT-2026-00001"]);
    assert_eq!(hits("customer"), ["TKT-2026-00002", "TKT-2026-00001"]);
    assert!(hits("customer12345").is_empty());
    // Two letters match the word only (a prefix from three on).
    assert!(hits("cu").is_empty());
    // A ticket number as typed, in any case, whether or not the mail carries it.
    assert_eq!(hits("tkt-2026-0000"), ["TKT-2026-00001", "TKT-2026-00002"]);
    assert_eq!(hits("TKT-2026-00002"), ["TKT-2026-00002"]);
    // The number lookup is a range on the unique index, not a scan.
    let plan: String = c
        .query_row(
            "EXPLAIN QUERY PLAN SELECT id, number, subject FROM tickets
             WHERE number >= ?1 AND number < ?2 ORDER BY number LIMIT ?3",
            rusqlite::params!["TKT-2026-0", "TKT-2026-1", 10],
            |r| r.get(3),
        )
        .unwrap();
    assert!(
        plan.starts_with("SEARCH") && plan.contains("number>? AND number<?"),
        "{plan}"
    );
    // A deleted message leaves the index (the store never deletes one; a person might, with
    // sqlite3).
    let id: i64 = c
        .query_row(
            "SELECT id FROM messages WHERE message_id = 'd2@x'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    c.execute_batch("PRAGMA foreign_keys = OFF; DELETE FROM messages WHERE message_id = 'd2@x'")
        .unwrap();
    assert!(hits("another").is_empty());
    search::flush(c).unwrap();
    let left: i64 = c
        .query_row(
            "SELECT count(*) FROM search.messages_fts_docsize WHERE id = ?1",
            [id],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(left, 0, "the deleted message's row left the index");
    assert_eq!(hits("customer"), one);
}

#[test]
fn the_search_index_is_a_file_of_its_own_rebuilt_when_lost_or_not_this_stores() {
    let mut h = support::Harness::new();
    h.ingest(
        &mail()
            .from("a@x.example")
            .subject("Sync stuck")
            .id("s1@x")
            .body("the quokka is stuck\n")
            .build(),
    );
    let path = h.store_path();
    let index = search::path_for(&path);
    assert_eq!(index.file_name().unwrap(), "store.search.sqlite3");
    assert!(index.exists());
    assert_eq!(found(h.store.conn(), "quokka"), ["TKT-2026-00001"]);
    drop(h.store);

    // Lost (deleted, or not in a backup that was put back): the next open indexes every
    // message again.
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(found(store.conn(), "quokka"), ["TKT-2026-00001"]);
    drop(store);

    // Another store's index in its place finds nothing of this one's mail: it is rebuilt.
    let mut other = support::Harness::new();
    other.ingest(
        &mail()
            .from("b@x.example")
            .subject("Elsewhere")
            .id("o1@x")
            .body("a wombat\n")
            .build(),
    );
    let other_index = search::path_for(&other.store_path());
    let support::Harness {
        dir: _other_dir,
        store: other_store,
        ..
    } = other;
    // Closed: its last writes are checkpointed into the file.
    drop(other_store);
    std::fs::copy(&other_index, &index).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
    let store = Store::open(&path).unwrap();
    assert_eq!(found(store.conn(), "quokka"), ["TKT-2026-00001"]);
    assert!(found(store.conn(), "wombat").is_empty());
}

/// Ingests a one-line message with `id` and `word` in its body.
fn ingest_word(h: &mut support::Harness, id: &str, word: &str) {
    h.ingest(
        &mail()
            .from("a@x.example")
            .subject(&format!("About {id}"))
            .id(id)
            .body(&format!("a {word}\n"))
            .build(),
    );
}

#[test]
fn a_search_file_behind_what_the_store_forgot_is_rebuilt() {
    let mut h = support::Harness::new();
    ingest_word(&mut h, "b1@x", "quokka");
    let path = h.store_path();
    let index = search::path_for(&path);
    let old = h.dir.path().join("old-index");
    drop(h.store);
    std::fs::copy(&index, &old).unwrap();
    h.store = Store::open(&path).unwrap();
    // Each write forgets the queue entries applied before it.
    ingest_word(&mut h, "b2@x", "wombat");
    ingest_word(&mut h, "b3@x", "numbat");
    drop(h.store);
    // The index goes back (a power cut lost its last commits, or an older copy is put back):
    // the entry for b2 is gone from the store's queue, so only a rebuild finds it.
    std::fs::copy(&old, &index).unwrap();
    for suffix in ["-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", index.display()));
    }
    let store = Store::open(&path).unwrap();
    for word in ["quokka", "wombat", "numbat"] {
        assert_eq!(found(store.conn(), word).len(), 1, "{word}");
    }
}

#[test]
fn a_search_file_of_the_older_layout_with_a_prefix_index_is_rebuilt_without_it() {
    let mut h = support::Harness::new();
    ingest_word(&mut h, "p1@x", "quokka");
    let path = h.store_path();
    let index = search::path_for(&path);
    drop(h.store);
    // Layout 1: the same table with a three-letter prefix index.
    let old = rusqlite::Connection::open(&index).unwrap();
    old.execute_batch(
        "DROP TABLE messages_fts;
         CREATE VIRTUAL TABLE messages_fts USING fts5(
             subject, sender, body_text,
             content = '', contentless_delete = 1,
             tokenize = 'unicode61 remove_diacritics 2',
             prefix = '3');
         WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 3000)
         INSERT INTO messages_fts (rowid, subject, sender, body_text)
             SELECT i + 1000, 'old', 'old', printf('distinct%d words%d of an old index', i, i)
             FROM n;
         PRAGMA user_version = 1;",
    )
    .unwrap();
    drop(old);

    let store = Store::open(&path).unwrap();
    let c = store.conn();
    let sql: String = c
        .query_row(
            "SELECT sql FROM search.sqlite_schema WHERE name = 'messages_fts'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert!(!sql.contains("prefix"), "{sql}");
    let version: u32 = c
        .query_row("PRAGMA search.user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    // The old index's pages went back to the disk.
    let free: i64 = c
        .query_row("PRAGMA search.freelist_count", [], |r| r.get(0))
        .unwrap();
    assert_eq!(free, 0);
    // Indexed again, and found as a word and by its three-letter prefix.
    assert_eq!(found(c, "quokka"), ["TKT-2026-00001"]);
    assert_eq!(found(c, "quo"), ["TKT-2026-00001"]);
}

#[test]
fn another_database_where_the_search_file_goes_is_refused_not_emptied() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let index = search::path_for(&path);
    {
        let other = rusqlite::Connection::open(&index).unwrap();
        other
            .execute_batch("CREATE TABLE precious (x); INSERT INTO precious VALUES (1);")
            .unwrap();
    }
    let e = Store::open(&path).err().unwrap().to_string();
    assert!(e.contains("holds another database"), "{e}");
    let other = rusqlite::Connection::open(&index).unwrap();
    let n: i64 = other
        .query_row("SELECT count(*) FROM precious", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 1);
}

#[test]
fn the_indexer_thread_keeps_pace_with_the_store() {
    let mut h = support::Harness::new();
    let applied = |c: &rusqlite::Connection| -> i64 {
        c.query_row(
            "SELECT coalesce(applied, 0) FROM search.search_state",
            [],
            |r| r.get(0),
        )
        .unwrap()
    };
    let before = applied(h.store.conn());
    let seen = helpdesk::store::indexer::with_indexer(&mut h.store, 3000, |store, pace| {
        for batch in 0..3 {
            let tx = store.write().unwrap();
            tx.execute(
                "INSERT INTO tickets (number, subject, subject_norm, requester_addr, status,
                     created_at, updated_at)
                 VALUES (?1, 'Pace', 'pace', 'a@x.example', 'open', 1, 1)",
                [format!("TKT-2026-9{batch:04}")],
            )
            .unwrap();
            let ticket = tx.last_insert_rowid();
            for i in 0..1000 {
                tx.execute(
                    "INSERT INTO messages (ticket_id, message_id, direction, class, subject,
                         sender, body_text, stored_at, raw, raw_size, raw_sha256, source)
                     VALUES (?1, ?2, 'inbound', 'human', 'Pace', 'a@x.example', 'a bilby',
                         1, x'00', 1, 'h', 'test')",
                    rusqlite::params![ticket, format!("p{batch}.{i}@x")],
                )
                .unwrap();
                tx.execute(
                    "INSERT INTO search_queue (message_id) VALUES (last_insert_rowid())",
                    [],
                )
                .unwrap();
            }
            Store::commit_unindexed(tx).unwrap();
            pace.stored(1000);
            pace.wait_for_indexer();
        }
        applied(store.conn())
    });
    // The store may run at most Pace::AHEAD (2,000) messages ahead: by the time it stored
    // the third thousand, the indexer had indexed at least the first, on its own thread.
    assert!(
        seen - before >= 1000,
        "indexed while storing: {}",
        seen - before
    );
    assert_eq!(
        applied(h.store.conn()) - before,
        3000,
        "and the rest once done"
    );
    let matches: i64 = h
        .store
        .conn()
        .query_row(
            "SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'bilby'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(matches, 3000);
}

#[test]
fn a_store_write_does_not_stop_another_connection_from_indexing() {
    let mut h = support::Harness::new();
    let path = h.store_path();
    let indexer = Store::open_again(&path).unwrap();
    // Stored and committed without indexing (as the sync's storing thread does).
    {
        let tx = h.store.write().unwrap();
        let r = h.ingest.store(
            &tx,
            &helpdesk::mail::ingest::RawMessage {
                bytes: &mail()
                    .from("a@x.example")
                    .subject("Later")
                    .id("l1@x")
                    .body("a numbat\n")
                    .build(),
                source: "test",
                mailbox: None,
                uidvalidity: None,
                uid: None,
            },
            &h.ingest.prepare(
                &mail()
                    .from("a@x.example")
                    .subject("Later")
                    .id("l1@x")
                    .body("a numbat\n")
                    .build(),
            ),
            1_800_000_000,
        );
        r.unwrap();
        Store::commit_unindexed(tx).unwrap();
    }
    assert!(found(h.store.conn(), "numbat").is_empty());
    assert_eq!(
        search::status(h.store.conn()).unwrap(),
        (0, 1),
        "one waiting"
    );
    // The store's write lock is held while the other connection indexes: the two files
    // are locked apart.
    let tx = h.store.write().unwrap();
    assert_eq!(indexer.index_step(1000).unwrap(), 1);
    assert_eq!(indexer.index_step(1000).unwrap(), 0, "nothing left");
    Store::commit(tx).unwrap();
    assert_eq!(search::status(h.store.conn()).unwrap(), (1, 0));
    assert_eq!(found(h.store.conn(), "numbat").len(), 1);
}

#[test]
fn a_store_from_a_newer_helpdesk_is_refused_with_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.sqlite3");
    let s = Store::open(&path).unwrap();
    s.conn()
        .pragma_update(None, "user_version", SCHEMA_VERSION + 1)
        .unwrap();
    drop(s);
    let e = Store::open(&path).err().unwrap().to_string();
    assert!(e.contains("newer than this helpdesk knows"), "{e}");
}

#[test]
fn the_store_file_is_private_and_in_wal_mode() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/s.sqlite3");
    let s = Store::open(&path).unwrap();
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    let dmode = std::fs::metadata(path.parent().unwrap())
        .unwrap()
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(dmode, 0o700);
    let jm: String = s
        .conn()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(jm, "wal");
    let fk: i64 = s
        .conn()
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert_eq!(fk, 1);
}

#[test]
fn events_are_append_only() {
    let mut h = support::Harness::new();
    h.ingest(&mail().from("a@x.example").subject("Hi").id("e1@x").build());
    let c = h.store.conn();
    let n: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert!(n >= 1);
    assert!(c.execute("UPDATE events SET detail = 'x'", []).is_err());
    assert!(c.execute("DELETE FROM events", []).is_err());
    let after: i64 = c
        .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
        .unwrap();
    assert_eq!(after, n);
}

#[test]
fn two_processes_importing_into_one_store_corrupt_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir(&a).unwrap();
    std::fs::create_dir(&b).unwrap();
    // 300 messages each, 100 of them in both folders.
    for i in 0..400 {
        let raw = mail()
            .from(&format!("c{i}@x.example"))
            .subject(&format!("Question {i}"))
            .id(&format!("m{i}@x.example"))
            .build();
        if i < 300 {
            std::fs::write(a.join(format!("{i}.eml")), &raw).unwrap();
        }
        if i >= 200 {
            std::fs::write(b.join(format!("{i}.eml")), &raw).unwrap();
        }
    }
    let store = dir.path().join("shared.sqlite3");
    let spawn = |folder: &std::path::Path| {
        std::process::Command::new(env!("CARGO_BIN_EXE_helpdesk"))
            .args([
                "--store",
                store.to_str().unwrap(),
                "import",
                folder.to_str().unwrap(),
            ])
            .env("HOME", dir.path())
            .env("XDG_CONFIG_HOME", dir.path().join("cfg"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (spawn(&a), spawn(&b));
    let (oa, ob) = (
        pa.wait_with_output().unwrap(),
        pb.wait_with_output().unwrap(),
    );
    assert!(
        oa.status.success(),
        "{}",
        String::from_utf8_lossy(&oa.stderr)
    );
    assert!(
        ob.status.success(),
        "{}",
        String::from_utf8_lossy(&ob.stderr)
    );

    let s = Store::open(&store).unwrap();
    let c = s.conn();
    let ok: String = c
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(ok, "ok");
    let msgs: i64 = c
        .query_row("SELECT count(*) FROM messages", [], |r| r.get(0))
        .unwrap();
    let tickets: i64 = c
        .query_row("SELECT count(*) FROM tickets", [], |r| r.get(0))
        .unwrap();
    let distinct: i64 = c
        .query_row("SELECT count(DISTINCT number) FROM tickets", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!((msgs, tickets, distinct), (400, 400, 400));
    let last: i64 = c
        .query_row("SELECT last FROM ticket_seq", [], |r| r.get(0))
        .unwrap();
    assert_eq!(last, 400, "no number handed out twice or skipped");
    // Both runs together saw every message once as new and the overlap once as duplicate.
    let summary = |o: &std::process::Output| String::from_utf8_lossy(&o.stdout).into_owned();
    let dup = |s: &str| -> u64 {
        s.split(", ")
            .find(|p| p.ends_with("duplicates skipped"))
            .and_then(|p| p.split_whitespace().next())
            .unwrap()
            .parse()
            .unwrap()
    };
    assert_eq!(dup(&summary(&oa)) + dup(&summary(&ob)), 100);
}

#[test]
fn check_constraints_hold_without_temporary_tables() {
    let h = support::Harness::new();
    let c = h.store.conn();
    // Migration 9 turned `x IN (...)` checks into OR chains: a constant IN list of three or
    // more values made SQLite build a temporary b-tree on every insert.
    let schema: Vec<String> = c
        .prepare("SELECT sql FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(schema.len() >= 5);
    for sql in &schema {
        assert!(!sql.contains(" IN ('"), "{sql}");
    }
    let plan = |sql: &str| -> Vec<String> {
        let mut st = c.prepare(&format!("EXPLAIN {sql}")).unwrap();
        let n = st.parameter_count();
        st.query_map(
            rusqlite::params_from_iter(std::iter::repeat_n(rusqlite::types::Null, n)),
            |r| r.get::<_, String>(1),
        )
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
    };
    let ops =
        plan("INSERT OR IGNORE INTO participants (ticket_id, address, role) VALUES (?1, ?2, ?3)");
    assert!(!ops.iter().any(|o| o == "OpenEphemeral"), "{ops:?}");
    // The checks still refuse what they refused.
    h.store
        .conn()
        .execute(
            "INSERT INTO tickets (number, subject, subject_norm, requester_addr, status,
                 created_at, updated_at)
             VALUES ('TKT-2026-09999', 's', 's', 'a@x', 'open', 1, 1)",
            [],
        )
        .unwrap();
    let bad = c.execute(
        "INSERT INTO participants (ticket_id, address, role)
         SELECT id, 'a@x', 'bogus' FROM tickets WHERE number = 'TKT-2026-09999'",
        [],
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("CHECK constraint failed")
    );
    let bad = c.execute(
        "UPDATE tickets SET status = 'pending' WHERE number = 'TKT-2026-09999'",
        [],
    );
    assert!(
        bad.unwrap_err()
            .to_string()
            .contains("CHECK constraint failed")
    );
    c.execute(
        "UPDATE tickets SET status = 'noise', ack_state = NULL WHERE number = 'TKT-2026-09999'",
        [],
    )
    .unwrap();
}
