-- The language a victim registered her case in (the victim page's language,
-- or `language` given to POST /v1/cases): her evidence package's summary is
-- written in it. NULL for cases registered before it was kept, and when none
-- was given (English). It is a column of the case's own row, so a withdrawal
-- deletes it with the case.
ALTER TABLE victim_cases ADD COLUMN language TEXT CHECK (language IS NULL OR length(language) BETWEEN 2 AND 35);
