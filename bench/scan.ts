/**
 * Scan bench: a scheduled scan's first run over N captured items against C
 * victims' cases, then an incremental run over new items. Each item and case
 * carries as many hashes as the service keeps for a real photo: the counts
 * are measured at the start by hashing the reference photos in
 * fixtures/pdq-reference as ingest (a PDQ hash and the content's region
 * hashes) and a case (PDQ's 8 turns and mirrors and the query's region
 * hashes) do, and the mean is used (`--item-regions`, `--case-regions` set
 * them instead), each region hash of a kind (frame, crop, patch, ...) in
 * the proportions measured on each side, as the service stores them; with
 * `--kinds none` every region hash is of unknown kind, so every search
 * compares every kind (the service before region kinds were stored: the
 * baseline for the split of src/match/region-groups.ts). The codes themselves
 * are random. Near-duplicates are planted (1 item in 100: its PDQ or one
 * region 0-24 bits from a case's region of a kind that can match it, as a
 * real repost's is: `npm run bench:quality -- --kinds`), and recall is
 * checked in the same run against a brute-force comparison of a sample of
 * cases with every item, every kind with every kind: the baseline, whose
 * speed is reported beside the scan's.
 *
 *   npm run bench:scan -- [--quick] [--items N] [--cases C] [--incremental K] [--item-regions R] [--case-regions R] [--kinds none]
 *
 * Defaults: 1M items, 10k cases, 10k incremental items (--quick: 20k, 100,
 * 1k). The store is a real SQLite file in a temp dir, the indexes the
 * service's worker indexes, the run `runScanToCompletion` (the service's own
 * run, through the matcher). Each run reports its wall-clock seconds, the
 * CPU seconds of the whole process (every thread; what other work on a
 * shared machine inflates least), and which side's hashes were the queries
 * (`content`: all items against the cases, as a first run does when items
 * carry fewer hashes than cases; `cases`; `both`). The last line is one JSON
 * object.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { popcount32 } from '../src/hashing/hamming.js';
import { pdq } from '../src/hashing/registry.js';
import { Matcher } from '../src/match/matcher.js';
import { WorkerSignalIndexes } from '../src/match/worker-indexes.js';
import { newCaseNumber } from '../src/services/case-credentials.js';
import { runScanToCompletion } from '../src/services/scans.js';
import { hashPin } from '../src/store/pin.js';
import { SqliteScanStore } from '../src/store/scans.js';
import { SqliteStore } from '../src/store/sqlite-store.js';
import type { NewSignal } from '../src/store/store.js';
import type { RegionKind } from '../src/hashing/pdq-region.js';
import { regionsCanMatch } from '../src/match/region-groups.js';
import { kindsOf, measuredRegionCounts } from './lib/region-counts.js';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    items: { type: 'string' },
    cases: { type: 'string' },
    incremental: { type: 'string' },
    'item-regions': { type: 'string' },
    'case-regions': { type: 'string' },
    kinds: { type: 'string', default: 'measured' },
  },
});
if (!['measured', 'none'].includes(values.kinds!)) throw new Error('--kinds must be measured or none');
const ITEMS = Number(values.items ?? (values.quick ? 20_000 : 1_000_000));
const CASES = Number(values.cases ?? (values.quick ? 100 : 10_000));
const INCREMENTAL = Number(values.incremental ?? (values.quick ? 1_000 : 10_000));
const CASE_PDQ = 8;

const measured = await measuredRegionCounts();
const ITEM_REGIONS = Number(values['item-regions'] ?? measured.item);
const CASE_REGIONS = Number(values['case-regions'] ?? measured.case);
const WITH_KINDS = values.kinds === 'measured';
/** The kind of each region slot of an item and of a case (null: unknown, with --kinds none). */
const ITEM_KINDS: (RegionKind | null)[] = WITH_KINDS ? kindsOf(measured.itemKinds, ITEM_REGIONS) : Array(ITEM_REGIONS).fill(null);
const CASE_KINDS: (RegionKind | null)[] = WITH_KINDS ? kindsOf(measured.caseKinds, CASE_REGIONS) : Array(CASE_REGIONS).fill(null);
/** For each case region slot, the item region slots of a kind it can match (where a planted repost of it may be). */
const PLANTABLE = CASE_KINDS.map((kind) => ITEM_KINDS.flatMap((itemKind, slot) => (regionsCanMatch(kind, itemKind) ? [slot] : [])));
const PLANT_EVERY = 100;
const THRESHOLD = pdq.defaultThreshold;
/** Cases compared by brute force with every item. */
const SAMPLE_CASES = Math.max(2, Math.min(20, Math.floor(3e8 / (ITEMS * (CASE_PDQ + CASE_REGIONS * ITEM_REGIONS)))));

const code = () => new Uint8Array(randomBytes(32));
function near(hash: Uint8Array, bits: number): Uint8Array {
  const out = hash.slice();
  const flipped = new Set<number>();
  while (flipped.size < bits) flipped.add(Math.floor(Math.random() * 256));
  for (const bit of flipped) out[bit >> 3] ^= 1 << (bit & 7);
  return out;
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 200).unref();
const log = (message: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${message}\n`);

const dir = mkdtempSync(join(tmpdir(), 'ncii-bench-scan-'));
const store = new SqliteStore(join(dir, 'bench.db'));
// Filling a throw-away database: no fsync per transaction.
store.db.pragma('synchronous = OFF');
const scans = new SqliteScanStore(store.db);
const bank = store.createBank({ name: 'captured' });

/** Each case's hashes, kept for planting and for the brute force. */
const caseHashes: { id: number; pdq: Uint8Array[]; regions: Uint8Array[] }[] = [];
async function addCases(count: number): Promise<void> {
  const pinHash = await hashPin('123412341234');
  for (let i = 0; i < count; i++) {
    const hashes = { pdq: Array.from({ length: CASE_PDQ }, code), regions: Array.from({ length: CASE_REGIONS }, code) };
    const signals: NewSignal[] = [...hashes.pdq.map((hash) => ({ type: 'pdq', hash })), ...hashes.regions.map((hash, r) => ({ type: 'pdq-region', hash, region: CASE_KINDS[r] }))];
    const created = store.createCase({ caseNumber: newCaseNumber(), pinHash, signals });
    caseHashes.push({ id: created.id, ...hashes });
  }
}

/** Adds items, one in PLANT_EVERY a near copy (whole or region) of a random case's hash; returns the planted pairs. */
function addItems(count: number): number {
  let planted = 0;
  for (let from = 0; from < count; from += 5000) {
    const items = Array.from({ length: Math.min(5000, count - from) }, () => {
      const hashes: Uint8Array[] = [code(), ...Array.from({ length: ITEM_REGIONS }, code)];
      if (Math.random() < 1 / PLANT_EVERY) {
        const c = caseHashes[Math.floor(Math.random() * caseHashes.length)];
        const bits = Math.floor(Math.random() * 25);
        if (Math.random() < 0.5) hashes[0] = near(c.pdq[Math.floor(Math.random() * CASE_PDQ)], bits);
        else {
          const r = Math.floor(Math.random() * CASE_REGIONS);
          const slots = PLANTABLE[r];
          hashes[1 + slots[Math.floor(Math.random() * slots.length)]] = near(c.regions[r], bits);
        }
        planted++;
      }
      return {
        provenance: { platform: 'telegram', channel: 'bench' },
        signals: hashes.map((hash, i): NewSignal => (i === 0 ? { type: 'pdq', hash } : { type: 'pdq-region', hash, region: ITEM_KINDS[i - 1] })),
      };
    });
    store.addContent(bank.id, items);
  }
  return planted;
}

/** Hashes as 32-bit words, 8 a hash, back to back. */
function words(hashes: Uint8Array[]): Uint32Array {
  const out = new Uint32Array(hashes.length * 8);
  hashes.forEach((hash, i) => {
    const view = new DataView(hash.buffer, hash.byteOffset, 32);
    for (let w = 0; w < 8; w++) out[i * 8 + w] = view.getUint32(w * 4);
  });
  return out;
}

/** Whether any of `theirs` (words) is within THRESHOLD of `ours` (8 words): every hash compared in full. */
function anyWithin(theirs: Uint32Array, ours: Uint32Array): boolean {
  for (let at = 0; at < theirs.length; at += 8) {
    let d = 0;
    for (let w = 0; w < 8; w++) d += popcount32(theirs[at + w] ^ ours[w]);
    if (d <= THRESHOLD) return true;
  }
  return false;
}

/** Every item a case matches by comparing it with every item's hashes (same type), and the comparisons per second. */
function bruteForce(caseIds: Set<number>): { pairs: Set<string>; comparisonsPerSecond: number } {
  const started = performance.now();
  const sampled = caseHashes.filter((c) => caseIds.has(c.id)).map((c) => ({ id: c.id, pdq: words(c.pdq), regions: words(c.regions) }));
  const pairs = new Set<string>();
  let comparisons = 0;
  const ours = new Uint32Array(8);
  const rows = store.db.prepare('SELECT content_item_id AS item, type, hash FROM signals WHERE content_item_id IS NOT NULL').raw().iterate() as Iterable<[number, string, Buffer]>;
  for (const [item, type, hash] of rows) {
    for (let w = 0; w < 8; w++) ours[w] = hash.readUInt32BE(w * 4);
    for (const c of sampled) {
      const theirs = type === 'pdq' ? c.pdq : c.regions;
      comparisons += theirs.length / 8;
      if (anyWithin(theirs, ours)) pairs.add(`${c.id}:${item}`);
    }
  }
  return { pairs, comparisonsPerSecond: comparisons / ((performance.now() - started) / 1000) };
}

async function timedRun(matcher: Matcher, scanId: number) {
  const started = performance.now();
  const cpu = process.cpuUsage();
  let last = 0;
  const run = await runScanToCompletion({ scans, matcher, onProgress: (p) => {
    if (performance.now() - last < 10_000) return;
    last = performance.now();
    log(`  items ${p.itemsDone}/${p.itemsTotal}, cases ${p.casesDone}/${p.casesTotal}, ${p.newMatches} matches`);
  } }, scanId);
  const used = process.cpuUsage(cpu);
  // Every thread of the process (the index threads too), so a figure that other work on the machine slows less than the wall clock.
  return { run, seconds: (performance.now() - started) / 1000, cpuSeconds: (used.user + used.system) / 1e6 };
}

/** How a run was made: which side's hashes were the queries. */
const sideOf = (run: { itemsTotal: number; casesTotal: number }) => (run.casesTotal === 0 ? 'content' : run.itemsTotal === 0 ? 'cases' : 'both');

function mix(kinds: (RegionKind | null)[]): string {
  const counts = new Map<string, number>();
  for (const kind of kinds) counts.set(kind ?? 'unknown', (counts.get(kind ?? 'unknown') ?? 0) + 1);
  return [...counts].map(([kind, n]) => `${kind} ${n}`).join(', ');
}
log(`filling: ${CASES} cases x ${CASE_PDQ + CASE_REGIONS} hashes, ${ITEMS} items x ${ITEM_REGIONS + 1} hashes`);
log(`region kinds of a case: ${mix(CASE_KINDS)}; of an item: ${mix(ITEM_KINDS)}`);
let started = performance.now();
await addCases(CASES);
const planted = addItems(ITEMS);
const fillSeconds = (performance.now() - started) / 1000;
started = performance.now();
const indexes = await WorkerSignalIndexes.load(store);
const loadSeconds = (performance.now() - started) / 1000;
log(`filled in ${fillSeconds.toFixed(1)} s, indexes loaded in ${loadSeconds.toFixed(1)} s`);
const matcher = new Matcher(store, indexes);
const scan = scans.createScan({ name: 'bench', cron: '0 * * * *', timeZone: 'UTC', banks: null, caseIds: null, thresholds: {}, enabled: true, nextRunAt: null, createdBy: 'bench' });

log('first run');
const first = await timedRun(matcher, scan.id);
log(`first run: ${first.seconds.toFixed(1)} s, ${first.run.newMatches} matches`);

const sample = new Set(caseHashes.slice(0, SAMPLE_CASES).map((c) => c.id));
const brute = bruteForce(sample);
const recorded = new Set(
  (store.db.prepare('SELECT case_id AS c, content_id AS i FROM scan_matches').all() as { c: number; i: number }[]).filter((m) => sample.has(m.c)).map((m) => `${m.c}:${m.i}`),
);
const found = [...brute.pairs].filter((p) => recorded.has(p)).length;
const recall = brute.pairs.size === 0 ? 1 : found / brute.pairs.size;
const falseMatches = [...recorded].filter((p) => !brute.pairs.has(p)).length;
log(`recall on ${SAMPLE_CASES} cases: ${found}/${brute.pairs.size}; ${falseMatches} matches brute force does not find`);

const plantedNew = addItems(INCREMENTAL);
// Captured over hours in service, the new items have reached the indexes (and any table rebuild they caused is done) before a run: a search waits until the writes before it are applied.
for (let i = 0; i < 4; i++) await indexes.searchMany('content', [{ type: 'pdq', code: code(), radius: 0 }]);
log(`incremental run over ${INCREMENTAL} new items`);
const incremental = await timedRun(matcher, scan.id);
log(`incremental run: ${incremental.seconds.toFixed(2)} s, ${incremental.run.newMatches} matches`);

// The baseline: comparing every case hash with every item hash, as brute force does, at its measured speed.
const bruteFullSeconds = (CASES * ITEMS * (CASE_PDQ + CASE_REGIONS * ITEM_REGIONS)) / brute.comparisonsPerSecond;
const result = {
  seconds: Number(first.seconds.toFixed(2)),
  cpuSeconds: Number(first.cpuSeconds.toFixed(1)),
  queried: sideOf(first.run),
  items: ITEMS,
  cases: CASES,
  hashesPerCase: CASE_PDQ + CASE_REGIONS,
  hashesPerItem: ITEM_REGIONS + 1,
  regionCounts: values['item-regions'] && values['case-regions'] ? 'given' : `measured on ${measured.photos} reference photos`,
  regionKinds: WITH_KINDS ? 'measured' : 'none',
  matches: first.run.newMatches,
  planted,
  recall: Number(recall.toFixed(4)),
  recallSample: { cases: SAMPLE_CASES, pairs: brute.pairs.size, found, falseMatches },
  incremental: { items: INCREMENTAL, seconds: Number(incremental.seconds.toFixed(3)), cpuSeconds: Number(incremental.cpuSeconds.toFixed(2)), queried: sideOf(incremental.run), matches: incremental.run.newMatches, planted: plantedNew },
  bruteForce: { comparisonsPerSecond: Math.round(brute.comparisonsPerSecond), estimatedFullSeconds: Math.round(bruteFullSeconds) },
  speedupVsBruteForce: Number((bruteFullSeconds / first.seconds).toFixed(1)),
  loadSeconds: Number(loadSeconds.toFixed(1)),
  fillSeconds: Number(fillSeconds.toFixed(1)),
  peakRssMB: Math.round(Math.max(peakRss, process.memoryUsage().rss) / 1048576),
  loadavg: Number(loadavg()[0].toFixed(1)),
};
clearInterval(sampler);
indexes.close();
store.close();
rmSync(dir, { recursive: true, force: true });
console.log(JSON.stringify(result));
