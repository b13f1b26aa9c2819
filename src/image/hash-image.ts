/** From upload bytes to every signal the service uses: one decode, then pure hashing. */
import { blockhashRaster, blockhashRasterFromBlocks } from '../hashing/blockhash.js';
import { md5, sha256 } from '../hashing/digest.js';
import { PDQ_MIN_QUALITY, pdqDihedralFromDct, pdqHashRaster } from '../hashing/pdq.js';
import { pdqNormHashRaster } from '../hashing/pdq-norm.js';
import { type Orientation, exifOrientation } from '../robust/orientation.js';
import { contentRegions, queryRegions, queryRegionsInSlices, type RegionSignal } from '../robust/regions.js';
import { type DecodeLimits, type DecodePath, DEFAULT_DECODE_LIMITS, decodeForHashing } from './decode.js';

/** Chosen from bench/hash: see the README's "Decode paths" table. */
export const DEFAULT_DECODE_PATH: DecodePath = 'fast';

export type ImageSignalName = 'pdq' | 'blockhash' | 'md5' | 'sha256' | 'pdq-norm';
export const ALL_IMAGE_SIGNALS: readonly ImageSignalName[] = ['pdq', 'blockhash', 'md5', 'sha256'];

export interface HashImageOptions {
  decodePath?: DecodePath;
  limits?: DecodeLimits;
  /** Also derive PDQ's 8 dihedral variants (orig, rot90, ..., flipminus1). */
  dihedral?: boolean;
  /**
   * Which signals to compute; all of ALL_IMAGE_SIGNALS by default. `pdq-norm`
   * (see src/hashing/pdq-norm.ts) is also computed, unasked, whenever PDQ is
   * and comes out under quality 50: it is how a dark photo is matched.
   */
  signals?: readonly ImageSignalName[];
  /**
   * Also hash regions (pdq-region): the few stored for captured `content`, or
   * the many crops and rotations a victim's `query` is searched with. Regions
   * are taken from the upright image (EXIF orientation applied; a query also
   * from the stored one when they differ), unlike the whole-image signals,
   * which are of the stored pixels.
   */
  regions?: 'content' | 'query';
  /** Awaited between slices of the query regions' hundreds of hashes (a server passes a yield to its event loop). */
  pause?: () => Promise<void>;
}

export interface PdqSignal {
  hash: Uint8Array;
  quality: number;
  /** Under quality 50 upstream considers a PDQ hash too unreliable to match on. */
  lowQuality: boolean;
  dct: Float32Array;
  dihedral?: Uint8Array[];
}

export interface ImageSignals {
  format: string;
  width: number;
  height: number;
  decodePath: DecodePath;
  pdq?: PdqSignal;
  /** PDQ after the contrast is stretched: asked for, or PDQ was under quality 50 (its own lowQuality: still under 50 once stretched). */
  pdqNorm?: PdqSignal;
  blockhash?: Uint8Array;
  md5?: Uint8Array;
  sha256?: Uint8Array;
  regions?: RegionSignal[];
  /**
   * EXIF orientation of the stored image (1 when none), read when regions are
   * hashed: they come from the upright image, while every whole-image signal
   * is of the stored pixels, as the reference tools hash them.
   */
  orientation?: Orientation;
}

export async function hashImage(bytes: Uint8Array, options: HashImageOptions = {}): Promise<ImageSignals> {
  const decodePath = options.decodePath ?? DEFAULT_DECODE_PATH;
  const wanted = new Set(options.signals ?? ALL_IMAGE_SIGNALS);
  const decoding = decodeForHashing(bytes, decodePath, {
    limits: options.limits ?? DEFAULT_DECODE_LIMITS,
    // The reference path hands blockhash-core every pixel as RGBA; the fast path
    // sums blocks from the raster as decoded (no alpha channel added).
    rgba: decodePath === 'reference' && wanted.has('blockhash'),
  });
  // The digests need only the bytes: made while libvips decodes on its own thread.
  const md5Digest = wanted.has('md5') ? md5.hashBytes(bytes) : undefined;
  const sha256Digest = wanted.has('sha256') ? sha256.hashBytes(bytes) : undefined;
  const { format, width, height, raster } = await decoding;
  const result: ImageSignals = { format, width, height, decodePath };
  // blockhash first: it streams the whole raster, and PDQ then reads its sampled rows (measured slightly cheaper).
  const blockhashHash = wanted.has('blockhash') ? (decodePath === 'reference' ? blockhashRaster : blockhashRasterFromBlocks)(raster).hash : undefined;
  if (wanted.has('pdq')) {
    const { hash, quality, dct } = pdqHashRaster(raster);
    result.pdq = { hash, quality, lowQuality: quality < PDQ_MIN_QUALITY, dct };
    if (options.dihedral) result.pdq.dihedral = pdqDihedralFromDct(dct);
  }
  if (wanted.has('pdq-norm') || result.pdq?.lowQuality) {
    const { hash, quality, dct } = pdqNormHashRaster(raster);
    result.pdqNorm = { hash, quality, lowQuality: quality < PDQ_MIN_QUALITY, dct, ...(options.dihedral ? { dihedral: pdqDihedralFromDct(dct) } : {}) };
  }
  if (blockhashHash) result.blockhash = blockhashHash;
  if (options.regions) {
    // decode.ts gives the stored pixels (for PDQ and blockhash); the regions turn them upright themselves.
    const orientation = exifOrientation(bytes);
    result.orientation = orientation;
    if (options.regions === 'content') result.regions = contentRegions(raster, orientation);
    else result.regions = options.pause ? await queryRegionsInSlices(raster, options.pause, { orientation }) : queryRegions(raster, { orientation });
  }
  if (md5Digest) result.md5 = md5Digest;
  if (sha256Digest) result.sha256 = sha256Digest;
  return result;
}
