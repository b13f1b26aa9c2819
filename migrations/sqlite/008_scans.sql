-- Scheduled scans of captured content against victims' cases, their runs,
-- and the matches they found with their takedown status (issue 14).
-- Nothing here names a case but by id, with ON DELETE CASCADE: a withdrawn
-- case takes its matches, their history and its place in scan lists with it.

CREATE TABLE scans (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  name            TEXT NOT NULL UNIQUE,
  cron            TEXT NOT NULL,
  time_zone       TEXT NOT NULL,
  -- Bank ids as a JSON array; NULL = every bank.
  banks           TEXT CHECK (banks IS NULL OR json_valid(banks)),
  -- 1: every case; 0: the cases listed in scan_cases.
  all_cases       INTEGER NOT NULL CHECK (all_cases IN (0, 1)),
  -- Query thresholds ({"threshold": 31} or {"thresholds": {...}}), as the query module reads them.
  thresholds      TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(thresholds)),
  enabled         INTEGER NOT NULL DEFAULT 1 CHECK (enabled IN (0, 1)),
  -- Up to where the last successful run covered: content and case ids (AUTOINCREMENT, so "since" is "above").
  done_content_id INTEGER NOT NULL DEFAULT 0,
  done_case_id    INTEGER NOT NULL DEFAULT 0,
  last_success_at TEXT,
  -- The schedule's next slot as last computed; a slot passed while the service was down runs once at start.
  next_run_at     TEXT,
  created_by      TEXT NOT NULL,
  created_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL
);

CREATE TABLE scan_cases (
  scan_id INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  case_id INTEGER NOT NULL REFERENCES victim_cases (id) ON DELETE CASCADE,
  PRIMARY KEY (scan_id, case_id)
) WITHOUT ROWID;
CREATE INDEX scan_cases_by_case ON scan_cases (case_id);

CREATE TABLE scan_runs (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  scan_id         INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  trigger         TEXT NOT NULL CHECK (trigger IN ('manual', 'schedule', 'catch-up')),
  status          TEXT NOT NULL CHECK (status IN ('running', 'done', 'failed')),
  -- The run's range, fixed when it starts: content ids in (content_from, content_to] against
  -- cases up to case_from; cases in (case_from, case_to] against all content.
  content_from    INTEGER NOT NULL,
  content_to      INTEGER NOT NULL,
  case_from       INTEGER NOT NULL,
  case_to         INTEGER NOT NULL,
  -- The checkpoint: the last content id and case id done, committed with their matches.
  content_cursor  INTEGER NOT NULL,
  case_cursor     INTEGER NOT NULL,
  items_total     INTEGER NOT NULL,
  items_done      INTEGER NOT NULL DEFAULT 0,
  cases_total     INTEGER NOT NULL,
  cases_done      INTEGER NOT NULL DEFAULT 0,
  new_matches     INTEGER NOT NULL DEFAULT 0,
  error           TEXT,
  started_by      TEXT NOT NULL,
  started_at      TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  finished_at     TEXT
);
CREATE INDEX scan_runs_by_scan ON scan_runs (scan_id, id);
-- At most one unfinished run per scan: it is resumed, never started twice.
CREATE UNIQUE INDEX scan_runs_one_running ON scan_runs (scan_id) WHERE status = 'running';

-- Who runs a scan now. A holder that stops renewing (killed, or its host gone) is taken over.
CREATE TABLE scan_locks (
  scan_id      INTEGER PRIMARY KEY REFERENCES scans (id) ON DELETE CASCADE,
  run_id       INTEGER NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
  holder       TEXT NOT NULL,
  heartbeat_at TEXT NOT NULL
);

CREATE TABLE scan_matches (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  scan_id         INTEGER NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  run_id          INTEGER NOT NULL REFERENCES scan_runs (id) ON DELETE CASCADE,
  case_id         INTEGER NOT NULL REFERENCES victim_cases (id) ON DELETE CASCADE,
  content_id      INTEGER NOT NULL REFERENCES content_items (id) ON DELETE CASCADE,
  signal_type     TEXT NOT NULL,
  distance        INTEGER NOT NULL,
  via             TEXT NOT NULL CHECK (via IN ('whole', 'region')),
  status          TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'reported', 'removed', 'dismissed')),
  reported_where  TEXT,
  reference       TEXT,
  dismiss_reason  TEXT,
  found_at        TEXT NOT NULL,
  updated_at      TEXT NOT NULL,
  UNIQUE (scan_id, case_id, content_id)
);
CREATE INDEX scan_matches_by_run ON scan_matches (run_id, id);
CREATE INDEX scan_matches_by_case ON scan_matches (case_id);
CREATE INDEX scan_matches_by_content ON scan_matches (content_id);
CREATE INDEX scan_matches_by_status ON scan_matches (status, id);

CREATE TABLE match_events (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  match_id    INTEGER NOT NULL REFERENCES scan_matches (id) ON DELETE CASCADE,
  actor       TEXT NOT NULL,
  from_status TEXT,
  to_status   TEXT NOT NULL,
  details     TEXT NOT NULL DEFAULT '{}' CHECK (json_valid(details)),
  at          TEXT NOT NULL
);
CREATE INDEX match_events_by_match ON match_events (match_id, id);
