-- 001: tickets, messages, attachments, drafts, outbox, sync state and the event log.
-- Times are unix seconds (UTC). States are lowercase TEXT checked here and parsed by one
-- FromStr each in src/store.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
) WITHOUT ROWID;

-- One row per (prefix, year): the last number handed out. Never decremented, so a number is
-- never reused even if its ticket row were lost.
CREATE TABLE ticket_seq (
    prefix TEXT    NOT NULL,
    year   INTEGER NOT NULL,
    last   INTEGER NOT NULL,
    PRIMARY KEY (prefix, year)
) WITHOUT ROWID;

CREATE TABLE tickets (
    id                INTEGER PRIMARY KEY,
    number            TEXT    NOT NULL UNIQUE,
    subject           TEXT    NOT NULL,
    subject_norm      TEXT    NOT NULL,
    requester_addr    TEXT    NOT NULL,
    requester_name    TEXT,
    status            TEXT    NOT NULL DEFAULT 'open'
                      CHECK (status IN ('open', 'waiting', 'resolved', 'closed', 'spam', 'noise')),
    priority          TEXT    CHECK (priority IN ('low', 'medium', 'high', 'urgent')),
    category          TEXT,
    language          TEXT,
    sentiment         TEXT,
    summary           TEXT,
    review_reason     TEXT,
    flagged           INTEGER NOT NULL DEFAULT 0,
    linked_ticket_id  INTEGER REFERENCES tickets(id),
    sla_due_at        INTEGER,
    first_response_at INTEGER,
    escalation_url    TEXT,
    created_at        INTEGER NOT NULL,
    updated_at        INTEGER NOT NULL,
    last_inbound_at   INTEGER,
    closed_at         INTEGER
);
CREATE INDEX tickets_status_updated ON tickets (status, updated_at);
CREATE INDEX tickets_requester_subject ON tickets (requester_addr, subject_norm);

-- Who may thread into a ticket by its subject tag (MAIL-RULES C3.3).
CREATE TABLE participants (
    ticket_id INTEGER NOT NULL REFERENCES tickets(id),
    address   TEXT    NOT NULL,
    role      TEXT    NOT NULL CHECK (role IN ('requester', 'sender', 'cc')),
    PRIMARY KEY (ticket_id, address)
) WITHOUT ROWID;
CREATE INDEX participants_address ON participants (address);

CREATE TABLE messages (
    id                   INTEGER PRIMARY KEY,
    ticket_id            INTEGER NOT NULL REFERENCES tickets(id),
    message_id           TEXT    NOT NULL UNIQUE,
    message_id_synthetic INTEGER NOT NULL DEFAULT 0,
    direction            TEXT    NOT NULL CHECK (direction IN ('inbound', 'outbound', 'note')),
    class                TEXT    NOT NULL
                         CHECK (class IN ('human', 'own-loop', 'bounce', 'out-of-office',
                                          'auto-generated', 'no-reply', 'note')),
    class_reason         TEXT,
    from_addr            TEXT,
    from_name            TEXT,
    sender               TEXT    NOT NULL DEFAULT '',
    reply_to             TEXT,
    to_addrs             TEXT    NOT NULL DEFAULT '',
    cc_addrs             TEXT    NOT NULL DEFAULT '',
    subject              TEXT    NOT NULL DEFAULT '',
    sent_at              INTEGER,
    stored_at            INTEGER NOT NULL,
    in_reply_to          TEXT    NOT NULL DEFAULT '',
    refs                 TEXT    NOT NULL DEFAULT '',
    body_text            TEXT    NOT NULL DEFAULT '',
    quoted_text          TEXT    NOT NULL DEFAULT '',
    signature_text       TEXT    NOT NULL DEFAULT '',
    body_source          TEXT    NOT NULL DEFAULT 'none',
    parse_error          TEXT,
    raw                  BLOB    NOT NULL,
    raw_size             INTEGER NOT NULL,
    raw_sha256           TEXT    NOT NULL,
    source               TEXT    NOT NULL,
    mailbox              TEXT,
    uidvalidity          INTEGER,
    uid                  INTEGER
);
CREATE INDEX messages_ticket ON messages (ticket_id, id);
CREATE UNIQUE INDEX messages_position ON messages (mailbox, uidvalidity, uid) WHERE uid IS NOT NULL;

CREATE TABLE attachments (
    id           INTEGER PRIMARY KEY,
    message_id   INTEGER NOT NULL REFERENCES messages(id),
    filename     TEXT,
    content_type TEXT    NOT NULL,
    size         INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    content_id   TEXT,
    inline       INTEGER NOT NULL DEFAULT 0,
    content      BLOB,
    note         TEXT
);
CREATE INDEX attachments_message ON attachments (message_id);

CREATE TABLE drafts (
    id               INTEGER PRIMARY KEY,
    ticket_id        INTEGER NOT NULL REFERENCES tickets(id),
    reply_to_message INTEGER REFERENCES messages(id),
    state            TEXT    NOT NULL
                     CHECK (state IN ('new', 'drafted', 'analysis_failed', 'approved', 'rejected',
                                      'queued', 'sent', 'failed')),
    body             TEXT    NOT NULL DEFAULT '',
    analysis_json    TEXT,
    error            TEXT,
    reject_reason    TEXT,
    created_at       INTEGER NOT NULL,
    updated_at       INTEGER NOT NULL
);
CREATE INDEX drafts_ticket ON drafts (ticket_id, id);
CREATE INDEX drafts_state ON drafts (state);

CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    ticket_id       INTEGER NOT NULL REFERENCES tickets(id),
    draft_id        INTEGER REFERENCES drafts(id),
    kind            TEXT    NOT NULL CHECK (kind IN ('reply', 'acknowledgment')),
    message_id      TEXT    NOT NULL UNIQUE,
    state           TEXT    NOT NULL CHECK (state IN ('queued', 'sending', 'sent', 'failed')),
    recipients      TEXT    NOT NULL,
    raw             BLOB    NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT,
    next_attempt_at INTEGER,
    created_at      INTEGER NOT NULL,
    sent_at         INTEGER
);
CREATE INDEX outbox_state ON outbox (state, next_attempt_at);

CREATE TABLE sync_state (
    mailbox      TEXT PRIMARY KEY,
    uidvalidity  INTEGER NOT NULL,
    last_uid     INTEGER NOT NULL,
    last_sync_at INTEGER,
    last_error   TEXT
) WITHOUT ROWID;

-- Append-only audit log: the triggers refuse UPDATE and DELETE.
CREATE TABLE events (
    id         INTEGER PRIMARY KEY,
    ticket_id  INTEGER NOT NULL REFERENCES tickets(id),
    at         INTEGER NOT NULL,
    kind       TEXT    NOT NULL,
    detail     TEXT    NOT NULL DEFAULT '',
    message_id INTEGER REFERENCES messages(id)
);
CREATE INDEX events_ticket ON events (ticket_id, id);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN
    SELECT RAISE(ABORT, 'events are append-only');
END;
