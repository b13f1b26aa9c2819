/**
 * The indexes in a worker thread, as the server uses them: they answer as the
 * in-thread indexes do, follow every store write in order (a withdrawal is
 * gone for any search asked after it), and a failed worker makes every later
 * search fail, and the service answer 503 (liveness too, so it is restarted),
 * rather than answer from indexes that may have missed a write.
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
  const inWorker = await WorkerSignalIndexes.load(store, { chunkSize: 999 });
  t.teardown(() => inWorker.close());
  t.equal(inWorker.size('content', 'pdq'), 6000);
  t.equal(inWorker.size('content', 'md5'), 300);

  const queries: IndexQuery[] = bases.slice(0, 50).flatMap((base) => [
    { type: 'pdq', code: nearby(base, 3), radius: 31 },
    { type: 'pdq', code: nearby(base, 40), radius: 10 },
  ]);
  queries.push({ type: 'md5', code: store.listSignals({ kind: 'content', contentId: 1 }).find((s) => s.type === 'md5')!.hash, radius: 0 });
  const want = sortedHits(inThread.searchMany('content', queries));
  t.ok(want.flat().length > 100, 'the queries have hits');
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

  // The worker is private to the indexes: reached here to count the search messages sent to it.
  const worker = (inWorker as unknown as { worker: Worker }).worker;
  const post = worker.postMessage.bind(worker);
  let searchMessages = 0;
  worker.postMessage = (message: { op: string }, transfer?: readonly ArrayBuffer[]) => {
    if (message.op === 'search') searchMessages++;
    post(message, transfer as ArrayBuffer[]);
  };

  const requests: IndexQuery[][] = bases.map((base, i) => [
    { type: 'pdq', code: nearby(base, i % 20), radius: 31 },
    { type: 'pdq', code: nearby(base, 45), radius: i % 3 === 0 ? 4 : 31 },
  ]);
  const answers = await Promise.all(requests.map((queries) => inWorker.searchMany('content', queries)));
  t.equal(searchMessages, 1, '40 searches of one turn: one message');
  answers.forEach((answer, i) => t.same(sortedHits(answer), sortedHits(inThread.searchMany('content', requests[i])), `search ${i} gets its own hits`));
  t.ok(answers.every((answer) => answer[0].length > 0), 'every search has hits');

  // A query the worker refuses fails its own search only, not the others sharing its message.
  searchMessages = 0;
  const [before, refused, after] = await Promise.allSettled([
    inWorker.searchMany('content', requests[0]),
    inWorker.searchMany('content', [{ type: 'pdq', code: new Uint8Array(8), radius: 31 }]),
    inWorker.searchMany('content', requests[1]),
  ]);
  t.equal(searchMessages, 1);
  t.same(before.status === 'fulfilled' && sortedHits(before.value), sortedHits(answers[0]));
  t.match(refused, { status: 'rejected', reason: { message: 'code must be 32 bytes, got 8' } });
  t.same(after.status === 'fulfilled' && sortedHits(after.value), sortedHits(answers[1]));

  // Searches of separate turns go separately, and a search of more than a message holds is split.
  searchMessages = 0;
  await inWorker.searchMany('content', requests[2]);
  await inWorker.searchMany('content', requests[3]);
  t.equal(searchMessages, 2);
  searchMessages = 0;
  const many = Array.from({ length: 1500 }, (_, i) => requests[i % requests.length][0]);
  const manyAnswers = await inWorker.searchMany('content', many);
  t.equal(searchMessages, 2, '1,500 queries: two messages of at most 1,024');
  t.same(sortedHits(manyAnswers), sortedHits(inThread.searchMany('content', many)));
});

t.test('a failed worker fails every later search, and the service answers 503', async (t) => {
  const dataDir = join(root, 'service');
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), logger: false });
  t.teardown(() => app.close());
  const match = () => app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: 'ab'.repeat(32) }] } });
  t.equal((await match()).statusCode, 200);
  // The worker is private to the indexes: reached here only to break it as a bug in it would.
  const worker = (app.services.indexes as unknown as { worker: Worker }).worker;
  const exited = new Promise((resolve) => worker.once('exit', resolve));
  worker.postMessage({ op: 'change', change: { op: 'add', batches: [{ owner: 'content', type: 'nope', codes: new Uint8Array(32), ids: [1], count: 1 }] } });
  await exited;
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

t.test('the server stops and exits 1 when the index worker fails, so it is restarted', async (t) => {
  const app = await buildApp({ config: loadConfig({ DATA_DIR: join(root, 'exiting') }), logger: false });
  const exited = new Promise<number>((resolve) => exitOnIndexFailure(app, resolve));
  const worker = (app.services.indexes as unknown as { worker: Worker }).worker;
  worker.postMessage({ op: 'change', change: { op: 'add', batches: [{ owner: 'content', type: 'nope', codes: new Uint8Array(32), ids: [1], count: 1 }] } });
  t.equal(await exited, 1);
  t.equal(app.services.store.db.open, false, 'closed (store too) before exiting');
});
