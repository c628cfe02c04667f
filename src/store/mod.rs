//! The ticket store: plain blocking rusqlite over one SQLite file, no tokio and nothing of the
//! app above it. One file per table family; each query is written once, beside its row type.
//!
//! The file is created with mode 0600 (its directory 0700), opened in WAL mode with foreign
//! keys on (off while a sync or an import stores: `Store::without_foreign_key_checks`) and a
//! busy timeout, so that two `helpdesk` processes can share it: writers use short
//! `BEGIN IMMEDIATE` transactions and wait for each other instead of failing.

pub mod db;
mod error;
pub mod escalations;
pub mod events;
pub mod indexer;
pub mod messages;
mod migrate;
pub mod outbox;
pub mod search;
pub mod states;
pub mod stats;
pub mod sync;
pub mod tickets;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, Transaction, TransactionBehavior};

pub use error::StoreError;
pub use migrate::{MIGRATIONS, SCHEMA_VERSION};
pub use states::{
    Direction, DraftState, EscalationState, MessageClass, OutboxKind, OutboxState, TicketStatus,
};

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How long a writer waits for another process's transaction before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

/// Process-wide SQLite settings, applied once before the first connection opens.
///
/// Memory statistics off: with them on (SQLite's default), every allocation SQLite makes takes
/// one process-wide mutex, for which the sync's storing and indexing threads queued some
/// 2,500 times per 10,000 messages. Nothing here reads those statistics.
fn sqlite_global_config() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // SAFETY: sqlite3_config is only valid before SQLite initializes; later (a connection
        // opened elsewhere first) it returns SQLITE_MISUSE and changes nothing.
        let rc = unsafe {
            rusqlite::ffi::sqlite3_config(
                rusqlite::ffi::SQLITE_CONFIG_MEMSTATUS,
                0 as std::ffi::c_int,
            )
        };
        if rc != rusqlite::ffi::SQLITE_OK {
            tracing::debug!(
                rc,
                "SQLite was initialized before the store opened: memory statistics stay on"
            );
        }
    });
}

impl Store {
    /// Opens (creating if needed) the store at `path` and brings its schema up to date; attaches
    /// its search index (a file of its own, see [`search::path_for`]) and brings that up to date.
    pub fn open(path: &Path) -> Result<Store> {
        let mut store = Store::open_unmigrated(path)?;
        migrate::migrate(&mut store.conn, SCHEMA_VERSION)?;
        store.attach_search()?;
        store.index_leftovers()?;
        Ok(store)
    }

    /// A second connection to a store another [`Store`] has opened (and migrated), for a
    /// thread of its own, such as the sync's indexer.
    pub fn open_again(path: &Path) -> Result<Store> {
        let store = Store::open_unmigrated(path)?;
        // Such a connection reads each stored row once: a small page cache will do (each
        // connection has its own; the first one's 16 MB would be memory touched for nothing).
        store.conn.execute_batch("PRAGMA main.cache_size = -2000")?;
        store.attach_search()?;
        Ok(store)
    }

    fn open_unmigrated(path: &Path) -> Result<Store> {
        sqlite_global_config();
        create_private_file(path).map_err(|source| StoreError::Create {
            path: path.to_owned(),
            source,
        })?;
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|source| StoreError::Open {
            path: path.to_owned(),
            source,
        })?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
        };
        store.configure()?;
        Ok(store)
    }

    fn attach_search(&self) -> Result<()> {
        let search = search::path_for(&self.path);
        create_private_file(&search).map_err(|source| StoreError::Create {
            path: search.clone(),
            source,
        })?;
        search::attach(&self.conn, &search).map_err(|e| match e {
            StoreError::Sqlite(source) => StoreError::Open {
                path: search,
                source,
            },
            e => e,
        })
    }

    /// Brings the search index up to date with the store: what a writer stored without
    /// indexing it (a process that stopped between the two), or every message when the search
    /// file is new. In steps of their own transaction, so another process waits at most one
    /// step for the search file; one that holds it longer than the busy timeout leaves the
    /// rest for later.
    pub fn index_leftovers(&mut self) -> Result<()> {
        const STEP: i64 = 5_000;
        // A read first: when nothing waits (nearly always), opening the store takes no lock on
        // the search file, which a sync's indexer may be writing.
        if !search::lags(&self.conn)? {
            return Ok(());
        }
        loop {
            match self.index_step(STEP) {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) if e.is_retryable() => return Ok(()),
                Err(e) => return Err(e),
            }
        }
    }

    /// Indexes at most `limit` messages the search index lacks, in a transaction that locks
    /// only the search file; returns how many (0: up to date).
    pub fn index_step(&self, limit: i64) -> Result<usize> {
        let tx = self.conn.unchecked_transaction()?;
        search::lock(&tx)?;
        let n = search::index_some(&tx, limit)?;
        tx.commit()?;
        Ok(n)
    }

    /// Opens the store without migrating: for tests that build earlier schema versions.
    #[doc(hidden)]
    pub fn open_at_version(path: &Path, version: u32) -> Result<Store> {
        let mut store = Store::open_unmigrated(path)?;
        migrate::migrate(&mut store.conn, version)?;
        Ok(store)
    }

    fn configure(&mut self) -> Result<()> {
        self.conn.busy_timeout(BUSY_TIMEOUT)?;
        // The search index's text transform (search::flush calls it).
        search::register_functions(&self.conn)?;
        // Ingest alone uses some 20 statements; the default cache of 16 made them re-prepare.
        self.conn.set_prepared_statement_cache_capacity(128);
        // Query planner stability: without it, a statement on `messages` (which has a partial
        // index) is re-prepared every time a new value is bound, a third of the import time.
        self.conn.set_db_config(
            rusqlite::config::DbConfig::SQLITE_DBCONFIG_ENABLE_QPSG,
            true,
        )?;
        // Raw mail is stored whole: most messages are 2–8 KiB, which with 4 KiB pages spills
        // into overflow chains. 16 KiB pages made a 10,000-message import 30% faster. Only takes
        // effect when the file is new (it must precede WAL mode).
        self.conn.execute_batch("PRAGMA page_size = 16384")?;
        wal_mode(&self.conn, "main")?;
        self.conn.execute_batch(
            "PRAGMA foreign_keys = ON;
             PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -16000;
             PRAGMA temp_store = MEMORY;",
        )?;
        Ok(())
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The connection, for reads.
    pub fn conn(&self) -> &Connection {
        &self.conn
    }

    /// Starts a write transaction that takes the store's write lock at once, so a second
    /// process waits at the start instead of failing at its first write. Not `BEGIN
    /// IMMEDIATE`: that would lock the attached search file as well, which the sync's indexer
    /// writes meanwhile. A write statement that changes nothing takes the store's lock alone.
    pub fn write(&mut self) -> Result<Transaction<'_>> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Deferred)?;
        tx.prepare_cached("DELETE FROM main.meta WHERE 0")?
            .execute([])?;
        Ok(tx)
    }

    /// Runs `f`, the storing side of a sync or an import ([`indexer::with_indexer`] calls it),
    /// without SQLite checking foreign keys, then checks them again for every later write on
    /// this connection.
    ///
    /// Ingest writes rows that point at a ticket or a message it has just inserted or found
    /// in the same transaction, and tickets and messages are never deleted, so the check cannot
    /// fail there; a sync or an import spent 8% of its storing thread's instructions on it
    /// (the thread that sets a sync's pace): a parent lookup for every message, event, draft,
    /// participant and attachment. Tests check the store's foreign keys after syncs and
    /// imports (`PRAGMA foreign_key_check`). The checks come back on however `f` ends, a
    /// panic included; a transaction `f` left open (where the setting would be ignored) is
    /// rolled back first.
    pub(crate) fn without_foreign_key_checks<R>(&mut self, f: impl FnOnce(&mut Store) -> R) -> R {
        if let Err(e) = self.conn.execute_batch("PRAGMA foreign_keys = OFF") {
            tracing::debug!(error = %e, "foreign key checks stay on");
        }
        let out = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(self)));
        if !self.conn.is_autocommit() {
            tracing::error!("a bulk write left its transaction open: rolled back");
            let _ = self.conn.execute_batch("ROLLBACK");
        }
        let on = self
            .conn
            .execute_batch("PRAGMA foreign_keys = ON")
            .and_then(|()| self.conn.query_row("PRAGMA foreign_keys", [], |r| r.get(0)));
        if !matches!(on, Ok(true)) {
            tracing::error!(result = ?on, "foreign key checks could not be turned on again");
        }
        match out {
            Ok(out) => out,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Copies what the write-ahead log of `schema` ("main" or "search") holds into its file,
    /// as far as readers allow, without waiting for anyone (a passive checkpoint). SQLite does
    /// it when the log grows past 1,000 pages and when the last connection closes; after a
    /// large write, doing it while other work goes on keeps it out of the close. A failure
    /// only leaves the log for later.
    pub fn checkpoint(&self, schema: &str) {
        let sql = match schema {
            "search" => "PRAGMA search.wal_checkpoint(PASSIVE)",
            _ => "PRAGMA main.wal_checkpoint(PASSIVE)",
        };
        if let Err(e) = self.conn.query_row(sql, [], |_| Ok(())) {
            tracing::debug!(schema, error = %e, "checkpoint left for later");
        }
    }

    /// Commits a write transaction after indexing what it queued for search.
    ///
    /// The search file failing (locked past the busy timeout, damaged, out of space) does not
    /// fail the write: the store commits, the queue keeps what is left to index, and the next
    /// commit or open of the store indexes it.
    pub fn commit(tx: Transaction<'_>) -> Result<()> {
        if let Err(e) = search::flush(&tx) {
            tracing::warn!(error = %e, "the search index is behind: it catches up later");
        }
        tx.commit()?;
        Ok(())
    }

    /// Commits a write transaction whose messages another connection indexes (the sync's
    /// indexer thread, [`Store::index_step`]); until then search does not find them.
    pub fn commit_unindexed(tx: Transaction<'_>) -> Result<()> {
        search::forget(&tx)?;
        tx.commit()?;
        Ok(())
    }

    pub fn schema_version(&self) -> Result<u32> {
        migrate::user_version(&self.conn)
    }

    /// A value from the `meta` table, created with `init` on first use.
    pub fn meta_or_init(&mut self, key: &str, init: impl FnOnce() -> String) -> Result<String> {
        let tx = self.write()?;
        let existing: Option<String> = tx
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .map(Some)
            .or_else(no_row_is_none)?;
        let value = match existing {
            Some(v) => v,
            None => {
                let v = init();
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    rusqlite::params![key, v],
                )?;
                v
            }
        };
        tx.commit()?;
        Ok(value)
    }
}

/// Turns "no row" into `None` for optional lookups.
/// Switches the database `schema` ("main" or an attached one) to WAL mode. That needs an
/// exclusive lock, for which SQLite does not call the busy handler: when a second process opens
/// the same new store at that moment, wait for it here (bounded) instead of failing.
fn wal_mode(conn: &Connection, schema: &str) -> Result<()> {
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    // journal_mode returns a row.
    let mode: String = loop {
        match conn.query_row(&format!("PRAGMA {schema}.journal_mode = WAL"), [], |r| {
            r.get(0)
        }) {
            Ok(mode) => break mode,
            Err(e)
                if matches!(
                    e.sqlite_error_code(),
                    Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked)
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(e.into()),
        }
    };
    if !mode.eq_ignore_ascii_case("wal") {
        tracing::warn!(
            schema,
            mode,
            "store is not in WAL mode; concurrent readers will wait"
        );
    }
    Ok(())
}

pub(crate) fn no_row_is_none<T>(e: rusqlite::Error) -> rusqlite::Result<Option<T>> {
    match e {
        rusqlite::Error::QueryReturnedNoRows => Ok(None),
        e => Err(e),
    }
}

/// Creates the store file with mode 0600 (and its directory with 0700) before SQLite opens it;
/// SQLite gives the -wal and -shm files the same permissions as the database file.
fn create_private_file(path: &Path) -> std::io::Result<()> {
    use std::fs::{DirBuilder, OpenOptions};
    #[cfg(unix)]
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};

    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty())
        && !dir.exists()
    {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        builder.mode(0o700);
        builder.create(dir)?;
    }
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    options.mode(0o600);
    options.open(path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An event for a ticket that does not exist.
    fn orphan(conn: &Connection) -> rusqlite::Result<usize> {
        conn.execute(
            "INSERT INTO events (ticket_id, at, kind, detail) VALUES (999, 0, 'x', 'y')",
            [],
        )
    }

    fn checks_on(store: &Store) -> bool {
        store
            .conn()
            .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
            .unwrap()
    }

    #[test]
    fn foreign_key_checks_come_back_however_a_bulk_write_ends() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("s.sqlite3")).unwrap();
        assert!(
            orphan(store.conn()).is_err(),
            "checked outside a bulk write"
        );

        // Unchecked inside, and a failure rolls back what it wrote.
        let r: Result<()> = store.without_foreign_key_checks(|s| {
            let tx = s.write()?;
            orphan(&tx)?;
            Err(StoreError::Sqlite(rusqlite::Error::QueryReturnedNoRows))
        });
        assert!(r.is_err());
        assert!(checks_on(&store));
        assert!(orphan(store.conn()).is_err());

        // A transaction left open is rolled back, then the checks are on again.
        store.without_foreign_key_checks(|s| {
            s.conn().execute_batch("BEGIN").unwrap();
            orphan(s.conn()).unwrap();
        });
        assert!(checks_on(&store));
        let events: i64 = store
            .conn()
            .query_row("SELECT count(*) FROM events", [], |r| r.get(0))
            .unwrap();
        assert_eq!(events, 0);

        // A panic inside.
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.without_foreign_key_checks(|_| panic!("storing failed"))
        }));
        assert!(caught.is_err());
        assert!(checks_on(&store));
        assert!(orphan(store.conn()).is_err());
    }
}
