-- 003: how far `after_ingest` (\Seen, move) has been applied on the server. Flags are set only
-- after the store commits; a crash in between leaves applied_uid < last_uid, and the next sync
-- applies the rest before fetching anything new.
ALTER TABLE sync_state ADD COLUMN applied_uid INTEGER NOT NULL DEFAULT 0;
