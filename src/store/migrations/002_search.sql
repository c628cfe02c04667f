-- 002: full-text search over subject, sender and cleaned text (FTS5 with external content on
-- messages), rebuilt from the rows already stored.
--
-- New rows are not indexed by a trigger writing into FTS5 directly: inside a transaction every
-- later statement that opens a statement journal makes FTS5 flush its in-memory index to disk
-- (xSavepoint), which made a batch import three times slower. The insert trigger only queues
-- the row in fts_pending; search::flush indexes the queue in one statement before commit.

CREATE VIRTUAL TABLE messages_fts USING fts5(
    subject, sender, body_text,
    content = 'messages', content_rowid = 'id',
    tokenize = 'unicode61 remove_diacritics 2'
);

CREATE TABLE fts_pending (
    message_id INTEGER PRIMARY KEY
);

CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages
BEGIN
    INSERT INTO fts_pending (message_id) VALUES (new.id);
END;

-- A row still queued is not in the index yet: only the queue entry goes.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, sender, body_text)
    SELECT 'delete', old.id, old.subject, old.sender, old.body_text
    WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE message_id = old.id);
    DELETE FROM fts_pending WHERE message_id = old.id;
END;

CREATE TRIGGER messages_fts_update AFTER UPDATE OF subject, sender, body_text ON messages
BEGIN
    INSERT INTO messages_fts (messages_fts, rowid, subject, sender, body_text)
    SELECT 'delete', old.id, old.subject, old.sender, old.body_text
    WHERE NOT EXISTS (SELECT 1 FROM fts_pending WHERE message_id = old.id);
    INSERT OR IGNORE INTO fts_pending (message_id) VALUES (new.id);
END;

INSERT INTO messages_fts (messages_fts) VALUES ('rebuild');
