/**
 * Broken and hostile uploads for the API's bad-input and no-disk tests, made
 * from a real JPEG so each one breaks exactly one thing.
 */
import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { FIXTURES, PDQ_DIR } from './fixtures.js';

export const GOOD_JPEG = readFileSync(`${PDQ_DIR}q0122.jpg`);

const solid = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: '#7f7f7f' } });

/** The first start-of-frame segment's offset (baseline or progressive). */
function startOfFrame(jpeg: Buffer): number {
  for (let at = 2; at < jpeg.length - 1; at++) if (jpeg[at] === 0xff && (jpeg[at + 1] === 0xc0 || jpeg[at + 1] === 0xc2)) return at;
  throw new Error('no SOF marker');
}

/** A JPEG whose header claims 65535 x 65535 pixels over the original's few KB of data. */
function jpegClaiming65535Square(): Buffer {
  const bytes = Buffer.from(GOOD_JPEG);
  const sof = startOfFrame(bytes);
  bytes.writeUInt16BE(0xffff, sof + 5);
  bytes.writeUInt16BE(0xffff, sof + 7);
  return bytes;
}

/** A PNG whose IHDR (with a correct CRC) claims 100000 x 100000 pixels. */
function pngClaiming100000Square(png: Buffer): Buffer {
  const bytes = Buffer.from(png);
  bytes.writeUInt32BE(100_000, 16);
  bytes.writeUInt32BE(100_000, 20);
  bytes.writeUInt32BE(crc32(bytes.subarray(12, 29)), 29);
  return bytes;
}

/** Bits into bytes, most significant first, with 0xFF stuffed as 0xFF 0x00 as in entropy-coded data. */
class EntropyWriter {
  readonly bytes: number[] = [];
  private byte = 0;
  private bits = 0;

  put(value: number, count: number): void {
    for (let bit = count - 1; bit >= 0; bit--) {
      this.byte = (this.byte << 1) | ((value >> bit) & 1);
      if (++this.bits === 8) {
        this.bytes.push(this.byte);
        if (this.byte === 0xff) this.bytes.push(0);
        this.byte = 0;
        this.bits = 0;
      }
    }
  }

  /** Pads the last byte with 1 bits, as encoders do. */
  finish(): number[] {
    if (this.bits > 0) this.put(0xff, 8 - this.bits);
    return this.bytes;
  }
}

/** The most scans progressiveJpegBomb makes: the DC scan, then each of the 63 AC coefficients in 14 successive-approximation scans. */
export const MAX_BOMB_SCANS = 1 + 63 * 14;

/**
 * A valid progressive greyscale JPEG of one flat grey with `scans` scans, each
 * covering every block in a few bytes (end-of-band runs), so the decode costs
 * a pass over the image per scan however small the file is (libjpeg-turbo's
 * LJT-01-003): 7000 x 7000 with 883 scans is 174 KB.
 */
export function progressiveJpegBomb(width: number, height: number, scans: number): Buffer {
  if (scans < 1 || scans > MAX_BOMB_SCANS) throw new RangeError(`1 to ${MAX_BOMB_SCANS} scans`);
  const out: number[] = [0xff, 0xd8];
  const segment = (marker: number, body: number[]) => out.push(0xff, marker, (body.length + 2) >> 8, (body.length + 2) & 255, ...body);
  const sixteen = (lengthCounts: Record<number, number>) => Array.from({ length: 16 }, (_, i) => lengthCounts[i + 1] ?? 0);
  segment(0xdb, [0x00, ...Array<number>(64).fill(1)]);
  segment(0xc2, [8, height >> 8, height & 255, width >> 8, width & 255, 1, 1, 0x11, 0]);
  // DC table 0: one 1-bit code, for a difference of 0. AC table 1: 4-bit codes for end-of-band runs of 2^0 to 2^14 blocks.
  segment(0xc4, [0x00, ...sixteen({ 1: 1 }), 0x00]);
  segment(0xc4, [0x11, ...sixteen({ 4: 15 }), ...Array.from({ length: 15 }, (_, n) => n << 4)]);
  const blocks = Math.ceil(width / 8) * Math.ceil(height / 8);
  const dc = new EntropyWriter();
  for (let b = 0; b < blocks; b++) dc.put(0, 1);
  segment(0xda, [1, 1, 0x00, 0, 0, 0]);
  out.push(...dc.finish());
  const everyBlockEmpty = () => {
    const ac = new EntropyWriter();
    for (let left = blocks; left > 0; ) {
      const run = Math.min(left, 32767);
      const n = Math.floor(Math.log2(run));
      ac.put(n, 4);
      ac.put(run - (1 << n), n);
      left -= run;
    }
    return ac.finish();
  };
  let made = 1;
  for (let k = 1; k <= 63 && made < scans; k++) {
    // Coefficient k's first scan at bit 13, then one refinement per lower bit.
    for (let bit = 13; bit >= 0 && made < scans; bit--, made++) {
      segment(0xda, [1, 1, 0x01, k, k, bit === 13 ? bit : ((bit + 1) << 4) | bit]);
      out.push(...everyBlockEmpty());
    }
  }
  out.push(0xff, 0xd9);
  return Buffer.from(out);
}

/** An 8 x 8 grey TIFF of `pages` pages. */
export const multiPageTiff = (pages: number) =>
  sharp(Buffer.alloc(64 * pages, 128), { raw: { width: 8, height: 8 * pages, channels: 1, pageHeight: 8 } }).tiff().toBuffer();

/** The start of an MP4 video: an ISO media file, as HEIF and AVIF are, whose brand is not an image. */
export const MP4_START = Buffer.concat([Buffer.from([0, 0, 0, 0x18]), Buffer.from('ftypisom\0\0\x02\0isommp42'), Buffer.from([0, 0, 0, 8]), Buffer.from('free'), Buffer.alloc(200, 0x11)]);

export interface BadImage {
  label: string;
  bytes: Buffer;
  filename: string;
  status: number;
  code: string;
}

/** Files every image endpoint must refuse, each with its status and stable code. */
export async function badImages(maxImageBytes: number): Promise<BadImage[]> {
  const png = await sharp(GOOD_JPEG).png().toBuffer();
  const avif = await sharp(GOOD_JPEG).resize(64).avif().toBuffer();
  const tiff = await sharp(GOOD_JPEG).tiff().toBuffer();
  const image = (label: string, bytes: Buffer, status: number, code: string, filename = 'photo.jpg'): BadImage => ({ label, bytes, filename, status, code });
  return [
    image('decompression bomb: 10000 x 10000 PNG of one colour', await solid(10_000, 10_000).png({ compressionLevel: 9 }).toBuffer(), 413, 'IMAGE_TOO_LARGE', 'bomb.png'),
    image('decompression bomb: 8000 x 8000 WebP of one colour', await solid(8000, 8000).webp({ lossless: true }).toBuffer(), 413, 'IMAGE_TOO_LARGE', 'bomb.webp'),
    image('JPEG header claiming 65535 x 65535', jpegClaiming65535Square(), 422, 'CORRUPT_IMAGE'),
    image('PNG header claiming 100000 x 100000', pngClaiming100000Square(png), 413, 'IMAGE_TOO_LARGE', 'x.png'),
    image('JPEG truncated at half', GOOD_JPEG.subarray(0, GOOD_JPEG.length >> 1), 422, 'CORRUPT_IMAGE'),
    image('JPEG truncated after 100 bytes', GOOD_JPEG.subarray(0, 100), 422, 'CORRUPT_IMAGE'),
    image('JPEG start-of-image marker only', GOOD_JPEG.subarray(0, 2), 422, 'CORRUPT_IMAGE'),
    image('PNG truncated at half', png.subarray(0, png.length >> 1), 422, 'CORRUPT_IMAGE', 'x.png'),
    image('PNG signature only', png.subarray(0, 8), 422, 'CORRUPT_IMAGE', 'x.png'),
    image('AVIF truncated at half', avif.subarray(0, avif.length >> 1), 422, 'CORRUPT_IMAGE', 'x.avif'),
    image('TIFF truncated at half', tiff.subarray(0, tiff.length >> 1), 422, 'CORRUPT_IMAGE', 'x.tif'),
    image('progressive JPEG bomb: 883 scans of 7000 x 7000 in 174 KB', progressiveJpegBomb(7000, 7000, MAX_BOMB_SCANS), 422, 'IMAGE_TOO_COMPLEX'),
    image('TIFF of 101 pages', await multiPageTiff(101), 422, 'IMAGE_TOO_COMPLEX', 'pages.tif'),
    image('MP4 video renamed .jpg', MP4_START, 415, 'UNSUPPORTED_FORMAT'),
    image('zero bytes', Buffer.alloc(0), 400, 'EMPTY_IMAGE'),
    image('text renamed .jpg', Buffer.from('These are my holiday notes, not a photo.\n'), 415, 'UNSUPPORTED_FORMAT'),
    image('HTML with a JPEG header', Buffer.concat([GOOD_JPEG.subarray(0, 4), Buffer.from('<html><script>alert(1)</script></html>')]), 422, 'CORRUPT_IMAGE'),
    image('HTML page renamed .jpg', Buffer.from('<!doctype html><html><body><img src=x onerror=alert(1)></body></html>'), 415, 'UNSUPPORTED_FORMAT'),
    image('ZIP archive renamed .jpg', Buffer.concat([Buffer.from('PK\x03\x04\x14\x00\x00\x00'), Buffer.alloc(200, 1)]), 415, 'UNSUPPORTED_FORMAT'),
    image('HEIC (HEVC cannot be decoded here)', readFileSync(`${FIXTURES}inputs/pattern.heic`), 415, 'UNSUPPORTED_FORMAT', 'IMG_0001.HEIC'),
    image('SVG', Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="640" height="480"><rect width="640" height="480" fill="red"/></svg>'), 415, 'UNSUPPORTED_FORMAT', 'x.svg'),
    image(
      'SVG with an external entity and a script',
      Buffer.from('<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg" width="64" height="64"><text>&x;</text><script>alert(1)</script></svg>'),
      // Refused by its first bytes: no SVG or XML parser ever runs on an upload.
      415,
      'UNSUPPORTED_FORMAT',
      'x.svg',
    ),
    image('PDF', Buffer.from('%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n'), 415, 'UNSUPPORTED_FORMAT', 'scan.pdf'),
    image('1 x 1 PNG', await solid(1, 1).png().toBuffer(), 422, 'IMAGE_TOO_SMALL', 'pixel.png'),
    image('1 x 1 GIF', await solid(1, 1).gif().toBuffer(), 422, 'IMAGE_TOO_SMALL', 'pixel.gif'),
    image('100000 x 1 PNG', await solid(100_000, 1).png().toBuffer(), 422, 'IMAGE_TOO_SMALL', 'line.png'),
    image('1 x 100000 PNG', await solid(1, 100_000).png().toBuffer(), 422, 'IMAGE_TOO_SMALL', 'line.png'),
    image('random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 2654435761) >>> 24)), 415, 'UNSUPPORTED_FORMAT'),
    image('file over MAX_IMAGE_BYTES', Buffer.concat([GOOD_JPEG, Buffer.alloc(maxImageBytes, 0x20)]), 413, 'IMAGE_TOO_LARGE'),
  ];
}

/** Valid images with something hostile attached: they decode, so they must hash like the clean image (motion photos are JPEG + MP4). */
export const POLYGLOTS: { label: string; bytes: Buffer }[] = [
  { label: 'JPEG with a ZIP appended', bytes: Buffer.concat([GOOD_JPEG, Buffer.from('PK\x03\x04\x14\x00\x00\x00\x08\x00'), Buffer.alloc(512, 7)]) },
  { label: 'JPEG with HTML appended', bytes: Buffer.concat([GOOD_JPEG, Buffer.from('<html><script>fetch("/v1/keys")</script></html>')]) },
];

/** Injection-like text for every text field. */
export const INJECTIONS: Record<string, string> = {
  sql: "1' OR '1'='1'; DROP TABLE signals; --",
  script: '<script>alert(document.cookie)</script>',
  traversal: '../../../../etc/passwd',
  nul: 'abc\u0000def',
  rtl: 'photo\u202Egpj.exe',
  crlf: 'x\r\nSet-Cookie: admin=1',
  long: 'A'.repeat(100_000),
};
