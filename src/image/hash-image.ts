/** From upload bytes to every signal the service uses: one decode (here, with sharp), then the pure hashing of src/robust. */
import { digestSignals, type ImageSignalOptions, type ImageSignals, pixelSignals, WHOLE_IMAGE_SIGNALS, WHOLE_IMAGE_TYPES } from '../robust/image-signals.js';
import { type DecodeLimits, type DecodePath, DEFAULT_DECODE_LIMITS, decodeForHashing } from './decode.js';

/** Chosen from bench/hash: see docs/decoding.md. */
export const DEFAULT_DECODE_PATH: DecodePath = 'fast';

export interface HashImageOptions extends Omit<ImageSignalOptions, 'blockhashRoute' | 'phaseDone'> {
  decodePath?: DecodePath;
  limits?: DecodeLimits;
  /** Called as each phase ends: `decode` (with the byte digests), then `whole` and `regions` (see ImageSignalOptions). */
  phaseDone?: (phase: 'decode' | 'whole' | 'regions') => void;
}

export interface HashedImage extends ImageSignals {
  format: string;
  width: number;
  height: number;
  decodePath: DecodePath;
}

export async function hashImage(bytes: Uint8Array, options: HashImageOptions = {}): Promise<HashedImage> {
  const decodePath = options.decodePath ?? DEFAULT_DECODE_PATH;
  const wanted = options.signals ?? WHOLE_IMAGE_SIGNALS;
  const decoding = decodeForHashing(bytes, decodePath, {
    limits: options.limits ?? DEFAULT_DECODE_LIMITS,
    // The reference path hands types with a reference route of their own (blockhash-core) every pixel as
    // RGBA; the fast path has them hash the raster as decoded (blockhash sums blocks; no alpha added).
    rgba: decodePath === 'reference' && WHOLE_IMAGE_TYPES.some((t) => 'hashRasterAsDecoded' in t && wanted.includes(t.name)),
  });
  // The digests need only the bytes: made while libvips decodes on its own thread.
  const [digests, { format, width, height, raster }] = await Promise.all([digestSignals(bytes, wanted), decoding]);
  options.phaseDone?.('decode');
  const pixels = await pixelSignals(raster, bytes, { ...options, blockhashRoute: decodePath === 'reference' ? 'reference' : 'blocks' });
  return { format, width, height, decodePath, ...pixels, ...digests };
}
