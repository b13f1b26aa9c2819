import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { PDQ_MATCH_THRESHOLD } from '../src/hashing/pdq.js';
import { IntegralImage } from '../src/hashing/pdq-region.js';
import { decodeForHashing } from '../src/image/decode.js';
import { CORNER_SIDE, cornerPlane, findCorners, harris, harrisJs, PAIR_MAX, PAIR_MIN, PATCH_RATIO, pairPatches } from '../src/robust/keypoints.js';
import { contentRegions, MAX_CONTENT_REGIONS, queryRegions, type RegionSignal, uprightLuma } from '../src/robust/regions.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';
import { floatBits, seededRandom } from './helpers/seeded-random.js';

const PHOTO = PDQ_DIR + 'bridge-1-original.jpg';
const OTHERS = ['00631701.jpg', 'clipper_ship.jpg'].map((f) => BLOCKHASH_DIR + f);

async function raster(bytes: Buffer) {
  return (await decodeForHashing(bytes, 'fast')).raster;
}

const patches = (regions: RegionSignal[]) => regions.filter((r) => r.kind === 'patch');

t.test('the Harris response in WebAssembly is bit-identical to the JS one, at every plane size corners are found on', async (t) => {
  const random = seededRandom(0x9e3779b9);
  const photo = await raster(readFileSync(PHOTO));
  const image = IntegralImage.fromRaster(photo);
  const planes = [
    // The photo at the query's scales, from the largest (the memory grows once) down, then up again.
    ...[1.52, 1.32, 1.15, 1].map((scale) => cornerPlane(image, CORNER_SIDE * scale)),
    cornerPlane(image, CORNER_SIDE * 1.52),
    // Noise, and planes too small for derivatives or for a whole box window.
    ...[
      [333, 251],
      [7, 300],
      [3, 3],
      [2, 9],
      [1, 1],
    ].map(([width, height]) => ({ width, height, luma: Float32Array.from({ length: width * height }, () => random() * 255) })),
  ];
  for (const { luma, width, height } of planes) {
    const expected = floatBits(harrisJs(luma, width, height));
    const actual = floatBits(harris(luma, width, height));
    t.ok(actual.length === expected.length && actual.every((word, k) => word === expected[k]), `${width} x ${height}`);
  }
});

function closest(query: RegionSignal[], content: RegionSignal[]): number {
  let best = 256;
  for (const q of query) for (const c of content) best = Math.min(best, hammingDistance(q.hash, c.hash));
  return best;
}

/** A bright square on grey with a darker one: eight corners, known to the pixel. */
function squares(width: number, height: number): Float32Array {
  const luma = new Float32Array(width * height).fill(100);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (x >= 40 && x < 120 && y >= 30 && y < 90) luma[y * width + x] = 220;
      if (x >= 160 && x < 200 && y >= 100 && y < 150) luma[y * width + x] = 20;
    }
  }
  return luma;
}

t.test('corners are found at the corners of shapes, strongest first, apart from each other', async (t) => {
  const corners = findCorners(squares(240, 180), 240, 180, 8);
  t.equal(corners.length, 8);
  for (const c of corners) {
    const near = [40, 120, 160, 200].some((x) => Math.abs(c.x + 0.5 - x) <= 2.5) && [30, 90, 100, 150].some((y) => Math.abs(c.y + 0.5 - y) <= 2.5);
    t.ok(near, `corner at ${c.x.toFixed(1)}, ${c.y.toFixed(1)}`);
  }
  for (let i = 1; i < corners.length; i++) t.ok(corners[i - 1].response >= corners[i].response, 'strongest first');
  t.same(findCorners(new Float32Array(240 * 180).fill(7), 240, 180, 8), [], 'a flat plane has none');
});

t.test('pair patches: side a fixed multiple of the distance, inside the frame, only pairs in the distance range', async (t) => {
  const plane = { width: CORNER_SIDE, height: CORNER_SIDE / 2, scale: 0.5, x: 0, y: 0 };
  const near = { x: 100, y: 80, response: 1 };
  const rects = pairPatches([near, { x: 100 + PAIR_MIN + 10, y: 80, response: 1 }, { x: 101, y: 81, response: 1 }, { x: 2, y: 2, response: 1 }], plane);
  t.ok(rects.length >= 1, `${rects.length} patches`);
  for (const r of rects) {
    t.ok(r.x >= 0 && r.y >= 0 && r.x + r.width <= plane.width / plane.scale && r.y + r.height <= plane.height / plane.scale, 'inside the frame');
    const d = r.width * plane.scale / PATCH_RATIO;
    t.ok(d >= PAIR_MIN && d <= PAIR_MAX, `pair distance ${d}`);
  }
  t.ok(Math.abs(rects[0].width - ((PAIR_MIN + 10) * PATCH_RATIO) / plane.scale) < 1e-9, 'side from the distance, in frame pixels');
});

t.test('a crop of a third of each axis, resized and re-encoded, meets its original through corner patches', async (t) => {
  const original = await sharp(readFileSync(PHOTO)).resize(1280, 1280, { fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();
  const { width, height } = await sharp(original).metadata();
  const crop = await sharp(original)
    .extract({ left: Math.round(width! * 0.3), top: Math.round(height! * 0.05), width: Math.round(width! * 0.66), height: Math.round(height! * 0.66) })
    .resize(900)
    .jpeg({ quality: 75 })
    .toBuffer();
  const content = contentRegions(await raster(crop));
  t.ok(content.length <= MAX_CONTENT_REGIONS, `${content.length} content regions`);
  t.ok(patches(content).length >= 1, `${patches(content).length} patches`);
  const query = queryRegions(await raster(original));
  const d = closest(patches(query), patches(content));
  t.ok(d <= PDQ_MATCH_THRESHOLD, `closest patch ${d}`);
  for (const other of OTHERS) {
    const foreign = closest(queryRegions(await raster(readFileSync(other))), content);
    t.ok(foreign > PDQ_MATCH_THRESHOLD, `${other}: closest region ${foreign}`);
  }
});

t.test('corner planes keep the frame shape at the asked long side', async (t) => {
  const { luma, width, height } = uprightLuma(await raster(readFileSync(PHOTO)));
  const plane = cornerPlane(new IntegralImage(luma, width, height), CORNER_SIDE);
  t.equal(Math.max(plane.width, plane.height), CORNER_SIDE);
  t.ok(Math.abs(plane.width / plane.height - width / height) < 0.02, 'same shape');
});
