-- 007: what the outbox needs for exactly-once delivery, and the acknowledgment decision.
--
-- smtp_accepted_at is committed the moment the SMTP server accepts a message, before anything
-- else happens: a row found in state 'sending' with it set was delivered and is never sent
-- again. sent_copy_at / sent_copy_error record the copy APPENDed to the Sent folder.
ALTER TABLE outbox ADD COLUMN smtp_accepted_at INTEGER;
ALTER TABLE outbox ADD COLUMN smtp_response TEXT;
ALTER TABLE outbox ADD COLUMN sent_copy_at INTEGER;
ALTER TABLE outbox ADD COLUMN sent_copy_error TEXT;
ALTER TABLE outbox ADD COLUMN subject TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_ticket ON outbox (ticket_id, id);
CREATE INDEX outbox_kind_recipient ON outbox (kind, recipients, created_at);

-- NULL: no acknowledgment is due (imported mail, acknowledgments off, or an older ticket);
-- 'pending': a new ticket from a human that the acknowledgment stage has not decided yet;
-- 'queued': an acknowledgment is in the outbox; 'withheld': a loop or rate rule withheld it
-- (the rule is in the ticket's events).
ALTER TABLE tickets ADD COLUMN ack_state TEXT
    CHECK (ack_state IS NULL OR ack_state IN ('pending', 'queued', 'withheld'));
CREATE INDEX tickets_ack_pending ON tickets (ack_state) WHERE ack_state = 'pending';
