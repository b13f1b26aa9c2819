/**
 * Stickers (emoji faces, hearts, stars) stuck over a reposted photo: bright,
 * saturated, flat-coloured compact blobs. Found on a small colour plane, then
 * painted over in the luma from their surroundings, so that a hash of the
 * cleaned image comes close to the photo's again. The photo's own saturated
 * things (a flower, a red coat) may be taken for stickers too; that only adds
 * a cleaned hash that matches nothing.
 */
import type { Raster } from '../hashing/signal-type.js';

/** Long side of the colour plane blobs are looked for on. */
const PLANE_SIDE = 160;
/** Saturation (max - min channel) and brightness of sticker colours. */
const MIN_SATURATION = 90;
const MIN_BRIGHTNESS = 120;
/** A sticker covers this share of the frame... */
const MIN_AREA = 0.002;
const MAX_AREA = 0.05;
/** ...fills this much of its bounding box, and is about as wide as high. */
const MIN_FILL = 0.45;
const MAX_ASPECT = 2;
/** More blobs than this are the photo's own colours, not stickers. */
const MAX_STICKERS = 5;

/** A sticker's bounding box as fractions of the frame (0..1). */
export interface StickerBox {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

export function findStickers(raster: Raster): StickerBox[] {
  const plane = saturatedMask(raster);
  return plane ? compactComponents(plane.mask, plane.w, plane.h) : [];
}

/** Cells of the block-averaged plane that are bright and saturated (1), or null when the raster is grey or too small. */
function saturatedMask(raster: Raster): { mask: Uint8Array; w: number; h: number } | null {
  const { width, height, channels, data } = raster;
  if (channels < 3) return null;
  const factor = Math.max(1, Math.ceil(Math.max(width, height) / PLANE_SIDE));
  const w = Math.floor(width / factor);
  const h = Math.floor(height / factor);
  if (w < 8 || h < 8) return null;
  const mask = new Uint8Array(w * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      let r = 0;
      let g = 0;
      let b = 0;
      for (let dy = 0; dy < factor; dy++) {
        let p = ((y * factor + dy) * width + x * factor) * channels;
        for (let dx = 0; dx < factor; dx++, p += channels) {
          r += data[p];
          g += data[p + 1];
          b += data[p + 2];
        }
      }
      const n = factor * factor;
      const hi = Math.max(r, g, b) / n;
      const lo = Math.min(r, g, b) / n;
      if (hi - lo >= MIN_SATURATION && hi >= MIN_BRIGHTNESS) mask[y * w + x] = 1;
    }
  }
  return { mask, w, h };
}

/** Boxes of the mask's connected regions (4-neighbours) that are compact enough to be stickers; none if there are too many. */
function compactComponents(mask: Uint8Array, w: number, h: number): StickerBox[] {
  const boxes: StickerBox[] = [];
  const stack: number[] = [];
  const total = w * h;
  const visit = (i: number) => {
    // Visited cells are marked 2.
    if (mask[i] !== 1) return;
    mask[i] = 2;
    stack.push(i);
  };
  for (let start = 0; start < total; start++) {
    if (mask[start] !== 1) continue;
    let area = 0;
    let [x0, y0, x1, y1] = [w, h, -1, -1];
    visit(start);
    while (stack.length > 0) {
      const i = stack.pop()!;
      const x = i % w;
      const y = (i - x) / w;
      area++;
      [x0, x1, y0, y1] = [Math.min(x0, x), Math.max(x1, x), Math.min(y0, y), Math.max(y1, y)];
      if (x > 0) visit(i - 1);
      if (x + 1 < w) visit(i + 1);
      if (y > 0) visit(i - w);
      if (y + 1 < h) visit(i + w);
    }
    const bw = x1 - x0 + 1;
    const bh = y1 - y0 + 1;
    const compact = area >= MIN_AREA * total && bw * bh <= MAX_AREA * total && area >= MIN_FILL * bw * bh;
    if (compact && bw <= MAX_ASPECT * bh && bh <= MAX_ASPECT * bw) {
      boxes.push({ x0: x0 / w, y0: y0 / h, x1: (x1 + 1) / w, y1: (y1 + 1) / h });
      if (boxes.length > MAX_STICKERS) return [];
    }
  }
  return boxes;
}

/**
 * The luma plane with each box (grown by a margin) painted over: every pixel
 * inside gets the mean of the straight-line interpolations between the
 * pixels just outside the box, left to right and top to bottom.
 */
export function paintOver(luma: Float32Array, width: number, height: number, boxes: readonly StickerBox[]): Float32Array {
  const out = Float32Array.from(luma);
  for (const box of boxes) {
    const marginX = Math.max(1, Math.round((box.x1 - box.x0) * width * 0.15));
    const marginY = Math.max(1, Math.round((box.y1 - box.y0) * height * 0.15));
    const x0 = Math.max(0, Math.floor(box.x0 * width) - marginX);
    const x1 = Math.min(width - 1, Math.ceil(box.x1 * width) + marginX);
    const y0 = Math.max(0, Math.floor(box.y0 * height) - marginY);
    const y1 = Math.min(height - 1, Math.ceil(box.y1 * height) + marginY);
    const left = Math.max(0, x0 - 1);
    const right = Math.min(width - 1, x1 + 1);
    const top = Math.max(0, y0 - 1);
    const bottom = Math.min(height - 1, y1 + 1);
    for (let y = y0; y <= y1; y++) {
      for (let x = x0; x <= x1; x++) {
        const tx = right > left ? (x - left) / (right - left) : 0.5;
        const ty = bottom > top ? (y - top) / (bottom - top) : 0.5;
        const across = (1 - tx) * luma[y * width + left] + tx * luma[y * width + right];
        const down = (1 - ty) * luma[top * width + x] + ty * luma[bottom * width + x];
        out[y * width + x] = (across + down) / 2;
      }
    }
  }
  return out;
}
