/**
 * Decoding uploads with sharp, in memory only: input is a buffer, output raw
 * pixels, nothing touches the disk. Two paths:
 * - `reference`: the full image as the PDQ and blockhash reference tools see
 *   it (8-bit samples, no colour-profile conversion, EXIF orientation ignored);
 *   PDQ squashes it to 512 itself, blockhash reads every pixel.
 * - `fast`: large images are reduced to 1/4 or 1/8 scale where that leaves
 *   enough for PDQ's 512 squash, by nearest neighbour; for a JPEG, libjpeg's
 *   DCT scaling does half of that while decoding (sharp leaves the last factor
 *   of 2 to the resize when the shrink is exactly a power of two), so large
 *   photos never decode at full size. Smaller images decode in full, as in
 *   the reference path. Hashing is the reference path's, but blockhash comes
 *   from block sums of the raster as decoded (blockhashRasterFromBlocks, the
 *   same bits without an RGBA copy). bench/hash measures both paths.
 * EXIF orientation is never applied: the stored pixels are hashed, as StopNCII
 * and HMA do, so hashes interoperate; rotated copies are found by dihedral
 * matching instead.
 */
// First, before sharp: stops libvips spilling large decodes (a big WebP) to a
// temp file; see vips-memory-only.ts.
import { assertMemoryOnlyDecoding } from './vips-memory-only.js';
import sharp, { type Metadata, type Sharp } from 'sharp';
import type { Raster } from '../hashing/signal-type.js';
import { PDQ_MIN_SIDE } from '../hashing/pdq.js';
import { fastShrinkFactor } from '../robust/decode-scale.js';

export { fastShrinkFactor };
import { ImageError } from './errors.js';
import { type JpegHeader, readJpegHeader } from './jpeg-header.js';

// libvips keeps recent results in an in-memory cache; uploads must not linger.
sharp.cache(false);

export type DecodePath = 'reference' | 'fast';
export const DECODE_PATHS: readonly DecodePath[] = ['reference', 'fast'];

export interface DecodeLimits {
  /** Largest accepted upload in bytes. */
  maxBytes: number;
  /** Largest accepted width x height (sharp's own default lets 16383 x 16383 through). */
  maxPixels: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = { maxBytes: 25 * 1024 * 1024, maxPixels: 50_000_000 };

/**
 * Most scans accepted in a JPEG. Encoders write one (sequential) or 3 to 12
 * (progressive: Photoshop 3-5, libjpeg 10, mozjpeg 7-11; at most 12 in the
 * 3,298 JPEGs of corpus/ and fixtures/). Each scan can cost a pass over every
 * block: 64 leaves a five-fold margin and holds a 50 MP file to under a second
 * of scans (883 took 10 s).
 */
export const MAX_JPEG_SCANS = 64;

/**
 * Most pages accepted in a TIFF, counted here before libvips opens the file:
 * libtiff then reads every page's directory, even to decode the first (80,000
 * pages, 21 MB: 5 s; 1,000 pages: under 0.1 s). Photos have one to three
 * (thumbnail, preview); only the first is hashed.
 */
export const MAX_TIFF_PAGES = 100;

/**
 * libvips abandons a decode still running after this long (a backstop for
 * every format). It checks between strips of output, so it cannot cut short
 * work a codec does in one call (a progressive JPEG's scans, an AVIF frame):
 * the scan and page limits guard those. The slowest decode of a 50 MP image
 * measured here, an AVIF, took 5 s.
 */
export const DECODE_TIMEOUT_SECONDS = 20;

/** Formats decoded from upload bytes; vector and document formats are refused outright. */
const ACCEPTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif', 'avif']);

const startsWith = (bytes: Uint8Array, signature: readonly number[], at = 0) => signature.every((b, i) => bytes[at + i] === b);
const ascii = (text: string) => [...text].map((c) => c.charCodeAt(0));
const isTiff = (bytes: Uint8Array) => startsWith(bytes, [0x49, 0x49, 0x2a, 0x00]) || startsWith(bytes, [0x4d, 0x4d, 0x00, 0x2a]);
/** ISO base media files start with an ftyp box: HEIF and AVIF, but also MP4 and QuickTime video. */
const isIsoMedia = (bytes: Uint8Array) => startsWith(bytes, ascii('ftyp'), 4);

/**
 * Whether the first bytes are those of a raster format we accept. Checked
 * before libvips sees the file, so SVG, PDF and other parsers that can reach
 * for external resources never run on uploads.
 */
function hasRasterSignature(bytes: Uint8Array): boolean {
  return (
    startsWith(bytes, [0xff, 0xd8]) || // JPEG (start-of-image marker)
    startsWith(bytes, [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]) || // PNG
    startsWith(bytes, ascii('GIF87a')) ||
    startsWith(bytes, ascii('GIF89a')) ||
    (startsWith(bytes, ascii('RIFF')) && startsWith(bytes, ascii('WEBP'), 8)) ||
    isTiff(bytes) ||
    isIsoMedia(bytes) // HEIF / AVIF
  );
}

const looksLikeMarkup = (bytes: Uint8Array) => /^(\uFEFF)?\s*</.test(new TextDecoder().decode(bytes.subarray(0, 64)));

export interface DecodedImage {
  format: string;
  /** Size of the stored image (first frame), before any decode-time shrink. */
  width: number;
  height: number;
  raster: Raster;
}

function megapixels(pixels: number): string {
  return `${(pixels / 1e6).toFixed(1)} MP`;
}

/**
 * The error for a libvips failure on bytes whose signature we accepted. libvips
 * not recognising such a file means it is damaged, except for ISO media whose
 * brand is not an image (an MP4 video). Exported for tests: a real timeout
 * needs a decode slower than DECODE_TIMEOUT_SECONDS.
 */
export function classifySharpError(err: unknown, bytes: Uint8Array): ImageError {
  const message = err instanceof Error ? err.message : String(err);
  // sharp's message for .timeout(): "timeout: 12% complete".
  if (/^timeout: \d+% complete/.test(message)) {
    return new ImageError('IMAGE_TOO_COMPLEX', `The image took more than ${DECODE_TIMEOUT_SECONDS} s to decode; save it again as a JPEG or PNG and try again.`);
  }
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageError('IMAGE_TOO_LARGE', 'The image has too many pixels to process.');
  }
  if (/unsupported image format/i.test(message) && isIsoMedia(bytes)) {
    return new ImageError('UNSUPPORTED_FORMAT', 'The file is not an image format this service can read (use JPEG, PNG, WebP, AVIF, GIF or TIFF).');
  }
  return new ImageError('CORRUPT_IMAGE', 'The image file is damaged or incomplete and could not be decoded.');
}

/** What can be refused from the bytes alone, before libvips sees them. */
function checkBytes(bytes: Uint8Array, limits: DecodeLimits): void {
  if (bytes.length === 0) throw new ImageError('EMPTY_IMAGE', 'The file is empty.');
  if (bytes.length > limits.maxBytes) {
    throw new ImageError('IMAGE_TOO_LARGE', `The file is ${(bytes.length / 1048576).toFixed(1)} MB; the limit is ${(limits.maxBytes / 1048576).toFixed(1)} MB.`);
  }
  if (!hasRasterSignature(bytes)) {
    throw new ImageError(
      'UNSUPPORTED_FORMAT',
      looksLikeMarkup(bytes)
        ? 'SVG, HTML and other markup files are not accepted; send the photo as JPEG or PNG.'
        : 'The file is not an image format this service can read (use JPEG, PNG, WebP, AVIF, GIF or TIFF).',
    );
  }
}

/**
 * Pages (image file directories) chained in a classic TIFF, counted up to
 * `max + 1` (a chain that loops counts as too long): each directory is a
 * 2-byte entry count, 12-byte entries and the next directory's offset (0 ends
 * the chain), as libtiff follows them.
 */
function tiffPageCount(bytes: Uint8Array, max: number): number {
  if (bytes.length < 8) return 0;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const littleEndian = bytes[0] === 0x49;
  let pages = 0;
  for (let at = view.getUint32(4, littleEndian); at !== 0 && at + 2 <= bytes.length && pages <= max; ) {
    pages++;
    const next = at + 2 + view.getUint16(at, littleEndian) * 12;
    if (next + 4 > bytes.length) break;
    at = view.getUint32(next, littleEndian);
  }
  return pages;
}

/** Refuse what would cost far more to decode than its pixel count says, from its structure alone. */
function checkStructure(bytes: Uint8Array, jpeg: JpegHeader | null): void {
  if (jpeg && jpeg.scans > MAX_JPEG_SCANS) {
    throw new ImageError('IMAGE_TOO_COMPLEX', `The JPEG has more than ${MAX_JPEG_SCANS} scans (photos have at most about 12); save it again as JPEG and try again.`);
  }
  if (isTiff(bytes) && tiffPageCount(bytes, MAX_TIFF_PAGES) > MAX_TIFF_PAGES) {
    throw new ImageError('IMAGE_TOO_COMPLEX', `The TIFF has more than ${MAX_TIFF_PAGES} pages; send the photo on its own as JPEG or PNG.`);
  }
}

/** Refuse a stored size over the pixel limit or under PDQ's smallest side. */
function checkSize(width: number, height: number, limits: DecodeLimits): void {
  if (width * height > limits.maxPixels) {
    throw new ImageError('IMAGE_TOO_LARGE', `The image is ${width} x ${height} (${megapixels(width * height)}); the limit is ${megapixels(limits.maxPixels)}.`);
  }
  if (width < PDQ_MIN_SIDE || height < PDQ_MIN_SIDE) {
    throw new ImageError('IMAGE_TOO_SMALL', `The image is ${width} x ${height}; each side must be at least ${PDQ_MIN_SIDE} pixels.`);
  }
}

/** Format and size from the header, refused before any pixel is decoded. */
async function inspect(image: Sharp, bytes: Uint8Array, limits: DecodeLimits) {
  let meta: Metadata;
  try {
    meta = await image.metadata();
  } catch (err) {
    throw classifySharpError(err, bytes);
  }
  const format = meta.format ?? 'unknown';
  if (!ACCEPTED_FORMATS.has(format)) {
    throw new ImageError('UNSUPPORTED_FORMAT', `Images in ${format.toUpperCase()} format are not accepted (use JPEG, PNG, WebP, AVIF, GIF or TIFF).`);
  }
  // The bundled libheif decodes AV1 (AVIF), not HEVC: refused before a decode is tried.
  if (format === 'heif' && meta.compression === 'hevc') {
    throw new ImageError('UNSUPPORTED_FORMAT', 'HEIC photos (the iPhone default) cannot be decoded here; export the photo as JPEG or PNG and try again.');
  }
  const width = meta.width ?? 0;
  const height = meta.pageHeight ?? meta.height ?? 0;
  checkSize(width, height, limits);
  return { format, width, height, hasAlpha: meta.hasAlpha ?? false };
}

export interface DecodeOptions {
  limits?: DecodeLimits;
  /**
   * Always give 4 channels, for blockhash-core over every pixel (the reference
   * path); libvips adds alpha faster than JS. The fast path does not need it.
   */
  rgba?: boolean;
}

/** Decode the first frame for hashing, enforcing the limits before any pixel is decoded. */
export async function decodeForHashing(bytes: Uint8Array, path: DecodePath, options: DecodeOptions = {}): Promise<DecodedImage> {
  assertMemoryOnlyDecoding();
  const limits = options.limits ?? DEFAULT_DECODE_LIMITS;
  // One instance for the header check and the decode: the input is wrapped once.
  checkBytes(bytes, limits);
  // sequentialRead (sharp's default, stated so a change of default cannot undo it):
  // loaders that can stream (JPEG, PNG, GIF, TIFF, AVIF) then never build a
  // whole-image buffer, in memory or on disk. WebP cannot; see vips-memory-only.ts.
  const input = { ignoreIcc: true, failOn: 'warning', pages: 1, sequentialRead: true } as const;
  // A JPEG's size and scans are read from its markers here, so it takes one trip
  // through libvips instead of two; libvips enforces the same pixel limit from
  // its own reading of that header. Anything else is inspected by libvips first.
  const jpeg = readJpegHeader(bytes, MAX_JPEG_SCANS);
  checkStructure(bytes, jpeg);
  let pipeline: Sharp;
  let format: string;
  let width: number;
  let height: number;
  let hasAlpha = false;
  if (jpeg) {
    ({ width, height } = jpeg);
    format = 'jpeg';
    checkSize(width, height, limits);
    pipeline = sharp(bytes, { ...input, limitInputPixels: Math.max(1, Math.floor(limits.maxPixels)) });
  } else {
    // The pixel limit is enforced by inspect, from the header, with a clearer message.
    pipeline = sharp(bytes, { ...input, limitInputPixels: false });
    ({ format, width, height, hasAlpha } = await inspect(pipeline, bytes, limits));
  }
  // An image with alpha decodes in full: to resize, even by nearest neighbour,
  // sharp premultiplies alpha, which blanks the colour stored under transparent
  // pixels, and PDQ hashes that colour (a 2400 x 1600 cut-out moved 66 bits).
  const shrink = path === 'fast' && !hasAlpha ? fastShrinkFactor(width, height) : 1;
  if (shrink > 1) {
    // 1/shrink sizes rounded up, as libjpeg's scaled decode rounds; the last factor of 2
    // is a nearest-neighbour subsample (see the module comment).
    pipeline = pipeline.resize(Math.ceil(width / shrink), Math.ceil(height / shrink), { fit: 'fill', kernel: 'nearest' });
  }
  if (options.rgba) pipeline = pipeline.ensureAlpha();
  try {
    const { data, info } = await pipeline.timeout({ seconds: DECODE_TIMEOUT_SECONDS }).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
    const raster: Raster = {
      width: info.width,
      height: info.height,
      channels: info.channels,
      data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength),
    };
    return { format, width, height, raster };
  } catch (err) {
    throw classifySharpError(err, bytes);
  }
}
