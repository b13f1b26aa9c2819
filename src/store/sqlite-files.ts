import type Database from 'better-sqlite3';

/**
 * Copies every committed page into the database file and empties the
 * write-ahead log, so that rows deleted for privacy (zeroed in the file by
 * secure_delete) cannot be read back from older page images in the log. A
 * reader on another connection can hold the log back; it is then emptied by
 * a later checkpoint.
 */
export function truncateWal(db: Database.Database): void {
  db.pragma('wal_checkpoint(TRUNCATE)');
}
