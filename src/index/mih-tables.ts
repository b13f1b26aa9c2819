/**
 * The hash tables of multi-index hashing, pure over arrays: how many tables
 * to cut a code into, the probe ball's size, and building one table (its
 * entries, code slots sorted by substring, and its bucket offsets).
 */
import { sortSlotsByKey } from './radix-sort.js';

export const CODE_BITS = 256;
export const CODE_WORDS = 8;
/**
 * Substrings of 8 to 23 bits: Gosper's enumeration stays within int32 and
 * 2^b-bucket tables within memory. Not fewer than 11 tables: at 30M realistic
 * codes (bench/index), 11 tables of 23 bits answered r = 31 at 1,801 q/s and
 * 10 of 25 bits at 681 (2,794 probes against 7,860: longer substrings do not
 * cut candidates as much as their probe balls grow).
 */
export const MAX_TABLES = 32;
export const MIN_TABLES = 11;

/** Number of b-bit keys within distance r of a key, as a float (sum of binomials). */
export function ballVolume(bits: number, radius: number): number {
  let volume = 0;
  let term = 1;
  for (let k = 0; k <= radius && k <= bits; k++) {
    volume += term;
    term = (term * (bits - k)) / (k + 1);
  }
  return volume;
}

/**
 * About 256 / (log2 N + 1) tables, so each b-bit table has about twice as many
 * buckets as codes: at 1M and r = 31, 12 tables of 21 bits (1,944 probes, about
 * 1,000 candidates) beat 13 of 19 (1,286 probes, about 2,600 candidates) by
 * 1.5x in bench/index, as candidates miss cache on both their entry and code.
 */
export function tableCountFor(codes: number): number {
  const log2 = Math.log2(Math.max(codes, 2));
  return Math.min(MAX_TABLES, Math.max(MIN_TABLES, Math.round(CODE_BITS / (log2 + 1))));
}

/** Where table t's substring starts: word and bit offset. */
export function substringPosition(t: number, bits: number): { word: number; offset: number } {
  return { word: (t * bits) >>> 5, offset: (t * bits) & 31 };
}

/** The `bits`-bit substring at (word, offset) of the code whose words start at `base`. */
export function substringOf(words: Uint32Array, base: number, word: number, offset: number, bits: number): number {
  const high = words[base + word] << offset;
  const value = offset + bits > 32 ? high | (words[base + word + 1] >>> (32 - offset)) : high;
  return value >>> (32 - bits);
}

/** Scratch a table build reuses from table to table: n keys and slots, and 2^b + 1 bucket starts. */
export interface BuildScratch {
  keys: Uint32Array;
  scratchKeys: Uint32Array;
  scratchSlots: Uint32Array;
  starts: Uint32Array;
}

export function buildScratch(n: number, bits: number): BuildScratch {
  return { keys: new Uint32Array(n), scratchKeys: new Uint32Array(n), scratchSlots: new Uint32Array(n), starts: new Uint32Array(2 ** bits + 1) };
}

/**
 * Builds table t over the codes in slots 0..n-1 (8 words each from `codesAt`
 * in `words`): writes the slots sorted by their substring to `entries` and
 * returns the bucket offsets.
 */
export function buildTable(
  words: Uint32Array,
  codesAt: number,
  n: number,
  t: number,
  bits: number,
  entries: Uint32Array,
  scratch: BuildScratch,
): { offsets: Uint32Array; packed: boolean } {
  const { keys, starts } = scratch;
  const { word, offset } = substringPosition(t, bits);
  // substringOf, unrolled for this loop over tens of millions of codes.
  const spills = offset + bits > 32;
  for (let slot = 0, p = codesAt + word; slot < n; slot++, p += CODE_WORDS) {
    const high = words[p] << offset;
    keys[slot] = (spills ? high | (words[p + 1] >>> (32 - offset)) : high) >>> (32 - bits);
  }
  sortSlotsByKey(keys.subarray(0, n), bits, entries, scratch.scratchKeys, scratch.scratchSlots);
  const buckets = 2 ** bits;
  for (let k = 0, e = 0; k <= buckets; k++) {
    while (e < n && keys[e] < k) e++;
    starts[k] = e;
  }
  return compressOffsets(starts, buckets);
}

const PACKED_BLOCK_WORDS = 5;

/**
 * Bucket k holds entries[start(k) .. start(k + 1)). Packed: 5 words per block
 * of 16 buckets, the block's first start then 16 one-byte offsets from it, so
 * a probe touches one cache line; plain (a block held 256+ entries):
 * start(k) = offsets[k].
 */
export function bucketStart(offsets: Uint32Array, at: number, packed: boolean, key: number): number {
  if (!packed) return offsets[at + key];
  const block = at + (key >>> 4) * PACKED_BLOCK_WORDS;
  const j = key & 15;
  return offsets[block] + ((offsets[block + 1 + (j >>> 2)] >>> ((j & 3) << 3)) & 255);
}

/** Bucket starts (length buckets + 1) in the packed layout when every block of 16 buckets holds under 256 entries. */
function compressOffsets(starts: Uint32Array, buckets: number): { offsets: Uint32Array; packed: boolean } {
  const blocks = buckets >>> 4;
  for (let block = 0; block < blocks; block++) {
    if (starts[(block + 1) << 4] - starts[block << 4] >= 256) return { offsets: starts.slice(0, buckets + 1), packed: false };
  }
  // One more block holds the end of the last bucket.
  const offsets = new Uint32Array((blocks + 1) * PACKED_BLOCK_WORDS);
  for (let block = 0; block < blocks; block++) {
    const base = starts[block << 4];
    const at = block * PACKED_BLOCK_WORDS;
    offsets[at] = base;
    for (let j = 0; j < 16; j++) offsets[at + 1 + (j >>> 2)] |= (starts[(block << 4) + j] - base) << ((j & 3) << 3);
  }
  offsets[blocks * PACKED_BLOCK_WORDS] = starts[buckets];
  return { offsets, packed: true };
}

/** Bytes of a table's offsets at most (plain layout). */
export function maxOffsetsBytes(bits: number): number {
  return (2 ** bits + 1) * 4;
}
