/**
 * PDQ hashes of rectangular regions of one decoded image, cheap enough to take
 * hundreds per image: the luma is summed once into an integral image, then
 * each region is box-averaged straight down to PDQ's 64 x 64 grid (the area
 * average is the low-pass PDQ's own blur would apply) and put through PDQ's
 * DCT and median threshold.
 *
 * It is its own signal type, `pdq-region`: the box average is not PDQ's
 * tent filter, so a region hash of the whole frame lands 2-32 bits from the
 * image's reference PDQ hash (median about 8 on photos). Region hashes are
 * matched only against region hashes, made the same way on both sides.
 */
import { hammingDistance } from './hamming.js';
import { PDQ_BITS, PDQ_MATCH_THRESHOLD, PDQ_MIN_QUALITY, pdqFromLuma } from './pdq.js';
import { REGION_GRID_WASM_BASE64 } from './region-grid-wasm.js';
import { hexForm, type PerceptualSignalType, type Raster } from './signal-type.js';
import { WASM_PAGE_BYTES, type WasmMemory, wasmApi, wasmInstantiator } from './wasm-api.js';

/**
 * How a region was chosen: reported with each match as how it was found, and
 * stored with each region hash, since only some kinds can find each other
 * (src/match/region-groups.ts).
 */
export const REGION_KINDS = ['frame', 'part', 'quadrant', 'strip', 'crop', 'rotation', 'patch', 'ninth'] as const;
export type RegionKind = (typeof REGION_KINDS)[number];

const GRID = 64;
/** Long side the integral image is kept at (see IntegralImage.fromRaster). */
const WORKING_SIDE = 640;

/** A rectangle in the frame's pixel coordinates (fractional edges allowed). */
export interface Rect {
  x: number;
  y: number;
  width: number;
  height: number;
}

export interface RegionHash {
  hash: Uint8Array;
  quality: number;
  /** The 16 x 16 DCT block the bits came from (for dihedral variants). */
  dct: Float32Array;
}

/** Grey level of every pixel with PDQ's luma weights (alpha ignored). */
function lumaPlane(raster: Raster): Float32Array {
  const { width, height, channels, data } = raster;
  const out = new Float32Array(width * height);
  if (channels <= 2) {
    for (let i = 0, p = 0; i < out.length; i++, p += channels) out[i] = data[p];
    return out;
  }
  for (let i = 0, p = 0; i < out.length; i++, p += channels) {
    out[i] = 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
  }
  return out;
}

/** Whether the raster's last channel is alpha (grey + alpha, or RGBA). */
export const hasAlphaChannel = (raster: Raster): boolean => raster.channels === 2 || raster.channels === 4;

/**
 * The luma plane of the raster composited over a grey `background` (0-255)
 * by its alpha channel, as a viewer or a converter that flattens it shows it
 * (luma is linear in the channels, so flattening the luma equals the luma of
 * the flattened colours).
 */
function flattenedLuma(raster: Raster, background: number): Float32Array {
  const out = lumaPlane(raster);
  if (!hasAlphaChannel(raster)) return out;
  const { channels, data } = raster;
  for (let i = 0, a = channels - 1; i < out.length; i++, a += channels) {
    const alpha = data[a] / 255;
    out[i] = alpha * out[i] + (1 - alpha) * background;
  }
  return out;
}

/**
 * The raster's luma at the working resolution IntegralImage.fromRaster uses;
 * with `background`, composited over that grey level by its alpha first (see
 * flattenedLuma), else alpha is ignored (colours as stored, as PDQ takes them).
 */
export function workingLuma(raster: Raster, maxSide = WORKING_SIDE, background?: number): { luma: Float32Array; width: number; height: number } {
  const full = background === undefined ? undefined : flattenedLuma(raster, background);
  const factor = Math.ceil(Math.max(raster.width, raster.height) / maxSide);
  if (factor <= 1) return { luma: full ?? lumaPlane(raster), width: raster.width, height: raster.height };
  const width = Math.floor(raster.width / factor);
  const height = Math.floor(raster.height / factor);
  if (full) return { luma: shrunkPlane(full, raster.width, width, height, factor), width, height };
  return { luma: shrunkLuma(raster, width, height, factor), width, height };
}

/** Each factor x factor block of a plane `stride` wide, averaged (partial blocks at the right and bottom dropped). */
function shrunkPlane(plane: Float32Array, stride: number, width: number, height: number, factor: number): Float32Array {
  const out = new Float32Array(width * height);
  const norm = 1 / (factor * factor);
  for (let y = 0; y < height; y++) {
    for (let dy = 0; dy < factor; dy++) {
      let p = (y * factor + dy) * stride;
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let dx = 0; dx < factor; dx++, p++) sum += plane[p];
        out[y * width + x] += sum;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] *= norm;
  return out;
}

/** Luma of each factor x factor block of the raster, averaged (partial blocks at the right and bottom dropped). */
function shrunkLuma({ width: stride, channels, data }: Raster, width: number, height: number, factor: number): Float32Array {
  const out = new Float32Array(width * height);
  const norm = 1 / (factor * factor);
  const grey = channels <= 2;
  for (let y = 0; y < height; y++) {
    for (let dy = 0; dy < factor; dy++) {
      let p = (y * factor + dy) * stride * channels;
      for (let x = 0; x < width; x++) {
        let sum = 0;
        for (let dx = 0; dx < factor; dx++, p += channels) {
          sum += grey ? data[p] : 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
        }
        out[y * width + x] += sum;
      }
    }
  }
  for (let i = 0; i < out.length; i++) out[i] *= norm;
  return out;
}

/** The grid kernels (region-grid.wat): every argument a count, a byte address in the image's memory, or (turnedGrid) a coordinate. */
interface GridKernels {
  grid: GridKernel;
  turnedGrid(width: number, height: number, cx: number, cy: number, cellW: number, cellH: number, cos: number, sin: number, out: number): void;
}
type GridKernel = (
  stride: number,
  cols: number,
  rows: number,
  xi: number,
  xf: number,
  xs: number,
  yi: number,
  yf: number,
  ys: number,
  corners: number,
  out: number,
) => void;

const makeGridKernel = wasmInstantiator(REGION_GRID_WASM_BASE64);

/**
 * Summed-area table of a luma plane. The integral of a piecewise-constant image
 * is bilinear inside each pixel, so bilinear interpolation of the table gives
 * exact box sums over rectangles with fractional edges.
 *
 * Where WebAssembly is available the table lives in a memory of the image's
 * own, and grids and turned grids are sampled in WebAssembly, bit for bit as
 * in JS (`gridJs` and `turnedGridJs`, the fallback and the tests' oracle): a
 * lookup takes hundreds.
 */
export class IntegralImage {
  readonly width: number;
  readonly height: number;
  private sums: Float64Array;
  private readonly stride: number;
  private readonly wasm: { memory: WasmMemory; kernels: GridKernels } | null;

  constructor(luma: Float32Array, width: number, height: number) {
    this.width = width;
    this.height = height;
    this.stride = width + 1;
    const count = (width + 1) * (height + 1);
    const memory = makeGridKernel && new wasmApi!.Memory({ initial: Math.ceil(gridLayout(count * 8, GRID, GRID).end / WASM_PAGE_BYTES) });
    this.wasm = memory && { memory, kernels: makeGridKernel!({ image: { memory } }) as GridKernels };
    const sums = memory ? new Float64Array(memory.buffer, 0, count) : new Float64Array(count);
    for (let y = 0; y < height; y++) {
      let rowSum = 0;
      const above = y * this.stride;
      const here = above + this.stride;
      for (let x = 0; x < width; x++) {
        rowSum += luma[y * width + x];
        sums[here + x + 1] = sums[above + x + 1] + rowSum;
      }
    }
    this.sums = sums;
  }

  /**
   * From a decoded raster, box-averaged by a whole factor first when its
   * long side is over `maxSide`: a region's 64 x 64 grid needs no more.
   */
  static fromRaster(raster: Raster, maxSide = WORKING_SIDE): IntegralImage {
    const { luma, width, height } = workingLuma(raster, maxSide);
    return new IntegralImage(luma, width, height);
  }

  /** Sum of the luma over [0, x) x [0, y). */
  private at(x: number, y: number): number {
    const x0 = Math.min(Math.floor(x), this.width - 1);
    const y0 = Math.min(Math.floor(y), this.height - 1);
    const fx = x - x0;
    const fy = y - y0;
    const i = y0 * this.stride + x0;
    const s = this.sums;
    const top = s[i] + fx * (s[i + 1] - s[i]);
    const bottom = s[i + this.stride] + fx * (s[i + this.stride + 1] - s[i + this.stride]);
    return top + fy * (bottom - top);
  }

  /** Mean luma over a rectangle, clipped to the frame. */
  mean(rect: Rect): number {
    const x0 = clamp(rect.x, 0, this.width);
    const y0 = clamp(rect.y, 0, this.height);
    const x1 = clamp(rect.x + rect.width, 0, this.width);
    const y1 = clamp(rect.y + rect.height, 0, this.height);
    const area = (x1 - x0) * (y1 - y0);
    if (area <= 0) return 0;
    return (this.at(x1, y1) - this.at(x0, y1) - this.at(x1, y0) + this.at(x0, y0)) / area;
  }

  /** The rectangle box-averaged to a cols x rows grid (row-major), written to `out`. */
  grid(rect: Rect, cols: number, rows = cols, out: Float32Array = new Float32Array(cols * rows)): Float32Array {
    if (!this.wasm) return this.gridJs(rect, cols, rows, out);
    const { memory, kernels } = this.wasm;
    const tableLength = (this.width + 1) * (this.height + 1);
    const at = gridLayout(tableLength * 8, cols, rows);
    const missing = at.end - memory.buffer.byteLength;
    if (missing > 0) {
      memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
      // Growing detaches the old buffer and every view of it (a detached view's length reads 0).
      this.sums = new Float64Array(memory.buffer, 0, tableLength);
    }
    const buffer = memory.buffer;
    this.edges(rect.x, rect.width, cols, this.width, 1, new Int32Array(buffer, at.xi, cols + 1), new Float64Array(buffer, at.xf, cols + 1), new Float64Array(buffer, at.xs, cols + 1));
    this.edges(rect.y, rect.height, rows, this.height, this.stride * 8, new Int32Array(buffer, at.yi, rows + 1), new Float64Array(buffer, at.yf, rows + 1), new Float64Array(buffer, at.ys, rows + 1));
    kernels.grid(this.stride, cols, rows, at.xi, at.xf, at.xs, at.yi, at.yf, at.ys, at.corners, at.cells);
    out.set(new Float32Array(buffer, at.cells, cols * rows));
    return out;
  }

  /**
   * The edges of `cells` cells over [start, start + length) along an axis of
   * `side` pixels, clipped to it: each edge's position, the pixel before it
   * times `unit`, and how far past that pixel it lies.
   */
  private edges(start: number, length: number, cells: number, side: number, unit: number, pixel: Int32Array, fraction: Float64Array, position: Float64Array): void {
    for (let k = 0; k <= cells; k++) {
      const x = clamp(start + (length * k) / cells, 0, side);
      const before = Math.min(Math.floor(x), side - 1);
      pixel[k] = before * unit;
      fraction[k] = x - before;
      position[k] = x;
    }
  }

  /**
   * A 64 x 64 grid of cells `cellW` x `cellH` whose centres are those of an
   * upright grid centred on (`cx`, `cy`) turned by the angle of cosine `cos`
   * and sine `sin` about it; each cell is the box mean of the upright
   * rectangle around its centre (at small angles a cell stays nearly
   * axis-aligned).
   */
  turnedGrid(cx: number, cy: number, cellW: number, cellH: number, cos: number, sin: number, out: Float32Array): Float32Array {
    if (!this.wasm) return this.turnedGridJs(cx, cy, cellW, cellH, cos, sin, out);
    // Its cells go where grid()'s work begins, past the table.
    const cells = (this.width + 1) * (this.height + 1) * 8;
    this.wasm.kernels.turnedGrid(this.width, this.height, cx, cy, cellW, cellH, cos, sin, cells);
    out.set(new Float32Array(this.wasm.memory.buffer, cells, GRID * GRID));
    return out;
  }

  /** turnedGrid() in JS. */
  turnedGridJs(cx: number, cy: number, cellW: number, cellH: number, cos: number, sin: number, out: Float32Array): Float32Array {
    const cell = { x: 0, y: 0, width: cellW, height: cellH };
    for (let i = 0; i < GRID; i++) {
      const v = (i + 0.5 - 32) * cellH;
      for (let j = 0; j < GRID; j++) {
        const u = (j + 0.5 - 32) * cellW;
        cell.x = cx + u * cos - v * sin - cellW / 2;
        cell.y = cy + u * sin + v * cos - cellH / 2;
        out[i * GRID + j] = this.mean(cell);
      }
    }
    return out;
  }

  /** grid() in JS. */
  gridJs(rect: Rect, cols: number, rows = cols, out: Float32Array = new Float32Array(cols * rows)): Float32Array {
    // Table values at every grid corner (bilinear in the table), then each cell from its four corners.
    const { xi, xf, xs, ys, corners } = gridWork(cols, rows);
    for (let k = 0; k <= cols; k++) {
      const x = clamp(rect.x + (rect.width * k) / cols, 0, this.width);
      xi[k] = Math.min(Math.floor(x), this.width - 1);
      xf[k] = x - xi[k];
      xs[k] = x;
    }
    const stride = cols + 1;
    const s = this.sums;
    for (let i = 0; i <= rows; i++) {
      const y = clamp(rect.y + (rect.height * i) / rows, 0, this.height);
      ys[i] = y;
      const y0 = Math.min(Math.floor(y), this.height - 1);
      const fy = y - y0;
      const top = y0 * this.stride;
      const bottom = top + this.stride;
      for (let j = 0; j <= cols; j++) {
        const a = top + xi[j];
        const b = bottom + xi[j];
        const fx = xf[j];
        const upper = s[a] + fx * (s[a + 1] - s[a]);
        const lower = s[b] + fx * (s[b + 1] - s[b]);
        corners[i * stride + j] = upper + fy * (lower - upper);
      }
    }
    for (let i = 0; i < rows; i++) {
      const cellHeight = ys[i + 1] - ys[i];
      for (let j = 0; j < cols; j++) {
        const area = (xs[j + 1] - xs[j]) * cellHeight;
        const c = i * stride + j;
        const sum = corners[c + stride + 1] - corners[c + stride] - corners[c + 1] + corners[c];
        out[i * cols + j] = area > 0 ? sum / area : 0;
      }
    }
    return out;
  }
}

const align8 = (bytes: number) => (bytes + 7) & ~7;

/**
 * Byte addresses of grid()'s work past a table of `tableBytes`: column and
 * row edges (i32 arrays, then f64 arrays), the corners and the cells, and
 * where they end.
 */
function gridLayout(tableBytes: number, cols: number, rows: number) {
  const xi = tableBytes;
  const yi = xi + (cols + 1) * 4;
  const xf = align8(yi + (rows + 1) * 4);
  const xs = xf + (cols + 1) * 8;
  const yf = xs + (cols + 1) * 8;
  const ys = yf + (rows + 1) * 8;
  const corners = ys + (rows + 1) * 8;
  const cells = corners + (rows + 1) * (cols + 1) * 8;
  return { xi, yi, xf, xs, yf, ys, corners, cells, end: cells + cols * rows * 4 };
}

/** Grid work arrays, reused: hashing is synchronous and region hashes are taken by the hundred. */
let scratch = { xi: new Int32Array(0), xf: new Float64Array(0), xs: new Float64Array(0), ys: new Float64Array(0), corners: new Float64Array(0) };
function gridWork(cols: number, rows: number) {
  if (scratch.xi.length < cols + 1 || scratch.ys.length < rows + 1) {
    const n = Math.max(cols, rows, scratch.xi.length - 1) + 1;
    scratch = { xi: new Int32Array(n), xf: new Float64Array(n), xs: new Float64Array(n), ys: new Float64Array(n), corners: new Float64Array(n * n) };
  }
  return scratch;
}

const clamp = (v: number, lo: number, hi: number) => (v < lo ? lo : v > hi ? hi : v);

const gridScratch = new Float32Array(GRID * GRID);

/** PDQ hash and quality of a 64 x 64 grid of luma means. */
export function hashGrid(grid: Float32Array): RegionHash {
  return pdqFromLuma(grid, GRID, GRID);
}

/** PDQ hash and quality of one region of the frame. */
export function hashRegion(image: IntegralImage, rect: Rect): RegionHash {
  return hashGrid(image.grid(rect, GRID, GRID, gridScratch));
}

export const fullFrame = (image: { width: number; height: number }): Rect => ({ x: 0, y: 0, width: image.width, height: image.height });

/** The whole-frame region hash as a signal type (regions themselves come from src/robust). */
export const pdqRegion: PerceptualSignalType<'pdq-region'> = {
  name: 'pdq-region',
  bits: PDQ_BITS,
  ...hexForm(PDQ_BITS),
  comparison: 'hamming',
  defaultThreshold: PDQ_MATCH_THRESHOLD,
  maxThreshold: PDQ_MATCH_THRESHOLD,
  minQuality: PDQ_MIN_QUALITY,
  interoperable: false,
  scope: 'region',
  description: "This service's own: PDQ's DCT over box means of one region of the image (crops, parts, rotations); matched only against other region hashes, at distance <= 31.",
  input: 'pixels',
  distance: hammingDistance,
  hashRaster: (raster) => {
    const image = IntegralImage.fromRaster(raster);
    return hashRegion(image, fullFrame(image));
  },
};
