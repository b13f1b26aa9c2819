import { PDQ_BITS } from '../hashing/pdq.js';

/**
 * Signal types the store accepts and how their hashes compare: perceptual
 * types by Hamming distance, exact types by equality. The hashing core owns
 * the algorithms; this table only fixes what a stored hash must look like.
 */
export type SignalComparison = 'hamming' | 'exact';

export interface StoredSignalType {
  readonly name: string;
  /** Every hash of this type is exactly this many bytes. */
  readonly bytes: number;
  readonly comparison: SignalComparison;
}

export const STORED_SIGNAL_TYPES: ReadonlyMap<string, StoredSignalType> = new Map(
  (
    [
      { name: 'pdq', bytes: PDQ_BITS / 8, comparison: 'hamming' },
      { name: 'blockhash', bytes: 32, comparison: 'hamming' },
      { name: 'md5', bytes: 16, comparison: 'exact' },
      { name: 'sha256', bytes: 32, comparison: 'exact' },
    ] as const
  ).map((t) => [t.name, t]),
);
