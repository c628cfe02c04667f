-- 006: SLA clocks, escalation and what statistics need.
--
-- sla_due_at (001) is when the first response is due; resolution_due_at when the ticket should
-- be resolved; both count from sla_start_at (the customer's first message, or the message that
-- reopened the ticket). resolved_at is set when the ticket becomes resolved or closed and
-- cleared when it reopens. A priority or category set by a rule or by hand is pinned: analysis
-- no longer changes it.
ALTER TABLE tickets ADD COLUMN sla_start_at INTEGER;
ALTER TABLE tickets ADD COLUMN resolution_due_at INTEGER;
ALTER TABLE tickets ADD COLUMN resolved_at INTEGER;
ALTER TABLE tickets ADD COLUMN priority_pinned INTEGER NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN category_pinned INTEGER NOT NULL DEFAULT 0;

UPDATE tickets SET
    sla_start_at = coalesce(
        (SELECT min(coalesce(m.sent_at, m.stored_at)) FROM messages m
         WHERE m.ticket_id = tickets.id AND m.direction = 'inbound'),
        created_at),
    resolved_at = CASE status WHEN 'closed' THEN coalesce(closed_at, updated_at)
                              WHEN 'resolved' THEN updated_at END;

-- The review screen lists tickets by the next SLA deadline of those in our court (open ones:
-- first response until answered, then resolution), then the rest by latest activity. The
-- expression is written exactly as in store::tickets::NEXT_DUE so the planner uses this index
-- for that order and for overdue ranges. The status at the end lets the list leave out noise
-- and spam from the index alone: a page far down the list skips rows without reading them.
CREATE INDEX tickets_sla_order ON tickets (
    coalesce(CASE WHEN status = 'open'
                  THEN coalesce(CASE WHEN first_response_at IS NULL THEN sla_due_at END,
                                resolution_due_at) END,
             9223372036854775807),
    updated_at DESC, id DESC, status);

-- One row per ticket ever marked for escalation. marked: waits for the admin; pending:
-- confirmed, some step still to do (last_error says why); escalated: every configured step
-- done; dismissed: the admin declined. Each step records when it was done so that a retry
-- never repeats one (the GitLab issue's URL is tickets.escalation_url).
CREATE TABLE escalations (
    ticket_id    INTEGER PRIMARY KEY REFERENCES tickets(id),
    state        TEXT    NOT NULL CHECK (state IN ('marked', 'pending', 'escalated', 'dismissed')),
    reason       TEXT    NOT NULL,
    marked_at    INTEGER NOT NULL,
    confirmed_at INTEGER,
    issue_iid    INTEGER,
    notified_at  INTEGER,
    drafted_at   INTEGER,
    attempts     INTEGER NOT NULL DEFAULT 0,
    last_error   TEXT,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX escalations_state ON escalations (state);
