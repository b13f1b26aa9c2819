/**
 * Ids are never given out twice: a search hit, a batch result or a client
 * holding the id of something deleted must not come to name someone else's
 * item. Covers the store on a new database and the migration (004) that
 * rebuilt older databases' tables with AUTOINCREMENT.
 */
import { randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { hashPin } from '../src/store/pin.js';
import { SQLITE_MIGRATIONS_DIR, migrate, readMigrations } from '../src/store/sqlite-migrations.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-store-ids-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

const pdq = () => new Uint8Array(randomBytes(32));
const provenance = (channel: string) => ({ platform: 'telegram', channel, messageRef: `https://t.me/c/1/${channel}`, capturedAt: '2026-01-31T12:00:00Z' });

t.test('deleting the newest bank, content item or case never frees its ids for the next one', async (t) => {
  const store = new SqliteStore(join(root, 'fresh.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'a' });
  const first = store.addContent(bank.id, [{ provenance: provenance('A'), signals: [{ type: 'pdq', hash: pdq() }] }]);
  store.deleteContent(first.contentIds[0]);
  const second = store.addContent(bank.id, [{ provenance: provenance('B'), signals: [{ type: 'pdq', hash: pdq() }] }]);
  t.ok(second.contentIds[0] > first.contentIds[0], 'a new content id');
  t.ok(second.signalIds[0] > first.signalIds[0], 'a new signal id');
  t.same(store.contentSignalOwners([first.signalIds[0]]), [], "the deleted item's signal names no one");

  const newest = store.createBank({ name: 'b' });
  store.deleteBank(newest.id);
  t.ok(store.createBank({ name: 'c' }).id > newest.id, 'a new bank id');

  const pinHash = await hashPin('123456');
  const caseSignal = (id: number) => store.listSignals({ kind: 'case', caseId: id })[0].id;
  const firstCase = store.createCase({ caseNumber: 'C-1', pinHash, signals: [{ type: 'pdq', hash: pdq() }] });
  const firstCaseSignal = caseSignal(firstCase.id);
  store.deleteCase(firstCase.id);
  const secondCase = store.createCase({ caseNumber: 'C-2', pinHash, signals: [{ type: 'pdq', hash: pdq() }] });
  t.ok(secondCase.id > firstCase.id, 'a new case id');
  t.ok(caseSignal(secondCase.id) > firstCaseSignal, 'a new case signal id');
});

/** A database as migrations 1 to 3 left it, with rows in every table the rebuild touches. */
function databaseAtVersion3(path: string): void {
  const dir = join(root, 'migrations-1-3');
  mkdirSync(dir, { recursive: true });
  for (const file of ['001_initial.sql', '002_api_keys_and_audit.sql', '003_batches.sql']) copyFileSync(join(SQLITE_MIGRATIONS_DIR, file), join(dir, file));
  const db = new Database(path);
  db.pragma('foreign_keys = ON');
  migrate(db, readMigrations(dir));
  const now = '2026-01-31T12:00:00.000Z';
  const bank = db.prepare('INSERT INTO banks (name, description, thresholds, created_at, updated_at) VALUES (?, ?, ?, ?, ?)');
  bank.run('kept', 'bank one', '{"pdq":24}', now, now);
  bank.run('deleted later', '', null, now, now);
  const item = db.prepare('INSERT INTO content_items (bank_id, platform, channel, message_ref, captured_at, metadata, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)');
  for (const channel of ['one', 'two', 'three']) item.run(1, 'telegram', channel, `https://t.me/c/${channel}`, now, '{"n":1}', now, now);
  const signal = db.prepare('INSERT INTO signals (content_item_id, victim_case_id, type, hash, quality) VALUES (?, ?, ?, ?, ?)');
  for (const contentId of [1, 2, 3]) signal.run(contentId, null, 'pdq', Buffer.from(pdq()), 90);
  db.prepare('INSERT INTO victim_cases (case_number, pin_hash, status, created_at, updated_at) VALUES (?, ?, ?, ?, ?)').run('K-1', 'scrypt$x', 'open', now, now);
  signal.run(null, 1, 'md5', Buffer.from(randomBytes(16)), null);
  // A batch that saw content 3 (in bank 2) and was asked to search bank 5, since deleted.
  db.prepare('INSERT INTO batches (id, key_id, status, options, total, done, created_at, updated_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)').run(
    'b1',
    1,
    'done',
    '{"thresholds":{},"bankIds":[1,5]}',
    1,
    1,
    now,
    now,
    '2026-02-07T12:00:00.000Z',
  );
  db.prepare('INSERT INTO batch_items (batch_id, position, state, query, matches) VALUES (?, ?, ?, ?, ?)').run(
    'b1',
    0,
    'done',
    null,
    '[{"contentId":3,"bankId":2,"signalType":"pdq","distance":4}]',
  );
  // The newest rows deleted: without AUTOINCREMENT their ids would be handed out again.
  db.prepare('DELETE FROM content_items WHERE id = 3').run();
  db.prepare('DELETE FROM banks WHERE id = 2').run();
  db.close();
}

const dump = (db: Database.Database, table: string) => db.prepare(`SELECT * FROM ${table} ORDER BY 1, 2`).all();

t.test('migration 004 keeps every row and reference, and counts on above every id still named anywhere', async (t) => {
  const path = join(root, 'v3.db');
  databaseAtVersion3(path);
  const before = new Database(path, { readonly: true });
  const tables = ['banks', 'content_items', 'victim_cases', 'signals', 'batches', 'batch_items'];
  const rows = Object.fromEntries(tables.map((table) => [table, dump(before, table)]));
  before.close();
  t.equal(rows.signals.length, 3, 'the deleted item took its signal with it (cascade)');

  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  // Later migrations may add columns: compared on the columns the rows had.
  const asBefore = (table: string) => dump(store.db, table).map((row) => Object.fromEntries(Object.keys(rows[table][0] as object).map((k) => [k, (row as Record<string, unknown>)[k]])));
  // Migration 007 renames a batch's bank filter (bankIds -> banks), as the query module names it.
  rows.batches = rows.batches.map((row) => ({ ...(row as object), options: (row as { options: string }).options.replace('"bankIds"', '"banks"') }));
  for (const table of tables) t.same(asBefore(table), rows[table], `${table}: every row as it was`);
  for (const table of ['banks', 'content_items', 'victim_cases', 'signals']) {
    t.match(store.db.prepare('SELECT sql FROM sqlite_master WHERE name = ?').pluck().get(table), /AUTOINCREMENT/, `${table} is rebuilt with AUTOINCREMENT`);
  }
  // The rebuild dropped the tables' indexes: the migrated database has every index a new one has.
  const indexes = (db: Database.Database) => db.prepare("SELECT name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").pluck().all();
  const fresh = new SqliteStore(join(root, 'fresh-for-indexes.db'));
  const expected = indexes(fresh.db);
  fresh.close();
  t.ok(expected.includes('signals_by_content_item') && expected.includes('content_items_by_bank'), 'a new database indexes the rebuilt tables');
  t.same(indexes(store.db), expected, 'indexes are back');
  t.equal(store.db.pragma('foreign_keys', { simple: true }), 1, 'foreign keys are enforced again');
  t.same(store.db.pragma('foreign_key_check'), []);

  const added = store.addContent(1, [{ provenance: provenance('new'), signals: [{ type: 'pdq', hash: pdq() }] }]);
  t.equal(added.contentIds[0], 4, 'content ids go on above 3, which a stored batch result still names');
  t.equal(store.createBank({ name: 'new' }).id, 6, 'bank ids go on above 5, which a stored batch still names');
  t.equal(added.signalIds[0], 5, 'signal ids go on above the highest');

  // References still cascade after the rebuild.
  store.deleteBank(1);
  t.equal(store.db.prepare('SELECT count(*) FROM content_items').pluck().get(), 0);
  t.equal(store.db.prepare('SELECT count(*) FROM signals WHERE content_item_id IS NOT NULL').pluck().get(), 0);
  t.equal(store.db.prepare('SELECT count(*) FROM signals WHERE victim_case_id = 1').pluck().get(), 1, "a case's signals are not touched");
});

t.test('a migration run without foreign keys that breaks a reference is refused and undone', async (t) => {
  const dir = join(root, 'migrations-broken');
  mkdirSync(dir, { recursive: true });
  copyFileSync(join(SQLITE_MIGRATIONS_DIR, '001_initial.sql'), join(dir, '001_initial.sql'));
  writeFileSync(
    join(dir, '002_dangling.sql'),
    "-- migrate: foreign_keys off\nINSERT INTO banks (id, name, created_at, updated_at) VALUES (1, 'b', 'now', 'now');\n" +
      "INSERT INTO content_items (bank_id, platform, created_at, updated_at) VALUES (1, 'x', 'now', 'now');\nDELETE FROM banks;\n",
  );
  const db = new Database(join(root, 'dangling.db'));
  t.teardown(() => db.close());
  db.pragma('foreign_keys = ON');
  t.throws(() => migrate(db, readMigrations(dir)), { code: 'MIGRATION_MISMATCH', message: /content_items referring to missing banks/ });
  t.equal(db.prepare('SELECT count(*) FROM content_items').pluck().get(), 0, 'rolled back');
  t.same(db.prepare('SELECT version FROM schema_migrations').pluck().all(), [1]);
  t.equal(db.pragma('foreign_keys', { simple: true }), 1, 'enforcement restored');
});
