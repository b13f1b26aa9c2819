/**
 * Which regions of an image get a region hash, on each side of a match.
 *
 * Captured content (ingest) stores a few: the whole frame, the photo parts
 * found inside it (borders, caption bars, screenshot chrome and collage seams
 * cut away) and the quadrants and thirds (strips across and down) of the
 * trimmed frame, then its ninths: a collage cell is a quadrant, and stickers
 * or a watermark spoil the whole but leave some of these clean.
 * A victim's query (her own original) is hashed many ways instead, because it
 * is the copy that was cut: crops with uneven edges on a grid, centred crops
 * at several scales, small rotations with the corners cropped away, and its
 * own quadrants, thirds and ninths. Query hashes are never stored, so their number
 * costs time, not index entries.
 */
import { withinDistance } from '../hashing/hamming.js';
import { PDQ_MIN_QUALITY } from '../hashing/pdq.js';
import type { Raster } from '../hashing/signal-type.js';
import { stretchContrast } from '../hashing/pdq-norm.js';
import { IntegralImage, type Rect, REGION_KINDS, type RegionHash, type RegionKind, fullFrame, hasAlphaChannel, hashGrid, hashRegion, workingLuma } from '../hashing/pdq-region.js';
import { type Orientation, orientPlane, uprightPoint } from './orientation.js';
import { CORNER_SIDE, cornerPlane, findCorners, pairPatches } from './keypoints.js';
import { findStickers, paintOver, type StickerBox } from './stickers.js';
import { type PhotoRegions, findPhotoRegions } from './segment.js';

export { REGION_KINDS, type RegionKind };

export interface RegionSignal {
  hash: Uint8Array;
  quality: number;
  kind: RegionKind;
  /** The query frame's DCT, from which the Matcher derives its 8 rotations and mirrors. */
  dct?: Float32Array;
}

/** Sides of the plane segmentation looks at (short side at least, long side at most): seams survive, work stays small. */
const SEGMENT_SHORT_SIDE = 256;
const SEGMENT_LONG_SIDE = 512;
const MAX_PARTS = 6;
/** Parts kept before a collage's cells. */
const FIRST_PARTS = 3;
/** A collage of up to 9 photos keeps every cell (as cut, and trimmed where that differs). */
const MAX_CELLS = 12;
/** Patches placed by pairs of corners (keypoints.ts) a captured image keeps, from its strongest corners. */
const CONTENT_PATCHES = 8;
const CONTENT_CORNERS = 8;
/** Corners looked for besides, in case stickers take some. */
const MAX_STICKER_CORNERS = 8;
/**
 * A query's corners per scale, and the scales (of the captured image's corner
 * plane): a repost cropped to 0.65 of an axis shows its content 1.5 times
 * larger, so the query looks for corners at up to that scale.
 */
const QUERY_CORNERS = 24;
const QUERY_CORNER_SCALES = [1, 1.15, 1.32, 1.52];
/** With the image's PDQ hash, at most 32 index entries per captured image: up to 8 corner patches, regions chosen by layout in the rest, then the ninths. */
export const MAX_CONTENT_REGIONS = 23 + CONTENT_PATCHES;
/**
 * Captured content keeps photo parts down to this share of its frame: a chat
 * screenshot shows a landscape photo on a few per cent of a tall screen, and
 * the most photo-like parts are kept first whatever their size.
 */
const CONTENT_MIN_PART = 0.02;
/** Region hashes closer than this to one already kept add nothing. */
const DUPLICATE_DISTANCE = 8;

/** Every region hash kept is at least this good: flat regions match anything. */
const REGION_MIN_QUALITY = PDQ_MIN_QUALITY;

function keep(out: RegionSignal[], image: IntegralImage, rect: Rect, kind: RegionKind): void {
  keepHash(out, hashRegion(image, rect), kind);
}

function keepHash(out: RegionSignal[], { hash, quality }: RegionHash, kind: RegionKind): RegionSignal | undefined {
  if (quality < REGION_MIN_QUALITY) return undefined;
  if (out.some((s) => withinDistance(s.hash, hash, DUPLICATE_DISTANCE))) return undefined;
  const signal: RegionSignal = { hash, quality, kind };
  out.push(signal);
  return signal;
}

/** Quadrants and thirds (3 strips across, 3 down) of a rectangle, through `add` (default: kept). */
function quadrantsAndStrips(out: RegionSignal[], image: IntegralImage, r: Rect, add = (from: IntegralImage, rect: Rect, kind: RegionKind) => keep(out, from, rect, kind)): void {
  const keep = add;
  const half = { width: r.width / 2, height: r.height / 2 };
  for (let i = 0; i < 2; i++) {
    for (let j = 0; j < 2; j++) keep(image, { x: r.x + j * half.width, y: r.y + i * half.height, ...half }, 'quadrant');
  }
  const third = { width: r.width / 3, height: r.height / 3 };
  for (let k = 0; k < 3; k++) {
    keep(image, { x: r.x, y: r.y + k * third.height, width: r.width, height: third.height }, 'strip');
    keep(image, { x: r.x + k * third.width, y: r.y, width: third.width, height: r.height }, 'strip');
  }
}

/**
 * The ninths of a rectangle (a 3 x 3 grid): stickers spread over a photo, or
 * a large watermark's letters, spoil every quadrant and third but often leave
 * a ninth clean. Content keeps them last, while there is room.
 */
function ninths(r: Rect, add: (rect: Rect) => void): void {
  const third = { width: r.width / 3, height: r.height / 3 };
  for (let i = 0; i < 3; i++) {
    for (let j = 0; j < 3; j++) add({ x: r.x + j * third.width, y: r.y + i * third.height, ...third });
  }
}

/**
 * What captured content takes ninths of: the trimmed frame when it is one
 * photo, the photo part inside it when it is not (a screenshot's, captioned
 * or bordered photo, at least PATCH_PART_MIN of the frame), or nothing: the
 * ninths of a screen are its flat chrome, which comes close to any flat
 * region of another photo.
 */
function ninthsBase(frame: Rect, trimmed: Rect, parts: readonly Rect[]): Rect | undefined {
  const photo = parts[0];
  if (!photo || areaOf(photo) >= PATCH_PART_MAX * areaOf(trimmed)) return trimmed;
  return areaOf(photo) >= PATCH_PART_MIN * areaOf(frame) ? photo : undefined;
}

/** The photo rectangles of the frame (see findPhotoRegions: parts down to `minPartShare` of it), in frame pixels. */
export function photoRegions(image: IntegralImage, minPartShare?: number): PhotoRegions {
  const scale = Math.min(1, Math.max(SEGMENT_SHORT_SIDE / Math.min(image.width, image.height), 0), SEGMENT_LONG_SIDE / Math.max(image.width, image.height));
  const width = Math.max(1, Math.round(image.width * scale));
  const height = Math.max(1, Math.round(image.height * scale));
  const luma = image.grid(fullFrame(image), width, height);
  const sx = image.width / width;
  const sy = image.height / height;
  const toFrame = (r: Rect): Rect => ({ x: r.x * sx, y: r.y * sy, width: r.width * sx, height: r.height * sy });
  const { trimmed, parts, cells } = findPhotoRegions({ luma, width, height }, minPartShare);
  return { trimmed: toFrame(trimmed), parts: parts.map(toFrame), cells: cells.map(toFrame) };
}

/**
 * The raster's working luma (see workingLuma) as a viewer sees it: turned and
 * mirrored by its EXIF orientation. Region hashes are taken from the upright
 * image: a phone's portrait photo is stored as landscape pixels tagged 6, and
 * its reposts are re-encoded upright, so a crop of one meets a crop of the
 * other only in that orientation.
 */
export function uprightLuma(raster: Raster, orientation: Orientation = 1): { luma: Float32Array; width: number; height: number } {
  const { luma, width, height } = stretchedLuma(raster);
  return orientPlane(luma, width, height, orientation);
}

/**
 * The working luma with the image's contrast stretched (its 1st to 99th
 * percentile to 0-255, see pdq-norm.ts): region bits do not change with the
 * grey levels' scale, but their quality does, and a photo taken in dim light
 * would otherwise keep no region at all. Quality is thus judged against the
 * photo's own range, on both sides.
 */
function stretchedLuma(raster: Raster, background?: number): { luma: Float32Array; width: number; height: number } {
  // workingLuma makes a new plane every time: stretched in place.
  const plane = workingLuma(raster, undefined, background);
  return { ...plane, luma: stretchContrast(plane.luma, undefined, plane.luma) };
}

/** A sticker box of the stored frame in the upright frame. */
function uprightBox(box: StickerBox, orientation: Orientation): StickerBox {
  const [ax, ay] = uprightPoint(box.x0, box.y0, orientation);
  const [bx, by] = uprightPoint(box.x1, box.y1, orientation);
  return { x0: Math.min(ax, bx), y0: Math.min(ay, by), x1: Math.max(ax, bx), y1: Math.max(ay, by) };
}

/** Share of the frame a photo part must be under to get patches of its own (a screenshot's or captioned photo), and over. */
const PATCH_PART_MAX = 0.9;
const PATCH_PART_MIN = 0.1;
/** Of CONTENT_PATCHES, this many are left for such a part (on a plane of its own size: a screenshot shows the photo small). */
const PART_PATCHES = 3;
/** Sticker boxes are widened by this share of the frame before corners in them are dropped. */
const STICKER_MARGIN = 0.02;

const areaOf = (r: Rect) => r.width * r.height;

/** Whether a frame point is on a sticker box, widened by STICKER_MARGIN. */
function onSticker(x: number, y: number, frame: Rect, stickers: readonly StickerBox[]): boolean {
  const u = x / frame.width;
  const v = y / frame.height;
  const m = STICKER_MARGIN;
  return stickers.some((b) => u > b.x0 - m && u < b.x1 + m && v > b.y0 - m && v < b.y1 + m);
}

/**
 * Patches of pairs of the strongest corners (see keypoints.ts), at most
 * CONTENT_PATCHES: of the frame, then of the photo part found inside it, if
 * any (its corners, not a caption's letters or a screenshot's buttons, at
 * the part's own scale). Corners on stickers are left out (patches over
 * them are not: the photo's own bright colours are often taken for stickers).
 */
function contentPatches(out: RegionSignal[], image: IntegralImage, parts: readonly Rect[], stickers: readonly StickerBox[]): void {
  const frame = fullFrame(image);
  const part = parts.find((r) => areaOf(r) < PATCH_PART_MAX * areaOf(frame) && areaOf(r) > PATCH_PART_MIN * areaOf(frame));
  const bases: Array<[Rect, number]> = part ? [[frame, CONTENT_PATCHES - PART_PATCHES], [part, CONTENT_PATCHES]] : [[frame, CONTENT_PATCHES]];
  let kept = 0;
  for (const [base, upTo] of bases) {
    const plane = cornerPlane(image, CORNER_SIDE, base);
    const corners = findCorners(plane.luma, plane.width, plane.height, CONTENT_CORNERS + MAX_STICKER_CORNERS)
      .filter((c) => !onSticker(plane.x + (c.x + 0.5) / plane.scale, plane.y + (c.y + 0.5) / plane.scale, frame, stickers))
      .slice(0, CONTENT_CORNERS);
    for (const rect of pairPatches(corners, plane)) {
      if (kept >= upTo) break;
      if (keepHash(out, hashRegion(image, rect), 'patch')) kept++;
    }
  }
}

/** A query's patches of pairs of corners, at each of QUERY_CORNER_SCALES (a cropped repost shows its content larger). */
function* queryPatchSteps(out: RegionSignal[], image: IntegralImage, step: () => boolean): Generator<void> {
  for (const scale of QUERY_CORNER_SCALES) {
    const plane = cornerPlane(image, CORNER_SIDE * scale);
    for (const rect of pairPatches(findCorners(plane.luma, plane.width, plane.height, QUERY_CORNERS), plane)) {
      keep(out, image, rect, 'patch');
      if (step()) yield;
    }
  }
}

/**
 * Region hashes stored for one captured image (at most MAX_CONTENT_REGIONS),
 * from its upright image (`orientation`: its EXIF orientation).
 */
export function contentRegions(raster: Raster, orientation: Orientation = 1): RegionSignal[] {
  const { luma, width, height } = uprightLuma(raster, orientation);
  const image = new IntegralImage(luma, width, height);
  const out: RegionSignal[] = [];
  const add = (from: IntegralImage, rect: Rect, kind: RegionKind) => {
    if (out.length < MAX_CONTENT_REGIONS) keep(out, from, rect, kind);
  };

  add(image, fullFrame(image), 'frame');
  const stickers = findStickers(raster).map((box) => uprightBox(box, orientation));
  const { trimmed, parts, cells } = photoRegions(image, CONTENT_MIN_PART);
  contentPatches(out, image, parts, stickers);
  // Stickers painted over: the frame once more first, its quadrants last.
  const cleaned = stickers.length > 0 ? new IntegralImage(paintOver(luma, width, height, stickers), width, height) : undefined;
  if (cleaned) add(cleaned, fullFrame(cleaned), 'frame');
  // The most photo-like parts first (a screenshot's photo), then a collage's cells, every one: the photo may be any of them.
  for (const part of parts.slice(0, FIRST_PARTS)) add(image, part, 'part');
  for (const cell of cells.slice(0, MAX_CELLS)) add(image, cell, 'part');
  for (const part of parts.slice(FIRST_PARTS, MAX_PARTS)) add(image, part, 'part');
  quadrantsAndStrips(out, image, trimmed, add);
  if (cleaned) {
    const half = { width: width / 2, height: height / 2 };
    for (let k = 0; k < 4; k++) add(cleaned, { x: (k % 2) * half.width, y: (k >> 1) * half.height, ...half }, 'quadrant');
  }
  const photo = ninthsBase(fullFrame(image), trimmed, parts);
  if (photo) ninths(photo, (rect) => add(image, rect, 'ninth'));
  return out;
}

/** Fractions cut from each edge, tried for uneven crops. */
const EDGE_STEP = 0.02;
const EDGE_MAX = 0.1;
const EDGE_SUM_MAX = 0.11;
/**
 * Side scales of centred crops, each axis on its own (a collage cell or a
 * square thumbnail cuts one axis far more than the other); pairs the edge
 * grid already covers are left out.
 */
const CENTRED_SCALES = [0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85, 0.9, 0.95, 1];
/**
 * A photo cropped to fill a collage cell of another shape loses a centred
 * band of one axis only: those crops also halfway between the scales above.
 */
const ONE_AXIS_SCALES = [0.725, 0.775, 0.825, 0.875, 0.925, 0.975];
const CENTRED_PAIRS = [
  ...CENTRED_SCALES.flatMap((sx) => CENTRED_SCALES.filter((sy) => Math.min(sx, sy) < 0.9).map((sy) => [sx, sy] as const)),
  ...ONE_AXIS_SCALES.flatMap((s) => [[s, 1] as const, [1, s] as const]),
];
/** Degrees, both directions; with the corners cropped away at these scales of the largest clean rectangle. */
const ROTATION_DEGREES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15];
const ROTATION_SCALES = [0.98, 0.93];

function edgePairs(step: number): Array<[number, number]> {
  const pairs: Array<[number, number]> = [];
  const steps = Math.floor(EDGE_MAX / step + 1e-9);
  for (let a = 0; a <= steps; a++) {
    for (let b = 0; b <= steps; b++) {
      if ((a + b) * step <= EDGE_SUM_MAX + 1e-9) pairs.push([a * step, b * step]);
    }
  }
  return pairs;
}
const EDGE_PAIRS = edgePairs(EDGE_STEP);
/**
 * Part of that grid, the uneven crops a query hashes: the cuts in 4% steps,
 * and those that sum to 10% (143 crops of its 440). Crops past a few per
 * cent are found by the patches of corners, which the fine grid only
 * repeated for the smallest.
 */
const onGrid = (x: number, step: number) => Math.abs(x / step - Math.round(x / step)) < 1e-6;
const COARSE_EDGE_PAIRS = EDGE_PAIRS.filter(([a, b]) => (onGrid(a, 0.04) && onGrid(b, 0.04)) || Math.abs(a + b - 0.1) < 1e-6);

/**
 * Crops of one edge only, past the grid above: what is left of a photo whose
 * top or bottom a caption bar or a viewer's toolbar covers, once captured
 * content cuts its part along the bar's edge. One unknown, so a fine step.
 */
const ONE_EDGE_CUTS = Array.from({ length: 13 }, (_, i) => 0.12 + 0.02 * i);

export interface QueryRegionOptions {
  /** The image's EXIF orientation: regions are taken from the upright image. */
  orientation?: Orientation;
  /**
   * With an orientation other than 1, also hash the regions of the image as
   * stored (see STORED_VIEW): a repost made by a tool that ignored the tag
   * and dropped it (a bot that adds a watermark, say) shows the stored
   * pixels, sideways. On by default.
   */
  stored?: boolean;
}

/**
 * Region hashes of a victim's query image (her original): many crops and
 * small rotations of the whole frame. A photo found inside it (her original
 * may itself be a screenshot or have borders) adds its own hash and centred
 * crops. Taken from the upright image, and when that differs from the
 * stored one, from the stored image too (see QueryRegionOptions). An image
 * with transparent parts is also hashed flattened on white and on black
 * (where that differs from its colours as stored): reposts are JPEGs, and
 * converters either drop the alpha (the colours as stored, which PDQ and the
 * first view take), or composite over white (browsers, chat apps) or black
 * (libvips' default).
 */
export function queryRegions(raster: Raster, options: QueryRegionOptions = {}): RegionSignal[] {
  const out: RegionSignal[] = [];
  for (const _ of queryRegionSteps(raster, options, out));
  return out;
}

/** queryRegions with `pause()` awaited every few dozen hashes, so a server keeps serving others meanwhile. */
export async function queryRegionsInSlices(raster: Raster, pause: () => Promise<void>, options: QueryRegionOptions = {}): Promise<RegionSignal[]> {
  const out: RegionSignal[] = [];
  for (const _ of queryRegionSteps(raster, options, out)) await pause();
  return out;
}

/** Hashes per step of queryRegionSteps. */
const STEP_HASHES = 64;

function* queryRegionSteps(raster: Raster, { orientation = 1, stored = true }: QueryRegionOptions, out: RegionSignal[]): Generator<void> {
  const stepper = { taken: 0 };
  const view = (plane: { luma: Float32Array; width: number; height: number }) => new IntegralImage(plane.luma, plane.width, plane.height);
  const working = stretchedLuma(raster);
  yield* viewRegionSteps(view(orientPlane(working.luma, working.width, working.height, orientation)), FULL_VIEW, out, stepper);
  if (stored && orientation !== 1) yield* viewRegionSteps(view(working), STORED_VIEW, out, stepper);
  for (const background of flattenBackgrounds(raster)) {
    const flat = stretchedLuma(raster, background);
    yield* viewRegionSteps(view(orientPlane(flat.luma, flat.width, flat.height, orientation)), FLATTENED_VIEW, out, stepper);
  }
}

type EdgePairs = ReadonlyArray<readonly [number, number]>;

/** Which regions of a view are hashed. */
interface ViewPlan {
  /** The frame (with its DCT, so its 8 turns and mirrors are searched). */
  frame: boolean;
  /** A photo found inside the frame, with its centred crops. */
  inner: boolean;
}
/** The upright image: everything. */
const FULL_VIEW: ViewPlan = { frame: true, inner: true };
/**
 * The image as stored, when its orientation turns it: its crops, patches
 * and rotations, no frame (it is among the upright frame's turns) and no
 * inner photo (a screenshot or framed original is rarely also tagged).
 */
const STORED_VIEW: ViewPlan = { frame: false, inner: false };
/**
 * The image flattened on white or black, when it is transparent: everything,
 * as for a new image (a cut-out on flat white loses fine detail to the
 * coarse grid). A client sending its hashes leaves some out (see signals.ts).
 */
const FLATTENED_VIEW: ViewPlan = FULL_VIEW;

/** Share of pixels at least this transparent (alpha at most TRANSPARENT_ALPHA) for the flattened views. */
const TRANSPARENT_ALPHA = 250;
const TRANSPARENT_MIN_SHARE = 0.01;
/** A flattened view is skipped when it differs from the colours as stored by less than this (mean grey levels). */
const FLATTEN_MIN_CHANGE = 0.5;

/**
 * Grey levels (255 white, 0 black) the query is also flattened on: none
 * unless at least 1% of its pixels are transparent, and only those that
 * change the image (the colours under transparent pixels are often already
 * black or white). Sampled on every 4th pixel.
 */
export function flattenBackgrounds(raster: Raster): number[] {
  if (!hasAlphaChannel(raster)) return [];
  const { channels, data } = raster;
  const pixels = raster.width * raster.height;
  let sampled = 0;
  let transparent = 0;
  let toWhite = 0;
  let toBlack = 0;
  for (let i = 0; i < pixels; i += 4, sampled++) {
    const p = i * channels;
    const alpha = data[p + channels - 1];
    if (alpha === 255) continue;
    if (alpha <= TRANSPARENT_ALPHA) transparent++;
    const luma = channels === 2 ? data[p] : 0.299 * data[p] + 0.587 * data[p + 1] + 0.114 * data[p + 2];
    const clear = 1 - alpha / 255;
    toWhite += clear * (255 - luma);
    toBlack += clear * luma;
  }
  if (transparent < TRANSPARENT_MIN_SHARE * sampled) return [];
  return [
    [255, toWhite],
    [0, toBlack],
  ]
    .filter(([, change]) => change / sampled >= FLATTEN_MIN_CHANGE)
    .map(([background]) => background);
}

/** The query regions of one view of the image (see ViewPlan). */
function* viewRegionSteps(image: IntegralImage, plan: ViewPlan, out: RegionSignal[], stepper: { taken: number }): Generator<void> {
  const frame = fullFrame(image);
  const step = () => ++stepper.taken % STEP_HASHES === 0;
  if (plan.frame) {
    // The frame carries its DCT, so that its rotations and flips are searched too.
    const frameHash = hashRegion(image, frame);
    const frameSignal = keepHash(out, frameHash, 'frame');
    if (frameSignal) frameSignal.dct = frameHash.dct;
  }
  const crops = function* (across: EdgePairs, down: EdgePairs) {
    for (const [left, right] of across) {
      for (const [top, bottom] of down) {
        if (left + right + top + bottom === 0) continue;
        keep(out, image, inset(frame, left, right, top, bottom), 'crop');
        if (step()) yield;
      }
    }
  };
  yield* crops(COARSE_EDGE_PAIRS, COARSE_EDGE_PAIRS);
  for (const cut of ONE_EDGE_CUTS) {
    for (const edge of [0, 1, 2, 3]) {
      keep(out, image, inset(frame, edge === 0 ? cut : 0, edge === 1 ? cut : 0, edge === 2 ? cut : 0, edge === 3 ? cut : 0), 'crop');
      if (step()) yield;
    }
  }
  yield* queryPatchSteps(out, image, step);
  quadrantsAndStrips(out, image, frame);
  ninths(frame, (rect) => keep(out, image, rect, 'ninth'));
  const inner = plan.inner ? photoRegions(image).parts.find((r) => r.width * r.height < 0.9 * frame.width * frame.height) : undefined;
  for (const base of inner ? [frame, inner] : [frame]) {
    if (base === inner) keep(out, image, base, 'part');
    for (const [sx, sy] of CENTRED_PAIRS) {
      keep(out, image, inset(base, (1 - sx) / 2, (1 - sx) / 2, (1 - sy) / 2, (1 - sy) / 2), 'crop');
      if (step()) yield;
    }
  }
  for (const degrees of ROTATION_DEGREES) {
    for (const sign of [1, -1]) {
      for (const scale of ROTATION_SCALES) {
        keepRotated(out, image, frame, (sign * degrees * Math.PI) / 180, scale);
        if (step()) yield;
      }
    }
  }
}

/** `base` with the given fractions of its width and height cut from each edge. */
function inset(base: Rect, left: number, right: number, top: number, bottom: number): Rect {
  return {
    x: base.x + left * base.width,
    y: base.y + top * base.height,
    width: base.width * (1 - left - right),
    height: base.height * (1 - top - bottom),
  };
}

const rotationGrid = new Float32Array(64 * 64);

/**
 * The hash of `base` turned by `angle` (radians) about its centre, cropped to
 * `scale` times the largest centred rectangle of the same shape that holds
 * no corner. Each of the 64 x 64 cells is the box mean around where its centre
 * lands in the source: at these small angles a cell stays nearly axis-aligned.
 */
function keepRotated(out: RegionSignal[], image: IntegralImage, base: Rect, angle: number, scale: number): void {
  const cos = Math.cos(angle);
  const sin = Math.abs(Math.sin(angle));
  const { width: w, height: h } = base;
  const fit = Math.min(w / (w * cos + h * sin), h / (w * sin + h * cos)) * scale;
  const cellW = (w * fit) / 64;
  const cellH = (h * fit) / 64;
  image.turnedGrid(base.x + w / 2, base.y + h / 2, cellW, cellH, cos, Math.sin(angle), rotationGrid);
  keepHash(out, hashGrid(rotationGrid), 'rotation');
}
