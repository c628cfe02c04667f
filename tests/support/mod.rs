//! Shared test helpers: a temporary store with the ingest stage set up as `helpdesk` does it,
//! and a small builder for RFC 5322 messages.
#![allow(dead_code)]

pub mod http;
pub mod introspection;
pub mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use helpdesk::config::Config;
use helpdesk::mail::ingest::{Ingest, Ingested, RawMessage};
use helpdesk::store::{Store, TicketStatus, messages, tickets};

pub const SUPPORT: &str = "support@lumencloud.example";
/// 2026-11-20 12:00:00 UTC.
pub const NOW: i64 = 1_795_176_000;
pub const DAY: i64 = 86_400;

pub struct Harness {
    pub dir: tempfile::TempDir,
    pub store: Store,
    pub ingest: Ingest,
    pub now: i64,
}

impl Harness {
    pub fn new() -> Harness {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("store.sqlite3")).unwrap();
        let mut config = Config::default();
        config.account.address = Some(SUPPORT.into());
        let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
        Harness {
            dir,
            store,
            ingest,
            now: NOW,
        }
    }

    pub fn store_path(&self) -> PathBuf {
        self.dir.path().join("store.sqlite3")
    }

    pub fn ingest(&mut self, raw: &[u8]) -> Ingested {
        let tx = self.store.write().unwrap();
        let r = self
            .ingest
            .one(
                &tx,
                &RawMessage {
                    bytes: raw,
                    source: "test",
                    mailbox: None,
                    uidvalidity: None,
                    uid: None,
                },
                self.now,
            )
            .unwrap();
        Store::commit(tx).unwrap();
        r
    }

    /// The ticket number holding a Message-ID.
    pub fn number_of(&self, message_id: &str) -> String {
        let found = messages::find(self.store.conn(), message_id)
            .unwrap()
            .unwrap_or_else(|| panic!("{message_id} not stored"));
        tickets::get(self.store.conn(), found.ticket_id)
            .unwrap()
            .number
    }

    pub fn ticket(&self, number: &str) -> tickets::TicketRow {
        tickets::by_number(self.store.conn(), number)
            .unwrap()
            .unwrap_or_else(|| panic!("no ticket {number}"))
    }

    pub fn set_status(&mut self, number: &str, status: TicketStatus, at: i64) {
        let id = self.ticket(number).id;
        let tx = self.store.write().unwrap();
        tickets::set_status(&tx, id, status, at).unwrap();
        tx.commit().unwrap();
    }

    pub fn events(&self, number: &str) -> Vec<(String, String)> {
        helpdesk::store::events::for_ticket(self.store.conn(), self.ticket(number).id)
            .unwrap()
            .into_iter()
            .map(|e| (e.kind, e.detail))
            .collect()
    }

    pub fn ticket_count(&self) -> i64 {
        tickets::count(self.store.conn()).unwrap()
    }
}

/// Builds a message: `mail().from("A <a@x>").subject("…").id("…").build()`.
#[derive(Default, Clone)]
pub struct Mail {
    headers: Vec<(String, String)>,
    body: String,
}

pub fn mail() -> Mail {
    Mail::default()
        .header("To", SUPPORT)
        .header("Date", "Thu, 19 Nov 2026 10:00:00 +0000")
        .header("MIME-Version", "1.0")
        .header("Content-Type", "text/plain; charset=utf-8")
        .body("Hello,\n\nplease help.\n")
}

impl Mail {
    pub fn header(mut self, name: &str, value: &str) -> Mail {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.into(), value.into()));
        self
    }
    pub fn from(self, v: &str) -> Mail {
        self.header("From", v)
    }
    pub fn subject(self, v: &str) -> Mail {
        self.header("Subject", v)
    }
    pub fn id(self, v: &str) -> Mail {
        self.header("Message-ID", &format!("<{v}>"))
    }
    pub fn in_reply_to(self, v: &str) -> Mail {
        self.header("In-Reply-To", &format!("<{v}>"))
    }
    pub fn references(self, ids: &[&str]) -> Mail {
        let v = ids
            .iter()
            .map(|i| format!("<{i}>"))
            .collect::<Vec<_>>()
            .join(" ");
        self.header("References", &v)
    }
    pub fn body(mut self, b: &str) -> Mail {
        self.body = b.into();
        self
    }
    pub fn build(&self) -> Vec<u8> {
        let mut s = String::new();
        for (n, v) in &self.headers {
            s.push_str(&format!("{n}: {v}\n"));
        }
        s.push('\n');
        s.push_str(&self.body);
        s.into_bytes()
    }
}

/// Runs the real binary with a private HOME and XDG directories.
pub fn helpdesk(home: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_helpdesk"))
        .args(args)
        .env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join("config"))
        .env("XDG_DATA_HOME", home.join("data"))
        .env("XDG_STATE_HOME", home.join("state"))
        .env_remove("HELPDESK_CONFIG")
        .env_remove("HELPDESK_STORE")
        .output()
        .expect("run helpdesk")
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Every row that points at a ticket or a message points at one that exists (syncs and imports
/// store without SQLite checking that, see `Store::without_foreign_key_checks`), and the checks
/// are on again for whatever the connection writes next.
pub fn assert_foreign_keys_hold(conn: &rusqlite::Connection) {
    let mut stmt = conn.prepare("PRAGMA foreign_key_check").unwrap();
    // The rowid is NULL for a table without one (participants).
    let broken: Vec<(String, Option<i64>, String)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert!(
        broken.is_empty(),
        "rows pointing nowhere (table, rowid, parent): {broken:?}"
    );
    let on: bool = conn
        .query_row("PRAGMA foreign_keys", [], |r| r.get(0))
        .unwrap();
    assert!(on, "foreign key checks were left off");
}
