/**
 * Test-only HammingRangeIndex: a plain scan over every entry, obviously right,
 * for testing the store and matcher without depending on the real index.
 */
import { popcount32 } from '../../src/hashing/hamming.js';
import type { HammingRangeIndex, RangeHit } from '../../src/index/types.js';

export class ScanIndex implements HammingRangeIndex {
  private words = new Uint32Array(0);
  private owners: number[] = [];

  get size(): number {
    return this.owners.length;
  }

  add(code: Uint8Array, owner: number): void {
    this.addMany(code, [owner]);
  }

  addMany(codes: Uint8Array, owners: ArrayLike<number>): void {
    const words = new Uint32Array((this.owners.length + owners.length) * 8);
    words.set(this.words.subarray(0, this.owners.length * 8));
    const view = new DataView(codes.buffer, codes.byteOffset, codes.length);
    for (let i = 0; i < owners.length; i++) {
      for (let w = 0; w < 8; w++) words[(this.owners.length + i) * 8 + w] = view.getUint32(i * 32 + w * 4);
    }
    this.words = words;
    for (let i = 0; i < owners.length; i++) this.owners.push(owners[i]);
  }

  remove(code: Uint8Array, owner: number): boolean {
    const at = this.entryOf(code, owner);
    if (at < 0) return false;
    this.words.copyWithin(at * 8, (at + 1) * 8, this.owners.length * 8);
    this.owners.splice(at, 1);
    return true;
  }

  search(query: Uint8Array, radius: number): RangeHit[] {
    const view = new DataView(query.buffer, query.byteOffset, 32);
    const q = Array.from({ length: 8 }, (_, w) => view.getUint32(w * 4));
    const hits: RangeHit[] = [];
    for (let i = 0; i < this.owners.length; i++) {
      let distance = 0;
      for (let w = 0; w < 8 && distance <= radius; w++) distance += popcount32(this.words[i * 8 + w] ^ q[w]);
      if (distance <= radius) hits.push({ owner: this.owners[i], distance });
    }
    return hits;
  }

  private entryOf(code: Uint8Array, owner: number): number {
    const view = new DataView(code.buffer, code.byteOffset, 32);
    for (let i = 0; i < this.owners.length; i++) {
      if (this.owners[i] !== owner) continue;
      let same = true;
      for (let w = 0; w < 8; w++) same &&= this.words[i * 8 + w] === view.getUint32(w * 4);
      if (same) return i;
    }
    return -1;
  }
}
