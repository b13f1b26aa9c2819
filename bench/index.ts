/**
 * Index bench: exact range search at radius r over N codes, random or derived
 * from real photographs' PDQ hashes (fixtures/photo-pdq-hashes.tsv).
 *
 *   npm run bench:index -- [--n N] [--data realistic|clustered|random] [--radius R] [--tables M] [--quick]
 *
 * Codes move by swaps: k set bits cleared and k clear bits set (k uniform in
 * 4..16, so 8..32 bits apart, and 128 bits set stay 128). `realistic` grows a
 * random recursive tree from the fixture hashes: each code is a swap-edit of a
 * uniformly chosen earlier code, like reposts of reposts with edits, so codes
 * keep the photos' bit statistics, have near-duplicates, and spread over the
 * space as real distinct photos do (fixture: distinct photographs are 96+ bits
 * apart in 99.9% of pairs). `clustered` is the stress case: every code is a
 * swap-edit of a fixture hash, i.e. N / 1,540 near-copies of each photo, so
 * result sets are large. Queries: 1,000 planted near-duplicates of indexed codes at
 * distances 0..31 and 1,000 unrelated ones (held-out photographs' hashes, or
 * random codes). Recall is against a brute-force scan in the same run. Load time
 * is from a real SQLite store file (SqliteStore.iterateSignalChunks) to a ready
 * index. The last line is one JSON object.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { SqliteStore } from '../src/store/sqlite-store.js';
import { MultiIndexHashing } from '../src/index/multi-index-hashing.js';
import { CodeArena, CODE_WORDS, SCAN_CHUNK, readCodeWords } from '../src/index/code-arena.js';
import type { RangeHit } from '../src/index/types.js';
import { loadPhotoHashes, seededCodeTools } from './lib/photo-codes.js';

const args = process.argv.slice(2);
const flag = (name: string): string | undefined => {
  const at = args.indexOf(`--${name}`);
  return at >= 0 ? args[at + 1] : undefined;
};
const quick = args.includes('--quick');
const n = Number(flag('n') ?? (quick ? 200_000 : 1_000_000));
const data = flag('data') ?? 'realistic';
const DATA_KINDS = ['realistic', 'clustered', 'random'];
const radius = Number(flag('radius') ?? 31);
/** Fixes the table count instead of the index's own choice (for tuning). */
const tableCount = flag('tables') === undefined ? undefined : Number(flag('tables'));
const PLANTED = 1000;
const UNRELATED = 1000;
if (!Number.isInteger(n) || n < PLANTED || !DATA_KINDS.includes(data)) {
  console.error('usage: --n N (>= 1000) --data realistic|clustered|random --radius R --quick');
  process.exit(2);
}

const { random32, below, flipBits, swapBits } = seededCodeTools(0x9e3779b9);
const log = (line: string) => console.error(line);

function makeCodes(): { codes: Uint8Array; unrelated: Uint8Array[]; bases: number } {
  const codes = new Uint8Array(n * 32);
  if (data === 'random') {
    const words = new Uint32Array(codes.buffer);
    for (let i = 0; i < words.length; i++) words[i] = random32();
    const unrelated = Array.from({ length: UNRELATED }, () => Uint8Array.from({ length: 32 }, () => below(256)));
    return { codes, unrelated, bases: 0 };
  }
  const { indexed, heldOut } = loadPhotoHashes();
  for (let i = 0; i < n; i++) {
    if (data === 'clustered' || i < indexed.length) {
      codes.set(indexed[i < indexed.length ? i : below(indexed.length)], i * 32);
    } else {
      const parent = below(i);
      codes.copyWithin(i * 32, parent * 32, parent * 32 + 32);
    }
    swapBits(codes, i * 32, 4 + below(13));
  }
  const unrelated = Array.from({ length: UNRELATED }, () => {
    const q = heldOut[below(heldOut.length)].slice();
    swapBits(q, 0, below(9));
    return q;
  });
  return { codes, unrelated, bases: indexed.length };
}

function seconds(from: number): number {
  return (performance.now() - from) / 1000;
}

/** Fills a store file with the codes as PDQ signals of one content item, then times store-to-ready-index. */
function measureLoad(codes: Uint8Array): { loadSeconds: number; readSeconds: number; loaded: number } {
  mkdirSync('bench/out', { recursive: true });
  const path = `bench/out/index-bench-${process.pid}.sqlite`;
  rmSync(path, { force: true });
  let store = new SqliteStore(path);
  const bank = store.createBank({ name: 'bench' });
  const { contentIds } = store.addContent(bank.id, [{ provenance: { platform: 'telegram' } }]);
  // Bulk fill straight into the store's schema: the store API is not what is timed here.
  const insert = store.db.prepare('INSERT INTO signals (content_item_id, type, hash, quality) VALUES (?, ?, ?, ?)');
  const fill = store.db.transaction((from: number, to: number) => {
    for (let i = from; i < to; i++) insert.run(contentIds[0], 'pdq', codes.subarray(i * 32, i * 32 + 32), 100);
  });
  const fillStart = performance.now();
  for (let from = 0; from < n; from += 200_000) fill(from, Math.min(n, from + 200_000));
  store.close();
  log(`store filled with ${n} signals in ${seconds(fillStart).toFixed(1)} s`);

  const start = performance.now();
  store = new SqliteStore(path);
  const all = new Uint8Array(n * 32);
  const ids = new Uint32Array(n);
  let loaded = 0;
  for (const batch of store.iterateSignalChunks('pdq')) {
    all.set(batch.codes, loaded * 32);
    ids.set(batch.ids, loaded);
    loaded += batch.count;
  }
  const readSeconds = seconds(start);
  const index = new MultiIndexHashing({ tableCount });
  index.addMany(all.subarray(0, loaded * 32), ids.subarray(0, loaded));
  const loadSeconds = seconds(start);
  store.close();
  rmSync(path, { force: true });
  rmSync(`${path}-wal`, { force: true });
  rmSync(`${path}-shm`, { force: true });
  return { loadSeconds, readSeconds, loaded: index.size };
}

function key(hits: RangeHit[]): string {
  return hits
    .map((h) => h.owner * 512 + h.distance)
    .sort((a, b) => a - b)
    .join(',');
}

const genStart = performance.now();
const { codes, unrelated, bases } = makeCodes();
const queries: Uint8Array[] = [];
for (let i = 0; i < PLANTED; i++) {
  const target = below(n);
  const planted = codes.slice(target * 32, target * 32 + 32);
  flipBits(planted, 0, i % 32);
  queries.push(planted);
}
queries.push(...unrelated);
log(`${n} ${data} codes${bases ? ` from ${bases} photo hashes` : ''}, ${queries.length} queries, radius ${radius} (${seconds(genStart).toFixed(1)} s)`);

const buildStart = performance.now();
const index = new MultiIndexHashing({ tableCount });
index.addMany(codes, Uint32Array.from({ length: n }, (_, i) => i));
const buildSeconds = seconds(buildStart);
const shape = index.shape;
const bytesPerHash = index.byteLength / n;
log(`build ${buildSeconds.toFixed(2)} s: ${shape.tableCount} tables of ${shape.substringBits} bits, ${shape.indexedCodes} distinct codes, ${bytesPerHash.toFixed(1)} bytes/hash`);

// Warm up, then time every query once.
for (let i = 0; i < 200; i++) index.search(queries[i % queries.length], radius);
const results: RangeHit[][] = new Array(queries.length);
const searchStart = performance.now();
for (let i = 0; i < queries.length; i++) results[i] = index.search(queries[i], radius);
const searchSeconds = seconds(searchStart);
const qps = queries.length / searchSeconds;
const hitCount = results.reduce((sum, r) => sum + r.length, 0);
log(`MIH: ${qps.toFixed(0)} q/s, ${hitCount} hits`);

// Brute-force oracle over the same codes with the WebAssembly scan.
const arena = new CodeArena(n, true);
for (let i = 0; i < n; i++) readCodeWords(codes.subarray(i * 32, i * 32 + 32), arena.words, i * CODE_WORDS);
const bruteQueries = queries;
const q = new Uint32Array(CODE_WORDS);
let expected = 0;
let found = 0;
let exactQueries = 0;
const bruteStart = performance.now();
for (const query of bruteQueries) {
  readCodeWords(query, q);
  const truth: RangeHit[] = [];
  for (let first = 0; first < n; first += SCAN_CHUNK) {
    const hits = arena.scanChunk(first, Math.min(SCAN_CHUNK, n - first), q, radius);
    for (let h = 0; h < hits; h++) truth.push({ owner: first + arena.hits[h], distance: arena.distance(first + arena.hits[h], q) });
  }
  const got = results[queries.indexOf(query)];
  const gotKeys = new Set(got.map((h) => h.owner * 512 + h.distance));
  expected += truth.length;
  found += truth.filter((h) => gotKeys.has(h.owner * 512 + h.distance)).length;
  if (key(truth) === key(got)) exactQueries++;
}
const bruteForceQps = bruteQueries.length / seconds(bruteStart);
const recall = expected === 0 ? 1 : found / expected;
log(`brute force: ${bruteForceQps.toFixed(1)} q/s; recall ${found}/${expected} = ${recall}; identical answers on ${exactQueries}/${bruteQueries.length} queries`);

const { loadSeconds, readSeconds, loaded } = measureLoad(codes);
log(`store to ready index: ${loadSeconds.toFixed(2)} s (${loaded} entries; reading the store ${readSeconds.toFixed(2)} s, then building)`);

console.log(
  JSON.stringify({
    n,
    data,
    radius,
    qps: Math.round(qps),
    bruteForceQps: Number(bruteForceQps.toFixed(1)),
    recall,
    exactQueries,
    checkedQueries: bruteQueries.length,
    hits: hitCount,
    bytesPerHash: Number(bytesPerHash.toFixed(1)),
    buildSeconds: Number(buildSeconds.toFixed(2)),
    loadSeconds: Number(loadSeconds.toFixed(2)),
    storeReadSeconds: Number(readSeconds.toFixed(2)),
    tables: shape.tableCount,
    substringBits: shape.substringBits,
  }),
);
