//! helpdesk: a terminal helpdesk for one admin and one support inbox.
//!
//! Modules in the order mail flows through them (DESIGN.md §1, §5); dependencies point down:
//! - [`config`]: the TOML configuration and where files live.
//! - [`store`]: the SQLite ticket store (knows nothing of the rest).
//! - [`ticket`]: numbers, tags, minted Message-IDs, subject rules and threading.
//! - [`mail`]: MIME parsing, loop rules, quote splitting, mail files and the ingest stage.
//! - [`escalate`]: marking tickets for escalation, GitLab issues and chat webhooks.
//! - [`cli`]: the commands; the binary in `main.rs` only parses arguments and calls them.

pub mod ai;
pub mod cli;
pub mod config;
pub mod escalate;
pub mod mail;
pub mod secret;
pub mod send;
pub mod store;
pub mod ticket;
pub mod tui;
