//! SLA clocks in the store: due times set at ingest and when the priority changes, clocks that
//! start over when a ticket is restored from noise, the due-ordered list served by its index,
//! and `helpdesk ticket list --overdue / --due-within`.

mod support;

use helpdesk::config::Config;
use helpdesk::store::TicketStatus;
use helpdesk::store::tickets::{self, ListFilter, Order};
use helpdesk::ticket::{sla, status};
use support::{Harness, NOW, helpdesk, mail, stderr, stdout};

const HOUR: i64 = 3600;

fn rfc2822(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0).unwrap().to_rfc2822()
}

#[test]
fn due_times_are_stored_at_ingest_and_follow_the_priority() {
    let mut h = Harness::new();
    let sent = NOW - 3 * HOUR;
    h.ingest(
        &mail()
            .from("a@customer.example")
            .subject("Help")
            .id("a@x")
            .header("Date", &rfc2822(sent))
            .build(),
    );
    let n = h.number_of("a@x");
    let t = h.ticket(&n);
    // Not analysed yet: timed as medium (24 h, 72 h), from when the customer wrote.
    assert_eq!(t.sla_start_at, Some(sent));
    assert_eq!(t.sla_due_at, Some(sent + 24 * HOUR));
    assert_eq!(t.resolution_due_at, Some(sent + 72 * HOUR));
    assert_eq!(t.next_due(), t.sla_due_at);

    let policy = sla::Policy::default();
    status::set_priority(&mut h.store, &policy, t.id, "urgent", NOW).unwrap();
    let t = h.ticket(&n);
    assert_eq!(t.sla_due_at, Some(sent + 2 * HOUR));
    assert_eq!(t.resolution_due_at, Some(sent + 8 * HOUR));
    assert!(t.next_due().unwrap() < NOW, "urgent: already overdue");
    assert!(
        h.events(&n)
            .iter()
            .any(|(k, d)| k == "priority" && d.contains("→ urgent"))
    );

    // Analysis does not undo a priority set by hand.
    let drafter = helpdesk::ai::offline::OfflineDrafter::bundled().unwrap();
    helpdesk::ai::analyse_pending(
        &mut h.store,
        &drafter,
        &helpdesk::ai::StageOptions {
            signature: "S".into(),
            ..Default::default()
        },
        &|| NOW,
        &mut |_, _| {},
    )
    .unwrap();
    assert_eq!(h.ticket(&n).priority.as_deref(), Some("urgent"));

    // Once answered, the next deadline is the resolution.
    h.store
        .conn()
        .execute(
            "UPDATE tickets SET first_response_at = ?1 WHERE id = ?2",
            [NOW, t.id],
        )
        .unwrap();
    assert_eq!(h.ticket(&n).next_due(), Some(sent + 8 * HOUR));
    // Waiting for the customer: no deadline is shown.
    h.set_status(&n, TicketStatus::Waiting, NOW);
    assert_eq!(h.ticket(&n).next_due(), None);
}

#[test]
fn business_hours_from_the_config_apply_at_ingest() {
    let mut h = Harness::new();
    let c = Config::parse(
        "[sla]\nbusiness_hours = \"Mon-Fri 09:00-17:00\"\ntimezone = \"Europe/Berlin\"\n",
        std::path::Path::new("c.toml"),
    )
    .unwrap();
    h.ingest.sla = sla::Policy::from_config(&c.sla).unwrap();
    // Friday 2026-11-20 16:30 in Berlin (15:30 UTC): medium is 24 working hours, so 30
    // minutes on Friday, 8 h each on Monday and Tuesday, and 7.5 h on Wednesday.
    h.now = NOW + 5 * HOUR;
    h.ingest(
        &mail()
            .from("b@customer.example")
            .subject("Weekend")
            .id("b@x")
            .header("Date", "Fri, 20 Nov 2026 16:30:00 +0100")
            .build(),
    );
    let t = h.ticket(&h.number_of("b@x"));
    let expected = chrono::DateTime::parse_from_rfc3339("2026-11-25T16:30:00+01:00")
        .unwrap()
        .timestamp();
    assert_eq!(t.sla_due_at, Some(expected));
}

#[test]
fn a_ticket_restored_from_noise_starts_its_clocks_again() {
    let mut h = Harness::new();
    h.ingest(
        &mail()
            .from("c@customer.example")
            .subject("Thanks!")
            .id("c@x")
            .header("Date", &rfc2822(NOW - 5 * 86_400))
            .build(),
    );
    let n = h.number_of("c@x");
    h.set_status(&n, TicketStatus::Noise, NOW - 4 * 86_400);
    let id = h.ticket(&n).id;
    // Hidden from the default list, shown when asked for noise.
    let default = tickets::list(
        h.store.conn(),
        &ListFilter {
            hide_filtered: true,
            ..Default::default()
        },
    )
    .unwrap();
    assert!(default.iter().all(|t| t.number != n));
    let policy = sla::Policy::default();
    h.now = NOW;
    assert!(status::restore_from_noise(&mut h.store, &policy, id, NOW).unwrap());
    assert!(!status::restore_from_noise(&mut h.store, &policy, id, NOW).unwrap());
    let t = h.ticket(&n);
    assert_eq!(t.status, TicketStatus::Open);
    // From the customer's latest message, not from five days ago.
    assert_eq!(t.sla_start_at, t.last_inbound_at);
    let events = h.events(&n);
    assert!(
        events
            .iter()
            .any(|(k, d)| k == "status" && d == "noise → open: restored by the admin")
    );
    assert!(events.iter().any(|(k, _)| k == "sla"));
}

#[test]
fn the_due_order_is_served_by_its_index() {
    let h = Harness::new();
    for (filter, what) in [
        (
            ListFilter {
                order: Order::Due,
                hide_filtered: true,
                limit: Some(200),
                offset: 1000,
                ..Default::default()
            },
            "due order",
        ),
        (
            ListFilter {
                order: Order::Due,
                status: Some(TicketStatus::Open),
                limit: Some(200),
                ..Default::default()
            },
            "due order of a status",
        ),
    ] {
        // The same SQL as tickets::list, explained.
        let plan = tickets::explain_list(h.store.conn(), &filter).unwrap();
        assert!(plan.contains("tickets_sla_order"), "{what}: {plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{what} sorts: {plan}");
    }
}

#[test]
fn cli_lists_overdue_and_soon_due_tickets() {
    let mut h = Harness::new();
    let now = chrono::Utc::now().timestamp();
    h.now = now;
    let dir = h.dir.path().to_owned();
    let store_path = h.store_path();
    // Medium: due 24 h after the customer wrote.
    for (id, ago) in [("late", 30 * HOUR), ("soon", 23 * HOUR), ("later", HOUR)] {
        h.ingest(
            &mail()
                .from(&format!("{id}@customer.example"))
                .subject(id)
                .id(&format!("{id}@x"))
                .header("Date", &rfc2822(now - ago))
                .build(),
        );
    }
    let args = |extra: &[&str]| {
        let mut v = vec!["--store", store_path.to_str().unwrap(), "ticket", "list"];
        v.extend_from_slice(extra);
        let out = helpdesk(&dir, &v);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let subjects = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| l.starts_with("TKT-"))
            .map(|l| l.split_whitespace().last().unwrap().to_owned())
            .collect()
    };
    let overdue = args(&["--overdue"]);
    assert_eq!(subjects(&overdue), vec!["late"], "{overdue}");
    assert!(overdue.contains("-6h"), "{overdue}");
    assert_eq!(subjects(&args(&["--due-within", "2h"])), vec!["soon"]);
    assert_eq!(
        subjects(&args(&["--overdue", "--due-within", "2h"])),
        vec!["late", "soon"]
    );
    assert_eq!(
        subjects(&args(&["--sort", "due"])),
        vec!["late", "soon", "later"]
    );
    let bad = helpdesk(
        &dir,
        &[
            "--store",
            store_path.to_str().unwrap(),
            "ticket",
            "list",
            "--due-within",
            "2 hours",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert!(stderr(&bad).contains("30m, 2h, 1d"), "{}", stderr(&bad));
}
