//! `[[rules]]` at ingest: the demo mailbox imported with and without a set of rules differs on
//! exactly the tickets the rules name, each change is logged, and config errors name the rule,
//! the key and the line.

mod support;

use std::collections::BTreeMap;
use std::path::Path;

use helpdesk::config::Config;
use helpdesk::mail::import::import;
use helpdesk::mail::source::Scan;
use helpdesk::store::{DraftState, Store, events, messages, tickets};
use support::{NOW, helpdesk, stderr};

const RULES: &str = r#"
[account]
address = "support@lumencloud.example"

[[rules]]
name = "monitoring alerts are urgent work"
from = "alerts@uptimewatch.example"
set_status = "open"
set_priority = "urgent"
set_category = "Technical"

[[rules]]
name = "payment provider notices"
domain = "paymentsprovider.example"
set_status = "open"
set_priority = "high"
set_category = "Billing"

[[rules]]
name = "key account"
domain = "brightwater-logistics.example"
set_priority = "high"

[[rules]]
name = "French invoices go to accounting"
subject_regex = '\bfacture\b'
set_category = "Billing"
skip_ai = true

[[rules]]
name = "matches nothing"
from_regex = '^nobody@nowhere\.example$'
set_status = "spam"
"#;

/// Per ticket number: status, priority, category, and whether a draft waits for analysis.
type Snapshot = BTreeMap<String, (String, Option<String>, Option<String>, bool)>;

fn import_demo(dir: &Path, config_text: &str) -> (Store, Snapshot) {
    let config = Config::parse(config_text, Path::new("config.toml")).unwrap();
    let mut store = Store::open(&dir.join("demo.sqlite3")).unwrap();
    let ingest = helpdesk::cli::ingest_for(&config, &mut store).unwrap();
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/demo");
    import(
        &mut store,
        &ingest,
        &Scan::paths(&[demo]).unwrap(),
        "demo",
        &|| NOW,
        &mut |_, _| {},
    )
    .unwrap();
    // Imported without SQLite checking foreign keys: they hold, and the checks are back on.
    support::assert_foreign_keys_hold(store.conn());
    let rows = tickets::list(store.conn(), &Default::default()).unwrap();
    let snap = rows
        .into_iter()
        .map(|t| {
            let waiting =
                messages::latest_draft_state(store.conn(), t.id).unwrap() == Some(DraftState::New);
            (
                t.number,
                (t.status.to_string(), t.priority, t.category, waiting),
            )
        })
        .collect();
    (store, snap)
}

#[test]
fn rules_on_the_demo_import_change_exactly_the_tickets_they_name() {
    let plain_dir = tempfile::tempdir().unwrap();
    let ruled_dir = tempfile::tempdir().unwrap();
    let (_, plain) = import_demo(
        plain_dir.path(),
        "[account]\naddress = \"support@lumencloud.example\"\n",
    );
    let (store, ruled) = import_demo(ruled_dir.path(), RULES);
    assert_eq!(
        plain.keys().collect::<Vec<_>>(),
        ruled.keys().collect::<Vec<_>>()
    );

    let number_of = |file: &str| -> String {
        let raw = std::fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("assets/demo")
                .join(file),
        )
        .unwrap();
        let id = helpdesk::mail::parse::parse(&raw)
            .unwrap()
            .message_id
            .unwrap();
        let found = messages::find(store.conn(), &id).unwrap().unwrap();
        tickets::get(store.conn(), found.ticket_id).unwrap().number
    };
    let alert = number_of("48-uptime-alert-api-down.eml");
    let payout = number_of("41-payout-failed-notification.eml");
    let key_account = number_of("05-double-charge-invoice.eml");
    assert_eq!(number_of("12-double-charge-followup.eml"), key_account);
    let facture = number_of("30-facture-en-double.eml");

    let changed: Vec<&String> = plain.keys().filter(|n| plain[*n] != ruled[*n]).collect();
    let mut expected = vec![&alert, &payout, &key_account, &facture];
    expected.sort();
    assert_eq!(changed, expected);

    // Machine mail is noise without rules; the rules bring the alert and the notice back.
    let s = |status: &str, p: Option<&str>, c: Option<&str>, waiting: bool| {
        (
            status.to_owned(),
            p.map(Into::into),
            c.map(Into::into),
            waiting,
        )
    };
    assert_eq!(plain[&alert], s("noise", None, None, false));
    assert_eq!(
        ruled[&alert],
        s("open", Some("urgent"), Some("Technical"), false)
    );
    assert_eq!(
        ruled[&payout],
        s("open", Some("high"), Some("Billing"), false)
    );
    assert_eq!(ruled[&key_account], s("open", Some("high"), None, true));
    assert_eq!(plain[&facture], s("open", None, None, true));
    assert_eq!(ruled[&facture], s("open", None, Some("Billing"), false));

    // Every match is logged: the key account's rule ran on both of its messages.
    let rule_events = |number: &str| -> Vec<String> {
        let t = tickets::by_number(store.conn(), number).unwrap().unwrap();
        events::for_ticket(store.conn(), t.id)
            .unwrap()
            .into_iter()
            .filter(|e| e.kind == "rule")
            .map(|e| e.detail)
            .collect()
    };
    assert_eq!(
        rule_events(&key_account),
        vec![
            "rule \"key account\" matched: priority high".to_owned(),
            "rule \"key account\" matched: priority high".to_owned()
        ]
    );
    assert_eq!(
        rule_events(&facture),
        vec![
            "rule \"French invoices go to accounting\" matched: category Billing, no AI".to_owned()
        ]
    );
    let total: usize = ruled.keys().map(|n| rule_events(n).len()).sum();
    assert_eq!(total, 5);

    // The urgent priority set by the rule times the alert's SLA as urgent (2 h).
    let t = tickets::by_number(store.conn(), &alert).unwrap().unwrap();
    assert_eq!(t.sla_due_at.unwrap() - t.sla_start_at.unwrap(), 2 * 3600);
}

#[test]
fn config_errors_name_the_rule_key_and_line() {
    for (text, key, line) in [
        (
            "[[rules]]\nsubject = \"a\"\nskip_ai = true\n\n[[rules]]\nname = \"x\"\nsubject_regex = \"(unclosed\"\nset_priority = \"high\"\n",
            "rules[1].subject_regex",
            7,
        ),
        (
            "[[rules]]\nfrom = \"a@b.example\"\nset_priority = \"asap\"\n",
            "rules[0].set_priority",
            3,
        ),
        (
            "[[rules]]\nfrom = \"a@b.example\"\nset_status = \"pending\"\n",
            "rules[0].set_status",
            3,
        ),
        (
            "[[rules]]\nfrom = \"a@b.example\"\nset_prio = \"high\"\n",
            "rules[0]",
            3,
        ),
    ] {
        let e = Config::parse(text, Path::new("c.toml"))
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{key}: {e}");
        assert!(e.contains(&format!("line {line}")), "{key}: {e}");
    }
    // Through the binary: a bad config is exit code 2 with the same message.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[[rules]]\nbody_regex = \"[a-\"\nset_category = \"Billing\"\n",
    )
    .unwrap();
    let out = helpdesk(
        dir.path(),
        &["--config", config.to_str().unwrap(), "ticket", "list"],
    );
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("rules[0].body_regex") && err.contains("line 2") && err.contains("[a-"),
        "{err}"
    );
}
