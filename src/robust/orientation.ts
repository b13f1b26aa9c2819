/**
 * EXIF orientation: how a viewer turns or mirrors the stored pixels before
 * showing them. Phone cameras save portrait photos as landscape pixels tagged
 * 6 (or 8); reposts are usually re-encoded upright with the tag gone.
 *
 * Whole-image signals (PDQ, blockhash, digests) ignore it on purpose, as the
 * reference tools do, so that they interoperate; region hashes, this
 * service's own signal, are taken from the upright image (see regions.ts).
 *
 * Read from the bytes in plain TypeScript (no libvips header pass, and it runs
 * in a browser too): the Exif TIFF block of a JPEG (APP1), PNG (eXIf), WebP
 * (EXIF chunk) or TIFF file (IFD0 tag 0x0112), as libvips reads it. HEIF/AVIF
 * decoders apply their own rotation while decoding, and GIF has none: 1.
 */

/** 1 (as stored) to 8, with EXIF's meanings (6: turn 90 degrees clockwise to view, 8: anticlockwise, 3: half a turn; 2, 4, 5, 7 mirrored). */
export type Orientation = 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8;

/** Whether the orientation swaps width and height. */
export const swapsSides = (orientation: Orientation): boolean => orientation >= 5;

const ascii = (bytes: Uint8Array, at: number, text: string) => at + text.length <= bytes.length && [...text].every((c, i) => bytes[at + i] === c.charCodeAt(0));

/** The stored image's EXIF orientation, 1 when it has none or it cannot be read. */
export function exifOrientation(bytes: Uint8Array): Orientation {
  if (bytes.length >= 2 && bytes[0] === 0xff && bytes[1] === 0xd8) return jpegOrientation(bytes);
  if (ascii(bytes, 0, '\x89PNG\r\n\x1a\n')) return pngOrientation(bytes);
  if (ascii(bytes, 0, 'RIFF') && ascii(bytes, 8, 'WEBP')) return webpOrientation(bytes);
  if (ascii(bytes, 0, 'II*\0') || ascii(bytes, 0, 'MM\0*')) return tiffOrientation(bytes, 0, bytes.length);
  return 1;
}

/** APP1 "Exif\0\0" segments before the first scan; the first one that holds the tag counts. */
function jpegOrientation(bytes: Uint8Array): Orientation {
  let i = 2;
  while (i + 3 < bytes.length) {
    if (bytes[i] !== 0xff) return 1;
    while (i + 1 < bytes.length && bytes[i + 1] === 0xff) i++;
    const marker = bytes[i + 1];
    i += 2;
    if (marker === 0x01 || (marker >= 0xd0 && marker <= 0xd7)) continue;
    if (marker === 0xd8 || marker === 0xd9 || marker === 0xda) return 1;
    if (i + 2 > bytes.length) return 1;
    const length = (bytes[i] << 8) | bytes[i + 1];
    if (length < 2 || i + length > bytes.length) return 1;
    if (marker === 0xe1 && ascii(bytes, i + 2, 'Exif\0\0')) return tiffOrientation(bytes, i + 8, i + length);
    i += length;
  }
  return 1;
}

function pngOrientation(bytes: Uint8Array): Orientation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 8; i + 8 <= bytes.length; ) {
    const length = view.getUint32(i);
    const start = i + 8;
    if (start + length > bytes.length) return 1;
    if (ascii(bytes, i + 4, 'eXIf')) return exifBlock(bytes, start, start + length);
    if (ascii(bytes, i + 4, 'IEND')) return 1;
    i = start + length + 4;
  }
  return 1;
}

function webpOrientation(bytes: Uint8Array): Orientation {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 12; i + 8 <= bytes.length; ) {
    const length = view.getUint32(i + 4, true);
    const start = i + 8;
    if (start + length > bytes.length) return 1;
    if (ascii(bytes, i, 'EXIF')) return exifBlock(bytes, start, start + length);
    i = start + length + (length & 1);
  }
  return 1;
}

/** A TIFF block, with or without the "Exif\0\0" prefix some writers put before it. */
function exifBlock(bytes: Uint8Array, start: number, end: number): Orientation {
  return tiffOrientation(bytes, ascii(bytes, start, 'Exif\0\0') ? start + 6 : start, end);
}

/** Tag 0x0112 (Orientation, one SHORT) of IFD0 of the TIFF structure in [start, end). */
function tiffOrientation(bytes: Uint8Array, start: number, end: number): Orientation {
  if (end - start < 8) return 1;
  const little = ascii(bytes, start, 'II');
  if (!little && !ascii(bytes, start, 'MM')) return 1;
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, end - start);
  if (view.getUint16(2, little) !== 42) return 1;
  const ifd = view.getUint32(4, little);
  if (ifd + 2 > view.byteLength) return 1;
  const count = view.getUint16(ifd, little);
  for (let k = 0; k < count; k++) {
    const entry = ifd + 2 + 12 * k;
    if (entry + 12 > view.byteLength) return 1;
    if (view.getUint16(entry, little) !== 0x0112) continue;
    const type = view.getUint16(entry + 2, little);
    // SHORT as written; a LONG seen in the wild is read too.
    const value = type === 3 ? view.getUint16(entry + 8, little) : type === 4 ? view.getUint32(entry + 8, little) : 0;
    return value >= 1 && value <= 8 ? (value as Orientation) : 1;
  }
  return 1;
}

/**
 * A plane (one value per pixel, row-major) as a viewer shows it: the stored
 * plane turned and mirrored by `orientation`. Returns the same array for 1.
 */
export function orientPlane(
  plane: Float32Array,
  width: number,
  height: number,
  orientation: Orientation,
): { luma: Float32Array; width: number; height: number } {
  if (orientation === 1) return { luma: plane, width, height };
  const swap = swapsSides(orientation);
  const w = swap ? height : width;
  const h = swap ? width : height;
  const out = new Float32Array(plane.length);
  // Upright (x, y) shows the stored pixel (sx, sy) = (x0 + x * dxx + y * dxy, y0 + x * dyx + y * dyy).
  const [x0, dxx, dxy, y0, dyx, dyy] = STORED_FROM_UPRIGHT[orientation](width - 1, height - 1);
  for (let y = 0; y < h; y++) {
    let sx = x0 + y * dxy;
    let sy = y0 + y * dyy;
    const row = y * w;
    for (let x = 0; x < w; x++, sx += dxx, sy += dyx) out[row + x] = plane[sy * width + sx];
  }
  return { luma: out, width: w, height: h };
}

/** For each orientation, from the stored frame's last column and row: [x0, dxx, dxy, y0, dyx, dyy] of orientPlane. */
export type Affine = (maxX: number, maxY: number) => [number, number, number, number, number, number];
export const STORED_FROM_UPRIGHT: Record<Orientation, Affine> = {
  1: () => [0, 1, 0, 0, 0, 1],
  2: (mx) => [mx, -1, 0, 0, 0, 1],
  3: (mx, my) => [mx, -1, 0, my, 0, -1],
  4: (_, my) => [0, 1, 0, my, 0, -1],
  5: () => [0, 0, 1, 0, 1, 0],
  6: (_, my) => [0, 0, 1, my, -1, 0],
  7: (mx, my) => [mx, 0, -1, my, -1, 0],
  8: (mx) => [mx, 0, -1, 0, 1, 0],
};

/** A point given as fractions (0..1) of the stored frame, as fractions of the upright frame. */
export function uprightPoint(fx: number, fy: number, orientation: Orientation): [number, number] {
  switch (orientation) {
    case 1:
      return [fx, fy];
    case 2:
      return [1 - fx, fy];
    case 3:
      return [1 - fx, 1 - fy];
    case 4:
      return [fx, 1 - fy];
    case 5:
      return [fy, fx];
    case 6:
      return [1 - fy, fx];
    case 7:
      return [1 - fy, 1 - fx];
    case 8:
      return [fy, 1 - fx];
  }
}
