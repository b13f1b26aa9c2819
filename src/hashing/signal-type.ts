/**
 * One small interface per signal type, after python-threatexchange's
 * `signal_type/`: each hash algorithm is a module that says what it is and how
 * far apart two of its hashes are. Perceptual types hash decoded pixels, exact
 * types hash the original bytes.
 */

/** Decoded 8-bit samples, row-major, `channels` interleaved (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

export interface SignalTypeInfo {
  readonly name: string;
  readonly bits: number;
  /** Largest Hamming distance still treated as a match by default. */
  readonly defaultThreshold: number;
  distance(a: Uint8Array, b: Uint8Array): number;
}

export interface PerceptualHash {
  hash: Uint8Array;
  /** 0-100 where the algorithm defines one (PDQ). */
  quality?: number;
}

export interface PerceptualSignalType extends SignalTypeInfo {
  readonly input: 'pixels';
  hashRaster(raster: Raster): PerceptualHash;
}

export interface ExactSignalType extends SignalTypeInfo {
  readonly input: 'bytes';
  hashBytes(bytes: Uint8Array): Uint8Array;
}

export type SignalType = PerceptualSignalType | ExactSignalType;
