/**
 * Where a robust image lookup's time goes (`npm run bench:quality -- --cost
 * [--items N]`): decode, PDQ, region hashing and index searches of a 1280 px
 * JPEG query against an index of N captured items (1M by default), each with
 * the mean number of region hashes a captured image keeps.
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
import { MultiIndexHashing } from '../../src/index/multi-index-hashing.js';
import { exifOrientation } from '../../src/robust/orientation.js';
import { queryRegions } from '../../src/robust/regions.js';
import { loadPhotoHashes, seededCodeTools } from './photo-codes.js';
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

export async function queryCost(photos: readonly QualityPhoto[], items: number, regionsPerItem: number): Promise<void> {
  const started = performance.now();
  const codes = realisticCodes(Math.round(items * regionsPerItem));
  const index = new MultiIndexHashing();
  const owners = new Uint32Array(codes.length / 32);
  for (let i = 0; i < owners.length; i++) owners[i] = Math.floor(i / regionsPerItem);
  index.addMany(codes, owners);
  index.search(codes.subarray(0, 32), PDQ_MATCH_THRESHOLD); // folds the delta in
  process.stderr.write(`cost: index of ${owners.length} region codes (${items} items) built in ${((performance.now() - started) / 1000).toFixed(1)} s\n`);
  const split = { decode: [] as number[], pdq: [] as number[], regions: [] as number[], search: [] as number[], total: [] as number[], hashes: [] as number[], hits: [] as number[] };
  for (const photo of photos.slice(0, QUERIES)) {
    const bytes = await sharp(readFileSync(photo.path)).resize(1280, 1280, { fit: 'inside', withoutEnlargement: false }).jpeg({ quality: 90 }).toBuffer();
    const t0 = performance.now();
    const { raster } = await decodeForHashing(bytes, 'fast');
    const t1 = performance.now();
    const pdq = pdqHashRaster(raster);
    pdqDihedralFromDct(pdq.dct);
    const t2 = performance.now();
    const regions = queryRegions(raster, { orientation: exifOrientation(bytes) });
    const hashes = regions.flatMap((r) => (r.dct ? pdqDihedralFromDct(r.dct) : [r.hash]));
    const t3 = performance.now();
    let hits = 0;
    for (const hash of hashes) hits += index.search(hash, PDQ_MATCH_THRESHOLD).length;
    const t4 = performance.now();
    split.decode.push(t1 - t0);
    split.pdq.push(t2 - t1);
    split.regions.push(t3 - t2);
    split.search.push(t4 - t3);
    split.total.push(t4 - t0);
    split.hashes.push(hashes.length);
    split.hits.push(hits);
  }
  const ms = (xs: number[]) => Math.round(median(xs) * 10) / 10;
  console.log(
    JSON.stringify({
      bench: 'quality-cost',
      items,
      regionCodes: owners.length,
      queries: split.total.length,
      medianMs: { total: ms(split.total), decode: ms(split.decode), pdq: ms(split.pdq), regionHashing: ms(split.regions), searches: ms(split.search) },
      queryHashes: median(split.hashes),
      msPerHash: Math.round((median(split.regions) / median(split.hashes)) * 1000) / 1000,
      msPerSearch: Math.round((median(split.search) / median(split.hashes)) * 1000) / 1000,
      hitsMedian: median(split.hits),
    }),
  );
}
