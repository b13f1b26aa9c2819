/**
 * Records a strict import has read, kept in the store's database until the
 * whole file has been read (migrations/sqlite/010_exchange.sql): so a file of
 * millions of lines is applied in one transaction without sitting in memory.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';

export class SqliteExchangeStaging {
  private readonly insert: Database.Statement<[string, number, string]>;
  private readonly page: Database.Statement<[string, number], { seq: number; records: string }>;
  private readonly drop: Database.Statement<[string]>;

  constructor(db: Database.Database) {
    // Only a running import stages: rows left at open are of an import a crash cut short.
    db.exec('DELETE FROM exchange_staging');
    this.insert = db.prepare('INSERT INTO exchange_staging (import_id, seq, records) VALUES (?, ?, ?)');
    this.page = db.prepare('SELECT seq, records FROM exchange_staging WHERE import_id = ? AND seq > ? ORDER BY seq LIMIT 1');
    this.drop = db.prepare('DELETE FROM exchange_staging WHERE import_id = ?');
  }

  /** A new import's id. */
  begin(): string {
    return randomBytes(12).toString('base64url');
  }

  /** Keeps one chunk (a JSON array) of the import. */
  stage(importId: string, seq: number, records: string): void {
    this.insert.run(importId, seq, records);
  }

  /** The import's chunks in order, each read by its own query (so this can run inside a transaction). */
  *chunks(importId: string): Generator<string> {
    let seq = -1;
    for (;;) {
      const row = this.page.get(importId, seq);
      if (!row) return;
      seq = row.seq;
      yield row.records;
    }
  }

  discard(importId: string): void {
    this.drop.run(importId);
  }
}
