/**
 * blockhash (blockhash.io, block mean value) at 16 x 16 blocks = 256 bits,
 * through `blockhash-core`'s precise method, which equals the reference C tool
 * when fed the same RGBA samples. Two routes to the same bits:
 * blockhashRaster hands blockhash-core every pixel as RGBA (the reference
 * path); blockhashRasterFromBlocks sums the blocks from the raster as decoded
 * (WebAssembly for grey and RGB) and hands blockhash-core one pixel per block.
 */
import { bmvbhash } from 'blockhash-core';
import { hammingDistance } from './hamming.js';
import { fromHex } from './hex.js';
import { type RangeSums, RANGE_SUMS_CHUNK_BYTES, rangeSums } from './blockhash-sums.js';
import { hexForm, type PerceptualSignalType, type Raster } from './signal-type.js';

export const BLOCKHASH_GRID = 16;
export const BLOCKHASH_BITS = BLOCKHASH_GRID * BLOCKHASH_GRID;
/**
 * blockhash has no upstream match threshold. Unrelated photos sit near 128 bits
 * apart and re-encodes of one photo within a few bits; 10 of 256 bits (about 4%)
 * keeps well clear of chance agreement while covering recompression and resizing.
 */
export const BLOCKHASH_MATCH_THRESHOLD = 10;

/** blockhash-core reads RGBA: expand grey and add opaque alpha where missing. */
export function toRgba(raster: Raster): Uint8Array {
  const { width, height, channels, data } = raster;
  if (channels === 4) return data;
  const n = width * height;
  const out = new Uint8Array(n * 4);
  for (let i = 0, s = 0, o = 0; i < n; i++, s += channels, o += 4) {
    if (channels >= 3) {
      out[o] = data[s];
      out[o + 1] = data[s + 1];
      out[o + 2] = data[s + 2];
      out[o + 3] = 255;
    } else {
      const grey = data[s];
      out[o] = grey;
      out[o + 1] = grey;
      out[o + 2] = grey;
      out[o + 3] = channels === 2 ? data[s + 1] : 255;
    }
  }
  return out;
}

/** blockhash-core over every pixel of the raster (RGBA, expanded in JS where needed): the reference route. */
export function blockhashRaster(raster: Raster): { hash: Uint8Array } {
  const hex = bmvbhash({ width: raster.width, height: raster.height, data: toRgba(raster) }, BLOCKHASH_GRID);
  return { hash: fromHex(hex, BLOCKHASH_BITS, 'blockhash') };
}

/**
 * Where blockhash-core's precise method puts each pixel column (or row) of a
 * side of `size` pixels: the block it starts in and the block it ends in (the
 * same block unless it straddles a boundary) and its weight in each, in 16ths.
 * The blocks and weights come from blockhash-core's own expressions; the
 * weights are exact multiples of 1/16 (a remainder of an integer by size / 16),
 * so they are returned as integers. Null if one is not (never seen; the
 * caller then uses blockhash-core itself). A side divisible by 16 puts every
 * pixel wholly in floor(i / (size / 16)), as its even method does.
 */
function axisWeights(size: number): { first: Int32Array; second: Int32Array; weightFirst: Int32Array; weightSecond: Int32Array } | null {
  const blockSize = size / BLOCKHASH_GRID;
  const even = size % BLOCKHASH_GRID === 0;
  const first = new Int32Array(size);
  const second = new Int32Array(size);
  const weightFirst = new Int32Array(size);
  const weightSecond = new Int32Array(size);
  for (let i = 0; i < size; i++) {
    let wFirst = 1;
    let wSecond = 0;
    first[i] = second[i] = Math.floor(i / blockSize);
    if (!even) {
      const mod = (i + 1) % blockSize;
      const frac = mod - Math.floor(mod);
      wFirst = 1 - frac;
      wSecond = frac;
      if (!(mod - frac > 0 || i + 1 === size)) second[i] = Math.ceil(i / blockSize);
    }
    if (!Number.isInteger(wFirst * 16) || !Number.isInteger(wSecond * 16)) return null;
    weightFirst[i] = wFirst * 16;
    weightSecond[i] = wSecond * 16;
  }
  return { first, second, weightFirst, weightSecond };
}

type BlockLayout = {
  columns: NonNullable<ReturnType<typeof axisWeights>>;
  rows: NonNullable<ReturnType<typeof axisWeights>>;
  /** Runs of columns wholly inside one block: pairs of first column and count. */
  runs: Int32Array;
  runBlocks: Int32Array;
  /** The runs as byte offset and length within a row. */
  byteRuns: Int32Array;
  /** Columns straddling two blocks. */
  straddling: Int32Array;
};

/** Recent layouts by size: uploads come in a few sizes, and batches repeat them. */
const layouts = new Map<string, BlockLayout | null>();
const MAX_LAYOUTS = 16;

function blockLayout(width: number, height: number, channels: number): BlockLayout | null {
  const key = `${width}x${height}x${channels}`;
  const known = layouts.get(key);
  if (known !== undefined) return known;
  const columns = axisWeights(width);
  const rows = axisWeights(height);
  let layout: BlockLayout | null = null;
  if (columns && rows) {
    const runs: number[] = [];
    const runBlocks: number[] = [];
    const straddling: number[] = [];
    for (let x = 0; x < width; x++) {
      if (columns.first[x] !== columns.second[x]) {
        straddling.push(x);
      } else if (runs.length > 0 && runBlocks[runBlocks.length - 1] === columns.first[x] && runs[runs.length - 2] + runs[runs.length - 1] === x) {
        runs[runs.length - 1]++;
      } else {
        runs.push(x, 1);
        runBlocks.push(columns.first[x]);
      }
    }
    layout = {
      columns,
      rows,
      runs: Int32Array.from(runs),
      runBlocks: Int32Array.from(runBlocks),
      byteRuns: Int32Array.from(runs, (v) => v * channels),
      straddling: Int32Array.from(straddling),
    };
  }
  if (layouts.size >= MAX_LAYOUTS) layouts.delete(layouts.keys().next().value!);
  layouts.set(key, layout);
  return layout;
}

/**
 * The 16 x 16 block values blockhash-core computes from the raster (row-major)
 * and its pixels-per-block figure, from any channel layout (grey, grey +
 * alpha, RGB, RGBA) without expanding it to RGBA. A pixel counts R + G + B
 * (3 x grey), or 765 where its alpha is 0.
 *
 * Exactly blockhash-core's values, computed in another order: each pixel adds
 * value x (row weight) x (column weight) to a block, the weights multiples of
 * 1/16 (see axisWeights), so every product is a multiple of 1/256 and every
 * partial sum one too, far under 2^53 / 256: blockhash-core's float additions
 * never round, and integer sums in 256ths, added in any order, give the same
 * numbers. Whole-pixel runs of a row are byte sums (WebAssembly SIMD for grey
 * and RGB rasters, see blockhash-sums.ts), the pixels straddling a block
 * boundary are added one by one. Null where axisWeights is.
 */
export function blockhashBlocks(raster: Raster, sums: RangeSums = rangeSums): { values: Float64Array; pixelsPerBlock: number } | null {
  const { width, height, channels, data } = raster;
  const n = BLOCKHASH_GRID;
  const layout = blockLayout(width, height, channels);
  if (!layout) return null;
  const { columns, rows, runs, runBlocks, byteRuns, straddling } = layout;
  const nRuns = runBlocks.length;
  const stride = width * channels;
  const hasAlpha = channels === 2 || channels === 4;
  // Grey bytes count three times; RGB bytes sum to R + G + B.
  const byteWeight = channels === 1 ? 3 : 1;
  const pixel = (p: number) => (hasAlpha && data[p + channels - 1] === 0 ? 765 : channels >= 3 ? data[p] + data[p + 1] + data[p + 2] : 3 * data[p]);
  const blocks = new Float64Array(n * n);
  const rowBlocks = new Float64Array(n);
  const chunkRows = Math.max(1, Math.floor(RANGE_SUMS_CHUNK_BYTES / stride));
  for (let y0 = 0; y0 < height; y0 += chunkRows) {
    const chunk = Math.min(chunkRows, height - y0);
    const runSums = hasAlpha ? null : sums(data, stride, y0, chunk, byteRuns);
    for (let dy = 0; dy < chunk; dy++) {
      const y = y0 + dy;
      const row = y * stride;
      rowBlocks.fill(0);
      for (let r = 0; r < nRuns; r++) {
        let sum = 0;
        if (runSums) {
          sum = runSums[dy * nRuns + r] * byteWeight;
        } else {
          for (let x = runs[2 * r], end = x + runs[2 * r + 1]; x < end; x++) sum += pixel(row + x * channels);
        }
        rowBlocks[runBlocks[r]] += 16 * sum;
      }
      for (const x of straddling) {
        const v = pixel(row + x * channels);
        rowBlocks[columns.first[x]] += v * columns.weightFirst[x];
        rowBlocks[columns.second[x]] += v * columns.weightSecond[x];
      }
      const top = rows.first[y] * n;
      const bottom = rows.second[y] * n;
      const weightTop = rows.weightFirst[y];
      const weightBottom = rows.weightSecond[y];
      for (let b = 0; b < n; b++) {
        blocks[top + b] += rowBlocks[b] * weightTop;
        blocks[bottom + b] += rowBlocks[b] * weightBottom;
      }
    }
  }
  const values = blocks.map((v) => v / 256);
  return { values, pixelsPerBlock: (width / n) * (height / n) };
}

/**
 * blockhash-core's bit rule (translateBlocksToBits) on block values: per band
 * of 64 blocks, 1 above the band's median, or within 1 of it when the median
 * exceeds `half`. Used only to check that the values handed to blockhash-core
 * below decide every bit as the full raster would.
 */
function blockBits(values: Float64Array, half: number): Uint8Array {
  const bits = new Uint8Array(values.length);
  const bandSize = values.length / 4;
  for (let start = 0; start < values.length; start += bandSize) {
    const sorted = values.slice(start, start + bandSize).sort();
    const m = (sorted[bandSize / 2 - 1] + sorted[bandSize / 2]) / 2.0;
    for (let j = start; j < start + bandSize; j++) {
      const v = values[j];
      bits[j] = Number(v > m || (Math.abs(v - m) < 1 && m > half));
    }
  }
  return bits;
}

/**
 * blockhash through blockhash-core from the block values alone: it is handed a
 * 16 x 16 RGBA image with one pixel per block (the value in red, 0 in green and
 * blue, opaque), so its own band medians, bit rule and hex encoding make the
 * hash, from 256 pixels instead of every pixel of the raster.
 *
 * With one pixel per block blockhash-core's "half the maximum block value",
 * which decides blocks within 1 of their band's median, is 384 instead of
 * 384 x pixels per block; every value is therefore shifted down by the
 * difference, which moves values, medians and that threshold alike. The
 * values are multiples of 1/256 far under 2^53 / 256 (see blockhashBlocks), so
 * the shift and the medians are exact and every bit is the full raster's. The
 * bit rule is still checked on both sets of values, and the whole raster goes
 * through blockhash-core instead should any bit differ. The hash equals
 * blockhashRaster's bit for bit (tested on the reference fixtures and on
 * random and flat rasters of every channel layout and many sizes).
 */
export function blockhashRasterFromBlocks(raster: Raster): { hash: Uint8Array } {
  const blocks = blockhashBlocks(raster);
  if (!blocks) return blockhashRaster(raster);
  const { values, pixelsPerBlock } = blocks;
  const half = (pixelsPerBlock * 256 * 3) / 2;
  const shifted = values.map((v) => v - (half - 384));
  const want = blockBits(values, half);
  const got = blockBits(shifted, 384);
  if (want.some((bit, i) => bit !== got[i])) return blockhashRaster(raster);
  const image: number[] = [];
  for (const v of shifted) image.push(v, 0, 0, 255);
  const hex = bmvbhash({ width: BLOCKHASH_GRID, height: BLOCKHASH_GRID, data: image }, BLOCKHASH_GRID);
  return { hash: fromHex(hex, BLOCKHASH_BITS, 'blockhash') };
}

export const blockhash: PerceptualSignalType<'blockhash'> = {
  name: 'blockhash',
  bits: BLOCKHASH_BITS,
  ...hexForm(BLOCKHASH_BITS),
  comparison: 'hamming',
  defaultThreshold: BLOCKHASH_MATCH_THRESHOLD,
  maxThreshold: BLOCKHASH_MATCH_THRESHOLD,
  interoperable: true,
  scope: 'whole',
  description: 'blockhash.io block mean value at 16 x 16 blocks (256 bits) of the whole image; matches at distance <= 10.',
  input: 'pixels',
  distance: hammingDistance,
  hashRaster: blockhashRaster,
  hashRasterAsDecoded: blockhashRasterFromBlocks,
};
