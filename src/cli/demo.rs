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
    let mut demo_ctx = Context {
        paths: ctx.paths.clone(),
        config: Config::default(),
        config_found: false,
    };
    demo_ctx.config.account.address = Some(DEMO_ADDRESS.into());
    demo_ctx.config.account.name = "Lumen Cloud Support".into();
    if !store_given {
        demo_ctx.paths.store = tmp.path().join("demo.sqlite3");
    }
    let report = import::import_paths(&demo_ctx, &[mail_dir], "demo")?;
    let mut out = std::io::stdout().lock();
    import::print_summary(&mut out, &report)?;
    let store = demo_ctx.open_store()?;
    let rows = crate::store::tickets::list(store.conn(), &Default::default())?;
    std::io::Write::write_all(&mut out, b"\n")?;
    ticket::print_list(&mut out, &rows)?;
    let path = demo_ctx.paths.store.display().to_string();
    if args.keep || store_given {
        let kept = if store_given {
            demo_ctx.paths.store.clone()
        } else {
            let p = tmp.keep().join("demo.sqlite3");
            p
        };
        std::io::Write::write_all(
            &mut out,
            format!(
                "\nThe demo store is at {}\nExplore it: helpdesk --store {} ticket show {}\n",
                kept.display(),
                kept.display(),
                rows.last().map_or("TKT-…", |t| t.number.as_str())
            )
            .as_bytes(),
        )?;
    } else {
        std::io::Write::write_all(
            &mut out,
            format!(
                "\nThis demo store ({path}) is removed on exit; run `helpdesk demo --keep` to explore a ticket with `helpdesk ticket show`.\n"
            )
            .as_bytes(),
        )?;
    }
    Ok(())
}
