/**
 * One small interface per signal type, after python-threatexchange's
 * `signal_type/`: each hash algorithm is one module that says what it is, how
 * its hashes are written and read, how far apart two of them are and which
 * distances count as a match. Perceptual types hash decoded pixels, exact
 * types hash the original bytes. The registry (registry.ts) lists them; the
 * API's schemas, the store's checks, the indexes and the matcher all read
 * what they need from there, so a new type is its module and one line.
 */
import { fromHex, toHex } from './hex.js';

/** Decoded 8-bit samples, row-major, `channels` interleaved (1 grey, 2 grey+alpha, 3 RGB, 4 RGBA). */
export interface Raster {
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
  data: Uint8Array;
}

export interface SignalTypeInfo<Name extends string = string> {
  readonly name: Name;
  readonly bits: number;
  /** `bits / 8`: every hash of the type is exactly this long. */
  readonly bytes: number;
  /** Hamming types match near copies by bit distance; exact types match equal hashes only. */
  readonly comparison: 'hamming' | 'exact';
  /** Largest distance treated as a match unless a bank or request says otherwise. */
  readonly defaultThreshold: number;
  /**
   * Largest distance any bank or request may use; a request above it is
   * lowered to it (every false match shows someone a link to another
   * person's intimate image, so loosening is bounded by the type itself).
   */
  readonly maxThreshold: number;
  /** Hashes under this quality are too featureless to match on; absent where the type has no quality. */
  readonly minQuality?: number;
  /** Whether other systems (ThreatExchange, HMA, StopNCII) compute and exchange the same hashes. */
  readonly interoperable: boolean;
  /** Of the whole image, or of a region of it (robust matching). */
  readonly scope: 'whole' | 'region';
  /**
   * Computed only for images whose hash of this other type is too featureless
   * (under its minQuality): the way such an image is matched instead.
   */
  readonly fallbackFor?: string;
  /** One line for people: what the hash is of and how it matches. */
  readonly description: string;
  distance(a: Uint8Array, b: Uint8Array): number;
  /** The hash from its text form (hex, either case); throws InvalidHashError naming `what`. */
  parse(text: unknown, what?: string): Uint8Array;
  /** The text form: lower-case hex, most significant byte first. */
  format(hash: Uint8Array): string;
}

export interface PerceptualHash {
  hash: Uint8Array;
  /** 0-100 where the algorithm defines one (PDQ). */
  quality?: number;
}

export interface PerceptualSignalType<Name extends string = string> extends SignalTypeInfo<Name> {
  readonly input: 'pixels';
  /** As the type's reference tool hashes the pixels. */
  hashRaster(raster: Raster): PerceptualHash;
  /** The same bits from the raster as decoded, where a cheaper route exists (no conversion to the reference's input). */
  hashRasterAsDecoded?(raster: Raster): PerceptualHash;
}

export interface ExactSignalType<Name extends string = string> extends SignalTypeInfo<Name> {
  readonly input: 'bytes';
  hashBytes(bytes: Uint8Array): Promise<Uint8Array>;
}

export type SignalType<Name extends string = string> = PerceptualSignalType<Name> | ExactSignalType<Name>;

/** The text form every type here uses: `bits / 4` hex digits. */
export function hexForm(bits: number): Pick<SignalTypeInfo, 'bytes' | 'parse' | 'format'> {
  return { bytes: bits / 8, parse: (text, what = 'hash') => fromHex(text, bits, what), format: toHex };
}
