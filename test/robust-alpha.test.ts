/**
 * A query image with transparent parts is also region-hashed flattened on
 * white and on black, so that its flattened reposts (JPEGs) are found. Real
 * images through real sharp.
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { pdqDihedralFromDct } from '../src/hashing/pdq.js';
import { decodeForHashing } from '../src/image/decode.js';
import { hashImage } from '../src/image/hash-image.js';
import { flattenBackgrounds, queryRegions, type RegionSignal } from '../src/robust/regions.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';

/** Smallest distance from a query region (the frame with its 8 turns and mirrors, as the Matcher searches it) to a content region. */
function closest(query: RegionSignal[], content: RegionSignal[]): number {
  let best = 256;
  for (const q of query) {
    for (const hash of q.dct ? pdqDihedralFromDct(q.dct) : [q.hash]) for (const c of content) best = Math.min(best, hammingDistance(hash, c.hash));
  }
  return best;
}

const hex = (signals: RegionSignal[]) => signals.map((s) => `${s.kind}:${Buffer.from(s.hash).toString('hex')}`);

t.test('a transparent PNG finds its copies flattened on white and on black, cropped too', async (t) => {
  const png = readFileSync(`${BLOCKHASH_DIR}emptyBasket.png`);
  const query = await hashImage(png, { signals: ['pdq'], dihedral: true, regions: 'query' });
  const { width, height } = await sharp(png).metadata();
  for (const background of ['#ffffff', '#000000']) {
    const flat = await sharp(png).flatten({ background }).jpeg({ quality: 85 }).toBuffer();
    const crop = await sharp(flat)
      .extract({ left: Math.round(width! * 0.03), top: Math.round(height! * 0.08), width: Math.round(width! * 0.894), height: Math.round(height! * 0.894) })
      .jpeg({ quality: 85 })
      .toBuffer();
    for (const [name, bytes] of Object.entries({ flattened: flat, 'flattened, 20% crop': crop })) {
      const content = await hashImage(bytes, { signals: ['pdq'], regions: 'content' });
      const d = closest(query.regions!, content.regions!);
      t.ok(d <= 31, `${name} on ${background}: closest region ${d}`);
    }
  }
});

t.test('flattened views only when at least 1% is transparent, and only those that change the image', async (t) => {
  const raster = async (bytes: Buffer) => (await decodeForHashing(bytes, 'fast')).raster;
  const photo = await sharp(readFileSync(`${PDQ_DIR}bridge-1-original.jpg`)).resize(640, 400, { fit: 'fill' }).png().toBuffer();
  const opaque = await raster(await sharp(photo).ensureAlpha().png().toBuffer());
  t.equal(opaque.channels, 4, 'an alpha channel');
  t.same(flattenBackgrounds(opaque), [], 'all opaque: none');
  t.same(hex(queryRegions(opaque)), hex(queryRegions(await raster(photo))), 'an opaque alpha channel changes nothing');
  // A transparent band of 1/4 of the height; under it the colours are kept, or black.
  const { data, info } = await sharp(photo).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  const kept = Buffer.from(data);
  const black = Buffer.from(data);
  for (let y = 0; y < info.height / 4; y++) {
    for (let x = 0; x < info.width; x++) {
      const p = (y * info.width + x) * 4;
      kept[p + 3] = 0;
      black.fill(0, p, p + 4);
    }
  }
  const png = (pixels: Buffer) => sharp(pixels, { raw: { width: info.width, height: info.height, channels: 4 } }).png().toBuffer();
  t.same(flattenBackgrounds(await raster(await png(kept))), [255, 0], 'colours kept under it: white and black');
  t.same(flattenBackgrounds(await raster(await png(black))), [255], 'black under it: white only');
  const sparse = Buffer.from(data);
  for (let i = 0; i < 100; i++) sparse[i * 4 * 37 + 3] = 0;
  t.same(flattenBackgrounds(await raster(await png(sparse))), [], 'a few transparent pixels: none');
});

t.test('a transparent query sent by a client stays within one match request', async (t) => {
  const { MAX_QUERY_SIGNALS, imageHashingFor, queryFromImage, toWireSignals } = await import('../src/match/query.js');
  const png = readFileSync(`${BLOCKHASH_DIR}emptyBasket.png`);
  const hashed = await hashImage(png, imageHashingFor('robust'));
  const signals = toWireSignals(queryFromImage(hashed));
  t.ok(signals.length <= MAX_QUERY_SIGNALS, `${signals.length} signals for ${hashed.regions!.length} regions`);
  t.same(signals.slice(0, 2).map((s) => s.type), ['md5', 'sha256'], 'the digests are never left out');
  t.equal(signals.filter((s) => s.type === 'pdq').length, 8, 'PDQ with its turns and mirrors');
});
