/**
 * PDQ (Meta's 256-bit perceptual hash), written from `shared/docs/pdq-spec.md`.
 *
 * Every float operation is rounded to float32 (Math.fround or a Float32Array
 * store) in the order the C++ reference performs it, so hashes and quality
 * scores are bit-exact with the reference for the same input pixels.
 */
import { hammingDistance } from './hamming.js';
import { pdqWasmCore } from './pdq-core.js';
import { DCT_MATRIX } from './pdq-dct-matrix.js';
import { hexForm, type PerceptualHash, type PerceptualSignalType, type Raster } from './signal-type.js';

const f32 = Math.fround;

export const PDQ_BITS = 256;
/** Upstream's confident-match distance (pdq/README.md, python-threatexchange). */
export const PDQ_MATCH_THRESHOLD = 31;
/** Hashes under this quality are too featureless to match on (python-threatexchange). */
export const PDQ_MIN_QUALITY = 50;
/** The C++ reference squashes larger input to this square before hashing. */
export const PDQ_SQUASH_SIZE = 512;
/** The C++ reference gives the all-zero hash for images with a side under this. */
export const PDQ_MIN_SIDE = 5;

export const DIHEDRAL_NAMES = ['orig', 'rot90', 'rot180', 'rot270', 'flipx', 'flipy', 'flipplus1', 'flipminus1'] as const;
export type DihedralName = (typeof DIHEDRAL_NAMES)[number];

export interface PdqResult extends PerceptualHash {
  quality: number;
  /** The 16x16 DCT block (row = vertical frequency) the bits were taken from. */
  dct: Float32Array;
}

const LUMA_R = f32(0.299);
const LUMA_G = f32(0.587);
const LUMA_B = f32(0.114);

/** Sides of the luma image pdqLuma makes from a width x height raster. */
export function pdqLumaSize(width: number, height: number): { width: number; height: number } {
  const squash = width > PDQ_SQUASH_SIZE || height > PDQ_SQUASH_SIZE;
  return squash ? { width: PDQ_SQUASH_SIZE, height: PDQ_SQUASH_SIZE } : { width, height };
}

/**
 * Where pdqLuma samples a width x height raster of `channels` interleaved
 * bytes: the source row of each luma row and the byte offset within a source
 * row of each luma column. Sides over 512 are squashed to exactly 512 by
 * nearest neighbour with corner sampling; otherwise every pixel is taken.
 */
export function pdqLumaSampling(width: number, height: number, channels: number): { rows: Int32Array; columnOffsets: Int32Array } {
  const { width: outW, height: outH } = pdqLumaSize(width, height);
  const squash = outW !== width || outH !== height;
  const rows = new Int32Array(outH);
  for (let y = 0; y < outH; y++) rows[y] = squash ? Math.floor((y * height) / PDQ_SQUASH_SIZE) : y;
  const columnOffsets = new Int32Array(outW);
  for (let x = 0; x < outW; x++) columnOffsets[x] = (squash ? Math.floor((x * width) / PDQ_SQUASH_SIZE) : x) * channels;
  return { rows, columnOffsets };
}

/**
 * Luma of the raster as the reference sees it: sampled as pdqLumaSampling
 * says, grey input used as is, alpha ignored. Written to `out` when given (at
 * least pdqLumaSize's width x height floats), else to a new array. The
 * WebAssembly luma in pdq-core.ts is tested against this.
 */
export function pdqLuma(raster: Raster, out?: Float32Array): { luma: Float32Array; width: number; height: number } {
  const { width: w, channels: ch, data } = raster;
  const { rows, columnOffsets } = pdqLumaSampling(w, raster.height, ch);
  const outW = columnOffsets.length;
  const outH = rows.length;
  const luma = out ? out.subarray(0, outW * outH) : new Float32Array(outW * outH);
  // The reference's decoder hands over one grey channel whenever every pixel has
  // R = G = B, and uses it as luma as is; the RGB formula is off by an ulp for
  // some grey values, so colour input is checked for being grey.
  let colour = 0;
  if (ch >= 3) {
    for (let y = 0; y < outH; y++) {
      const rowBase = rows[y] * w * ch;
      const outBase = y * outW;
      for (let x = 0; x < outW; x++) {
        const p = rowBase + columnOffsets[x];
        const r = data[p];
        const g = data[p + 1];
        const b = data[p + 2];
        colour |= (r ^ g) | (g ^ b);
        luma[outBase + x] = f32(f32(f32(LUMA_R * r) + f32(LUMA_G * g)) + f32(LUMA_B * b));
      }
    }
  }
  if (ch < 3 || colour === 0) {
    for (let y = 0; y < outH; y++) {
      const rowBase = rows[y] * w * ch;
      const outBase = y * outW;
      for (let x = 0; x < outW; x++) luma[outBase + x] = data[rowBase + columnOffsets[x]];
    }
  }
  return { luma, width: outW, height: outH };
}

/** Window of the box filter for a side of n pixels reduced to 64: ceil(n / 128). */
function jaroszWindow(n: number): number {
  return Math.floor((n + 127) / 128);
}

/**
 * One box-filter pass of window `window` along many lines at once. Line `l`
 * starts at `laneOffsets[l]` and its samples are `step` apart (1 along rows,
 * the row length along columns). Each line keeps the reference's float32
 * running sum and its four phases (add without writing, write with a growing
 * window, with the full window, with a shrinking window), but lines advance
 * together, a block of lines at a time: independent sums keep the CPU busy
 * and memory is walked in order.
 */
function boxPass(
  src: Float32Array,
  dst: Float32Array,
  laneOffsets: Int32Array,
  length: number,
  step: number,
  window: number,
  sums: Float32Array,
): void {
  const half = (window + 2) >> 1;
  const growing = window - half + 1;
  const full = length - window;
  const lanes = laneOffsets.length;
  const block = step === 1 ? 16 : lanes;
  for (let l0 = 0; l0 < lanes; l0 += block) {
    const l1 = Math.min(lanes, l0 + block);
    sums.fill(0, l0, l1);
    let count = 0;
    let ri = 0;
    let li = 0;
    let oi = 0;
    for (let i = 0; i < half - 1; i++, ri += step) {
      for (let l = l0; l < l1; l++) sums[l] += src[laneOffsets[l] + ri];
      count++;
    }
    for (let i = 0; i < growing; i++, ri += step, oi += step) {
      count++;
      for (let l = l0; l < l1; l++) {
        const p = laneOffsets[l];
        const sum = f32(sums[l] + src[p + ri]);
        sums[l] = sum;
        dst[p + oi] = sum / count;
      }
    }
    for (let i = 0; i < full; i++, ri += step, li += step, oi += step) {
      for (let l = l0; l < l1; l++) {
        const p = laneOffsets[l];
        const sum = f32(f32(sums[l] + src[p + ri]) - src[p + li]);
        sums[l] = sum;
        dst[p + oi] = sum / count;
      }
    }
    for (let i = 0; i < half - 1; i++, li += step, oi += step) {
      count--;
      for (let l = l0; l < l1; l++) {
        const p = laneOffsets[l];
        const sum = f32(sums[l] - src[p + li]);
        sums[l] = sum;
        dst[p + oi] = sum / count;
      }
    }
  }
}

function range(n: number, stride: number): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i * stride;
  return out;
}

/** Decimation grid: the centres of 64 equal strips ("target centres, not corners"). */
function decimationIndices(n: number): Int32Array {
  const out = new Int32Array(64);
  for (let i = 0; i < 64; i++) out[i] = Math.floor(((i + 0.5) * n) / 64);
  return out;
}

/** Scratch buffers reused across calls (hashing is synchronous, so never shared mid-use). */
let scratch = { a: new Float32Array(0), b: new Float32Array(0), sums: new Float32Array(0) };
function scratchFor(size: number, lanes: number) {
  if (scratch.a.length < size) scratch = { ...scratch, a: new Float32Array(size), b: new Float32Array(size) };
  if (scratch.sums.length < lanes) scratch = { ...scratch, sums: new Float32Array(lanes) };
  return scratch;
}

/**
 * Two rounds of horizontal + vertical box passes (a tent filter), then the
 * 64 x 64 samples at strip centres. The last vertical pass runs only down the
 * 64 columns that are sampled: columns are independent, so the rest would be
 * thrown away. Exported as the oracle the WebAssembly blur is tested against.
 */
export function blurAndDecimateJs(luma: Float32Array, width: number, height: number): Float32Array {
  const rows = decimationIndices(height);
  const cols = decimationIndices(width);
  const out = new Float32Array(64 * 64);
  let blurred = luma;
  if (width !== 64 || height !== 64) {
    // The last pass runs 64 lines (the sampled columns), more than a side under 64.
    const { a, b, sums } = scratchFor(width * height, Math.max(width, height, 64));
    const rowStarts = range(height, width);
    const colStarts = range(width, 1);
    const winAlongRows = jaroszWindow(width);
    const winAlongCols = jaroszWindow(height);
    boxPass(luma, b, rowStarts, width, 1, winAlongRows, sums);
    boxPass(b, a, colStarts, height, width, winAlongCols, sums);
    boxPass(a, b, rowStarts, width, 1, winAlongRows, sums);
    boxPass(b, a, cols, height, width, winAlongCols, sums);
    blurred = a;
  }
  for (let i = 0; i < 64; i++) {
    const row = rows[i] * width;
    for (let j = 0; j < 64; j++) out[i * 64 + j] = blurred[row + cols[j]];
  }
  return out;
}

/**
 * Sum of the absolute scaled differences between neighbours of the 64 x 64
 * matrix, which the quality is read from. Exported as the oracle the
 * WebAssembly sum is tested against.
 */
export function gradientSumJs(a: Float32Array): number {
  let gradientSum = 0;
  for (let i = 0; i < 63; i++) {
    for (let j = 0; j < 64; j++) {
      const d = Math.trunc(f32(f32(f32(a[i * 64 + j] - a[(i + 1) * 64 + j]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  for (let i = 0; i < 64; i++) {
    for (let j = 0; j < 63; j++) {
      const d = Math.trunc(f32(f32(f32(a[i * 64 + j] - a[i * 64 + j + 1]) * 100) / 255));
      gradientSum += Math.abs(d);
    }
  }
  return gradientSum;
}

/** Quality 0-100 from the gradient sum. */
const qualityOf = (gradientSum: number) => Math.min(100, Math.floor(gradientSum / 90));

/**
 * B = D * A * D^T: the 16 x 16 lowest non-DC frequencies, float32 accumulators
 * in k order. Exported as the oracle the WebAssembly DCT is tested against.
 */
export function dct16Js(a: Float32Array): Float32Array {
  const t = new Float32Array(16 * 64);
  for (let i = 0; i < 16; i++) {
    const tRow = i * 64;
    for (let k = 0; k < 64; k++) {
      const d = DCT_MATRIX[i * 64 + k];
      const aRow = k * 64;
      for (let j = 0; j < 64; j++) t[tRow + j] += f32(d * a[aRow + j]);
    }
  }
  const b = new Float32Array(256);
  for (let i = 0; i < 16; i++) {
    for (let j = 0; j < 16; j++) {
      let sum = 0;
      for (let k = 0; k < 64; k++) sum = f32(sum + f32(t[i * 64 + k] * DCT_MATRIX[j * 64 + k]));
      b[i * 16 + j] = sum;
    }
  }
  return b;
}

const medianScratch = new Float32Array(256);

/**
 * The k-th smallest of `values` (from 0), as `sorted[k]` of a numeric sort
 * would give it: a quickselect over a copy in `scratch`, several times cheaper
 * than sorting the 256 floats, which a lookup's hundreds of region hashes felt.
 */
export function nthSmallest(scratch: Float32Array, values: Float32Array, k: number): number {
  scratch.set(values);
  let lo = 0;
  let hi = values.length - 1;
  while (lo < hi) {
    const a = scratch[lo];
    const b = scratch[(lo + hi) >> 1];
    const c = scratch[hi];
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : a < c ? a : b < c ? c : b;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (scratch[i] < pivot) i++;
      while (scratch[j] > pivot) j--;
      if (i <= j) {
        const t = scratch[i];
        scratch[i++] = scratch[j];
        scratch[j--] = t;
      }
    }
    // [lo, j] holds values <= pivot, [i, hi] values >= pivot, and anything between equals it.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return scratch[k];
  }
  return scratch[k];
}

/**
 * Bit k = 16 * row + col is set iff B[row][col] exceeds the lower median; the
 * bytes are the big-endian 256-bit integer, so their hex is the reference's.
 */
function thresholdBits(b: Float32Array): Uint8Array {
  const median = nthSmallest(medianScratch, b, 127);
  const hash = new Uint8Array(32);
  for (let k = 0; k < 256; k++) {
    if (b[k] > median) hash[31 - (k >> 3)] |= 1 << (k & 7);
  }
  return hash;
}

/** PDQ of a luma matrix (already squashed if the caller wants reference behaviour). */
export function pdqFromLuma(luma: Float32Array, width: number, height: number): PdqResult {
  if (width < PDQ_MIN_SIDE || height < PDQ_MIN_SIDE) {
    return { hash: new Uint8Array(32), quality: 0, dct: new Float32Array(256) };
  }
  // 64 x 64 needs no blur (windows of 1, identity decimation).
  const blurred = width === 64 && height === 64 ? luma : pdqWasmCore?.blurAndDecimate(luma, width, height);
  const a = blurred ?? blurAndDecimateJs(luma, width, height);
  const { dct, gradientSum } = pdqWasmCore ? pdqWasmCore.transform(a) : { dct: dct16Js(a), gradientSum: gradientSumJs(a) };
  return { hash: thresholdBits(dct), quality: qualityOf(gradientSum), dct };
}

export function pdqHashRaster(raster: Raster): PdqResult {
  if (pdqWasmCore) {
    const { rows, columnOffsets } = pdqLumaSampling(raster.width, raster.height, raster.channels);
    const luma = pdqWasmCore.luma(raster, rows, columnOffsets);
    if (luma) return pdqFromLuma(luma, columnOffsets.length, rows.length);
  }
  const size = pdqLumaSize(raster.width, raster.height);
  const { luma, width, height } = pdqLuma(raster, pdqWasmCore?.lumaBuffer(size.width, size.height));
  return pdqFromLuma(luma, width, height);
}

/**
 * Where each coefficient B[i][j] lands in a dihedral variant and with which sign
 * (the DCT basis of frequency u is symmetric or antisymmetric under reversal).
 */
const DIHEDRAL_MAPS: Array<(i: number, j: number) => [number, number]> = [
  (i, j) => [i * 16 + j, 1],
  (i, j) => [j * 16 + i, j & 1 ? 1 : -1],
  (i, j) => [i * 16 + j, (i + j) & 1 ? -1 : 1],
  (i, j) => [j * 16 + i, i & 1 ? 1 : -1],
  (i, j) => [i * 16 + j, i & 1 ? 1 : -1],
  (i, j) => [i * 16 + j, j & 1 ? 1 : -1],
  (i, j) => [j * 16 + i, 1],
  (i, j) => [j * 16 + i, (i + j) & 1 ? -1 : 1],
];

/** The 8 dihedral variants (order of DIHEDRAL_NAMES) from one DCT, without re-hashing. */
export function pdqDihedralFromDct(dct: Float32Array): Uint8Array[] {
  const moved = new Float32Array(256);
  return DIHEDRAL_MAPS.map((map) => {
    for (let i = 0; i < 16; i++) {
      for (let j = 0; j < 16; j++) {
        const [to, sign] = map(i, j);
        moved[to] = sign * dct[i * 16 + j];
      }
    }
    return thresholdBits(moved);
  });
}

export const pdq: PerceptualSignalType<'pdq'> = {
  name: 'pdq',
  bits: PDQ_BITS,
  ...hexForm(PDQ_BITS),
  comparison: 'hamming',
  defaultThreshold: PDQ_MATCH_THRESHOLD,
  maxThreshold: PDQ_MATCH_THRESHOLD,
  minQuality: PDQ_MIN_QUALITY,
  interoperable: true,
  scope: 'whole',
  description: "Meta's PDQ of the whole image, as ThreatExchange, HMA and StopNCII exchange it; matches at distance <= 31 (upstream).",
  input: 'pixels',
  distance: hammingDistance,
  hashRaster: pdqHashRaster,
};
