import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { IntegralImage, hashRegion } from '../src/hashing/pdq-region.js';
import { decodeForHashing } from '../src/image/decode.js';
import { MAX_CONTENT_REGIONS, contentRegions, queryRegions, queryRegionsInSlices, type RegionSignal } from '../src/robust/regions.js';
import { findStickers, paintOver } from '../src/robust/stickers.js';
import { findPhotoRegions } from '../src/robust/segment.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';
import { floatBits, seededRandom } from './helpers/seeded-random.js';

const PHOTOS = [PDQ_DIR + 'bridge-1-original.jpg', PDQ_DIR + 'q0122.jpg', BLOCKHASH_DIR + '00631701.jpg', BLOCKHASH_DIR + '01109801.jpg'];

async function raster(bytes: Buffer) {
  return (await decodeForHashing(bytes, 'fast')).raster;
}

/** Smallest distance between any query region and any content region. */
function closest(query: RegionSignal[], content: RegionSignal[]): number {
  let best = 256;
  for (const q of query) for (const c of content) best = Math.min(best, hammingDistance(q.hash, c.hash));
  return best;
}

t.test('integral image: box means over fractional rectangles equal the pixel-weighted sum', async (t) => {
  const width = 7;
  const height = 5;
  const luma = Float32Array.from({ length: width * height }, (_, i) => (i * 37) % 251);
  const image = new IntegralImage(luma, width, height);
  const naive = (x0: number, y0: number, x1: number, y1: number) => {
    let sum = 0;
    for (let y = 0; y < height; y++) {
      for (let x = 0; x < width; x++) {
        const wx = Math.max(0, Math.min(x + 1, x1) - Math.max(x, x0));
        const wy = Math.max(0, Math.min(y + 1, y1) - Math.max(y, y0));
        sum += wx * wy * luma[y * width + x];
      }
    }
    return sum / ((x1 - x0) * (y1 - y0));
  };
  for (const [x0, y0, x1, y1] of [
    [0, 0, 7, 5],
    [0.5, 0.25, 3.75, 4.5],
    [2.2, 1.1, 2.9, 1.8],
    [6.1, 4.2, 7, 5],
  ]) {
    t.ok(Math.abs(image.mean({ x: x0, y: y0, width: x1 - x0, height: y1 - y0 }) - naive(x0, y0, x1, y1)) < 1e-6, `rect ${x0},${y0}..${x1},${y1}`);
  }
  const grid = image.grid({ x: 0, y: 0, width, height }, 2, 3);
  t.ok(Math.abs(grid[0] - naive(0, 0, 3.5, 5 / 3)) < 1e-3, 'grid cell = box mean of its area');
  t.ok(Math.abs(grid[5] - naive(3.5, 10 / 3, 7, 5)) < 1e-3, 'last grid cell');
});

t.test('integral image: grids and turned grids in WebAssembly are bit-identical to the JS ones', async (t) => {
  const random = seededRandom(0x2545f491);
  for (const [width, height] of [
    [640, 486],
    [37, 300],
    [5, 5],
  ]) {
    const luma = Float32Array.from({ length: width * height }, () => random() * 255);
    const image = new IntegralImage(luma, width, height);
    const rects = [
      { x: 0, y: 0, width, height },
      // Past every edge (clipped), inside one pixel, and fractional everywhere.
      { x: -width * 0.2, y: -height * 0.3, width: width * 1.5, height: height * 1.7 },
      { x: width * 0.41, y: height * 0.37, width: 0.3, height: 0.2 },
      ...Array.from({ length: 40 }, () => ({ x: (random() - 0.1) * width, y: (random() - 0.1) * height, width: random() * width, height: random() * height })),
    ];
    // 64 x 64 as region hashes take them, and the larger and uneven grids corner planes take.
    for (const [cols, rows] of [
      [64, 64],
      [490, 373],
      [3, 1],
    ]) {
      let same = 0;
      for (const rect of rects) {
        const expected = floatBits(image.gridJs(rect, cols, rows));
        if (floatBits(image.grid(rect, cols, rows)).every((word, k) => word === expected[k])) same++;
      }
      t.equal(same, rects.length, `${width} x ${height}, ${cols} x ${rows} grids`);
    }
    t.same(floatBits(image.grid(rects[0], 64, 64)), floatBits(image.gridJs(rects[0], 64, 64)), 'the table is intact after the memory grew');
    let turnedSame = 0;
    const turns = 40;
    for (let k = 0; k < turns; k++) {
      // Angles either way up to 20 degrees, cells from a fraction of a pixel to wider than the frame, centres past its edges too.
      const angle = ((random() - 0.5) * 40 * Math.PI) / 180;
      const cell = [(random() * 1.5 * width) / 64, (random() * 1.5 * height) / 64];
      const centre = [(random() * 1.4 - 0.2) * width, (random() * 1.4 - 0.2) * height];
      const args = [centre[0], centre[1], cell[0], cell[1], Math.cos(angle), Math.sin(angle)] as const;
      const expected = floatBits(image.turnedGridJs(...args, new Float32Array(64 * 64)));
      if (floatBits(image.turnedGrid(...args, new Float32Array(64 * 64))).every((word, i) => word === expected[i])) turnedSame++;
    }
    t.equal(turnedSame, turns, `${width} x ${height}, turned grids`);
  }
});

t.test('region hash: stable across resolution and recompression', async (t) => {
  for (const file of PHOTOS) {
    const bytes = readFileSync(file);
    const a = IntegralImage.fromRaster(await raster(bytes));
    const small = await sharp(bytes).resize({ width: 300 }).jpeg({ quality: 60 }).toBuffer();
    const b = IntegralImage.fromRaster(await raster(small));
    const d = hammingDistance(hashRegion(a, { x: 0, y: 0, width: a.width, height: a.height }).hash, hashRegion(b, { x: 0, y: 0, width: b.width, height: b.height }).hash);
    t.ok(d <= 16, `${file}: ${d} bits between full size and a 300 px q60 copy`);
  }
});

/** What segmentation finds in an image: its parts and its layout's cells. */
async function segment(bytes: Buffer) {
  const { data, info } = await sharp(bytes).greyscale().raw().toBuffer({ resolveWithObject: true });
  return findPhotoRegions({ luma: Float32Array.from(data), width: info.width, height: info.height });
}

/** Within 3 px of the place and 4 px of the size. */
const near = (rect: { x: number; y: number; width: number; height: number }, x: number, y: number, w: number, h: number) =>
  Math.abs(rect.x - x) <= 3 && Math.abs(rect.y - y) <= 3 && Math.abs(rect.width - w) <= 4 && Math.abs(rect.height - h) <= 4;

/** Images laid on a white canvas, as a collage app does. */
function onWhite(width: number, height: number, placed: Array<{ input: Buffer; left: number; top: number }>): Promise<Buffer> {
  return sharp({ create: { width, height, channels: 3, background: '#fff' } }).composite(placed).png().toBuffer();
}

t.test('segmentation finds the photo inside bars, frames, captions and collages', async (t) => {
  const photo = await sharp(readFileSync(PHOTOS[0])).resize(400, 300, { fit: 'fill' }).png().toBuffer();
  const find = async (bytes: Buffer) => (await segment(bytes)).parts;

  const letterbox = await sharp(photo).extend({ top: 60, bottom: 60, background: '#000' }).png().toBuffer();
  t.ok((await find(letterbox)).some((r) => near(r, 0, 60, 400, 300)), 'letterbox bars trimmed');

  const frame = await sharp(photo).extend({ top: 25, bottom: 25, left: 25, right: 25, background: '#fff' }).png().toBuffer();
  t.ok((await find(frame)).some((r) => near(r, 25, 25, 400, 300)), 'white frame trimmed');

  const caption = Buffer.from(`<svg width="400" height="50"><rect width="400" height="50" fill="#c03"/><text x="10" y="35" font-size="28" fill="#fff">caption text</text></svg>`);
  const captioned = await sharp(photo).extend({ top: 50, background: '#c03' }).composite([{ input: caption, top: 0, left: 0 }]).png().toBuffer();
  t.ok((await find(captioned)).some((r) => near(r, 0, 50, 400, 300)), 'caption bar cut away');

  const others = await Promise.all(PHOTOS.slice(1).map((f) => sharp(readFileSync(f)).resize(400, 300, { fit: 'fill' }).png().toBuffer()));
  const collage = await onWhite(806, 606, [
    { input: others[0], left: 0, top: 0 },
    { input: others[1], left: 406, top: 0 },
    { input: photo, left: 0, top: 306 },
    { input: others[2], left: 406, top: 306 },
  ]);
  t.ok((await find(collage)).some((r) => near(r, 0, 306, 400, 300)), 'collage cell found');
});

t.test("a collage's equal layout gives its cells whole: a photo's own straight edge, or a seam with similar tones along part of it", async (t) => {
  const cellsOf = async (bytes: Buffer) => (await segment(bytes)).cells;
  // Soft photos: nothing of their own near a seam steps as sharply as the seam does.
  const photos = await Promise.all(PHOTOS.map((f) => sharp(readFileSync(f)).resize(300, 300, { fit: 'fill' }).blur(2).png().toBuffer()));

  // Two rows of three cells, 6 px white seams; one photo holds a dark post, a straight edge of its own.
  const post = await sharp({ create: { width: 24, height: 300, channels: 3, background: '#111' } }).png().toBuffer();
  const withPost = await sharp(photos[0]).composite([{ input: post, left: 110, top: 0 }]).png().toBuffer();
  const grid = await onWhite(912, 606, [
    { input: photos[1], left: 0, top: 0 },
    { input: photos[2], left: 306, top: 0 },
    { input: photos[3], left: 612, top: 0 },
    { input: photos[2], left: 0, top: 306 },
    { input: withPost, left: 306, top: 306 },
    { input: photos[1], left: 612, top: 306 },
  ]);
  t.ok((await cellsOf(grid)).some((r) => near(r, 306, 306, 300, 300)), 'the photo with a post of its own is one cell');

  // Two rows with no seam between them, the same grey along the left half of where they meet.
  const grey = await sharp({ create: { width: 140, height: 40, channels: 3, background: '#777' } }).png().toBuffer();
  for (const [above, below] of [
    [3, 0],
    [2, 0],
    [2, 3],
  ]) {
    const top = await sharp(photos[above]).composite([{ input: grey, left: 0, top: 260 }]).png().toBuffer();
    const bottom = await sharp(photos[below]).composite([{ input: grey, left: 0, top: 0 }]).png().toBuffer();
    const rows = await onWhite(300, 600, [
      { input: top, left: 0, top: 0 },
      { input: bottom, left: 0, top: 300 },
    ]);
    const cells = await cellsOf(rows);
    t.ok(cells.some((r) => r.y >= 298 && r.y <= 302 && r.height >= 295), `${basename(PHOTOS[below])} under ${basename(PHOTOS[above])}: the lower photo is a cell (${JSON.stringify(cells)})`);
  }
});

t.test('query regions of the original meet content regions of edited reposts', async (t) => {
  for (const file of PHOTOS) {
    const original = await sharp(readFileSync(file)).resize(960, 960, { fit: 'inside' }).jpeg({ quality: 90 }).toBuffer();
    const { width, height } = await sharp(original).metadata();
    const w = width!;
    const h = height!;
    const query = queryRegions(await raster(original));
    t.ok(query.length > 100 && query.length <= 1500, `${query.length} query regions`);
    const edits: Record<string, Buffer> = {
      'uneven 8% crop': await sharp(original).extract({ left: Math.round(w * 0.06), top: Math.round(h * 0.01), width: Math.round(w * 0.92), height: Math.round(h * 0.93) }).jpeg().toBuffer(),
      'centre 70% crop': await sharp(original).extract({ left: Math.round(w * 0.15), top: Math.round(h * 0.15), width: Math.round(w * 0.7), height: Math.round(h * 0.7) }).jpeg().toBuffer(),
      'black letterbox': await sharp(original).extend({ top: Math.round(h * 0.2), bottom: Math.round(h * 0.2), background: '#000' }).jpeg().toBuffer(),
    };
    const rotated = await sharp(original).rotate(5, { background: '#000' }).toBuffer({ resolveWithObject: true });
    const angle = (5 * Math.PI) / 180;
    const fit = Math.min(w / (w * Math.cos(angle) + h * Math.sin(angle)), h / (w * Math.sin(angle) + h * Math.cos(angle)));
    const cw = Math.floor(w * fit);
    const ch = Math.floor(h * fit);
    edits['5 degree rotation, corners cropped'] = await sharp(rotated.data)
      .extract({ left: Math.round((rotated.info.width - cw) / 2), top: Math.round((rotated.info.height - ch) / 2), width: cw, height: ch })
      .jpeg()
      .toBuffer();
    for (const [name, bytes] of Object.entries(edits)) {
      const content = contentRegions(await raster(bytes));
      t.ok(content.length >= 1 && content.length <= MAX_CONTENT_REGIONS, `${name}: ${content.length} content regions`);
      const d = closest(query, content);
      t.ok(d <= 31, `${file} ${name}: closest region ${d}`);
    }
  }
});

t.test('no region of one photo meets a region of another', async (t) => {
  const queries = await Promise.all(PHOTOS.map(async (f) => queryRegions(await raster(readFileSync(f)))));
  const contents = await Promise.all(PHOTOS.map(async (f) => contentRegions(await raster(readFileSync(f)))));
  for (let i = 0; i < PHOTOS.length; i++) {
    for (let j = 0; j < PHOTOS.length; j++) {
      if (i === j) continue;
      const d = closest(queries[i], contents[j]);
      t.ok(d > 31, `${PHOTOS[i]} vs ${PHOTOS[j]}: closest ${d}`);
    }
  }
});

/**
 * Every module a browser loads to hash a photo and build the query it sends:
 * the closure of the modules' own imports from the entry points the victim's
 * page uses, found by following the imports (so a module added later is
 * covered without touching this list).
 */
function browserClosure(entries: string[]): string[] {
  const seen = new Set<string>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    const source = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
    for (const [, spec] of source.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)) {
      const target = new URL(spec.replace(/\.js$/, '.ts'), new URL(`../${file}`, import.meta.url));
      visit(target.pathname.slice(new URL('../', import.meta.url).pathname.length));
    }
  };
  entries.forEach(visit);
  return [...seen].sort();
}

t.test('everything the browser loads to hash a photo and query with it runs in a browser: no Node built-ins, Buffer or process', async (t) => {
  const files = browserClosure(['src/robust/image-signals.ts', 'src/robust/orientation.ts', 'src/match/query.ts']);
  for (const expected of ['src/hashing/pdq-core.ts', 'src/hashing/md5.ts', 'src/robust/regions.ts', 'src/robust/segment.ts', 'src/robust/stickers.ts', 'src/hashing/registry.ts']) {
    t.ok(files.includes(expected), `${expected} is in the closure`);
  }
  for (const file of files) {
    const source = readFileSync(new URL(`../${file}`, import.meta.url), 'utf8');
    t.notMatch(source, /from 'node:|import\('node:|require\(|\bBuffer\.|\bprocess\./, `${file} uses only what browsers have`);
    t.match(file, /^src\/(hashing|robust)\/|^src\/match\/query\.ts$/, `${file} is in the browser-safe core`);
  }
});

t.test('stickers are found and painted over, bringing the hash back near the photo', async (t) => {
  // A photo without saturated blobs of its own (the bridge's red girders would count as stickers too).
  const photo = await sharp(readFileSync(PHOTOS[2])).resize(600, 400, { fit: 'fill' }).removeAlpha().toBuffer();
  const disc = (colour: string) => Buffer.from(`<svg width="70" height="70"><circle cx="35" cy="35" r="34" fill="${colour}"/><circle cx="24" cy="28" r="5" fill="#222"/><circle cx="46" cy="28" r="5" fill="#222"/></svg>`);
  const stickered = await sharp(photo)
    .composite([
      { input: disc('#ffcc22'), left: 100, top: 80 },
      { input: disc('#ff3377'), left: 400, top: 250 },
      { input: disc('#ffcc22'), left: 250, top: 160 },
    ])
    .jpeg({ quality: 85 })
    .toBuffer();
  const r = await raster(stickered);
  const boxes = findStickers(r);
  t.equal(boxes.length, 3, 'three stickers');
  for (const [left, top] of [
    [100, 80],
    [400, 250],
    [250, 160],
  ]) {
    t.ok(
      boxes.some((b) => b.x0 * 600 <= left + 35 && left + 35 <= b.x1 * 600 && b.y0 * 400 <= top + 35 && top + 35 <= b.y1 * 400 && (b.x1 - b.x0) * 600 < 110),
      `the sticker at ${left},${top} is found`,
    );
  }
  t.same(findStickers(await raster(await sharp(photo).jpeg().toBuffer())), [], 'none on the photo itself');

  const original = IntegralImage.fromRaster(await raster(await sharp(photo).jpeg().toBuffer()));
  const whole = (image: IntegralImage) => hashRegion(image, { x: 0, y: 0, width: image.width, height: image.height }).hash;
  const plane = { width: r.width, height: r.height };
  const luma = new Float32Array(plane.width * plane.height);
  for (let i = 0; i < luma.length; i++) luma[i] = 0.299 * r.data[i * r.channels] + 0.587 * r.data[i * r.channels + 1] + 0.114 * r.data[i * r.channels + 2];
  const before = hammingDistance(whole(new IntegralImage(luma, plane.width, plane.height)), whole(original));
  const after = hammingDistance(whole(new IntegralImage(paintOver(luma, plane.width, plane.height, boxes), plane.width, plane.height)), whole(original));
  t.ok(after < before, `painted over: ${before} -> ${after} bits from the photo`);
});

t.test('blocks over the corners and centre of a photo spoil the frame and every quadrant, and a ninth between them still matches', async (t) => {
  const photo = await sharp(readFileSync(PHOTOS[0])).resize(600, 400, { fit: 'fill' }).removeAlpha().toBuffer();
  // Grey and white, so that the sticker finder (saturated colours) does not paint them over.
  const block = (fill: string, w = 160, h = 110) => Buffer.from(`<svg width="${w}" height="${h}"><rect width="${w}" height="${h}" fill="${fill}"/></svg>`);
  const covered = await sharp(photo)
    .composite(
      // One in each corner ninth (so in each quadrant), and the whole centre ninth.
      [
        ...[0, 2, 6, 8].map((k, i) => ({ input: block(i % 2 ? '#ffffff' : '#777777'), left: 20 + (k % 3) * 200, top: 12 + Math.floor(k / 3) * 133 })),
        { input: block('#ffffff', 200, 134), left: 200, top: 133 },
      ],
    )
    .jpeg({ quality: 85 })
    .toBuffer();
  const query = queryRegions(await raster(photo));
  const content = contentRegions(await raster(covered));
  const ninths = content.filter((r) => r.kind === 'ninth');
  const grid = content.filter((r) => r.kind === 'frame' || r.kind === 'quadrant');
  t.ok(ninths.length >= 1, `${ninths.length} ninths kept`);
  t.ok(closest(query, ninths) <= 31, `closest ninth: ${closest(query, ninths)} bits`);
  t.ok(closest(query, grid) > 31, `closest frame or quadrant: ${closest(query, grid)} bits`);
});

t.test('query regions in slices, pausing in between, equal the one-go result', async (t) => {
  const r = await raster(readFileSync(PHOTOS[1]));
  let pauses = 0;
  const sliced = await queryRegionsInSlices(r, async () => {
    pauses++;
  });
  t.ok(pauses >= 5, `${pauses} pauses`);
  t.same(
    sliced.map((s) => [s.kind, Buffer.from(s.hash).toString('hex')]),
    queryRegions(r).map((s) => [s.kind, Buffer.from(s.hash).toString('hex')]),
  );
});
