/**
 * bench/quality (issue 18): recall of reposts whose edits are drawn at random
 * over realistic ranges, as curves over the amount of each edit, in both
 * directions the service matches, with false matches among unrelated pairs.
 *
 *   npm run bench:quality [-- --quick] [--split test|tune|all] [--photos N] [--method service,robust] [--seed S]
 *   npm run bench:quality -- --cost [--items N]   (where a query's time goes: bench/lib/query-cost.ts)
 *   npm run bench:quality -- --kinds [--quick] [--split S]   (which region kinds find which: bench/lib/kind-pairs.ts)
 *
 * Edits: bench/lib/random-edits.ts, which imports nothing of the method (no
 * region grid, threshold or hash), every draw seeded; cached under
 * corpus/quality/random/. Photos: corpus/quality/manifest.json (npm run
 * corpus:quality), split once by a hash of each photo's id: `tune` (about a
 * third) is what methods may be tuned on, `test` (the rest, the default) is
 * what figures are reported on. --quick takes 30 photos spread over the split.
 *
 * Dark and low-contrast originals: each photo is also darkened or flattened
 * at random (random-edits darkOriginal) until its whole-image PDQ quality is
 * under 50 (up to 6 draws), and reposted 4 ways (darkEdit); the real dim
 * photos the corpus left out of the main set (manifest `dim`) too.
 *
 * Directions: `match`, each original (and dark original) is a victim's
 * image query against every repost ingested as content; `case`, each
 * original is registered as a case and every repost, newly captured, is
 * searched against the cases. Methods: `service` (the default, with the PDQ
 * baseline) runs both through the service itself (bench/lib/service-directions.ts:
 * BankService ingest, /v1/match's query, CaseService registration, and a
 * scan's Matcher.matchCases over each item's stored hashes, in a real store
 * and index); `robust` models the same hashes in an in-memory index
 * (bench/lib/recall-methods.ts), faster, for tuning. A pair is found when any
 * of its hashes is within its type's threshold. A false match is any returned
 * pair whose repost does not contain the query's photo (a collage contains its
 * other cells' photos too); the closest foreign margin is the largest
 * threshold - distance over those pairs (searched up to 10 past every
 * threshold: negative means that far from matching).
 *
 * The last line is one JSON object: per direction, each family's lowest recall
 * over its bins, easy (reencode, resize, colour) and dark recall, false
 * matches and closest foreign margin, for the method and the PDQ baseline.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { hashImage } from '../src/image/hash-image.js';
import { QUALITY_DIR, type QualityPhoto, loadQualityManifest, readQualityPhoto } from './lib/quality-corpus.js';
import { PROBE_MARGIN, RECALL_METHODS, type RecallMethod, TypedIndex, type TypedHash } from './lib/recall-methods.js';
import { serviceDirections, type ServiceHit } from './lib/service-directions.js';
import { kindPairs } from './lib/kind-pairs.js';
import { queryCost } from './lib/query-cost.js';
import { measuredRegionCounts } from './lib/region-counts.js';
import { DARK_KINDS, type Edit, FAMILIES, type Family, type Photo, darkEdit, darkOriginal, decodePhoto, makeEdit, seededRandom } from './lib/random-edits.js';

/** Bumped whenever random-edits changes what it draws, so stale cached edits are not reused. */
const EDITS_VERSION = 'r1';
const QUICK_PHOTOS = 30;
const DARK_ATTEMPTS = 6;
const DARK_MAX_QUALITY = 50;
const IN_FLIGHT = 2;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  return process.argv.find((arg) => arg.startsWith(`--${name}=`))?.slice(name.length + 3);
}

const quick = process.argv.includes('--quick');
const seed = option('seed') ?? 's1';
const split = option('split') ?? 'test';
if (!['test', 'tune', 'all'].includes(split)) throw new Error(`--split must be test, tune or all`);
/** The service end to end (bench/lib/service-directions.ts): both directions through its own services, store and indexes. */
const SERVICE = 'service';
const METHOD_NAMES = [...RECALL_METHODS.map((m) => m.name), SERVICE];
const wanted = (option('method') ?? ['pdq', SERVICE].join(',')).split(',').filter(Boolean);
for (const name of wanted) if (!METHOD_NAMES.includes(name)) throw new Error(`unknown method ${name}; known: ${METHOD_NAMES.join(', ')}`);
const methods: string[] = ['pdq', ...METHOD_NAMES.filter((name) => name !== 'pdq' && wanted.includes(name))];

/** About a third of the photos, fixed by their ids: the only ones a method may be tuned on. */
export const isTunePhoto = (id: string) => createHash('sha256').update(`split/${id}`).digest()[0] < 86;

const manifest = loadQualityManifest();
const inSplit = (p: QualityPhoto) => split === 'all' || isTunePhoto(p.id) === (split === 'tune');
const pool = manifest.photos.filter(inSplit);
const count = Math.min(pool.length, Number(option('photos') ?? (quick ? QUICK_PHOTOS : pool.length)));
const photos = Array.from({ length: count }, (_, i) => pool[Math.floor((i * pool.length) / count)]);
const dimPhotos = (manifest.dim ?? []).filter(inSplit);
const editsDir = join(QUALITY_DIR, 'random', EDITS_VERSION);

if (process.argv.includes('--cost')) {
  // The index holds as many region codes an item as the service keeps for a captured photo.
  const counts = await measuredRegionCounts();
  await queryCost(photos, Number(option('items') ?? 1_000_000), counts.item, counts.itemKinds);
  process.exit(0);
}

console.log(
  `quality bench (random edits ${EDITS_VERSION}, seed ${seed}): ${photos.length} photos of the ${split} split (${manifest.photos.length} in the corpus), ${dimPhotos.length} real dim ones; methods ${methods.join(', ')}${quick ? ' (quick)' : ''}`,
);

// ---------------------------------------------------------------- queries and items

interface Query {
  key: string;
  photo: QualityPhoto;
  dark: boolean;
  path: string;
}

interface Item {
  id: number;
  query: string;
  family: string;
  bin: string;
  amount: number;
  path: string;
  /** Photo ids whose pixels are in the repost. */
  contains: Set<string>;
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`;
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}

/** Other photos for collage cells, seeded, from the whole corpus. */
function collageOthers(photo: QualityPhoto, n: number): QualityPhoto[] {
  const random = seededRandom(`${seed}/${photo.id}/collage-others`);
  const others = manifest.photos.filter((p) => p.id !== photo.id);
  const chosen: QualityPhoto[] = [];
  while (chosen.length < n) {
    const candidate = others[Math.floor(random() * others.length)];
    if (!chosen.includes(candidate)) chosen.push(candidate);
  }
  return chosen;
}

/** Makes (or reads from the cache) one edit: its bytes are at `path`, what was drawn beside it. */
async function cachedEdit(path: string, make: () => Promise<{ bytes: Buffer; edit: Edit }>): Promise<Edit> {
  const meta = `${path}.json`;
  if (existsSync(path) && existsSync(meta)) return JSON.parse(readFileSync(meta, 'utf8')) as Edit;
  const { bytes, edit } = await make();
  writeAtomic(path, bytes);
  writeAtomic(meta, JSON.stringify(edit));
  return edit;
}

async function photoEdits(photo: QualityPhoto, query: string): Promise<Omit<Item, 'id'>[]> {
  const out: Omit<Item, 'id'>[] = [];
  let decoded: Photo | undefined;
  let others: Photo[] | undefined;
  const needed = Math.max(...FAMILIES.map((f) => f.others ?? 0));
  const chosen = collageOthers(photo, needed);
  for (const family of FAMILIES) {
    for (let k = 0; k < family.bins.length; k++) {
      const path = join(editsDir, photo.id, `${family.name}-${k}-${seed}.jpg`);
      const edit = await cachedEdit(path, async () => {
        decoded ??= await decodePhoto(readQualityPhoto(photo));
        if (family.others) others ??= await Promise.all(chosen.map(async (p) => decodePhoto(readQualityPhoto(p))));
        return makeEdit(decoded, family, k, `${seed}/${photo.id}`, family.others ? others : []);
      });
      const cells = family.name === 'collage' ? chosen.slice(0, Number(edit.bin) - 1) : [];
      out.push({ query, family: family.name, bin: edit.bin, amount: edit.amount, path, contains: new Set([photo.id, ...cells.map((p) => p.id)]) });
    }
  }
  return out;
}

/** The photo darkened until its PDQ quality is under 50, or undefined when no draw got there. */
async function darkQuery(photo: QualityPhoto): Promise<string | undefined> {
  const path = join(editsDir, photo.id, `dark-original-${seed}.jpg`);
  const meta = `${path}.json`;
  if (existsSync(meta)) return (JSON.parse(readFileSync(meta, 'utf8')) as { found: boolean }).found ? path : undefined;
  const decoded = await decodePhoto(readQualityPhoto(photo));
  for (let attempt = 0; attempt < DARK_ATTEMPTS; attempt++) {
    const { bytes, detail } = await darkOriginal(decoded, `${seed}/${photo.id}`, attempt);
    const { pdq } = await hashImage(bytes, { signals: ['pdq'] });
    if (pdq!.quality >= DARK_MAX_QUALITY) continue;
    writeAtomic(path, bytes);
    writeAtomic(meta, JSON.stringify({ found: true, attempt, detail, quality: pdq!.quality }));
    return path;
  }
  writeAtomic(meta, JSON.stringify({ found: false }));
  return undefined;
}

async function darkEdits(photo: QualityPhoto, original: string, query: string): Promise<Omit<Item, 'id'>[]> {
  let decoded: Photo | undefined;
  const out: Omit<Item, 'id'>[] = [];
  for (const kind of DARK_KINDS) {
    const path = join(editsDir, photo.id, `${query.split(':')[0]}-${kind}-${seed}.jpg`);
    await cachedEdit(path, async () => {
      decoded ??= await decodePhoto(readFileSync(original));
      const { bytes, detail } = await darkEdit(decoded, kind, `${seed}/${photo.id}/${query}`);
      return { bytes, edit: { family: 'reencode', bin: kind, amount: 0, detail } };
    });
    out.push({ query, family: 'dark', bin: kind, amount: 0, path, contains: new Set([photo.id]) });
  }
  return out;
}

const queries: Query[] = [];
const items: Item[] = [];
{
  const started = performance.now();
  const concurrency = sharp.concurrency();
  sharp.concurrency(1);
  const perPhoto: Array<{ queries: Query[]; items: Omit<Item, 'id'>[] }> = [];
  const jobs: Array<() => Promise<{ queries: Query[]; items: Omit<Item, 'id'>[] }>> = [
    ...photos.map((photo) => async () => {
      const query: Query = { key: `photo:${photo.id}`, photo, dark: false, path: photo.path };
      const out = { queries: [query], items: await photoEdits(photo, query.key) };
      const dark = await darkQuery(photo);
      if (dark) {
        const darkQ: Query = { key: `dark:${photo.id}`, photo, dark: true, path: dark };
        out.queries.push(darkQ);
        out.items.push(...(await darkEdits(photo, dark, darkQ.key)));
      }
      return out;
    }),
    ...dimPhotos.map((photo) => async () => {
      const query: Query = { key: `dim:${photo.id}`, photo, dark: true, path: photo.path };
      return { queries: [query], items: await darkEdits(photo, photo.path, query.key) };
    }),
  ];
  let next = 0;
  let done = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < jobs.length) {
        const j = next++;
        perPhoto[j] = await jobs[j]();
        if (++done % 10 === 0) process.stderr.write(`edits: ${done}/${jobs.length} photos\r`);
      }
    }),
  );
  sharp.concurrency(concurrency);
  for (const batch of perPhoto) {
    queries.push(...batch.queries);
    for (const item of batch.items) items.push({ ...item, id: items.length });
  }
  console.log(`edits: ${items.length} reposts of ${queries.length} originals (${queries.filter((q) => q.dark).length} dark) in ${((performance.now() - started) / 1000).toFixed(1)} s`);
}

if (process.argv.includes('--kinds')) {
  await kindPairs(queries, items);
  process.exit(0);
}

// ---------------------------------------------------------------- evaluation

type Direction = 'match' | 'case';
const DIRECTIONS: Direction[] = ['match', 'case'];

interface Tally {
  found: number;
  of: number;
}

interface Foreign {
  query: string;
  item: string;
  margin: number;
  type: string;
}

interface DirectionResult {
  /** Per family, per bin. */
  curves: Map<string, Map<string, Tally>>;
  falseMatches: Foreign[];
  closestForeign: Foreign | null;
}

interface MethodResult {
  name: string;
  directions: Record<Direction, DirectionResult>;
  contentEntries: number[];
  caseHashes: number[];
  queryHashes: number[];
  queryMs: number[];
}

const median = (xs: number[]) => (xs.length ? [...xs].sort((a, b) => a - b)[xs.length >> 1] : 0);
const meanOf = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);
const round3 = (x: number) => Math.round(x * 1000) / 1000;

/** Runs `work` over every element, two at a time (decodes overlap hashing). */
async function mapInFlight<T, R>(list: readonly T[], work: (x: T) => Promise<R>, label: string): Promise<R[]> {
  const out: R[] = new Array(list.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < list.length) {
        const i = next++;
        out[i] = await work(list[i]);
        if (i % 200 === 0) process.stderr.write(`${label}: ${i}/${list.length}\r`);
      }
    }),
  );
  return out;
}

function emptyDirection(): DirectionResult {
  const curves = new Map<string, Map<string, Tally>>();
  for (const item of items) {
    if (!curves.has(item.family)) curves.set(item.family, new Map());
    const bins = curves.get(item.family)!;
    if (!bins.has(item.bin)) bins.set(item.bin, { found: 0, of: 0 });
    bins.get(item.bin)!.of++;
  }
  return { curves, falseMatches: [], closestForeign: null };
}

/** Files one (query, item) pair the search returned. */
function account(result: DirectionResult, query: Query, item: Item, hit: { margin: number; type: string }, found: Set<number>): void {
  if (item.query === query.key) {
    if (hit.margin >= 0 && !found.has(item.id)) {
      found.add(item.id);
      result.curves.get(item.family)!.get(item.bin)!.found++;
    }
    return;
  }
  if (item.contains.has(query.photo.id)) return;
  const foreign = { query: query.key, item: `${item.query} ${item.family} ${item.bin}`, margin: hit.margin, type: hit.type };
  if (hit.margin >= 0) result.falseMatches.push(foreign);
  if (!result.closestForeign || hit.margin > result.closestForeign.margin) result.closestForeign = foreign;
}

async function evaluate(method: RecallMethod): Promise<MethodResult> {
  const content = await mapInFlight(items, (item) => method.content(readFileSync(item.path)), `${method.name} content`);
  const queryMs: number[] = [];
  const queryHashes = await mapInFlight(
    queries,
    async (q) => {
      const bytes = readFileSync(q.path);
      const t0 = performance.now();
      const hashes = await method.query(bytes);
      queryMs.push(performance.now() - t0);
      return hashes;
    },
    `${method.name} queries`,
  );
  const caseHashes = await mapInFlight(queries, (q) => method.caseHashes(readFileSync(q.path)), `${method.name} cases`);
  const match = emptyDirection();
  const contentIndex = new TypedIndex(method.thresholds);
  items.forEach((item, i) => contentIndex.add(item.id, content[i]));
  const foundMatch = new Set<number>();
  queries.forEach((query, q) => {
    for (const [owner, hit] of contentIndex.search(queryHashes[q])) account(match, query, items[owner], hit, foundMatch);
  });
  const caseSide = emptyDirection();
  const caseIndex = new TypedIndex(method.thresholds);
  queries.forEach((_, q) => caseIndex.add(q, caseHashes[q]));
  const foundCase = new Set<number>();
  items.forEach((item, i) => {
    for (const [owner, hit] of caseIndex.search(content[i])) account(caseSide, queries[owner], item, hit, foundCase);
  });
  return {
    name: method.name,
    directions: { match, case: caseSide },
    contentEntries: content.map((c) => c.length),
    caseHashes: caseHashes.map((c: TypedHash[]) => c.length),
    queryHashes: queryHashes.map((c) => c.length),
    queryMs,
  };
}

// ---------------------------------------------------------------- report

const EASY = ['reencode', 'resize', 'colour'];
const familyOrder = [...FAMILIES.map((f: Family) => f.name as string), 'dark'];

function recall(t: Tally | undefined): number {
  return t && t.of ? t.found / t.of : 0;
}

function summary(d: DirectionResult) {
  const minRecall: Record<string, number> = {};
  for (const family of familyOrder) {
    const bins = d.curves.get(family);
    if (bins) minRecall[family] = round3(Math.min(...[...bins.values()].map(recall)));
  }
  const pooled = (families: string[]) => {
    const all = families.flatMap((f) => [...(d.curves.get(f)?.values() ?? [])]);
    return round3(recall({ found: all.reduce((a, t) => a + t.found, 0), of: all.reduce((a, t) => a + t.of, 0) }));
  };
  return {
    minRecall,
    easy: pooled(EASY),
    dark: pooled(['dark']),
    falseMatches: d.falseMatches.length,
    closestForeignMargin: d.closestForeign?.margin ?? null,
  };
}

function report(results: MethodResult[]): void {
  for (const family of familyOrder) {
    const spec = FAMILIES.find((f) => f.name === family);
    const bins = [...(results[0].directions.match.curves.get(family)?.keys() ?? [])];
    const order = spec ? spec.bins.filter((b) => bins.includes(b)) : bins;
    console.log(`\n${family} (${spec?.unit ?? 'repost of a dark original'}): recall per bin, match / case direction`);
    console.log(`   ${'bin'.padEnd(12)} ${'pairs'.padStart(5)}  ${results.map((r) => r.name.padStart(25)).join(' ')}`);
    for (const bin of order) {
      const of = results[0].directions.match.curves.get(family)!.get(bin)!.of;
      const cells = results.map((r) => `${recall(r.directions.match.curves.get(family)!.get(bin)).toFixed(3)} / ${recall(r.directions.case.curves.get(family)!.get(bin)).toFixed(3)}`.padStart(25));
      console.log(`   ${bin.padEnd(12)} ${String(of).padStart(5)}  ${cells.join(' ')}`);
    }
  }
  console.log('');
  for (const r of results) {
    for (const direction of DIRECTIONS) {
      const d = r.directions[direction];
      const near = d.closestForeign;
      console.log(
        `${r.name} ${direction}: false matches ${d.falseMatches.length}; closest wrong photo ${near ? `margin ${near.margin} (${near.type}: ${near.query} -> ${near.item})` : 'none within the probe'}`,
      );
      for (const f of d.falseMatches.slice(0, 5)) console.log(`   false match (${f.type}, margin ${f.margin}): ${f.query} -> ${f.item}`);
    }
    console.log(
      `${r.name} cost: content ${meanOf(r.contentEntries).toFixed(2)} entries/item (max ${Math.max(...r.contentEntries)}), case ${meanOf(r.caseHashes).toFixed(1)} hashes (max ${Math.max(...r.caseHashes)}), query ${meanOf(r.queryHashes).toFixed(1)} hashes, ${median(r.queryMs).toFixed(1)} ms median to decode and hash a query`,
    );
  }
}

/** Both directions through the service: /v1/match queries of the originals, and a scan of each repost against the originals' cases. */
async function evaluateService(): Promise<MethodResult> {
  const run = await serviceDirections(queries.length, items.length, { original: (q) => readFileSync(queries[q].path), repost: (i) => readFileSync(items[i].path) }, PROBE_MARGIN);
  const match = emptyDirection();
  const foundMatch = new Set<number>();
  queries.forEach((query, q) => run.match[q].forEach((hit: ServiceHit) => account(match, query, items[hit.other], hit, foundMatch)));
  const caseSide = emptyDirection();
  const foundCase = new Set<number>();
  items.forEach((item, i) => run.case[i].forEach((hit: ServiceHit) => account(caseSide, queries[hit.other], item, hit, foundCase)));
  return { name: SERVICE, directions: { match, case: caseSide }, contentEntries: run.contentEntries, caseHashes: run.caseHashes, queryHashes: run.queryHashes, queryMs: run.queryMs };
}

const results: MethodResult[] = [];
for (const name of methods) {
  const started = performance.now();
  results.push(name === SERVICE ? await evaluateService() : await evaluate(RECALL_METHODS.find((m) => m.name === name)!));
  process.stderr.write(`${name}: evaluated in ${((performance.now() - started) / 1000).toFixed(1)} s          \n`);
}
report(results);

const main = results[results.length - 1];
const brief = (r: MethodResult) => ({
  match: summary(r.directions.match),
  case: summary(r.directions.case),
  contentEntries: round3(meanOf(r.contentEntries)),
  contentEntriesMax: Math.max(...r.contentEntries),
  caseHashes: round3(meanOf(r.caseHashes)),
  queryHashes: round3(meanOf(r.queryHashes)),
  queryMs: round3(median(r.queryMs)),
});
console.log(
  JSON.stringify({
    bench: 'quality',
    edits: EDITS_VERSION,
    seed,
    split,
    quick,
    photos: photos.length,
    darkOriginals: queries.filter((q) => q.dark).length,
    reposts: items.length,
    method: main.name,
    ...brief(main),
    baseline: { method: results[0].name, ...brief(results[0]) },
  }),
);
