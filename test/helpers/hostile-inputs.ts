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
