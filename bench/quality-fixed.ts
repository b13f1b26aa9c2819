/**
 * bench/quality-fixed (issue 5; the fixed edit set bench/quality had before issue 18): how well each matching method finds reposted
 * photos that were cropped, framed, captioned, screenshotted and so on.
 *
 *   npm run bench:quality-fixed [-- --quick] [--method pdq,robust] [--photos N] [--seed S]
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
 *
 * EXIF orientation (`orientation` in the last line; `--no-exif` leaves it
 * out): phone cameras store a portrait photo as landscape pixels tagged with
 * EXIF orientation 6 (or 8, or 3 upside down), and reposts are re-encoded
 * upright. Each original is also asked as such a file: its pixels turned to
 * how a camera stores them, JPEG quality 95, tagged 6, 8 and 3 (a viewer
 * shows exactly the original). Two more kinds of captured item per medium and
 * hard edit test the content side, with orientation 6: `tagged6`, the edit
 * stored turned and tagged 6 (a repost that kept the tag and the stored
 * pixels, e.g. a file sent as a document or a lossless crop), and
 * `sideways6`, the edit made on the stored pixels of the tagged original by a
 * tool that ignored the tag and dropped it (a repost that shows sideways).
 * Each is asked for by the upright original and by its tagged-6 copy. The
 * figures above (recall, false matches, closest wrong photo, entries, ingest)
 * stay those of the upright originals and the ordinary edits alone; false
 * matches of the EXIF queries and of the extra items are counted apart.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import sharp from 'sharp';
import { hammingDistance } from '../src/hashing/hamming.js';
import { fromHex, toHex } from '../src/hashing/hex.js';
import { hashImage } from '../src/image/hash-image.js';
import { QUALITY_DIR, type QualityPhoto, loadQualityManifest, readQualityPhoto } from './lib/quality-corpus.js';
import { type EngineMatch, METHODS, type MatchEngine, type QualityMethod, pdqMethod } from './lib/quality-methods.js';
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
/** EXIF orientations the originals are also asked with, and the one the extra captured items carry. */
const EXIF_QUERY_ORIENTATIONS = [6, 8, 3] as const;
type ExifOrientation = (typeof EXIF_QUERY_ORIENTATIONS)[number];
const EXIF_CONTENT_ORIENTATION = 6;
/** Clockwise turn that makes stored pixels of a photo that a viewer shows upright under each orientation. */
const STORED_TURN: Record<ExifOrientation, number> = { 6: 270, 8: 90, 3: 180 };

function option(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  if (i >= 0) return process.argv[i + 1];
  const inline = process.argv.find((arg) => arg.startsWith(`--${name}=`));
  return inline?.slice(name.length + 3);
}

const quick = process.argv.includes('--quick');
const exif = !process.argv.includes('--no-exif');
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

/** An ordinary edit, or one of the EXIF content kinds (see the header). */
type ItemKind = 'edit' | 'tagged6' | 'sideways6';
const EXTRA_KINDS = ['tagged6', 'sideways6'] as const;

interface Item {
  contentId: number;
  kind: ItemKind;
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

function variantPath(photo: QualityPhoto, transform: Transform, others: QualityPhoto[], kind: ItemKind = 'edit'): string {
  const ext = transform.format === 'jpeg' || kind !== 'edit' ? 'jpg' : transform.format;
  const tag = others.length ? `-${createHash('sha256').update(others.map((p) => p.id).join(',')).digest('hex').slice(0, 8)}` : '';
  return join(QUALITY_DIR, 'variants', VARIANTS_VERSION, photo.id, `${transform.name}${kind === 'edit' ? '' : `@${kind}`}-${seed}${tag}.${ext}`);
}

function exifQueryPath(photo: QualityPhoto, orientation: ExifOrientation): string {
  return join(QUALITY_DIR, 'variants', VARIANTS_VERSION, photo.id, `query-exif${orientation}.jpg`);
}

/** A JPEG that a viewer shows as `bytes` shows: its pixels turned as a camera stores them, tagged `orientation`. */
async function exifTagged(bytes: Uint8Array, orientation: ExifOrientation, quality: number): Promise<Buffer> {
  return sharp(bytes).rotate(STORED_TURN[orientation]).jpeg({ quality }).withMetadata({ orientation }).toBuffer();
}

function writeAtomic(path: string, bytes: Uint8Array | string): void {
  mkdirSync(dirname(path), { recursive: true });
  const partial = `${path}.${process.pid}.tmp`; // other runs may be filling the same cache
  writeFileSync(partial, bytes);
  renameSync(partial, path);
}

const items: Item[] = [];
for (const kind of exif ? (['edit', ...EXTRA_KINDS] as const) : (['edit'] as const)) {
  for (let p = 0; p < photos.length; p++) {
    for (let t = 0; t < transforms.length; t++) {
      if (kind !== 'edit' && transforms[t].category === 'easy') continue;
      const others = transforms[t].others ? collageOthers(photos[p]) : [];
      items.push({
        contentId: items.length + 1,
        kind,
        photo: p,
        transform: t,
        path: variantPath(photos[p], transforms[t], others, kind),
        pdq: new Uint8Array(0),
        contains: new Set([photos[p].id, ...others.map((o) => o.id)]),
      });
    }
  }
}
/** The ordinary edits: every figure outside `orientation` is about these alone. */
const edits = items.filter((item) => item.kind === 'edit');

/** Makes (or finds in the cache) every variant of one photo, and its whole-image PDQ hash. */
async function prepare(p: number): Promise<number> {
  const mine = items.filter((item) => item.photo === p);
  let made = 0;
  let base: Awaited<ReturnType<typeof makeBase>> | undefined;
  let sideways: Awaited<ReturnType<typeof makeBase>> | undefined;
  // Edits first: a tagged6 item is made from its edit's file.
  for (const item of mine) {
    const hashPath = `${item.path}.pdq`;
    if (!existsSync(item.path)) {
      const transform = transforms[item.transform];
      const others = transform.others ? collageOthers(photos[p]).map(readQualityPhoto) : [];
      if (item.kind === 'edit') {
        base ??= await makeBase(readQualityPhoto(photos[p]));
        writeAtomic(item.path, await makeVariant(base, transform, { seed, others }));
      } else if (item.kind === 'tagged6') {
        const edit = mine.find((e) => e.kind === 'edit' && e.transform === item.transform)!;
        writeAtomic(item.path, await exifTagged(readFileSync(edit.path), EXIF_CONTENT_ORIENTATION, 85));
      } else {
        // The edit made on the stored pixels of the tagged original, the tag gone.
        sideways ??= await makeBase(await sharp(readQualityPhoto(photos[p])).rotate(STORED_TURN[EXIF_CONTENT_ORIENTATION]).png().toBuffer());
        writeAtomic(item.path, await makeVariant(sideways, transform, { seed, others }));
      }
      made++;
    }
    if (!existsSync(hashPath)) {
      const { pdq } = await hashImage(readFileSync(item.path), { signals: ['pdq'] });
      writeAtomic(hashPath, toHex(pdq!.hash));
    }
    item.pdq = fromHex(readFileSync(hashPath, 'utf8').trim(), 256);
  }
  if (exif) {
    for (const orientation of EXIF_QUERY_ORIENTATIONS) {
      const path = exifQueryPath(photos[p], orientation);
      if (existsSync(path)) continue;
      writeAtomic(path, await exifTagged(readQualityPhoto(photos[p]), orientation, 95));
      made++;
    }
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
  for (const item of edits) {
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
  orientation?: OrientationResult;
}

/** Recall of one kind of query against one kind of item. */
interface KindRecall {
  categories: Record<Category, number>;
  /** Medium and hard (photo, edit) pairs found, of how many. */
  found: number;
  of: number;
  perTransform: Record<string, number>;
}

interface OrientationResult {
  /** Each original asked as a tagged file (exif6, exif8, exif3), against the ordinary edits. */
  queries: Record<string, KindRecall>;
  /** The extra captured items (tagged6, sideways6), asked for by the upright original and by its exif6 copy. */
  content: Record<string, Record<string, KindRecall>>;
  /** Wrong photos returned to EXIF queries or among the extra items. */
  falseMatches: FalseMatch[];
  closestForeignMatch: FalseMatch | null;
  queryMs: number;
}

const round3 = (x: number) => Math.round(x * 1000) / 1000;
const mean = (xs: number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : 0);

/** What one query returned, sorted by kind of item: hits[kind][t][p], and wrong photos. */
class Answers {
  readonly hits = new Map<ItemKind, Array<Array<EngineMatch | undefined>>>();
  /** probed[kind][t][p]: the closest the query came to that item at any threshold up to PROBE_RADIUS. */
  readonly probed = new Map<ItemKind, number[][]>();
  readonly falseMatches: FalseMatch[] = [];
  closestForeignMatch: FalseMatch | null = null;
  constructor(private readonly byId: Map<number, Item>, private readonly kinds: readonly ItemKind[]) {
    for (const kind of kinds) {
      this.hits.set(kind, transforms.map(() => photos.map((): EngineMatch | undefined => undefined)));
      this.probed.set(kind, transforms.map(() => photos.map(() => Infinity)));
    }
  }
  private itemOf(match: EngineMatch): Item | undefined {
    const item = this.byId.get(match.contentId);
    if (!item) throw new Error(`returned unknown content ${match.contentId}`);
    return this.kinds.includes(item.kind) ? item : undefined;
  }
  private wrong(p: number, item: Item, match: EngineMatch, label: string): FalseMatch {
    return { query: `${photos[p].id}${label}`, item: photos[item.photo].id, transform: `${transforms[item.transform].name}${item.kind === 'edit' ? '' : `@${item.kind}`}`, distance: match.distance, via: match.via };
  }
  add(p: number, matches: EngineMatch[], label = ''): void {
    for (const match of matches) {
      const item = this.itemOf(match);
      if (!item) continue;
      if (item.photo === p) this.hits.get(item.kind)![item.transform][p] = match;
      else if (!item.contains.has(photos[p].id)) this.falseMatches.push(this.wrong(p, item, match, label));
    }
  }
  addProbe(p: number, nears: EngineMatch[], label = ''): void {
    for (const near of nears) {
      const item = this.itemOf(near);
      if (!item) continue;
      const probed = this.probed.get(item.kind)!;
      if (item.photo === p) probed[item.transform][p] = Math.min(probed[item.transform][p], near.distance);
      if (item.contains.has(photos[p].id) || (this.closestForeignMatch && this.closestForeignMatch.distance <= near.distance)) continue;
      this.closestForeignMatch = this.wrong(p, item, near, label);
    }
  }
  recall(kind: ItemKind): KindRecall {
    const found = this.hits.get(kind)!;
    const perTransform: Record<string, number> = {};
    const categories = {} as Record<Category, number>;
    let hits = 0;
    let of = 0;
    transforms.forEach((transform, t) => {
      if (kind !== 'edit' && transform.category === 'easy') return;
      perTransform[transform.name] = round3(mean(found[t].map((m) => (m ? 1 : 0))));
      if (transform.category !== 'easy') {
        hits += found[t].filter(Boolean).length;
        of += photos.length;
      }
    });
    for (const category of CATEGORIES) {
      const pairs = transforms.flatMap((transform, t) => (transform.category === category && (kind === 'edit' || category !== 'easy') ? found[t].map((m) => (m ? 1 : 0)) : []));
      if (pairs.length) categories[category] = round3(mean(pairs));
    }
    return { categories, found: hits, of, perTransform };
  }
}

async function evaluate(method: QualityMethod): Promise<MethodResult> {
  const engine = await method.create();
  let entries = 0;
  let ingest = 0;
  for (const item of items) {
    const bytes = readFileSync(item.path);
    const t0 = performance.now();
    const added = await engine.add(item.contentId, bytes);
    // Entries and ingest time are those of the ordinary edits, as before the EXIF items.
    if (item.kind === 'edit') {
      ingest += performance.now() - t0;
      entries += added.entries;
    }
  }
  const byId = new Map(items.map((item) => [item.contentId, item]));
  const upright = new Answers(byId, ['edit']);
  const uprightExtra = new Answers(byId, EXTRA_KINDS);
  let querying = 0;
  for (let p = 0; p < photos.length; p++) {
    const bytes = readQualityPhoto(photos[p]);
    const t0 = performance.now();
    const matches = await engine.query(bytes);
    querying += performance.now() - t0;
    upright.add(p, matches);
    uprightExtra.add(p, matches);
    const nears = (await engine.probe?.(bytes, PROBE_RADIUS)) ?? [];
    upright.addProbe(p, nears);
    uprightExtra.addProbe(p, nears);
  }
  const { categories, perTransform } = upright.recall('edit');
  const probed = upright.probed.get('edit')!;
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
    found: upright.hits.get('edit')!,
    recallAt,
    perTransform,
    categories,
    falseMatches: upright.falseMatches,
    closestForeignMatch: upright.closestForeignMatch,
    entriesPerImage: round3(entries / edits.length),
    ingestMs: round3(ingest / edits.length),
    queryMs: round3(querying / photos.length),
    ingestRatio: 1,
    ...(exif ? { orientation: await evaluateOrientation(engine, byId, uprightExtra) } : {}),
  };
}

/** The EXIF-tagged originals as queries, and the extra items as content (see the header). */
async function evaluateOrientation(engine: MatchEngine, byId: Map<number, Item>, uprightExtra: Answers): Promise<OrientationResult> {
  const queries: Record<string, KindRecall> = {};
  const content: Record<string, Record<string, KindRecall>> = {};
  for (const kind of EXTRA_KINDS) content[kind] = { upright: uprightExtra.recall(kind) };
  const falseMatches = [...uprightExtra.falseMatches];
  let closestForeignMatch = uprightExtra.closestForeignMatch;
  let querying = 0;
  for (const orientation of EXIF_QUERY_ORIENTATIONS) {
    const kinds: readonly ItemKind[] = orientation === EXIF_CONTENT_ORIENTATION ? ['edit', ...EXTRA_KINDS] : ['edit'];
    const answers = new Answers(byId, kinds);
    for (let p = 0; p < photos.length; p++) {
      const bytes = readFileSync(exifQueryPath(photos[p], orientation));
      const t0 = performance.now();
      answers.add(p, await engine.query(bytes), `@exif${orientation}`);
      querying += performance.now() - t0;
      answers.addProbe(p, (await engine.probe?.(bytes, PROBE_RADIUS)) ?? [], `@exif${orientation}`);
    }
    queries[`exif${orientation}`] = answers.recall('edit');
    if (orientation === EXIF_CONTENT_ORIENTATION) for (const kind of EXTRA_KINDS) content[kind][`exif${orientation}`] = answers.recall(kind);
    falseMatches.push(...answers.falseMatches);
    const near = answers.closestForeignMatch;
    if (near && (!closestForeignMatch || near.distance < closestForeignMatch.distance)) closestForeignMatch = near;
  }
  return { queries, content, falseMatches, closestForeignMatch, queryMs: round3(querying / (photos.length * EXIF_QUERY_ORIENTATIONS.length)) };
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
  if (r.orientation) reportOrientation(r.orientation);
  console.log('');
}

function reportOrientation(o: OrientationResult): void {
  const line = (label: string, k: KindRecall) =>
    console.log(
      `   ${label.padEnd(26)} ${CATEGORIES.filter((c) => k.categories[c] !== undefined)
        .map((c) => `${c} ${k.categories[c].toFixed(3)}`)
        .join(', ')}; medium + hard ${k.found} of ${k.of}`,
    );
  console.log(`   EXIF orientation (query ${o.queryMs.toFixed(1)} ms/image):`);
  for (const [name, k] of Object.entries(o.queries)) line(`${name} original -> edits`, k);
  for (const [kind, byQuery] of Object.entries(o.content)) for (const [query, k] of Object.entries(byQuery)) line(`${query} original -> ${kind}`, k);
  const names = Object.keys(o.queries);
  console.log(`   ${'transform'.padEnd(14)} ${names.map((n) => n.padStart(6)).join(' ')}`);
  for (const transform of transforms) {
    if (transform.category === 'easy') continue;
    console.log(`   ${transform.name.padEnd(14)} ${names.map((n) => o.queries[n].perTransform[transform.name].toFixed(3).padStart(6)).join(' ')}`);
  }
  const near = o.closestForeignMatch;
  console.log(near ? `   closest wrong photo (EXIF queries and items) up to ${PROBE_RADIUS}: distance ${near.distance} via ${near.via} (query ${near.query} -> ${near.item} ${near.transform})` : `   no wrong photo within distance ${PROBE_RADIUS} of any EXIF query or item`);
  for (const f of o.falseMatches.slice(0, 8)) console.log(`   false match: query ${f.query} -> ${f.item} ${f.transform}, distance ${f.distance} via ${f.via}`);
  if (o.falseMatches.length > 8) console.log(`   ... ${o.falseMatches.length - 8} more false matches`);
}

/** The last line's summary of the orientation figures. */
function orientationSummary(o: OrientationResult) {
  const brief = (k: KindRecall) => ({ ...k.categories, found: k.found, of: k.of });
  return {
    queries: Object.fromEntries(Object.entries(o.queries).map(([name, k]) => [name, brief(k)])),
    content: Object.fromEntries(Object.entries(o.content).map(([kind, byQuery]) => [kind, Object.fromEntries(Object.entries(byQuery).map(([q, k]) => [q, brief(k)]))])),
    falseMatches: o.falseMatches.length,
    closestForeignMatchDistance: o.closestForeignMatch?.distance ?? null,
    queryMs: o.queryMs,
  };
}

/**
 * Ingest cost against the baseline's, measured fairly: fresh engines of both
 * take the same captured images in alternating order (so neither always runs
 * on a warmer cache or a quieter moment), after a warm-up.
 */
async function interleavedIngestRatio(method: QualityMethod): Promise<number> {
  if (method === pdqMethod) return 1;
  const [baselineEngine, engine] = [await pdqMethod.create(), await method.create()];
  const sample = Array.from({ length: Math.min(edits.length, INGEST_SAMPLE) }, (_, i) => edits[Math.floor((i * edits.length) / Math.min(edits.length, INGEST_SAMPLE))]);
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
    variants: edits.length,
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
      ...(baseline.orientation ? { orientation: orientationSummary(baseline.orientation) } : {}),
    },
    perTransform: best.perTransform,
    ...(best.orientation ? { orientation: orientationSummary(best.orientation) } : {}),
  }),
);
