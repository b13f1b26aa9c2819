-- Webhooks of takedown teams, and every delivery to them with each attempt.
-- The secret is kept as given out: the service signs each delivery with it,
-- so it cannot be stored as a one-way hash the way API keys are.

CREATE TABLE webhooks (
  id         INTEGER PRIMARY KEY AUTOINCREMENT,
  url        TEXT NOT NULL,
  -- JSON array of event names.
  events     TEXT NOT NULL,
  secret     TEXT NOT NULL,
  -- The API key that created it: it (and admins) see and delete it.
  key_id     INTEGER NOT NULL,
  created_at TEXT NOT NULL
);

-- One event for one webhook: its JSON body as sent (ids and counts only, see
-- docs/webhooks.md), pending until delivered or out of attempts.
CREATE TABLE webhook_deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  webhook_id      INTEGER NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event           TEXT NOT NULL,
  body            TEXT NOT NULL,
  state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT,
  created_at      TEXT NOT NULL
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_webhook ON webhook_deliveries (webhook_id, id);

CREATE TABLE webhook_attempts (
  delivery_id INTEGER NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
  attempt     INTEGER NOT NULL,
  at          TEXT NOT NULL,
  -- The receiver's HTTP status, or null when no answer came (then `error` says why).
  status_code INTEGER,
  error       TEXT,
  PRIMARY KEY (delivery_id, attempt)
);
