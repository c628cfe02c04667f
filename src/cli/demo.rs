use std::io::{IsTerminal, Write};

use anyhow::{Context as _, Result};
use include_dir::{Dir, include_dir};

use crate::config::Config;

use super::{Context, import, ticket};

/// The bundled demo mailbox (assets/demo), compiled into the binary.
static DEMO: Dir<'_> = include_dir!("$CARGO_MANIFEST_DIR/assets/demo");

/// The demo's support address: its mail is threaded and classified as if it were ours.
pub const DEMO_ADDRESS: &str = "support@lumencloud.example";

/// Try helpdesk on the bundled demo mailbox, in a temporary store.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep the demo store and print its path, to explore it with other commands
    #[arg(long)]
    pub keep: bool,
    /// Print the ticket list instead of opening the review screen
    #[arg(long)]
    pub print: bool,
}

/// Writes the demo mailbox into `dir` as .eml files; returns how many.
pub fn extract(dir: &std::path::Path) -> Result<usize> {
    let mut n = 0;
    for f in DEMO.files() {
        if f.path().extension().is_some_and(|e| e == "eml") {
            let name = f.path().file_name().context("demo file name")?;
            std::fs::write(dir.join(name), f.contents())?;
            n += 1;
        }
    }
    Ok(n)
}

pub fn run(ctx: &Context, args: &Args, store_given: bool) -> Result<()> {
    let tmp = tempfile::Builder::new()
        .prefix("helpdesk-demo-")
        .tempdir()?;
    let mail_dir = tmp.path().join("mail");
    std::fs::create_dir(&mail_dir)?;
    extract(&mail_dir)?;
    let mut demo = Context {
        paths: ctx.paths.clone(),
        config: Config::default(),
        config_found: false,
    };
    demo.config.account.address = Some(DEMO_ADDRESS.into());
    demo.config.account.name = "Lumen Cloud Support".into();
    demo.config.account.signature = Some("The Lumen Cloud support team".into());
    if !store_given {
        demo.paths.store = tmp.path().join("demo.sqlite3");
    }
    let report = import::import_paths(&demo, &[mail_dir], "demo")?;
    if !args.print && std::io::stdout().is_terminal() && std::io::stdin().is_terminal() {
        let mut store = demo.open_store()?;
        // The demo drafts in the background and approvals queue in its outbox; nothing is
        // sent (no [smtp]) and nothing is fetched (no [imap]).
        let backends = super::review::backends(&demo, &mut store, true);
        crate::tui::run(&mut store, super::now(), backends)?;
        if args.keep && !store_given {
            let kept = tmp.keep().join("demo.sqlite3");
            println!(
                "The demo store is at {0}\nOpen it again: helpdesk --store {0}",
                kept.display()
            );
        }
        return Ok(());
    }
    let rows = {
        let store = demo.open_store()?;
        crate::store::tickets::list(
            store.conn(),
            &crate::store::tickets::ListFilter {
                hide_filtered: true,
                ..Default::default()
            },
        )?
    };
    let mut out = std::io::stdout().lock();
    import::print_summary(&mut out, &report)?;
    writeln!(out)?;
    ticket::print_list(&mut out, &rows)?;
    let example = rows.last().map_or("TKT-2026-00001", |t| t.number.as_str());
    if args.keep || store_given {
        let kept = if store_given {
            demo.paths.store.clone()
        } else {
            tmp.keep().join("demo.sqlite3")
        };
        writeln!(
            out,
            "\nThe demo store is at {0}\nExplore it: helpdesk --store {0} ticket show {example}",
            kept.display()
        )?;
    } else {
        writeln!(
            out,
            "\nThis demo store is removed on exit. To explore a ticket, keep it:\n    helpdesk demo --keep"
        )?;
    }
    Ok(())
}
