-- Rows written before the chain existed get their hashes when the store opens
-- the log; this partial index lets that check at every start skip the
-- chained rows instead of scanning the whole log.
CREATE INDEX audit_log_unchained ON audit_log (id) WHERE hash IS NULL;
