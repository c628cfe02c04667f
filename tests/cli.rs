//! The command line as scripts use it: exit codes, JSON shapes, errors that name what to fix.

mod support;

use support::{helpdesk, mail, stderr, stdout};

struct Env {
    dir: tempfile::TempDir,
}

impl Env {
    fn new() -> Env {
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("mail");
        std::fs::create_dir(&m).unwrap();
        std::fs::write(
            m.join("1.eml"),
            mail()
                .from("Anna <anna@acme.example>")
                .subject("Sync stuck")
                .id("1@acme")
                .build(),
        )
        .unwrap();
        std::fs::write(
            m.join("2.eml"),
            mail()
                .from("Anna <anna@acme.example>")
                .subject("Re: Sync stuck")
                .id("2@acme")
                .in_reply_to("1@acme")
                .header("Date", "Thu, 19 Nov 2026 11:00:00 +0000")
                .body("Still stuck.\n\nOn Thu, 19 Nov 2026, Anna wrote:\n> Hello\n")
                .build(),
        )
        .unwrap();
        Env { dir }
    }
    fn run(&self, args: &[&str]) -> std::process::Output {
        let store = self.dir.path().join("s.sqlite3");
        let mut all = vec!["--store", store.to_str().unwrap()];
        all.extend_from_slice(args);
        helpdesk(self.dir.path(), &all)
    }
    fn mail_dir(&self) -> String {
        self.dir.path().join("mail").display().to_string()
    }
}

#[test]
fn importing_twice_changes_nothing() {
    let env = Env::new();
    let first = env.run(&["import", &env.mail_dir()]);
    assert!(first.status.success(), "{}", stderr(&first));
    assert_eq!(
        stdout(&first).lines().next().unwrap(),
        "2 messages read: 1 new tickets, 1 replies threaded, 0 duplicates skipped, 0 flagged for review"
    );
    let second = env.run(&["import", &env.mail_dir(), "--json"]);
    let s: serde_json::Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(s["new_tickets"], 0);
    assert_eq!(s["threaded"], 0);
    assert_eq!(s["duplicates"], 2);
}

#[test]
fn ticket_list_and_show_json_have_a_stable_shape() {
    let env = Env::new();
    env.run(&["import", &env.mail_dir()]);
    let out = env.run(&["ticket", "list", "--json"]);
    assert!(out.status.success());
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let t = &list[0];
    for key in [
        "number",
        "status",
        "priority",
        "category",
        "requester",
        "subject",
        "message_count",
    ] {
        assert!(t.get(key).is_some(), "missing {key} in {t}");
    }
    assert_eq!(t["number"], "TKT-2026-00001");
    assert_eq!(t["status"], "open");
    assert_eq!(t["requester"]["address"], "anna@acme.example");
    assert_eq!(t["message_count"], 2);

    let show = env.run(&["ticket", "show", "tkt-2026-1", "--json"]);
    assert!(show.status.success(), "{}", stderr(&show));
    let v: serde_json::Value = serde_json::from_slice(&show.stdout).unwrap();
    assert_eq!(v["number"], "TKT-2026-00001");
    let msgs = v["messages"].as_array().unwrap();
    assert_eq!(msgs.len(), 2);
    assert_eq!(msgs[1]["body"], "Still stuck.");
    assert!(msgs[1]["quoted"].as_str().unwrap().contains("> Hello"));
    assert!(v["events"].as_array().unwrap().len() >= 2);

    let filtered = env.run(&["ticket", "list", "--status", "closed", "--json"]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&filtered.stdout).unwrap(),
        serde_json::json!([])
    );

    // The review screen's filters, as options.
    assert!(
        env.run(&["ticket", "priority", "TKT-2026-00001", "urgent"])
            .status
            .success()
    );
    let numbers = |args: &[&str]| -> Vec<String> {
        let out = env.run(&[&["ticket", "list", "--json"][..], args].concat());
        assert!(out.status.success(), "{}", stderr(&out));
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(numbers(&["--priority", "urgent"]), ["TKT-2026-00001"]);
    assert!(numbers(&["--priority", "urgent", "--status", "closed"]).is_empty());
    assert!(numbers(&["--category", "Billing"]).is_empty());
    let bad = env.run(&["ticket", "list", "--priority", "hgh"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("valid: low, medium, high, urgent"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn ticket_show_folds_history_unless_full() {
    let env = Env::new();
    env.run(&["import", &env.mail_dir()]);
    let folded = stdout(&env.run(&["ticket", "show", "TKT-2026-00001"]));
    assert!(
        folded.contains("[quoted history: 2 lines folded; --full shows them]"),
        "{folded}"
    );
    assert!(!folded.contains("> Hello"));
    let full = stdout(&env.run(&["ticket", "show", "TKT-2026-00001", "--full"]));
    assert!(full.contains("> Hello"));
}

#[test]
fn errors_name_the_problem_and_exit_codes_follow_the_rules() {
    let env = Env::new();
    // Unknown ticket: failed (1) with a hint.
    let out = env.run(&["ticket", "show", "TKT-2026-00099"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("no ticket TKT-2026-00099"),
        "{}",
        stderr(&out)
    );
    // Bad usage: 2.
    let out = env.run(&["ticket", "list", "--status", "pending"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("valid: open, waiting, resolved, closed, spam, noise"));
    let out = env.run(&["ticket", "show", "hello"]);
    assert_eq!(out.status.code(), Some(2));
    // A missing path: failed, named.
    let out = env.run(&["import", "/nonexistent/mail"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("/nonexistent/mail"));
    // A bad config: 2, with key, line and valid values.
    let cfg = env.dir.path().join("bad.toml");
    std::fs::write(&cfg, "[tickets]\nprefix = \"TKT\"\nacknowledge = \"yes\"\n").unwrap();
    let out = env.run(&["--config", cfg.to_str().unwrap(), "ticket", "list"]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("line 3") && e.contains("tickets.acknowledge"),
        "{e}"
    );
    // An explicit config that does not exist: 2.
    let out = env.run(&["--config", "/nonexistent.toml", "ticket", "list"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn first_run_without_config_explains_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let out = helpdesk(dir.path(), &[]);
    assert_eq!(out.status.code(), Some(2));
    let e = stderr(&out);
    assert!(
        e.contains("helpdesk demo") && e.contains("config.example.toml"),
        "{e}"
    );
}

#[test]
fn completions_are_printed_for_each_shell() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let out = helpdesk(dir.path(), &["completions", shell]);
        assert!(out.status.success());
        let s = stdout(&out);
        assert!(s.contains("helpdesk") && s.contains("import"), "{shell}");
    }
}

#[test]
fn the_default_store_lives_in_the_xdg_data_dir() {
    let dir = tempfile::tempdir().unwrap();
    let m = dir.path().join("one.eml");
    std::fs::write(
        &m,
        mail().from("a@x.example").subject("x").id("x@x").build(),
    )
    .unwrap();
    let out = helpdesk(dir.path(), &["import", m.to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(dir.path().join("data/helpdesk/helpdesk.sqlite3").exists());
}

#[test]
fn ticket_save_writes_an_attachment_numbered_by_show() {
    let env = Env::new();
    let m = env.dir.path().join("att");
    std::fs::create_dir(&m).unwrap();
    std::fs::write(
        m.join("a.eml"),
        b"From: Lena <lena@x.example>\nTo: support@lumencloud.example\nSubject: Crash log\n\
Message-ID: <att@x.example>\nMIME-Version: 1.0\n\
Content-Type: multipart/mixed; boundary=\"XX\"\n\n--XX\nContent-Type: text/plain\n\n\
Logs attached.\n--XX\nContent-Type: text/plain; name=\"crash.log\"\n\
Content-Disposition: attachment; filename=\"crash.log\"\n\nline one\n--XX--\n",
    )
    .unwrap();
    assert!(env.run(&["import", m.to_str().unwrap()]).status.success());
    let show = stdout(&env.run(&["ticket", "show", "TKT-2026-00001"]));
    assert!(
        show.contains("Attachment 1: crash.log (text/plain"),
        "{show}"
    );
    let out = env.dir.path().join("out");
    let saved = env.run(&[
        "ticket",
        "save",
        "TKT-2026-00001",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(saved.status.success(), "{}", stderr(&saved));
    assert_eq!(
        stdout(&saved).trim(),
        out.join("crash.log").display().to_string()
    );
    // The line break before a boundary belongs to the boundary (RFC 2046).
    assert_eq!(std::fs::read(out.join("crash.log")).unwrap(), b"line one");
    let bad = env.run(&["ticket", "save", "TKT-2026-00001", "2"]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(
        stderr(&bad).contains("has 1 attachment: give a number from 1 to 1"),
        "{}",
        stderr(&bad)
    );
}
