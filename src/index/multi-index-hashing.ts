/**
 * Exact Hamming range search by multi-index hashing (Norouzi, Punjani and Fleet,
 * "Fast Exact Search in Hamming Space with Multi-Index Hashing", TPAMI 2014),
 * over shards of shared WebAssembly memory that several threads search at once.
 *
 * Each code is cut into m disjoint substrings of b bits, one hash table per
 * substring. If d(q, x) <= r and the tables are probed with radii r_t such
 * that sum(r_t + 1) > r, some substring of x is within r_t of q's (pigeonhole),
 * so probing every key within r_t of q's substring in each table and verifying
 * candidates by full distance finds every match. Bits past m * b stay out of
 * the tables (their buckets would double the offsets memory) but are verified.
 *
 * A wasm32 memory holds 4 GiB, about 48M codes with their tables, so the codes
 * are split into shards (shard.ts), each with tables of its own, filled one
 * after the other; a search visits every shard. Each (code, owner) entry has
 * a slot of its own. Slots added since a shard's tables were built (its delta)
 * are scanned on each query until the next rebuild folds them in; removal
 * clears the slot's live bit at once; a shard a quarter dead is compacted.
 *
 * Threads: one thread writes (this object made with `new`); others attach to
 * its `handle` and search. Shards a writer creates later reach them through
 * `onShardCreated` and `attachShard`. Searches hold a readers-writer lock that
 * the writer takes only to swap new tables in or compact, so searches go on
 * while the writer builds tables.
 */
import { CODE_BYTES, CODE_WORDS, readCodeWords } from './code-arena.js';
import { MIN_TABLES, MAX_TABLES } from './mih-tables.js';
import { checkBatch, checkOwner, checkQueries, checkRadius } from './brute-force.js';
import { LOCK_WORDS, RwLock } from './rw-lock.js';
import { MIN_TABLE_CODES, Shard, releaseBuildScratch, type SharedMemory } from './shard.js';
import type { HammingRangeIndex, RangeHit } from './types.js';

export { tableCountFor } from './mih-tables.js';
export { MAX_MIH_RADIUS } from './shard.js';

export interface MultiIndexHashingOptions {
  /** Fix the number of tables instead of following each shard's size (tests). */
  tableCount?: number;
  /** Fix the delta size that triggers a rebuild instead of following the size (tests). */
  deltaLimit?: number;
  /** Scan instead of probing when a scan is expected to be faster (default true; tests turn it off). */
  scanWhenCheaper?: boolean;
  /** Codes per shard (default and most: what fits in wasm32 memory with its tables; tests set less). */
  shardCapacity?: number;
}

/** What another thread needs to search the index: the control words and the shard memories (structured-cloneable). */
export interface IndexHandle {
  control: SharedArrayBuffer;
  shards: SharedMemory[];
  options: MultiIndexHashingOptions;
}

const C_SHARDS = LOCK_WORDS;
const CONTROL_WORDS = LOCK_WORDS + 1;
/** A delta past this many codes per shard costs a search more than a rebuild saves (a 2 MB scan). */
const MAX_DELTA = 1 << 16;
/**
 * While an import adds chunk after chunk, a shard's delta may grow as large
 * as its indexed codes, up to this many (a 16 MB scan per search meanwhile):
 * a rebuild per chunk would rebuild the whole shard a hundred times over.
 */
const MAX_BULK_DELTA = 1 << 19;

/**
 * Queries a search holds the read lock for, in one shard: a writer waiting to
 * swap new tables in or to compact (and the searches it then holds back)
 * waits for at most these (about 0.2 s at a few million codes a shard). Most
 * of what a batch gains it gains by 2,048 queries.
 */
const QUERIES_PER_LOCK = 2048;

let defaultShardCapacity: number | undefined;

export interface IndexShape {
  shards: number;
  tableCount: number;
  substringBits: number;
  indexedCodes: number;
  deltaCodes: number;
}

export class MultiIndexHashing implements HammingRangeIndex {
  private readonly control: Int32Array;
  private readonly lock: RwLock;
  private readonly shards: Shard[] = [];
  private readonly options: MultiIndexHashingOptions;
  private readonly shardCapacity: number;
  private readonly writer: boolean;
  /** This thread's scratch slot in every shard. */
  private readonly thread: number;
  /** Writer only: per shard, the delta's slots by owner, so an add or remove finds an entry without a scan. */
  private readonly deltaByOwner: OwnerSlots[] = [];
  /** Writer only: the highest owner ever added; a higher one cannot be in the index yet. */
  private maxOwner = -1;
  private readonly query = new Uint32Array(CODE_WORDS);
  /** Writer: told of each new shard before searches can need it. */
  onShardCreated: ((memory: SharedMemory) => void) | null = null;
  /** Search thread: called when the writer has made shards this thread has not attached; must attach them. */
  onShardsBehind: (() => void) | null = null;
  /**
   * Writer, during a bulk load: offered the m tables of a full shard to build
   * in other threads (`buildTable`); returns how many, from table 0, it handed
   * out, the writer building the rest.
   */
  onBuildTables: ((shard: number, tables: number) => number) | null = null;

  constructor(options: MultiIndexHashingOptions = {}, attached?: { handle: IndexHandle; thread: number }) {
    const m = options.tableCount;
    if (m !== undefined && (!Number.isInteger(m) || m < MIN_TABLES || m > MAX_TABLES)) {
      throw new RangeError(`tableCount must be an integer in ${MIN_TABLES}..${MAX_TABLES}, got ${m}`);
    }
    this.options = options;
    this.shardCapacity = options.shardCapacity ?? (defaultShardCapacity ??= Shard.maxCapacity());
    this.writer = attached === undefined;
    this.thread = attached?.thread ?? 0;
    this.control = new Int32Array(attached?.handle.control ?? new SharedArrayBuffer(CONTROL_WORDS * 4));
    this.lock = new RwLock(this.control);
    for (const memory of attached?.handle.shards ?? []) this.attachShard(memory);
  }

  /** Attaches a search thread (scratch slot `thread`, 1..3; the writer has 0) to an index another thread writes. */
  static attach(handle: IndexHandle, thread: number): MultiIndexHashing {
    return new MultiIndexHashing(handle.options, { handle, thread });
  }

  get handle(): IndexHandle {
    return { control: this.control.buffer as SharedArrayBuffer, shards: this.shards.map((s) => s.memory), options: { ...this.options, shardCapacity: this.shardCapacity } };
  }

  /** A search thread learns of a shard the writer made. */
  attachShard(memory: SharedMemory): void {
    this.shards.push(new Shard(memory, this.thread));
  }

  get size(): number {
    let entries = 0;
    for (const shard of this.shards) entries += shard.entries;
    return entries;
  }

  get shape(): IndexShape {
    let indexedCodes = 0;
    let deltaCodes = 0;
    let tableCount = 0;
    let substringBits = 0;
    for (const shard of this.shards) {
      const shape = shard.shape;
      indexedCodes += shape.indexed;
      deltaCodes += shape.slots - shape.indexed;
      if (shape.tables > tableCount) ({ tables: tableCount, bits: substringBits } = shape);
    }
    return { shards: this.shards.length, tableCount, substringBits, indexedCodes, deltaCodes };
  }

  /** Bytes of shared memory in use (see Shard.byteLength). */
  get byteLength(): number {
    return this.shards.reduce((sum, shard) => sum + shard.byteLength, 0);
  }

  add(code: Uint8Array, owner: number): void {
    checkOwner(owner);
    readCodeWords(code, this.query);
    this.addWords(this.query, owner);
    this.rebuildIfDue();
  }

  /**
   * Adds entries; `more` says more batches of the same import follow, so the
   * tables are rebuilt only when the delta has grown as large as the indexed
   * codes (and MAX_BULK_DELTA): an import costs a few rebuilds, not one per
   * batch. `settle` (or any batch without `more`) applies the usual limit again.
   */
  addMany(codes: Uint8Array, owners: ArrayLike<number>, more = false): void {
    checkBatch(codes, owners);
    this.requireWriter();
    for (let i = 0; i < owners.length; ) {
      // A run of rising owners above every owner added so far (the store's new signal ids) cannot be there yet: appended together, unchecked.
      let end = i;
      for (let max = this.maxOwner; end < owners.length && owners[end] > max; end++) max = owners[end];
      if (end > i) {
        this.appendNew(codes, owners, i, end);
        i = end;
        continue;
      }
      readCodeWords(codes.subarray(i * 32, i * 32 + 32), this.query);
      this.addWords(this.query, owners[i]);
      i++;
    }
    this.rebuildIfDue(more);
  }

  /** Appends entries [from, to) known not to be in the index to the delta. */
  private appendNew(codes: Uint8Array, owners: ArrayLike<number>, from: number, to: number): void {
    const count = to - from;
    const words = new Uint32Array(count * CODE_WORDS);
    for (let k = 0; k < count; k++) readCodeWords(codes.subarray((from + k) * 32, (from + k) * 32 + 32), words, k * CODE_WORDS);
    for (let done = 0; done < count; ) {
      const shard = this.activeShard();
      const delta = this.deltaByOwner[this.shards.length - 1];
      const first = shard.slots;
      const added = shard.append(words, done, owners, from + done, count - done);
      for (let k = 0; k < added; k++) delta.add(owners[from + done + k], first + k);
      done += added;
    }
    this.maxOwner = Math.max(this.maxOwner, owners[to - 1]);
  }

  /** After an import's last batch: rebuilds the tables of any shard whose delta is past the usual limit. */
  settle(): void {
    this.requireWriter();
    this.rebuildIfDue();
  }

  /**
   * Bulk load without duplicate checks, for entries known to be new and
   * distinct (the store's signals: each id once): appends, building each
   * shard it fills; `finishLoad` (after `buildTable` for each of
   * `prepareBuilds`, in any threads) makes the index ready.
   */
  load(codes: Uint8Array, owners: ArrayLike<number>): void {
    checkBatch(codes, owners);
    this.requireWriter();
    const words = new Uint32Array(owners.length * CODE_WORDS);
    for (let i = 0; i < owners.length; i++) {
      readCodeWords(codes.subarray(i * 32, i * 32 + 32), words, i * CODE_WORDS);
      if (owners[i] > this.maxOwner) this.maxOwner = owners[i];
    }
    for (let done = 0; done < owners.length; ) done += this.activeShard(true).append(words, done, owners, done, owners.length - done);
  }

  /**
   * After a bulk load: readies the tables of every shard without tables (the
   * last a load filled) to be built in place, a table at a time in any
   * threads attached to the index (`buildTable`); returns them as (shard, table).
   */
  prepareBuilds(): { shard: number; table: number }[] {
    this.requireWriter();
    return this.shards.flatMap((shard, i) => {
      if (shard.hasTables || shard.buildPending || !this.tablesWanted(shard.slots)) return [];
      const m = shard.prepareInPlace(this.options.tableCount);
      return Array.from({ length: m }, (_, table) => ({ shard: i, table }));
    });
  }

  /** Builds one readied table (any thread attached to the index); the thread that builds a shard's last table makes them searched. */
  buildTable(shard: number, table: number): void {
    this.catchUp();
    if (this.shards[shard].buildTableInPlace(table)) this.lock.exclusive(() => this.shards[shard].publishInPlace());
  }

  /** After a bulk load, once every readied table is built: builds what is left, and indexes each shard's delta by owner. */
  finishLoad(): void {
    this.requireWriter();
    this.shards.forEach((shard, i) => {
      shard.awaitBuild();
      if (!shard.hasTables && this.tablesWanted(shard.slots)) this.rebuildShard(i);
      else this.indexDelta(i);
    });
    // A restored shard may have taken many codes since its tables were saved.
    this.rebuildIfDue();
    releaseBuildScratch();
  }

  /**
   * New tables over all of shard i's slots: in place for a shard without
   * tables, else beside the ones searched and then swapped in. While loading,
   * other threads may take some of the tables (onBuildTables).
   */
  private buildShard(i: number, loading = false): void {
    const shard = this.shards[i];
    if (shard.hasTables) {
      const built = shard.buildTables(this.options.tableCount);
      this.lock.exclusive(() => shard.install(built));
      return;
    }
    const m = shard.prepareInPlace(this.options.tableCount);
    // Tables other threads take are built there while this thread goes on loading; the last table built publishes them.
    const handedOut = loading ? (this.onBuildTables?.(i, m) ?? 0) : 0;
    for (let t = handedOut; t < m; t++) this.buildTable(i, t);
    releaseBuildScratch();
  }

  /** What a snapshot keeps of the index: each shard's memory and its ranges in use (Shard.savedRanges), and the highest owner. Writer only. */
  saved(): { maxOwner: number; shards: Array<{ memory: SharedMemory; memoryBytes: number; ranges: Array<[number, number]> }> } {
    this.requireWriter();
    return { maxOwner: this.maxOwner, shards: this.shards.map((shard) => ({ memory: shard.memory, ...shard.savedRanges() })) };
  }

  /**
   * Before a bulk load, into an empty index: shards restored from a
   * snapshot (made by Shard.restoreMemory at this index's shard capacity),
   * and the highest owner they hold. `finishLoad` afterwards, as for a load.
   */
  restore(memories: SharedMemory[], maxOwner: number): void {
    this.requireWriter();
    if (this.shards.length > 0) throw new Error('only an empty index is restored');
    for (const memory of memories) {
      this.attachShard(memory);
      if (this.shards.at(-1)!.capacity !== this.shardCapacity) throw new Error('a restored shard has another capacity');
      this.deltaByOwner.push(new OwnerSlots());
      this.indexDelta(this.shards.length - 1);
      this.onShardCreated?.(memory);
      Atomics.add(this.control, C_SHARDS, 1);
    }
    this.maxOwner = maxOwner;
  }

  /** A shard memory for this index, filled by `fill` from a snapshot (see Shard.restoreMemory), for `restore`. */
  restoredShardMemory(memoryBytes: number, fill: (bytes: Uint8Array) => void): SharedMemory {
    return Shard.restoreMemory(this.shardCapacity, this.options.tableCount, memoryBytes, fill);
  }

  remove(code: Uint8Array, owner: number): boolean {
    readCodeWords(code, this.query);
    const found = this.findEntry(this.query, owner);
    if (!found) return false;
    const { shard: i, slot } = found;
    const shard = this.shards[i];
    shard.kill(slot);
    this.deltaByOwner[i].remove(owner, slot);
    if (shard.dead > Math.max(MIN_TABLE_CODES, shard.slots >>> 2)) this.compactShard(i);
    return true;
  }

  search(query: Uint8Array, radius: number): RangeHit[] {
    checkRadius(radius);
    readCodeWords(query, this.query);
    const hits: RangeHit[] = [];
    this.searchWords(this.query, 1, radius, [hits]);
    return hits;
  }

  /** Each query's hits (queries: codes one after the other), as `search` would give them; faster per query than one by one. */
  searchBatch(queries: Uint8Array, radius: number): RangeHit[][] {
    checkRadius(radius);
    checkQueries(queries);
    const count = queries.length / CODE_BYTES;
    const words = new Uint32Array(count * CODE_WORDS);
    for (let i = 0; i < count; i++) readCodeWords(queries.subarray(i * CODE_BYTES, (i + 1) * CODE_BYTES), words, i * CODE_WORDS);
    const hits: RangeHit[][] = Array.from({ length: count }, () => []);
    this.searchWords(words, count, radius, hits);
    return hits;
  }

  /** Searches shard by shard, the read lock held for one shard and at most QUERIES_PER_LOCK queries at a time. */
  private searchWords(words: Uint32Array, count: number, radius: number, hits: RangeHit[][]): void {
    this.catchUp();
    const scanWhenCheaper = this.options.scanWhenCheaper ?? true;
    for (const shard of this.shards) {
      for (let from = 0; from < count; from += QUERIES_PER_LOCK) {
        const to = Math.min(count, from + QUERIES_PER_LOCK);
        const part = from === 0 && to === count ? hits : hits.slice(from, to);
        this.lock.readLock();
        try {
          shard.searchBatch(words.subarray(from * CODE_WORDS, to * CODE_WORDS), to - from, radius, part, scanWhenCheaper);
        } finally {
          this.lock.readUnlock();
        }
      }
    }
  }

  /** Rebuilds every shard's tables over all its live codes now (compacting first where codes were removed). */
  rebuild(): void {
    this.requireWriter();
    this.shards.forEach((shard, i) => {
      if (shard.dead > 0) this.compactShard(i);
      else this.rebuildShard(i);
    });
  }

  /** Attaches the shards the writer has made since (a search thread). */
  private catchUp(): void {
    if (Atomics.load(this.control, C_SHARDS) > this.shards.length) this.onShardsBehind?.();
    if (Atomics.load(this.control, C_SHARDS) > this.shards.length) throw new Error('the index has shards this thread was not given');
  }

  private addWords(words: Uint32Array, owner: number): void {
    this.requireWriter();
    if (this.findEntry(words, owner)) return;
    const i = this.shards.indexOf(this.activeShard());
    const slot = this.shards[i].slots;
    this.shards[i].append(words, 0, [owner], 0, 1);
    this.deltaByOwner[i].add(owner, slot);
    if (owner > this.maxOwner) this.maxOwner = owner;
  }

  /** The live slot holding (code, owner): through each shard's first table, then its delta's owners. */
  private findEntry(words: Uint32Array, owner: number): { shard: number; slot: number } | null {
    for (let i = 0; i < this.shards.length; i++) {
      const shard = this.shards[i];
      const indexed = shard.findIndexed(words, owner);
      if (indexed >= 0) return { shard: i, slot: indexed };
      const slot = this.deltaByOwner[i].find(owner, (slot) => shard.holds(slot, words, owner));
      if (slot >= 0) return { shard: i, slot };
    }
    return null;
  }

  /** The shard that takes new codes: the last, or a new one when the last is full (whose tables are built first, by other threads too while loading). */
  private activeShard(loading = false): Shard {
    const last = this.shards.at(-1);
    if (last && last.slots < last.capacity) return last;
    if (last && last.slots > last.indexed && loading) this.buildShard(this.shards.length - 1, true);
    else if (last && last.slots > last.indexed) this.rebuildShard(this.shards.length - 1);
    const memory = Shard.createMemory(this.shardCapacity, this.options.tableCount);
    this.attachShard(memory);
    this.deltaByOwner.push(new OwnerSlots());
    this.onShardCreated?.(memory);
    // Counted after the search threads were told, so one that sees the count can attach the shard.
    Atomics.add(this.control, C_SHARDS, 1);
    return this.shards.at(-1)!;
  }

  private deltaLimit(shard: Shard): number {
    return this.options.deltaLimit ?? Math.min(MAX_DELTA, Math.max(MIN_TABLE_CODES, shard.indexed >>> 7));
  }

  private rebuildIfDue(more = false): void {
    this.shards.forEach((shard, i) => {
      const limit = more ? (this.options.deltaLimit ?? Math.min(MAX_BULK_DELTA, Math.max(this.deltaLimit(shard), shard.indexed))) : this.deltaLimit(shard);
      if (shard.slots - shard.indexed > limit) this.rebuildShard(i);
    });
  }

  private tablesWanted(slots: number): boolean {
    return slots >= MIN_TABLE_CODES || this.options.tableCount !== undefined;
  }

  /** New tables over all of shard i's slots, or none when too few codes pay for them. */
  private rebuildShard(i: number): void {
    const shard = this.shards[i];
    if (this.tablesWanted(shard.slots)) this.buildShard(i);
    else this.lock.exclusive(() => shard.dropTables());
    this.indexDelta(i);
  }

  private compactShard(i: number): void {
    const shard = this.shards[i];
    this.lock.exclusive(() => {
      shard.compact();
      if (!this.tablesWanted(shard.slots)) return;
      // Compacted, the shard has no tables: they are built in place, searches waiting meanwhile.
      const m = shard.prepareInPlace(this.options.tableCount);
      for (let t = 0; t < m; t++) shard.buildTableInPlace(t);
      shard.publishInPlace();
    });
    releaseBuildScratch();
    this.indexDelta(i);
  }

  /** Lists shard i's delta slots by owner (after its tables or slots changed). */
  private indexDelta(i: number): void {
    const shard = this.shards[i];
    const delta = new OwnerSlots();
    shard.forEachLive(shard.indexed, shard.slots, (slot, owner) => delta.add(owner, slot));
    this.deltaByOwner[i] = delta;
  }

  private requireWriter(): void {
    if (!this.writer) throw new Error('only the thread that made the index writes to it');
  }
}

/** Slots by owner; an owner has one slot almost always, kept as a bare number (no array per entry). */
class OwnerSlots {
  private readonly slots = new Map<number, number | number[]>();

  add(owner: number, slot: number): void {
    const held = this.slots.get(owner);
    if (held === undefined) this.slots.set(owner, slot);
    else if (typeof held === 'number') this.slots.set(owner, [held, slot]);
    else held.push(slot);
  }

  /** The owner's first slot that `matches`, or -1. */
  find(owner: number, matches: (slot: number) => boolean): number {
    const held = this.slots.get(owner);
    if (held === undefined) return -1;
    if (typeof held === 'number') return matches(held) ? held : -1;
    for (const slot of held) if (matches(slot)) return slot;
    return -1;
  }

  remove(owner: number, slot: number): void {
    const held = this.slots.get(owner);
    if (held === slot) this.slots.delete(owner);
    else if (Array.isArray(held) && held.includes(slot)) {
      const left = held.filter((s) => s !== slot);
      this.slots.set(owner, left.length === 1 ? left[0] : left);
    }
  }
}
