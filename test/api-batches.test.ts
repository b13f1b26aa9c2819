/**
 * NGO batches over real HTTP (inject) and a real SQLite store: JSON and image
 * batches, progress and pagination, per-item errors, visibility per key,
 * bounded concurrency, graceful close, resume after a restart, expiry.
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { BatchRunner } from '../src/batches/runner.js';
import { loadConfig } from '../src/config.js';
import { fromHex, InvalidHashError } from '../src/hashing/hex.js';
import { hashImage } from '../src/image/hash-image.js';
import { regionSignals } from './helpers/queries.js';
import { SqliteBatchStore, type StoredBatchMatch } from '../src/store/batches.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { PDQ_DIR, pdqExpected } from './helpers/fixtures.js';
import { multipartBody } from './helpers/form-data.js';

type App = Awaited<ReturnType<typeof buildApp>>;

const expectedPdq = (file: string) => pdqExpected().find((r) => r.file === file)!.hash;
const BRIDGE = expectedPdq('bridge-1-original.jpg');
const UNRELATED = expectedPdq('q2821.jpg');

function tempDir(t: Test): string {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-batches-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function newApp(t: Test, dir = tempDir(t), options: { loadIndexes?: boolean; env?: Record<string, string> } = {}) {
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: dir, KEYED_REQUESTS_PER_MINUTE: '100000', ...options.env }),
    loadIndexes: options.loadIndexes ?? true,
    logger: false,
  });
  await app.ready();
  return app;
}

/** A bank holding the bridge photo as captured in a Telegram group. */
function addCapture(app: App): number {
  const bank = app.services.store.createBank({ name: `captures ${Math.random()}` });
  app.services.store.addContent(bank.id, [
    {
      provenance: { platform: 'telegram', channel: 'leaks', messageRef: 'https://t.me/leaks/42', capturedAt: '2026-02-03T04:05:06Z' },
      signals: [{ type: 'pdq', hash: fromHex(BRIDGE, 256) }],
    },
  ]);
  return bank.id;
}

const bearer = (secret: string) => ({ authorization: `Bearer ${secret}` });

/** Polls until the batch is done; a deadline, not a count of polls, so a slow machine only waits longer. */
async function waitForBatch(app: App, id: string, headers: Record<string, string>, query = '') {
  const until = Date.now() + 60_000;
  while (Date.now() < until) {
    const res = await app.inject({ method: 'GET', url: `/v1/batches/${id}${query}`, headers });
    if (res.statusCode !== 200 || res.json().status === 'done' || res.json().status === 'expired') return res;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`batch ${id} did not finish within 60 s`);
}

t.test('JSON batch: progress, matches, per-item errors, visibility', async (t) => {
  const app = await newApp(t);
  t.teardown(() => app.close());
  addCapture(app);
  const ngo = bearer(app.services.keys.create({ name: 'ngo a', role: 'ngo' }).secret);
  const otherNgo = bearer(app.services.keys.create({ name: 'ngo b', role: 'ngo' }).secret);
  const takedown = bearer(app.services.keys.create({ name: 'takedown', role: 'takedown' }).secret);
  const admin = bearer(app.services.keys.create({ name: 'admin', role: 'admin' }).secret);

  const created = await app.inject({
    method: 'POST',
    url: '/v1/batches',
    headers: ngo,
    payload: { signals: [{ type: 'pdq', hash: BRIDGE }, { type: 'pdq', hash: UNRELATED }, { type: 'md5', hash: 'xyz' }, { type: 'pdq', hash: BRIDGE.toUpperCase() }] },
  });
  t.equal(created.statusCode, 202, created.body);
  const { batchId, total } = created.json();
  t.match(batchId, /^bat_[A-Za-z0-9_-]{22}$/);
  t.equal(total, 4);

  const res = await waitForBatch(app, batchId, ngo);
  const body = res.json();
  t.equal(body.status, 'done');
  t.same(body.progress, { done: 4, total: 4 });
  t.equal(body.nextOffset, null);
  t.same(
    body.items.map((i: { index: number; status: string }) => [i.index, i.status]),
    [
      [0, 'done'],
      [1, 'done'],
      [2, 'failed'],
      [3, 'done'],
    ],
  );
  t.match(body.items[0].matches, [{ signalType: 'pdq', distance: 0, provenance: { platform: 'telegram', group: 'leaks', capturedAt: '2026-02-03T04:05:06.000Z' } }]);
  t.notOk('messageUrl' in body.items[0].matches[0].provenance, 'an NGO key does not see message links');
  t.same(body.items[1].matches, []);
  t.equal(body.items[2].error.code, 'INVALID_HASH');
  t.equal(body.items[3].matches.length, 1, 'hex in either case');

  t.equal((await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: otherNgo })).statusCode, 404, "another key's batch is not found");
  t.equal((await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: takedown })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: '/v1/batches/bat_AAAAAAAAAAAAAAAAAAAAAA', headers: ngo })).statusCode, 404);
  t.equal((await app.inject({ method: 'GET', url: `/v1/batches/${batchId}` })).statusCode, 401, 'no key, no batches');
  const asAdmin = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: admin });
  t.equal(asAdmin.statusCode, 200, 'admins see every batch');
  t.equal(asAdmin.json().items[0].matches[0].provenance.messageUrl, 'https://t.me/leaks/42', 'with full provenance');

  // Content deleted after matching drops out of the results.
  app.services.store.deleteContent(asAdmin.json().items[0].matches[0].contentId);
  t.same((await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: ngo })).json().items[0].matches, []);

  // Items group hashes of one image.
  const grouped = await app.inject({
    method: 'POST',
    url: '/v1/batches',
    headers: ngo,
    payload: { items: [{ signals: [{ type: 'pdq', hash: UNRELATED }, { type: 'md5', hash: 'a'.repeat(32) }] }, { signals: [{ type: 'sha256', hash: 'b'.repeat(64) }] }] },
  });
  t.equal(grouped.statusCode, 202);
  t.same((await waitForBatch(app, grouped.json().batchId, ngo)).json().progress, { done: 2, total: 2 });
});

t.test('JSON batch: options and limits', async (t) => {
  const app = await newApp(t);
  t.teardown(() => app.close());
  const bankId = addCapture(app);
  const otherBank = app.services.store.createBank({ name: 'empty' }).id;
  const ngo = bearer(app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret);
  const post = (payload: object) => app.inject({ method: 'POST', url: '/v1/batches', headers: ngo, payload });

  const onlyEmpty = await post({ signals: [{ type: 'pdq', hash: BRIDGE }], banks: [otherBank] });
  t.same((await waitForBatch(app, onlyEmpty.json().batchId, ngo)).json().items[0].matches, [], 'only the banks asked for');
  const inBank = await post({ signals: [{ type: 'pdq', hash: BRIDGE }], banks: [bankId], threshold: 0 });
  t.equal((await waitForBatch(app, inBank.json().batchId, ngo)).json().items[0].matches.length, 1);

  const refused = async (payload: object, status: number, code: string) => {
    const res = await post(payload);
    t.equal(res.statusCode, status, res.body.slice(0, 200));
    t.equal(res.json().error.code, code);
  };
  await refused({ signals: [{ type: 'pdq', hash: BRIDGE }], banks: [999] }, 404, 'NOT_FOUND');
  await refused({ signals: [{ type: 'pdq', hash: BRIDGE }], dihedral: true }, 400, 'INVALID_REQUEST');
  await refused({ signals: [{ type: 'pdq', hash: BRIDGE }], items: [{ signals: [{ type: 'pdq', hash: BRIDGE }] }] }, 400, 'INVALID_REQUEST');
  await refused({}, 400, 'INVALID_REQUEST');
  // No body at all: the JSON schema never runs, so the route itself must refuse it, as POST /v1/match does.
  for (const [label, headers] of [
    ['no body, no Content-Type', ngo],
    ['content-length: 0', { ...ngo, 'content-length': '0' }],
  ] as const) {
    const res = await app.inject({ method: 'POST', url: '/v1/batches', headers });
    t.equal(res.statusCode, 400, `${label}: ${res.body}`);
    t.equal(res.json().error.code, 'INVALID_REQUEST', label);
    t.match(res.json().error.message, /JSON.*multipart\/form-data/, `${label}: says what to send`);
  }
  await refused({ signals: Array.from({ length: 10_001 }, () => ({ type: 'md5', hash: 'a'.repeat(32) })) }, 400, 'INVALID_REQUEST');
  await refused({ items: Array.from({ length: 626 }, () => ({ signals: Array.from({ length: 16 }, () => ({ type: 'md5', hash: 'a'.repeat(32) })) })) }, 413, 'TOO_MANY_HASHES');

  // 10,000 hashes are accepted, and read back a page at a time.
  const big = await post({ signals: Array.from({ length: 10_000 }, (_, i) => ({ type: 'md5', hash: i.toString(16).padStart(32, '0') })) });
  t.equal(big.statusCode, 202);
  const first = (await waitForBatch(app, big.json().batchId, ngo)).json();
  t.same(first.progress, { done: 10_000, total: 10_000 });
  t.equal(first.items.length, 100, 'a page of 100 by default');
  t.equal(first.nextOffset, 100);
  const last = (await app.inject({ method: 'GET', url: `/v1/batches/${big.json().batchId}?offset=9900&limit=1000`, headers: ngo })).json();
  t.equal(last.items.length, 100);
  t.equal(last.items[99].index, 9999);
  t.equal(last.nextOffset, null);
});

t.test('image batch: hashed at intake, bad images are failed items, dihedral matching', async (t) => {
  const app = await newApp(t);
  t.teardown(() => app.close());
  addCapture(app);
  const ngo = bearer(app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret);
  const files = ['bridge-1-original.jpg', 'bridge-2-rotate-90.jpg', 'q2821.jpg'];
  const form = (fields: Record<string, string>) =>
    multipartBody(
      [
        ...files.map((name) => ({ name: 'image', filename: name, type: 'image/jpeg', data: readFileSync(join(PDQ_DIR, name)) })),
        { name: 'image', filename: 'truncated.jpg', type: 'image/jpeg', data: readFileSync(join(PDQ_DIR, 'q0122.jpg')).subarray(0, 300) },
        { name: 'image', filename: 'dark.jpg', type: 'image/jpeg', data: readFileSync(join(PDQ_DIR, 'q0003.jpg')) },
        ...Object.entries(fields).map(([name, data]) => ({ name, data })),
      ],
      ngo,
    );

  // An exact copy of the featureless image: found through its digests though PDQ is not used.
  const darkBytes = readFileSync(join(PDQ_DIR, 'q0003.jpg'));
  const darkBank = app.services.store.createBank({ name: 'exact copies' });
  app.services.store.addContent(darkBank.id, [{ provenance: { platform: 'telegram' }, signals: [{ type: 'md5', hash: new Uint8Array(createHash('md5').update(darkBytes).digest()) }] }]);
  const outcomes = (items: { matches?: unknown[]; error?: { code: string }; warnings?: { code: string }[] }[]) =>
    items.map((i) => i.error?.code ?? (i.warnings ? `${i.warnings.map((w) => w.code).join()}: ${i.matches!.length}` : i.matches!.length));

  const plain = await app.inject({ method: 'POST', url: '/v1/batches', ...form({ mode: 'pdq' }) });
  t.equal(plain.statusCode, 202, plain.body);
  let body = (await waitForBatch(app, plain.json().batchId, ngo)).json();
  t.same(body.progress, { done: 5, total: 5 });
  t.same(outcomes(body.items), [1, 0, 0, 'CORRUPT_IMAGE', 'LOW_QUALITY: 1'], 'the rotated copy needs dihedral matching; bad images fail alone; a featureless one finds its exact copy');
  t.match(body.items[4], { status: 'done', matches: [{ signalType: 'md5', distance: 0 }], warnings: [{ code: 'LOW_QUALITY', message: /stretched contrast/ }] });
  t.notMatch(JSON.stringify(app.services.batchStore.listItems(plain.json().batchId, 0, 10)), /bridge|truncated|dark\.jpg/, 'filenames are not kept');

  const dihedral = await app.inject({ method: 'POST', url: '/v1/batches', ...form({ mode: 'pdq', dihedral: 'true', threshold: '31' }) });
  t.equal(dihedral.statusCode, 202);
  body = (await waitForBatch(app, dihedral.json().batchId, ngo)).json();
  t.same(outcomes(body.items), [1, 1, 0, 'CORRUPT_IMAGE', 'LOW_QUALITY: 1'], 'with dihedral, the rotated copy matches too');

  // Robust (the default): rotations always, and region hashes find a cropped repost.
  const bridge = readFileSync(join(PDQ_DIR, 'bridge-1-original.jpg'));
  const { width, height } = await sharp(bridge).metadata();
  const crop = await sharp(bridge)
    .extract({ left: Math.round(width! * 0.15), top: Math.round(height! * 0.15), width: Math.round(width! * 0.7), height: Math.round(height! * 0.7) })
    .jpeg()
    .toBuffer();
  const cropBank = app.services.store.createBank({ name: 'crops' });
  const cropHashes = await hashImage(crop, { signals: ['pdq'], regions: 'content' });
  const [cropId] = app.services.store.addContent(cropBank.id, [
    { provenance: { platform: 'telegram' }, signals: [{ type: 'pdq', hash: cropHashes.pdq!.hash }, ...regionSignals(cropHashes)] },
  ]).contentIds;
  const robust = await app.inject({ method: 'POST', url: '/v1/batches', ...form({}) });
  t.equal(robust.statusCode, 202);
  body = (await waitForBatch(app, robust.json().batchId, ngo)).json();
  t.same(
    outcomes(body.items),
    [2, 1, 0, 'CORRUPT_IMAGE', 'LOW_QUALITY: 1'],
    'robust: the original finds the capture and its centre crop, the turned copy the capture (crops are not turned)',
  );
  t.match(
    body.items[0].matches.find((m: { contentId: number }) => m.contentId === cropId),
    { signalType: 'pdq-region' },
    'the crop was found by a region hash',
  );
  const badMode = await app.inject({ method: 'POST', url: '/v1/batches', ...form({ mode: 'fuzzy' }) });
  t.equal(badMode.statusCode, 400);

  const badBanks = await app.inject({ method: 'POST', url: '/v1/batches', ...form({ banks: 'all' }) });
  t.equal(badBanks.statusCode, 400);
  const tooMany = multipartBody(
    Array.from({ length: 101 }, (_, i) => ({ name: 'image', filename: `${i}.jpg`, data: 'x' })),
    ngo,
  );
  const res = await app.inject({ method: 'POST', url: '/v1/batches', ...tooMany });
  t.equal(res.statusCode, 413);
  t.equal(res.json().error.code, 'TOO_MANY_FILES');
});

t.test('runner: bounded concurrency, one bad item, graceful close, resume', async (t) => {
  const store = new SqliteStore(join(tempDir(t), 'runner.db'));
  t.teardown(() => store.close());
  const batches = new SqliteBatchStore(store.db);
  const batch = batches.create({
    keyId: 1,
    options: {},
    items: Array.from({ length: 20 }, (_, i) => ({ query: [{ type: 'md5', hash: i.toString(16).padStart(32, '0') }] })),
    ttlHours: 1,
  });

  let active = 0;
  let maxActive = 0;
  const matched: number[] = [];
  const slowMatch = async (query: { hash: string }[]): Promise<{ matches: StoredBatchMatch[]; warnings: [] }> => {
    active++;
    maxActive = Math.max(maxActive, active);
    await new Promise((resolve) => setTimeout(resolve, 5));
    active--;
    const n = parseInt(query[0].hash, 16);
    // An error about the item itself fails it alone (errors on our side are retried: see batch-recovery.test.ts).
    if (n === 3) throw new InvalidHashError('signal 0: not hex');
    matched.push(n);
    return { matches: [{ contentId: n, bankId: 1, signalType: 'md5', distance: 0 }], warnings: [] };
  };

  const first = new BatchRunner(batches, slowMatch, { concurrency: 3, ttlHours: 1 });
  first.start();
  while (batches.get(batch.id)!.done < 7) await new Promise((resolve) => setTimeout(resolve, 1));
  await first.close();
  const afterClose = batches.get(batch.id)!;
  t.equal(first.active, 0, 'close waits for items in flight');
  t.equal(afterClose.done, matched.length + 1, 'every started item was recorded (item 3 as an error)');
  t.ok(afterClose.done < 20, 'closed part-way');
  t.equal(afterClose.status, 'running');

  const second = new BatchRunner(batches, slowMatch, { concurrency: 3, ttlHours: 1 });
  second.start();
  while (batches.get(batch.id)!.status !== 'done') await new Promise((resolve) => setTimeout(resolve, 1));
  await second.close();
  t.equal(maxActive, 3, 'never more than the concurrency');
  t.same(
    [...matched].sort((a, b) => a - b),
    Array.from({ length: 20 }, (_, i) => i).filter((i) => i !== 3),
    'every item matched exactly once across the restart',
  );
  const items = batches.listItems(batch.id, 0, 100);
  t.same(items[3].error, { code: 'INVALID_HASH', message: 'signal 0: not hex' }, 'one bad item');
  t.same(batches.get(batch.id)!.done, 20);
  t.ok(items.filter((i) => i.position !== 3).every((i) => i.state === 'done' && i.matches![0].contentId === i.position));
});

t.test('resume after a restart of the service', async (t) => {
  const dir = tempDir(t);
  // Indexes not loaded: the runner has not started, so the batch is only stored.
  const before = await newApp(t, dir, { loadIndexes: false });
  addCapture(before);
  const { key, secret } = before.services.keys.create({ name: 'ngo', role: 'ngo' });
  const created = await before.inject({ method: 'POST', url: '/v1/batches', headers: bearer(secret), payload: { signals: [{ type: 'pdq', hash: BRIDGE }, { type: 'pdq', hash: UNRELATED }] } });
  t.equal(created.statusCode, 202);
  const { batchId } = created.json();
  t.equal(before.services.batchStore.get(batchId)!.status, 'queued');
  await before.close();

  const after = await newApp(t, dir);
  const body = (await waitForBatch(after, batchId, bearer(secret))).json();
  t.equal(body.status, 'done');
  t.same(
    body.items.map((i: { matches: unknown[] }) => i.matches.length),
    [1, 0],
  );
  t.equal(after.services.batchStore.get(batchId)!.keyId, key.id);

  // Closed while matching: items in flight are recorded before the store closes, the rest resume.
  const big = await after.inject({
    method: 'POST',
    url: '/v1/batches',
    headers: bearer(secret),
    payload: { signals: Array.from({ length: 5000 }, (_, i) => ({ type: 'md5', hash: i.toString(16).padStart(32, '0') })) },
  });
  const bigId = big.json().batchId;
  await new Promise((resolve) => setTimeout(resolve, 50));
  await after.close();
  const raw = new SqliteStore(join(dir, 'ncii-match.db'));
  const progress = raw.db.prepare<[string], { done: number; status: string }>('SELECT done, status FROM batches WHERE id = ?').get(bigId)!;
  const finished = raw.db.prepare("SELECT count(*) FROM batch_items WHERE batch_id = ? AND state <> 'pending'").pluck().get(bigId);
  raw.close();
  t.equal(progress.done, finished, 'progress agrees with the recorded items');
  t.ok(progress.done > 0 && progress.done < 5000, `closed part-way (${progress.done} of 5000)`);

  const again = await newApp(t, dir);
  t.teardown(() => again.close());
  t.same((await waitForBatch(again, bigId, bearer(secret))).json().progress, { done: 5000, total: 5000 });
});

t.test('expiry sweep deletes results', async (t) => {
  const app = await newApp(t, undefined, { env: { BATCH_RESULT_TTL_HOURS: '2' } });
  t.teardown(() => app.close());
  const ngo = bearer(app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret);
  const created = await app.inject({ method: 'POST', url: '/v1/batches', headers: ngo, payload: { signals: [{ type: 'pdq', hash: BRIDGE }] } });
  const { batchId } = created.json();
  const done = (await waitForBatch(app, batchId, ngo)).json();
  t.equal(Date.parse(done.expiresAt) - Date.parse(done.createdAt), 2 * 3_600_000);
  const rows = () => app.services.store.db.prepare('SELECT count(*) FROM batch_items WHERE batch_id = ?').pluck().get(batchId);

  t.equal(app.services.batchRunner.sweep(new Date(Date.now() + 3_600_000)), 0, 'not yet');
  t.equal(rows(), 1);
  t.equal(app.services.batchRunner.sweep(new Date(Date.now() + 2 * 3_600_000 + 1000)), 1);
  t.equal(rows(), 0, 'items deleted');
  t.notMatch(JSON.stringify(app.services.store.db.prepare('SELECT * FROM batches WHERE id = ?').get(batchId)), BRIDGE);
  const expired = await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: ngo });
  t.equal(expired.statusCode, 200);
  t.match(expired.json(), { status: 'expired', items: [], progress: { done: 1, total: 1 } });
  app.services.batchRunner.sweep(new Date(Date.now() + 4 * 3_600_000 + 2000));
  t.equal((await app.inject({ method: 'GET', url: `/v1/batches/${batchId}`, headers: ngo })).statusCode, 404, 'forgotten a TTL later');
});
