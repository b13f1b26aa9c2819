/** API keys for the command line: the same database the service uses, opened without the service. */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../config.js';
import { SqliteApiKeyStore } from '../store/api-keys.js';
import { SqliteStore } from '../store/sqlite-store.js';
import { DATABASE_FILE } from './services.js';

export { KEY_ROLES, type KeyRole } from '../store/api-keys.js';

/** Runs `work` with the key store of the database under DATA_DIR, closing it after. */
export async function withKeyStore<T>(config: Config, work: (keys: SqliteApiKeyStore) => T | Promise<T>): Promise<T> {
  mkdirSync(config.DATA_DIR, { recursive: true });
  const store = new SqliteStore(join(config.DATA_DIR, DATABASE_FILE));
  try {
    return await work(new SqliteApiKeyStore(store.db));
  } finally {
    store.close();
  }
}
