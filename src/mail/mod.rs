//! Mail in and out: MIME parsing, loop and automatic-mail rules, quote splitting, file sources
//! and the ingest stage that stores a message on its ticket.

pub mod attachments;
mod fetch;
mod groups;
pub mod imap;
pub mod import;
pub mod ingest;
pub mod loops;
pub mod parse;
pub mod quotes;
pub mod rules;
pub mod sanitize;
pub mod source;
