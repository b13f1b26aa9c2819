/**
 * Exact range search by scanning every code: the test oracle for multi-index
 * hashing, and simple enough to be obviously right. Each (code, owner) entry is
 * kept on its own; adding an entry that is already there changes nothing.
 */
import { CodeArena, CODE_BYTES, CODE_WORDS, SCAN_CHUNK, readCodeWords } from './code-arena.js';
import type { HammingRangeIndex, RangeHit } from './types.js';

export interface BruteForceOptions {
  /** Use the WebAssembly popcount scan when the runtime has it (default true). */
  wasm?: boolean;
}

export class BruteForceIndex implements HammingRangeIndex {
  private readonly arena: CodeArena;
  private owners = new Uint32Array(16);
  private count = 0;
  private readonly probe = new Uint32Array(CODE_WORDS);
  private readonly query = new Uint32Array(CODE_WORDS);

  constructor(options: BruteForceOptions = {}) {
    this.arena = new CodeArena(16, options.wasm ?? true);
  }

  get size(): number {
    return this.count;
  }

  get usesWasm(): boolean {
    return this.arena.usesWasm;
  }

  add(code: Uint8Array, owner: number): void {
    checkOwner(owner);
    readCodeWords(code, this.probe);
    if (this.find(owner) >= 0) return;
    if (this.count === this.arena.capacity) {
      this.arena.reserve(this.count * 2, this.count);
      const owners = new Uint32Array(this.count * 2);
      owners.set(this.owners);
      this.owners = owners;
    }
    this.arena.words.set(this.probe, this.count * CODE_WORDS);
    this.owners[this.count++] = owner;
  }

  addMany(codes: Uint8Array, owners: ArrayLike<number>): void {
    checkBatch(codes, owners);
    for (let i = 0; i < owners.length; i++) this.add(codes.subarray(i * 32, i * 32 + 32), owners[i]);
  }

  remove(code: Uint8Array, owner: number): boolean {
    readCodeWords(code, this.probe);
    const entry = this.find(owner);
    if (entry < 0) return false;
    const last = --this.count;
    this.arena.copy(last, entry);
    this.owners[entry] = this.owners[last];
    return true;
  }

  search(query: Uint8Array, radius: number): RangeHit[] {
    checkRadius(radius);
    const q = this.query;
    readCodeWords(query, q);
    const hits: RangeHit[] = [];
    for (let first = 0; first < this.count; first += SCAN_CHUNK) {
      const found = this.arena.scanChunk(first, Math.min(SCAN_CHUNK, this.count - first), q, radius);
      for (let i = 0; i < found; i++) {
        const entry = first + this.arena.hits[i];
        hits.push({ owner: this.owners[entry], distance: this.arena.distance(entry, q) });
      }
    }
    return hits;
  }

  searchBatch(queries: Uint8Array, radius: number): RangeHit[][] {
    checkQueries(queries);
    const hits: RangeHit[][] = [];
    for (let at = 0; at < queries.length; at += CODE_BYTES) hits.push(this.search(queries.subarray(at, at + CODE_BYTES), radius));
    return hits;
  }

  private find(owner: number): number {
    for (let entry = 0; entry < this.count; entry++) {
      if (this.owners[entry] === owner && this.arena.equals(entry, this.probe)) return entry;
    }
    return -1;
  }
}

export function checkOwner(owner: number): void {
  if (!Number.isInteger(owner) || owner < 0 || owner > 0xffffffff) {
    throw new RangeError(`owner must be an integer in 0..2^32-1, got ${owner}`);
  }
}

export function checkRadius(radius: number): void {
  if (!Number.isInteger(radius) || radius < 0 || radius > 256) {
    throw new RangeError(`radius must be an integer in 0..256, got ${radius}`);
  }
}

export function checkBatch(codes: Uint8Array, owners: ArrayLike<number>): void {
  if (codes.length !== owners.length * 32) {
    throw new RangeError(`addMany: ${codes.length} bytes of codes for ${owners.length} owners`);
  }
  for (let i = 0; i < owners.length; i++) checkOwner(owners[i]);
}

/** A batch of queries: whole 32-byte codes back to back. */
export function checkQueries(queries: Uint8Array): void {
  if (queries.length % CODE_BYTES !== 0) throw new RangeError(`queries must be whole ${CODE_BYTES}-byte codes, got ${queries.length} bytes`);
}
