use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context as _, Result, bail};

use crate::mail::import::{ImportReport, import};
use crate::mail::source::Scan;

use super::{Context, output};

/// Import .eml files, Maildir folders and mbox files. Importing the same mail again changes
/// nothing: messages are recognized by their Message-ID.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Files (.eml or mbox) and folders (Maildir, or folders of .eml/.mbox files)
    #[arg(required = true, value_name = "PATH")]
    pub paths: Vec<PathBuf>,

    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let report = import_paths(ctx, &args.paths, "import")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &report.summary)?;
    } else {
        print_summary(&mut out, &report)?;
    }
    for s in &report.skipped {
        eprintln!("helpdesk: skipped {}: {}", s.what, s.error);
    }
    if !report.skipped.is_empty() {
        bail!(
            "{} file(s) could not be read; everything else was imported. Fix or remove them and run the import again",
            report.skipped.len()
        );
    }
    Ok(())
}

/// Scans and imports, with a progress line on an interactive stderr.
pub fn import_paths(ctx: &Context, paths: &[PathBuf], source: &str) -> Result<ImportReport> {
    let scan = Scan::paths(paths)?;
    let mut store = ctx.open_store()?;
    let ingest = ctx.ingest(&mut store)?;
    let interactive = std::io::stderr().is_terminal();
    let mut progress = |done: u64, total: u64| {
        if interactive {
            eprint!("\rimporting: {done}/{total} messages");
            let _ = std::io::stderr().flush();
        }
    };
    let report = import(
        &mut store,
        &ingest,
        &scan,
        source,
        &super::now,
        &mut progress,
    )
    .with_context(|| format!("importing into {}", ctx.paths.store.display()))?;
    if interactive && !scan.items.is_empty() {
        eprintln!();
    }
    Ok(report)
}

pub fn print_summary(out: &mut impl Write, report: &ImportReport) -> Result<()> {
    let s = &report.summary;
    writeln!(
        out,
        "{} messages read: {} new tickets, {} replies threaded, {} duplicates skipped, {} flagged for review",
        s.messages + report.skipped.len() as u64,
        s.new_tickets,
        s.threaded,
        s.duplicates,
        s.flagged
    )?;
    if s.parse_failures > 0 {
        writeln!(
            out,
            "  {} could not be parsed: stored raw on flagged tickets",
            s.parse_failures
        )?;
    }
    let automatic: Vec<String> = s
        .by_class
        .iter()
        .filter(|(c, _)| c.as_str() != "human")
        .map(|(c, n)| format!("{n} {c}"))
        .collect();
    if !automatic.is_empty() {
        writeln!(
            out,
            "  automatic mail, never answered by itself: {}",
            automatic.join(", ")
        )?;
    }
    if !report.skipped.is_empty() {
        writeln!(out, "  {} unreadable (see below)", report.skipped.len())?;
    }
    Ok(())
}
