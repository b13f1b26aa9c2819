-- The snapshot of the content indexes the service wrote last (src/match/index-snapshot.ts):
-- its token (written in the file too: a file whose token is not this one, from
-- another database or from before a restore, is not used) and the store's
-- position it holds, the last signal id and the last logged content removal.
CREATE TABLE index_snapshot (
  only_row       INTEGER PRIMARY KEY CHECK (only_row = 1),
  token          TEXT NOT NULL,
  last_signal_id INTEGER NOT NULL,
  last_removal   INTEGER NOT NULL,
  written_at     TEXT NOT NULL
);

-- Captured content's signals removed while a snapshot exists, with their hash,
-- so that loading from the snapshot takes them out again without reading the
-- whole store. Pruned up to the position of each snapshot written. Victims'
-- signals never enter it: the snapshot holds no case's hashes.
CREATE TABLE content_signal_removals (
  seq       INTEGER PRIMARY KEY AUTOINCREMENT,
  signal_id INTEGER NOT NULL,
  type      TEXT NOT NULL,
  hash      BLOB NOT NULL
);

-- A trigger, so that every way content goes (an item, a bank, an import's
-- replacement, a cascade) is logged.
CREATE TRIGGER content_signal_removed AFTER DELETE ON signals
  WHEN OLD.content_item_id IS NOT NULL AND EXISTS (SELECT 1 FROM index_snapshot)
BEGIN
  INSERT INTO content_signal_removals (signal_id, type, hash) VALUES (OLD.id, OLD.type, OLD.hash);
END;
