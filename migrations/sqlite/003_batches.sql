-- NGO batches: a list of queries matched in the background, with per-item
-- results kept until the batch expires. Items hold only hashes (images are
-- hashed at intake and their bytes are never written anywhere) and the ids of
-- the content they matched; provenance is looked up when results are read, so
-- content deleted since is not shown.

CREATE TABLE batches (
  -- Random and unguessable (128 bits); a batch is visible only to its key and admins.
  id          TEXT PRIMARY KEY,
  -- The key that created the batch. No foreign key: keys are revoked, never deleted.
  key_id      INTEGER NOT NULL,
  status      TEXT NOT NULL CHECK (status IN ('queued', 'running', 'done', 'expired')),
  -- Match options for every item: {"thresholds": {...}, "bankIds": [...]}.
  options     TEXT NOT NULL CHECK (json_valid(options)),
  total       INTEGER NOT NULL CHECK (total >= 0),
  done        INTEGER NOT NULL DEFAULT 0 CHECK (done BETWEEN 0 AND total),
  created_at  TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  expires_at  TEXT NOT NULL
);
CREATE INDEX batches_by_expiry ON batches (expires_at);
CREATE INDEX batches_unfinished ON batches (created_at) WHERE status IN ('queued', 'running');

CREATE TABLE batch_items (
  batch_id      TEXT NOT NULL REFERENCES batches (id) ON DELETE CASCADE,
  position      INTEGER NOT NULL,
  state         TEXT NOT NULL CHECK (state IN ('pending', 'done', 'failed')),
  -- The hashes to match: [{"type": "pdq", "hash": "<hex>"}, ...]; NULL once an item failed at intake.
  query         TEXT CHECK (query IS NULL OR json_valid(query)),
  -- [{"contentId", "bankId", "signalType", "distance"}, ...] once done.
  matches       TEXT CHECK (matches IS NULL OR json_valid(matches)),
  error_code    TEXT,
  error_message TEXT,
  PRIMARY KEY (batch_id, position)
) WITHOUT ROWID;
