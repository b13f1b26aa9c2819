/**
 * A withdrawn case leaves no trace in the database's files: its hashes, case
 * number and PIN hash are found neither in the database file nor in its
 * write-ahead log, while the store is open or after it closes; and a database
 * written before deleted rows were zeroed is scrubbed once when opened.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-withdrawal-traces-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));

/** A case with distinctive bytes in every field, and the needles to look for. */
async function registerCase(store: SqliteStore) {
  const pinHash = await hashPin(String(randomInt(1e11, 1e12)));
  const caseNumber = `CASE-${randomBytes(8).toString('hex').toUpperCase()}`;
  const signals = [
    { type: 'pdq', hash: new Uint8Array(randomBytes(32)) },
    { type: 'md5', hash: new Uint8Array(randomBytes(16)) },
    { type: 'sha256', hash: new Uint8Array(randomBytes(32)) },
  ];
  const created = store.createCase({ caseNumber, pinHash, signals });
  const needles = [
    ...signals.map((s) => ({ label: `its ${s.type} hash`, bytes: Buffer.from(s.hash) })),
    { label: 'its case number', bytes: Buffer.from(caseNumber) },
    { label: 'its PIN hash', bytes: Buffer.from(pinHash) },
  ];
  return { id: created.id, caseNumber, needles };
}

/** Which of the database's files hold the bytes (`-shm` holds only the log's index, never page content). */
function filesHolding(path: string, bytes: Buffer): string[] {
  return [path, `${path}-wal`].filter((file) => existsSync(file) && readFileSync(file).includes(bytes)).map((file) => file.slice(path.length) || '.db');
}

t.test('after a withdrawal, neither the database file nor its log holds the case, open or closed', async (t) => {
  const path = join(root, 'withdrawn.db');
  const store = new SqliteStore(path);
  const kept = await registerCase(store);
  const withdrawn = await registerCase(store);
  for (const { label, bytes } of withdrawn.needles) t.not(filesHolding(path, bytes).length, 0, `before: ${label} is on disk (the search can find it)`);

  store.deleteCase(withdrawn.id);
  for (const { label, bytes } of withdrawn.needles) t.same(filesHolding(path, bytes), [], `open: ${label} is in no file`);
  for (const { label, bytes } of kept.needles) t.not(filesHolding(path, bytes).length, 0, `open: the other case's ${label.replace('its ', '')} is kept`);

  store.close();
  for (const { label, bytes } of withdrawn.needles) t.same(filesHolding(path, bytes), [], `closed: ${label} is in no file`);
  const reopened = new SqliteStore(path);
  t.teardown(() => reopened.close());
  t.equal(reopened.findCaseByNumber(kept.caseNumber)?.id, kept.id, 'the other case is intact');
  t.equal(reopened.findCaseByNumber(withdrawn.caseNumber), undefined);
});

t.test('a database with deleted rows left in free pages is scrubbed once when opened', async (t) => {
  const path = join(root, 'older.db');
  const older = new SqliteStore(path);
  // As a store of an earlier version wrote it: deleted rows left in place, not yet scrubbed.
  older.db.pragma('secure_delete = OFF');
  older.db.pragma('user_version = 0');
  const cases = [];
  for (let i = 0; i < 12; i++) cases.push(await registerCase(older));
  for (const c of cases.slice(1)) older.deleteCase(c.id);
  older.close();
  const left = cases.slice(1).flatMap((c) => c.needles).filter(({ bytes }) => filesHolding(path, bytes).length > 0);
  t.not(left.length, 0, `${left.length} traces of deleted cases are in the file before`);

  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  t.same(left.filter(({ bytes }) => filesHolding(path, bytes).length > 0).map(({ label }) => label), [], 'none is left after opening');
  t.ok(store.getCase(cases[0].id), 'the case not withdrawn is intact');
  t.equal(store.db.pragma('user_version', { simple: true }), 1, 'marked done: not rewritten at every start');
});
