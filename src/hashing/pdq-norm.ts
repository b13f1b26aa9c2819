/**
 * `pdq-norm`: PDQ of a dark or low-contrast photo, taken after its contrast is
 * stretched, for the photos PDQ itself refuses (quality under 50).
 *
 * PDQ's bits are the signs of DCT coefficients against their median, so they
 * do not change when the grey levels are scaled: a photo taken in dim light
 * has nearly the hash of the same scene well lit. What makes PDQ refuse it is
 * its quality, the sum of grey-level steps of the 64 x 64 grid, which a dark
 * photo lacks however much it shows. Here the luma's 1st to 99th percentile
 * is stretched to 0-255 first, so quality measures the detail relative to
 * the photo's own range: a dark photo with content passes, a flat one (whose
 * range is a few grey levels of noise) does not.
 *
 * Its own signal type with a stricter threshold: in a dark photo the
 * re-encoding noise is large against the signal and flips more bits, and a
 * near-flat photo stretched shows its noise and its gradients, which look
 * alike from photo to photo. The threshold is chosen by bench/quality (see
 * docs/robust-matching.md). Matched only against pdq-norm hashes.
 */
import { hammingDistance } from './hamming.js';
import { PDQ_BITS, PDQ_MIN_QUALITY, type PdqResult, pdqFromLuma, pdqLuma } from './pdq.js';
import { hexForm, type PerceptualSignalType, type Raster } from './signal-type.js';

/** Stricter than PDQ's 31 (see the header). */
export const PDQ_NORM_MATCH_THRESHOLD = 24;
/**
 * A range narrower than this many grey levels is a flat image: nothing to
 * stretch. One level is what 8-bit quantisation alone leaves; a photo
 * darkened to a few levels (its brightest pixels at 6-9 of 255) still has
 * its scene's structure there, and its re-encodings' stretched hashes stay
 * close to its own.
 */
export const MIN_CONTRAST_RANGE = 2;
const LOW_PERCENTILE = 0.01;
const HIGH_PERCENTILE = 0.99;
const HISTOGRAM_BINS = 1024;

/** The grey levels at the 1st and 99th percentiles of a luma plane (0-255), from a 1024-bin histogram. */
export function contrastRange(luma: Float32Array): { low: number; high: number } {
  const histogram = new Uint32Array(HISTOGRAM_BINS);
  const scale = (HISTOGRAM_BINS - 1) / 255;
  for (let i = 0; i < luma.length; i++) histogram[Math.max(0, Math.min(HISTOGRAM_BINS - 1, Math.round(luma[i] * scale)))]++;
  const at = (share: number) => {
    const wanted = share * luma.length;
    let seen = 0;
    for (let bin = 0; bin < HISTOGRAM_BINS; bin++) {
      seen += histogram[bin];
      if (seen > wanted) return bin / scale;
    }
    return 255;
  };
  return { low: at(LOW_PERCENTILE), high: at(HIGH_PERCENTILE) };
}

/**
 * The plane with [low, high] stretched to [0, 255] (values outside clipped),
 * written to `out` (a new array by default; the plane itself may be given).
 * A range under MIN_CONTRAST_RANGE is left as it is.
 */
export function stretchContrast<T extends Float32Array>(luma: T, range = contrastRange(luma), out: Float32Array = new Float32Array(luma.length)): Float32Array {
  const span = range.high - range.low;
  if (span < MIN_CONTRAST_RANGE) {
    if (out !== luma) out.set(luma);
    return out;
  }
  const gain = 255 / span;
  for (let i = 0; i < luma.length; i++) {
    const v = (luma[i] - range.low) * gain;
    out[i] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return out;
}

/**
 * PDQ hash, quality and DCT of the raster after its contrast is stretched
 * (PDQ's own luma and squash, so the bits stay those of its PDQ hash but for
 * the clipped tails). Quality 0 when its range is too narrow to stretch.
 */
export function pdqNormHashRaster(raster: Raster): PdqResult {
  const { luma, width, height } = pdqLuma(raster);
  const range = contrastRange(luma);
  const result = pdqFromLuma(stretchContrast(luma, range, luma), width, height);
  return range.high - range.low < MIN_CONTRAST_RANGE ? { ...result, quality: 0 } : result;
}

export const pdqNorm: PerceptualSignalType<'pdq-norm'> = {
  name: 'pdq-norm',
  bits: PDQ_BITS,
  ...hexForm(PDQ_BITS),
  comparison: 'hamming',
  defaultThreshold: PDQ_NORM_MATCH_THRESHOLD,
  maxThreshold: PDQ_NORM_MATCH_THRESHOLD,
  minQuality: PDQ_MIN_QUALITY,
  interoperable: false,
  scope: 'whole',
  fallbackFor: 'pdq',
  description:
    "This service's own: PDQ after the photo's contrast is stretched, for dark and low-contrast photos whose PDQ quality is under 50; matches at distance <= 24.",
  input: 'pixels',
  distance: hammingDistance,
  hashRaster: pdqNormHashRaster,
};
