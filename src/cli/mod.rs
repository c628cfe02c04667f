//! The command line: one file per command, each with its clap `Args` and a `run` that calls
//! the library stage. Data goes to stdout, progress and errors to stderr.
//!
//! Exit codes: 0 done (a closed pipe too), 1 failed, 2 bad usage or configuration.

mod analyse;
mod completions;
mod demo;
mod doctor;
mod escalate;
mod export;
mod import;
mod output;
mod review;
mod send;
mod stats;
mod sync;
mod ticket;

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::{Context as _, Result};
use clap::{Parser, Subcommand};

use crate::config::{Config, ConfigError, Paths};
use crate::mail::ingest::{self, Ingest};
use crate::store::Store;
use crate::ticket::token::TokenKey;

/// A terminal helpdesk: the support inbox as numbered tickets, reviewed from the keyboard.
#[derive(Debug, Parser)]
#[command(name = "helpdesk", version, about, propagate_version = true)]
pub struct Cli {
    /// Config file [default: $XDG_CONFIG_HOME/helpdesk/config.toml]
    #[arg(long, global = true, env = "HELPDESK_CONFIG", value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Ticket store [default: $XDG_DATA_HOME/helpdesk/helpdesk.sqlite3]
    #[arg(long, global = true, env = "HELPDESK_STORE", value_name = "PATH")]
    pub store: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Classify tickets and draft replies (offline drafter)
    Analyse(analyse::Args),
    /// Approve a ticket's reply draft: it is rendered into the outbox
    Approve(send::ApproveArgs),
    /// Try helpdesk on a bundled demo mailbox: no server, no key, no config
    Demo(demo::Args),
    /// Check the configuration, the store, IMAP, SMTP and the AI endpoint
    Doctor(doctor::Args),
    /// Import .eml files, Maildir folders and mbox files into the store
    Import(import::Args),
    /// List the outbox (queued, being sent, failed) or retry a failed message
    Outbox(send::OutboxArgs),
    /// Reject a ticket's reply draft, with a reason
    Reject(send::RejectArgs),
    /// Send what is in the outbox (and due acknowledgments) over SMTP
    Send(send::SendArgs),
    /// Fetch new mail from the IMAP mailbox
    Sync(sync::Args),
    /// List and show tickets
    #[command(subcommand)]
    Ticket(ticket::Command),
    /// Take back an approval whose reply has not been sent yet
    Unapprove(send::UnapproveArgs),
    /// Print shell completions
    Completions(completions::Args),
    /// Escalate a ticket to GitLab and chat; list, retry or decline escalations
    Escalate(escalate::Args),
    /// Ticket statistics: volumes, response times, SLA compliance, trends
    Stats(stats::Args),
    /// Export tickets, messages and events as JSON or CSV
    Export(export::Args),
}

/// What every command gets: the resolved paths and the configuration.
pub struct Context {
    pub paths: Paths,
    pub config: Config,
    /// False when no config file exists and defaults are in use.
    pub config_found: bool,
}

impl Context {
    fn load(cli: &Cli) -> Result<Context> {
        let explicit = cli.config.is_some();
        let paths = Paths::resolve(cli.config.clone(), cli.store.clone());
        let (config, config_found) = if paths.config.exists() {
            (Config::load(&paths.config)?, true)
        } else if explicit {
            return Err(ConfigError::Read {
                path: paths.config.clone(),
                source: std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "no such file (copy config.example.toml there, or point --config elsewhere)",
                ),
            }
            .into());
        } else {
            (Config::default(), false)
        };
        Ok(Context {
            paths,
            config,
            config_found,
        })
    }

    pub fn open_store(&self) -> Result<Store> {
        Store::open(&self.paths.store)
            .with_context(|| format!("opening the ticket store {}", self.paths.store.display()))
    }

    /// The ingest settings for this store (its instance key lives in the store).
    pub fn ingest(&self, store: &mut Store) -> Result<Ingest> {
        ingest_for(&self.config, store)
    }
}

/// Builds the ingest stage for a config and a store.
pub fn ingest_for(config: &Config, store: &mut Store) -> Result<Ingest> {
    let hex = store.meta_or_init("token_key", || TokenKey::generate().to_hex())?;
    let key = TokenKey::from_hex(&hex).context("the store's token_key is damaged")?;
    let (identity, threader) = ingest::identity_for(
        config.account.address.as_deref(),
        &config.tickets.prefix,
        key,
    );
    Ok(Ingest {
        identity,
        threader,
        reopen_closed_days: i64::from(config.tickets.reopen_closed_days),
        max_attachment_bytes: config.max_attachment_bytes(),
        acknowledge: config.tickets.acknowledge,
        sla: crate::ticket::sla::Policy::from_config(&config.sla)
            .map_err(|(key, message)| anyhow::anyhow!("[sla] {key}: {message}"))?,
        rules: crate::mail::rules::Rules::compile(&config.rules)
            .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?,
    })
}

pub fn run(cli: Cli) -> Result<()> {
    let Some(command) = &cli.command else {
        return first_run(&cli);
    };
    if let Command::Completions(args) = command {
        return completions::run(args);
    }
    let ctx = Context::load(&cli)?;
    match command {
        Command::Analyse(args) => analyse::run(&ctx, args),
        Command::Approve(args) => send::approve(&ctx, args),
        Command::Outbox(args) => send::outbox_cmd(&ctx, args),
        Command::Reject(args) => send::reject(&ctx, args),
        Command::Send(args) => send::send(&ctx, args),
        Command::Unapprove(args) => send::unapprove(&ctx, args),
        Command::Demo(args) => demo::run(&ctx, args, cli.store.is_some()),
        Command::Doctor(args) => doctor::run(&ctx, args),
        Command::Import(args) => import::run(&ctx, args),
        Command::Sync(args) => sync::run(&ctx, args),
        Command::Ticket(cmd) => ticket::run(&ctx, cmd),
        Command::Escalate(args) => escalate::run(&ctx, args),
        Command::Stats(args) => stats::run(&ctx, args),
        Command::Export(args) => export::run(&ctx, args),
        Command::Completions(_) => unreachable!("handled above"),
    }
}

/// An error and its causes on one line, each cause once: most of our errors already name
/// their cause in their own text, which `{:#}` would repeat.
pub fn error_text(e: &anyhow::Error) -> String {
    let mut text = String::new();
    for cause in e.chain() {
        let part = cause.to_string();
        if text.ends_with(&part) {
            continue;
        }
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
    }
    text
}

fn first_run(cli: &Cli) -> Result<()> {
    let paths = Paths::resolve(cli.config.clone(), cli.store.clone());
    if !paths.config.exists() && cli.store.is_none() {
        eprintln!(
            "helpdesk has no configuration yet ({} does not exist).\n\n\
             To try it now on a bundled demo mailbox, with no server and no key:\n    helpdesk demo\n\n\
             To set it up for your inbox, copy the example and edit it:\n    \
             mkdir -p {dir}\n    cp config.example.toml {path}\n    chmod 600 {path}\n\n\
             Then check it with `helpdesk doctor` and run `helpdesk`: the review screen fetches\n\
             the inbox in the background (`helpdesk sync` does one pass; `helpdesk import PATH`\n\
             reads .eml, Maildir or mbox files). Run `helpdesk --help` for every command.",
            paths.config.display(),
            dir = paths
                .config
                .parent()
                .map_or_else(|| ".".into(), |d| d.display().to_string()),
            path = paths.config.display(),
        );
        return Err(UsageError("no configuration".into()).into());
    }
    let ctx = Context::load(cli)?;
    if !std::io::stdout().is_terminal() {
        return Err(UsageError(
            "the review screen needs a terminal; for scripts use `helpdesk ticket list`".into(),
        )
        .into());
    }
    let mut store = ctx.open_store()?;
    let backends = review::backends(&ctx, &mut store, true);
    crate::tui::run(&mut store, now(), backends)
}

/// Bad usage: exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

pub fn exit_code(e: &anyhow::Error) -> u8 {
    if e.chain()
        .any(|c| c.is::<ConfigError>() || c.is::<UsageError>())
    {
        2
    } else {
        1
    }
}

pub fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// Logs go to stderr for commands; `HELPDESK_LOG` sets the filter (default: warnings).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("HELPDESK_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Now, in unix seconds.
pub fn now() -> i64 {
    chrono::Utc::now().timestamp()
}

#[cfg(test)]
mod tests {
    #[test]
    fn error_text_names_each_cause_once() {
        let e: anyhow::Error = crate::config::ConfigError::Read {
            path: "/x/config.toml".into(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no such file"),
        }
        .into();
        assert_eq!(
            super::error_text(&e),
            "cannot read the config file /x/config.toml: no such file"
        );
        let e = anyhow::anyhow!("inner cause").context("outer");
        assert_eq!(super::error_text(&e), "outer: inner cause");
    }
}
