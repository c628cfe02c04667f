//! The offline drafter against the held-out labelled set (assets/classifier/heldout.tsv), which
//! it never trains on: prints the figures, fails under the targets. Also the drafted reply, and
//! the suggestion of a similar resolved ticket's reply from a store built here.

mod support;

use std::collections::BTreeMap;
use std::sync::LazyLock;

use helpdesk::ai::escalation::explicit_request;
use helpdesk::ai::offline::{Example, OfflineDrafter, TRAIN, Turn, examples, language_of};
use helpdesk::ai::{Analysis, analyse_pending};
use helpdesk::store::{TicketStatus, search};
use support::mail;

/// Trained once for all the tests here (a few seconds in a debug build).
static DRAFTER: LazyLock<OfflineDrafter> = LazyLock::new(|| {
    let start = std::time::Instant::now();
    let d = OfflineDrafter::train(&load("train.tsv"));
    println!("trained in {:.2} s", start.elapsed().as_secs_f64());
    d
});

fn load(name: &str) -> Vec<Example> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("assets/classifier")
        .join(name);
    examples(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn pct(hit: usize, all: usize) -> f64 {
    hit as f64 * 100.0 / all.max(1) as f64
}

#[test]
fn held_out_accuracy_meets_the_targets() {
    let train = load("train.tsv");
    let heldout = load("heldout.tsv");
    assert!(
        train.len() >= 400 && heldout.len() >= 300,
        "{} / {}",
        train.len(),
        heldout.len()
    );
    let seen: std::collections::HashSet<&str> = train.iter().map(|e| e.text.as_str()).collect();
    assert!(
        heldout.iter().all(|e| !seen.contains(e.text.as_str())),
        "held-out text also in training"
    );

    let d = &*DRAFTER;
    let requests: Vec<&Example> = heldout.iter().filter(|e| !e.noise).collect();

    // Category, overall, per category and per language.
    let mut by_category: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut by_language: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut correct = 0;
    for e in &requests {
        let ok = d.category(&e.text).0 == e.category;
        correct += usize::from(ok);
        for (map, key) in [
            (&mut by_category, e.category.as_str()),
            (&mut by_language, e.language.as_str()),
        ] {
            let c = map.entry(key).or_default();
            c.0 += usize::from(ok);
            c.1 += 1;
        }
    }
    let category = correct as f64 / requests.len() as f64;

    // Escalation: recall per language, for the patterns, the model and both; false positives.
    let mut recall: BTreeMap<&str, [usize; 4]> = BTreeMap::new();
    for e in heldout.iter().filter(|e| e.escalate) {
        let r = recall.entry(e.language.as_str()).or_default();
        let pattern = explicit_request(&e.text).is_some();
        let model = d.escalation_probability(&e.text) >= 0.5;
        let both = d.wants_human(&e.text);
        r[0] += usize::from(pattern);
        r[1] += usize::from(model);
        r[2] += usize::from(both);
        r[3] += 1;
        if !both {
            eprintln!("missed escalation ({}): {}", e.language, e.text);
        }
    }
    let mut false_escalations: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for e in heldout.iter().filter(|e| !e.escalate) {
        let f = false_escalations.entry(e.language.as_str()).or_default();
        f.1 += 1;
        if d.wants_human(&e.text) {
            f.0 += 1;
            eprintln!("false escalation ({}): {}", e.language, e.text);
        }
    }

    // Language detection, which picks the template language.
    let mut detected: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for e in &heldout {
        let c = detected.entry(e.language.as_str()).or_default();
        c.0 += usize::from(language_of(&e.text) == e.language);
        c.1 += 1;
    }

    let noise_fp = requests.iter().filter(|e| d.is_noise(&e.text)).count();
    let noise_rows: Vec<_> = heldout.iter().filter(|e| e.noise).collect();
    let noise_found = noise_rows.iter().filter(|e| d.is_noise(&e.text)).count();

    println!(
        "held-out rows: {} ({} requests, {} noise); training rows: {}",
        heldout.len(),
        requests.len(),
        noise_rows.len(),
        train.len()
    );
    println!("category accuracy: {:.1}% (target ≥ 85%)", category * 100.0);
    for (name, map) in [("category", &by_category), ("language", &by_language)] {
        for (key, (hit, all)) in map {
            println!("  {name} {key}: {hit}/{all} = {:.1}%", pct(*hit, *all));
        }
    }
    for (lang, [pattern, model, both, all]) in &recall {
        println!(
            "escalation recall {lang}: {both}/{all} = {:.1}% (target ≥ 95%; patterns {pattern}, model {model})",
            pct(*both, *all)
        );
    }
    for (lang, (fp, all)) in &false_escalations {
        println!("escalation false positives {lang}: {fp} of {all}");
    }
    println!(
        "requests marked as noise: {noise_fp}/{} = {:.1}% (target < 5%)",
        requests.len(),
        pct(noise_fp, requests.len())
    );
    println!("noise found: {noise_found}/{}", noise_rows.len());
    for (lang, (hit, all)) in &detected {
        println!(
            "language detected {lang}: {hit}/{all} = {:.1}%",
            pct(*hit, *all)
        );
    }

    assert!(category >= 0.85, "category accuracy {category:.3}");
    for (lang, [_, _, both, all]) in &recall {
        assert!(
            *all >= 25 && *both as f64 / *all as f64 >= 0.95,
            "escalation recall {lang}: {both}/{all}"
        );
    }
    for (lang, (fp, all)) in &false_escalations {
        assert!(
            (*fp as f64) < 0.05 * *all as f64,
            "escalation false positives {lang}: {fp} of {all}"
        );
    }
    assert!(
        (noise_fp as f64) < 0.05 * requests.len() as f64,
        "requests marked as noise: {noise_fp}"
    );
}

#[test]
fn the_bundled_drafter_trains_and_drafts_a_reply() {
    // The bundled examples are the file's.
    assert_eq!(examples(TRAIN).unwrap().len(), load("train.tsv").len());
    let d = &*DRAFTER;
    let a = d.analyse(&Turn {
        number: "TKT-2026-00001",
        requester_name: Some("Anna Berg"),
        subject: "Charged twice for my invoice",
        text: "Hello, my card was charged twice for invoice INV-2041 this month. Please refund the duplicate payment.",
        signature: "The support team",
    });
    assert_eq!(a.category, "Billing");
    assert_eq!(a.language, "en");
    assert!(!a.noise && !a.escalate);
    assert!(
        a.reply.contains("Anna") && a.reply.contains("The support team"),
        "{}",
        a.reply
    );
    assert!(d.wants_human("I want to talk to a real person, not a bot."));
    assert!(d.wants_human("Merci d'escalader ma demande."));
    assert!(d.wants_human("Bitte an einen Mitarbeiter weiterleiten."));
    assert!(d.wants_human("Quiero hablar con una persona."));
    assert!(!d.wants_human("The sync failed because of a human error on our side."));
    assert!(d.is_noise("Thanks, that worked!"));
    assert!(!d.is_noise("Thanks, but the sync is still broken."));
}

#[test]
fn replies_come_from_templates_in_the_customers_language() {
    let d = &*DRAFTER;
    let a = d.analyse(&Turn {
        number: "TKT-2026-00002",
        requester_name: Some("Jonas Weber"),
        subject: "Synchronisierung hängt",
        text: "Hallo, die Desktop-App unter Windows 11 synchronisiert nicht mehr.",
        signature: "Ihr Support-Team",
    });
    assert_eq!(
        (a.category.as_str(), a.language.as_str()),
        ("Technical", "de")
    );
    assert!(a.reply.starts_with("Hallo Jonas,"), "{}", a.reply);
    assert!(
        a.reply.contains("Das hilft in den meisten Fällen:"),
        "{}",
        a.reply
    );
    assert_eq!(a.steps.len(), 3);
    assert!(a.steps.iter().all(|s| a.reply.contains(s.as_str())));
    // Windows is named: no question about the system; the other questions stay.
    assert!(
        a.questions.iter().all(|q| !q.contains("Betriebssystem")),
        "{:?}",
        a.questions
    );
    assert!(!a.questions.is_empty());
    assert!(
        a.reply.ends_with("Viele Grüße\nIhr Support-Team\n"),
        "{}",
        a.reply
    );

    let a = d.analyse(&Turn {
        number: "TKT-2026-00003",
        requester_name: None,
        subject: "Cuenta bloqueada",
        text: "Quiero hablar con una persona, no con un bot. No puedo entrar en mi cuenta.",
        signature: "Soporte",
    });
    assert!(a.escalate && a.escalate_reason.is_some());
    assert_eq!(a.language, "es");
    assert!(a.reply.starts_with("Hola,"), "{}", a.reply);
    // Short Spanish, which whatlang alone takes for Catalan.
    assert_eq!(
        language_of("Quiero hablar con un responsable — Llevo una semana sin poder entrar."),
        "es"
    );
    assert!(a.reply.contains("TKT-2026-00003"), "{}", a.reply);
    assert!(
        !a.reply.to_lowercase().contains("reembols"),
        "no refund promised: {}",
        a.reply
    );
}

/// A store with a resolved ticket about a stuck sync (answered), a closed one about an
/// invoice (answered), an open one about a stuck sync (not answered), and a new request.
fn store_with_history() -> support::Harness {
    let mut h = support::Harness::new();
    for (id, subject, body) in [
        (
            "r1@x",
            "Sync stuck at 99 percent",
            "The desktop client on Windows stays at 99 percent syncing forever, the progress never finishes.",
        ),
        (
            "r2@x",
            "Invoice address",
            "Please change the billing address on our invoices to our new office.",
        ),
        (
            "r3@x",
            "Sync stuck again",
            "Windows desktop client stuck at 99 percent syncing, progress never finishes.",
        ),
    ] {
        h.ingest(
            &mail()
                .from("c@x.example")
                .subject(subject)
                .id(id)
                .body(body)
                .build(),
        );
    }
    let (sync, invoice) = (h.number_of("r1@x"), h.number_of("r2@x"));
    h.set_status(&sync, TicketStatus::Resolved, support::NOW);
    h.set_status(&invoice, TicketStatus::Closed, support::NOW);
    let c = h.store.conn();
    // The answers: an outbound message on one, a sent draft on the other.
    c.execute(
        "INSERT INTO messages (ticket_id, message_id, direction, class, body_text, raw, raw_size,
             raw_sha256, source, stored_at)
         VALUES (?1, 'out1@x', 'outbound', 'human', ?2, x'', 0, '', 'test', ?3)",
        rusqlite::params![
            h.ticket(&sync).id,
            "Please pause and resume syncing, then clear the cache under Settings.",
            support::NOW
        ],
    )
    .unwrap();
    c.execute(
        "UPDATE drafts SET state = 'sent', body = 'Done: the new address is on your invoices.'
         WHERE ticket_id = ?1",
        [h.ticket(&invoice).id],
    )
    .unwrap();
    h.ingest(
        &mail()
            .from("new@x.example")
            .subject("Syncing stuck")
            .id("n1@x")
            .body("My Windows desktop client has been stuck at 99 percent syncing since Monday.")
            .build(),
    );
    h
}

#[test]
fn the_reply_of_the_most_similar_resolved_ticket_is_found() {
    let h = store_with_history();
    let c = h.store.conn();
    let (number, reply) = search::similar_resolved_reply(
        c,
        "Syncing stuck\nMy Windows desktop client has been stuck at 99 percent syncing.",
    )
    .unwrap()
    .expect("the resolved sync ticket");
    assert_eq!(number, h.number_of("r1@x"));
    assert!(reply.starts_with("Please pause and resume"), "{reply}");
    // The open ticket says the same but has no answer and is not resolved; the invoice
    // ticket is answered but unlike.
    assert_eq!(
        search::similar_resolved_reply(c, "Our billing address changed, new office").unwrap(),
        Some((
            h.number_of("r2@x"),
            "Done: the new address is on your invoices.".into()
        ))
    );
    assert_eq!(
        search::similar_resolved_reply(c, "Dark mode for the mobile app would be lovely").unwrap(),
        None
    );
    assert_eq!(
        search::similar_resolved_reply(c, "sync").unwrap(),
        None,
        "too few words"
    );
}

#[test]
fn the_analysis_stage_suggests_a_similar_resolved_reply_to_the_reviewer() {
    let mut h = store_with_history();
    let new = h.ticket(&h.number_of("n1@x")).id;
    let options = helpdesk::ai::StageOptions {
        ticket: Some(new),
        signature: "Support".into(),
        ..Default::default()
    };
    let report = analyse_pending(
        &mut h.store,
        &DRAFTER,
        &options,
        &|| support::NOW,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(report.drafted, 1);
    let (body, json): (String, String) = h
        .store
        .conn()
        .query_row(
            "SELECT body, analysis_json FROM drafts WHERE ticket_id = ?1",
            [new],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    let a: Analysis = serde_json::from_str(&json).unwrap();
    let note = format!(
        "Similar resolved ticket {} was answered:",
        h.number_of("r1@x")
    );
    assert!(
        a.steps.iter().any(|s| s.starts_with(&note)),
        "{:?}",
        a.steps
    );
    assert!(
        !body.contains("Similar resolved ticket"),
        "a suggestion, not sent: {body}"
    );
}
