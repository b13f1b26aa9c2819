-- migrate: foreign_keys off
-- Ids of banks, content items, victim cases and signals are never given out
-- twice (AUTOINCREMENT). Without it SQLite hands the id of a deleted newest row
-- to the next insert, so a search hit, a batch result or any client holding an
-- id from before the delete could name someone else's item: a victim told her
-- photo is in a group it is not in, a takedown team acting on the wrong message.
--
-- SQLite cannot add AUTOINCREMENT to a table, so each is rebuilt (the 12-step
-- procedure of https://www.sqlite.org/lang_altertable.html): the runner turns
-- foreign key enforcement off around this migration, so dropping the old
-- tables cascades nothing, and runs PRAGMA foreign_key_check before committing.

CREATE TABLE banks_rebuilt (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  -- Per-signal-type match thresholds for this bank, e.g. {"pdq": 24}; NULL = type defaults.
  thresholds  TEXT CHECK (thresholds IS NULL OR json_valid(thresholds)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
INSERT INTO banks_rebuilt (id, name, description, thresholds, created_at, updated_at)
  SELECT id, name, description, thresholds, created_at, updated_at FROM banks;

CREATE TABLE content_items_rebuilt (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  bank_id     INTEGER NOT NULL REFERENCES banks (id) ON DELETE CASCADE,
  platform    TEXT NOT NULL,
  channel     TEXT,          -- group or channel name
  message_ref TEXT,          -- message URL or id
  captured_at TEXT,
  metadata    TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(metadata)),
  note        TEXT,
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
INSERT INTO content_items_rebuilt (id, bank_id, platform, channel, message_ref, captured_at, metadata, note, created_at, updated_at)
  SELECT id, bank_id, platform, channel, message_ref, captured_at, metadata, note, created_at, updated_at FROM content_items;

CREATE TABLE victim_cases_rebuilt (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  case_number TEXT NOT NULL UNIQUE,
  pin_hash    TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);
INSERT INTO victim_cases_rebuilt (id, case_number, pin_hash, status, created_at, updated_at)
  SELECT id, case_number, pin_hash, status, created_at, updated_at FROM victim_cases;

CREATE TABLE signals_rebuilt (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  content_item_id INTEGER REFERENCES content_items (id) ON DELETE CASCADE,
  victim_case_id  INTEGER REFERENCES victim_cases (id) ON DELETE CASCADE,
  type            TEXT NOT NULL,
  hash            BLOB NOT NULL CHECK (length(hash) BETWEEN 1 AND 64),
  quality         INTEGER CHECK (quality IS NULL OR quality BETWEEN 0 AND 100),
  CHECK ((content_item_id IS NULL) <> (victim_case_id IS NULL))
);
INSERT INTO signals_rebuilt (id, content_item_id, victim_case_id, type, hash, quality)
  SELECT id, content_item_id, victim_case_id, type, hash, quality FROM signals;

DROP TABLE signals;
DROP TABLE content_items;
DROP TABLE victim_cases;
DROP TABLE banks;
ALTER TABLE banks_rebuilt RENAME TO banks;
ALTER TABLE content_items_rebuilt RENAME TO content_items;
ALTER TABLE victim_cases_rebuilt RENAME TO victim_cases;
ALTER TABLE signals_rebuilt RENAME TO signals;

CREATE INDEX content_items_by_bank ON content_items (bank_id);
-- Both serve the cascades; new rows append at the end of the first one.
CREATE INDEX signals_by_content_item ON signals (content_item_id);
CREATE INDEX signals_by_victim_case ON signals (victim_case_id) WHERE victim_case_id IS NOT NULL;

-- Ids deleted before this migration may lie above the highest one left, and
-- stored batch results and options still name such content and bank ids:
-- counting goes on above those too.
DELETE FROM sqlite_sequence WHERE name IN ('content_items', 'banks');
INSERT INTO sqlite_sequence (name, seq) VALUES
  ('content_items', max(
    coalesce((SELECT max(id) FROM content_items), 0),
    coalesce((SELECT max(json_extract(m.value, '$.contentId')) FROM batch_items b, json_each(b.matches) m WHERE b.matches IS NOT NULL), 0))),
  ('banks', max(
    coalesce((SELECT max(id) FROM banks), 0),
    coalesce((SELECT max(json_extract(m.value, '$.bankId')) FROM batch_items b, json_each(b.matches) m WHERE b.matches IS NOT NULL), 0),
    coalesce((SELECT max(o.value) FROM batches, json_each(batches.options, '$.bankIds') o), 0)));
