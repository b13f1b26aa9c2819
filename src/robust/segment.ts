/**
 * Where the photo is inside a captured image: reposts add letterbox bars,
 * frames, caption bars, chat-app chrome around a screenshot, or put the photo
 * in one cell of a collage. All of these meet the photo along straight lines
 * that run the full width or height of the part they border: a flat band
 * (bars, frames, gaps between cells) or a sharp straight edge (a caption bar or
 * a cell butting against the photo). This finds those lines by recursive XY
 * cuts over a luma plane and returns the rectangles they enclose.
 */
import type { Rect } from '../hashing/pdq-region.js';

/**
 * A line is flat (background, bar, gap) when few of its pixels differ from
 * their neighbour along it by more than BUSY_STEP (a sparse doodle on a chat
 * background or JPEG ringing stays under FLAT_BUSY_SHARE) and its luma's
 * standard deviation stays under FLAT_SPREAD (so a gradient is not flat).
 */
const BUSY_STEP = 12;
const FLAT_BUSY_SHARE = 0.03;
const FLAT_SPREAD = 8;
/** Trimming stops at a line whose mean strays this far from the outermost line's (a smooth sky under a dark bar). */
const TRIM_COLOUR_DRIFT = 12;
/** A straight edge: this share of the line's pixels differ strongly from the line beyond. */
const EDGE_SHARE = 0.7;
const EDGE_STEP = 18;
/** A ridge (isRidge): this share of the line's pixels step, this many times as many as 3-4 lines away. */
const RIDGE_SHARE = 0.4;
const RIDGE_RATIO = 2.5;
const RIDGE_SPAN = 4;
/**
 * Parts thinner than this share of their parent (or 24 px) are chrome, not
 * photos: a wide photo in a chat screenshot is under a tenth of the screen's
 * height, and a chat's header or input bar is thinner still.
 */
const MIN_PART = 0.05;
const MIN_PART_PX = 24;
const MAX_DEPTH = 3;
/** Cuts of the frame into rows (or columns) and of those into cells: the layout of a collage. */
const CELL_DEPTH = 2;
/** Splits with more cut boundaries than this are textures, not layout: spans between them are not tried. */
const MAX_BOUNDARIES = 16;
const BOUNDARY_MERGE = 3;
/** Equal layouts looked for (equalLayout): up to this many rows, or cells in a row, each seam within this share of the length. */
const MAX_EQUAL_CELLS = 5;
const EQUAL_TOLERANCE = 0.01;
/** Cells of the layout are kept down to this share of the frame (parts: see findPhotoRegions). */
const MIN_CELL_SHARE = 0.02;

export interface LumaPlane {
  luma: Float32Array;
  width: number;
  height: number;
}

type Axis = 'rows' | 'cols';

/**
 * Prefix sums along every row and every column of the plane (luma, squared
 * luma, and a count of strong steps across the line), so that any line
 * segment's mean, spread and edge share cost O(1) however often the
 * recursive cuts ask.
 */
class PlaneStats {
  readonly rows: AxisStats;
  readonly cols: AxisStats;
  constructor(plane: LumaPlane) {
    this.rows = axisStats(plane, 'rows');
    this.cols = axisStats(plane, 'cols');
  }
}

interface AxisStats {
  /** Per line, `span + 1` prefix values. */
  sum: Float64Array;
  squares: Float64Array;
  /** Strong steps across the line (from the line before to the line after). */
  steps: Uint32Array;
  /** Busy pixels along the line (a step to the next pixel on it). */
  busy: Uint32Array;
  span: number;
}

/** Prefix arrays reused from one image to the next (segmentation is synchronous); every cell a query reads is rewritten. */
const statsPool: Record<Axis, Omit<AxisStats, 'span'>> = {
  rows: { sum: new Float64Array(0), squares: new Float64Array(0), steps: new Uint32Array(0), busy: new Uint32Array(0) },
  cols: { sum: new Float64Array(0), squares: new Float64Array(0), steps: new Uint32Array(0), busy: new Uint32Array(0) },
};

function axisStats({ luma, width, height }: LumaPlane, axis: Axis): AxisStats {
  const lines = axis === 'rows' ? height : width;
  const span = axis === 'rows' ? width : height;
  const lineStride = axis === 'rows' ? width : 1;
  const along = axis === 'rows' ? 1 : width;
  const stride = span + 1;
  const size = lines * stride;
  const pool = statsPool[axis];
  if (pool.sum.length < size) {
    statsPool[axis] = { sum: new Float64Array(size), squares: new Float64Array(size), steps: new Uint32Array(size), busy: new Uint32Array(size) };
  }
  const { sum, squares, steps, busy } = statsPool[axis];
  for (let line = 0; line < lines; line++) {
    const base = line * lineStride;
    const before = line > 0 && line + 1 < lines ? base - lineStride : -1;
    let s = 0;
    let q = 0;
    let n = 0;
    let b = 0;
    const first = line * stride;
    sum[first] = squares[first] = steps[first] = busy[first] = 0;
    for (let k = 0; k < span; k++) {
      const v = luma[base + k * along];
      s += v;
      q += v * v;
      if (before >= 0 && Math.abs(luma[before + 2 * lineStride + k * along] - luma[before + k * along]) > EDGE_STEP) n++;
      if (k + 1 < span && Math.abs(luma[base + (k + 1) * along] - v) > BUSY_STEP) b++;
      const at = line * stride + k + 1;
      sum[at] = s;
      squares[at] = q;
      steps[at] = n;
      busy[at] = b;
    }
  }
  return { sum, squares, steps, busy, span };
}

/** Per line across the rect (rows or columns): is it flat, and how edge-like is the step across it. */
function lineProfile(stats: PlaneStats, rect: IntRect, axis: Axis): { flat: Uint8Array; edge: Float32Array; mean: Float32Array } {
  const { sum, squares, steps, busy, span } = stats[axis];
  const stride = span + 1;
  const lines = axis === 'rows' ? rect.h : rect.w;
  const first = axis === 'rows' ? rect.y : rect.x;
  const from = axis === 'rows' ? rect.x : rect.y;
  const length = axis === 'rows' ? rect.w : rect.h;
  const flat = new Uint8Array(lines);
  const edge = new Float32Array(lines);
  const means = new Float32Array(lines);
  for (let i = 0; i < lines; i++) {
    const a = (first + i) * stride + from;
    const b = a + length;
    const mean = (sum[b] - sum[a]) / length;
    const variance = (squares[b] - squares[a]) / length - mean * mean;
    means[i] = mean;
    // The last pixel of the segment has no step inside it.
    const busyCount = busy[b - 1] - busy[a];
    flat[i] = variance <= FLAT_SPREAD * FLAT_SPREAD && busyCount <= FLAT_BUSY_SHARE * length ? 1 : 0;
    if (i >= 1 && i + 1 < lines) edge[i] = (steps[b] - steps[a]) / length;
  }
  return { flat, edge, mean: means };
}

/**
 * A seam where two photos butt against each other with similar tones along
 * part of it: fewer of its pixels step than EDGE_SHARE asks, but far more
 * than across the lines a few pixels to either side, which a photo's own
 * texture or a soft edge would also cross. Only taken where it completes an
 * equal layout (see split): a watermark's letters make ridges too.
 */
function isRidge(edge: Float32Array, i: number): boolean {
  if (edge[i] < RIDGE_SHARE || i < RIDGE_SPAN || i + RIDGE_SPAN >= edge.length) return false;
  const around = Math.max(edge[i - RIDGE_SPAN], edge[i - RIDGE_SPAN + 1], edge[i + RIDGE_SPAN - 1], edge[i + RIDGE_SPAN]);
  return edge[i] >= RIDGE_RATIO * around;
}

interface IntRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Drops flat lines of the outermost line's colour at both ends of each axis given (bars, frames, margins). */
function trim(stats: PlaneStats, rect: IntRect, axes: readonly Axis[]): IntRect | null {
  let r = rect;
  for (const axis of axes) {
    const { flat, mean } = lineProfile(stats, r, axis);
    let start = 0;
    let end = flat.length;
    while (start < end && flat[start] && Math.abs(mean[start] - mean[0]) <= TRIM_COLOUR_DRIFT) start++;
    while (end > start && flat[end - 1] && Math.abs(mean[end - 1] - mean[flat.length - 1]) <= TRIM_COLOUR_DRIFT) end--;
    if (end - start < MIN_PART_PX) return null;
    r = axis === 'rows' ? { ...r, y: r.y + start, h: end - start } : { ...r, x: r.x + start, w: end - start };
  }
  return r;
}

/**
 * Where to cut along one axis, as [start, end) gaps: runs of flat lines (a
 * run ends where its colour jumps: a bubble's border, a dark sky under a dark
 * background) and sharp straight edges. An edge with another cut closer than
 * `minPart` on both sides is the photo's own texture (waves, stripes, a
 * fence), not a seam: a seam borders something as large as a photo on at
 * least one side. Such edges would chop a small photo into slices too thin
 * to keep.
 */
function cuts(stats: PlaneStats, rect: IntRect, axis: Axis, minPart: number, ridges: boolean): Array<[number, number]> {
  const { flat, edge, mean } = lineProfile(stats, rect, axis);
  const gaps: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; ) {
    if (!flat[i]) {
      i++;
      continue;
    }
    let j = i + 1;
    while (j < flat.length && flat[j] && Math.abs(mean[j] - mean[j - 1]) <= TRIM_COLOUR_DRIFT) j++;
    gaps.push([i, j]);
    i = j;
  }
  const edges: number[] = [];
  for (let i = 2; i + 2 < edge.length; i++) {
    if (edge[i] >= edge[i - 1] && edge[i] > edge[i + 1] && (edge[i] >= EDGE_SHARE || (ridges && isRidge(edge, i)))) edges.push(i);
  }
  const flatGaps = gaps.slice();
  for (const [k, i] of edges.entries()) {
    const before = Math.max(0, ...flatGaps.filter(([, end]) => end <= i).map(([, end]) => end), k > 0 ? edges[k - 1] + 1 : 0);
    const after = Math.min(flat.length, ...flatGaps.filter(([start]) => start > i).map(([start]) => start), k + 1 < edges.length ? edges[k + 1] : flat.length);
    if (i - before >= minPart || after - (i + 1) >= minPart) gaps.push([i, i + 1]);
  }
  return gaps.sort((a, b) => a[0] - b[0]);
}

interface Split {
  /** The parts between cuts that are large enough to hold a photo. */
  parts: IntRect[];
  /** Every place a cut starts or ends, with both ends of the rect. */
  boundaries: number[];
}

/**
 * Cuts of a layout: where a collage app puts its seams (k equal rows, or k
 * equal cells in a row), when every one of them is among the cuts found. A
 * straight edge of a photo's own (a wall, a box) is a cut too, and would
 * split its cell into pieces none of which is the photo; with the seams of an
 * equal layout found, the cells between them are the parts instead.
 */
function equalLayout(gaps: Array<[number, number]>, length: number): Array<[number, number]> | null {
  const tolerance = Math.max(2, length * EQUAL_TOLERANCE);
  for (let k = MAX_EQUAL_CELLS; k >= 2; k--) {
    const seams: Array<[number, number]> = [];
    for (let j = 1; j < k; j++) {
      const at = (j * length) / k;
      // A seam's cuts: a gap and the edges along its sides are one seam.
      const near = gaps.filter(([start, end]) => start - tolerance <= at && at <= end + tolerance);
      if (near.length === 0) break;
      seams.push([Math.min(...near.map(([start]) => start)), Math.max(...near.map(([, end]) => end))]);
    }
    if (seams.length === k - 1) return seams;
  }
  return null;
}

function split(stats: PlaneStats, rect: IntRect, axis: Axis, depth: number): Split {
  const length = axis === 'rows' ? rect.h : rect.w;
  const minPart = Math.max(MIN_PART_PX, length * MIN_PART);
  const parts: IntRect[] = [];
  const boundaries = new Set([0, length]);
  let gaps = cuts(stats, rect, axis, minPart, false);
  // The frame's own layout (its rows, a row's cells): a ridge counts only as a seam that completes an equal layout.
  const seams = depth < CELL_DEPTH ? (equalLayout(gaps, length) ?? equalLayout(cuts(stats, rect, axis, minPart, true), length)) : null;
  if (seams) gaps = [...gaps, ...seams].sort((a, b) => a[0] - b[0]);
  for (const [gapStart, gapEnd] of gaps) boundaries.add(gapStart).add(gapEnd);
  let start = 0;
  for (const [gapStart, gapEnd] of [...((depth === CELL_DEPTH - 1 && seams) || gaps), [length, length] as [number, number]]) {
    if (gapStart - start >= minPart) parts.push(slice(rect, axis, start, gapStart));
    start = Math.max(start, gapEnd);
  }
  // Cuts a few lines apart (a border and the run beside it) are one place to start or end a span.
  const merged: number[] = [];
  for (const b of [...boundaries].sort((x, y) => x - y)) {
    if (merged.length === 0 || b - merged[merged.length - 1] > BOUNDARY_MERGE || b === length) merged.push(b);
  }
  return { parts, boundaries: merged };
}

/** Lines [from, to) of the rect along the axis. */
function slice(rect: IntRect, axis: Axis, from: number, to: number): IntRect {
  return axis === 'rows' ? { ...rect, y: rect.y + from, h: to - from } : { ...rect, x: rect.x + from, w: to - from };
}

/** Busy pixels per pixel of the rect: photos are dense with detail, backgrounds and bars are not. */
function busyDensity(stats: PlaneStats, rect: IntRect): number {
  const { busy, span } = stats.rows;
  const stride = span + 1;
  let count = 0;
  for (let y = rect.y; y < rect.y + rect.h; y++) count += busy[y * stride + rect.x + rect.w - 1] - busy[y * stride + rect.x];
  return count / (rect.w * rect.h);
}

export interface PhotoRegions {
  /** The frame with its flat borders trimmed away. */
  trimmed: Rect;
  /** Candidate photo rectangles, most photo-like first (dense with detail, then large). */
  parts: Rect[];
  /**
   * The cells of the frame's layout (a collage's cells, a screenshot's
   * photo): the parts of its first two levels of cuts, rows then the cells
   * of a row, largest first; empty when the frame is not cut into several.
   */
  cells: Rect[];
}

/**
 * Candidate photo rectangles of a captured image: the frame with flat
 * borders trimmed, then the parts found by cutting along flat bands and
 * straight edges, alternately across rows and columns, each trimmed again,
 * and every span between two cuts of one split (a cut may run through the
 * photo itself: a horizon, a dark sky meeting a dark background).
 * Parts under `minAreaShare` of the frame are left out, and cells under
 * MIN_CELL_SHARE: a collage of 7 to 9 photos in three rows has cells of 4-8%
 * of its area, and a chat screenshot shows a landscape photo on about as much.
 */
export function findPhotoRegions(plane: LumaPlane, minAreaShare = 0.08): PhotoRegions {
  const frameArea = plane.width * plane.height;
  const stats = new PlaneStats(plane);
  const found: IntRect[] = [];
  const leaves: IntRect[] = [];
  const smallest = Math.min(minAreaShare, MIN_CELL_SHARE);
  const add = (rect: IntRect | null): IntRect | null => {
    if (!rect || rect.w * rect.h < frameArea * smallest) return null;
    if (!found.some((r) => sameRect(r, rect))) found.push(rect);
    return rect;
  };
  const visit = (rect: IntRect, depth: number, axis: Axis) => {
    const trimmed = add(trim(stats, rect, ['rows', 'cols']));
    if (!trimmed) return;
    // A cell: a part of the frame's own layout (rows, then the cells of a row),
    // whatever cuts divide it further; as cut and as trimmed (a photo's own flat sky or wall trims away).
    if (depth === CELL_DEPTH) leaves.push(rect, trimmed);
    if (depth === MAX_DEPTH) return;
    for (const first of [axis, other(axis)]) {
      const { parts, boundaries } = split(stats, trimmed, first, depth);
      if (parts.length > 1 || (parts.length === 1 && !sameRect(parts[0], trimmed))) {
        if (boundaries.length <= MAX_BOUNDARIES) {
          const length = first === 'rows' ? trimmed.h : trimmed.w;
          const minPart = Math.max(MIN_PART_PX, length * MIN_PART);
          for (let i = 0; i < boundaries.length; i++) {
            for (let j = i + 1; j < boundaries.length; j++) {
              if (boundaries[j] - boundaries[i] < minPart || (i === 0 && j === boundaries.length - 1)) continue;
              add(trim(stats, slice(trimmed, first, boundaries[i], boundaries[j]), [other(first)]));
            }
          }
        }
        for (const part of parts) visit(part, depth + 1, other(first));
        return;
      }
    }
    if (depth > 0 && depth < CELL_DEPTH) leaves.push(trimmed);
  };
  visit({ x: 0, y: 0, w: plane.width, h: plane.height }, 0, 'rows');
  const toRect = (r: IntRect): Rect => ({ x: r.x, y: r.y, width: r.w, height: r.h });
  const frame = { x: 0, y: 0, w: plane.width, h: plane.height };
  const scored = found.filter((r) => r.w * r.h >= frameArea * minAreaShare).map((r) => ({ r, score: busyDensity(stats, r) ** 2 * r.w * r.h }));
  scored.sort((a, b) => b.score - a.score);
  const cells = leaves.filter((r, i) => r.w * r.h >= frameArea * MIN_CELL_SHARE && leaves.findIndex((o) => sameRect(o, r)) === i).sort((a, b) => b.w * b.h - a.w * a.h);
  const outer = found[0] && found[0].w * found[0].h >= frameArea * minAreaShare ? found[0] : frame;
  return { trimmed: toRect(outer), parts: scored.map((s) => toRect(s.r)), cells: cells.length > 1 ? cells.map(toRect) : [] };
}

const other = (axis: Axis): Axis => (axis === 'rows' ? 'cols' : 'rows');

/** Within 2% of each side: the same part for hashing purposes. */
function sameRect(a: IntRect, b: IntRect): boolean {
  const tolX = Math.max(2, 0.02 * Math.max(a.w, b.w));
  const tolY = Math.max(2, 0.02 * Math.max(a.h, b.h));
  return Math.abs(a.x - b.x) <= tolX && Math.abs(a.w - b.w) <= tolX && Math.abs(a.y - b.y) <= tolY && Math.abs(a.h - b.h) <= tolY;
}
