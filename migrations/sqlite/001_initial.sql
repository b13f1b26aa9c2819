-- Banks, captured content, victim cases and the hashes (signals) of both.
-- No image bytes are ever stored: only hashes and what people tell us.
-- Times are ISO-8601 UTC text ('2026-01-31T12:00:00.000Z'), which sorts correctly.

CREATE TABLE banks (
  id          INTEGER PRIMARY KEY,
  name        TEXT NOT NULL UNIQUE,
  description TEXT NOT NULL DEFAULT '',
  -- Per-signal-type match thresholds for this bank, e.g. {"pdq": 24}; NULL = type defaults.
  thresholds  TEXT CHECK (thresholds IS NULL OR json_valid(thresholds)),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

CREATE TABLE content_items (
  id          INTEGER PRIMARY KEY,
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
CREATE INDEX content_items_by_bank ON content_items (bank_id);

CREATE TABLE victim_cases (
  id          INTEGER PRIMARY KEY,
  case_number TEXT NOT NULL UNIQUE,
  pin_hash    TEXT NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('open', 'closed')),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

-- A signal belongs to exactly one content item or one victim case.
-- Deliberately no index on type or hash: random 32-byte keys would slow bulk
-- insert about tenfold, and lookups by hash are served by the in-memory index.
CREATE TABLE signals (
  id              INTEGER PRIMARY KEY,
  content_item_id INTEGER REFERENCES content_items (id) ON DELETE CASCADE,
  victim_case_id  INTEGER REFERENCES victim_cases (id) ON DELETE CASCADE,
  type            TEXT NOT NULL,
  hash            BLOB NOT NULL CHECK (length(hash) BETWEEN 1 AND 64),
  quality         INTEGER CHECK (quality IS NULL OR quality BETWEEN 0 AND 100),
  CHECK ((content_item_id IS NULL) <> (victim_case_id IS NULL))
);
-- Both serve the cascades; new rows append at the end of the first one.
CREATE INDEX signals_by_content_item ON signals (content_item_id);
CREATE INDEX signals_by_victim_case ON signals (victim_case_id) WHERE victim_case_id IS NOT NULL;
