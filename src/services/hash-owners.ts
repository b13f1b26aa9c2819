/**
 * What an import knows a bank or case already holds: per signal type, each
 * hash to the ids that hold it (content ids of a bank, signal ids of a case).
 *
 * Hashes live in typed arrays (open addressing, linear probing), not as
 * string keys of a Map: a bank of millions of hashes then costs no object
 * per hash, and an import of millions of records no string per record, which
 * had the garbage collector take a sixth of an import's time.
 */

/** Slot marks in `owners`: never used, and used once but since forgotten (probing goes on past it). */
const EMPTY = 0;
const FORGOTTEN = -1;
const FIRST_CAPACITY = 1024;

/** One signal type's hashes (all of one length). */
class OwnerTable {
  private capacity = FIRST_CAPACITY;
  private codes: Uint8Array;
  /** Per slot: the first id holding its hash (ids are positive), EMPTY or FORGOTTEN. */
  private owners: Float64Array;
  /** Per slot: the ids after the first, for the rare hash several items hold. */
  private more = new Map<number, number[]>();
  /** Slots not EMPTY. */
  private used = 0;

  constructor(private readonly width: number) {
    this.codes = new Uint8Array(this.capacity * width);
    this.owners = new Float64Array(this.capacity);
  }

  ids(hash: Uint8Array): number[] {
    const slot = this.find(hash);
    if (slot < 0) return [];
    const more = this.more.get(slot);
    return more ? [this.owners[slot], ...more] : [this.owners[slot]];
  }

  has(hash: Uint8Array): boolean {
    return this.find(hash) >= 0;
  }

  add(hash: Uint8Array, id: number): void {
    if (!(id > 0)) throw new RangeError(`an owner id must be positive, got ${id}`);
    const slot = this.find(hash);
    if (slot >= 0) {
      const more = this.more.get(slot);
      if (more) more.push(id);
      else this.more.set(slot, [id]);
      return;
    }
    if (2 * (this.used + 1) > this.capacity) this.grow();
    this.place(hash, id);
  }

  /** The hash is no longer held by these ids. */
  forget(hash: Uint8Array, ids: ReadonlySet<number>): void {
    const slot = this.find(hash);
    if (slot < 0) return;
    const left = [this.owners[slot], ...(this.more.get(slot) ?? [])].filter((id) => !ids.has(id));
    this.more.delete(slot);
    if (left.length === 0) this.owners[slot] = FORGOTTEN;
    else {
      this.owners[slot] = left[0];
      if (left.length > 1) this.more.set(slot, left.slice(1));
    }
  }

  /** The slot holding `hash`, or -1. */
  private find(hash: Uint8Array): number {
    this.checkWidth(hash);
    const mask = this.capacity - 1;
    for (let slot = this.hashOf(hash) & mask; ; slot = (slot + 1) & mask) {
      const owner = this.owners[slot];
      if (owner === EMPTY) return -1;
      if (owner !== FORGOTTEN && this.equals(slot, hash)) return slot;
    }
  }

  /** Puts a hash not held into the first slot never used along its probe. */
  private place(hash: Uint8Array, id: number): number {
    const mask = this.capacity - 1;
    let slot = this.hashOf(hash) & mask;
    while (this.owners[slot] !== EMPTY) slot = (slot + 1) & mask;
    this.codes.set(hash, slot * this.width);
    this.owners[slot] = id;
    this.used++;
    return slot;
  }

  private grow(): void {
    const { codes, owners, more, width } = this;
    const live = owners.reduce((n, owner) => (owner > 0 ? n + 1 : n), 0);
    while (2 * (live + 1) > this.capacity / 2) this.capacity *= 2;
    this.codes = new Uint8Array(this.capacity * width);
    this.owners = new Float64Array(this.capacity);
    this.more = new Map();
    this.used = 0;
    for (let slot = 0; slot < owners.length; slot++) {
      if (!(owners[slot] > 0)) continue;
      const to = this.place(codes.subarray(slot * width, slot * width + width), owners[slot]);
      const ids = more.get(slot);
      if (ids) this.more.set(to, ids);
    }
  }

  private equals(slot: number, hash: Uint8Array): boolean {
    const codes = this.codes;
    const at = slot * this.width;
    for (let i = 0; i < hash.length; i++) if (codes[at + i] !== hash[i]) return false;
    return true;
  }

  /** FNV-1a over every byte: near-identical hashes (a few bits apart, common among PDQ) spread out. */
  private hashOf(hash: Uint8Array): number {
    let h = 0x811c9dc5;
    for (let i = 0; i < hash.length; i++) h = Math.imul(h ^ hash[i], 0x01000193);
    return (h ^ (h >>> 15)) >>> 0;
  }

  private checkWidth(hash: Uint8Array): void {
    if (hash.length !== this.width) throw new RangeError(`expected a hash of ${this.width} bytes, got ${hash.length}`);
  }
}

export class HashOwners {
  private readonly tables = new Map<string, OwnerTable>();

  has(type: string, hash: Uint8Array): boolean {
    return this.tables.get(type)?.has(hash) ?? false;
  }

  ids(type: string, hash: Uint8Array): number[] {
    return this.tables.get(type)?.ids(hash) ?? [];
  }

  add(type: string, hash: Uint8Array, id: number): void {
    let table = this.tables.get(type);
    if (!table) this.tables.set(type, (table = new OwnerTable(hash.length)));
    table.add(hash, id);
  }

  /** The hash is no longer held by these ids. */
  forget(type: string, hash: Uint8Array, ids: ReadonlySet<number>): void {
    this.tables.get(type)?.forget(hash, ids);
  }
}
