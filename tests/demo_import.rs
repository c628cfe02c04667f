//! The bundled demo mailbox, imported twice through the real binary: counts, threads and
//! classes against assets/demo/manifest.tsv, and every raw message back byte for byte.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use helpdesk::mail::parse;
use helpdesk::store::{Store, messages};
use support::{helpdesk, stderr, stdout};

struct Entry {
    file: String,
    thread: String,
    class: String,
}

fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo")
}

fn manifest() -> Vec<Entry> {
    let text = std::fs::read_to_string(demo_dir().join("manifest.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let cols: Vec<&str> = l.split('\t').collect();
            Entry {
                file: cols[0].trim().into(),
                thread: cols[1].trim().into(),
                class: cols[2].trim().into(),
            }
        })
        .collect()
}

fn summary(out: &std::process::Output) -> serde_json::Value {
    assert!(out.status.success(), "{}", stderr(out));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn the_demo_mailbox_imports_twice_with_the_right_threads_classes_and_bytes() {
    let entries = manifest();
    let files: BTreeSet<String> = std::fs::read_dir(demo_dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".eml"))
        .collect();
    assert!(
        files.len() >= 40,
        "the demo has only {} messages",
        files.len()
    );
    assert_eq!(
        files,
        entries
            .iter()
            .map(|e| e.file.clone())
            .collect::<BTreeSet<_>>(),
        "manifest.tsv and the .eml files disagree"
    );
    let threads: BTreeSet<&str> = entries.iter().map(|e| e.thread.as_str()).collect();

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[account]\naddress = \"support@lumencloud.example\"\n",
    )
    .unwrap();
    let store = dir.path().join("demo.sqlite3");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "--config",
            config.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let run = |extra: &[&str]| {
        let a = args(extra);
        helpdesk(
            dir.path(),
            &a.iter().map(String::as_str).collect::<Vec<_>>(),
        )
    };
    let demo = demo_dir();
    let first = summary(&run(&["import", demo.to_str().unwrap(), "--json"]));
    assert_eq!(first["messages"], files.len());
    assert_eq!(first["new_tickets"], threads.len(), "{first}");
    assert_eq!(first["threaded"], files.len() - threads.len(), "{first}");
    assert_eq!(first["duplicates"], 0);

    let second = summary(&run(&["import", demo.to_str().unwrap(), "--json"]));
    assert_eq!(second["new_tickets"], 0);
    assert_eq!(second["threaded"], 0);
    assert_eq!(second["duplicates"], files.len());

    let s = Store::open(&store).unwrap();
    let mut ticket_of_thread: BTreeMap<&str, i64> = BTreeMap::new();
    for e in &entries {
        let raw = std::fs::read(demo.join(&e.file)).unwrap();
        let id = parse::parse(&raw)
            .ok()
            .and_then(|p| p.message_id)
            .unwrap_or_else(|| parse::synthetic_id(&raw));
        let stored = messages::raw(s.conn(), &id).unwrap();
        assert_eq!(
            stored.as_deref(),
            Some(&raw[..]),
            "{}: raw bytes differ",
            e.file
        );
        let found = messages::find(s.conn(), &id).unwrap().unwrap();
        let t = *ticket_of_thread.entry(&e.thread).or_insert(found.ticket_id);
        assert_eq!(
            found.ticket_id, t,
            "{} is not with the rest of thread {}",
            e.file, e.thread
        );
        let class: String = s
            .conn()
            .query_row(
                "SELECT class FROM messages WHERE message_id = ?1",
                [&id],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(class, e.class, "{}: class", e.file);
    }
    let distinct: BTreeSet<i64> = ticket_of_thread.values().copied().collect();
    assert_eq!(distinct.len(), threads.len(), "two threads share a ticket");
    // The import (another process) stored without SQLite checking foreign keys.
    support::assert_foreign_keys_hold(s.conn());

    // Machine mail (newsletter, alert, notification, out-of-office, bounce) is set aside as
    // noise: listed with --all only.
    let list = run(&["ticket", "list", "--all"]);
    assert!(stdout(&list).lines().count() > threads.len());
    let default = stdout(&run(&["ticket", "list"]));
    let noise = stdout(&run(&["ticket", "list", "--status", "noise"]));
    assert_eq!(noise.lines().count() - 1, 5, "{noise}");
    assert_eq!(
        default.lines().filter(|l| l.starts_with("TKT-")).count(),
        threads.len() - 5,
        "{default}"
    );
}

#[test]
fn helpdesk_demo_runs_without_config_or_network() {
    let dir = tempfile::tempdir().unwrap();
    let out = helpdesk(dir.path(), &["demo"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("TKT-"), "{text}");
    assert!(text.contains("new tickets"), "{text}");
    // Nothing was written to the user's directories.
    assert!(!dir.path().join("data/helpdesk/helpdesk.sqlite3").exists());
}
