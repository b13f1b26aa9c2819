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

/** Codes generated in one sequential run before blocks are handed to threads, and per block after. */
const BLOCK = 1 << 20;
const PAGE_BITS = 26;

export type CodeData = 'realistic' | 'clustered' | 'random';

/**
 * n codes of 32 bytes in shared memory, in pages of 2^26 codes (2 GiB): a
 * typed array holds under 4 GiB, and 150M codes are 4.8 GB.
 */
export class CodePages {
  readonly pages: Uint8Array[];

  constructor(
    readonly n: number,
    buffers?: SharedArrayBuffer[],
  ) {
    const pageCount = Math.ceil(n / 2 ** PAGE_BITS);
    this.pages = Array.from({ length: pageCount }, (_, p) => {
      const codes = Math.min(2 ** PAGE_BITS, n - p * 2 ** PAGE_BITS);
      return new Uint8Array(buffers?.[p] ?? new SharedArrayBuffer(codes * 32));
    });
  }

  get buffers(): SharedArrayBuffer[] {
    return this.pages.map((page) => page.buffer as SharedArrayBuffer);
  }

  /** Code i, as a view. */
  code(i: number): Uint8Array {
    const at = (i % 2 ** PAGE_BITS) * 32;
    return this.pages[Math.floor(i / 2 ** PAGE_BITS)].subarray(at, at + 32);
  }
}

/**
 * Fills block `block` of a data set, from seeded edits, the same whatever
 * thread makes it. `realistic` grows a random recursive tree from the fixture
 * hashes: each code is a swap-edit of a uniformly chosen earlier code (from
 * block 1 on, one at least a block earlier, so threads can make blocks side
 * by side), like reposts of reposts with edits. `clustered`: every code a
 * swap-edit of a fixture hash. `random`: uniform codes.
 */
export function makeCodeBlock(codes: CodePages, block: number, data: CodeData, roots: Uint8Array[]): void {
  const { below, swapBits } = seededCodeTools(0x9e3779b9 ^ Math.imul(block + 1, 0x85ebca6b));
  const from = block === 0 ? 0 : (block + 1) * BLOCK;
  const to = Math.min(codes.n, block === 0 ? 2 * BLOCK : from + BLOCK);
  for (let i = from; i < to; i++) {
    const code = codes.code(i);
    if (data === 'random') {
      for (let j = 0; j < 32; j++) code[j] = below(256);
      continue;
    }
    if (data === 'clustered' || i < roots.length) {
      code.set(roots[i < roots.length ? i : below(roots.length)]);
    } else {
      code.set(codes.code(block === 0 ? below(i) : below(from - BLOCK)));
    }
    swapBits(code, 0, 4 + below(13));
  }
}

/** Blocks of a data set of n codes: block 0 covers the first two block lengths, made in one run. */
export function codeBlockCount(n: number): number {
  return n <= 2 * BLOCK ? 1 : Math.ceil(n / BLOCK) - 1;
}

/** Blocks a block's parents lie in (realistic data): every block up to two before it (and block 0). */
export function blockNeeds(block: number): number {
  return block - 2;
}
