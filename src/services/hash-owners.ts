/**
 * What an import knows a bank or case already holds: per signal type, each
 * hash to the ids that hold it (content ids of a bank, signal ids of a case).
 *
 * Hashes live in typed arrays (open addressing, linear probing), not as
 * string keys of a Map: a bank of millions of hashes then costs no object
 * per hash, and an import of millions of records no string per record, which
 * had the garbage collector take a sixth of an import's time.
 */

/** An entry's owner once every id holding its hash was forgotten (ids are positive). */
const NONE = 0;
const FIRST_CAPACITY = 1024;

/**
 * One signal type's hashes (all of one length): entries in the order first
 * seen (their bytes, their first owner), and a table of slots pointing at
 * them with each entry's 32-bit hash beside, so that a probe compares bytes
 * only on a likely match. A forgotten hash keeps its entry, with no owner.
 */
class OwnerTable {
  private codes: Uint8Array;
  private owners: Float64Array;
  /** Per entry: its 32-bit hash, so that a rehash need not compute it again. */
  private hashes: Uint32Array;
  private entries = 0;
  /** Per slot, side by side (one cache line): entry + 1 (0: a free slot), and the entry's 32-bit hash. */
  private slots = new Int32Array(2 * FIRST_CAPACITY);
  /** The last hash looked up and what was found: an import asks `has`, then `add` for the same hash. */
  private lastHash: Uint8Array | null = null;
  private lastFingerprint = 0;
  private lastEntry = -1;
  /** Per entry: the ids after the first, for the rare hash several items hold. */
  private readonly more = new Map<number, number[]>();

  constructor(private readonly width: number) {
    this.codes = new Uint8Array(FIRST_CAPACITY * width);
    this.owners = new Float64Array(FIRST_CAPACITY);
    this.hashes = new Uint32Array(FIRST_CAPACITY);
  }

  ids(hash: Uint8Array): number[] {
    const entry = this.lookup(hash);
    if (entry < 0 || this.owners[entry] === NONE) return [];
    const more = this.more.get(entry);
    return more ? [this.owners[entry], ...more] : [this.owners[entry]];
  }

  has(hash: Uint8Array): boolean {
    const entry = this.lookup(hash);
    return entry >= 0 && this.owners[entry] !== NONE;
  }

  add(hash: Uint8Array, id: number): void {
    if (!(id > 0)) throw new RangeError(`an owner id must be positive, got ${id}`);
    const entry = this.lookup(hash);
    const fingerprint = this.lastFingerprint;
    this.lastHash = null;
    if (entry < 0) this.append(hash, fingerprint, id);
    else if (this.owners[entry] === NONE) this.owners[entry] = id;
    else {
      const more = this.more.get(entry);
      if (more) more.push(id);
      else this.more.set(entry, [id]);
    }
  }

  /** The hash is no longer held by these ids. */
  forget(hash: Uint8Array, ids: ReadonlySet<number>): void {
    const entry = this.lookup(hash);
    this.lastHash = null;
    if (entry < 0 || this.owners[entry] === NONE) return;
    const left = [this.owners[entry], ...(this.more.get(entry) ?? [])].filter((id) => !ids.has(id));
    this.more.delete(entry);
    this.owners[entry] = left.length === 0 ? NONE : left[0];
    if (left.length > 1) this.more.set(entry, left.slice(1));
  }

  /** The entry holding `hash`, or -1 (the hash's bytes are read again only if another hash was looked up since). */
  private lookup(hash: Uint8Array): number {
    if (hash !== this.lastHash) {
      this.lastFingerprint = this.hashOf(hash);
      this.lastEntry = this.find(hash, this.lastFingerprint);
      this.lastHash = hash;
    }
    return this.lastEntry;
  }

  private find(hash: Uint8Array, fingerprint: number): number {
    if (hash.length !== this.width) throw new RangeError(`expected a hash of ${this.width} bytes, got ${hash.length}`);
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    for (let slot = fingerprint & mask; slots[2 * slot] !== 0; slot = (slot + 1) & mask) {
      if (slots[2 * slot + 1] === (fingerprint | 0) && this.equals(slots[2 * slot] - 1, hash)) return slots[2 * slot] - 1;
    }
    return -1;
  }

  private append(hash: Uint8Array, fingerprint: number, id: number): void {
    const entry = this.entries++;
    if (entry === this.owners.length) {
      this.codes = grown(this.codes, 2 * this.codes.length);
      this.owners = grown(this.owners, 2 * this.owners.length);
      this.hashes = grown(this.hashes, 2 * this.hashes.length);
    }
    this.codes.set(hash, entry * this.width);
    this.owners[entry] = id;
    this.hashes[entry] = fingerprint;
    // At most half the slots used, so probes stay short.
    if (this.entries > this.slots.length >>> 2) this.rehash(this.slots.length);
    else this.place(entry, fingerprint);
  }

  private place(entry: number, fingerprint: number): void {
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let slot = fingerprint & mask;
    while (slots[2 * slot] !== 0) slot = (slot + 1) & mask;
    slots[2 * slot] = entry + 1;
    slots[2 * slot + 1] = fingerprint;
  }

  /** Twice the slots (`capacity` of them), every entry placed again. */
  private rehash(capacity: number): void {
    this.slots = new Int32Array(2 * capacity);
    for (let entry = 0; entry < this.entries; entry++) this.place(entry, this.hashes[entry]);
  }

  private equals(entry: number, hash: Uint8Array): boolean {
    const codes = this.codes;
    const at = entry * this.width;
    for (let i = 0; i < hash.length; i++) if (codes[at + i] !== hash[i]) return false;
    return true;
  }

  /** A 32-bit mix of every byte: near-identical hashes (a few bits apart, common among PDQ) spread out. */
  private hashOf(hash: Uint8Array): number {
    let h = 0x9e3779b9;
    let i = 0;
    for (; i + 4 <= hash.length; i += 4) h = Math.imul((h << 5) | (h >>> 27), 0x85ebca6b) ^ (hash[i] | (hash[i + 1] << 8) | (hash[i + 2] << 16) | (hash[i + 3] << 24));
    for (; i < hash.length; i++) h = Math.imul(h ^ hash[i], 0x01000193);
    h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
    return (h ^ (h >>> 15)) >>> 0;
  }
}

function grown<T extends Uint8Array | Uint32Array | Float64Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length);
  bigger.set(array);
  return bigger;
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
