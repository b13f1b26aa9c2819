/**
 * Index bench: exact range search at radius r over N codes of one signal type,
 * loaded from a real SQLite store into the service's index workers, with a
 * cost curve over sizes up to N.
 *
 *   npm run bench:index -- [--n N] [--data realistic|clustered|random] [--radius R] [--quick]
 *
 * N may be written 1.5e8. The curve has a point at each of 1M, 10M, 50M and
 * 150M up to N, and at N (--quick: 200k and 1M). Per point: the store is
 * filled up to that size, then timed from the store to ready indexes
 * (WorkerSignalIndexes.load, as the server starts); queries/second with one
 * search thread and with two (threads of this bench attached to the same
 * shared index), and with one thread searching them all as one batch; bytes
 * per code (the index's shared memory, and the process's resident memory
 * growth); recall against a brute-force scan of the generated
 * codes on sampled queries, and the brute force's own speed: the baseline.
 * Then the content index's snapshot is written from the loaded index and the
 * indexes are loaded again from it, timed as the service's next start, and
 * checked to answer the sampled queries as the first load did.
 *
 * Codes move by swaps: k set bits cleared and k clear bits set (k uniform in
 * 4..16, so 8..32 bits apart, and 128 bits set stay 128). `realistic` grows a
 * random recursive tree from real photographs' PDQ hashes
 * (fixtures/photo-pdq-hashes.tsv): each code is a swap-edit of an earlier code,
 * like reposts of reposts with edits, so codes keep the photos' bit
 * statistics, have near-duplicates, and spread over the space as real
 * distinct photos do. `clustered` is the stress case: every code is a
 * swap-edit of a fixture hash, so result sets are large. Queries: planted
 * near-duplicates of indexed codes at distances 0..31 and unrelated ones
 * (held-out photographs' hashes, or random codes), half each. The codes are
 * made by two threads in blocks (photo-codes.ts); each curve point's codes are
 * the first n of the largest point's. The last line is one JSON object.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { CodeArena, CODE_WORDS, SCAN_CHUNK, readCodeWords } from '../src/index/code-arena.js';
import { MultiIndexHashing, type IndexHandle } from '../src/index/multi-index-hashing.js';
import { forEachStoredChunk } from '../src/match/signal-indexes.js';
import { WorkerSignalIndexes } from '../src/match/worker-indexes.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { CodePages, blockNeeds, codeBlockCount, loadPhotoHashes, makeCodeBlock, seededCodeTools, type CodeData } from './lib/photo-codes.js';

/** A bench thread: makes blocks of codes, or searches its share of the queries in an attached index. */
type ThreadTask =
  | { task: 'codes'; pages: SharedArrayBuffer[]; n: number; data: CodeData; next: SharedArrayBuffer; done: SharedArrayBuffer }
  | { task: 'search'; handle: IndexHandle; queries: Uint8Array[]; radius: number };

function runThread(task: ThreadTask): void {
  if (task.task === 'codes') {
    const { indexed } = loadPhotoHashes();
    const codes = new CodePages(task.n, task.pages);
    const next = new Int32Array(task.next);
    const done = new Int32Array(task.done);
    const blocks = codeBlockCount(task.n);
    for (let block = Atomics.add(next, 0, 1); block < blocks; block = Atomics.add(next, 0, 1)) {
      for (let need = 1; need <= blockNeeds(block); need++) while (Atomics.load(done, need) === 0) Atomics.wait(done, need, 0, 100);
      makeCodeBlock(codes, block, task.data, indexed);
      Atomics.store(done, block, 1);
      Atomics.notify(done, block);
    }
    parentPort!.postMessage('done');
    return;
  }
  // Scratch slot 3: the service's writer and search thread use 0 and 1, this bench's main thread 2.
  const index = MultiIndexHashing.attach(task.handle, 3);
  for (let i = 0; i < 200; i++) index.search(task.queries[i % task.queries.length], task.radius);
  parentPort!.on('message', () => {
    let hits = 0;
    for (const query of task.queries) hits += index.search(query, task.radius).length;
    parentPort!.postMessage(hits);
  });
  parentPort!.postMessage('ready');
}

function startThread(task: ThreadTask): Worker {
  const entry = new URL(import.meta.url).href;
  return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry)}); })`, { eval: true, workerData: task });
}

function message(worker: Worker): Promise<unknown> {
  return new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
}

interface Settings {
  n: number;
  data: CodeData;
  radius: number;
  sizes: number[];
  queriesPerKind: number;
}

function settings(): Settings {
  const args = process.argv.slice(2);
  const flag = (name: string): string | undefined => {
    const at = args.indexOf(`--${name}`);
    return at >= 0 ? args[at + 1] : undefined;
  };
  const quick = args.includes('--quick');
  const n = Number(flag('n') ?? (quick ? 1e6 : 1.5e8));
  const data = (flag('data') ?? 'realistic') as CodeData;
  const radius = Number(flag('radius') ?? 31);
  if (!Number.isInteger(n) || n < 10_000 || n > 4e9 || !['realistic', 'clustered', 'random'].includes(data) || !Number.isInteger(radius) || radius < 0 || radius > 256) {
    console.error('usage: --n N (10,000..4e9, e.g. 1.5e8) --data realistic|clustered|random --radius R (0..256) --quick');
    process.exit(2);
  }
  const points = quick ? [2e5, 1e6] : [1e6, 1e7, 5e7, 1.5e8];
  const sizes = [...new Set([...points.filter((size) => size < n), n])];
  return { n, data, radius, sizes, queriesPerKind: quick ? 500 : 1000 };
}

const log = (line: string) => console.error(line);
const seconds = (from: number) => (performance.now() - from) / 1000;

/** The data set, made by two threads into shared memory (it is bigger than an ArrayBuffer may be). */
async function makeCodes(n: number, data: CodeData): Promise<CodePages> {
  const codes = new CodePages(n);
  makeCodeBlock(codes, 0, data, loadPhotoHashes().indexed);
  const next = new SharedArrayBuffer(4);
  new Int32Array(next)[0] = 1;
  const done = new SharedArrayBuffer(4 * codeBlockCount(n));
  new Int32Array(done)[0] = 1;
  const threads = [0, 1].map(() => startThread({ task: 'codes', pages: codes.buffers, n, data, next, done }));
  await Promise.all(threads.map(message));
  await Promise.all(threads.map((thread) => thread.terminate()));
  return codes;
}

/** Planted near-duplicates of indexed codes (distance i % 32) among the first `n`, and unrelated codes. */
function makeQueries(codes: CodePages, n: number, data: CodeData, perKind: number, seed: number): { planted: Uint8Array[]; unrelated: Uint8Array[] } {
  const { below, flipBits, swapBits } = seededCodeTools(seed);
  const planted = Array.from({ length: perKind }, (_, i) => {
    const target = below(n);
    const query = codes.code(target).slice();
    flipBits(query, 0, i % 32);
    return query;
  });
  const { heldOut } = loadPhotoHashes();
  const unrelated = Array.from({ length: perKind }, () => {
    if (data === 'random') return Uint8Array.from({ length: 32 }, () => below(256));
    const query = heldOut[below(heldOut.length)].slice();
    swapBits(query, 0, below(9));
    return query;
  });
  return { planted, unrelated };
}

/** Appends codes [from, to) to the store as PDQ signals of one content item, in multi-row inserts (not what is timed). */
function fillStore(store: SqliteStore, contentId: number, codes: CodePages, from: number, to: number): void {
  const rows = 256;
  const values = Array.from({ length: rows }, () => `(${contentId}, 'pdq', ?, 100)`).join(', ');
  const insertMany = store.db.prepare(`INSERT INTO signals (content_item_id, type, hash, quality) VALUES ${values}`);
  const insertOne = store.db.prepare(`INSERT INTO signals (content_item_id, type, hash, quality) VALUES (${contentId}, 'pdq', ?, 100)`);
  const hash = (i: number) => codes.code(i);
  const fill = store.db.transaction((start: number, end: number) => {
    let i = start;
    for (; i + rows <= end; i += rows) insertMany.run(Array.from({ length: rows }, (_, k) => hash(i + k)));
    for (; i < end; i++) insertOne.run(hash(i));
  });
  for (let at = from; at < to; at += 1 << 20) fill(at, Math.min(to, at + (1 << 20)));
}

/** Hits as sortable numbers: owner (signal id) and distance. */
function hitKeys(hits: { owner: number; distance: number }[]): number[] {
  return hits.map((h) => h.owner * 512 + h.distance).sort((a, b) => a - b);
}

/**
 * The baseline: every sampled query against every one of the first n codes,
 * with the WebAssembly popcount scan, a chunk of codes at a time (each chunk
 * converted once, then scanned for every query). Signal ids are 1 + position.
 */
function bruteForce(codes: CodePages, n: number, queries: Uint8Array[], radius: number): { truth: number[][]; seconds: number } {
  const start = performance.now();
  const arena = new CodeArena(SCAN_CHUNK, true);
  const words = queries.map((query) => {
    const q = new Uint32Array(CODE_WORDS);
    readCodeWords(query, q);
    return q;
  });
  const truth: number[][] = queries.map(() => []);
  for (let first = 0; first < n; first += SCAN_CHUNK) {
    const count = Math.min(SCAN_CHUNK, n - first);
    for (let i = 0; i < count; i++) readCodeWords(codes.code(first + i), arena.words, i * CODE_WORDS);
    words.forEach((q, k) => {
      const found = arena.scanChunk(0, count, q, radius);
      for (let h = 0; h < found; h++) truth[k].push((first + arena.hits[h] + 1) * 512 + arena.distance(arena.hits[h], q));
    });
  }
  return { truth: truth.map((keys) => keys.sort((a, b) => a - b)), seconds: seconds(start) };
}

interface Point {
  n: number;
  loadSeconds: number;
  /** The floor of any load that reads the store: one pass over its signals, nothing done with them. */
  storeReadSeconds: number;
  /** Writing the content index's snapshot from the loaded index (as the service does after a large load). */
  snapshotWriteSeconds: number;
  snapshotBytesPerCode: number;
  /** From the snapshot (and the store's changes since: none here) to ready indexes, as the next start. */
  snapshotLoadSeconds: number;
  /** Sampled queries whose answers after the load from the snapshot were those of the first load. */
  snapshotSameAnswers: number;
  qps: number;
  qps2Threads: number;
  speedup: number;
  /** One thread, every query in one batch (searchBatch, as the service's index threads search a message). */
  qpsBatch: number;
  batchSpeedup: number;
  bytesPerCode: number;
  rssBytesPerCode: number;
  shards: number;
  tables: number;
  substringBits: number;
  hitsPerQuery: number;
  recall: number;
  exactQueries: number;
  checkedQueries: number;
  bruteForceQps: number;
}

/**
 * Queries per second of one thread (this one) and of two (this one and a bench
 * thread, half the queries each), over the same queries: best of three rounds
 * each, alternating, as other work on the machine comes and goes.
 */
async function measureThreads(handle: IndexHandle, queries: Uint8Array[], radius: number): Promise<{ qps: number; qps2Threads: number; qpsBatch: number; batchDiffers: number; results: number[][] }> {
  const index = MultiIndexHashing.attach(handle, 2);
  for (let i = 0; i < 200; i++) index.search(queries[i % queries.length], radius);
  const half = queries.length >> 1;
  const helper = startThread({ task: 'search', handle, queries: queries.slice(half), radius });
  await message(helper);
  let results: number[][] = [];
  let qps = 0;
  let qps2Threads = 0;
  let qpsBatch = 0;
  let batchDiffers = 0;
  const packed = new Uint8Array(queries.length * 32);
  queries.forEach((query, i) => packed.set(query, i * 32));
  for (let round = 0; round < 3; round++) {
    let start = performance.now();
    results = queries.map((query) => hitKeys(index.search(query, radius)));
    qps = Math.max(qps, queries.length / seconds(start));
    start = performance.now();
    const batch = index.searchBatch(packed, radius);
    qpsBatch = Math.max(qpsBatch, queries.length / seconds(start));
    batchDiffers = batch.filter((hits, i) => hitKeys(hits).join() !== results[i].join()).length;
    start = performance.now();
    const helped = message(helper);
    helper.postMessage('go');
    for (const query of queries.slice(0, half)) index.search(query, radius);
    await helped;
    qps2Threads = Math.max(qps2Threads, queries.length / seconds(start));
  }
  await helper.terminate();
  return { qps, qps2Threads, qpsBatch, batchDiffers, results };
}

/**
 * Loads the indexes again from the snapshot `measurePoint` wrote, timed as the
 * service's next start; checks that they answer the sampled queries as the
 * first load did. The snapshot is then removed and forgotten.
 */
async function measureSnapshotLoad(store: SqliteStore, snapshotPath: string, sample: { queries: Uint8Array[]; results: number[][] }, radius: number): Promise<{ seconds: number; same: number }> {
  const start = performance.now();
  const indexes = await WorkerSignalIndexes.load(store, { snapshotPath });
  const loadSeconds = seconds(start);
  try {
    if (!indexes.report.fromSnapshot) throw new Error('the index was not loaded from its snapshot');
    const index = MultiIndexHashing.attach((await indexes.handles())['content:pdq'], 2);
    const same = sample.queries.filter((query, i) => hitKeys(index.search(query, radius)).join() === sample.results[i].join()).length;
    return { seconds: loadSeconds, same };
  } finally {
    indexes.close();
    store.forgetIndexSnapshot();
    rmSync(snapshotPath, { force: true });
  }
}

/** A point before its load from the snapshot (measureSnapshotLoad, once this load's memory is gone). */
type MeasuredPoint = Omit<Point, 'snapshotLoadSeconds' | 'snapshotSameAnswers'>;

async function measurePoint(
  store: SqliteStore,
  codes: CodePages,
  n: number,
  s: Settings,
  collect: () => void,
): Promise<{ point: MeasuredPoint; snapshotPath: string; sample: { queries: Uint8Array[]; results: number[][] } }> {
  const { planted, unrelated } = makeQueries(codes, n, s.data, s.queriesPerKind, 0x51ed + n);
  const queries = [...planted, ...unrelated];
  const readStart = performance.now();
  let read = 0;
  forEachStoredChunk(store, {}, ({ ids }) => (read += ids.length));
  const storeReadSeconds = seconds(readStart);
  if (read !== n) throw new Error(`read ${read} of ${n} signals`);
  collect();
  const rssBefore = process.memoryUsage().rss;
  const loadStart = performance.now();
  const indexes = await WorkerSignalIndexes.load(store);
  const loadSeconds = seconds(loadStart);
  const rssBytesPerCode = (process.memoryUsage().rss - rssBefore) / n;
  if (indexes.size('content', 'pdq') !== n) throw new Error(`loaded ${indexes.size('content', 'pdq')} of ${n} codes`);
  const handle = (await indexes.handles())['content:pdq'];
  const shape = MultiIndexHashing.attach(handle, 2);
  log(`  ${n}: store to ready index ${loadSeconds.toFixed(1)} s (one pass over the store alone: ${storeReadSeconds.toFixed(1)} s); ${JSON.stringify(shape.shape)}`);
  const { qps, qps2Threads, qpsBatch, batchDiffers, results } = await measureThreads(handle, queries, s.radius);
  if (batchDiffers > 0) throw new Error(`a batch answered ${batchDiffers} queries otherwise than single searches`);
  log(`  ${n}: ${qps.toFixed(0)} q/s on one thread, ${qps2Threads.toFixed(0)} on two; ${qpsBatch.toFixed(0)} on one thread in one batch of ${queries.length}`);

  // Brute force on a sample, as many queries as take about a minute at this size, planted and unrelated alike.
  const perKind = Math.min(s.queriesPerKind, Math.max(100, Math.round(1.5e10 / n)));
  const sample = [...planted.slice(0, perKind).map((_, i) => i), ...unrelated.slice(0, perKind).map((_, i) => planted.length + i)];
  const { truth, seconds: bruteSeconds } = bruteForce(codes, n, sample.map((i) => queries[i]), s.radius);
  let expected = 0;
  let found = 0;
  let exactQueries = 0;
  sample.forEach((query, k) => {
    const got = new Set(results[query]);
    expected += truth[k].length;
    found += truth[k].filter((hit) => got.has(hit)).length;
    if (truth[k].join() === results[query].join()) exactQueries++;
  });
  const recall = expected === 0 ? 1 : found / expected;
  log(`  ${n}: recall ${found}/${expected}, identical answers on ${exactQueries}/${sample.length}; brute force ${(sample.length / bruteSeconds).toFixed(2)} q/s`);
  const { shards, tableCount, substringBits } = shape.shape;
  const snapshotPath = `${store.db.name}.snapshot`;
  const snapshotStart = performance.now();
  const snapshotBytes = await indexes.saveSnapshot(store, snapshotPath);
  const snapshotWriteSeconds = seconds(snapshotStart);
  const byteLength = shape.byteLength;
  indexes.close();
  log(`  ${n}: snapshot written in ${snapshotWriteSeconds.toFixed(1)} s (${(snapshotBytes / n).toFixed(1)} bytes a code)`);
  const point: MeasuredPoint = {
    n,
    loadSeconds: round(loadSeconds, 2),
    storeReadSeconds: round(storeReadSeconds, 2),
    snapshotWriteSeconds: round(snapshotWriteSeconds, 2),
    snapshotBytesPerCode: round(snapshotBytes / n, 1),
    qps: Math.round(qps),
    qps2Threads: Math.round(qps2Threads),
    speedup: round(qps2Threads / qps, 2),
    qpsBatch: Math.round(qpsBatch),
    batchSpeedup: round(qpsBatch / qps, 2),
    bytesPerCode: round(byteLength / n, 1),
    rssBytesPerCode: round(rssBytesPerCode, 1),
    shards,
    tables: tableCount,
    substringBits,
    hitsPerQuery: round(results.reduce((sum, r) => sum + r.length, 0) / queries.length, 2),
    recall,
    exactQueries,
    checkedQueries: sample.length,
    bruteForceQps: round(sample.length / bruteSeconds, 2),
  };
  return { point, snapshotPath, sample: { queries: sample.map((i) => queries[i]), results: sample.map((i) => results[i]) } };
}

function round(x: number, digits: number): number {
  return Number(x.toFixed(digits));
}

async function main(): Promise<void> {
  const s = settings();
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as () => void;
  let start = performance.now();
  const codes = await makeCodes(s.n, s.data);
  const generateSeconds = seconds(start);
  log(`${s.n} ${s.data} codes in ${generateSeconds.toFixed(1)} s; radius ${s.radius}; curve at ${s.sizes.join(', ')}`);

  mkdirSync('bench/out', { recursive: true });
  const path = `bench/out/index-bench-${process.pid}.sqlite`;
  const store = new SqliteStore(path);
  const removeStore = () => {
    store.close();
    for (const suffix of ['', '-wal', '-shm', '.snapshot', '.snapshot.partial']) rmSync(`${path}${suffix}`, { force: true });
  };
  const curve: Point[] = [];
  try {
    const bank = store.createBank({ name: 'bench' });
    const { contentIds } = store.addContent(bank.id, [{ provenance: { platform: 'telegram' } }]);
    let filled = 0;
    for (const n of s.sizes) {
      start = performance.now();
      fillStore(store, contentIds[0], codes, filled, n);
      filled = n;
      log(`store filled to ${n} signals (${seconds(start).toFixed(1)} s)`);
      const { point, snapshotPath, sample } = await measurePoint(store, codes, n, s, gc);
      // The first load's shared memory must be gone before the second: at 150M codes two do not fit.
      await new Promise((resolve) => setTimeout(resolve, 2000));
      gc();
      const reload = await measureSnapshotLoad(store, snapshotPath, sample, s.radius);
      log(`  ${n}: loaded back from the snapshot in ${reload.seconds.toFixed(1)} s, same answers on ${reload.same}/${sample.queries.length}`);
      curve.push({ ...point, snapshotLoadSeconds: round(reload.seconds, 2), snapshotSameAnswers: reload.same });
    }
  } finally {
    removeStore();
  }
  const last = curve.at(-1)!;
  const at10M = curve.find((point) => point.n === 1e7);
  console.log(
    JSON.stringify({
      n: s.n,
      data: s.data,
      radius: s.radius,
      generateSeconds: round(generateSeconds, 1),
      // Other work on the machine at the end (1-minute load average, 2 cores): the thread speed-up depends on it.
      loadAverage: round(loadavg()[0], 2),
      qps: last.qps,
      qps2Threads: last.qps2Threads,
      speedup: last.speedup,
      qpsBatch: last.qpsBatch,
      batchSpeedup: last.batchSpeedup,
      bytesPerCode: last.bytesPerCode,
      rssBytesPerCode: last.rssBytesPerCode,
      loadSeconds: last.loadSeconds,
      storeReadSeconds: last.storeReadSeconds,
      snapshotLoadSeconds: last.snapshotLoadSeconds,
      snapshotWriteSeconds: last.snapshotWriteSeconds,
      snapshotSameAnswers: Math.min(...curve.map((point) => point.snapshotSameAnswers / point.checkedQueries)),
      recall: Math.min(...curve.map((point) => point.recall)),
      bruteForceQps: last.bruteForceQps,
      ...(at10M && last.n > at10M.n ? { qpsRatio10M: round(at10M.qps / last.qps, 2) } : {}),
      curve,
    }),
  );
}

// Last: main and the threads use the constants above.
if (!isMainThread) runThread(workerData as ThreadTask);
else await main();
