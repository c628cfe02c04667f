//! Escalation over real HTTP on 127.0.0.1: a GitLab-API-compatible server and a chat webhook
//! receiver run in the test. One issue per ticket, even when asked twice or after a request
//! that timed out once the server had created the issue; payloads each chat service accepts;
//! a rejected token is a clear error and leaves the escalation pending for a retry; the
//! marking rules (analysis, rounds, SLA breach) and `escalation.auto`.

mod support;

use std::path::Path;

use helpdesk::config::Config;
use helpdesk::escalate::{self, Targets};
use helpdesk::store::{DraftState, EscalationState, escalations, messages};
use support::http::{self, Request};
use support::{DAY, Harness, NOW, mail};

const TOKEN: &str = "glpat-test-token-7Qx";
const HOOK_SECRET: &str = "T0SECRET/B0SECRET/xoxsecretpath";

fn config(extra: &str) -> Config {
    let text = format!(
        "[account]\naddress = \"{}\"\nsignature = \"The Support Team\"\n\n{extra}",
        support::SUPPORT
    );
    Config::parse(&text, Path::new("test.toml")).unwrap()
}

fn gitlab_section(url: &str, token: &str) -> String {
    format!(
        "[escalation.gitlab]\nbase_url = \"{url}\"\nproject = \"support/escalations\"\n\
         token_command = \"printf '%s' {token}\"\nlabels = [\"support\"]\ntimeout_seconds = 1\n"
    )
}

fn chat_section(format: &str, url: &str) -> String {
    format!(
        "[escalation.chat]\nformat = \"{format}\"\nurl_command = \"printf '%s' '{url}/hooks/{HOOK_SECRET}'\"\n"
    )
}

/// A harness with one customer ticket; returns it and the ticket's id.
fn with_ticket() -> (Harness, i64) {
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("Ann Example <ann@customer.example>")
            .subject("Sync broken since Monday")
            .id("sync-1@customer.example")
            .body("Sync has been broken for days.\n@all see #12, this is urgent.\n")
            .build(),
    );
    let id = h.ticket(&h.number_of("sync-1@customer.example")).id;
    (h, id)
}

fn creates(reqs: &[Request]) -> usize {
    reqs.iter().filter(|r| r.method == "POST").count()
}

#[test]
fn the_issue_is_created_once_when_escalation_is_asked_twice() {
    let (gl, issues) = http::gitlab("support%2Fescalations", TOKEN, false);
    let hook = http::webhook(200);
    let c = config(&format!(
        "{}\n{}",
        gitlab_section(&gl.url(), TOKEN),
        chat_section("slack", &hook.url())
    ));
    let targets = Targets::from_config(&c).unwrap();
    let (mut h, id) = with_ticket();
    let number = h.ticket(&h.number_of("sync-1@customer.example")).number;

    let first = escalate::escalate(&mut h.store, &targets, id, &|| NOW).unwrap();
    assert_eq!(first.error, None);
    assert_eq!(first.state, EscalationState::Escalated);
    let second = escalate::escalate(&mut h.store, &targets, id, &|| NOW + 60).unwrap();
    assert_eq!(second.state, EscalationState::Escalated);
    assert_eq!(second.issue_url, first.issue_url);

    assert_eq!(creates(&gl.requests()), 1);
    let issues = issues.lock().unwrap();
    assert_eq!(issues.list.len(), 1);
    let issue = &issues.list[0];
    assert_eq!(
        issue["title"],
        format!("[{number}] Sync broken since Monday")
    );
    let labels: Vec<&str> = issue["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap())
        .collect();
    assert_eq!(
        labels,
        vec!["support"],
        "no category or priority before analysis"
    );
    let body = issue["description"].as_str().unwrap();
    assert!(
        body.contains(&number) && body.contains("ann@customer.example"),
        "{body}"
    );
    // The customer's text is an excerpt in a code block: `@all` and `#12` mention nothing.
    assert!(
        body.contains("```text\nSync has been broken for days.\n@all see #12"),
        "{body}"
    );

    let t = h.ticket(&number);
    assert_eq!(t.escalation_url, first.issue_url);
    assert!(t.escalation_url.unwrap().ends_with("/-/issues/1"));
    assert_eq!(hook.requests().len(), 1, "one chat message");
    // The customer gets a draft to approve like any other.
    let draft = messages::latest_draft(h.store.conn(), id).unwrap().unwrap();
    assert_eq!(draft.state, DraftState::Drafted);
    assert!(draft.body.starts_with("Hello Ann,") && draft.body.contains(&number));
    assert!(draft.body.ends_with("The Support Team"));
    let kinds: Vec<String> = h.events(&number).into_iter().map(|(k, _)| k).collect();
    for k in [
        "escalation-confirmed",
        "escalation-issue",
        "escalation-chat",
        "escalation-draft",
        "escalated",
    ] {
        assert_eq!(
            kinds.iter().filter(|x| *x == k).count(),
            1,
            "{k}: {kinds:?}"
        );
    }
}

#[test]
fn a_create_that_timed_out_after_the_server_made_the_issue_is_found_not_repeated() {
    let (gl, issues) = http::gitlab("support%2Fescalations", TOKEN, true);
    let c = config(&gitlab_section(&gl.url(), TOKEN));
    let targets = Targets::from_config(&c).unwrap();
    let (mut h, id) = with_ticket();
    let number = h.ticket(&h.number_of("sync-1@customer.example")).number;

    let first = escalate::escalate(&mut h.store, &targets, id, &|| NOW).unwrap();
    let err = first.error.expect("the first request times out");
    assert!(
        err.contains("creating the GitLab issue") && err.contains("timed out"),
        "{err}"
    );
    assert_eq!(first.state, EscalationState::Pending);
    assert_eq!(
        issues.lock().unwrap().list.len(),
        1,
        "the server did create it"
    );
    let e = escalations::get(h.store.conn(), id).unwrap().unwrap();
    assert_eq!((e.state, e.attempts), (EscalationState::Pending, 1));
    assert!(e.issue_iid.is_none() && h.ticket(&number).escalation_url.is_none());

    // The retry looks the issue up by the ticket number before creating anything.
    let retried = escalate::deliver_pending(&mut h.store, &c, &targets, &|| NOW + 300).unwrap();
    assert_eq!(retried.len(), 1);
    assert_eq!(retried[0].error, None);
    assert_eq!(retried[0].state, EscalationState::Escalated);
    assert_eq!(creates(&gl.requests()), 1, "no second issue");
    assert_eq!(issues.lock().unwrap().list.len(), 1);
    assert!(
        h.ticket(&number)
            .escalation_url
            .unwrap()
            .ends_with("/-/issues/1")
    );
    let events = h.events(&number);
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "escalation-issue" && d.contains("found")),
        "{events:?}"
    );
    assert!(events.iter().any(|(k, _)| k == "escalation-failed"));
}

#[test]
fn a_rejected_token_is_a_clear_error_and_the_ticket_stays_pending_for_retry() {
    let (gl, issues) = http::gitlab("support%2Fescalations", TOKEN, false);
    let hook = http::webhook(200);
    let chat = chat_section("generic", &hook.url());
    let wrong = config(&format!(
        "{}\n{chat}",
        gitlab_section(&gl.url(), "glpat-expired-0000")
    ));
    let (mut h, id) = with_ticket();
    let number = h.ticket(&h.number_of("sync-1@customer.example")).number;

    let out = escalate::escalate(
        &mut h.store,
        &Targets::from_config(&wrong).unwrap(),
        id,
        &|| NOW,
    )
    .unwrap();
    let err = out.error.unwrap();
    assert!(
        err.contains("401") && err.contains("token_command"),
        "{err}"
    );
    assert!(!err.contains("glpat-expired"), "the token leaked: {err}");
    assert_eq!(out.state, EscalationState::Pending);
    assert_eq!(
        escalations::get(h.store.conn(), id).unwrap().unwrap().state,
        EscalationState::Pending
    );
    assert!(
        hook.requests().is_empty(),
        "nothing else happens before the issue"
    );
    assert!(issues.lock().unwrap().list.is_empty());
    let t = h.ticket(&number);
    assert_eq!(t.escalation, Some(EscalationState::Pending));
    for (_, detail) in h.events(&number) {
        assert!(!detail.contains("glpat-"), "{detail}");
    }

    // With the token fixed, a retry completes it.
    let right = config(&format!("{}\n{chat}", gitlab_section(&gl.url(), TOKEN)));
    let done = escalate::deliver_pending(
        &mut h.store,
        &right,
        &Targets::from_config(&right).unwrap(),
        &|| NOW + 60,
    )
    .unwrap();
    assert_eq!(done[0].state, EscalationState::Escalated);
    assert_eq!(creates(&gl.requests()), 1);
    assert_eq!(hook.requests().len(), 1);
}

#[test]
fn webhook_payloads_are_what_each_chat_service_accepts() {
    for format in ["slack", "google-chat", "generic"] {
        let hook = http::webhook(200);
        let c = config(&chat_section(format, &hook.url()));
        let (mut h, id) = with_ticket();
        let number = h.ticket(&h.number_of("sync-1@customer.example")).number;
        let out = escalate::escalate(
            &mut h.store,
            &Targets::from_config(&c).unwrap(),
            id,
            &|| NOW,
        )
        .unwrap();
        assert_eq!(out.error, None, "{format}");
        let reqs = hook.requests();
        assert_eq!(reqs.len(), 1, "{format}");
        let r = &reqs[0];
        assert_eq!(r.method, "POST");
        assert_eq!(r.path(), format!("/hooks/{HOOK_SECRET}"));
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json")
        );
        let v = r.json();
        let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
        match format {
            "slack" => {
                // Slack incoming webhooks: `text` (the notification) and Block Kit blocks.
                assert_eq!(keys, vec!["blocks", "text"]);
                let text = v["text"].as_str().unwrap();
                assert!(text.contains(&number) && text.len() <= 3000);
                let blocks = v["blocks"].as_array().unwrap();
                assert!(!blocks.is_empty() && blocks.len() <= 50);
                for b in blocks {
                    match b["type"].as_str().unwrap() {
                        "header" => {
                            assert_eq!(b["text"]["type"], "plain_text");
                            assert!(b["text"]["text"].as_str().unwrap().chars().count() <= 150);
                        }
                        "section" => {
                            if let Some(t) = b.get("text") {
                                assert_eq!(t["type"], "mrkdwn");
                                assert!(t["text"].as_str().unwrap().len() <= 3000);
                            }
                            if let Some(f) = b.get("fields") {
                                let f = f.as_array().unwrap();
                                assert!(f.len() <= 10);
                                for field in f {
                                    assert_eq!(field["type"], "mrkdwn");
                                    assert!(field["text"].as_str().unwrap().len() <= 2000);
                                }
                            }
                            assert!(b.get("text").is_some() || b.get("fields").is_some());
                        }
                        other => panic!("block type {other}"),
                    }
                }
                // The requester's <address> is escaped for mrkdwn.
                assert!(v.to_string().contains("&lt;ann@customer.example&gt;"));
            }
            "google-chat" => {
                // Google Chat incoming webhooks: a message with `text` and nothing unknown.
                assert_eq!(keys, vec!["text"]);
                let text = v["text"].as_str().unwrap();
                assert!(
                    text.starts_with(&format!("*Escalated {number}: Sync broken")),
                    "{text}"
                );
                assert!(text.contains("```\nSync has been broken"));
            }
            _ => {
                assert_eq!(
                    keys,
                    vec![
                        "at",
                        "event",
                        "excerpt",
                        "issue_url",
                        "reason",
                        "summary",
                        "ticket"
                    ]
                );
                assert_eq!(v["event"], "ticket.escalated");
                assert_eq!(v["ticket"]["number"], number);
                assert_eq!(v["ticket"]["requester"]["address"], "ann@customer.example");
                assert_eq!(v["ticket"]["status"], "open");
                assert_eq!(v["reason"], "escalated by the admin");
                assert_eq!(v["issue_url"], serde_json::Value::Null);
                assert_eq!(v["at"], "2026-11-20T12:00:00+00:00");
                assert!(
                    v["ticket"]["first_response_due_at"]
                        .as_str()
                        .unwrap()
                        .starts_with("2026-11-20T10:00:00")
                );
            }
        }
    }
}

#[test]
fn a_refused_webhook_names_the_fix_and_never_the_url() {
    let hook = http::webhook(404);
    let c = config(&chat_section("slack", &hook.url()));
    let (mut h, id) = with_ticket();
    let number = h.ticket(&h.number_of("sync-1@customer.example")).number;
    let out = escalate::escalate(
        &mut h.store,
        &Targets::from_config(&c).unwrap(),
        id,
        &|| NOW,
    )
    .unwrap();
    let err = out.error.unwrap();
    assert!(err.contains("404") && err.contains("url_command"), "{err}");
    for text in std::iter::once(err).chain(h.events(&number).into_iter().map(|(_, d)| d)) {
        assert!(
            !text.contains("SECRET") && !text.contains("/hooks/"),
            "{text}"
        );
    }
    let e = escalations::get(h.store.conn(), id).unwrap().unwrap();
    assert_eq!(e.state, EscalationState::Pending);
    assert!(e.notified_at.is_none() && e.drafted_at.is_none());
}

fn analyse(h: &mut Harness) {
    let drafter = helpdesk::ai::offline::OfflineDrafter::bundled().unwrap();
    helpdesk::ai::analyse_pending(
        &mut h.store,
        &drafter,
        &helpdesk::ai::StageOptions {
            signature: "Support".into(),
            ..Default::default()
        },
        &|| NOW,
        &mut |_, _| {},
    )
    .unwrap();
}

#[test]
fn review_marks_requests_for_a_person_long_threads_and_breaches() {
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("Dana <dana@customer.example>")
            .subject("Account locked")
            .id("lock-1@customer.example")
            .body("My account is locked. I want to speak to a real person, not a bot.\n")
            .build(),
    );
    for (i, id) in ["loop-1", "loop-2", "loop-3"].iter().enumerate() {
        let mut m = mail()
            .from("Omar <omar@customer.example>")
            .subject("Upload fails")
            .id(&format!("{id}@customer.example"))
            .body("The upload still fails with error 17. Please help.\n");
        if i > 0 {
            m = m.in_reply_to("loop-1@customer.example");
        }
        h.ingest(&m.build());
    }
    h.ingest(
        &mail()
            .from("Kim <kim@customer.example>")
            .subject("Invoice question")
            .id("quiet-1@customer.example")
            .body("Could you send the invoice for October again, please?\n")
            .build(),
    );
    analyse(&mut h);
    let c = config("[escalation]\nmax_rounds = 2\n");
    let review = escalate::review(&mut h.store, &c, NOW).unwrap();
    let marked: std::collections::BTreeMap<String, String> = review.marked.into_iter().collect();
    let locked = h.number_of("lock-1@customer.example");
    let looping = h.number_of("loop-1@customer.example");
    let quiet = h.number_of("quiet-1@customer.example");
    assert!(marked[&locked].starts_with("analysis:"), "{marked:?}");
    assert!(
        marked[&looping].contains("3 customer messages"),
        "{marked:?}"
    );
    assert!(!marked.contains_key(&quiet), "{marked:?}");
    let t = h.ticket(&locked);
    assert_eq!(t.escalation, Some(EscalationState::Marked));
    assert_eq!(
        t.escalation_reason.as_deref(),
        Some(marked[&locked].as_str())
    );
    // A second review reads only what happened since: nothing new.
    assert!(
        escalate::review(&mut h.store, &c, NOW)
            .unwrap()
            .marked
            .is_empty()
    );

    // `ticket show` names the reason.
    let dir = h.dir.path().to_owned();
    let cfg = dir.join("c.toml");
    std::fs::write(
        &cfg,
        "[account]\naddress = \"support@lumencloud.example\"\n",
    )
    .unwrap();
    let store = h.store_path();
    let out = support::helpdesk(
        &dir,
        &[
            "--config",
            cfg.to_str().unwrap(),
            "--store",
            store.to_str().unwrap(),
            "ticket",
            "show",
            &locked,
        ],
    );
    let text = support::stdout(&out);
    assert!(text.contains("Escalation: marked for escalation"), "{text}");
    assert!(text.contains(&marked[&locked]), "{text}");

    // Breaches: the invoice question is overdue two days later.
    let c = config("[escalation]\non_sla_breach = true\nmax_rounds = 0\n");
    let review = escalate::review(&mut h.store, &c, NOW + 2 * DAY).unwrap();
    let marked: Vec<&str> = review.marked.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(marked, vec![quiet.as_str()]);
    assert!(
        review.marked[0]
            .1
            .starts_with("SLA breached: first response was due")
    );
}

#[test]
fn automatic_escalation_delivers_what_review_marked() {
    let (gl, _issues) = http::gitlab("7", TOKEN, false);
    let c = config(&format!(
        "[escalation]\nauto = true\n\n[escalation.gitlab]\nbase_url = \"{}\"\nproject = \"7\"\n\
         token_command = \"printf '%s' {TOKEN}\"\n",
        gl.url()
    ));
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("Dana <dana@customer.example>")
            .subject("Account locked")
            .id("lock-1@customer.example")
            .body("My account is locked. I want to speak to a real person, not a bot.\n")
            .build(),
    );
    analyse(&mut h);
    let number = h.number_of("lock-1@customer.example");
    let before = messages::latest_draft(h.store.conn(), h.ticket(&number).id)
        .unwrap()
        .unwrap();
    assert_eq!(before.state, DraftState::Drafted);
    assert_eq!(
        escalate::review(&mut h.store, &c, NOW)
            .unwrap()
            .marked
            .len(),
        1
    );
    let targets = Targets::from_config(&c).unwrap();
    let out = escalate::deliver_pending(&mut h.store, &c, &targets, &|| NOW).unwrap();
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].state, EscalationState::Escalated);
    let t = h.ticket(&number);
    assert!(t.escalation_url.is_some());
    // The issue carries the analysis' category and priority as labels.
    let req = gl
        .requests()
        .into_iter()
        .find(|r| r.method == "POST")
        .unwrap();
    let labels = req.json()["labels"].as_str().unwrap().to_owned();
    assert!(labels.contains(t.category.as_deref().unwrap()), "{labels}");
    assert!(
        labels.contains(&format!("priority::{}", t.priority.unwrap())),
        "{labels}"
    );
    // The analysis' draft gave way to the escalation notice.
    let drafts: Vec<(String, String)> = h
        .store
        .conn()
        .prepare("SELECT state, body FROM drafts WHERE ticket_id = ?1 ORDER BY id")
        .unwrap()
        .query_map([t.id], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(drafts.len(), 2);
    assert_eq!(drafts[0].0, "rejected");
    assert_eq!(drafts[1].0, "drafted");
    assert!(drafts[1].1.contains("specialist team"));
}
