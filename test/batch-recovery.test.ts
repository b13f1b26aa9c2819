/**
 * The batch runner when things go wrong, with a real SQLite file: server-side
 * errors are retried with backoff (bounded), errors about an item fail it at
 * once, failed saves and reads are retried until the batch finishes, expiry
 * stops matching, a bank deleted mid-run, finished items keep no query, and
 * a failed index worker leaves items pending for after the restart.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { QueryError } from '../src/match/query.js';
import { ServiceError } from '../src/services/errors.js';
import { BatchRunner } from '../src/batches/runner.js';
import { queryFromHashes } from '../src/match/query.js';
import { storedMatch } from '../src/services/batches.js';
import { loadConfig } from '../src/config.js';
import { fromHex } from '../src/hashing/hex.js';
import { type BatchQuerySignal, SqliteBatchStore, type StoredBatchMatch } from '../src/store/batches.js';
import { StoreError } from '../src/store/errors.js';
import { SqliteStore, type SqliteStoreOptions } from '../src/store/sqlite-store.js';
import { pdqExpected } from './helpers/fixtures.js';

const BRIDGE = pdqExpected().find((r) => r.file === 'bridge-1-original.jpg')!.hash;
const UNRELATED = pdqExpected().find((r) => r.file === 'q2821.jpg')!.hash;
const md5 = (n: number) => n.toString(16).padStart(32, '0');
const md5Items = (from: number, count: number) => Array.from({ length: count }, (_, i) => ({ query: [{ type: 'md5', hash: md5(from + i) }] }));
const numberOf = (query: BatchQuerySignal[]) => parseInt(query[0].hash, 16);
const matchOf = (n: number): { matches: StoredBatchMatch[]; warnings: [] } => ({ matches: [{ contentId: n, bankId: 1, signalType: 'md5', distance: 0 }], warnings: [] });
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-batch-recovery-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function openStores(t: Test, options?: SqliteStoreOptions) {
  const path = join(tempDir(t), 'runner.db');
  const store = new SqliteStore(path, options);
  t.teardown(() => store.close());
  return { path, store, batches: new SqliteBatchStore(store.db) };
}

/** Polls until `done()`; fails the test (instead of hanging) if it never is. */
async function waitFor(done: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!done()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

const messages = (errors: unknown[]) => errors.map((err) => (err as Error).message);

t.test('server-side errors are retried with a bounded backoff; errors about the item fail it at once', async (t) => {
  const { batches } = openStores(t);
  const batch = batches.create({ keyId: 1, options: {}, items: md5Items(0, 6), ttlHours: 1 });
  const attempts = new Map<number, number[]>();
  const statesWhileRetried: string[] = [];
  const match = async (query: BatchQuerySignal[]) => {
    const n = numberOf(query);
    const times = [...(attempts.get(n) ?? []), performance.now()];
    attempts.set(n, times);
    if (n === 1) {
      statesWhileRetried.push(batches.listItems(batch.id, 1, 1)[0].state);
      if (times.length <= 2) throw new ServiceError('INDEX_UNAVAILABLE', 'The service cannot search its index right now; try again later.', 30);
    }
    if (n === 2) throw new QueryError('INVALID_REQUEST', 'too little detail');
    if (n === 3) throw new TypeError('boom');
    if (n === 4) throw new StoreError('INVALID_HASH', 'signal 0: not hex');
    return matchOf(n);
  };
  const errors: unknown[] = [];
  const runner = new BatchRunner(batches, match, {
    concurrency: 1,
    ttlHours: 1,
    retry: { firstDelayMs: 20, maxDelayMs: 50, maxAttempts: 4 },
    onError: (err) => errors.push(err),
  });
  runner.start();
  await waitFor(() => batches.get(batch.id)!.status === 'done', 'the batch to finish');
  await runner.close();

  const items = batches.listItems(batch.id, 0, 10);
  t.same(
    items.map((i) => i.state),
    ['done', 'done', 'failed', 'failed', 'failed', 'done'],
  );
  t.equal(attempts.get(1)!.length, 3, 'INDEX_UNAVAILABLE twice, then matched');
  t.same(statesWhileRetried, ['pending', 'pending', 'pending'], 'left pending while it is retried');
  t.same(items[1].matches, matchOf(1).matches);
  t.equal(attempts.get(2)!.length, 1, 'an error about the item itself is not retried');
  t.same(items[2].error, { code: 'INVALID_REQUEST', message: 'too little detail' });
  t.equal(attempts.get(4)!.length, 1);
  t.same(items[4].error, { code: 'INVALID_HASH', message: 'signal 0: not hex' });
  t.equal(attempts.get(3)!.length, 4, 'an unknown error is retried, up to maxAttempts in all');
  t.match(items[3].error, { code: 'INTERNAL', message: /after 4 attempts/ });

  // Each retry of item 3 waited longer, up to the cap: 20, 40, then 50 (not 80) ms.
  const times = attempts.get(3)!;
  const gaps = times.slice(1).map((time, i) => time - times[i]);
  [20, 40, 50].forEach((delay, i) => t.ok(gaps[i] >= delay - 1, `retry ${i + 1} waited ${gaps[i].toFixed(1)} ms (>= ${delay})`));
  t.match(messages(errors), [/retrying in 20 ms/, /retrying in 40 ms/, /retrying in 20 ms/, /retrying in 40 ms/, /retrying in 50 ms/, /gave up after 4 attempts/]);
  t.notMatch(messages(errors).join('\n'), /[0-9a-f]{32}/, 'no hash is logged');
});

t.test('saves that fail (SQLITE_BUSY) are retried, and the batch finishes without a restart', async (t) => {
  const { path, batches } = openStores(t, { busyTimeoutMs: 0 });
  const batch = batches.create({ keyId: 1, options: {}, items: md5Items(0, 300), ttlHours: 1 });
  // Another connection holds the write lock from item 1 on, so every save fails with SQLITE_BUSY.
  const blocker = new Database(path);
  t.teardown(() => blocker.close());
  const matched: number[] = [];
  const match = async (query: BatchQuerySignal[]) => {
    const n = numberOf(query);
    matched.push(n);
    if (n === 1) blocker.exec('BEGIN IMMEDIATE');
    await sleep(1);
    return matchOf(n);
  };
  const errors: unknown[] = [];
  const runner = new BatchRunner(batches, match, {
    concurrency: 2,
    ttlHours: 1,
    retry: { firstDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 },
    onError: (err) => errors.push(err),
  });
  t.teardown(() => runner.close());
  runner.start();

  await waitFor(() => errors.length >= 3, 'three failed saves');
  t.match(messages(errors), [/saving batch results failed.*retrying in 5 ms/, /retrying in 10 ms/, /retrying in 20 ms/]);
  t.match((errors[0] as Error).cause, { code: 'SQLITE_BUSY' }, 'the cause is logged with it');
  const startedWhileFailing = matched.length;
  await sleep(60);
  t.equal(matched.length, startedWhileFailing, 'no new items start while saves fail');
  t.equal(batches.get(batch.id)!.status, 'running');

  blocker.exec('ROLLBACK');
  await waitFor(() => batches.get(batch.id)!.status === 'done', 'the batch to finish once saves work again');
  t.same(
    [...matched].sort((a, b) => a - b),
    Array.from({ length: 300 }, (_, i) => i),
    'every item matched exactly once',
  );
  t.ok(
    batches.listItems(batch.id, 0, 300).every((item) => item.state === 'done' && item.matches![0].contentId === item.position),
    'every result saved, none lost',
  );
  t.equal(batches.get(batch.id)!.done, 300);
});

t.test('a batch whose read fails is not dropped from the queue', async (t) => {
  const { batches } = openStores(t);
  const batch = batches.create({ keyId: 1, options: {}, items: md5Items(0, 3), ttlHours: 1 });
  // The read itself cannot be made to fail for real under WAL (readers never wait): the store call throws as SQLite would.
  const get = batches.get.bind(batches);
  let failing = 2;
  batches.get = (id) => {
    if (failing-- > 0) throw Object.assign(new Error('database is locked'), { code: 'SQLITE_BUSY' });
    return get(id);
  };
  const errors: unknown[] = [];
  const runner = new BatchRunner(batches, async (query) => matchOf(numberOf(query)), {
    concurrency: 1,
    ttlHours: 1,
    retry: { firstDelayMs: 5, maxDelayMs: 20, maxAttempts: 3 },
    onError: (err) => errors.push(err),
  });
  t.teardown(() => runner.close());
  runner.start();
  await waitFor(() => get(batch.id)!.status === 'done', 'the batch to finish');
  t.equal(errors.length, 2, 'each failed read was logged');
  t.match(messages(errors), [/retrying in 5 ms/, /retrying in 10 ms/]);
});

t.test('batches made in the same millisecond are matched in the order they were made', async (t) => {
  const { batches } = openStores(t);
  const now = new Date();
  const made = Array.from({ length: 20 }, (_, i) => batches.create({ keyId: 1, options: {}, items: md5Items(i, 1), ttlHours: 1, now }).id);
  t.same(batches.unfinished(), made, 'ids are random: the order is the order of making, not of ids');
  const matched: number[] = [];
  const runner = new BatchRunner(batches, async (query) => (matched.push(numberOf(query)), matchOf(numberOf(query))), { concurrency: 1, ttlHours: 1 });
  t.teardown(() => runner.close());
  runner.start();
  await waitFor(() => batches.get(made.at(-1)!)!.status === 'done', 'the last batch to finish');
  t.same(matched, made.map((_, i) => i));
});

t.test('matching stops when a batch expires', async (t) => {
  const { batches } = openStores(t);
  const expiring = batches.create({ keyId: 1, options: {}, items: md5Items(0, 20), ttlHours: 1 });
  // Made "later" (expiring later), so it runs after the first and outlives the sweep: when it is done, the first batch's items were all handed out.
  const later = batches.create({ keyId: 1, options: {}, items: md5Items(1000, 1), ttlHours: 1, now: new Date(Date.now() + 2 * 3_600_000) });
  const matched: number[] = [];
  const match = async (query: BatchQuerySignal[]) => {
    const n = numberOf(query);
    matched.push(n);
    // While item 2 is being matched, the sweep expires the first batch.
    if (n === 2) t.equal(runner.sweep(new Date(Date.now() + 1.5 * 3_600_000)), 1);
    return matchOf(n);
  };
  const runner = new BatchRunner(batches, match, { concurrency: 1, ttlHours: 1 });
  t.teardown(() => runner.close());
  runner.start();
  await waitFor(() => batches.get(later.id)!.status === 'done', 'the later batch to finish');
  t.same(matched, [0, 1, 2, 1000], 'nothing of the expired batch is matched after the sweep');
  t.equal(batches.get(expiring.id)!.status, 'expired');
});

t.test('a finished item keeps no query; a pending one keeps it for the restart', async (t) => {
  const { store, batches } = openStores(t);
  const batch = batches.create({
    keyId: 1,
    options: {},
    items: [...md5Items(0, 6), { error: { code: 'CORRUPT_IMAGE', message: 'truncated' } }],
    ttlHours: 1,
  });
  const queries = () =>
    store.db
      .prepare<[string], { position: number; state: string; query: string | null }>('SELECT position, state, query FROM batch_items WHERE batch_id = ? ORDER BY position')
      .all(batch.id);
  let started = 0;
  const match = async (query: BatchQuerySignal[]) => {
    started++;
    if (numberOf(query) === 1) throw new QueryError('INVALID_REQUEST', 'too little detail');
    await sleep(2);
    return matchOf(numberOf(query));
  };

  const first = new BatchRunner(batches, match, { concurrency: 1, ttlHours: 1 });
  first.start();
  await waitFor(() => started >= 3, 'part of the batch');
  await first.close();
  const partWay = queries();
  t.ok(partWay.some((row) => row.state === 'pending'), 'closed part-way');
  t.ok(partWay.some((row) => row.state === 'failed' && row.position === 1));
  for (const row of partWay) t.equal(row.query !== null, row.state === 'pending', `item ${row.position} (${row.state}): query kept only while pending`);

  const second = new BatchRunner(batches, match, { concurrency: 1, ttlHours: 1 });
  second.start();
  await waitFor(() => batches.get(batch.id)!.status === 'done', 'the batch to finish after the restart');
  await second.close();
  t.same(
    queries().map((row) => [row.state, row.query]),
    [['done', null], ['failed', null], ['done', null], ['done', null], ['done', null], ['done', null], ['failed', null]],
  );
});

t.test('a bank named in the batch and deleted mid-run is no longer searched; with none left, items fail naming it', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: tempDir(t), KEYED_REQUESTS_PER_MINUTE: '100000' }), logger: false });
  await app.ready();
  t.teardown(() => app.close());
  const { store, batchStore: batches, keys } = app.services;
  const batchStore = batches;
  const capture = (bankId: number) =>
    store.addContent(bankId, [{ provenance: { platform: 'telegram', channel: `bank ${bankId}` }, signals: [{ type: 'pdq', hash: fromHex(BRIDGE, 256) }] }]);
  const kept = store.createBank({ name: 'kept' }).id;
  const doomed = store.createBank({ name: 'doomed' }).id;
  capture(kept);
  capture(doomed);
  const { key, secret } = keys.create({ name: 'ngo', role: 'ngo' });
  const bridgeItems = (count: number) => Array.from({ length: count }, () => ({ query: [{ type: 'pdq', hash: BRIDGE }] }));
  // Made here, not through the API: the app's own runner does not take them, the one below does.
  const both = batches.create({ keyId: key.id, options: { banks: [kept, doomed] }, items: bridgeItems(4), ttlHours: 1 });
  const onlyDoomed = batches.create({ keyId: key.id, options: { banks: [doomed] }, items: bridgeItems(2), ttlHours: 1 });

  let calls = 0;
  const runner = new BatchRunner(
    batchStore,
    async (query, options) => {
      const { matches, warnings } = await app.services.matcher.matchContent(queryFromHashes(query, options));
      if (++calls === 2) store.deleteBank(doomed);
      return { matches: matches.map((m) => storedMatch(m, true)), warnings };
    },
    { concurrency: 1, ttlHours: 1 },
  );
  t.teardown(() => runner.close());
  runner.start();
  await waitFor(() => batches.get(onlyDoomed.id)!.status === 'done', 'both batches to finish');

  const items = batches.listItems(both.id, 0, 10);
  t.same(
    items.map((i) => [i.state, i.matches?.map((m) => m.bankId)]),
    [
      ['done', [kept, doomed]],
      ['done', [kept, doomed]],
      ['done', [kept]],
      ['done', [kept]],
    ],
    'matched against the banks that remain',
  );
  const read = await app.inject({ method: 'GET', url: `/v1/batches/${both.id}`, headers: { authorization: `Bearer ${secret}` } });
  t.same(
    read.json().items.map((i: { matches: { bankId: number }[] }) => i.matches.map((m) => m.bankId)),
    [[kept], [kept], [kept], [kept]],
    "read back, the deleted bank's matches are gone from earlier items too: every item answers alike",
  );
  for (const item of batches.listItems(onlyDoomed.id, 0, 10)) {
    t.equal(item.state, 'failed');
    t.equal(item.error?.code, 'NOT_FOUND');
    t.match(item.error?.message, new RegExp(`\\b${doomed}\\b.*deleted`), 'names the deleted bank');
  }
});

t.test('a failed index worker leaves batch items pending; they are matched after the restart', async (t) => {
  const dir = tempDir(t);
  const logs: string[] = [];
  const logStream = new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  });
  const before = await buildApp({ config: loadConfig({ DATA_DIR: dir, KEYED_REQUESTS_PER_MINUTE: '100000' }), logStream });
  await before.ready();
  const bank = before.services.store.createBank({ name: 'captures' });
  before.services.store.addContent(bank.id, [{ provenance: { platform: 'telegram' }, signals: [{ type: 'pdq', hash: fromHex(BRIDGE, 256) }] }]);
  const ngo = { authorization: `Bearer ${before.services.keys.create({ name: 'ngo', role: 'ngo' }).secret}` };

  // The index writer, broken as a bug in it would break it (as in worker-indexes.test.ts).
  const worker = (before.services.indexes as unknown as { threads: { worker: Worker }[] }).threads[0].worker;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.postMessage({ op: 'change', change: { op: 'add', batches: [{ owner: 'content', type: 'nope', codes: new Uint8Array(32), ids: [1], count: 1 }] } });
  await exited;

  const created = await before.inject({ method: 'POST', url: '/v1/batches', headers: ngo, payload: { signals: [{ type: 'pdq', hash: BRIDGE }, { type: 'pdq', hash: UNRELATED }] } });
  t.equal(created.statusCode, 202);
  const { batchId } = created.json();
  await waitFor(() => logs.some((line) => line.includes('could not be matched')), 'the failure to be logged');
  const stalled = (await before.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: ngo })).json();
  t.not(stalled.status, 'done');
  t.same(stalled.progress, { done: 0, total: 2 });
  t.same(
    stalled.items.map((i: { status: string }) => i.status),
    ['pending', 'pending'],
    'not failed for good: the index, not the items, is at fault',
  );
  t.match(logs.join(''), /INDEX_UNAVAILABLE|cannot search its index/);
  t.notMatch(logs.join('').toLowerCase(), new RegExp(`${BRIDGE}|${UNRELATED}`), 'no hash is logged');
  await before.close();

  const after = await buildApp({ config: loadConfig({ DATA_DIR: dir, KEYED_REQUESTS_PER_MINUTE: '100000' }), logger: false });
  t.teardown(() => after.close());
  await after.ready();
  await waitFor(() => after.services.batchStore.get(batchId)!.status === 'done', 'the batch to finish after the restart');
  t.same(
    after.services.batchStore.listItems(batchId, 0, 10).map((i) => i.matches?.length),
    [1, 0],
  );
});

t.test('migration 005 drops the queries of items finished before it, and keeps pending ones', async (t) => {
  const { copyFileSync, mkdirSync } = await import('node:fs');
  const { migrate, readMigrations, SQLITE_MIGRATIONS_DIR } = await import('../src/store/sqlite-migrations.js');
  const dir = tempDir(t);
  const older = join(dir, 'migrations-1-4');
  mkdirSync(older);
  for (const file of readMigrations().filter((m) => m.version <= 4).map((m) => `${String(m.version).padStart(3, '0')}_${m.name}.sql`)) {
    copyFileSync(join(SQLITE_MIGRATIONS_DIR, file), join(older, file));
  }
  const path = join(dir, 'v4.db');
  const db = new Database(path);
  migrate(db, readMigrations(older));
  db.prepare("INSERT INTO batches (id, key_id, status, options, total, done, created_at, updated_at, expires_at) VALUES ('b', 1, 'running', '{}', 3, 2, 'now', 'now', '9999')").run();
  const item = db.prepare("INSERT INTO batch_items (batch_id, position, state, query, matches, error_code) VALUES ('b', ?, ?, ?, ?, ?)");
  const query = JSON.stringify([{ type: 'md5', hash: md5(1) }]);
  item.run(0, 'done', query, '[]', null);
  item.run(1, 'failed', query, null, 'INVALID_HASH');
  item.run(2, 'pending', query, null, null);
  db.close();

  const store = new SqliteStore(path);
  t.teardown(() => store.close());
  t.same(
    store.db.prepare("SELECT position, query FROM batch_items WHERE batch_id = 'b' ORDER BY position").all(),
    [
      { position: 0, query: null },
      { position: 1, query: null },
      { position: 2, query },
    ],
  );
});
