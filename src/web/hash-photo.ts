/**
 * One photo to the hashes the page sends, in a Web Worker: decoded by the
 * browser (createImageBitmap, EXIF orientation applied, no colour
 * conversion, as the server ignores ICC profiles), drawn at the size the
 * server's fast decode uses, and hashed by the server's own modules into the
 * query the CLI sends for it (queryFromImage, toWireSignals). The pixels and
 * bytes live only in this function: the bitmap is closed and the canvases
 * emptied before it returns.
 */
import { PDQ_MIN_SIDE } from '../hashing/pdq.js';
import { fastShrinkFactor } from '../robust/decode-scale.js';
import { digestSignals, pixelSignals } from '../robust/image-signals.js';
import { exifOrientation } from '../robust/orientation.js';
import { imageHashingFor, queryFromImage, toWireSignals, type WireSignal } from '../match/query.js';
import { decodePngWithAlpha } from './png.js';
import { storedRaster } from './raster.js';

/** The server's default pixel limit (MAX_IMAGE_PIXELS): a larger photo is refused as there. */
export const MAX_PIXELS = 50_000_000;
/** Longest side of the thumbnail shown: enough to tell photos apart, too small to show much. */
export const THUMBNAIL_SIDE = 64;

export interface HashedPhoto {
  signals: WireSignal[];
  /** The photo is too dark or plain for perceptual matching: LOW_QUALITY as the server says it. */
  lowQuality: boolean;
  thumbnail: Blob;
}

export class PhotoError extends Error {
  constructor(readonly code: 'UNREADABLE' | 'TOO_SMALL' | 'TOO_LARGE') {
    super(code);
  }
}

async function decode(file: Blob): Promise<ImageBitmap> {
  try {
    return await createImageBitmap(file, { imageOrientation: 'from-image', colorSpaceConversion: 'none', premultiplyAlpha: 'none' });
  } catch {
    throw new PhotoError('UNREADABLE');
  }
}

/** The upright pixels at the server's fast-decode scale, and a thumbnail. */
async function drawn(bitmap: ImageBitmap): Promise<{ rgba: Uint8ClampedArray; width: number; height: number; thumbnail: Blob }> {
  const shrink = fastShrinkFactor(bitmap.width, bitmap.height);
  const width = Math.ceil(bitmap.width / shrink);
  const height = Math.ceil(bitmap.height / shrink);
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, width, height);
  const rgba = context.getImageData(0, 0, width, height).data;
  const scale = THUMBNAIL_SIDE / Math.max(bitmap.width, bitmap.height);
  const thumb = new OffscreenCanvas(Math.max(1, Math.round(bitmap.width * scale)), Math.max(1, Math.round(bitmap.height * scale)));
  thumb.getContext('2d')!.drawImage(bitmap, 0, 0, thumb.width, thumb.height);
  const thumbnail = await thumb.convertToBlob({ type: 'image/jpeg', quality: 0.6 });
  // Zero-sized canvases let the browser free their pixels now rather than at collection.
  canvas.width = canvas.height = thumb.width = thumb.height = 0;
  return { rgba, width, height, thumbnail };
}

export async function hashPhoto(file: Blob): Promise<HashedPhoto> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const bitmap = await decode(file);
  let pixels: Awaited<ReturnType<typeof drawn>>;
  try {
    if (bitmap.width < PDQ_MIN_SIDE || bitmap.height < PDQ_MIN_SIDE) throw new PhotoError('TOO_SMALL');
    if (bitmap.width * bitmap.height > MAX_PIXELS) throw new PhotoError('TOO_LARGE');
    pixels = await drawn(bitmap);
  } finally {
    bitmap.close();
  }
  // A PNG with alpha is hashed from its stored samples, in full, as the server decodes one (no shrink: see decode.ts).
  const raster = (await decodePngWithAlpha(bytes)) ?? storedRaster(pixels.rgba, pixels.width, pixels.height, exifOrientation(bytes));
  const [digests, signals] = await Promise.all([digestSignals(bytes), pixelSignals(raster, bytes, imageHashingFor('robust'))]);
  const query = queryFromImage({ ...signals, ...digests }, { mode: 'robust' });
  bytes.fill(0);
  return { signals: toWireSignals(query), lowQuality: query.warnings.some((w) => w.code === 'LOW_QUALITY'), thumbnail: pixels.thumbnail };
}
