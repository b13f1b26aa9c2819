/** API keys for the command line: the same database the service uses, opened without the service. */
import type { Config } from '../config.js';
import { type ApiKey, type KeyRole, SqliteApiKeyStore } from '../store/api-keys.js';
import type { AuditTrail } from './audit-trail.js';
import { withStore } from './offline.js';
import { SigningKeys } from './signing.js';

export { KEY_ROLES, type KeyRole } from '../store/api-keys.js';

/** Key changes made from the command line, each an audit entry by `cli`. */
export class KeyAdmin {
  constructor(
    private readonly keys: SqliteApiKeyStore,
    private readonly trail: AuditTrail,
  ) {}

  create(input: { name: string; role: KeyRole }): { key: ApiKey; secret: string } {
    const created = this.keys.create(input);
    this.trail.record('key.created', { target: `key:${created.key.id}` });
    return created;
  }

  list(): ApiKey[] {
    return this.keys.list();
  }

  revoke(id: number): ApiKey {
    const key = this.keys.revoke(id);
    this.trail.record('key.revoked', { target: `key:${id}` });
    return key;
  }
}

/** Runs `work` with the key store of the database under DATA_DIR, closing it after. */
export async function withKeyStore<T>(config: Config, work: (keys: KeyAdmin) => T | Promise<T>): Promise<T> {
  return withStore(config, (store, trail) => work(new KeyAdmin(new SqliteApiKeyStore(store.db), trail)));
}

/** Runs `work` with the evidence signing keys of the service under DATA_DIR (creating the first if there is none). */
export async function withSigningKeys<T>(config: Config, work: (signing: SigningKeys) => T | Promise<T>): Promise<T> {
  return withStore(config, (store, trail) => work(new SigningKeys(config, store.db, trail)));
}
