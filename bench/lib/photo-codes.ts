/**
 * Realistic PDQ codes for benchmarks: the photo-derived hashes in
 * fixtures/photo-pdq-hashes.tsv, and seeded, deterministic edits of them.
 */
import { readFileSync } from 'node:fs';
import { fromHex } from '../../src/hashing/hex.js';

/** The fixture's hashes; every tenth photograph (all its variants) held out for unrelated queries. */
export function loadPhotoHashes(): { indexed: Uint8Array[]; heldOut: Uint8Array[] } {
  const rows = readFileSync(new URL('../../fixtures/photo-pdq-hashes.tsv', import.meta.url), 'utf8')
    .split('\n')
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => line.split('\t'));
  const files = [...new Set(rows.map((r) => `${r[2]}/${r[4]}`))];
  const heldOutFiles = new Set(files.filter((_, i) => i % 10 === 9));
  const indexed: Uint8Array[] = [];
  const heldOut: Uint8Array[] = [];
  for (const r of rows) (heldOutFiles.has(`${r[2]}/${r[4]}`) ? heldOut : indexed).push(fromHex(r[0], 256));
  return { indexed, heldOut };
}

/** A deterministic random source (xorshift32) and the bit edits built on it. */
export function seededCodeTools(seed: number) {
  let state = seed >>> 0 || 1;
  const random32 = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return state >>> 0;
  };
  const below = (k: number) => random32() % k;
  /** Flips `count` distinct random bits of the code at byte offset `at`. */
  const flipBits = (codes: Uint8Array, at: number, count: number): void => {
    const flipped = new Set<number>();
    while (flipped.size < count) {
      const bit = below(256);
      if (flipped.has(bit)) continue;
      flipped.add(bit);
      codes[at + (bit >> 3)] ^= 0x80 >> (bit & 7);
    }
  };
  /** Clears k set bits and sets k clear bits: moves the code 2k bits, keeps its weight. */
  const swapBits = (codes: Uint8Array, at: number, k: number): void => {
    for (const wanted of [1, 0]) {
      for (let done = 0; done < k; ) {
        const bit = below(256);
        const mask = 0x80 >> (bit & 7);
        if (((codes[at + (bit >> 3)] & mask) !== 0) === (wanted === 1)) {
          codes[at + (bit >> 3)] ^= mask;
          done++;
        }
      }
    }
  };
  return { random32, below, flipBits, swapBits };
}
