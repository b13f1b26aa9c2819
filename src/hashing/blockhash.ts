/**
 * blockhash (blockhash.io, block mean value) at 16 x 16 blocks = 256 bits,
 * through `blockhash-core`'s precise method, which equals the reference C tool
 * when fed the same RGBA samples.
 */
import { bmvbhash } from 'blockhash-core';
import { hammingDistance } from './hamming.js';
import { fromHex } from './hex.js';
import type { PerceptualSignalType, Raster } from './signal-type.js';

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

export function blockhashRaster(raster: Raster): { hash: Uint8Array } {
  const hex = bmvbhash({ width: raster.width, height: raster.height, data: toRgba(raster) }, BLOCKHASH_GRID);
  return { hash: fromHex(hex, BLOCKHASH_BITS, 'blockhash') };
}

export const blockhash: PerceptualSignalType = {
  name: 'blockhash',
  bits: BLOCKHASH_BITS,
  defaultThreshold: BLOCKHASH_MATCH_THRESHOLD,
  input: 'pixels',
  distance: hammingDistance,
  hashRaster: blockhashRaster,
};
