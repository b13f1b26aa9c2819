/**
 * Regions chosen by the image's content (issue 18): square patches placed by
 * pairs of corners, so that a cropped or resized copy and its original pick
 * the same patches without searching a grid of crops.
 *
 * A patch is centred on the midpoint of two corners and its side is a fixed
 * multiple of their distance: the two points fix its position and scale to
 * well under 1% of its side (a corner is found to a fraction of a pixel),
 * which is what a region hash needs (a window 1% off costs about 24 bits).
 * A crop that keeps both corners and the patch keeps the patch exactly.
 *
 * Corners are Harris corners of the contrast-stretched luma, box-sampled to a
 * fixed long side. Captured content keeps patches of its strongest corners at
 * that one scale; a query (her original, of which the repost may be a crop,
 * so its content is shown larger) finds corners at several scales above it,
 * so that one of them sees the repost's corners at nearly the repost's scale.
 */
import type { IntegralImage, Rect } from '../hashing/pdq-region.js';
import { WASM_PAGE_BYTES, type WasmMemory, wasmInstantiator } from '../hashing/wasm-api.js';
import { HARRIS_WASM_BASE64 } from './harris-wasm.js';

export interface Corner {
  x: number;
  y: number;
  response: number;
}

/** Long side (pixels) of the plane corners are found on, for captured content. */
export const CORNER_SIDE = 320;
/** Box radii (two passes each way) of the smoothing before derivatives (sigma about 1.2) and of the structure tensor (about 2). */
const DERIVATIVE_RADIUS = 1;
const INTEGRATION_RADIUS = 2;
const HARRIS_K = 0.05;
/** Corners closer than this (plane pixels) to a stronger one are dropped. */
const CORNER_SPACING = 6;
const BORDER = 6;

/** A running box mean of radius `r` along every row, edges clamped. */
function boxRows(src: Float32Array, out: Float32Array, width: number, height: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const last = width - 1;
  for (let y = 0; y < height; y++) {
    const base = y * width;
    let sum = 0;
    for (let k = -r; k <= r; k++) sum += src[base + (k < 0 ? 0 : k > last ? last : k)];
    for (let k = 0; k < width; k++) {
      out[base + k] = sum * norm;
      const add = k + r + 1;
      const drop = k - r;
      sum += src[base + (add > last ? last : add)] - src[base + (drop < 0 ? 0 : drop)];
    }
  }
}

let columnSums = new Float64Array(0);

/**
 * The same along every column, a row at a time (every column's running sum
 * kept side by side): walking down one column at a time touches a new cache
 * line per pixel. Each column's sums are added in the same order as boxRows'.
 */
function boxColumns(src: Float32Array, out: Float32Array, width: number, height: number, r: number): void {
  const norm = 1 / (2 * r + 1);
  const last = height - 1;
  if (columnSums.length < width) columnSums = new Float64Array(width);
  const sums = columnSums;
  sums.fill(0, 0, width);
  for (let k = -r; k <= r; k++) {
    const row = (k < 0 ? 0 : k > last ? last : k) * width;
    for (let x = 0; x < width; x++) sums[x] += src[row + x];
  }
  for (let y = 0; y < height; y++) {
    const base = y * width;
    const add = (y + r + 1 > last ? last : y + r + 1) * width;
    const drop = (y - r < 0 ? 0 : y - r) * width;
    for (let x = 0; x < width; x++) {
      out[base + x] = sums[x] * norm;
      sums[x] += src[add + x] - src[drop + x];
    }
  }
}

/** Two box passes each way (radius `r`): close to a Gaussian of sigma sqrt(r(r+1)/3 * 2 / 2). */
function blur(src: Float32Array, width: number, height: number, r: number): Float32Array {
  const a = new Float32Array(src.length);
  const b = new Float32Array(src.length);
  boxRows(src, a, width, height, r);
  boxRows(a, b, width, height, r);
  boxColumns(b, a, width, height, r);
  boxColumns(a, b, width, height, r);
  return b;
}

/** Harris response of every pixel of a plane, in JS: the fallback where WebAssembly is unavailable, and the tests' oracle. */
export function harrisJs(luma: Float32Array, width: number, height: number): Float32Array {
  const g = blur(luma, width, height, DERIVATIVE_RADIUS);
  const xx = new Float32Array(g.length);
  const yy = new Float32Array(g.length);
  const xy = new Float32Array(g.length);
  for (let y = 1; y < height - 1; y++) {
    for (let x = 1; x < width - 1; x++) {
      const i = y * width + x;
      const dx = (g[i + 1] - g[i - 1]) / 2;
      const dy = (g[i + width] - g[i - width]) / 2;
      xx[i] = dx * dx;
      yy[i] = dy * dy;
      xy[i] = dx * dy;
    }
  }
  const a = blur(xx, width, height, INTEGRATION_RADIUS);
  const b = blur(yy, width, height, INTEGRATION_RADIUS);
  const c = blur(xy, width, height, INTEGRATION_RADIUS);
  const r = new Float32Array(g.length);
  for (let i = 0; i < r.length; i++) {
    const trace = a[i] + b[i];
    r[i] = a[i] * b[i] - c[i] * c[i] - HARRIS_K * trace * trace;
  }
  return r;
}

interface HarrisExports {
  memory: WasmMemory;
  harris(luma: number, width: number, height: number, derivativeRadius: number, integrationRadius: number, k: number, g: number, tmp: number, xx: number, yy: number, xy: number, out: number, sums: number): void;
}

const makeHarris = wasmInstantiator(HARRIS_WASM_BASE64);
let harrisWasm: HarrisExports | null = null;

/**
 * harrisJs in WebAssembly (harris.wat), bit for bit: a query finds corners
 * at 4 scales, 16 box passes over each plane. One instance, its memory grown
 * to the largest plane yet.
 */
export function harris(luma: Float32Array, width: number, height: number): Float32Array {
  if (!makeHarris) return harrisJs(luma, width, height);
  harrisWasm ??= makeHarris() as HarrisExports;
  const { memory } = harrisWasm;
  const count = width * height;
  const plane = count * 4;
  // The luma, then g, tmp, xx, yy, xy and the response (planes), then the column sums.
  const sums = (7 * plane + 7) & ~7;
  const missing = sums + width * 8 - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / WASM_PAGE_BYTES));
  new Float32Array(memory.buffer, 0, count).set(luma.subarray(0, count));
  harrisWasm.harris(0, width, height, DERIVATIVE_RADIUS, INTEGRATION_RADIUS, HARRIS_K, plane, 2 * plane, 3 * plane, 4 * plane, 5 * plane, 6 * plane, sums);
  return new Float32Array(memory.buffer, 6 * plane, count).slice();
}

/** Offset (-0.5..0.5) of a parabola's peak through three samples. */
function peakOffset(left: number, centre: number, right: number): number {
  const curvature = left - 2 * centre + right;
  if (curvature >= 0) return 0;
  return Math.max(-0.5, Math.min(0.5, (left - right) / (2 * curvature)));
}

/**
 * The `max` strongest Harris corners of a plane, at least CORNER_SPACING
 * apart, to a fraction of a pixel, strongest first.
 */
export function findCorners(luma: Float32Array, width: number, height: number, max: number): Corner[] {
  const r = harris(luma, width, height);
  const candidates: number[] = [];
  for (let y = BORDER; y < height - BORDER; y++) {
    for (let x = BORDER; x < width - BORDER; x++) {
      const i = y * width + x;
      const v = r[i];
      if (v <= 0) continue;
      if (v < r[i - 1] || v < r[i + 1] || v < r[i - width] || v < r[i + width] || v < r[i - width - 1] || v < r[i - width + 1] || v < r[i + width - 1] || v < r[i + width + 1]) continue;
      candidates.push(i);
    }
  }
  candidates.sort((p, q) => r[q] - r[p]);
  const kept: Corner[] = [];
  const spacing2 = CORNER_SPACING * CORNER_SPACING;
  for (const i of candidates) {
    if (kept.length >= max) break;
    const x0 = i % width;
    const y0 = (i - x0) / width;
    const x = x0 + peakOffset(r[i - 1], r[i], r[i + 1]);
    const y = y0 + peakOffset(r[i - width], r[i], r[i + width]);
    if (kept.some((k) => (k.x - x) ** 2 + (k.y - y) ** 2 < spacing2)) continue;
    kept.push({ x, y, response: r[i] });
  }
  return kept;
}

/** A plane corners are found on: a rectangle of the frame box-sampled to `width` x `height`, `scale` plane pixels per frame pixel. */
export interface CornerPlane {
  luma: Float32Array;
  width: number;
  height: number;
  scale: number;
  /** Where the plane's origin is in the frame. */
  x: number;
  y: number;
}

/** `rect` of the frame (the whole frame by default) box-sampled so that its long side is `side` pixels. */
export function cornerPlane(image: IntegralImage, side: number, rect: Rect = { x: 0, y: 0, width: image.width, height: image.height }): CornerPlane {
  const scale = side / Math.max(rect.width, rect.height);
  const width = Math.max(1, Math.round(rect.width * scale));
  const height = Math.max(1, Math.round(rect.height * scale));
  const luma = image.grid(rect, width, height);
  return { luma, width, height, scale: width / rect.width, x: rect.x, y: rect.y };
}

/** Patch side as a multiple of the distance between its two corners. */
export const PATCH_RATIO = 1.25;
/** Corner distances (plane pixels at CORNER_SIDE) a patch is made from. */
export const PAIR_MIN = 0.16 * CORNER_SIDE;
export const PAIR_MAX = 0.5 * CORNER_SIDE;

/**
 * Patches (frame rectangles) of pairs of corners, strongest pairs first: each
 * pair at a distance in [PAIR_MIN, PAIR_MAX] plane pixels whose patch lies
 * inside the frame.
 */
export function pairPatches(corners: readonly Corner[], plane: Pick<CornerPlane, 'width' | 'height' | 'scale' | 'x' | 'y'>): Rect[] {
  const out: Rect[] = [];
  const w = plane.width;
  const h = plane.height;
  for (let j = 1; j < corners.length; j++) {
    for (let i = 0; i < j; i++) {
      const a = corners[i];
      const b = corners[j];
      const d = Math.hypot(a.x - b.x, a.y - b.y);
      if (d < PAIR_MIN || d > PAIR_MAX) continue;
      const side = d * PATCH_RATIO;
      const x = (a.x + b.x + 1) / 2 - side / 2;
      const y = (a.y + b.y + 1) / 2 - side / 2;
      if (x < 0 || y < 0 || x + side > w || y + side > h) continue;
      out.push({ x: plane.x + x / plane.scale, y: plane.y + y / plane.scale, width: side / plane.scale, height: side / plane.scale });
    }
  }
  return out;
}
