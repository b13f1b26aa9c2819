/**
 * The indexes in worker threads, as the server uses them: a writer and a
 * search thread over the same shared memory. They answer as the in-thread
 * indexes do, follow every store write in order (a withdrawal is gone for any
 * search asked after it, whichever thread takes the search), and a failed
 * worker, writer or search thread, makes every later search fail, and the
 * service answer 503 (liveness too, so it is restarted), rather than answer
 * from indexes that may have missed a write.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { exitOnIndexFailure } from '../src/server.js';
import { SignalIndexes, type IndexQuery } from '../src/match/signal-indexes.js';
import { WorkerSignalIndexes } from '../src/match/worker-indexes.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteStore } from '../src/store/sqlite-store.js';

const root = mkdtempSync(join(tmpdir(), 'ncii-worker-indexes-'));
t.teardown(() => rmSync(root, { recursive: true, force: true }));
const provenance = { platform: 'telegram', channel: 'group', messageRef: '1' };

function nearby(hash: Uint8Array, distance: number): Uint8Array {
  const out = Uint8Array.from(hash);
  for (let bit = 0; bit < distance; bit++) out[(bit * 7) % 32] ^= 1 << (bit % 8);
  return out;
}

const sortedHits = (hits: { signalId: number; distance: number }[][]) => hits.map((list) => [...list].sort((a, b) => a.signalId - b.signalId));

/** The workers are private to the indexes: reached here to count the messages sent to them, or to break them as a bug would. */
function workersOf(indexes: unknown): Worker[] {
  return (indexes as { threads: { worker: Worker }[] }).threads.map((thread) => thread.worker);
}

/** Counts the search messages posted to each worker from now on. */
function countSearchMessages(workers: Worker[]): number[] {
  const counts = workers.map(() => 0);
  workers.forEach((worker, i) => {
    const post = worker.postMessage.bind(worker);
    worker.postMessage = (message: { op: string }, transfer?: readonly ArrayBuffer[]) => {
      if (message.op === 'search') counts[i]++;
      post(message, transfer as ArrayBuffer[]);
    };
  });
  return counts;
}

const total = (counts: number[]) => counts.reduce((a, b) => a + b, 0);

t.test('answers as the in-thread indexes, and follows adds and removes in order', async (t) => {
  const store = new SqliteStore(join(root, 'follow.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  const bases = Array.from({ length: 300 }, () => new Uint8Array(randomBytes(32)));
  // 6,000 PDQ hashes (enough for tables), near-copies of 300 bases; an MD5 beside each of the first 300.
  const items = bases.flatMap((base) =>
    Array.from({ length: 20 }, (_, k) => ({
      provenance,
      signals: [{ type: 'pdq', hash: nearby(base, k) }, ...(k === 0 ? [{ type: 'md5', hash: new Uint8Array(randomBytes(16)) }] : [])],
    })),
  );
  store.addContent(bank.id, items);
  const inThread = SignalIndexes.load(store);
  t.teardown(() => inThread.close());
  // Shards of 2,500 codes: three for the 6,000 loaded, a fourth made by writes, learnt of by the search thread.
  const inWorker = await WorkerSignalIndexes.load(store, { chunkSize: 999, shardCapacity: 2500 });
  t.teardown(() => inWorker.close());
  const messages = countSearchMessages(workersOf(inWorker));
  t.equal(inWorker.size('content', 'pdq'), 6000);
  t.equal(inWorker.size('content', 'md5'), 300);

  const queries: IndexQuery[] = bases.slice(0, 50).flatMap((base) => [
    { type: 'pdq', code: nearby(base, 3), radius: 31 },
    { type: 'pdq', code: nearby(base, 40), radius: 10 },
  ]);
  queries.push({ type: 'md5', code: store.listSignals({ kind: 'content', contentId: 1 }).find((s) => s.type === 'md5')!.hash, radius: 0 });
  const want = sortedHits(inThread.searchMany('content', queries));
  t.ok(want.flat().length > 100, 'the queries have hits');
  const oneByOne = queries.map(({ type, code, radius }) => inThread.search('content', type, code, radius));
  t.same(want, sortedHits(oneByOne), 'searched in batches (two radii and an exact type), each query answers as searched alone');
  t.same(sortedHits(await inWorker.searchMany('content', queries)), want);
  t.same(await inWorker.searchMany('case', queries.slice(0, 3)), [[], [], []], 'content is not searched as cases');

  // A write, then a search at once: the search sees it.
  const added = store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: nearby(bases[0], 50) }] }]);
  const probe: IndexQuery[] = [{ type: 'pdq', code: nearby(bases[0], 50), radius: 0 }];
  t.same(await inWorker.searchMany('content', probe), [[{ signalId: added.signalIds[0], distance: 0 }]]);
  store.deleteContent(added.contentIds[0]);
  t.same(await inWorker.searchMany('content', probe), [[]], 'a delete is gone for the next search');
  t.equal(inWorker.size('content', 'pdq'), 6000);

  // Victims' hashes: added and withdrawn in one go.
  const victim = store.createCase({ caseNumber: 'W-1', pinHash: await hashPin('1234'), signals: [{ type: 'pdq', hash: nearby(bases[1], 60) }] });
  const caseProbe: IndexQuery[] = [{ type: 'pdq', code: nearby(bases[1], 61), radius: 31 }];
  t.equal((await inWorker.searchMany('case', caseProbe))[0].length, 1);
  store.deleteCase(victim.id);
  t.same(await inWorker.searchMany('case', caseProbe), [[]], 'withdrawal leaves the worker index before the next search');

  await t.rejects(inWorker.searchMany('content', [{ type: 'nope', code: new Uint8Array(32), radius: 0 }]), /no index for signal type/);
  t.equal((await inWorker.searchMany('content', probe)).length, 1, 'a refused search leaves the worker working');

  // A fourth shard, made by writes after the load: both threads search it.
  const more = store.addContent(bank.id, Array.from({ length: 1200 }, (_, k) => ({ provenance, signals: [{ type: 'pdq', hash: nearby(bases[2], 70 + (k % 40)) }] })));
  for (let k = 0; k < 4; k++) {
    t.same(sortedHits(await inWorker.searchMany('content', queries)), sortedHits(inThread.searchMany('content', queries)), `after the new shard, search ${k}`);
  }
  t.ok(more.signalIds.length === 1200 && messages.every((count) => count > 0), `both threads searched: ${messages}`);
});

t.test('a search sees every write acknowledged before it, whichever thread takes it', async (t) => {
  const store = new SqliteStore(join(root, 'visibility.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  const base = new Uint8Array(randomBytes(32));
  store.addContent(bank.id, Array.from({ length: 300 }, (_, k) => ({ provenance, signals: [{ type: 'pdq', hash: nearby(new Uint8Array(randomBytes(32)), k % 8) }] })));
  const indexes = await WorkerSignalIndexes.load(store, { shardCapacity: 64 });
  t.teardown(() => indexes.close());
  const messages = countSearchMessages(workersOf(indexes));
  const lookup = (code: Uint8Array) => indexes.searchMany('content', [{ type: 'pdq', code, radius: 0 }]);
  for (let round = 0; round < 30; round++) {
    // One code, many owners: a new item per round, each with the same hash; every shard of 64 fills in turn.
    const added = store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash: base }, { type: 'pdq', hash: nearby(base, 1 + round) }] }]);
    const [hits] = await lookup(base);
    t.ok(hits.some((hit) => hit.signalId === added.signalIds[0]), `round ${round}: the add is seen`);
    t.equal(hits.length, round + 1 - Math.floor(round / 3), `round ${round}: every owner of the code still there`);
    if (round % 3 === 2) {
      store.deleteContent(added.contentIds[0]);
      const [after] = await lookup(base);
      t.notOk(after.some((hit) => hit.signalId === added.signalIds[0]), `round ${round}: the delete is seen`);
    }
  }
  // Writes and searches interleaved without waiting: each search still sees the writes made before it was asked for.
  const pending = Array.from({ length: 20 }, (_, k) => {
    const hash = nearby(base, 100 + k);
    const { signalIds } = store.addContent(bank.id, [{ provenance, signals: [{ type: 'pdq', hash }] }]);
    return lookup(hash).then(([hits]) => hits.map((hit) => hit.signalId).includes(signalIds[0]));
  });
  t.same(await Promise.all(pending), pending.map(() => true));
  t.ok(messages.every((count) => count > 0), `both threads took searches: ${messages}`);
});

t.test('searches asked for in one turn travel in one message, and each gets its own answer', async (t) => {
  const store = new SqliteStore(join(root, 'batched.db'));
  t.teardown(() => store.close());
  const bank = store.createBank({ name: 'captures' });
  const bases = Array.from({ length: 40 }, () => new Uint8Array(randomBytes(32)));
  store.addContent(
    bank.id,
    bases.flatMap((base) => Array.from({ length: 50 }, (_, k) => ({ provenance, signals: [{ type: 'pdq', hash: nearby(base, k) }] }))),
  );
  const inThread = SignalIndexes.load(store);
  t.teardown(() => inThread.close());
  const inWorker = await WorkerSignalIndexes.load(store);
  t.teardown(() => inWorker.close());

  let counts = countSearchMessages(workersOf(inWorker));

  const requests: IndexQuery[][] = bases.map((base, i) => [
    { type: 'pdq', code: nearby(base, i % 20), radius: 31 },
    { type: 'pdq', code: nearby(base, 45), radius: i % 3 === 0 ? 4 : 31 },
  ]);
  const answers = await Promise.all(requests.map((queries) => inWorker.searchMany('content', queries)));
  t.equal(total(counts), 1, '40 searches of one turn: one message');
  answers.forEach((answer, i) => t.same(sortedHits(answer), sortedHits(inThread.searchMany('content', requests[i])), `search ${i} gets its own hits`));
  t.ok(answers.every((answer) => answer[0].length > 0), 'every search has hits');

  // A query the worker refuses fails its own search only, not the others sharing its message.
  counts = countSearchMessages(workersOf(inWorker));
  const [before, refused, after] = await Promise.allSettled([
    inWorker.searchMany('content', requests[0]),
    inWorker.searchMany('content', [{ type: 'pdq', code: new Uint8Array(8), radius: 31 }]),
    inWorker.searchMany('content', requests[1]),
  ]);
  t.equal(total(counts), 1);
  t.same(before.status === 'fulfilled' && sortedHits(before.value), sortedHits(answers[0]));
  t.match(refused, { status: 'rejected', reason: { message: 'code must be 32 bytes, got 8' } });
  t.same(after.status === 'fulfilled' && sortedHits(after.value), sortedHits(answers[1]));

  // Searches of separate turns go separately; a search of more than a message holds is split, and a large batch shared among the threads.
  counts = countSearchMessages(workersOf(inWorker));
  await inWorker.searchMany('content', requests[2]);
  await inWorker.searchMany('content', requests[3]);
  t.same(counts, [1, 1], 'one message each, to each thread in turn');
  counts = countSearchMessages(workersOf(inWorker));
  const many = Array.from({ length: 9000 }, (_, i) => requests[i % requests.length][0]);
  const manyAnswers = await inWorker.searchMany('content', many);
  t.same(counts, [2, 2], '9,000 queries: two batches of at most 8,192, each shared between the two threads');
  t.same(sortedHits(manyAnswers), sortedHits(inThread.searchMany('content', many)));

  // An image's digests among a large batch go to the writer apart; the perceptual searches are still shared.
  const digest = new Uint8Array(randomBytes(16));
  store.addContent(bank.id, [{ provenance, signals: [{ type: 'md5', hash: digest }] }]);
  const exactAmong: IndexQuery[] = [
    { type: 'md5', code: digest, radius: 0 },
    ...Array.from({ length: 600 }, (_, i) => requests[i % requests.length][i % 2]),
    { type: 'md5', code: new Uint8Array(randomBytes(16)), radius: 0 },
  ];
  counts = countSearchMessages(workersOf(inWorker));
  const exactAnswers = await inWorker.searchMany('content', exactAmong);
  t.same(counts, [2, 1], 'the digests to the writer, the 600 perceptual searches in one part per thread');
  t.same(sortedHits(exactAnswers), sortedHits(inThread.searchMany('content', exactAmong)));
  t.equal(exactAnswers[0].length, 1, 'the stored digest is found');
  t.equal(exactAnswers.at(-1)!.length, 0);
});

for (const failing of ['writer', 'search thread'] as const) {
t.test(`a failed ${failing} fails every later search, and the service answers 503`, async (t) => {
  const dataDir = join(root, `service-${failing.replace(' ', '-')}`);
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), logger: false });
  t.teardown(() => app.close());
  const match = () => app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: 'ab'.repeat(32) }] } });
  t.equal((await match()).statusCode, 200);
  const [writer, searcher] = workersOf(app.services.indexes);
  const others = workersOf(app.services.indexes).map((worker) => new Promise((resolve) => worker.once('exit', resolve)));
  if (failing === 'writer') {
    // A write it cannot apply ends it, as a bug in it would.
    writer.postMessage({ op: 'change', seq: 1, change: { op: 'add', batches: [{ owner: 'content', type: 'nope', codes: new Uint8Array(32), ids: [1], count: 1 }] } });
  } else {
    await searcher.terminate();
  }
  await Promise.all(others);
  t.pass('the other worker is ended too');
  const refused = await match();
  t.equal(refused.statusCode, 503);
  t.equal(refused.json().error.code, 'INDEX_UNAVAILABLE');
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  t.equal(ready.statusCode, 503);
  t.same(ready.json(), { status: 'failed' });
  const live = await app.inject({ method: 'GET', url: '/healthz' });
  t.equal(live.statusCode, 503, 'liveness fails, so an orchestrator restarts the process');
  t.same(live.json(), { status: 'failed' });
});
}

t.test('the server stops and exits 1 when the index worker fails, so it is restarted', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: join(root, 'exiting') }), logger: false });
  const exited = new Promise<number>((resolve) => exitOnIndexFailure(app, resolve));
  const [worker] = workersOf(app.services.indexes);
  worker.postMessage({ op: 'change', seq: 1, change: { op: 'add', batches: [{ owner: 'content', type: 'nope', codes: new Uint8Array(32), ids: [1], count: 1 }] } });
  t.equal(await exited, 1);
  t.equal(app.services.store.db.open, false, 'closed (store too) before exiting');
});
