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

/** A line is flat when its luma's standard deviation stays under this (JPEG noise on a solid bar). */
const FLAT_SPREAD = 6;
/** A straight edge: this share of the line's pixels differ strongly from the line beyond. */
const EDGE_SHARE = 0.7;
const EDGE_STEP = 18;
/** Parts thinner than this share of their parent (or 24 px) are chrome, not photos. */
const MIN_PART = 0.12;
const MIN_PART_PX = 24;
const MAX_DEPTH = 3;
/** Splits into more parts than this are textures, not layout: their unions are not tried. */
const MAX_RUN_PARTS = 5;

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
  steps: Uint32Array;
  span: number;
}

function axisStats({ luma, width, height }: LumaPlane, axis: Axis): AxisStats {
  const lines = axis === 'rows' ? height : width;
  const span = axis === 'rows' ? width : height;
  const lineStride = axis === 'rows' ? width : 1;
  const along = axis === 'rows' ? 1 : width;
  const stride = span + 1;
  const sum = new Float64Array(lines * stride);
  const squares = new Float64Array(lines * stride);
  const steps = new Uint32Array(lines * stride);
  for (let line = 0; line < lines; line++) {
    const base = line * lineStride;
    const before = line > 0 && line + 1 < lines ? base - lineStride : -1;
    let s = 0;
    let q = 0;
    let n = 0;
    for (let k = 0; k < span; k++) {
      const v = luma[base + k * along];
      s += v;
      q += v * v;
      if (before >= 0 && Math.abs(luma[before + 2 * lineStride + k * along] - luma[before + k * along]) > EDGE_STEP) n++;
      const at = line * stride + k + 1;
      sum[at] = s;
      squares[at] = q;
      steps[at] = n;
    }
  }
  return { sum, squares, steps, span };
}

/** Per line across the rect (rows or columns): is it flat, and how edge-like is the step across it. */
function lineProfile(stats: PlaneStats, rect: IntRect, axis: Axis): { flat: Uint8Array; edge: Float32Array } {
  const { sum, squares, steps, span } = stats[axis];
  const stride = span + 1;
  const lines = axis === 'rows' ? rect.h : rect.w;
  const first = axis === 'rows' ? rect.y : rect.x;
  const from = axis === 'rows' ? rect.x : rect.y;
  const length = axis === 'rows' ? rect.w : rect.h;
  const flat = new Uint8Array(lines);
  const edge = new Float32Array(lines);
  for (let i = 0; i < lines; i++) {
    const a = (first + i) * stride + from;
    const b = a + length;
    const mean = (sum[b] - sum[a]) / length;
    const variance = (squares[b] - squares[a]) / length - mean * mean;
    flat[i] = variance <= FLAT_SPREAD * FLAT_SPREAD ? 1 : 0;
    if (i >= 1 && i + 1 < lines) edge[i] = (steps[b] - steps[a]) / length;
  }
  return { flat, edge };
}

interface IntRect {
  x: number;
  y: number;
  w: number;
  h: number;
}

/** Drops flat lines at both ends of each axis (bars, frames, margins). */
function trim(stats: PlaneStats, rect: IntRect): IntRect | null {
  let r = rect;
  for (const axis of ['rows', 'cols'] as const) {
    const { flat } = lineProfile(stats, r, axis);
    let start = 0;
    let end = flat.length;
    while (start < end && flat[start]) start++;
    while (end > start && flat[end - 1]) end--;
    if (end - start < MIN_PART_PX) return null;
    r = axis === 'rows' ? { ...r, y: r.y + start, h: end - start } : { ...r, x: r.x + start, w: end - start };
  }
  return r;
}

/** Where to cut along one axis: runs of flat lines and sharp straight edges, as [start, end) gaps. */
function cuts(stats: PlaneStats, rect: IntRect, axis: Axis): Array<[number, number]> {
  const { flat, edge } = lineProfile(stats, rect, axis);
  const gaps: Array<[number, number]> = [];
  for (let i = 0; i < flat.length; ) {
    if (!flat[i]) {
      i++;
      continue;
    }
    let j = i;
    while (j < flat.length && flat[j]) j++;
    gaps.push([i, j]);
    i = j;
  }
  for (let i = 2; i + 2 < edge.length; i++) {
    if (edge[i] >= EDGE_SHARE && edge[i] >= edge[i - 1] && edge[i] > edge[i + 1]) gaps.push([i, i + 1]);
  }
  return gaps.sort((a, b) => a[0] - b[0]);
}

/** The parts between cuts that are large enough to hold a photo. */
function split(stats: PlaneStats, rect: IntRect, axis: Axis): IntRect[] {
  const length = axis === 'rows' ? rect.h : rect.w;
  const minPart = Math.max(MIN_PART_PX, length * MIN_PART);
  const parts: IntRect[] = [];
  let start = 0;
  for (const [gapStart, gapEnd] of [...cuts(stats, rect, axis), [length, length] as [number, number]]) {
    if (gapStart - start >= minPart) {
      parts.push(axis === 'rows' ? { ...rect, y: rect.y + start, h: gapStart - start } : { ...rect, x: rect.x + start, w: gapStart - start });
    }
    start = Math.max(start, gapEnd);
  }
  return parts;
}

/**
 * Candidate photo rectangles of a captured image, largest first: the frame
 * with flat borders trimmed, then the parts found by cutting along flat bands
 * and straight edges, alternately across rows and columns, each trimmed again.
 * Parts under `minAreaShare` of the frame are left out.
 */
export function findPhotoRegions(plane: LumaPlane, minAreaShare = 0.08): Rect[] {
  const frameArea = plane.width * plane.height;
  const stats = new PlaneStats(plane);
  const found: IntRect[] = [];
  const record = (rect: IntRect): IntRect | null => {
    const trimmed = trim(stats, rect);
    if (!trimmed || trimmed.w * trimmed.h < frameArea * minAreaShare) return null;
    if (!found.some((r) => sameRect(r, trimmed))) found.push(trimmed);
    return trimmed;
  };
  const visit = (rect: IntRect, depth: number, axis: Axis) => {
    const trimmed = record(rect);
    if (!trimmed || depth === MAX_DEPTH) return;
    for (const first of [axis, other(axis)]) {
      const parts = split(stats, trimmed, first);
      if (parts.length > 1 || (parts.length === 1 && !sameRect(parts[0], trimmed))) {
        // A cut may run through the photo itself (a horizon, a door frame): runs of neighbouring parts are candidates too.
        if (parts.length <= MAX_RUN_PARTS) {
          for (let i = 0; i < parts.length; i++) for (let j = i + 1; j < parts.length; j++) record(span(parts[i], parts[j]));
        }
        for (const part of parts) visit(part, depth + 1, other(first));
        return;
      }
    }
  };
  visit({ x: 0, y: 0, w: plane.width, h: plane.height }, 0, 'rows');
  return found.sort((a, b) => b.w * b.h - a.w * a.h).map((r) => ({ x: r.x, y: r.y, width: r.w, height: r.h }));
}

/** The rectangle from the start of `a` to the end of `b` (parts of one split, in order). */
const span = (a: IntRect, b: IntRect): IntRect => ({ x: a.x, y: a.y, w: b.x + b.w - a.x, h: b.y + b.h - a.y });

const other = (axis: Axis): Axis => (axis === 'rows' ? 'cols' : 'rows');

/** Within 2% of each side: the same part for hashing purposes. */
function sameRect(a: IntRect, b: IntRect): boolean {
  const tolX = Math.max(2, 0.02 * Math.max(a.w, b.w));
  const tolY = Math.max(2, 0.02 * Math.max(a.h, b.h));
  return Math.abs(a.x - b.x) <= tolX && Math.abs(a.w - b.w) <= tolX && Math.abs(a.y - b.y) <= tolY && Math.abs(a.h - b.h) <= tolY;
}
