import { SIGNAL_TYPES } from '../hashing/index.js';

/**
 * What a stored hash of each signal type must look like and how hashes of the
 * type compare: perceptual types by Hamming distance, exact types (digests of
 * the original bytes) by equality. Derived from the hashing core's types.
 */
export type SignalComparison = 'hamming' | 'exact';

export interface StoredSignalType {
  readonly name: string;
  /** Every hash of this type is exactly this many bytes. */
  readonly bytes: number;
  readonly comparison: SignalComparison;
  /** Largest distance treated as a match unless a bank or request says otherwise. */
  readonly defaultThreshold: number;
}

export const STORED_SIGNAL_TYPES: ReadonlyMap<string, StoredSignalType> = new Map(
  Object.values(SIGNAL_TYPES).map((t) => [
    t.name,
    { name: t.name, bytes: t.bits / 8, comparison: t.input === 'pixels' ? 'hamming' : 'exact', defaultThreshold: t.defaultThreshold },
  ]),
);
