/**
 * The pixels of a PNG with an alpha channel exactly as stored. A canvas keeps
 * colour premultiplied by alpha, so it loses the colour under transparent and
 * nearly transparent pixels, which the server (libvips) hands PDQ as stored:
 * a grey-and-alpha test image came out 14 bits away. Such PNGs (8 bits,
 * not interlaced: what phones and editors write) are decoded here instead,
 * with the browser's own inflate; anything else goes through the canvas.
 */
import type { Raster } from '../hashing/signal-type.js';

const SIGNATURE = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
/** Grey + alpha and RGBA: the colour types with an alpha channel. */
const ALPHA_CHANNELS: Record<number, 2 | 4> = { 4: 2, 6: 4 };

interface PngLayout {
  width: number;
  height: number;
  channels: 2 | 4;
  idat: Uint8Array[];
}

/** The header and image data of an 8-bit, non-interlaced PNG with alpha; null for any other file. */
export function pngWithAlpha(bytes: Uint8Array): PngLayout | null {
  if (bytes.length < 33 || !SIGNATURE.every((b, i) => bytes[i] === b)) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const [width, height, depth, colourType, interlace] = [view.getUint32(16), view.getUint32(20), bytes[24], bytes[25], bytes[28]];
  const channels = ALPHA_CHANNELS[colourType];
  if (!channels || depth !== 8 || interlace !== 0) return null;
  const idat: Uint8Array[] = [];
  for (let at = 8; at + 8 <= bytes.length; ) {
    const length = view.getUint32(at);
    const type = String.fromCharCode(...bytes.subarray(at + 4, at + 8));
    if (type === 'IDAT') idat.push(bytes.subarray(at + 8, at + 8 + length));
    if (type === 'IEND') break;
    at += 12 + length;
  }
  return idat.length > 0 ? { width, height, channels, idat } : null;
}

function paeth(a: number, b: number, c: number): number {
  const p = a + b - c;
  const pa = Math.abs(p - a);
  const pb = Math.abs(p - b);
  const pc = Math.abs(p - c);
  return pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
}

/** Undoes the per-row filters (PNG spec, section 9) into width x height x channels samples. */
export function unfilter(inflated: Uint8Array, { width, height, channels }: Omit<PngLayout, 'idat'>): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(stride * height);
  for (let y = 0; y < height; y++) {
    const filter = inflated[y * (stride + 1)];
    const row = inflated.subarray(y * (stride + 1) + 1, (y + 1) * (stride + 1));
    const at = y * stride;
    for (let x = 0; x < stride; x++) {
      const left = x >= channels ? out[at + x - channels] : 0;
      const up = y > 0 ? out[at - stride + x] : 0;
      const upLeft = y > 0 && x >= channels ? out[at - stride + x - channels] : 0;
      const predicted = filter === 1 ? left : filter === 2 ? up : filter === 3 ? (left + up) >> 1 : filter === 4 ? paeth(left, up, upLeft) : 0;
      out[at + x] = (row[x] + predicted) & 0xff;
    }
  }
  return out;
}

/** The stored pixels of a PNG with alpha, or null when the file is not one (or is damaged): then the canvas decodes it. */
export async function decodePngWithAlpha(bytes: Uint8Array): Promise<Raster | null> {
  const layout = pngWithAlpha(bytes);
  if (!layout) return null;
  try {
    const stream = new Blob(layout.idat as BlobPart[]).stream().pipeThrough(new DecompressionStream('deflate'));
    const inflated = new Uint8Array(await new Response(stream).arrayBuffer());
    if (inflated.length < (layout.width * layout.channels + 1) * layout.height) return null;
    return { width: layout.width, height: layout.height, channels: layout.channels, data: unfilter(inflated, layout) };
  } catch {
    return null;
  }
}
