/**
 * API keys: `nm_` + 43 base64url characters (256 random bits), shown once at
 * creation and stored only as their SHA-256.
 */
import { createHash, randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export const KEY_ROLES = ['ngo', 'takedown', 'admin'] as const;
export type KeyRole = (typeof KEY_ROLES)[number];

export interface ApiKey {
  id: number;
  name: string;
  role: KeyRole;
  keyPrefix: string;
  createdAt: string;
  revokedAt: string | null;
  lastUsedAt: string | null;
}

export interface ApiKeyStore {
  /** Creates a key; the secret is returned here and never again. */
  create(input: { name: string; role: KeyRole }): { key: ApiKey; secret: string };
  /** The key for a presented secret, if it exists (revoked keys included, so callers can say so). */
  findBySecret(secret: string): ApiKey | undefined;
  list(): ApiKey[];
  revoke(id: number): ApiKey;
  /** Records use of a key; at most once a minute per key, as each write is synced to disk. */
  touch(id: number, at: string): void;
}

const SECRET_PREFIX = 'nm_';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

type KeyRow = { id: number; name: string; role: KeyRole; key_prefix: string; created_at: string; revoked_at: string | null; last_used_at: string | null };

const fromRow = (r: KeyRow): ApiKey => ({
  id: r.id,
  name: r.name,
  role: r.role,
  keyPrefix: r.key_prefix,
  createdAt: r.created_at,
  revokedAt: r.revoked_at,
  lastUsedAt: r.last_used_at,
});

const TOUCH_INTERVAL_MS = 60_000;

export class SqliteApiKeyStore implements ApiKeyStore {
  private readonly statements;
  private readonly lastTouched = new Map<number, number>();

  constructor(db: Database.Database) {
    this.statements = {
      insert: db.prepare('INSERT INTO api_keys (name, role, key_hash, key_prefix, created_at) VALUES (?, ?, ?, ?, ?)'),
      byId: db.prepare<[number], KeyRow>('SELECT * FROM api_keys WHERE id = ?'),
      byHash: db.prepare<[string], KeyRow>('SELECT * FROM api_keys WHERE key_hash = ?'),
      all: db.prepare<[], KeyRow>('SELECT * FROM api_keys ORDER BY id'),
      revoke: db.prepare('UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL'),
      touch: db.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?'),
    };
  }

  create({ name, role }: { name: string; role: KeyRole }): { key: ApiKey; secret: string } {
    if (typeof name !== 'string' || name.trim() === '' || name.length > 200) throw new StoreError('INVALID_INPUT', 'key name must be 1 to 200 characters');
    if (!KEY_ROLES.includes(role)) throw new StoreError('INVALID_INPUT', `role must be one of ${KEY_ROLES.join(', ')}`);
    const secret = SECRET_PREFIX + randomBytes(32).toString('base64url');
    const { lastInsertRowid } = this.statements.insert.run(name, role, hashSecret(secret), secret.slice(0, 10), new Date().toISOString());
    return { key: this.get(Number(lastInsertRowid)), secret };
  }

  private get(id: number): ApiKey {
    const row = this.statements.byId.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `no API key with id ${id}`);
    return fromRow(row);
  }

  findBySecret(secret: string): ApiKey | undefined {
    const row = this.statements.byHash.get(hashSecret(secret));
    return row && fromRow(row);
  }

  list(): ApiKey[] {
    return this.statements.all.all().map(fromRow);
  }

  revoke(id: number): ApiKey {
    if (!Number.isSafeInteger(id) || id <= 0) throw new StoreError('INVALID_INPUT', 'key id must be a positive integer');
    this.get(id);
    this.statements.revoke.run(new Date().toISOString(), id);
    return this.get(id);
  }

  touch(id: number, at: string): void {
    const last = this.lastTouched.get(id);
    const now = Date.parse(at);
    if (last !== undefined && now - last < TOUCH_INTERVAL_MS) return;
    this.lastTouched.set(id, now);
    this.statements.touch.run(at, id);
  }
}
