-- The audit log becomes a hash chain: each entry carries the SHA-256 of the
-- one before (prev_hash) and its own (hash), so an altered, deleted or
-- reordered entry breaks every hash after it (src/store/audit-chain.ts).
--
-- What ties an entry to a victim's case (case_id, details) is covered by the
-- hash only through a commitment: SHA-256 of those fields with a random
-- per-entry salt. A withdrawal erases the fields and the salt; the commitment
-- left behind says nothing (it cannot be tested against a guess without the
-- salt), and the chain still verifies.
--
-- SQLite has no SHA-256 of its own: existing rows are chained by the store
-- when it first opens the log after this migration (SqliteAuditLog), in id
-- order, before any new entry is written.

ALTER TABLE audit_log ADD COLUMN case_id INTEGER;
ALTER TABLE audit_log ADD COLUMN details TEXT CHECK (details IS NULL OR json_valid(details));
ALTER TABLE audit_log ADD COLUMN salt TEXT;
ALTER TABLE audit_log ADD COLUMN commitment TEXT;
ALTER TABLE audit_log ADD COLUMN prev_hash TEXT;
ALTER TABLE audit_log ADD COLUMN hash TEXT;

CREATE INDEX audit_log_by_case ON audit_log (case_id) WHERE case_id IS NOT NULL;
CREATE INDEX audit_log_by_target ON audit_log (target) WHERE target IS NOT NULL;
CREATE INDEX audit_log_by_actor ON audit_log (actor, id);

-- Public keys that have signed evidence packages (Ed25519, SPKI PEM), so a
-- package signed before a rotation can still be checked after it. The key id
-- is the SHA-256 of the key's DER encoding (what `openssl pkey -pubin
-- -outform DER | sha256sum` prints). The private key never enters the
-- database: it lives in a file under DATA_DIR (mode 0600) or where the
-- configuration says.
CREATE TABLE signing_keys (
  key_id     TEXT PRIMARY KEY,
  public_key TEXT NOT NULL,
  created_at TEXT NOT NULL,
  -- Set when another key took over; the key still verifies what it signed.
  retired_at TEXT
);
