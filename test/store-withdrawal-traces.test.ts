/**
 * What the service deletes for privacy leaves no trace in the database's
 * files: a withdrawn case's hashes, case number, PIN hash and language, and a finished
 * batch's query hashes, are found neither in the database file nor in its
 * write-ahead log (nor its index), while the store is open or after it
 * closes; and a database written before deleted rows were zeroed is scrubbed
 * once when opened.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteMatchStore } from '../src/store/scan-matches.js';
import { SqliteScanStore } from '../src/store/scans.js';
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
  // A made-up tag, so that its bytes are this case's alone.
  const language = `zz-${randomBytes(4).toString('hex')}`;
  const created = store.createCase({ caseNumber, pinHash, signals, language });
  const needles = [
    ...signals.map((s) => ({ label: `its ${s.type} hash`, bytes: Buffer.from(s.hash) })),
    { label: 'its case number', bytes: Buffer.from(caseNumber) },
    { label: 'its PIN hash', bytes: Buffer.from(pinHash) },
    { label: 'its language', bytes: Buffer.from(language) },
  ];
  return { id: created.id, caseNumber, needles };
}

/** Which of the database's files (the database, its write-ahead log and the log's index) hold the bytes. */
function filesHolding(path: string, bytes: Buffer): string[] {
  return [path, `${path}-wal`, `${path}-shm`].filter((file) => existsSync(file) && readFileSync(file).includes(bytes)).map((file) => file.slice(path.length) || '.db');
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

t.test("a withdrawn case's scan matches and their history are in no file", async (t) => {
  const path = join(root, 'matches.db');
  const store = new SqliteStore(path);
  const scans = new SqliteScanStore(store.db);
  const matches = new SqliteMatchStore(store.db);
  const bank = store.createBank({ name: 'captured' });
  const [contentId] = store.addContent(bank.id, [{ provenance: { platform: 'telegram', channel: 'g' }, signals: [{ type: 'pdq', hash: new Uint8Array(randomBytes(32)) }] }]).contentIds;
  const withdrawn = await registerCase(store);
  const kept = await registerCase(store);
  const scan = scans.createScan({ name: 'all', cron: '0 * * * *', timeZone: 'UTC', banks: null, caseIds: [withdrawn.id, kept.id], thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'test' });
  const { run } = scans.beginRun(scan.id, { trigger: 'manual', holder: 'test', startedBy: 'test', isStale: () => false })!;
  const [matchId, keptMatchId] = scans.checkpoint(run, 'test', { matches: [withdrawn, kept].map((c) => ({ caseId: c.id, contentId, signalType: 'pdq', distance: 4, via: 'whole' as const })) });
  const needle = (label: string) => ({ label, text: `${label}-${randomBytes(8).toString('hex')}` });
  const [where, reference, reason] = [needle('where'), needle('reference'), needle('reason')];
  matches.setStatus(matchId, 'new', { to: 'reported', reportedWhere: where.text, reference: reference.text, actor: 'key:1' });
  matches.setStatus(matchId, 'reported', { to: 'dismissed', dismissReason: reason.text, actor: 'key:1' });
  const keptReference = needle('kept reference');
  matches.setStatus(keptMatchId, 'new', { to: 'reported', reportedWhere: 'x', reference: keptReference.text, actor: 'key:1' });
  for (const { label, text } of [where, reference, reason]) t.not(filesHolding(path, Buffer.from(text)).length, 0, `before: its match's ${label} is on disk`);

  store.deleteCase(withdrawn.id);
  for (const { label, text } of [where, reference, reason]) t.same(filesHolding(path, Buffer.from(text)), [], `open: its match's ${label} is in no file`);
  t.same(scans.getScan(scan.id).caseIds, [kept.id], 'gone from the scan\'s case list');
  t.equal(matches.events(matchId).length, 0, 'no history left');
  t.equal(matches.get(keptMatchId).reference, keptReference.text, "the other case's match is kept");
  store.close();
  for (const { label, text } of [where, reference, reason]) t.same(filesHolding(path, Buffer.from(text)), [], `closed: its match's ${label} is in no file`);
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

t.test("a batch's query hashes are in no file once it is done", async (t) => {
  const dataDir = join(root, 'batches');
  // Indexes not loaded: the batch waits, stored, so the search can first find its hashes on disk.
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), loadIndexes: false, logger: false });
  t.teardown(() => app.close());
  const path = join(dataDir, DATABASE_FILE);
  const ngo = { authorization: `Bearer ${app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret}` };
  const item = () => [
    { type: 'pdq', hash: randomBytes(32).toString('hex') },
    { type: 'md5', hash: randomBytes(16).toString('hex') },
    { type: 'sha256', hash: randomBytes(32).toString('hex') },
    { type: 'pdq-region', hash: randomBytes(32).toString('hex') },
  ];
  const items = Array.from({ length: 40 }, () => ({ signals: item() }));
  const created = await app.inject({ method: 'POST', url: '/v1/batches', headers: ngo, payload: { items } });
  t.equal(created.statusCode, 202, created.body);
  const needles = items.flatMap(({ signals }) => signals.flatMap(({ type, hash }) => [
    { label: `a ${type} hash as text`, bytes: Buffer.from(hash) },
    { label: `a ${type} hash as bytes`, bytes: Buffer.from(hash, 'hex') },
  ]));
  t.ok(needles.some(({ bytes }) => filesHolding(path, bytes).length > 0), 'before it runs, its hashes are on disk (the search can find them)');

  await app.services.loadIndexes();
  for (let until = Date.now() + 60_000; Date.now() < until; await new Promise((resolve) => setTimeout(resolve, 20))) {
    if (app.services.batchStore.get(created.json().batchId)?.status === 'done') break;
  }
  t.equal(app.services.batchStore.get(created.json().batchId)?.status, 'done');
  const left = needles.filter(({ bytes }) => filesHolding(path, bytes).length > 0);
  t.same(left.map(({ label }) => label), [], 'open: no query hash in any file');
  await app.close();
  t.same(needles.filter(({ bytes }) => filesHolding(path, bytes).length > 0).map(({ label }) => label), [], 'closed: none either');
});
