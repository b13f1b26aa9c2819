import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { contrastRange, PDQ_NORM_MATCH_THRESHOLD, pdqNormHashRaster, stretchContrast } from '../src/hashing/pdq-norm.js';
import { PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY, pdqLuma } from '../src/hashing/pdq.js';
import { decodeForHashing } from '../src/image/decode.js';
import { hashImage } from '../src/image/hash-image.js';
import { contentRegions, MAX_CONTENT_REGIONS, queryRegions, type RegionSignal } from '../src/robust/regions.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';

const PHOTO = PDQ_DIR + 'bridge-1-original.jpg';
const OTHER = BLOCKHASH_DIR + '00631701.jpg';

async function raster(bytes: Buffer) {
  return (await decodeForHashing(bytes, 'fast')).raster;
}

function closest(query: RegionSignal[], content: RegionSignal[]): number {
  let best = 256;
  for (const q of query) for (const c of content) best = Math.min(best, hammingDistance(q.hash, c.hash));
  return best;
}

/** The photo at 960 px, as a victim's original. */
const original = sharp(readFileSync(PHOTO)).resize(960, 960, { fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();

t.test('a 12 degree turn with its corners cut away meets the original', async (t) => {
  const bytes = await original;
  const { width, height } = await sharp(bytes).metadata();
  const turned = await sharp(bytes).rotate(-12, { background: '#000' }).toBuffer({ resolveWithObject: true });
  const angle = (12 * Math.PI) / 180;
  const fit = Math.min(width! / (width! * Math.cos(angle) + height! * Math.sin(angle)), height! / (width! * Math.sin(angle) + height! * Math.cos(angle)));
  const w = Math.floor(width! * fit) - 4;
  const h = Math.floor(height! * fit) - 4;
  const repost = await sharp(turned.data)
    .extract({ left: Math.round((turned.info.width - w) / 2), top: Math.round((turned.info.height - h) / 2), width: w, height: h })
    .jpeg({ quality: 80 })
    .toBuffer();
  const d = closest(queryRegions(await raster(bytes)), contentRegions(await raster(repost)));
  t.ok(d <= PDQ_MATCH_THRESHOLD, `closest region ${d}`);
});

t.test('the photo as one cell of a collage, cropped to fill it, meets the original', async (t) => {
  const bytes = await original;
  const filler = await sharp(readFileSync(BLOCKHASH_DIR + 'clipper_ship.jpg')).resize(420, 480, { fit: 'cover' }).png().toBuffer();
  // A cell narrower than the photo's shape: a centred band of its width is cut away.
  const mine = await sharp(bytes).resize(420, 480, { fit: 'cover' }).png().toBuffer();
  const collage = await sharp({ create: { width: 2 * 420 + 3 * 8, height: 480 + 2 * 8, channels: 3, background: '#fff' } })
    .composite([
      { input: filler, left: 8, top: 8 },
      { input: mine, left: 436, top: 8 },
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
  const content = contentRegions(await raster(collage));
  t.ok(content.length <= MAX_CONTENT_REGIONS, `${content.length} content regions`);
  const d = closest(queryRegions(await raster(bytes)), content);
  t.ok(d <= PDQ_MATCH_THRESHOLD, `closest region ${d}`);
});

t.test('a dark photo: PDQ refuses it, pdq-norm matches its re-encoding and its regions its crop', async (t) => {
  const bytes = await original;
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.round(data[i] * 0.1);
  const dark = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 92 }).toBuffer();
  const darkSignals = await hashImage(dark, { signals: ['pdq'] });
  t.ok(darkSignals.pdq!.quality < PDQ_MIN_QUALITY, `PDQ quality ${darkSignals.pdq!.quality}`);
  t.ok(darkSignals['pdq-norm'] && darkSignals['pdq-norm'].quality >= PDQ_MIN_QUALITY, `pdq-norm quality ${darkSignals['pdq-norm']?.quality}`);

  const reencoded = await sharp(dark).resize(640).jpeg({ quality: 70 }).toBuffer();
  const d = hammingDistance(darkSignals['pdq-norm']!.hash, pdqNormHashRaster(await raster(reencoded)).hash);
  t.ok(d <= PDQ_NORM_MATCH_THRESHOLD, `re-encoded: pdq-norm ${d} bits`);

  const cropped = await sharp(dark).extract({ left: 40, top: 10, width: info.width - 80, height: info.height - 50 }).jpeg({ quality: 80 }).toBuffer();
  const content = contentRegions(await raster(cropped));
  t.ok(content.length > 5, `${content.length} regions kept from the dark crop`);
  t.ok(closest(queryRegions(await raster(dark)), content) <= PDQ_MATCH_THRESHOLD, 'its crop is found by a region');
});

t.test('a nearly black photo (its brightest pixels a few grey levels up) is still hashed, and its re-encoding found', async (t) => {
  const bytes = await original;
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true });
  for (let i = 0; i < data.length; i++) data[i] = Math.round(255 * Math.pow((data[i] * 0.065) / 255, 1.4));
  const dark = await sharp(data, { raw: { width: info.width, height: info.height, channels: 3 } }).jpeg({ quality: 90 }).toBuffer();
  const { low, high } = contrastRange(pdqLuma(await raster(dark)).luma);
  t.ok(high - low < 6, `its range is ${(high - low).toFixed(1)} grey levels`);
  const signals = await hashImage(dark, { signals: ['pdq'] });
  t.ok(signals['pdq-norm'] && signals['pdq-norm'].quality >= PDQ_MIN_QUALITY, `pdq-norm quality ${signals['pdq-norm']?.quality}`);
  const reencoded = await sharp(dark).jpeg({ quality: 75 }).toBuffer();
  const d = hammingDistance(signals['pdq-norm']!.hash, pdqNormHashRaster(await raster(reencoded)).hash);
  t.ok(d <= PDQ_NORM_MATCH_THRESHOLD, `re-encoded: pdq-norm ${d} bits`);
});

t.test('an unrelated photo meets none, and a flat image keeps no pdq-norm hash', async (t) => {
  const query = queryRegions(await raster(await original));
  const other = await sharp(readFileSync(OTHER)).jpeg({ quality: 85 }).toBuffer();
  const d = closest(query, contentRegions(await raster(other)));
  t.ok(d > PDQ_MATCH_THRESHOLD + 8, `closest region of another photo ${d}`);

  const flat = Buffer.alloc(200 * 150 * 3, 90);
  for (let i = 0; i < flat.length; i += 7) flat[i] = 92;
  const flatRaster = await raster(await sharp(flat, { raw: { width: 200, height: 150, channels: 3 } }).png().toBuffer());
  t.equal(pdqNormHashRaster(flatRaster).quality, 0, 'a range of a few grey levels is not stretched');
  t.equal(contentRegions(flatRaster).length, 0, 'and keeps no region');
});

t.test('contrast stretching maps the 1st-99th percentile to 0-255', async (t) => {
  const luma = Float32Array.from({ length: 1000 }, (_, i) => 20 + (i % 100) * 0.3);
  const range = contrastRange(luma);
  t.ok(Math.abs(range.low - 20) < 0.6 && Math.abs(range.high - 49.7) < 0.6, `range ${range.low}..${range.high}`);
  const out = stretchContrast(luma, range);
  t.ok(Math.min(...out) === 0 && Math.max(...out) === 255, 'stretched to the full range');
  t.not(out, luma, 'a new plane unless one is given');
});
