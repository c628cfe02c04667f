-- 004: messages::insert queues a new row for search itself. A trigger on INSERT made every
-- message insert a multi-write statement, which SQLite guards with a statement journal: a
-- copy of each touched 16 KiB page, 5% of an import. Updates and deletes keep their triggers.
DROP TRIGGER messages_fts_insert;
