use std::io::IsTerminal;
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};

use crate::config::{Imap, is_loopback};
use crate::mail::imap::{self, Auth, ImapSettings, Progress, Security, SyncReport, Tls};
use crate::secret::{self, Secret};

use super::{Context, UsageError, output};

/// Fetch new mail from the IMAP mailbox into the store (one pass, for cron and scripts)
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Keep running: wait for new mail with IMAP IDLE (or poll every [imap] poll_seconds)
    #[arg(long)]
    pub watch: bool,
    /// Print the summary as JSON
    #[arg(long)]
    pub json: bool,
}

/// The `[imap]` section, with its credentials resolved.
pub fn imap_settings(ctx: &Context) -> Result<ImapSettings> {
    let Some(c) = &ctx.config.imap else {
        return Err(UsageError(format!(
            "no [imap] section in {}; add one (see config.example.toml)",
            ctx.paths.config.display()
        ))
        .into());
    };
    if c.security == Security::None && !is_loopback(&c.host) {
        bail!("[imap] security = \"none\" is only allowed for a loopback host");
    }
    if c.security == Security::None {
        tracing::warn!(host = %c.host, "IMAP without TLS (loopback only)");
        eprintln!(
            "helpdesk: warning: IMAP to {} without TLS (allowed on loopback only)",
            c.host
        );
    }
    if c.tls_accept_invalid_certs {
        eprintln!(
            "helpdesk: warning: [imap] tls_accept_invalid_certs = true: the server's certificate is not checked"
        );
    }
    Ok(ImapSettings {
        host: c.host.clone(),
        port: c.port,
        security: c.security,
        tls: Tls {
            ca_file: c.tls_ca_file.clone(),
            accept_invalid_certs: c.tls_accept_invalid_certs,
        },
        username: c.username.clone(),
        auth: imap_auth(ctx, c)?,
        mailbox: c.mailbox.clone(),
        after_ingest: c.after_ingest.clone(),
        connect_timeout: Duration::from_secs(c.connect_timeout_seconds.max(1)),
        io_timeout: Duration::from_secs(c.timeout_seconds.max(1)),
        batch: 1000,
    })
}

/// Before another connection: with `oauth2_token_command`, a token fetched now. Access
/// tokens expire (Gmail's and Microsoft 365's after about an hour), so what runs for long
/// (`sync --watch`, the review screen) asks the command again for every connection, as mail
/// clients do; token helpers cache the token and refresh it when due.
pub fn refresh_token(ctx: &Context, settings: &mut ImapSettings) -> Result<()> {
    if let Some(c) = &ctx.config.imap
        && c.oauth2_token_command.is_some()
    {
        settings.auth = imap_auth(ctx, c)?;
    }
    Ok(())
}

fn imap_auth(ctx: &Context, c: &Imap) -> Result<Auth> {
    if let Some(cmd) = &c.oauth2_token_command {
        return Ok(Auth::XOAuth2(secret::from_command(
            "[imap] oauth2_token_command",
            cmd,
        )?));
    }
    if let Some(p) = configured_password(
        ctx,
        "imap",
        c.password_command.as_deref(),
        c.password_env.as_deref(),
        c.password.as_deref(),
    )? {
        return Ok(Auth::Password(p));
    }
    if std::io::stdin().is_terminal() {
        let p =
            rpassword::prompt_password(format!("IMAP password for {}@{}: ", c.username, c.host))
                .context("reading the password from the terminal")?;
        return Ok(Auth::Password(Secret::new(p)));
    }
    Err(UsageError(
        "no IMAP credentials: set [imap] password_command, password_env or oauth2_token_command"
            .into(),
    )
    .into())
}

/// The password a `[section]` names, in order of preference: `password_command` (its first
/// line), `password_env`, or `password` itself when the config file is private. `None` when
/// the section names none.
pub fn configured_password(
    ctx: &Context,
    section: &str,
    command: Option<&str>,
    env: Option<&str>,
    password: Option<&str>,
) -> Result<Option<Secret>> {
    if let Some(cmd) = command {
        return Ok(Some(secret::from_command(
            &format!("[{section}] password_command"),
            cmd,
        )?));
    }
    if let Some(var) = env {
        return Ok(Some(secret::from_env(
            &format!("[{section}] password_env"),
            var,
        )?));
    }
    if let Some(p) = password {
        check_private(section, &ctx.paths.config)?;
        return Ok(Some(Secret::new(p)));
    }
    Ok(None)
}

/// A plain password may only live in a file nobody else can read.
pub fn check_private(section: &str, path: &std::path::Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .with_context(|| format!("checking the permissions of {}", path.display()))?
            .permissions()
            .mode();
        if mode & 0o077 != 0 {
            return Err(UsageError(format!(
                "[{section}] password is refused: {} can be read by others (mode {:o}); run `chmod 600 {}` or use password_command",
                path.display(),
                mode & 0o777,
                path.display()
            ))
            .into());
        }
    }
    Ok(())
}

pub fn run(ctx: &Context, args: &Args) -> Result<()> {
    let settings = imap_settings(ctx)?;
    if args.watch {
        let mut store = ctx.open_store()?;
        let ingest = ctx.ingest(&mut store)?;
        return watch(ctx, &settings, &mut store, &ingest);
    }
    // Logging in (a TLS handshake and a round trip or two) while the store opens.
    let started = std::time::Instant::now();
    let connecting = std::thread::spawn({
        let settings = settings.clone();
        move || imap::connect(&settings)
    });
    let opened = ctx
        .open_store()
        .and_then(|mut store| Ok((ctx.ingest(&mut store)?, store)));
    let (ingest, mut store) = match opened {
        Ok(x) => x,
        Err(e) => {
            // Log out of what was opened meanwhile, then report the store's problem.
            if let Ok(Ok(mut session)) = connecting.join() {
                let _ = session.logout();
            }
            return Err(e);
        }
    };
    let connected = connecting.join().unwrap_or_else(|_| {
        Err(imap::SyncError::Connection {
            host: settings.host.clone(),
            detail: "the connecting thread failed".into(),
        })
    });
    let report = one_pass(&settings, &mut store, &ingest, Some((connected, started)))?;
    let mut out = std::io::stdout().lock();
    if args.json {
        output::json(&mut out, &report)?;
    } else {
        print_report(&mut out, &report)?;
    }
    after_sync(ctx, &mut store, !args.json);
    Ok(())
}

/// Acknowledgments for the new tickets (when on), then the outbox when [smtp] is set and
/// something is due. Problems here are warnings: the mail itself was fetched and stored.
fn after_sync(ctx: &Context, store: &mut crate::store::Store, print: bool) {
    let acks = if ctx.config.tickets.acknowledge {
        let r = super::send::sender(ctx, store).and_then(|sender| {
            let settings = super::send::ack_settings(ctx)?;
            Ok(crate::send::ack::acknowledge_pending(
                store,
                &sender,
                &settings,
                super::now(),
            )?)
        });
        match r {
            Ok(r) => r,
            Err(e) => {
                eprintln!("helpdesk: warning: acknowledgments: {e:#}");
                return;
            }
        }
    } else {
        crate::send::ack::AckReport::default()
    };
    if ctx.config.smtp.is_none() {
        return;
    }
    let due = crate::store::outbox::due(store.conn(), super::now(), 1)
        .map(|d| !d.is_empty())
        .unwrap_or(false);
    let interrupted = crate::store::outbox::counts(store.conn())
        .map(|c| c.sending > 0)
        .unwrap_or(false);
    if !due && !interrupted {
        return;
    }
    let r = super::send::outgoing(ctx).and_then(|out| {
        Ok(crate::send::flush(
            store,
            &out,
            &super::now,
            &mut |_, _| {},
        )?)
    });
    match r {
        Ok(r) => {
            if print {
                let _ = super::send::print_flush(&mut std::io::stdout().lock(), &r, &acks);
            }
            if let Some(why) = r.stopped {
                eprintln!("helpdesk: warning: the outbox waits: {why}");
            }
        }
        Err(e) => eprintln!("helpdesk: warning: the outbox waits: {e:#}"),
    }
}

/// A pass, on `connected` when the connection was made already.
fn one_pass(
    settings: &ImapSettings,
    store: &mut crate::store::Store,
    ingest: &crate::mail::ingest::Ingest,
    connected: Option<(Result<imap::Session, imap::SyncError>, std::time::Instant)>,
) -> Result<SyncReport> {
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new_spinner();
        b.set_message(format!("connecting to {}…", settings.host));
        b.enable_steady_tick(Duration::from_millis(120));
        Some(b)
    } else {
        None
    };
    let mut progress = |p: Progress| {
        let Some(b) = &bar else { return };
        match p {
            Progress::Connected => b.set_message(format!("reading {}…", settings.mailbox)),
            Progress::Found { total } => {
                b.set_length(total);
                b.set_style(
                    ProgressStyle::with_template("{bar:30} {pos}/{len} messages {per_sec} {eta}")
                        .unwrap_or_else(|_| ProgressStyle::default_bar()),
                );
            }
            Progress::Stored { done, .. } => b.set_position(done),
        }
    };
    let result = match connected {
        Some((session, started)) => imap::sync_connected(
            store,
            ingest,
            settings,
            session,
            started,
            &super::now,
            &mut progress,
        ),
        None => imap::sync_once(store, ingest, settings, &super::now, &mut progress),
    };
    if let Some(b) = &bar {
        b.finish_and_clear();
    }
    Ok(result?)
}

pub fn print_report(out: &mut impl std::io::Write, r: &SyncReport) -> Result<()> {
    let s = &r.summary;
    writeln!(
        out,
        "{}: {} fetched in {:.2} s: {} new tickets, {} replies threaded, {} duplicates skipped, {} flagged for review",
        r.mailbox, r.fetched, r.seconds, s.new_tickets, s.threaded, s.duplicates, s.flagged
    )?;
    if r.uidvalidity_reset {
        writeln!(
            out,
            "  the server's UIDVALIDITY changed: the mailbox was read again and matched by Message-ID"
        )?;
    }
    if r.flagged > 0 {
        writeln!(out, "  after_ingest applied to {} messages", r.flagged)?;
    }
    Ok(())
}

/// Runs until interrupted: a pass, then IDLE (or a poll interval), with backoff on failures.
fn watch(
    ctx: &Context,
    settings: &ImapSettings,
    store: &mut crate::store::Store,
    ingest: &crate::mail::ingest::Ingest,
) -> Result<()> {
    let poll = Duration::from_secs(
        ctx.config
            .imap
            .as_ref()
            .map_or(60, |c| c.poll_seconds.max(5)),
    );
    let mut settings = settings.clone();
    let mut failures = 0u32;
    let mut first = true;
    loop {
        if !std::mem::take(&mut first)
            && let Err(e) = refresh_token(ctx, &mut settings)
        {
            // The token helper may need the network too: try again later.
            failures += 1;
            let wait = Duration::from_secs((5u64 << failures.min(6)).min(300));
            eprintln!("helpdesk: {e:#}; retrying in {} s", wait.as_secs());
            std::thread::sleep(wait);
            continue;
        }
        match one_pass(&settings, store, ingest, None) {
            Ok(r) => {
                failures = 0;
                if r.fetched > 0 {
                    print_report(&mut std::io::stdout().lock(), &r)?;
                }
                after_sync(ctx, store, r.fetched > 0);
            }
            Err(e) => {
                failures += 1;
                let retry = e
                    .downcast_ref::<imap::SyncError>()
                    .is_some_and(imap::SyncError::is_retryable);
                if !retry {
                    return Err(e);
                }
                // 5 s, 10 s, 20 s … at most 5 minutes between attempts.
                let wait = Duration::from_secs((5u64 << failures.min(6)).min(300));
                eprintln!("helpdesk: {e:#}; retrying in {} s", wait.as_secs());
                std::thread::sleep(wait);
                continue;
            }
        }
        // The IDLE connection logs in too: with a token valid now.
        if refresh_token(ctx, &mut settings).is_err() {
            std::thread::sleep(poll);
            continue;
        }
        wait_for_mail(&settings, poll, None);
    }
}

/// IDLE where the server has it (re-issued every `poll` at most), else sleeps `poll`.
/// Returns at once when the mailbox already holds mail above `stored_uid` (the highest UID in
/// the store): mail that arrived before IDLE began would not wake it.
pub fn wait_for_mail(settings: &ImapSettings, poll: Duration, stored_uid: Option<u32>) {
    let idled = imap::connect(settings).ok().and_then(|mut session| {
        let mailbox = session.select(&settings.mailbox).ok()?;
        if let (Some(stored), Some(next)) = (stored_uid, mailbox.uid_next)
            && next > stored.saturating_add(1)
        {
            let _ = session.logout();
            return Some(true);
        }
        if !imap::has_idle(&mut session) {
            return None;
        }
        let r = imap::idle_wait(&mut session, poll).ok();
        let _ = session.logout();
        r
    });
    if idled.is_none() {
        std::thread::sleep(poll);
    }
}
