//! Where the store functions that ingest mail run their SQL: a connection, or a [`Batch`] of
//! statements held for one write transaction.
//!
//! rusqlite's statement cache is keyed by the SQL text: every use hashes the text twice, copies
//! it into a fresh key and moves an LRU entry, some 1,200 instructions. Storing a message runs
//! about ten statements, so on a 10,000-message sync that was 8% of the storing thread. A
//! [`Batch`] keeps the statements its transaction has used, found by the address of their
//! SQL (a `&'static str`), and hands them out again.

use std::cell::RefCell;

use rusqlite::{Connection, Statement, Transaction};

/// A connection to run store statements on; see the module documentation.
pub trait Db {
    /// The connection itself, for what is not a statement (the last rowid, another query).
    fn connection(&self) -> &Connection;

    /// Runs `f` on the statement prepared for `sql`.
    fn with_stmt<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R>;
}

impl Db for Connection {
    fn connection(&self) -> &Connection {
        self
    }

    fn with_stmt<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        f(&mut *self.prepare_cached(sql)?)
    }
}

impl Db for Transaction<'_> {
    fn connection(&self) -> &Connection {
        self
    }

    fn with_stmt<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        (**self).with_stmt(sql, f)
    }
}

/// Statements held for one write transaction (a sync or import batch); dropped before it
/// commits.
pub struct Batch<'c> {
    conn: &'c Connection,
    /// By the address and length of their SQL. A handful, so a list beats a hash.
    held: RefCell<Vec<(usize, usize, Statement<'c>)>>,
}

impl<'c> Batch<'c> {
    pub fn new(conn: &'c Connection) -> Batch<'c> {
        Batch {
            conn,
            held: RefCell::new(Vec::with_capacity(24)),
        }
    }
}

impl Db for Batch<'_> {
    fn connection(&self) -> &Connection {
        self.conn
    }

    fn with_stmt<R>(
        &self,
        sql: &'static str,
        f: impl FnOnce(&mut Statement<'_>) -> rusqlite::Result<R>,
    ) -> rusqlite::Result<R> {
        let key = (sql.as_ptr() as usize, sql.len());
        // Taken out while in use: a statement that runs another (or itself) meanwhile gets a
        // statement of its own, not a second borrow of this one.
        let taken = {
            let mut held = self.held.borrow_mut();
            held.iter()
                .position(|(p, n, _)| (*p, *n) == key)
                .map(|i| held.swap_remove(i).2)
        };
        let mut stmt = match taken {
            Some(s) => s,
            // Persistent, as rusqlite's cache prepares them: otherwise SQLite builds held
            // statements from its lookaside memory, which then runs out for the small
            // allocations of running them (and those go to malloc, 8% more instructions).
            None => self
                .conn
                .prepare_with_flags(sql, rusqlite::PrepFlags::SQLITE_PREPARE_PERSISTENT)?,
        };
        // rusqlite resets a statement once it has run (execute) or its rows are dropped. The
        // values bound to it go, as when rusqlite's cache takes a statement back: SQLite keeps
        // its own copy of each (a message's raw bytes among them) until then.
        let out = f(&mut stmt);
        stmt.clear_bindings();
        self.held.borrow_mut().push((key.0, key.1, stmt));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::{Batch, Db};
    use rusqlite::Connection;

    #[test]
    fn a_batch_reuses_its_statements_and_runs_nested_ones() {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch("CREATE TABLE t (x INTEGER)").unwrap();
        let batch = Batch::new(&conn);
        const INSERT: &str = "INSERT INTO t (x) VALUES (?1)";
        const COUNT: &str = "SELECT count(*) FROM t";
        for i in 0..5 {
            batch.with_stmt(INSERT, |s| s.execute([i])).unwrap();
        }
        assert_eq!(batch.held.borrow().len(), 1);
        // The same statement used inside itself: a second one is prepared, nothing panics.
        let n: i64 = batch
            .with_stmt(COUNT, |s| {
                let inner: i64 = batch.with_stmt(COUNT, |t| t.query_row([], |r| r.get(0)))?;
                let outer: i64 = s.query_row([], |r| r.get(0))?;
                assert_eq!(inner, outer);
                Ok(outer)
            })
            .unwrap();
        assert_eq!(n, 5);
        // An error leaves the statement usable.
        assert!(batch.with_stmt(INSERT, |s| s.execute(["a", "b"])).is_err());
        batch.with_stmt(INSERT, |s| s.execute([9])).unwrap();
        let n: i64 = conn
            .with_stmt(COUNT, |s| s.query_row([], |r| r.get(0)))
            .unwrap();
        assert_eq!(n, 6);
    }
}
