/**
 * Exact range search over fixed-length binary codes (256-bit PDQ and blockhash
 * hashes, as the 32 big-endian bytes the hashing core produces). An owner is
 * the store's row id of the signal that carries the code; identical codes are
 * stored once with their list of owners.
 */
export interface RangeHit {
  owner: number;
  distance: number;
}

export interface HammingRangeIndex {
  /** Number of (code, owner) entries. */
  readonly size: number;
  add(code: Uint8Array, owner: number): void;
  /** Bulk add: `codes` holds `owners.length` codes of 32 bytes back to back. */
  addMany(codes: Uint8Array, owners: ArrayLike<number>): void;
  /** Removes one (code, owner) entry; false if it was not there. */
  remove(code: Uint8Array, owner: number): boolean;
  /** Every entry within Hamming distance `radius` (0..256) of `query`, exactly. */
  search(query: Uint8Array, radius: number): RangeHit[];
  /** `search` for each of many queries (32-byte codes back to back), in their order. */
  searchBatch(queries: Uint8Array, radius: number): RangeHit[][];
}
