-- 005: the review screen lists tickets by latest activity; this index serves that order (and a
-- page at any offset) without sorting 100,000 rows for every page.
CREATE INDEX tickets_activity ON tickets (updated_at DESC, id DESC);
