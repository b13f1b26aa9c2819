/**
 * Where a robust image lookup's time goes (`npm run bench:quality -- --cost
 * [--items N]`): decode, PDQ, region hashing and index searches of a 1280 px
 * JPEG query against an index of N captured items (1M by default), each with
 * the mean number of region hashes a captured image keeps, of the kinds it
 * keeps. The searches are timed twice on the same codes: in the service's
 * index set, whose region index is in parts by kind (src/match/region-groups.ts),
 * and with every code of unknown kind (every search compares every kind: the
 * baseline), and a third time as one batch (`IndexSet.searchMany`, as an
 * index thread searches the queries of one message, and the service sends a
 * lookup's searches: `totalAsServed` counts this one).
 *
 * The index holds codes grown as bench/index's `realistic` data: a random
 * recursive tree of swap-edits from real photographs' PDQ hashes
 * (fixtures/photo-pdq-hashes.tsv), so codes keep photos' bit statistics.
 * Searches run on this thread, one after another, as the index worker does.
 * Prints one JSON object.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { pdqDihedralFromDct, pdqHashRaster, PDQ_MATCH_THRESHOLD } from '../../src/hashing/pdq.js';
import { decodeForHashing } from '../../src/image/decode.js';
import type { RegionKind } from '../../src/hashing/pdq-region.js';
import { IndexSet } from '../../src/match/signal-indexes.js';
import { exifOrientation } from '../../src/robust/orientation.js';
import { queryRegions } from '../../src/robust/regions.js';
import { loadPhotoHashes, seededCodeTools } from './photo-codes.js';
import { kindsOf } from './region-counts.js';
import type { QualityPhoto } from './quality-corpus.js';

const QUERIES = 20;

function realisticCodes(count: number): Uint8Array {
  const { random32, below, swapBits } = seededCodeTools(0x51ed270b);
  const { indexed } = loadPhotoHashes();
  const codes = new Uint8Array(count * 32);
  for (let i = 0; i < count; i++) {
    const parent = below(i) * 32;
    codes.set(i < indexed.length ? indexed[i] : codes.subarray(parent, parent + 32), i * 32);
    if (i >= indexed.length) swapBits(codes, i * 32, 4 + (random32() % 13));
  }
  return codes;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

/** The codes loaded into an index set, each slot of an item of its kind (`kinds`), or all of unknown kind. */
function loadedSet(codes: Uint8Array, regionsPerItem: number, kinds: (RegionKind | null)[]): IndexSet {
  const set = new IndexSet();
  const count = codes.length / 32;
  for (const region of new Set(kinds)) {
    const slots = kinds.flatMap((kind, slot) => (kind === region ? [slot] : []));
    const ids: number[] = [];
    for (let i = 0; i < count; i++) if (slots.includes(i % regionsPerItem)) ids.push(i);
    const part = new Uint8Array(ids.length * 32);
    ids.forEach((id, j) => part.set(codes.subarray(id * 32, id * 32 + 32), j * 32));
    set.load('content', 'pdq-region', region, part, ids);
  }
  for (const table of set.prepareBuilds()) set.buildTable(table);
  set.finishLoad();
  return set;
}

export async function queryCost(photos: readonly QualityPhoto[], items: number, regionsPerItem: number, itemKinds: Record<RegionKind, number>): Promise<void> {
  let started = performance.now();
  const codes = realisticCodes(Math.round(items * regionsPerItem));
  const kinds = kindsOf(itemKinds, regionsPerItem);
  const split = loadedSet(codes, regionsPerItem, kinds);
  process.stderr.write(`cost: index of ${codes.length / 32} region codes (${items} items of ${kinds.join(' ')}) built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  started = performance.now();
  const mixed = loadedSet(codes, regionsPerItem, kinds.map(() => null));
  process.stderr.write(`cost: the same codes of unknown kind built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const times = {
    decode: [] as number[],
    pdq: [] as number[],
    regions: [] as number[],
    search: [] as number[],
    searchUnsplit: [] as number[],
    searchBatched: [] as number[],
    total: [] as number[],
    totalAsServed: [] as number[],
    hashes: [] as number[],
    hits: [] as number[],
  };
  for (const photo of photos.slice(0, QUERIES)) {
    const bytes = await sharp(readFileSync(photo.path)).resize(1280, 1280, { fit: 'inside', withoutEnlargement: false }).jpeg({ quality: 90 }).toBuffer();
    const t0 = performance.now();
    const { raster } = await decodeForHashing(bytes, 'fast');
    const t1 = performance.now();
    const pdq = pdqHashRaster(raster);
    pdqDihedralFromDct(pdq.dct);
    const t2 = performance.now();
    const regions = queryRegions(raster, { orientation: exifOrientation(bytes) });
    const hashes = regions.flatMap((r) => (r.dct ? pdqDihedralFromDct(r.dct) : [r.hash]).map((hash) => ({ hash, region: r.kind })));
    const t3 = performance.now();
    let hits = 0;
    for (const { hash, region } of hashes) hits += split.search('content', 'pdq-region', hash, PDQ_MATCH_THRESHOLD, region).length;
    const t4 = performance.now();
    for (const { hash } of hashes) mixed.search('content', 'pdq-region', hash, PDQ_MATCH_THRESHOLD, null);
    const t5 = performance.now();
    const batched = split.searchMany(
      'content',
      hashes.map(({ hash, region }) => ({ type: 'pdq-region', code: hash, radius: PDQ_MATCH_THRESHOLD, region })),
    );
    times.searchBatched.push(performance.now() - t5);
    if (batched.reduce((sum, found) => sum + found.length, 0) !== hits) throw new Error('the batch found otherwise than the searches one by one');
    times.decode.push(t1 - t0);
    times.pdq.push(t2 - t1);
    times.regions.push(t3 - t2);
    times.search.push(t4 - t3);
    times.searchUnsplit.push(t5 - t4);
    times.total.push(t4 - t0);
    times.totalAsServed.push(t3 - t0 + times.searchBatched.at(-1)!);
    times.hashes.push(hashes.length);
    times.hits.push(hits);
  }
  const ms = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  console.log(
    JSON.stringify({
      bench: 'quality-cost',
      items,
      regionCodes: codes.length / 32,
      queries: times.total.length,
      medianMs: { total: ms(times.total), totalAsServed: ms(times.totalAsServed), decode: ms(times.decode), pdq: ms(times.pdq), regionHashing: ms(times.regions), searches: ms(times.search), searchesUnsplit: ms(times.searchUnsplit), searchesBatched: ms(times.searchBatched) },
      queryHashes: median(times.hashes),
      msPerHash: Math.round((median(times.regions) / median(times.hashes)) * 1000) / 1000,
      msPerSearch: Math.round((median(times.search) / median(times.hashes)) * 1000) / 1000,
      searchSpeedupFromSplit: Math.round((median(times.searchUnsplit) / median(times.search)) * 100) / 100,
      searchSpeedupFromBatch: Math.round((median(times.search) / median(times.searchBatched)) * 100) / 100,
      hitsMedian: median(times.hits),
    }),
  );
}
