//! Forward-only numbered migrations, tracked by `PRAGMA user_version`. Each runs in its own
//! transaction together with the version bump, so a crash leaves the store at a whole version.

use rusqlite::Connection;

use super::{Result, StoreError};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
    /// A step SQL cannot express, run after `sql` in the same transaction.
    pub step: Option<fn(&Connection) -> rusqlite::Result<()>>,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/001_init.sql"),
        step: None,
    },
    Migration {
        version: 2,
        name: "search",
        sql: include_str!("migrations/002_search.sql"),
        step: None,
    },
    Migration {
        version: 3,
        name: "sync_applied",
        sql: include_str!("migrations/003_sync_applied.sql"),
        step: None,
    },
    Migration {
        version: 4,
        name: "fts_queue_explicit",
        sql: include_str!("migrations/004_fts_queue_explicit.sql"),
        step: None,
    },
    Migration {
        version: 5,
        name: "list_order",
        sql: include_str!("migrations/005_list_order.sql"),
        step: None,
    },
    Migration {
        version: 6,
        name: "sla_escalation",
        sql: include_str!("migrations/006_sla_escalation.sql"),
        step: None,
    },
    Migration {
        version: 7,
        name: "outbox",
        sql: include_str!("migrations/007_outbox.sql"),
        step: None,
    },
    Migration {
        version: 8,
        name: "search_prefix",
        sql: include_str!("migrations/008_search_prefix.sql"),
        step: None,
    },
    Migration {
        version: 9,
        name: "checks_without_in_lists",
        sql: "",
        step: Some(checks_without_in_lists),
    },
    Migration {
        version: 10,
        name: "search_file",
        sql: include_str!("migrations/010_search_file.sql"),
        step: None,
    },
];

pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

/// Migration 9: CHECK constraints of the form `x IN ('a', 'b', 'c')` become
/// `(x = 'a' OR x = 'b' OR x = 'c')`, which allow exactly the same values. SQLite evaluates a
/// constant IN list of more than two values by building a temporary b-tree, on every row
/// written: some seven per stored message, each zeroing a 16 KiB page, a tenth of the work of
/// storing a message during a sync.
///
/// A CHECK constraint does not change how rows are stored, so the table's text in
/// sqlite_schema is rewritten in place, the documented way (sqlite.org/lang_altertable.html,
/// "PRAGMA writable_schema"): each new statement is first created in a scratch in-memory
/// database, then the schema version is bumped so every connection reloads it.
fn checks_without_in_lists(conn: &Connection) -> rusqlite::Result<()> {
    let in_list = regex::Regex::new(r"(\w+) IN \(('[^']*'(?:,\s*'[^']*')*)\)").expect("valid");
    let value = regex::Regex::new(r"'[^']*'").expect("valid");
    let tables: Vec<(String, String)> = conn
        .prepare("SELECT name, sql FROM sqlite_schema WHERE type = 'table' AND sql LIKE '%CHECK%'")?
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let scratch = Connection::open_in_memory()?;
    let mut changed = Vec::new();
    for (name, sql) in tables {
        let new = in_list.replace_all(&sql, |c: &regex::Captures<'_>| {
            let column = &c[1];
            let alternatives: Vec<String> = value
                .find_iter(&c[2])
                .map(|v| format!("{column} = {}", v.as_str()))
                .collect();
            format!("({})", alternatives.join(" OR "))
        });
        if new != sql {
            // Foreign keys name tables the scratch database lacks; that is not checked here.
            scratch.execute_batch(&new)?;
            changed.push((name, new.into_owned()));
        }
    }
    if changed.is_empty() {
        return Ok(());
    }
    let version: i64 = conn.query_row("PRAGMA schema_version", [], |r| r.get(0))?;
    conn.pragma_update(None, "writable_schema", true)?;
    for (name, sql) in &changed {
        conn.execute(
            "UPDATE sqlite_schema SET sql = ?1 WHERE type = 'table' AND name = ?2",
            rusqlite::params![sql, name],
        )?;
    }
    conn.pragma_update(None, "schema_version", version + 1)?;
    conn.pragma_update(None, "writable_schema", false)?;
    Ok(())
}

pub(super) fn user_version(conn: &Connection) -> Result<u32> {
    Ok(conn.query_row("PRAGMA user_version", [], |r| r.get(0))?)
}

/// Applies every migration above the file's version up to `target`.
pub(super) fn migrate(conn: &mut Connection, target: u32) -> Result<()> {
    let current = user_version(conn)?;
    if current > SCHEMA_VERSION {
        return Err(StoreError::TooNew {
            found: current,
            known: SCHEMA_VERSION,
        });
    }
    for m in MIGRATIONS
        .iter()
        .filter(|m| m.version > current && m.version <= target)
    {
        let wrap = |source| StoreError::Migration {
            version: m.version,
            name: m.name,
            source,
        };
        let tx = conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .map_err(wrap)?;
        // Another process may have migrated while we waited for the lock.
        if user_version(&tx)? >= m.version {
            continue;
        }
        tx.execute_batch(m.sql).map_err(wrap)?;
        if let Some(step) = m.step {
            step(&tx).map_err(wrap)?;
        }
        tx.pragma_update(None, "user_version", m.version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        tracing::info!(version = m.version, name = m.name, "store migrated");
    }
    Ok(())
}
