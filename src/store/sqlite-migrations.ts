import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

/** `migrations/sqlite/` at the package root; the same relative path from src/store and dist/store. */
export const SQLITE_MIGRATIONS_DIR = fileURLToPath(new URL('../../migrations/sqlite/', import.meta.url));

export interface Migration {
  version: number;
  name: string;
  sql: string;
  checksum: string;
}

const FILE_NAME = /^(\d{3})_([a-z0-9_]+)\.sql$/;

export function readMigrations(dir = SQLITE_MIGRATIONS_DIR): Migration[] {
  const migrations = readdirSync(dir)
    .map((file) => FILE_NAME.exec(file))
    .filter((m): m is RegExpExecArray => m !== null)
    .map(([file, version, name]) => {
      const sql = readFileSync(`${dir}/${file}`, 'utf8');
      return { version: Number(version), name, sql, checksum: createHash('sha256').update(sql).digest('hex') };
    })
    .sort((a, b) => a.version - b.version);
  // Numbers are handed out to pieces of work in parallel, so one may land before a lower one: gaps are allowed, repeats are not.
  migrations.forEach((m, i) => {
    if (i > 0 && m.version === migrations[i - 1].version) throw new StoreError('MIGRATION_MISMATCH', `two migrations are numbered ${m.version}`);
  });
  return migrations;
}

/**
 * Applies the migrations the database has not seen, each in its own IMMEDIATE
 * transaction together with its schema_migrations row, so a crash leaves
 * either the whole migration or none of it, and two processes starting at
 * once cannot both apply one. Refuses to run against a database migrated by
 * newer code or whose applied migrations were edited since.
 *
 * So a migration file must not BEGIN or COMMIT itself. Nor can it switch
 * foreign_keys (a no-op inside a transaction): a migration that rebuilds
 * tables others refer to starts with the line `-- migrate: foreign_keys off`,
 * and the runner turns enforcement off around it (dropping the old table would
 * otherwise cascade its deletes) and checks every reference before commit.
 */
export function migrate(db: Database.Database, migrations = readMigrations()): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
    version    INTEGER PRIMARY KEY,
    name       TEXT NOT NULL,
    checksum   TEXT NOT NULL,
    applied_at TEXT NOT NULL
  )`);
  const applied = () =>
    db.prepare('SELECT version, name, checksum FROM schema_migrations ORDER BY version').all() as Array<{
      version: number;
      name: string;
      checksum: string;
    }>;
  for (const row of applied()) {
    const known = migrations.find((m) => m.version === row.version);
    if (!known) {
      throw new StoreError('MIGRATION_MISMATCH', `database has migration ${row.version} (${row.name}), which this code does not know: it was migrated by a newer version`);
    }
    if (known.checksum !== row.checksum) {
      throw new StoreError('MIGRATION_MISMATCH', `migration ${row.version} (${row.name}) changed after it was applied; add a new migration instead of editing one`);
    }
  }
  const record = db.prepare('INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)');
  for (const migration of migrations) {
    const withoutForeignKeys = migration.sql.startsWith(FOREIGN_KEYS_OFF);
    const enforced = db.pragma('foreign_keys', { simple: true });
    if (withoutForeignKeys) db.pragma('foreign_keys = OFF');
    try {
      db.transaction(() => {
        // Re-read inside the write lock: another process may have just applied it.
        if (db.prepare('SELECT 1 FROM schema_migrations WHERE version = ?').get(migration.version)) return;
        db.exec(migration.sql);
        if (withoutForeignKeys) {
          const broken = db.pragma('foreign_key_check') as { table: string; parent: string }[];
          if (broken.length > 0) {
            throw new StoreError('MIGRATION_MISMATCH', `migration ${migration.version} (${migration.name}) left ${broken.length} rows of ${broken[0].table} referring to missing ${broken[0].parent} rows`);
          }
        }
        record.run(migration.version, migration.name, migration.checksum, new Date().toISOString());
      }).immediate();
    } finally {
      if (withoutForeignKeys) db.pragma(`foreign_keys = ${enforced ? 'ON' : 'OFF'}`);
    }
  }
}

/** First line of a migration that must run with foreign key enforcement off (see `migrate`). */
const FOREIGN_KEYS_OFF = '-- migrate: foreign_keys off\n';
