/**
 * Region hashes come from the upright image (EXIF orientation applied), while
 * whole-image signals stay those of the stored pixels. Real images through
 * real sharp: EXIF-tagged copies are written with withMetadata({ orientation }).
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import t from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { pdqDihedralFromDct } from '../src/hashing/pdq.js';
import { decodeForHashing } from '../src/image/decode.js';
import { hashImage } from '../src/image/hash-image.js';
import { type Orientation, exifOrientation, orientPlane } from '../src/robust/orientation.js';
import { contentRegions, queryRegions, queryRegionsInSlices, type RegionSignal } from '../src/robust/regions.js';
import { imageHashingFor, MAX_QUERY_SIGNALS, queryFromImage, toWireSignals } from '../src/match/query.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';

const ORIENTATIONS: Orientation[] = [1, 2, 3, 4, 5, 6, 7, 8];
/** Clockwise turn that gives the stored pixels of an upright photo under each orientation (mirrored ones: flop first). */
const STORED: Record<Orientation, { turn: number; flop: boolean }> = {
  1: { turn: 0, flop: false },
  2: { turn: 0, flop: true },
  3: { turn: 180, flop: false },
  4: { turn: 180, flop: true },
  5: { turn: 90, flop: true },
  6: { turn: 270, flop: false },
  7: { turn: 270, flop: true },
  8: { turn: 90, flop: false },
};

/** A file a viewer shows as `upright` shows: its pixels as a camera stores them under `orientation`, tagged. */
async function tagged(upright: Buffer, orientation: Orientation, format: 'jpeg' | 'png' = 'jpeg'): Promise<Buffer> {
  const { turn, flop } = STORED[orientation];
  // Two steps: sharp applies flop before rotate within one pipeline.
  const turned = await sharp(upright).rotate(turn).png().toBuffer();
  const stored = flop ? sharp(turned).flop() : sharp(turned);
  return (format === 'jpeg' ? stored.jpeg({ quality: 95 }) : stored.png()).withMetadata({ orientation }).toBuffer();
}

const raster = async (bytes: Buffer) => (await decodeForHashing(bytes, 'fast')).raster;
const hex = (signals: RegionSignal[]) => signals.map((s) => `${s.kind}:${Buffer.from(s.hash).toString('hex')}`);

/** Smallest distance from a query region (the frame with its 8 turns and mirrors, as the Matcher searches it) to a content region. */
function closest(query: RegionSignal[], content: RegionSignal[]): number {
  let best = 256;
  for (const q of query) {
    for (const hash of q.dct ? pdqDihedralFromDct(q.dct) : [q.hash]) for (const c of content) best = Math.min(best, hammingDistance(hash, c.hash));
  }
  return best;
}

/** A landscape photo, upright, at a size reposts come in. */
async function photo(): Promise<Buffer> {
  return sharp(readFileSync(`${PDQ_DIR}bridge-1-original.jpg`)).resize(960, 960, { fit: 'inside' }).jpeg({ quality: 92 }).toBuffer();
}

/** Edits a repost comes with, made on `upright` (encoded without any tag). */
async function reposts(upright: Buffer): Promise<Record<string, Buffer>> {
  const { width, height } = await sharp(upright).metadata();
  const w = width!;
  const h = height!;
  const crop = (l: number, tp: number, cw: number, ch: number) =>
    sharp(upright)
      .extract({ left: Math.round(w * l), top: Math.round(h * tp), width: Math.round(w * cw), height: Math.round(h * ch) })
      .jpeg({ quality: 85 })
      .toBuffer();
  return {
    'uneven 8% crop': await crop(0.06, 0.01, 0.92, 0.93),
    '20% crop': await crop(0.03, 0.08, 0.894, 0.894),
    'centre 70% crop': await crop(0.15, 0.15, 0.7, 0.7),
  };
}

t.test('exifOrientation reads what libvips reads, in JPEG, PNG, WebP and TIFF', async (t) => {
  const base = sharp({ create: { width: 40, height: 24, channels: 3, background: '#c83' } });
  for (const format of ['jpeg', 'png', 'webp', 'tiff'] as const) {
    const plain = await base.clone().toFormat(format).toBuffer();
    t.equal(exifOrientation(plain), 1, `${format} without EXIF`);
    for (const orientation of ORIENTATIONS) {
      const bytes = await base.clone().toFormat(format).withMetadata({ orientation }).toBuffer();
      const expected = (await sharp(bytes).metadata()).orientation ?? 1;
      t.equal(exifOrientation(bytes), expected, `${format} tagged ${orientation}`);
      t.equal(expected, orientation, `libvips reads ${orientation} back from ${format}`);
    }
  }
  t.equal(exifOrientation(readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`)), 6, 'a phone photo tagged 6');
  // HEIF/AVIF decoders apply their rotation themselves; GIF has none.
  t.equal(exifOrientation(await base.clone().avif().withMetadata({ orientation: 6 }).toBuffer()), 1, 'AVIF');
  t.equal(exifOrientation(await base.clone().gif().toBuffer()), 1, 'GIF');
  const jpeg = await base.clone().jpeg().withMetadata({ orientation: 6 }).toBuffer();
  for (let n = 0; n < 300; n++) t.doesNotThrow(() => exifOrientation(jpeg.subarray(0, n)), `never throws on ${n} bytes`, { diagnostic: false });
  const corrupt = Buffer.from(jpeg);
  for (let i = 2; i < 120; i++) {
    corrupt[i] ^= 0xff;
    const o = exifOrientation(corrupt);
    t.ok(o >= 1 && o <= 8, `a damaged byte ${i}: ${o}`, { diagnostic: false });
    corrupt[i] ^= 0xff;
  }
});

t.test('orientPlane turns a plane exactly as a viewer (sharp autoOrient) does', async (t) => {
  const upright = await sharp(readFileSync(`${BLOCKHASH_DIR}00631701.jpg`)).resize(37, 23, { fit: 'fill' }).greyscale().png().toBuffer();
  for (const orientation of ORIENTATIONS) {
    const file = await tagged(upright, orientation, 'png');
    const stored = await sharp(file).greyscale().raw().toBuffer({ resolveWithObject: true });
    const viewed = await sharp(file).autoOrient().greyscale().raw().toBuffer({ resolveWithObject: true });
    const turned = orientPlane(Float32Array.from(stored.data), stored.info.width, stored.info.height, orientation);
    t.same([turned.width, turned.height], [viewed.info.width, viewed.info.height], `${orientation}: size`);
    t.same(Array.from(turned.luma), Array.from(viewed.data), `${orientation}: pixels`);
  }
});

t.test('region hashes are those of the upright image, for every orientation; stickers too', async (t) => {
  // 640 x 480 (and 480 x 640 turned): the working planes keep every pixel, so the hashes must be equal.
  const disc = Buffer.from('<svg width="60" height="60"><circle cx="30" cy="30" r="29" fill="#ffcc22"/><circle cx="20" cy="24" r="4" fill="#222"/><circle cx="40" cy="24" r="4" fill="#222"/></svg>');
  const upright = await sharp(readFileSync(`${BLOCKHASH_DIR}00631701.jpg`))
    .resize(640, 480, { fit: 'fill' })
    .removeAlpha()
    .composite([
      { input: disc, left: 80, top: 60 },
      { input: disc, left: 420, top: 300 },
    ])
    .png()
    .toBuffer();
  const expectedContent = hex(contentRegions(await raster(upright)));
  const expectedQuery = hex(queryRegions(await raster(upright)));
  t.ok(expectedContent.length > 12, `${expectedContent.length} content regions (with the stickers painted over)`);
  for (const orientation of ORIENTATIONS) {
    const file = await tagged(upright, orientation, 'png');
    const stored = await raster(file);
    t.same(hex(contentRegions(stored, orientation)), expectedContent, `${orientation}: content regions`);
    t.same(hex(queryRegions(stored, { orientation, stored: false })), expectedQuery, `${orientation}: query regions of the upright image`);
    const hashed = await hashImage(file, { signals: ['pdq'], regions: 'content' });
    t.same(hex(hashed.regions!), expectedContent, `${orientation}: hashImage content regions`);
    t.equal(hashed.orientation, orientation);
  }
});

t.test('an EXIF-tagged original (orientations 6, 8, 3) finds upright cropped reposts through its regions', async (t) => {
  const upright = await photo();
  const edits = await reposts(upright);
  const contents = Object.fromEntries(
    await Promise.all(Object.entries(edits).map(async ([name, bytes]) => [name, (await hashImage(bytes, { signals: ['pdq'], regions: 'content' })).regions!] as const)),
  );
  for (const orientation of [6, 8, 3] as const) {
    const file = await tagged(upright, orientation);
    const query = await hashImage(file, { signals: ['pdq'], dihedral: true, regions: 'query' });
    for (const [name, content] of Object.entries(contents)) {
      const d = closest(query.regions!, content);
      t.ok(d <= 31, `orientation ${orientation}, ${name}: closest region ${d}`);
    }
  }
});

t.test('a real phone photo tagged 6 finds its upright 20% crop', async (t) => {
  const phone = readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`);
  const upright = await sharp(phone).autoOrient().resize(1280, 1280, { fit: 'inside' }).jpeg({ quality: 85 }).toBuffer();
  const { '20% crop': crop, 'centre 70% crop': centre } = await reposts(upright);
  const query = await hashImage(phone, { signals: ['pdq'], dihedral: true, regions: 'query' });
  t.equal(query.orientation, 6);
  for (const [name, bytes] of Object.entries({ '20% crop': crop, 'centre 70% crop': centre })) {
    const content = await hashImage(bytes, { signals: ['pdq'], regions: 'content' });
    const d = closest(query.regions!, content.regions!);
    t.ok(d <= 31, `${name}: closest region ${d}`);
  }
});

t.test('captured content that kept its EXIF tag is hashed upright: an upright query finds its crop', async (t) => {
  const upright = await photo();
  const query = await hashImage(upright, { signals: ['pdq'], dihedral: true, regions: 'query' });
  for (const [name, bytes] of Object.entries(await reposts(upright))) {
    const content = await hashImage(await tagged(bytes, 6), { signals: ['pdq'], regions: 'content' });
    const d = closest(query.regions!, content.regions!);
    t.ok(d <= 31, `${name}, stored turned and tagged 6: closest region ${d}`);
  }
});

t.test('a tagged query also finds a sideways repost (a tool cropped the stored pixels and dropped the tag)', async (t) => {
  const upright = await photo();
  const file = await tagged(upright, 6);
  const query = await hashImage(file, { signals: ['pdq'], dihedral: true, regions: 'query' });
  const storedPixels = await sharp(file).jpeg({ quality: 95 }).toBuffer(); // sharp drops the tag; pixels as stored
  t.equal(exifOrientation(storedPixels), 1);
  for (const [name, bytes] of Object.entries(await reposts(storedPixels))) {
    const content = await hashImage(bytes, { signals: ['pdq'], regions: 'content' });
    const d = closest(query.regions!, content.regions!);
    t.ok(d <= 31, `sideways ${name}: closest region ${d}`);
  }
});

t.test('whole-image signals stay those of the stored pixels; an untagged query hashes as before', async (t) => {
  const upright = await photo();
  const file = await tagged(upright, 6);
  // The same stored pixels without the tag: decoded identically.
  const stored = await sharp(file).raw().toBuffer({ resolveWithObject: true });
  const untaggedPixels = await sharp(stored.data, { raw: { width: stored.info.width, height: stored.info.height, channels: 3 } }).png().toBuffer();
  const withTag = await hashImage(file, { dihedral: true, regions: 'query' });
  const plain = await hashImage(untaggedPixels, { dihedral: true });
  const rawStored = await hashImage(await sharp(file).png().toBuffer());
  const { width, height } = await sharp(upright).metadata();
  t.same([withTag.width, withTag.height], [height, width], 'stored size');
  t.equal(Buffer.from(withTag.pdq!.hash).toString('hex'), Buffer.from(plain.pdq!.hash).toString('hex'), 'PDQ of the stored pixels');
  t.equal(Buffer.from(withTag.pdq!.hash).toString('hex'), Buffer.from(rawStored.pdq!.hash).toString('hex'));
  t.equal(Buffer.from(withTag.blockhash!).toString('hex'), Buffer.from(plain.blockhash!).toString('hex'), 'blockhash of the stored pixels');
  const { createHash } = await import('node:crypto');
  t.equal(Buffer.from(withTag.md5!).toString('hex'), createHash('md5').update(file).digest('hex'), 'MD5 of the bytes');
  // Orientation 1: the query regions are exactly the upright image's, no more.
  const r = await raster(upright);
  t.same(
    queryRegions(r).map((s) => Buffer.from(s.hash).toString('hex')),
    (await hashImage(upright, { signals: ['pdq'], regions: 'query' })).regions!.map((s) => Buffer.from(s.hash).toString('hex')),
  );
  const regions6 = withTag.regions!.length;
  const regions1 = queryRegions(r).length;
  t.ok(regions6 > regions1 && regions6 <= 2 * regions1, `tagged 6: ${regions6} regions, upright: ${regions1}`);
  // Every orientation: the upright image's regions first, then the stored image's.
  for (const orientation of [2, 3, 4, 5, 7] as const) {
    const file = await tagged(upright, orientation);
    const regions = hex((await hashImage(file, { signals: ['pdq'], regions: 'query' })).regions!);
    const uprightOnly = hex(queryRegions(await raster(file), { orientation, stored: false }));
    t.same(regions.slice(0, uprightOnly.length), uprightOnly, `tagged ${orientation}: the upright image's ${uprightOnly.length} regions first`);
    t.ok(regions.length > uprightOnly.length + 300, `then the stored image's (${regions.length - uprightOnly.length})`);
  }
});

t.test('a tagged query in slices, pausing in between, equals the one-go result', async (t) => {
  const file = await tagged(await photo(), 6);
  const r = await raster(file);
  let pauses = 0;
  const sliced = await queryRegionsInSlices(r, async () => void pauses++, { orientation: 6 });
  t.ok(pauses >= 10, `${pauses} pauses`);
  t.same(hex(sliced), hex(queryRegions(r, { orientation: 6 })));
  t.same(hex((await hashImage(file, { signals: ['pdq'], regions: 'query', pause: async () => {} })).regions!), hex(sliced), 'hashImage with pause');
});

t.test('what a client sends for a tagged photo fits in one match request: the upright regions and the best of the stored ones', async (t) => {
  for (const [name, bytes, orientation] of [
    ['a phone photo tagged 6', readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`), 6],
    ['a photo tagged 8', await tagged(await photo(), 8), 8],
  ] as const) {
    const hashed = await hashImage(bytes, imageHashingFor('robust'));
    const signals = toWireSignals(queryFromImage(hashed));
    const sent = new Set(signals.filter((s) => s.type === 'pdq-region').map((s) => s.hash));
    const upright = queryRegions((await decodeForHashing(bytes, 'fast')).raster, { orientation, stored: false });
    t.ok(signals.length <= MAX_QUERY_SIGNALS, `${name}: ${signals.length} signals`);
    t.ok(
      upright.every((r) => sent.has(Buffer.from(r.hash).toString('hex'))),
      `${name}: all ${upright.length} regions of the upright image sent`,
    );
    const storedSent = hashed.regions!.slice(upright.length).filter((r) => sent.has(Buffer.from(r.hash).toString('hex'))).length;
    t.ok(storedSent >= 150, `${name}: ${storedSent} of ${hashed.regions!.length - upright.length} regions of the stored image sent`);
    t.same(signals.slice(0, 2).map((s) => s.type), ['md5', 'sha256'], 'the digests first');
  }
});
