use anyhow::{Result, bail};

use crate::config::Provider;
use crate::mail::imap;

use super::{Context, sync};

/// Check the configuration, the store, the IMAP and SMTP logins and the AI endpoint, and say
/// what to fix
#[derive(Debug, clap::Args)]
pub struct Args {}

struct Report {
    failed: usize,
}

impl Report {
    fn ok(&self, what: &str, detail: impl AsRef<str>) {
        println!("ok    {what:<8} {}", detail.as_ref());
    }
    fn warn(&self, what: &str, detail: impl AsRef<str>) {
        println!("warn  {what:<8} {}", detail.as_ref());
    }
    fn fail(&mut self, what: &str, detail: impl AsRef<str>) {
        self.failed += 1;
        println!("FAIL  {what:<8} {}", detail.as_ref());
    }
}

pub fn run(ctx: &Context, _args: &Args) -> Result<()> {
    let mut r = Report { failed: 0 };
    config(ctx, &mut r);
    store(ctx, &mut r);
    imap_check(ctx, &mut r);
    smtp_check(ctx, &mut r);
    ai_check(ctx, &mut r);
    if r.failed > 0 {
        bail!(
            "{} check(s) failed; fix them as said above and run `helpdesk doctor` again",
            r.failed
        );
    }
    Ok(())
}

fn config(ctx: &Context, r: &mut Report) {
    let path = &ctx.paths.config;
    if !ctx.config_found {
        r.warn(
            "config",
            format!("{} does not exist: defaults in use. Copy config.example.toml there to set up your inbox", path.display()),
        );
        return;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0);
        let plain = ctx
            .config
            .imap
            .as_ref()
            .is_some_and(|i| i.password.is_some())
            || ctx
                .config
                .smtp
                .as_ref()
                .is_some_and(|s| s.password.is_some());
        if mode & 0o077 != 0 && plain {
            r.fail("config", format!("{} holds a password and can be read by others (mode {mode:o}): run `chmod 600 {}`", path.display(), path.display()));
            return;
        }
        if mode & 0o077 != 0 {
            r.warn(
                "config",
                format!(
                    "{} is readable by others (mode {mode:o}); `chmod 600` it",
                    path.display()
                ),
            );
            return;
        }
        r.ok("config", format!("{} (mode {mode:o})", path.display()));
    }
}

fn store(ctx: &Context, r: &mut Report) {
    match ctx.open_store() {
        Ok(s) => {
            let tickets = crate::store::tickets::count(s.conn()).unwrap_or(0);
            let messages = crate::store::messages::count(s.conn()).unwrap_or(0);
            r.ok(
                "store",
                format!(
                    "{}: {tickets} tickets, {messages} messages",
                    ctx.paths.store.display()
                ),
            );
            let index = crate::store::search::path_for(&ctx.paths.store);
            match crate::store::search::status(s.conn()) {
                Ok((indexed, 0)) => {
                    r.ok("search", format!("{}: {indexed} messages", index.display()))
                }
                Ok((indexed, waiting)) => r.warn(
                    "search",
                    format!(
                        "{}: {indexed} messages, {waiting} waiting to be indexed (the next \
                         helpdesk command that writes to the store indexes them)",
                        index.display()
                    ),
                ),
                Err(e) => r.fail(
                    "search",
                    format!(
                        "{}: {e}; delete it and the next helpdesk command rebuilds it",
                        index.display()
                    ),
                ),
            }
        }
        Err(e) => r.fail("store", format!("{e:#}")),
    }
}

fn imap_check(ctx: &Context, r: &mut Report) {
    if ctx.config.imap.is_none() {
        r.warn(
            "imap",
            "no [imap] section: sync is off (helpdesk import still works)",
        );
        return;
    }
    let settings = match sync::imap_settings(ctx) {
        Ok(s) => s,
        Err(e) => return r.fail("imap", format!("{e:#}")),
    };
    match imap::connect(&settings) {
        Ok(mut session) => match session.examine(&settings.mailbox) {
            Ok(mb) => {
                let idle = if imap::has_idle(&mut session) {
                    "IDLE"
                } else {
                    "no IDLE: polling"
                };
                let how = match settings.auth {
                    imap::Auth::XOAuth2(_) => " with XOAUTH2",
                    imap::Auth::Password(_) => "",
                };
                r.ok(
                    "imap",
                    format!(
                        "{}@{}:{}: logged in{how}; {} has {} messages ({idle})",
                        settings.username,
                        settings.host,
                        settings.port,
                        settings.mailbox,
                        mb.exists
                    ),
                );
                let _ = session.logout();
            }
            Err(e) => r.fail(
                "imap",
                format!(
                    "logged in, but the mailbox {:?} cannot be opened ({e}); check [imap] mailbox",
                    settings.mailbox
                ),
            ),
        },
        Err(e) => r.fail("imap", e.to_string()),
    }
}

fn smtp_check(ctx: &Context, r: &mut Report) {
    let Some(c) = &ctx.config.smtp else {
        r.warn("smtp", "no [smtp] section: approved replies cannot be sent");
        return;
    };
    // The same session code the outbox uses: connect, TLS, login.
    let settings = match super::send::outgoing(ctx) {
        Ok(o) => o.smtp,
        Err(e) => return r.fail("smtp", format!("{e:#}")),
    };
    match crate::send::smtp::Session::open(&settings) {
        Ok(session) => {
            session.quit();
            r.ok(
                "smtp",
                format!("{}@{}:{}: logged in", c.username, c.host, c.port),
            );
        }
        Err(e) => r.fail("smtp", e.to_string()),
    }
    if let Some(folder) = c.save_sent.as_deref().filter(|f| !f.trim().is_empty()) {
        r.ok(
            "smtp",
            format!("copies of sent mail go to the IMAP folder {folder:?} (created when missing)"),
        );
    }
}

fn ai_check(ctx: &Context, r: &mut Report) {
    let ai = &ctx.config.ai;
    match ai.provider {
        Provider::Offline => r.ok("ai", "offline drafter: needs no network and no key"),
        Provider::Openai => {
            if let Err(e) = crate::ai::prompt::PromptSettings::from_config(&ctx.config) {
                return r.fail("ai", e.to_string());
            }
            let mut settings = match crate::ai::openai::Settings::from_config(ai) {
                Ok(s) => s,
                Err(e) => return r.fail("ai", e.to_string()),
            };
            settings.retry.max_retries = settings.retry.max_retries.min(1);
            let client = match crate::ai::openai::Client::new(settings) {
                Ok(c) => c,
                Err(e) => return r.fail("ai", e.to_string()),
            };
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => return r.fail("ai", format!("cannot start the async runtime: {e}")),
            };
            // The smallest request that proves base_url, model and key: a few tokens.
            let started = std::time::Instant::now();
            let answer = runtime.block_on(client.complete(
                &[crate::ai::openai::Turn::User(
                    "Reply with the single word: ok".into(),
                )],
                None,
                None,
            ));
            match answer {
                Ok(c) => r.ok(
                    "ai",
                    format!(
                        "{} ({}): answered in {} ms",
                        ai.base_url,
                        if c.model.is_empty() {
                            &ai.model
                        } else {
                            &c.model
                        },
                        started.elapsed().as_millis()
                    ),
                ),
                Err(e) => r.fail("ai", e.to_string()),
            }
        }
    }
}
