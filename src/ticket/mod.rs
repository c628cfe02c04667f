//! Ticket rules that do not depend on how mail arrives: numbers and subject tags, the Message-IDs
//! we mint, subject normalization and threading (MAIL-RULES C3).

pub mod number;
pub mod sla;
pub mod status;
pub mod subject;
pub mod threading;
pub mod token;

pub use number::{TagMatcher, TicketNumber};
