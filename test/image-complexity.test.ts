/**
 * Valid files that cost far more to decode than their size and pixel count
 * say are refused from their structure, before libvips sees them: a JPEG's
 * scans (counted as libjpeg reads markers, so entropy-coded data, stuffing,
 * restart markers, metadata and whatever follows the image never count) and a
 * TIFF's pages; a decode that still runs too long times out with the same code.
 */
import { readdirSync, readFileSync } from 'node:fs';
import sharp from 'sharp';
import t, { type Test } from 'tap';
import { classifySharpError, decodeForHashing, DECODE_TIMEOUT_SECONDS, MAX_JPEG_SCANS, MAX_TIFF_PAGES } from '../src/image/decode.js';
import { ImageError } from '../src/image/errors.js';
import { hashImage } from '../src/image/hash-image.js';
import { readJpegHeader } from '../src/image/jpeg-header.js';
import { BLOCKHASH_DIR, PDQ_DIR } from './helpers/fixtures.js';
import { MAX_BOMB_SCANS, multiPageTiff, progressiveJpegBomb } from './helpers/hostile-inputs.js';

const tooComplex = async (t: Test, promise: Promise<unknown>, message: RegExp) => {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  t.type(err, ImageError);
  t.equal((err as ImageError)?.code, 'IMAGE_TOO_COMPLEX');
  t.match((err as Error)?.message, message);
};

/** The test's oracle: every start of scan before the end of the image, read one byte at a time. */
function scansByteByByte(bytes: Uint8Array): number {
  let scans = 0;
  for (let i = 2; i + 1 < bytes.length; ) {
    const marker = bytes[i + 1];
    if (bytes[i] !== 0xff || marker === 0xff) i += 1;
    else if (marker === 0x00 || marker < 0xc0 || (marker >= 0xd0 && marker <= 0xd7)) i += 2;
    else if (marker === 0xd9) break;
    else {
      if (marker === 0xda) scans++;
      i += 2 + ((bytes[i + 2] << 8) | bytes[i + 3]);
    }
  }
  return scans;
}

const segment = (marker: number, body: number[]) => [0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body];
const SOI = [0xff, 0xd8];
const EOI = [0xff, 0xd9];
const sof = (marker: number, components: number) => segment(marker, [8, 0, 16, 0, 16, components, ...Array.from({ length: components }, (_, c) => [c + 1, 0x11, 0]).flat()]);
const sos = (components: number) => segment(0xda, [components, ...Array.from({ length: components }, (_, c) => [c + 1, 0x00]).flat(), 0, 63, 0]);
const jpeg = (...parts: number[][]) => Uint8Array.from(parts.flat());
const scansOf = (bytes: Uint8Array) => readJpegHeader(bytes, MAX_JPEG_SCANS)?.scans;

t.test('scans are counted as libjpeg reads the markers', async (t) => {
  const progressive = sof(0xc2, 1);
  const data = [0x12, 0x34];
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), data, sos(1), data, EOI)), 2, 'two scans');
  t.equal(
    scansOf(jpeg(SOI, progressive, sos(1), [0x12, 0xff, 0x00, 0xff, 0xd0, 0x34, 0xff, 0xff, 0xff, 0xd1, 0xff, 0x01, 0x56], sos(1), data, EOI)),
    2,
    'stuffed 0xFF 0x00, restart markers, fill bytes and TEM inside entropy-coded data',
  );
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), Array<number>(200_000).fill(0xff).map((b, i) => (i % 2 ? 0 : b)), sos(1), data, EOI)), 2, '100,000 stuffed bytes in a row');
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), data, segment(0xfe, [0xff, 0xda, 0xff, 0xd9, 0xff, 0xd8]), sos(1), data, EOI)), 2, 'a comment holding marker bytes between scans');
  const thumbnail = jpeg(SOI, sof(0xc0, 1), sos(1), data, EOI);
  t.same(readJpegHeader(jpeg(SOI, segment(0xe1, [...Buffer.from('Exif\0\0'), ...thumbnail]), progressive, sos(1), data, EOI), MAX_JPEG_SCANS), { width: 16, height: 16, scans: 1 }, 'an EXIF thumbnail is skipped whole');
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), data, EOI, sos(1), data, sos(1), data, EOI)), 1, 'nothing after the end of the image (a motion photo) counts');
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), data, [0x00, 0x12], sos(1), data, EOI)), 2, 'stray bytes before a marker are skipped, as libjpeg skips them');
  t.equal(scansOf(jpeg(SOI, progressive, sos(1), data)), 1, 'a truncated file gives the scans before its end');
  t.equal(scansOf(jpeg(SOI, sof(0xc0, 3), sos(3), data, sos(3), data, sos(3), data, EOI)), 1, 'sequential with every component in the first scan: libjpeg decodes that scan only');
  t.equal(scansOf(jpeg(SOI, sof(0xc0, 3), sos(1), data, sos(1), data, sos(1), data, EOI)), 3, 'sequential with one component per scan: each is decoded');
});

t.test('scan counts equal the byte-by-byte reading on real JPEGs', async (t) => {
  const files = [PDQ_DIR, BLOCKHASH_DIR].flatMap((dir) => readdirSync(dir).filter((f) => f.endsWith('.jpg')).map((f) => dir + f));
  const photo = readFileSync(`${PDQ_DIR}bridge-1-original.jpg`);
  const encoded: Array<[string, Buffer]> = [
    ['progressive', await sharp(photo).jpeg({ progressive: true }).toBuffer()],
    ['progressive, optimised scans', await sharp(photo).jpeg({ progressive: true, optimiseScans: true }).toBuffer()],
    ['mozjpeg defaults', await sharp(photo).jpeg({ mozjpeg: true }).toBuffer()],
    ['progressive grey', await sharp(photo).greyscale().toColourspace('b-w').jpeg({ progressive: true, optimiseScans: true }).toBuffer()],
  ];
  t.ok(files.length >= 40);
  for (const [name, bytes] of [...files.map((f): [string, Buffer] => [f, readFileSync(f)]), ...encoded]) {
    const scans = scansOf(bytes);
    t.equal(scans, scansByteByByte(bytes), name);
    t.ok(scans! <= 12, `${name}: ${scans} scans, well under the limit`);
  }
});

t.test(`a JPEG with more than ${MAX_JPEG_SCANS} scans is refused before decoding`, async (t) => {
  const bomb = progressiveJpegBomb(7000, 7000, MAX_BOMB_SCANS);
  t.ok(bomb.length < 200_000, `the reviewer's file: 7000 x 7000, ${MAX_BOMB_SCANS} scans in ${bomb.length} bytes`);
  t.equal(readJpegHeader(bomb, MAX_JPEG_SCANS)?.scans, MAX_JPEG_SCANS + 1, 'counting stops past the limit');
  for (const path of ['fast', 'reference'] as const) {
    await tooComplex(t, decodeForHashing(bomb, path), /more than 64 scans/);
    await tooComplex(t, decodeForHashing(progressiveJpegBomb(512, 512, MAX_JPEG_SCANS + 1), path), /more than 64 scans/);
    const atLimit = await decodeForHashing(progressiveJpegBomb(512, 512, MAX_JPEG_SCANS), path);
    t.same([atLimit.width, atLimit.height], [512, 512], `${path}: ${MAX_JPEG_SCANS} scans decode`);
  }
});

t.test(`a TIFF with more than ${MAX_TIFF_PAGES} pages is refused before libtiff reads its directories`, async (t) => {
  await tooComplex(t, hashImage(await multiPageTiff(MAX_TIFF_PAGES + 1)), /more than 100 pages/);
  const atLimit = await hashImage(await multiPageTiff(MAX_TIFF_PAGES));
  t.same([atLimit.format, atLimit.width, atLimit.height], ['tiff', 8, 8], 'the first of 100 pages is hashed');
});

t.test('a decode that times out is IMAGE_TOO_COMPLEX', async (t) => {
  // sharp's own words for a pipeline stopped by .timeout() (seen on a slow decode with { seconds: 1 }).
  const timedOut = new Error('timeout: 5% complete\nVipsImage: killed for image "temp-132"');
  const err = classifySharpError(timedOut, Uint8Array.of(0xff, 0xd8));
  t.equal(err.code, 'IMAGE_TOO_COMPLEX');
  t.match(err.message, `more than ${DECODE_TIMEOUT_SECONDS} s to decode`);
  t.equal(classifySharpError(new Error('VipsJpeg: Premature end of input file'), Uint8Array.of(0xff, 0xd8)).code, 'CORRUPT_IMAGE', 'other failures are not timeouts');
});
