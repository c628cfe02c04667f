-- 002: full-text search over subject, sender and cleaned text (FTS5, external content on
-- messages, kept in step by triggers as meli does). Rebuilt from the rows already stored.

CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, sender, body_text,
    content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO messages_fts (rowid, subject, sender, body_text)
    VALUES (new.id, new.subject, new.sender, new.body_text);
END;

CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, sender, body_text)
    VALUES ('delete', old.id, old.subject, old.sender, old.body_text);
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, sender, body_text ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, sender, body_text)
    VALUES ('delete', old.id, old.subject, old.sender, old.body_text);
    INSERT INTO messages_fts (rowid, subject, sender, body_text)
    VALUES (new.id, new.subject, new.sender, new.body_text);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
