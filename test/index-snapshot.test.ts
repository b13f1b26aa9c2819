/**
 * The content indexes' snapshot (src/match/index-snapshot.ts): a load from it
 * plus what changed in the store since answers exactly as a load of the whole
 * store, whatever came and went meanwhile (while the indexes followed the
 * store, while the snapshot was being written, and while no service ran); it
 * never holds a victim's hash; and a damaged, foreign or superseded file is
 * not used: the load reads the whole store instead.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { REGION_KINDS } from '../src/hashing/pdq-region.js';
import { SignalIndexes, type IndexQuery } from '../src/match/signal-indexes.js';
import { WorkerSignalIndexes, type WorkerSignalIndexesOptions } from '../src/match/worker-indexes.js';
import { DATABASE_FILE, INDEX_SNAPSHOT_FILE } from '../src/services/services.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-index-snapshot-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const provenance = { platform: 'telegram', channel: 'group', messageRef: '1' };
const pin = await hashPin('1234');

function nearby(hash: Uint8Array, distance: number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let bit = 0; bit < distance; bit++) out[(bit * 7) % 32] ^= 1 << (bit % 8);
  return out;
}

const random = (bytes: number) => new Uint8Array(randomBytes(bytes));

/** Captured items of a PDQ near one of `bases`, a region hash (of every kind in turn, and of none), and now and then an MD5. */
function items(bases: Uint8Array[], count: number) {
  return Array.from({ length: count }, (_, i) => ({
    provenance,
    signals: [
      { type: 'pdq', hash: nearby(bases[i % bases.length], i % 12) },
      { type: 'pdq-region', hash: random(32), ...(i % 9 < 8 ? { region: REGION_KINDS[i % 9] } : {}) },
      ...(i % 5 === 0 ? [{ type: 'md5', hash: random(16) }] : []),
    ],
  }));
}

/** Every hit of both owner kinds for queries near the bases and at every stored hash, as a full load of the store answers them. */
async function answers(indexes: { searchMany: SignalIndexes['searchMany'] | WorkerSignalIndexes['searchMany'] }, store: SqliteStore, bases: Uint8Array[]) {
  const queries: IndexQuery[] = bases.flatMap((base) => [
    { type: 'pdq', code: nearby(base, 2), radius: 31 },
    { type: 'pdq', code: nearby(base, 20), radius: 16 },
  ]);
  for (const type of ['pdq', 'pdq-region', 'md5'] as const) {
    for (const owner of ['content', 'case'] as const) {
      for (const batch of store.iterateSignalChunks(type, { owner })) {
        const bytes = batch.codes.length / batch.count;
        for (let i = 0; i < batch.count; i += 7) queries.push({ type, code: batch.codes.slice(i * bytes, (i + 1) * bytes), radius: type === 'md5' ? 0 : 31, region: batch.region });
      }
    }
  }
  const sorted = (hits: { signalId: number; distance: number }[][]) => hits.map((list) => [...list].sort((a, b) => a.signalId - b.signalId || a.distance - b.distance));
  return { content: sorted(await indexes.searchMany('content', queries)), case: sorted(await indexes.searchMany('case', queries)), queries: queries.length };
}

function sizes(indexes: { size(owner: 'content' | 'case', type: string): number }) {
  return ['pdq', 'pdq-region', 'md5'].flatMap((type) => [indexes.size('content', type), indexes.size('case', type)]);
}

/** Loads the store in full in this thread: what a load from the snapshot must answer like. */
async function expectAsFullLoad(t: Test, store: SqliteStore, indexes: WorkerSignalIndexes, bases: Uint8Array[]) {
  const full = SignalIndexes.load(store);
  try {
    const expected = await answers(full, store, bases);
    const got = await answers(indexes, store, bases);
    t.ok(expected.queries > 100, `${expected.queries} queries`);
    t.ok(expected.content.some((hits) => hits.length > 0) && expected.case.some((hits) => hits.length > 0), 'the queries find content and cases');
    t.same(got.content, expected.content, 'content hits as a full load');
    t.same(got.case, expected.case, 'case hits as a full load');
    t.same(sizes(indexes), sizes(full), 'sizes as a full load');
  } finally {
    full.close();
  }
}

/** A database in a directory of its own, with the snapshot's path beside it, a bank and `baseCount` base codes. */
function newStore(t: Test, name: string, baseCount: number) {
  const dir = mkdtempSync(join(root, `${name}-`));
  const store = new SqliteStore(join(dir, DATABASE_FILE));
  t.teardown(() => store.close());
  const bases = Array.from({ length: baseCount }, () => random(32));
  return { path: join(dir, INDEX_SNAPSHOT_FILE), dir, store, bases, bank: store.createBank({ name: 'captures' }) };
}

t.test('a load from the snapshot and the changes since answers as a load of the whole store', async (t) => {
  const { path, store, bases, bank } = newStore(t, 'changes', 40);
  const other = store.createBank({ name: 'other' });
  const first = store.addContent(bank.id, items(bases, 6000));
  store.addContent(other.id, items(bases, 300));
  store.createCase({ caseNumber: 'K-1', pinHash: pin, signals: [{ type: 'pdq', hash: nearby(bases[0], 5) }, { type: 'pdq-region', hash: random(32) }] });
  store.createCase({ caseNumber: 'W-1', pinHash: pin, signals: [{ type: 'pdq', hash: nearby(bases[1], 5) }] });
  // Shards of 2,500 codes: the 6,300 PDQ hashes fill two and part of a third, whose codes past its tables (its delta) are saved too.
  const options: WorkerSignalIndexesOptions = { shardCapacity: 2500, chunkSize: 999, snapshotPath: path };

  const firstLoad = await WorkerSignalIndexes.load(store, options);
  t.same(firstLoad.report, { fromSnapshot: false, signalsRead: 6300 * 2 + 1260 + 3, contentSignalsRead: 6300 * 2 + 1260, contentRemovalsRead: 0 });
  const bytes = await firstLoad.saveSnapshot(store, path);
  t.equal(statSync(path).size, bytes);
  t.ok(store.recordedIndexSnapshot(), 'the store recorded the snapshot');
  t.equal(store.contentRemovalsSince(0).length, 0, 'nothing removed since');

  // While the indexes follow the store.
  store.deleteContent(first.contentIds[0]);
  store.deleteContent(first.contentIds[5]);
  const later = store.addContent(bank.id, items(bases, 700));
  store.deleteContent(later.contentIds[1]);
  store.deleteCase(store.findCaseByNumber('W-1')!.id);
  store.createCase({ caseNumber: 'N-1', pinHash: pin, signals: [{ type: 'pdq', hash: nearby(bases[2], 3) }] });
  firstLoad.close();
  // While no service runs: a whole bank goes (a cascade), more is captured.
  store.deleteBank(other.id);
  store.addContent(bank.id, items(bases, 50));

  const restored = await WorkerSignalIndexes.load(store, options);
  t.teardown(() => restored.close());
  t.equal(restored.report.fromSnapshot, true, 'loaded from the snapshot');
  // 700 items less one (2 signals), 50 more, each a PDQ and a region hash, every fifth an MD5.
  t.equal(restored.report.contentSignalsRead, 699 * 2 + 140 + 50 * 2 + 10, 'read only the content captured since');
  t.equal(restored.report.signalsRead - restored.report.contentSignalsRead, 2 + 1, "and every victim's signal");
  // Items 0 and 5 of the first bank (3 signals each: both have an MD5), item 1 of the later ones (2), the other bank's 300 items (660).
  t.equal(restored.report.contentRemovalsRead, 3 + 3 + 2 + 300 * 2 + 60, 'and the removals logged since');
  await expectAsFullLoad(t, store, restored, bases);
});

t.test('content removed while the snapshot is written is removed again at the next load', async (t) => {
  const { path, store, bases, bank } = newStore(t, 'race', 20);
  const added = store.addContent(bank.id, items(bases, 5000));
  store.createCase({ caseNumber: 'R-1', pinHash: pin, signals: [{ type: 'pdq', hash: nearby(bases[0], 4) }] });
  const options: WorkerSignalIndexesOptions = { shardCapacity: 4096, snapshotPath: path };
  const indexes = await WorkerSignalIndexes.load(store, options);
  const saving = indexes.saveSnapshot(store, path);
  // Committed after the snapshot's position was taken: the file holds these items, the removal log must take them out again.
  for (const id of added.contentIds.slice(0, 100)) store.deleteContent(id);
  await saving;
  indexes.close();
  const logged = store.contentRemovalsSince(store.recordedIndexSnapshot()!.lastRemoval);
  t.equal(logged.reduce((sum, batch) => sum + batch.count, 0), 100 * 2 + 20, "the items' signals removed are logged");

  const restored = await WorkerSignalIndexes.load(store, options);
  t.teardown(() => restored.close());
  t.equal(restored.report.fromSnapshot, true);
  await expectAsFullLoad(t, store, restored, bases);
});

t.test("the snapshot holds no victim's hash", async (t) => {
  const { path, store, bases: contentHashes, bank } = newStore(t, 'privacy', 50);
  store.addContent(bank.id, contentHashes.map((hash) => ({ provenance, signals: [{ type: 'pdq', hash }] })));
  const caseHashes = Array.from({ length: 50 }, () => random(32));
  const md5 = random(16);
  store.createCase({ caseNumber: 'P-1', pinHash: pin, signals: [...caseHashes.map((hash) => ({ type: 'pdq', hash })), { type: 'md5', hash: md5 }] });
  const indexes = await WorkerSignalIndexes.load(store, { snapshotPath: path });
  t.teardown(() => indexes.close());
  await indexes.saveSnapshot(store, path);
  const file = readFileSync(path);
  // In memory a code is 8 big-endian words stored little-endian: each 4-byte group reversed.
  const asStored = (hash: Uint8Array) => Buffer.from(Array.from(hash, (_, i) => hash[(i & ~3) + 3 - (i & 3)]));
  const found = (hash: Uint8Array) => file.indexOf(Buffer.from(hash)) >= 0 || file.indexOf(asStored(hash)) >= 0;
  t.ok(contentHashes.every(found), 'every content hash is in it (the check can see a hash)');
  t.notOk(caseHashes.some(found), "no victim's PDQ hash is");
  t.notOk(found(md5), "nor her MD5");
});

t.test('a damaged, foreign or superseded snapshot is not used: the whole store is read, and it is forgotten', async (t) => {
  const { path, dir, store, bases, bank } = newStore(t, 'unusable', 20);
  store.addContent(bank.id, items(bases, 3000));
  store.createCase({ caseNumber: 'D-1', pinHash: pin, signals: [{ type: 'pdq', hash: nearby(bases[0], 4) }] });
  const options: WorkerSignalIndexesOptions = { shardCapacity: 2048, snapshotPath: path };
  const save = async () => {
    const indexes = await WorkerSignalIndexes.load(store, options);
    await indexes.saveSnapshot(store, path);
    indexes.close();
  };
  const damages: [string, () => void, RegExp][] = [
    ['a byte changed in a shard', () => {
      const file = readFileSync(path);
      file[Math.floor(file.length / 3)] ^= 0x10;
      writeFileSync(path, file);
    }, /CRC-32/],
    ['cut short', () => truncateSync(path, statSync(path).size - 100), /not an index snapshot|cut short/],
    ['the footer changed', () => {
      const file = readFileSync(path);
      file[file.length - 40] ^= 0x01;
      writeFileSync(path, file);
    }, /footer is damaged/],
    ['gone', () => rmSync(path), /could be opened/],
    ['superseded: the database recorded another', () => store.beginIndexSnapshot('another-token'), /not the one this database recorded/],
    ['from another database', () => {
      const foreign = new SqliteStore(join(dir, 'foreign.db'));
      foreign.beginIndexSnapshot(store.recordedIndexSnapshot()!.token.replace(/.$/, (c) => (c === '0' ? '1' : '0')));
      foreign.close();
      store.beginIndexSnapshot('another-token-again');
    }, /not the one this database recorded/],
  ];
  for (const [name, damage, reason] of damages) {
    await save();
    damage();
    const reasons: string[] = [];
    const indexes = await WorkerSignalIndexes.load(store, { ...options, onSnapshotUnusable: (why) => reasons.push(why) });
    t.equal(indexes.report.fromSnapshot, false, `${name}: the whole store was read`);
    t.match(reasons, [reason], `${name}: says why`);
    await expectAsFullLoad(t, store, indexes, bases);
    indexes.close();
    t.equal(store.recordedIndexSnapshot(), undefined, `${name}: forgotten`);
    t.notOk(existsSync(path), `${name}: its file removed`);
  }
});

t.test('the store logs content removals only while a snapshot is recorded, never a case, and prunes them when one is written', async (t) => {
  const store = new SqliteStore(join(root, 'log.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  const added = store.addContent(bank.id, items([random(32)], 10));
  store.deleteContent(added.contentIds[0]);
  t.equal(store.contentRemovalsSince(0).length, 0, 'no snapshot: nothing logged');
  const position = store.beginIndexSnapshot('t1');
  store.deleteContent(added.contentIds[1]);
  const victim = store.createCase({ caseNumber: 'L-1', pinHash: pin, signals: [{ type: 'pdq', hash: random(32) }] });
  store.deleteCase(victim.id);
  const logged = store.contentRemovalsSince(position.lastRemoval);
  t.same(logged.map((batch) => [batch.owner, batch.type, batch.count]).sort(), [['content', 'pdq', 1], ['content', 'pdq-region', 1]], "the item's two signals, not the case's");
  store.indexSnapshotWritten('t0');
  t.equal(store.contentRemovalsSince(0).length, 2, 'a superseded snapshot prunes nothing');
  store.indexSnapshotWritten('t1');
  t.equal(store.contentRemovalsSince(0).length, 2, 'removals after its position are kept');
  const second = store.beginIndexSnapshot('t2');
  store.indexSnapshotWritten('t2');
  t.equal(store.contentRemovalsSince(0).length, 0, 'pruned up to the position of the snapshot written');
  t.ok(second.lastRemoval >= 2);
  store.forgetIndexSnapshot();
  store.deleteContent(added.contentIds[2]);
  t.equal(store.contentRemovalsSince(0).length, 0, 'forgotten: nothing logged');
});

t.test('the store reads the signals since a position and every case signal, each once', async (t) => {
  const store = new SqliteStore(join(root, 'since.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  const caseIds: number[] = [];
  const expected = new Set<number>();
  for (let round = 0; round < 4; round++) {
    const content = store.addContent(bank.id, items([random(32)], 30));
    const victim = store.createCase({ caseNumber: `S-${round}`, pinHash: pin, signals: Array.from({ length: 7 }, () => ({ type: 'pdq-region', hash: random(32) })) });
    caseIds.push(victim.id);
    for (const signal of store.listSignals({ kind: 'case', caseId: victim.id })) expected.add(signal.id);
    if (round >= 2) for (const id of content.signalIds) expected.add(id);
  }
  const position = store.listSignals({ kind: 'case', caseId: caseIds[1] }).at(-1)!.id;
  for (const id of store.listSignals({ kind: 'case', caseId: caseIds[2] }).map((s) => s.id)) expected.add(id);
  const seen: number[] = [];
  for (const batches of store.iterateSignalChunksSince(position, { chunkSize: 5 })) for (const batch of batches) seen.push(...batch.ids);
  t.equal(seen.length, new Set(seen).size, 'each once');
  t.same(new Set(seen), expected, 'every signal after the position and every case signal');
});

t.test('the service writes a snapshot after a large load, loads from it next time, and drops it when turned off', async (t) => {
  const dataDir = mkdtempSync(join(root, 'service-'));
  const store = new SqliteStore(join(dataDir, DATABASE_FILE));
  const bank = store.createBank({ name: 'captures' });
  store.addContent(bank.id, items([random(32)], 200));
  store.close();
  const start = async (min: number) => {
    const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, INDEX_SNAPSHOT_MIN_SIGNALS: String(min) }), logger: false });
    await app.services.snapshotIfDue();
    return app;
  };
  const path = join(dataDir, INDEX_SNAPSHOT_FILE);
  let app = await start(1000);
  t.notOk(existsSync(path), 'fewer content signals read than the setting: no snapshot');
  await app.close();
  app = await start(400);
  t.ok(existsSync(path), 'as many as the setting: a snapshot is written');
  await app.close();
  // What a stop in the middle of a write leaves beside it goes at the next start.
  writeFileSync(`${path}.partial`, 'cut short');
  app = await start(400);
  t.notOk(existsSync(`${path}.partial`), 'a partial snapshot is removed at start');
  const reportOf = (a: typeof app) => (a.services.indexes as WorkerSignalIndexes).report;
  t.equal(reportOf(app).fromSnapshot, true, 'the next start loads from it');
  t.equal(app.services.indexes.size('content', 'pdq'), 200);
  // While it runs: content comes and goes; a snapshot is due once as many content signals changed.
  const token = () => app.services.store.recordedIndexSnapshot()?.token;
  const first = token();
  const more = app.services.store.addContent(bank.id, items([random(32)], 150));
  await app.services.snapshotIfDue();
  t.equal(token(), first, '330 content signals changed (of 400): not due yet');
  app.services.store.deleteContent(more.contentIds[0]);
  app.services.store.addContent(bank.id, items([random(32)], 50));
  await app.services.snapshotIfDue();
  t.not(token(), first, '443 changed: a new snapshot');
  await app.services.snapshotIfDue();
  await app.close();
  app = await start(400);
  t.same(reportOf(app), { fromSnapshot: true, signalsRead: 0, contentSignalsRead: 0, contentRemovalsRead: 0 }, 'the next start reads nothing from the store');
  t.equal(app.services.indexes.size('content', 'pdq'), 200 + 150 - 1 + 50);
  await app.close();
  app = await start(-1);
  t.equal(reportOf(app).fromSnapshot, false, 'turned off: not used');
  t.notOk(existsSync(path), 'and removed');
  t.equal(app.services.store.recordedIndexSnapshot(), undefined, 'and forgotten');
  await app.close();
});
