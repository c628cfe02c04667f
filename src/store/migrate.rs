//! Forward-only numbered migrations, tracked by `PRAGMA user_version`. Each runs in its own
//! transaction together with the version bump, so a crash leaves the store at a whole version.

use rusqlite::Connection;

use super::{Result, StoreError};

pub struct Migration {
    pub version: u32,
    pub name: &'static str,
    pub sql: &'static str,
}

pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "init",
        sql: include_str!("migrations/001_init.sql"),
    },
    Migration {
        version: 2,
        name: "search",
        sql: include_str!("migrations/002_search.sql"),
    },
    Migration {
        version: 3,
        name: "sync_applied",
        sql: include_str!("migrations/003_sync_applied.sql"),
    },
    Migration {
        version: 4,
        name: "fts_queue_explicit",
        sql: include_str!("migrations/004_fts_queue_explicit.sql"),
    },
    Migration {
        version: 5,
        name: "list_order",
        sql: include_str!("migrations/005_list_order.sql"),
    },
    Migration {
        version: 6,
        name: "sla_escalation",
        sql: include_str!("migrations/006_sla_escalation.sql"),
    },
    Migration {
        version: 7,
        name: "outbox",
        sql: include_str!("migrations/007_outbox.sql"),
    },
    Migration {
        version: 8,
        name: "search_prefix",
        sql: include_str!("migrations/008_search_prefix.sql"),
    },
];

pub const SCHEMA_VERSION: u32 = MIGRATIONS[MIGRATIONS.len() - 1].version;

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
        tx.pragma_update(None, "user_version", m.version)
            .map_err(wrap)?;
        tx.commit().map_err(wrap)?;
        tracing::info!(version = m.version, name = m.name, "store migrated");
    }
    Ok(())
}
