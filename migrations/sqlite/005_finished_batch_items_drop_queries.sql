-- A batch item's query hashes are needed only until it is matched: finished
-- items now drop theirs when they finish, and those finished before this
-- migration drop them here.
UPDATE batch_items SET query = NULL WHERE state <> 'pending';
