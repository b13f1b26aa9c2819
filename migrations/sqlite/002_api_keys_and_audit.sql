-- API keys (stored as SHA-256 of the key: keys are 256-bit random, so a slow
-- hash adds nothing) and the audit log of every lookup and change.

CREATE TABLE api_keys (
  id           INTEGER PRIMARY KEY,
  name         TEXT NOT NULL,
  role         TEXT NOT NULL CHECK (role IN ('ngo', 'takedown', 'admin')),
  key_hash     TEXT NOT NULL UNIQUE,
  -- First characters of the key, so people can tell their keys apart.
  key_prefix   TEXT NOT NULL,
  created_at   TEXT NOT NULL,
  revoked_at   TEXT,
  last_used_at TEXT
);

-- Who did what, when, and how many matches it found. Never a query hash, an
-- image, a PIN or a client address: anonymous clients appear as a keyed hash.
CREATE TABLE audit_log (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL,
  actor       TEXT NOT NULL,
  action      TEXT NOT NULL,
  target      TEXT,
  status      INTEGER NOT NULL,
  match_count INTEGER
);
CREATE INDEX audit_log_by_time ON audit_log (at);
