import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { hammingDistance } from '../src/hashing/hamming.js';
import { fromHex, toHex } from '../src/hashing/hex.js';
import { blockhashRaster } from '../src/hashing/blockhash.js';
import { decodeForHashing, fastShrinkFactor, MAX_JPEG_SCANS } from '../src/image/decode.js';
import { ImageError } from '../src/image/errors.js';
import { hashImage } from '../src/image/hash-image.js';
import { readJpegHeader } from '../src/image/jpeg-header.js';
import { BLOCKHASH_DIR, FIXTURES, PDQ_DIR, blockhashExpected, pdqExpected } from './helpers/fixtures.js';
import { MP4_START } from './helpers/hostile-inputs.js';

const rejects = async (t: Test, promise: Promise<unknown>, code: string, message: RegExp) => {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  t.type(err, ImageError, `${code}: an ImageError`);
  t.equal((err as ImageError)?.code, code);
  t.match((err as Error)?.message, message);
};



const pattern = (width: number, height: number) => {
  const data = Buffer.alloc(width * height * 3);
  for (let i = 0; i < data.length; i++) data[i] = (i * 31 + ((i / width) | 0) * 7) & 255;
  return sharp(data, { raw: { width, height, channels: 3 } });
};

t.test('reference path: every cpp-rebuilt hash and quality, end to end', async (t) => {
  const rows = pdqExpected();
  t.ok(rows.length >= 39);
  for (const row of rows) {
    const s = await hashImage(readFileSync(PDQ_DIR + row.file), { decodePath: 'reference', signals: ['pdq'] });
    t.equal(toHex(s.pdq!.hash), row.hash, `${row.file} hash`);
    t.equal(s.pdq!.quality, Number(row.quality), `${row.file} quality`);
    t.equal(s.pdq!.lowQuality, Number(row.quality) < 50, `${row.file} low-quality flag`);
  }
});

t.test('reference path: blockhash equals the C tool end to end', async (t) => {
  for (const row of blockhashExpected().filter((r) => r.method === 'precise')) {
    const s = await hashImage(readFileSync(BLOCKHASH_DIR + row.file), { decodePath: 'reference', signals: ['blockhash'] });
    t.equal(toHex(s.blockhash!), row.hash, row.file);
  }
});

t.test('fast path stays within upstream conformance (<= 10 bits at quality >= 80)', async (t) => {
  for (const row of pdqExpected()) {
    const s = await hashImage(readFileSync(PDQ_DIR + row.file), { decodePath: 'fast', signals: ['pdq'] });
    if (Number(row.quality) >= 80) {
      t.ok(hammingDistance(s.pdq!.hash, fromHex(row.hash, 256)) <= 10, `${row.file} pdq`);
    }
  }
  for (const row of blockhashExpected().filter((r) => r.method === 'precise')) {
    const s = await hashImage(readFileSync(BLOCKHASH_DIR + row.file), { decodePath: 'fast', signals: ['blockhash'] });
    t.ok(hammingDistance(s.blockhash!, fromHex(row.hash, 256)) <= 16, `${row.file} blockhash`);
  }
});

t.test('all signals, dihedral variants and exact digests', async (t) => {
  const bytes = readFileSync(`${PDQ_DIR}bridge-1-original.jpg`);
  const s = await hashImage(bytes, { decodePath: 'reference', dihedral: true });
  t.equal(s.format, 'jpeg');
  t.same([s.width, s.height], [1600, 1004]);
  t.equal(s.pdq!.dihedral!.length, 8);
  t.same(s.pdq!.dihedral![0], s.pdq!.hash, 'orig variant is the hash itself');
  t.equal(toHex(s.pdq!.dihedral![1]), 'f0a10efd51c83d429053d48d0fffbc52e34e0e17ada956a9d29685211ea9e58f');
  t.equal(s.md5!.length, 16);
  t.equal(s.sha256!.length, 32);
  const onlyMd5 = await hashImage(bytes, { signals: ['md5'] });
  t.equal(onlyMd5.pdq, undefined, 'signals not asked for are not computed');
  t.same(onlyMd5.md5, s.md5);
});

t.test('EXIF orientation is ignored: the stored pixels are hashed', async (t) => {
  const bytes = readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`);
  t.equal((await sharp(bytes).metadata()).orientation, 6);
  const s = await hashImage(bytes, { decodePath: 'reference', signals: ['pdq'] });
  t.equal(toHex(s.pdq!.hash), 'e8783aad54ae0b63653192c279592d6ad4b5434a5fcd7071f7abcb594b481a94');
  t.same([s.width, s.height], [4032, 3024], 'stored size, not the displayed one');
});

t.test('animated input: the first frame is hashed', async (t) => {
  const width = 64;
  const frame = (seed: number) => Buffer.from(Array.from({ length: width * width * 3 }, (_, i) => (i * seed) & 255));
  const first = frame(7);
  const both = Buffer.concat([first, frame(13)]);
  const gif = await sharp(both, { raw: { width, height: width * 2, channels: 3, pageHeight: width } } as never)
    .gif()
    .toBuffer();
  const meta = await sharp(gif).metadata();
  t.equal(meta.pages, 2, 'the test input really is animated');
  const firstOnly = await sharp(first, { raw: { width, height: width, channels: 3 } }).gif().toBuffer();
  const a = await hashImage(gif, { signals: ['pdq', 'blockhash'] });
  const b = await hashImage(firstOnly, { signals: ['pdq', 'blockhash'] });
  t.same([a.width, a.height], [64, 64]);
  t.same(a.pdq!.hash, b.pdq!.hash);
  t.same(a.blockhash, b.blockhash);
});

t.test('bad input gets a clear, coded error', async (t) => {
  const jpeg = readFileSync(`${PDQ_DIR}bridge-1-original.jpg`);
  const png = readFileSync(`${PDQ_DIR}decoded-q0122.png`);
  await rejects(t, hashImage(new Uint8Array(0)), 'EMPTY_IMAGE', /empty/);
  await rejects(t, hashImage(new TextEncoder().encode('hello, this is not a photo')), 'UNSUPPORTED_FORMAT', /not an image format/);
  await rejects(t, hashImage(jpeg.subarray(0, jpeg.length >> 1), { decodePath: 'reference' }), 'CORRUPT_IMAGE', /damaged or incomplete/);
  await rejects(t, hashImage(jpeg.subarray(0, jpeg.length >> 1), { decodePath: 'fast' }), 'CORRUPT_IMAGE', /damaged or incomplete/);
  await rejects(t, hashImage(png.subarray(0, png.length - 200)), 'CORRUPT_IMAGE', /damaged or incomplete/);
  await rejects(t, hashImage(jpeg.subarray(0, 400)), 'CORRUPT_IMAGE', /damaged or incomplete/);
  const heic = readFileSync(`${FIXTURES}inputs/pattern.heic`);
  await rejects(t, hashImage(heic), 'UNSUPPORTED_FORMAT', /HEIC/);
  await rejects(t, hashImage(heic.subarray(0, heic.length >> 1)), 'UNSUPPORTED_FORMAT', /HEIC/);
  // Damaged files of formats that do decode here are damaged, not unsupported.
  const avif = await pattern(64, 48).avif().toBuffer();
  await rejects(t, hashImage(avif.subarray(0, avif.length >> 1)), 'CORRUPT_IMAGE', /damaged or incomplete/);
  await rejects(t, hashImage(avif.subarray(0, 300)), 'CORRUPT_IMAGE', /damaged or incomplete/);
  const tiff = await pattern(64, 48).tiff().toBuffer();
  await rejects(t, hashImage(tiff.subarray(0, tiff.length >> 1)), 'CORRUPT_IMAGE', /damaged or incomplete/);
  await rejects(t, hashImage(MP4_START), 'UNSUPPORTED_FORMAT', /not an image format/);
  const svg = new TextEncoder().encode('<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><rect width="100" height="100"/></svg>');
  await rejects(t, hashImage(svg), 'UNSUPPORTED_FORMAT', /SVG, HTML and other markup files are not accepted/);
  const pdf = new TextEncoder().encode('%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj');
  await rejects(t, hashImage(pdf), 'UNSUPPORTED_FORMAT', /not an image format/);
  await rejects(t, hashImage(await pattern(1, 1).png().toBuffer()), 'IMAGE_TOO_SMALL', /1 x 1/);
  await rejects(t, hashImage(await pattern(100000, 1).png().toBuffer()), 'IMAGE_TOO_SMALL', /100000 x 1/);
  await rejects(t, hashImage(jpeg, { limits: { maxBytes: 1000, maxPixels: 50e6 } }), 'IMAGE_TOO_LARGE', /limit is 0.0 MB|limit is/);
  await rejects(t, hashImage(jpeg, { limits: { maxBytes: 25e6, maxPixels: 1e6 } }), 'IMAGE_TOO_LARGE', /1600 x 1004.*limit is 1.0 MP/);
});

t.test('a decompression bomb is refused from its header, before decoding', async (t) => {
  // 10000 x 10000 of one colour: 100 MP, a few hundred kilobytes as PNG.
  const bomb = await sharp({ create: { width: 10000, height: 10000, channels: 3, background: '#000' } })
    .png({ compressionLevel: 9 })
    .toBuffer();
  t.ok(bomb.length < 1_000_000, `small file (${bomb.length} bytes)`);
  const started = performance.now();
  await rejects(t, decodeForHashing(bomb, 'reference'), 'IMAGE_TOO_LARGE', /10000 x 10000 \(100.0 MP\).*50.0 MP/);
  t.ok(performance.now() - started < 1000, 'refused without a full decode');
});

t.test('16-bit, grey and alpha inputs decode to 8-bit rasters', async (t) => {
  const png16 = await pattern(40, 30).toColourspace('rgb16').png().toBuffer();
  t.equal((await sharp(png16).metadata()).depth, 'ushort');
  const decoded = await decodeForHashing(png16, 'reference');
  t.equal(decoded.raster.data.length, 40 * 30 * decoded.raster.channels);
  const grey = await pattern(40, 30).greyscale().png().toBuffer();
  const g = await hashImage(grey, { signals: ['pdq'] });
  t.ok(g.pdq!.quality >= 0);
  const withAlpha = await pattern(40, 30).ensureAlpha(0.5).png().toBuffer();
  const a = await hashImage(withAlpha, { decodePath: 'reference', signals: ['pdq'] });
  const noAlpha = await hashImage(await pattern(40, 30).png().toBuffer(), { decodePath: 'reference', signals: ['pdq'] });
  t.same(a.pdq!.hash, noAlpha.pdq!.hash, 'alpha is dropped, colours used as stored');
});

t.test('fast path decode scale keeps enough pixels for PDQ', async (t) => {
  t.equal(fastShrinkFactor(4000, 3000), 4, '12 MP decodes at 1000 x 750');
  t.equal(fastShrinkFactor(8000, 6000), 8);
  t.equal(fastShrinkFactor(2048, 1536), 4);
  t.equal(fastShrinkFactor(1280, 960), 1, 'never 2: libvips would decode in full anyway');
  t.equal(fastShrinkFactor(2000, 2000), 1, 'a quarter would leave under 512');
  t.equal(fastShrinkFactor(6000, 1000), 1, 'the shorter side stays >= 256');
  t.equal(fastShrinkFactor(512, 512), 1);
  const bytes = readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`);
  const { raster, width, height } = await decodeForHashing(bytes, 'fast');
  t.same([width, height], [4032, 3024], 'reports the stored size');
  t.same([raster.width, raster.height], [1008, 756], 'decoded at a quarter');
});

t.test('fast path: images decoded in full hash exactly as the reference path', async (t) => {
  for (const file of ['bridge-1-original.jpg', 'shrink-a-little.jpg', 'c.png']) {
    const bytes = readFileSync(PDQ_DIR + file);
    const fast = await hashImage(bytes, { decodePath: 'fast' });
    const reference = await hashImage(bytes, { decodePath: 'reference' });
    t.same(fast.pdq!.hash, reference.pdq!.hash, `${file} pdq`);
    t.equal(fast.pdq!.quality, reference.pdq!.quality, `${file} quality`);
    t.same(fast.blockhash, reference.blockhash, `${file} blockhash`);
    t.same([fast.md5, fast.sha256], [reference.md5, reference.sha256], `${file} digests`);
  }
  // Reduced at decode: its blockhash is still blockhash-core's over the raster it hashes.
  const bytes = readFileSync(`${PDQ_DIR}exif-rotn-6.jpg`);
  const { raster } = await decodeForHashing(bytes, 'fast');
  const fast = await hashImage(bytes, { decodePath: 'fast', signals: ['blockhash'] });
  t.same(fast.blockhash, blockhashRaster(raster).hash);
});

t.test('fast path: a large image with alpha hashes as the reference path', async (t) => {
  // A 2400 x 1600 cut-out: a disc on a textured background that is fully
  // transparent, its colour still stored (PDQ hashes it, blockhash sees white).
  const [width, height] = [2400, 1600];
  const data = Buffer.alloc(width * height * 4);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const at = (y * width + x) * 4;
      data[at] = (x * 7 + y * 3) & 255;
      data[at + 1] = ((x >> 3) * (y >> 4)) & 255;
      data[at + 2] = (x ^ y) & 255;
      data[at + 3] = (x - width / 2) ** 2 + (y - height / 2) ** 2 < 500 ** 2 ? 255 : 0;
    }
  }
  const png = await sharp(data, { raw: { width, height, channels: 4 } }).png({ compressionLevel: 1 }).toBuffer();
  const fast = await hashImage(png, { decodePath: 'fast' });
  const reference = await hashImage(png, { decodePath: 'reference' });
  t.same(fast.pdq!.hash, reference.pdq!.hash, 'pdq');
  t.same(fast.blockhash, reference.blockhash, 'blockhash');
});

t.test('JPEG size from the frame header, as libvips reads it', async (t) => {
  const jpegs = [
    ...readdirSync(PDQ_DIR).filter((f) => f.endsWith('.jpg')).map((f) => PDQ_DIR + f),
    ...readdirSync(BLOCKHASH_DIR).filter((f) => f.endsWith('.jpg')).map((f) => BLOCKHASH_DIR + f),
  ];
  const progressive = await pattern(300, 200).jpeg({ progressive: true }).toBuffer();
  const cmyk = await pattern(64, 48).toColourspace('cmyk').jpeg().toBuffer();
  const withExif = await pattern(80, 60).jpeg().withMetadata({ orientation: 6 }).toBuffer();
  const inputs: Array<[string, Uint8Array]> = [...jpegs.map((f): [string, Uint8Array] => [f, readFileSync(f)]), ['progressive', progressive], ['cmyk', cmyk], ['exif', withExif]];
  for (const [name, bytes] of inputs) {
    const meta = await sharp(bytes).metadata();
    t.match(readJpegHeader(bytes, MAX_JPEG_SCANS), { width: meta.width, height: meta.height }, name);
  }
  const bridge = readFileSync(`${PDQ_DIR}bridge-1-original.jpg`);
  t.equal(readJpegHeader(bridge.subarray(0, 100), MAX_JPEG_SCANS), null, 'cut before the frame header');
  t.equal(readJpegHeader(readFileSync(`${PDQ_DIR}c.png`), MAX_JPEG_SCANS), null, 'not a JPEG');
  t.equal(readJpegHeader(Uint8Array.of(0xff, 0xd8, 0xff, 0xda, 0, 2), MAX_JPEG_SCANS), null, 'scan before any frame header');
  t.equal(readJpegHeader(Uint8Array.of(0xff, 0xd8, 0x00, 0x00, 0xff, 0xc0), MAX_JPEG_SCANS), null, 'bytes where a marker should be');
  const huge = Buffer.from(bridge);
  const sof = huge.indexOf(Buffer.of(0xff, 0xc0));
  huge.writeUInt16BE(65535, sof + 5);
  t.equal(readJpegHeader(huge, MAX_JPEG_SCANS), null, 'a side over 65500 is left to libjpeg, which calls the header corrupt');
  await rejects(t, decodeForHashing(huge, 'fast'), 'CORRUPT_IMAGE', /damaged or incomplete/);
  // Size limits hold on this path, from the header, before any pixel is decoded.
  await rejects(t, decodeForHashing(bridge, 'fast', { limits: { maxBytes: 25e6, maxPixels: 1e6 } }), 'IMAGE_TOO_LARGE', /1600 x 1004/);
  const tiny = await pattern(4, 40).jpeg().toBuffer();
  await rejects(t, decodeForHashing(tiny, 'fast'), 'IMAGE_TOO_SMALL', /4 x 40/);
});
