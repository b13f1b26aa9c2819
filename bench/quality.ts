/**
 * bench/quality (issue 5): how well each matching method finds reposted
 * photos that were cropped, framed, captioned, screenshotted and so on.
 *
 *   npm run bench:quality [-- --quick] [--method pdq,robust] [--photos N] [--seed S]
 *
 * Corpus: corpus/quality/manifest.json (npm run corpus:quality); --quick takes
 * 40 photos spread over it, a full run all of them. Every transform of
 * bench/lib/quality-variants.ts is applied to every photo (cached under
 * corpus/quality/variants/, generated two photos at a time).
 *
 * The way the service is used: each variant is ingested into the method's
 * engine as one content item (the captured content); then each original photo
 * is a victim's query. Recall for (photo, transform) = the query returns that
 * variant's content item; per category = the mean over its (photo, transform)
 * pairs. A false match is any returned content item that does not contain the
 * query's photo (a collage contains its 3 other photos too, so returning it
 * for one of them is not false). The closest foreign distance is the smallest
 * whole-image PDQ distance (any of the query's 8 rotations and mirrors)
 * between an original and a variant that does not contain it.
 *
 * The PDQ baseline always runs. Every method's ingest cost is also given as a
 * ratio to the baseline's (`ingestRatio`), timed on fresh engines of both fed
 * the same images in alternating order. Engines that can `probe` are asked
 * again with every threshold raised to 64: the closest any wrong photo comes
 * (`closestForeignMatchDistance`) is the margin the real thresholds keep, and
 * recall at other thresholds is printed. The last line is one JSON object.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import sharp from 'sharp';
import { hammingDistance } from '../src/hashing/hamming.js';
import { fromHex, toHex } from '../src/hashing/hex.js';
import { hashImage } from '../src/image/hash-image.js';
import { QUALITY_DIR, type QualityPhoto, loadQualityManifest, readQualityPhoto } from './lib/quality-corpus.js';
import { type EngineMatch, METHODS, type QualityMethod, pdqMethod } from './lib/quality-methods.js';
import { CATEGORIES, type Category, TRANSFORMS, type Transform, makeBase, makeVariant, seededRandom } from './lib/quality-variants.js';

/** Bumped whenever a transform changes, so stale cached variants are not reused. */
const VARIANTS_VERSION = 'v1';
const QUICK_PHOTOS = 40;
/** Thresholds are raised to this when probing how close wrong photos come (the index's largest exact radius). */
const PROBE_RADIUS = 64;
const PROBE_THRESHOLDS = [24, 28, 31, 34, 36, 40, 44, 48];
/** Captured images timed for the interleaved ingest ratio. */
const INGEST_SAMPLE = 300;
const GENERATE_IN_FLIGHT = 2;

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const inline = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return inline?.slice(name.length + 3);
}

const quick = process.argv.includes('--quick');
const seed = option('seed') ?? 'q1';
const wanted = (option('method') ?? METHODS.map((m) => m.name).join(',')).split(',').filter(Boolean);
for (const name of wanted) if (!METHODS.some((m) => m.name === name)) throw new Error(`unknown method ${name}; known: ${METHODS.map((m) => m.name).join(', ')}`);
/** The baseline always runs, first; the others in METHODS order. */
const methods: QualityMethod[] = [pdqMethod, ...METHODS.filter((m) => m !== pdqMethod && wanted.includes(m.name))];
const main = methods[methods.length - 1];

const manifest = loadQualityManifest();
const all = manifest.photos;
const count = Math.min(all.length, Number(option('photos') ?? (quick ? QUICK_PHOTOS : all.length)));
/** Spread over the corpus (which is ordered by package), so a quick run sees every source. */
const photos: QualityPhoto[] = Array.from({ length: count }, (_, i) => all[Math.floor((i * all.length) / count)]);
const transforms = TRANSFORMS;

console.log(
  `quality bench: ${photos.length} of ${all.length} photos (${photos.filter((p) => p.people).length} with people), ${transforms.length} transforms, seed ${seed}, methods ${methods.map((m) => m.name).join(', ')}${quick ? ' (quick)' : ''}`,
);

// ---------------------------------------------------------------- variants

interface Item {
  contentId: number;
  photo: number;
  transform: number;
  path: string;
  pdq: Uint8Array;
  /** Photo ids whose pixels are in this item (the photo; for a collage also its 3 others). */
  contains: Set<string>;
}

/** The 3 other photos of a photo's collage: seeded, from the whole corpus, so quick and full runs share cached variants. */
function collageOthers(photo: QualityPhoto): QualityPhoto[] {
  const random = seededRandom(`${seed}/${photo.id}/collage-others`);
  const pool = all.filter((p) => p.id !== photo.id);
  const chosen: QualityPhoto[] = [];
  while (chosen.length < 3) {
    const candidate = pool[Math.floor(random() * pool.length)];
    if (!chosen.includes(candidate)) chosen.push(candidate);
  }
  return chosen;
}

function variantPath(photo: QualityPhoto, transform: Transform, others: QualityPhoto[]): string {
  const ext = transform.format === 'jpeg' ? 'jpg' : transform.format;
  const tag = others.length ? `-${createHash('sha256').update(others.map((p) => p.id).join(',')).digest('hex').slice(0, 8)}` : '';
  return join(QUALITY_DIR, 'variants', VARIANTS_VERSION, photo.id, `${transform.name}-${seed}${tag}.${ext}`);
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`; // other runs may be filling the same cache
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}

const items: Item[] = [];
for (let p = 0; p < photos.length; p++) {
  for (let t = 0; t < transforms.length; t++) {
    const others = transforms[t].others ? collageOthers(photos[p]) : [];
    items.push({
      contentId: p * transforms.length + t + 1,
      photo: p,
      transform: t,
      path: variantPath(photos[p], transforms[t], others),
      pdq: new Uint8Array(0),
      contains: new Set([photos[p].id, ...others.map((o) => o.id)]),
    });
  }
}

/** Makes (or finds in the cache) every variant of one photo, and its whole-image PDQ hash. */
async function prepare(p: number): Promise<number> {
  const mine = items.filter((item) => item.photo === p);
  let made = 0;
  let base: Awaited<ReturnType<typeof makeBase>> | undefined;
  for (const item of mine) {
    const hashPath = `${item.path}.pdq`;
    if (!existsSync(item.path)) {
      base ??= await makeBase(readQualityPhoto(photos[p]));
      const transform = transforms[item.transform];
      const others = transform.others ? collageOthers(photos[p]).map(readQualityPhoto) : [];
      writeAtomic(item.path, await makeVariant(base, transform, { seed, others }));
      made++;
    }
    if (!existsSync(hashPath)) {
      const { pdq } = await hashImage(readFileSync(item.path), { signals: ['pdq'] });
      writeAtomic(hashPath, toHex(pdq!.hash));
    }
    item.pdq = fromHex(readFileSync(hashPath, 'utf8').trim(), 256);
  }
  return made;
}

{
  const started = performance.now();
  const concurrency = sharp.concurrency();
  sharp.concurrency(1); // two photos in flight on two cores
  let next = 0;
  let done = 0;
  let made = 0;
  const worker = async () => {
    while (next < photos.length) {
      const p = next++;
      const fresh = await prepare(p);
      made += fresh;
      done++;
      if (process.stderr.isTTY || done % 20 === 0 || done === photos.length) process.stderr.write(`variants: ${done}/${photos.length} photos\r`);
    }
  };
  await Promise.all(Array.from({ length: GENERATE_IN_FLIGHT }, worker));
  sharp.concurrency(concurrency);
  process.stderr.write('\n');
  console.log(
    `variants: ${items.length} (${made} made, ${items.length - made} from the cache ${relative(process.cwd(), join(QUALITY_DIR, 'variants', VARIANTS_VERSION))}) in ${((performance.now() - started) / 1000).toFixed(1)} s`,
  );
}

// ---------------------------------------------------------------- closest foreign distance

const originals = await Promise.all(photos.map(async (photo) => (await hashImage(readQualityPhoto(photo), { signals: ['pdq'], dihedral: true })).pdq!));
let closest = { distance: 257, query: '', item: '' };
for (let p = 0; p < photos.length; p++) {
  for (const item of items) {
    if (item.contains.has(photos[p].id)) continue;
    for (const hash of originals[p].dihedral!) {
      const d = hammingDistance(hash, item.pdq);
      if (d < closest.distance) closest = { distance: d, query: photos[p].id, item: `${photos[item.photo].id} ${transforms[item.transform].name}` };
    }
  }
}
console.log(`closest whole-image PDQ distance between an original and a variant of another photo: ${closest.distance} (${closest.query} vs ${closest.item})\n`);

// ---------------------------------------------------------------- evaluation

interface FalseMatch {
  query: string;
  item: string;
  transform: string;
  distance: number;
  via: string;
}

interface MethodResult {
  name: string;
  /** found[t][p]: the query of photo p returned its variant t, and how. */
  found: Array<Array<EngineMatch | undefined>>;
  perTransform: Record<string, number>;
  categories: Record<Category, number>;
  falseMatches: FalseMatch[];
  /** Nearest wrong photo any query came to with thresholds raised to PROBE_RADIUS (engines with probe()). */
  closestForeignMatch: FalseMatch | null;
  /** Recall per category if every threshold were the given one (from probe()). */
  recallAt: Record<string, Record<Category, number>>;
  entriesPerImage: number;
  ingestMs: number;
  queryMs: number;
  ingestRatio: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

async function evaluate(method: QualityMethod): Promise<MethodResult> {
  const engine = await method.create();
  let entries = 0;
  let ingest = 0;
  for (const item of items) {
    const bytes = readFileSync(item.path);
    const t0 = performance.now();
    const added = await engine.add(item.contentId, bytes);
    ingest += performance.now() - t0;
    entries += added.entries;
  }
  const byId = new Map(items.map((item) => [item.contentId, item]));
  const found = transforms.map(() => photos.map((): EngineMatch | undefined => undefined));
  const falseMatches: FalseMatch[] = [];
  let closestForeignMatch: FalseMatch | null = null;
  /** probed[t][p]: the closest the query of photo p came to its variant t at any threshold up to PROBE_RADIUS. */
  const probed = transforms.map(() => photos.map(() => Infinity));
  let querying = 0;
  for (let p = 0; p < photos.length; p++) {
    const bytes = readQualityPhoto(photos[p]);
    const t0 = performance.now();
    const matches = await engine.query(bytes);
    querying += performance.now() - t0;
    for (const match of matches) {
      const item = byId.get(match.contentId);
      if (!item) throw new Error(`${method.name} returned unknown content ${match.contentId}`);
      if (item.photo === p) found[item.transform][p] = match;
      else if (!item.contains.has(photos[p].id))
        falseMatches.push({ query: photos[p].id, item: photos[item.photo].id, transform: transforms[item.transform].name, distance: match.distance, via: match.via });
    }
    for (const near of (await engine.probe?.(bytes, PROBE_RADIUS)) ?? []) {
      const item = byId.get(near.contentId)!;
      if (item.photo === p) probed[item.transform][p] = Math.min(probed[item.transform][p], near.distance);
      if (item.contains.has(photos[p].id) || (closestForeignMatch && closestForeignMatch.distance <= near.distance)) continue;
      closestForeignMatch = { query: photos[p].id, item: photos[item.photo].id, transform: transforms[item.transform].name, distance: near.distance, via: near.via };
    }
  }
  const perTransform: Record<string, number> = {};
  transforms.forEach((transform, t) => (perTransform[transform.name] = round3(mean(found[t].map((m) => (m ? 1 : 0))))));
  const categories = {} as Record<Category, number>;
  for (const category of CATEGORIES) {
    const pairs = transforms.flatMap((transform, t) => (transform.category === category ? found[t].map((m) => (m ? 1 : 0)) : []));
    categories[category] = round3(mean(pairs));
  }
  const recallAt: Record<string, Record<Category, number>> = {};
  if (engine.probe) {
    for (const threshold of PROBE_THRESHOLDS) {
      recallAt[threshold] = {} as Record<Category, number>;
      for (const category of CATEGORIES) {
        const pairs = transforms.flatMap((transform, t) => (transform.category === category ? probed[t].map((d) => (d <= threshold ? 1 : 0)) : []));
        recallAt[threshold][category] = round3(mean(pairs));
      }
    }
  }
  return {
    name: method.name,
    found,
    recallAt,
    perTransform,
    categories,
    falseMatches,
    closestForeignMatch,
    entriesPerImage: round3(entries / items.length),
    ingestMs: round3(ingest / items.length),
    queryMs: round3(querying / photos.length),
    ingestRatio: 1,
  };
}

function report(r: MethodResult): void {
  console.log(
    `== ${r.name}: easy ${r.categories.easy.toFixed(3)}, medium ${r.categories.medium.toFixed(3)}, hard ${r.categories.hard.toFixed(3)}; false matches ${r.falseMatches.length}`,
  );
  console.log(
    `   ingest ${r.ingestMs.toFixed(1)} ms/image (x${r.ingestRatio.toFixed(2)} PDQ, interleaved), ${r.entriesPerImage.toFixed(2)} index entries/image, query ${r.queryMs.toFixed(1)} ms/image`,
  );
  console.log(`   ${'transform'.padEnd(14)} ${'category'.padEnd(8)} ${'recall'.padStart(6)}  found via (median distance)`);
  transforms.forEach((transform, t) => {
    const hits = r.found[t].filter((m): m is EngineMatch => m !== undefined);
    const vias = new Map<string, number[]>();
    for (const hit of hits) vias.set(hit.via, [...(vias.get(hit.via) ?? []), hit.distance]);
    const via = [...vias]
      .sort((a, b) => b[1].length - a[1].length)
      .map(([name, ds]) => `${name} ${ds.length} (${[...ds].sort((a, b) => a - b)[ds.length >> 1]})`)
      .join(', ');
    console.log(`   ${transform.name.padEnd(14)} ${transform.category.padEnd(8)} ${r.perTransform[transform.name].toFixed(3).padStart(6)}  ${via}`);
  });
  const near = r.closestForeignMatch;
  console.log(
    near
      ? `   closest wrong photo at any threshold up to ${PROBE_RADIUS}: distance ${near.distance} via ${near.via} (query ${near.query} -> ${near.item} ${near.transform})`
      : `   no wrong photo within distance ${PROBE_RADIUS} of any query`,
  );
  for (const [threshold, c] of Object.entries(r.recallAt)) {
    console.log(`   if every threshold were ${threshold.padStart(2)}: easy ${c.easy.toFixed(3)}, medium ${c.medium.toFixed(3)}, hard ${c.hard.toFixed(3)}`);
  }
  for (const f of r.falseMatches.slice(0, 8)) console.log(`   false match: query ${f.query} -> ${f.item} ${f.transform}, distance ${f.distance} via ${f.via}`);
  if (r.falseMatches.length > 8) console.log(`   ... ${r.falseMatches.length - 8} more false matches`);
  console.log('');
}

/**
 * Ingest cost against the baseline's, measured fairly: fresh engines of both
 * take the same captured images in alternating order (so neither always runs
 * on a warmer cache or a quieter moment), after a warm-up.
 */
async function interleavedIngestRatio(method: QualityMethod): Promise<number> {
  if (method === pdqMethod) return 1;
  const [baselineEngine, engine] = [await pdqMethod.create(), await method.create()];
  const sample = Array.from({ length: Math.min(items.length, INGEST_SAMPLE) }, (_, i) => items[Math.floor((i * items.length) / Math.min(items.length, INGEST_SAMPLE))]);
  const warmUp = 10;
  const totals = [0, 0];
  for (const [i, item] of sample.entries()) {
    const bytes = readFileSync(item.path);
    const order = i % 2 === 0 ? [0, 1] : [1, 0];
    for (const which of order) {
      const t0 = performance.now();
      await (which === 0 ? baselineEngine : engine).add(item.contentId, bytes);
      if (i >= warmUp) totals[which] += performance.now() - t0;
    }
  }
  return round3(totals[1] / totals[0]);
}

const results: MethodResult[] = [];
for (const method of methods) {
  const started = performance.now();
  const result = await evaluate(method);
  result.ingestRatio = await interleavedIngestRatio(method);
  results.push(result);
  report(result);
  process.stderr.write(`${method.name}: evaluated in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
}

if (results.length > 1) {
  console.log(`recall per transform: ${results.map((r) => r.name).join(' / ')}`);
  for (const transform of transforms) console.log(`   ${transform.name.padEnd(14)} ${results.map((r) => r.perTransform[transform.name].toFixed(3)).join('  ')}`);
  console.log('');
}

const baseline = results[0];
const best = results[results.length - 1];
console.log(
  JSON.stringify({
    bench: 'quality',
    quick,
    photos: photos.length,
    variants: items.length,
    method: main.name,
    easy: best.categories.easy,
    medium: best.categories.medium,
    hard: best.categories.hard,
    falseMatches: best.falseMatches.length,
    closestForeignDistance: closest.distance,
    closestForeignMatchDistance: best.closestForeignMatch?.distance ?? null,
    entriesPerImage: best.entriesPerImage,
    ingestRatio: best.ingestRatio,
    ingestMs: best.ingestMs,
    queryMs: best.queryMs,
    baseline: {
      easy: baseline.categories.easy,
      medium: baseline.categories.medium,
      hard: baseline.categories.hard,
      falseMatches: baseline.falseMatches.length,
      closestForeignMatchDistance: baseline.closestForeignMatch?.distance ?? null,
      ingestMs: baseline.ingestMs,
      perTransform: baseline.perTransform,
    },
    perTransform: best.perTransform,
  }),
);
