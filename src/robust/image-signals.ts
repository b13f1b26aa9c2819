/**
 * Every signal of one image, from its decoded pixels and its original bytes:
 * pure, so that a browser hashing a photo on the victim's own device computes
 * exactly what the server computes from an upload (src/image decodes for the
 * server; a browser decodes with canvas).
 *
 * Whole-image signals (PDQ, blockhash, digests) are of the pixels as stored,
 * as the reference tools take them, so they interoperate; region hashes are
 * of the upright image (EXIF orientation applied), see regions.ts.
 */
import { PDQ_MIN_QUALITY, type PdqResult, pdqDihedralFromDct } from '../hashing/pdq.js';
import { pdqNormHashRaster } from '../hashing/pdq-norm.js';
import { pdq, WHOLE_IMAGE_TYPES, type WholeImageSignalName } from '../hashing/registry.js';
import type { ExactSignalType, PerceptualSignalType, Raster } from '../hashing/signal-type.js';
import { type Orientation, exifOrientation } from './orientation.js';
import { contentRegions, queryRegions, queryRegionsInSlices, type RegionSignal } from './regions.js';

export { WHOLE_IMAGE_TYPES, type WholeImageSignalName };
/** What every image is hashed with besides its regions, in registry order; types that are another's fallback come only when that one fails. */
export const WHOLE_IMAGE_SIGNALS: readonly WholeImageSignalName[] = WHOLE_IMAGE_TYPES.filter((t) => !('fallbackFor' in t)).map((t) => t.name);

/** The whole-image types with a quality, DCT and rotations: PDQ, and PDQ of the contrast-stretched photo. */
type PdqLikeName = 'pdq' | 'pdq-norm';

export interface PdqSignal {
  hash: Uint8Array;
  quality: number;
  /** Under quality 50 upstream considers a PDQ hash too unreliable to match on. */
  lowQuality: boolean;
  dct: Float32Array;
  /** The 8 rotations and mirrors (orig, rot90, ..., flipminus1), when asked for. */
  dihedral?: Uint8Array[];
}

/**
 * Every signal of one image: PDQ (with its quality, DCT and rotations), the
 * other whole-image types by name, and the regions when asked for.
 */
export type ImageSignals = { [Name in Exclude<WholeImageSignalName, PdqLikeName>]?: Uint8Array } & {
  pdq?: PdqSignal;
  /** Computed when PDQ is under quality 50 (or asked for): see src/hashing/pdq-norm.ts. */
  'pdq-norm'?: PdqSignal;
  regions?: RegionSignal[];
  /** EXIF orientation of the stored image (1 when none), read when regions are hashed. */
  orientation?: Orientation;
};

export interface ImageSignalOptions {
  /** Which whole-image signals to compute; all by default. */
  signals?: readonly WholeImageSignalName[];
  /** Also derive PDQ's 8 dihedral variants. */
  dihedral?: boolean;
  /**
   * Also hash regions (pdq-region): the few stored for captured `content`, or
   * the many crops and rotations a victim's `query` is searched with.
   */
  regions?: 'content' | 'query';
  /** Awaited between slices of a query's hundreds of region hashes (a server yields to its event loop). */
  pause?: () => Promise<void>;
  /**
   * Types that can hash the raster as decoded (hashRasterAsDecoded; blockhash
   * sums its blocks) do so (`blocks`, the default); `reference` hands them
   * every pixel as RGBA, as their reference tools do (an RGBA raster): the
   * same bits.
   */
  blockhashRoute?: 'reference' | 'blocks';
  /** Called as each phase ends (`whole`: the whole-image hashes; `regions`), so a caller can time them. */
  phaseDone?: (phase: 'whole' | 'regions') => void;
}

function pdqSignal({ hash, quality, dct }: PdqResult, dihedral = false): PdqSignal {
  return { hash, quality, lowQuality: quality < PDQ_MIN_QUALITY, dct, ...(dihedral ? { dihedral: pdqDihedralFromDct(dct) } : {}) };
}

/** The hashes of the original bytes (the exact types: MD5, SHA-256), as asked for. */
export async function digestSignals(bytes: Uint8Array, wanted: readonly WholeImageSignalName[] = WHOLE_IMAGE_SIGNALS): Promise<ImageSignals> {
  const out: ImageSignals = {};
  for (const type of WHOLE_IMAGE_TYPES) {
    if (type.input === 'bytes' && wanted.includes(type.name)) out[type.name as Exclude<WholeImageSignalName, PdqLikeName>] = await (type as ExactSignalType).hashBytes(bytes);
  }
  return out;
}

/** The pixel signals of a decoded image; `bytes` (the file) gives its EXIF orientation for the regions. */
export async function pixelSignals(raster: Raster, bytes: Uint8Array, options: ImageSignalOptions = {}): Promise<ImageSignals> {
  const wanted = options.signals ?? WHOLE_IMAGE_SIGNALS;
  const result: ImageSignals = {};
  // PDQ last: the others stream the whole raster first, and PDQ then reads its sampled rows (measured slightly cheaper).
  for (const type of WHOLE_IMAGE_TYPES) {
    if (type.input !== 'pixels' || type.name === 'pdq' || type.name === 'pdq-norm' || !wanted.includes(type.name)) continue;
    const perceptual = type as PerceptualSignalType;
    const hash = options.blockhashRoute !== 'reference' && perceptual.hashRasterAsDecoded ? perceptual.hashRasterAsDecoded(raster) : perceptual.hashRaster(raster);
    result[type.name as Exclude<WholeImageSignalName, PdqLikeName>] = hash.hash;
  }
  if (wanted.includes('pdq')) result.pdq = pdqSignal(pdq.hashRaster(raster) as PdqResult, options.dihedral);
  // A dark or low-contrast photo is matched by PDQ of its stretched contrast instead.
  if (wanted.includes('pdq-norm') || result.pdq?.lowQuality) result['pdq-norm'] = pdqSignal(pdqNormHashRaster(raster), options.dihedral);
  options.phaseDone?.('whole');
  if (options.regions) {
    const orientation = exifOrientation(bytes);
    result.orientation = orientation;
    if (options.regions === 'content') result.regions = contentRegions(raster, orientation);
    else result.regions = options.pause ? await queryRegionsInSlices(raster, options.pause, { orientation }) : queryRegions(raster, { orientation });
    options.phaseDone?.('regions');
  }
  return result;
}

/** The whole-image hashes as text: the answer of POST /v1/hash and a row of `ncii-match hash`. */
export type ImageHashesText = { [Name in Exclude<WholeImageSignalName, 'pdq-norm'>]: string } & {
  pdqQuality: number;
  /** orig, rot90, rot180, rot270, flipx, flipy, flipplus1, flipminus1 (when hashed with `dihedral`). */
  pdqDihedral?: string[];
};

/** The whole-image hashes of `s` by type, each as its type writes it; PDQ with its quality (and rotations). */
export function imageHashesText(s: ImageSignals): ImageHashesText {
  const out: Record<string, unknown> = {};
  for (const name of WHOLE_IMAGE_SIGNALS) {
    const value = wholeImageHash(s, name);
    if (!value) throw new Error(`imageHashesText needs every whole-image signal; ${name} is missing`);
    out[name] = WHOLE_IMAGE_TYPES.find((t) => t.name === name)!.format(value);
    if (name === 'pdq') out.pdqQuality = s.pdq!.quality;
  }
  if (s.pdq?.dihedral) out.pdqDihedral = s.pdq.dihedral.map((h) => pdq.format(h));
  return out as ImageHashesText;
}

/** The hash of one whole-image type in `s`, if it was computed. */
export function wholeImageHash(s: ImageSignals, name: WholeImageSignalName): Uint8Array | undefined {
  return name === 'pdq' || name === 'pdq-norm' ? s[name]?.hash : s[name];
}
