/** The database for the command line: the one the service uses, opened without the service (no indexes, no server). */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { SqliteAuditLog } from '../store/audit-log.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { AuditTrail } from './audit-trail.js';
import { DATABASE_FILE } from './services.js';

/** Runs `work` with the database under DATA_DIR and its audit trail (entries by `cli`), closing it after. */
export async function withStore<T>(config: Config, work: (store: SqliteStore, trail: AuditTrail) => T | Promise<T>): Promise<T> {
  mkdirSync(config.DATA_DIR, { recursive: true });
  const store = new SqliteStore(join(config.DATA_DIR, DATABASE_FILE));
  const log = new SqliteAuditLog(store.db);
  try {
    return await work(store, new AuditTrail(log, 'cli'));
  } finally {
    log.flush();
    store.close();
  }
}

/** Runs `work` with the audit trail of the database under DATA_DIR. */
export function withAuditTrail<T>(config: Config, work: (trail: AuditTrail) => T | Promise<T>): Promise<T> {
  return withStore(config, (_store, trail) => work(trail));
}
