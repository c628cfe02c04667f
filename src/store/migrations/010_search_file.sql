-- 010: the search index moves to a file of its own beside the store (search::path_for), which
-- holds nothing but what can be rebuilt from `messages`.
--
-- SQLite lets one writer at a time into a file. With the index inside the store, indexing a
-- sync's batch (a quarter of the time it took to store it) held the store's write lock; in
-- its own file it is written by a thread of its own while the next batch is being stored.
--
-- The store keeps the queue of what changed: every new, changed or deleted message adds a row
-- (messages::insert, and the triggers below). The search file records the last queue entry it
-- applied; applying one makes the index match the message as it is then, so applying it again
-- does no harm, and the two files need not commit together. Queue rows the search file has
-- applied are deleted by the store's next write (search::forget_applied).

DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TABLE messages_fts;
DROP TABLE fts_pending;

CREATE TABLE search_queue (
    seq        INTEGER PRIMARY KEY,
    message_id INTEGER NOT NULL
);

CREATE TRIGGER search_queue_delete AFTER DELETE ON messages
BEGIN
    INSERT INTO search_queue (message_id) VALUES (old.id);
END;

CREATE TRIGGER search_queue_update AFTER UPDATE OF subject, sender, body_text ON messages
BEGIN
    INSERT INTO search_queue (message_id) VALUES (new.id);
END;
