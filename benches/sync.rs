//! `scripts/bench-sync`: `helpdesk sync` against mbsync (isync) on the same Dovecot mailbox of
//! 10,000 generated messages, in the same run, against a warm server (its mail in memory) and
//! a cold one (its mail read from the disk). Prints both wall times and the ratio for each,
//! helpdesk's peak memory and a no-change re-sync. A report, not a test: no assertion on
//! timings.

#[path = "../tests/support/servers.rs"]
mod servers;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use servers::MailServers;

const COUNT: usize = 10_000;

/// Runs a command, returning (seconds, peak RSS in KiB) measured by wait4.
fn measure(cmd: &mut Command) -> (f64, i64) {
    let start = Instant::now();
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the measured command");
    let pid = child.id() as libc::pid_t;
    // Read output on threads so a full pipe cannot stall the child.
    let mut child = child;
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let t_out = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut out, &mut s).ok();
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = String::new();
        std::io::Read::read_to_string(&mut err, &mut s).ok();
        s
    });
    let mut status = 0;
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let secs = start.elapsed().as_secs_f64();
    let (o, e) = (t_out.join().unwrap(), t_err.join().unwrap());
    assert!(
        r == pid && libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0,
        "{cmd:?} failed:\n{o}\n{e}"
    );
    for line in o.lines().take(3) {
        println!("  | {line}");
    }
    (secs, usage.ru_maxrss)
}

/// Writes the generated mailbox under `dir`; returns its message files in order.
fn generate(dir: &Path) -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = dir.join("generated");
    let status = Command::new("python3")
        .arg(root.join("scripts/gen-mail.py"))
        .arg(&out)
        .args(["--count", &COUNT.to_string(), "--seed", "42", "--quiet"])
        .status()
        .expect("python3 scripts/gen-mail.py");
    assert!(status.success());
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("new"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files
}

/// Drops the mail files under `maildir` (its cur/ and new/) from the page cache, so that the
/// server reads them from the disk again. Dovecot's own index files stay cached.
fn evict(maildir: &Path) {
    use std::os::fd::AsRawFd;
    let mut n = 0;
    for sub in ["cur", "new"] {
        let Ok(dir) = std::fs::read_dir(maildir.join(sub)) else {
            continue;
        };
        for entry in dir.flatten() {
            let Ok(f) = std::fs::File::open(entry.path()) else {
                continue;
            };
            // SAFETY: a valid descriptor of an open file; fadvise only drops clean cached pages.
            unsafe { libc::posix_fadvise(f.as_raw_fd(), 0, 0, libc::POSIX_FADV_DONTNEED) };
            n += 1;
        }
    }
    assert!(
        n >= COUNT,
        "dropped only {n} mail files from the page cache"
    );
}

fn main() {
    if Command::new("mbsync").arg("--version").output().is_err() {
        eprintln!("mbsync is not installed: run scripts/bench-sync (it installs isync)");
        std::process::exit(1);
    }
    let only = std::env::var("BENCH_SYNC_SERVER").ok();
    if let Some(o) = only.as_deref().filter(|o| !matches!(*o, "warm" | "cold")) {
        eprintln!("BENCH_SYNC_SERVER={o}: use warm or cold (or leave it unset for both)");
        std::process::exit(2);
    }
    // Both tools write to memory (tmpfs) when the machine has one: on a shared virtual disk
    // the time to create 10,000 files swung mbsync between 0.5 and 4.6 s from run to run
    // (all of it system time), which said more about the disk than about either tool.
    // BENCH_SYNC_DISK=1 keeps everything on the disk, the server's mail cached as chance has it.
    let shm = Path::new("/dev/shm");
    let in_memory = std::env::var_os("BENCH_SYNC_DISK").is_none() && shm.is_dir();
    let work = if in_memory {
        tempfile::tempdir_in(shm).unwrap()
    } else {
        tempfile::tempdir().unwrap()
    };
    println!("stores and Maildir under {}", work.path().display());
    // Read again for each server and dropped once seeded: a child started while the bench
    // held them would count them in its peak memory (it shares the bench's pages until exec).
    let messages = generate(work.path());

    // Two servers, measured one after the other, because how much of the server's mail is
    // in memory decides which tool waits for what. Left on the disk to chance, this VM's
    // memory manager (DAMON pageout) evicted most of the 10,000 mail files within seconds of
    // a run, so every run found a different share of them cold.
    // - warm: the server's Maildir in memory (tmpfs), as for mail that was just delivered;
    // - cold: on the disk, dropped from the page cache before every timed run, as for a first
    //   sync of older mail.
    // BENCH_SYNC_SERVER=warm or =cold measures one of them.
    let servers: Vec<Server> = if !in_memory {
        vec![Server::AsItComes]
    } else {
        [Server::Warm, Server::Cold]
            .into_iter()
            .filter(|s| only.as_deref().is_none_or(|o| o == s.name()))
            .collect()
    };
    let mut results = Vec::new();
    for server in servers {
        match measure_against(server, work.path(), &messages) {
            Some(r) => results.push((server, r)),
            None => return, // held, then stopped
        }
    }
    println!();
    let verdict = |ok: bool| if ok { "PASS" } else { "FAIL" };
    for (server, r) in &results {
        let ratio = r.helpdesk / r.mbsync;
        println!(
            "{} server: helpdesk/mbsync wall time = {ratio:.2}× (target ≤ 1.0×, aim 0.6×): {}; \
             best run against best run = {:.2}×: {}",
            server.name(),
            verdict(ratio <= 1.0),
            r.best_ratio,
            verdict(r.best_ratio <= 1.0)
        );
    }
    let rss = results.iter().map(|(_, r)| r.rss).max().unwrap_or(0);
    let again = results.iter().map(|(_, r)| r.again).fold(0.0, f64::max);
    println!(
        "helpdesk peak memory {:.1} MB (target < 100 MB): {}",
        rss as f64 / 1024.0,
        verdict(rss < 100 * 1024)
    );
    println!(
        "no-change re-sync {again:.3} s (target < 0.1 s): {}",
        verdict(again < 0.1)
    );
}

/// Where the server keeps its mail while a round of runs is timed.
#[derive(Debug, Clone, Copy)]
enum Server {
    Warm,
    Cold,
    /// On the disk, in the page cache or not as the machine has it (BENCH_SYNC_DISK).
    AsItComes,
}

impl Server {
    fn name(self) -> &'static str {
        match self {
            Server::Warm => "warm",
            Server::Cold => "cold",
            Server::AsItComes => "on-disk",
        }
    }
}

/// Medians over the rounds against one server.
struct Measured {
    helpdesk: f64,
    mbsync: f64,
    best_ratio: f64,
    /// helpdesk's peak RSS, KiB.
    rss: i64,
    again: f64,
}

/// Starts a server holding the `messages` (files) and times both tools against it. `None`
/// when held (BENCH_SYNC_HOLD) and stopped by a signal.
fn measure_against(server: Server, work: &Path, messages: &[PathBuf]) -> Option<Measured> {
    let cold = matches!(server, Server::Cold);
    let srv = MailServers::start_with(servers::Options {
        dir_in: matches!(server, Server::Warm).then(|| PathBuf::from("/dev/shm")),
        ..Default::default()
    });
    println!();
    println!(
        "{} server: its Maildir under {}{}",
        server.name(),
        srv.dir().display(),
        if cold {
            ", dropped from the page cache before every timed run"
        } else {
            ""
        }
    );
    let work = work.join(server.name());
    std::fs::create_dir_all(&work).unwrap();
    let messages: Vec<Vec<u8>> = messages.iter().map(|f| std::fs::read(f).unwrap()).collect();
    let bytes: usize = messages.iter().map(Vec::len).sum();
    srv.seed_maildir("support", messages);
    // Let Dovecot index the mailbox once, so neither tool pays for that.
    {
        let mut s = srv.imap("support");
        // SELECT, not EXAMINE: the first SELECT moves new/ to cur/, which neither tool should pay.
        let mb = s.select("INBOX").unwrap();
        assert_eq!(mb.exists as usize, COUNT);
        s.fetch("1:*", "(UID RFC822.SIZE)").unwrap();
        let _ = s.logout();
    }
    println!(
        "mailbox: {COUNT} messages, {:.1} MiB, Dovecot on 127.0.0.1:{} (IMAPS)",
        bytes as f64 / 1048576.0,
        srv.imaps_port
    );

    // helpdesk: release build, fresh store, after_ingest = none (mbsync changes no flags).
    let cfg = work.join("config.toml");
    std::fs::write(
        &cfg,
        format!(
            "[account]\naddress = \"support@lumencloud.example\"\n\n[imap]\nhost = \"localhost\"\nport = {}\nsecurity = \"tls\"\nusername = \"support\"\npassword_command = \"echo {}\"\ntls_ca_file = \"{}\"\nafter_ingest = \"none\"\n",
            srv.imaps_port,
            srv.password("support"),
            srv.ca_cert.display()
        ),
    )
    .unwrap();
    let store = work.join("bench.sqlite3");
    let helpdesk = || {
        let mut c = Command::new(env!("CARGO_BIN_EXE_helpdesk"));
        c.args([
            "--config",
            cfg.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "sync",
        ])
        .env("HOME", &work)
        .env("XDG_CONFIG_HOME", work.join("xdg"))
        .env("XDG_DATA_HOME", work.join("xdg"));
        c
    };

    // mbsync: the same mailbox into a Maildir, FSync off.
    let near = work.join("mbsync");
    let mbsyncrc = work.join("mbsyncrc");
    std::fs::write(
        &mbsyncrc,
        format!(
            "FSync no\n\nIMAPAccount bench\nHost localhost\nPort {}\nUser support\nPass {}\nSSLType IMAPS\nCertificateFile {}\n\nIMAPStore remote\nAccount bench\n\nMaildirStore local\nPath {}/\nInbox {}/INBOX\n\nChannel bench\nFar :remote:\nNear :local:\nPatterns INBOX\nCreate Near\nSync Pull\nSyncState *\n",
            srv.imaps_port,
            srv.password("support"),
            srv.ca_cert.display(),
            near.display(),
            near.display()
        ),
    )
    .unwrap();

    // BENCH_SYNC_HOLD=SECONDS keeps the servers up that long (at most an hour) before
    // measuring, with the two configs printed, to try either tool by hand.
    if let Some(secs) = std::env::var("BENCH_SYNC_HOLD")
        .ok()
        .and_then(|s| s.parse::<u64>().ok())
    {
        println!(
            "holding {secs} s: helpdesk --config {} --store <new file> sync; mbsync -c {} bench",
            cfg.display(),
            mbsyncrc.display()
        );
        // Stopped by a signal (Ctrl-C, kill), the bench returns, so that the servers are shut
        // down and the temporary files removed; killed outright, they outlived it.
        static STOP: AtomicBool = AtomicBool::new(false);
        extern "C" fn on_stop(_: libc::c_int) {
            STOP.store(true, Ordering::SeqCst);
        }
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, on_stop as *const () as libc::sighandler_t);
            libc::signal(libc::SIGTERM, on_stop as *const () as libc::sighandler_t);
        }
        let until = Instant::now() + std::time::Duration::from_secs(secs.min(3600));
        while Instant::now() < until && !STOP.load(Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        if STOP.load(Ordering::SeqCst) {
            println!("stopped: the servers are shut down");
            return None;
        }
    }

    let server_mail = srv.maildir("support");
    let run_mbsync = || {
        let _ = std::fs::remove_dir_all(&near);
        std::fs::create_dir_all(&near).unwrap();
        if cold {
            evict(&server_mail);
        }
        let measured = measure(
            Command::new("mbsync")
                .arg("-c")
                .arg(&mbsyncrc)
                .arg("-q")
                .arg("bench"),
        );
        let got = std::fs::read_dir(near.join("INBOX/new")).map_or(0, |d| d.count())
            + std::fs::read_dir(near.join("INBOX/cur")).map_or(0, |d| d.count());
        assert_eq!(got, COUNT, "mbsync copied {got} messages");
        measured
    };
    let fresh_store = || {
        // A fresh store: its search index (a file of its own) goes too.
        let index = helpdesk::store::search::path_for(&store);
        for file in [&store, &index] {
            for suffix in ["", "-wal", "-shm"] {
                let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
            }
        }
    };

    // One untimed pass first: Dovecot builds its cache of each message's sizes on the first
    // FETCH after delivery, work that would land on whichever tool went first.
    println!("warm-up: mbsync, untimed");
    run_mbsync();

    // The tools alternate over several rounds, each going first in every other round (a
    // shared 2-core machine is noisy and drifts); the report gives every run and the median.
    const ROUNDS: usize = 5;
    let (mut h_runs, mut m_runs, mut again_runs) = (Vec::new(), Vec::new(), Vec::new());
    let (mut h_rss, mut m_rss) = (0, 0);
    for round in 1..=ROUNDS {
        let mut time_mbsync = || {
            println!("round {round}: mbsync");
            let (secs, rss) = run_mbsync();
            m_runs.push(secs);
            m_rss = m_rss.max(rss);
        };
        if round % 2 == 0 {
            time_mbsync();
        }
        fresh_store();
        if cold {
            evict(&server_mail);
        }
        println!("round {round}: helpdesk sync, fresh store");
        let (secs, rss) = measure(&mut helpdesk());
        h_runs.push(secs);
        h_rss = h_rss.max(rss);
        for _ in 0..2 {
            println!("round {round}: helpdesk sync, nothing new");
            again_runs.push(measure(&mut helpdesk()).0);
        }
        if round % 2 == 1 {
            time_mbsync();
        }
    }
    let runs = |v: &[f64]| {
        v.iter()
            .map(|x| format!("{x:.3}"))
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!();
    println!("helpdesk sync runs (s):    {}", runs(&h_runs));
    println!("mbsync runs (s):           {}", runs(&m_runs));
    println!("no-change re-sync runs (s): {}", runs(&again_runs));
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let best = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let best_ratio = best(&h_runs) / best(&m_runs);
    let (h_secs, m_secs, again_secs) = (median(h_runs), median(m_runs), median(again_runs));

    println!();
    println!(
        "{:<28} {:>9} {:>12} {:>9}",
        format!("{} server, median of runs", server.name()),
        "seconds",
        "messages/s",
        "peak MB"
    );
    println!(
        "{:<28} {:>9.3} {:>12.0} {:>9.1}",
        "helpdesk sync",
        h_secs,
        COUNT as f64 / h_secs,
        h_rss as f64 / 1024.0
    );
    println!(
        "{:<28} {:>9.3} {:>12.0} {:>9.1}",
        "mbsync (FSync off)",
        m_secs,
        COUNT as f64 / m_secs,
        m_rss as f64 / 1024.0
    );
    println!("{:<28} {:>9.3}", "helpdesk re-sync, no change", again_secs);
    Some(Measured {
        helpdesk: h_secs,
        mbsync: m_secs,
        best_ratio,
        rss: h_rss,
        again: again_secs,
    })
}
