/**
 * One shard of the multi-index hashing index: a shared WebAssembly memory
 * (wasm32, so at most 4 GiB) holding a fixed number of code slots, their
 * owners and live bits, the tables over them, and scratch for each search
 * thread. Every thread that searches the shard instantiates the search module
 * (shard-search.wat) over the same memory, so the codes and tables exist once
 * however many threads search them. All of the shard's state is in that
 * memory (the header below), so a thread attaching to it needs nothing else.
 *
 * Layout: header | scratch per thread slot | codes (32 bytes a slot) | owners
 * (4 bytes) | live bits | tables. Table t's entries (code slots sorted by its
 * substring, 4 bytes each) come first, then every table's bucket offsets.
 * Only the writer thread changes a shard. Appends and removals are safe to
 * race with searches: a slot's code, owner and live bit are written before
 * the slot count that makes it visible is stored, and a removal clears one
 * bit. Installing new tables and compacting take the index's write lock.
 */
import { SHARD_SEARCH_WASM_BASE64 } from './shard-search-wasm.js';
import {
  CODE_WORDS,
  MAX_TABLES,
  ballVolume,
  bucketStart,
  buildScratch,
  buildTable,
  type BuildScratch,
  maxOffsetsBytes,
  substringOf,
  substringPosition,
  tableCountFor,
} from './mih-tables.js';
import type { RangeHit } from './types.js';
import { popcount32 } from '../hashing/hamming.js';

const WASM_PAGE = 1 << 16;
const MAX_PAGES = 1 << 16;
const MAX_BYTES = MAX_PAGES * WASM_PAGE;

// Header words (Int32).
const H_CAPACITY = 0;
const H_SLOTS = 1;
const H_INDEXED = 2;
const H_TABLES = 3;
const H_BITS = 4;
const H_PACKED = 5;
const H_DEAD = 6;
const H_ENTRIES = 7;
/** Changes when the tables or slots move (new tables, compaction): views on them are then taken again. */
const H_LAYOUT = 8;
/** An in-place build under way: its table count, slots, substring bits, and packed tables so far. */
const H_BUILD_TABLES = 9;
const H_BUILD_SLOTS = 10;
const H_BUILD_BITS = 11;
const H_BUILD_PACKED = 12;
/** Tables of the in-place build done so far. */
const H_BUILD_DONE = 13;
/** Where each table's offsets and entries are: two words per table from here. */
const H_TABLE_AT = 16;
const HEADER_BYTES = 1024;

/** Search threads that can use a shard at once, each with scratch of its own. */
export const THREAD_SLOTS = 4;
/** Bucket ranges and candidates one table's probe may hold in the scratch; past them a table is searched in JS. */
const RANGE_CAPACITY = 1 << 16;
/** Candidates per gather and codes per scan call (the scan's hit list shares the space). */
const CANDIDATE_CAPACITY = 1 << 16;
const QUERY_BYTES = 64;
/** Queries one batch search takes (the sort key keeps a query's position in 16 bits). */
const MAX_BATCH = 1 << 16;
const SCRATCH_BYTES = QUERY_BYTES + RANGE_CAPACITY * 8 + CANDIDATE_CAPACITY * 4 + CANDIDATE_CAPACITY * 8;
const CODES_AT = HEADER_BYTES + THREAD_SLOTS * SCRATCH_BYTES;

/** Below this many codes a scan beats any table. */
export const MIN_TABLE_CODES = 4096;
/** Largest radius answered through the tables; above it substrings are too short to filter. */
export const MAX_MIH_RADIUS = 64;
/** A probe or a candidate costs a random memory access; a scanned code costs a streamed one. */
const SCAN_COST_RATIO = 16;

// The project's lib settings (ES2023, no DOM) carry no WebAssembly types; these are the few used.
export interface SharedMemory {
  readonly buffer: SharedArrayBuffer;
  grow(pages: number): number;
}
interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum: number; shared: true }) => SharedMemory;
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: Record<string, unknown> };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

type ScanExport = (codes: number, first: number, count: number, query: number, radius: number, out: number) => number;
type ProbeExport = (offsets: number, packed: number, key: number, bits: number, radius: number, ranges: number) => number;
type GatherExport = (entries: number, ranges: number, count: number, cand: number, capacity: number) => number;
type VerifyExport = (codes: number, cand: number, count: number, query: number, radius: number, out: number) => number;

let searchModule: object | undefined;

function align(bytes: number, to = 64): number {
  return Math.ceil(bytes / to) * to;
}

/** Byte positions of a shard's regions for `capacity` slots. */
function layoutFor(capacity: number) {
  const ownersAt = CODES_AT + capacity * 32;
  const liveAt = ownersAt + capacity * 4;
  const tablesAt = align(liveAt + Math.ceil(capacity / 32) * 4);
  return { ownersAt, liveAt, tablesAt };
}

/** Tables built in ordinary arrays, to copy in under the write lock. */
interface BuiltTables {
  slots: number;
  bits: number;
  entries: Uint32Array[];
  offsets: { offsets: Uint32Array; packed: boolean }[];
}

/**
 * Where table t of m over n slots goes: every table's entries, then room for
 * every table's offsets at their largest (plain), so that tables can be built
 * in place side by side; packed offsets leave most of their room untouched,
 * which costs address space, not memory.
 */
function tablePlace(tablesAt: number, m: number, n: number, bits: number, t: number): { entriesAt: number; offsetsAt: number; end: number } {
  const entriesBytes = align(n * 4);
  const offsetsBytes = align(maxOffsetsBytes(bits));
  return { entriesAt: tablesAt + t * entriesBytes, offsetsAt: tablesAt + m * entriesBytes + t * offsetsBytes, end: tablesAt + m * (entriesBytes + offsetsBytes) };
}

/** A thread's build scratch, kept from one table to the next while loading (see releaseBuildScratch). */
let cachedScratch: BuildScratch | null = null;

function scratchFor(n: number, bits: number): BuildScratch {
  if (!cachedScratch || cachedScratch.keys.length < n || cachedScratch.starts.length !== 2 ** bits + 1) cachedScratch = buildScratch(n, bits);
  return cachedScratch;
}

/** Lets this thread's build scratch go (hundreds of MB for a full shard). */
export function releaseBuildScratch(): void {
  cachedScratch = null;
}

export interface ShardShape {
  slots: number;
  indexed: number;
  tables: number;
  bits: number;
}

export class Shard {
  readonly capacity: number;
  private readonly header: Int32Array;
  private readonly ownersAt: number;
  private readonly liveAt: number;
  private readonly tablesAt: number;
  /** Word views on the whole memory, taken again when it grows. */
  private words!: Uint32Array;
  private viewBytes = -1;
  private readonly scan: ScanExport;
  private readonly probe: ProbeExport;
  private readonly gather: GatherExport;
  private readonly verify: VerifyExport;
  /** This thread's scratch: query, bucket ranges, candidates, hit pairs (byte addresses). */
  private readonly queryAt: number;
  private readonly rangesAt: number;
  private readonly candidatesAt: number;
  private readonly hitsAt: number;
  private readonly tableRadius = new Int32Array(MAX_TABLES);
  /** A batch's sort keys (see bySubstring), reused from batch to batch. */
  private order = new Float64Array(0);

  /** Attaches this thread (scratch slot `thread`) to a shard's memory. */
  constructor(
    readonly memory: SharedMemory,
    thread: number,
  ) {
    if (!Number.isInteger(thread) || thread < 0 || thread >= THREAD_SLOTS) throw new RangeError(`thread slot must be in 0..${THREAD_SLOTS - 1}`);
    searchModule ??= new wasmApi.Module(Buffer.from(SHARD_SEARCH_WASM_BASE64, 'base64'));
    const { exports } = new wasmApi.Instance(searchModule, { env: { memory } });
    this.scan = exports.scan as ScanExport;
    this.probe = exports.probe as ProbeExport;
    this.gather = exports.gather as GatherExport;
    this.verify = exports.verify as VerifyExport;
    this.header = new Int32Array(memory.buffer, 0, HEADER_BYTES / 4);
    this.capacity = this.header[H_CAPACITY];
    ({ ownersAt: this.ownersAt, liveAt: this.liveAt, tablesAt: this.tablesAt } = layoutFor(this.capacity));
    const scratch = HEADER_BYTES + thread * SCRATCH_BYTES;
    this.queryAt = scratch;
    this.rangesAt = scratch + QUERY_BYTES;
    this.candidatesAt = this.rangesAt + RANGE_CAPACITY * 8;
    this.hitsAt = this.candidatesAt + CANDIDATE_CAPACITY * 4;
    this.renewViews();
  }

  /**
   * A new shard memory for `capacity` slots. Its maximum is what the slots
   * and the largest tables over them can take (all of wasm32's 4 GiB for a
   * full-size shard): a shared memory reserves its maximum up front.
   */
  static createMemory(capacity: number, tableCount?: number): SharedMemory {
    const { tablesAt } = layoutFor(capacity);
    const maxBytes = tablesAt + maxTablesBytes(capacity, tableCount);
    if (tablesAt > MAX_BYTES) throw new RangeError(`a shard of ${capacity} codes does not fit in wasm32 memory`);
    const memory = new wasmApi.Memory({
      initial: Math.ceil(tablesAt / WASM_PAGE),
      maximum: Math.min(MAX_PAGES, Math.ceil(maxBytes / WASM_PAGE)),
      shared: true,
    });
    new Int32Array(memory.buffer, 0, HEADER_BYTES / 4)[H_CAPACITY] = capacity;
    return memory;
  }

  /** The most codes a full-size shard holds: its slots and the largest tables over them fit in wasm32 memory. */
  static maxCapacity(): number {
    let capacity = 1 << 20;
    while (layoutFor(capacity + (1 << 20)).tablesAt + maxTablesBytes(capacity + (1 << 20)) <= MAX_BYTES) capacity += 1 << 20;
    return capacity;
  }

  get slots(): number {
    return Atomics.load(this.header, H_SLOTS);
  }

  get indexed(): number {
    return this.header[H_INDEXED];
  }

  get dead(): number {
    return this.header[H_DEAD];
  }

  /** Live (code, owner) entries. */
  get entries(): number {
    return Atomics.load(this.header, H_ENTRIES);
  }

  get hasTables(): boolean {
    return this.header[H_TABLES] > 0;
  }

  get shape(): ShardShape {
    return { slots: this.slots, indexed: this.indexed, tables: this.header[H_TABLES], bits: this.header[H_BITS] };
  }

  /** Bytes in use: this shard's scratch and header, its slots' codes, owners and live bits, and its tables. */
  get byteLength(): number {
    const h = this.header;
    let tables = 0;
    for (let t = 0; t < h[H_TABLES]; t++) tables += h[H_INDEXED] * 4 + this.offsetsLength(t) * 4;
    return CODES_AT + this.slots * (32 + 4 + 1 / 8) + tables;
  }

  /**
   * What a snapshot of the shard keeps: the byte ranges of its memory in use
   * (header, the slots' codes, owners and live bits, each table's entries and
   * offsets), and how large the memory had grown. Writer only, with no build
   * of tables under way.
   */
  savedRanges(): { memoryBytes: number; ranges: Array<[at: number, length: number]> } {
    if (this.buildPending) throw new Error('a shard cannot be saved while its tables are built');
    this.renewViews();
    const h = this.header;
    const slots = this.slots;
    const ranges: Array<[number, number]> = [
      [0, HEADER_BYTES],
      [CODES_AT, slots * 32],
      [this.ownersAt, slots * 4],
      [this.liveAt, Math.ceil(slots / 32) * 4],
    ];
    for (let t = 0; t < h[H_TABLES]; t++) ranges.push([this.entriesAt(t), h[H_INDEXED] * 4], [this.offsetsAt(t), this.offsetsLength(t) * 4]);
    return { memoryBytes: this.memory.buffer.byteLength, ranges: ranges.filter(([, length]) => length > 0) };
  }

  /**
   * A shard memory for `capacity` slots grown to `memoryBytes`, for `fill` to
   * write a saved shard's ranges into (see savedRanges); throws if the saved
   * header does not describe such a shard.
   */
  static restoreMemory(capacity: number, tableCount: number | undefined, memoryBytes: number, fill: (bytes: Uint8Array) => void): SharedMemory {
    const memory = Shard.createMemory(capacity, tableCount);
    const pages = Math.ceil(memoryBytes / WASM_PAGE);
    const have = memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) memory.grow(pages - have);
    fill(new Uint8Array(memory.buffer));
    const h = new Int32Array(memory.buffer, 0, HEADER_BYTES / 4);
    const tablesEnd = h[H_TABLES] > 0 ? tablePlace(layoutFor(capacity).tablesAt, h[H_TABLES], h[H_INDEXED], h[H_BITS], 0).end : 0;
    if (h[H_CAPACITY] !== capacity || h[H_SLOTS] < 0 || h[H_SLOTS] > capacity || h[H_INDEXED] > h[H_SLOTS] || h[H_BUILD_TABLES] !== 0 || tablesEnd > memory.buffer.byteLength) {
      throw new Error('a saved shard does not match its layout');
    }
    return memory;
  }

  // Writer side.

  /** Appends `count` codes (8 words each, from `from` in `words`) with their owners; returns how many fitted. */
  append(words: Uint32Array, from: number, owners: ArrayLike<number>, ownersFrom: number, count: number): number {
    const slot = this.slots;
    const n = Math.min(count, this.capacity - slot);
    this.renewViews();
    const w = this.words;
    w.set(words.subarray(from * CODE_WORDS, (from + n) * CODE_WORDS), CODES_AT / 4 + slot * CODE_WORDS);
    const ownersW = this.ownersAt / 4;
    for (let i = 0; i < n; i++) w[ownersW + slot + i] = owners[ownersFrom + i];
    const liveW = this.liveAt / 4;
    for (let s = slot; s < slot + n; s++) w[liveW + (s >>> 5)] |= 1 << (s & 31);
    Atomics.add(this.header, H_ENTRIES, n);
    // Stored last: a search sees the new slots only once their code, owner and live bit are there.
    Atomics.store(this.header, H_SLOTS, slot + n);
    return n;
  }

  /** The live slot holding (code, owner) among the indexed slots, or -1 (the delta is the caller's to look up). */
  findIndexed(code: Uint32Array, owner: number): number {
    const h = this.header;
    if (h[H_TABLES] === 0) return -1;
    this.renewViews();
    const w = this.words;
    const bits = h[H_BITS];
    const { word, offset } = substringPosition(0, bits);
    const key = substringOf(code, 0, word, offset, bits);
    const offsetsW = this.offsetsAt(0) / 4;
    const entriesW = this.entriesAt(0) / 4;
    const packed = (h[H_PACKED] & 1) === 1;
    const end = bucketStart(w, offsetsW, packed, key + 1);
    for (let e = bucketStart(w, offsetsW, packed, key); e < end; e++) {
      const slot = w[entriesW + e];
      if (this.holds(slot, code, owner)) return slot;
    }
    return -1;
  }

  /** Whether `slot` is live and holds exactly (code, owner). */
  holds(slot: number, code: Uint32Array, owner: number): boolean {
    const w = this.words;
    if (!this.isLive(slot) || w[this.ownersAt / 4 + slot] !== owner) return false;
    const p = CODES_AT / 4 + slot * CODE_WORDS;
    for (let i = 0; i < CODE_WORDS; i++) if (w[p + i] !== code[i]) return false;
    return true;
  }

  /** Clears a live slot's bit: searches stop returning it at once. */
  kill(slot: number): void {
    Atomics.and(this.words, this.liveAt / 4 + (slot >>> 5), ~(1 << (slot & 31)));
    this.header[H_DEAD]++;
    Atomics.sub(this.header, H_ENTRIES, 1);
  }

  /**
   * Readies an in-place build of tables over every slot now in the shard, for
   * `buildTableInPlace` (any thread) then `publishInPlace`. Only for a shard
   * without tables: searches scan it, so none reads where the tables go.
   */
  prepareInPlace(tableCount?: number): number {
    const h = this.header;
    if (h[H_TABLES] !== 0) throw new Error('an in-place build needs a shard without tables');
    const slots = this.slots;
    const m = tableCount ?? tableCountFor(slots);
    const bits = Math.floor(256 / m);
    this.growTo(tablePlace(this.tablesAt, m, slots, bits, 0).end);
    h[H_BUILD_SLOTS] = slots;
    h[H_BUILD_BITS] = bits;
    Atomics.store(h, H_BUILD_PACKED, 0);
    Atomics.store(h, H_BUILD_DONE, 0);
    // Stored last: a thread that sees the count sees the rest.
    Atomics.store(h, H_BUILD_TABLES, m);
    return m;
  }

  /** Builds table t of the prepared build where it belongs; true when it was the build's last table to be done. */
  buildTableInPlace(t: number): boolean {
    const h = this.header;
    const m = h[H_BUILD_TABLES];
    const slots = h[H_BUILD_SLOTS];
    const bits = h[H_BUILD_BITS];
    const { entriesAt, offsetsAt } = tablePlace(this.tablesAt, m, slots, bits, t);
    this.renewViews();
    const sorted = new Uint32Array(this.memory.buffer, entriesAt, slots);
    const { offsets, packed } = buildTable(this.words, CODES_AT / 4, slots, t, bits, sorted, scratchFor(slots, bits));
    this.words.set(offsets, offsetsAt / 4);
    if (packed) Atomics.or(h, H_BUILD_PACKED, 1 << t);
    return Atomics.add(h, H_BUILD_DONE, 1) + 1 === m;
  }

  /** Makes the prepared build's tables the ones searched: the caller holds the write lock, and every table is built. */
  publishInPlace(): void {
    const h = this.header;
    this.setTables(h[H_BUILD_TABLES], h[H_BUILD_SLOTS], h[H_BUILD_BITS], Atomics.load(h, H_BUILD_PACKED));
    Atomics.store(h, H_BUILD_TABLES, 0);
    Atomics.notify(h, H_BUILD_TABLES);
  }

  /** Whether an in-place build was readied and its tables are not yet all built. */
  get buildPending(): boolean {
    return Atomics.load(this.header, H_BUILD_TABLES) > 0;
  }

  /** Waits until an in-place build under way (tables in other threads) is published. */
  awaitBuild(): void {
    for (let m = Atomics.load(this.header, H_BUILD_TABLES); m > 0; m = Atomics.load(this.header, H_BUILD_TABLES)) Atomics.wait(this.header, H_BUILD_TABLES, m, 100);
  }

  /**
   * Builds tables over every slot now in the shard into ordinary arrays, for
   * `install`: searches go on meanwhile (slots below the count only change
   * their live bits, which searches check).
   */
  buildTables(tableCount?: number): BuiltTables {
    const slots = this.slots;
    const m = tableCount ?? tableCountFor(slots);
    const bits = Math.floor(256 / m);
    this.renewViews();
    const scratch = buildScratch(slots, bits);
    const built: BuiltTables = { slots, bits, entries: [], offsets: [] };
    for (let t = 0; t < m; t++) {
      const sorted = new Uint32Array(slots);
      built.offsets.push(buildTable(this.words, CODES_AT / 4, slots, t, bits, sorted, scratch));
      built.entries.push(sorted);
    }
    return built;
  }

  /** Copies built tables over the shard's: the caller holds the write lock. */
  install(built: BuiltTables): void {
    const { slots, bits, entries, offsets } = built;
    const m = entries.length;
    this.growTo(tablePlace(this.tablesAt, m, slots, bits, 0).end);
    let packed = 0;
    for (let t = 0; t < m; t++) {
      const { entriesAt, offsetsAt } = tablePlace(this.tablesAt, m, slots, bits, t);
      this.words.set(entries[t], entriesAt / 4);
      this.words.set(offsets[t].offsets, offsetsAt / 4);
      if (offsets[t].packed) packed |= 1 << t;
    }
    this.setTables(m, slots, bits, packed);
  }

  private setTables(m: number, slots: number, bits: number, packed: number): void {
    const h = this.header;
    for (let t = 0; t < m; t++) {
      const { entriesAt, offsetsAt } = tablePlace(this.tablesAt, m, slots, bits, t);
      h[H_TABLE_AT + 2 * t] = offsetsAt;
      h[H_TABLE_AT + 2 * t + 1] = entriesAt;
    }
    h[H_PACKED] = packed;
    h[H_BITS] = bits;
    h[H_TABLES] = m;
    h[H_INDEXED] = slots;
    h[H_LAYOUT]++;
  }

  /** Drops the tables (too few codes left to pay for them); the caller holds the write lock. */
  dropTables(): void {
    const h = this.header;
    h[H_TABLES] = 0;
    h[H_BITS] = 0;
    h[H_INDEXED] = 0;
    h[H_LAYOUT]++;
  }

  /** Moves live slots down over dead ones, keeping their order; the caller holds the write lock and rebuilds the tables after. */
  compact(): void {
    this.renewViews();
    const w = this.words;
    const slots = this.slots;
    const codesW = CODES_AT / 4;
    const ownersW = this.ownersAt / 4;
    const liveW = this.liveAt / 4;
    let to = 0;
    for (let from = 0; from < slots; from++) {
      if (!this.isLive(from)) continue;
      if (from !== to) {
        w.copyWithin(codesW + to * CODE_WORDS, codesW + from * CODE_WORDS, codesW + (from + 1) * CODE_WORDS);
        w[ownersW + to] = w[ownersW + from];
      }
      to++;
    }
    w.fill(0, liveW, liveW + Math.ceil(slots / 32));
    for (let s = 0; s < to; s++) w[liveW + (s >>> 5)] |= 1 << (s & 31);
    const h = this.header;
    h[H_DEAD] = 0;
    h[H_TABLES] = 0;
    h[H_INDEXED] = 0;
    Atomics.store(h, H_SLOTS, to);
    h[H_LAYOUT]++;
  }

  /** Each live slot in [from, to) with its owner. */
  forEachLive(from: number, to: number, visit: (slot: number, owner: number) => void): void {
    this.renewViews();
    for (let s = from; s < to; s++) if (this.isLive(s)) visit(s, this.words[this.ownersAt / 4 + s]);
  }

  // Search side.

  /**
   * Appends to `hits[i]` every live entry within `radius` of query i (8 words
   * each, one after the other in `qs`). The caller holds the read lock.
   *
   * Table by table for the whole batch, its queries in order of their
   * substring: the buckets one query probes lie near the previous query's, so
   * a batch reads the table's offsets and entries in order rather than at
   * random (bench:index reports the gain as `batchSpeedup`).
   */
  searchBatch(qs: Uint32Array, count: number, radius: number, hits: RangeHit[][], scanWhenCheaper: boolean): void {
    if (count > MAX_BATCH) throw new RangeError(`at most ${MAX_BATCH} queries a batch, got ${count}`);
    this.renewViews();
    const slots = this.slots;
    const indexed = this.indexed;
    let scanFrom = 0;
    if (this.header[H_TABLES] > 0 && this.tablesPay(radius, scanWhenCheaper)) {
      for (let t = 0; t < this.header[H_TABLES]; t++) {
        if (this.tableRadius[t] < 0) continue;
        if (count === 1) {
          this.searchTable(t, qs, 0, radius, hits[0]);
          continue;
        }
        const order = this.bySubstring(qs, count, t);
        for (let j = 0; j < count; j++) {
          const i = order[j] % MAX_BATCH;
          this.searchTable(t, qs, i * CODE_WORDS, radius, hits[i]);
        }
      }
      scanFrom = indexed;
    }
    if (scanFrom < slots) for (let i = 0; i < count; i++) this.scanSlots(scanFrom, slots, qs, i * CODE_WORDS, radius, hits[i]);
  }

  /** The batch's queries in order of their substring for table t, each as substring * MAX_BATCH + query. */
  private bySubstring(qs: Uint32Array, count: number, t: number): Float64Array {
    const bits = this.header[H_BITS];
    const { word, offset } = substringPosition(t, bits);
    if (this.order.length < count) this.order = new Float64Array(Math.max(count, 2 * this.order.length));
    const order = this.order.subarray(0, count);
    for (let i = 0; i < count; i++) order[i] = substringOf(qs, i * CODE_WORDS, word, offset, bits) * MAX_BATCH + i;
    return order.sort();
  }

  /** Sets per-table radii; whether probing the tables is expected to beat scanning and fits the scratch. */
  private tablesPay(radius: number, scanWhenCheaper: boolean): boolean {
    if (radius > MAX_MIH_RADIUS) return false;
    const m = this.header[H_TABLES];
    const bits = this.header[H_BITS];
    // Radii with sum(r_t + 1) = radius + 1 > radius, differing by at most one.
    const share = Math.floor((radius + 1) / m);
    const extra = radius + 1 - share * m;
    let cost = 0;
    const perBucket = this.indexed / 2 ** bits;
    for (let t = 0; t < m; t++) {
      const r = t < extra ? share : share - 1;
      this.tableRadius[t] = r;
      if (r < 0) continue;
      const volume = ballVolume(bits, r);
      if (volume > RANGE_CAPACITY) return false;
      cost += volume * (1 + perBucket);
    }
    return !scanWhenCheaper || cost * SCAN_COST_RATIO < this.indexed;
  }

  /**
   * One table in the module's three steps (bucket ranges, gather, verify), each
   * a loop whose loads do not wait on each other, so the CPU keeps many cache
   * misses in flight. More candidates than the scratch holds: verified in JS.
   */
  private searchTable(t: number, qs: Uint32Array, q: number, radius: number, hits: RangeHit[]): void {
    const h = this.header;
    const bits = h[H_BITS];
    const { word, offset } = substringPosition(t, bits);
    const packed = ((h[H_PACKED] >>> t) & 1) === 1;
    const ranges = this.probe(this.offsetsAt(t), packed ? 1 : 0, substringOf(qs, q, word, offset, bits), bits, this.tableRadius[t], this.rangesAt);
    const entriesAt = this.entriesAt(t);
    const candidates = this.gather(entriesAt, this.rangesAt, ranges, this.candidatesAt, CANDIDATE_CAPACITY);
    if (candidates > CANDIDATE_CAPACITY) {
      this.searchRangesInJs(t, ranges, entriesAt, qs, q, radius, hits);
      return;
    }
    this.putQuery(qs, q);
    const found = this.verify(CODES_AT, this.candidatesAt, candidates, this.queryAt, radius, this.hitsAt);
    const w = this.words;
    for (let i = 0, at = this.hitsAt / 4; i < found; i++, at += 2) {
      const slot = w[at];
      if (this.isLive(slot) && !this.foundInEarlierTable(slot, t, qs, q)) hits.push({ owner: w[this.ownersAt / 4 + slot], distance: w[at + 1] });
    }
  }

  private searchRangesInJs(t: number, ranges: number, entriesAt: number, qs: Uint32Array, q: number, radius: number, hits: RangeHit[]): void {
    const w = this.words;
    for (let i = 0, r = this.rangesAt / 4; i < ranges; i++, r += 2) {
      for (let e = w[r], end = w[r + 1]; e < end; e++) {
        const slot = w[entriesAt / 4 + e];
        const d = this.distance(slot, qs, q);
        if (d <= radius && this.isLive(slot) && !this.foundInEarlierTable(slot, t, qs, q)) hits.push({ owner: w[this.ownersAt / 4 + slot], distance: d });
      }
    }
  }

  private scanSlots(from: number, to: number, qs: Uint32Array, q: number, radius: number, hits: RangeHit[]): void {
    const w = this.words;
    this.putQuery(qs, q);
    for (let first = from; first < to; first += CANDIDATE_CAPACITY) {
      const found = this.scan(CODES_AT, first, Math.min(CANDIDATE_CAPACITY, to - first), this.queryAt, radius, this.hitsAt);
      for (let i = 0, at = this.hitsAt / 4; i < found; i++) {
        const slot = first + w[at + i];
        if (this.isLive(slot)) hits.push({ owner: w[this.ownersAt / 4 + slot], distance: this.distance(slot, qs, q) });
      }
    }
  }

  /** Copies the query at word `q` of `qs` to this thread's scratch, where the module reads it. */
  private putQuery(qs: Uint32Array, q: number): void {
    const w = this.words;
    for (let i = 0, at = this.queryAt / 4; i < CODE_WORDS; i++) w[at + i] = qs[q + i];
  }

  /** A match is reported by the first table whose probe ball holds it, so once. */
  private foundInEarlierTable(slot: number, t: number, qs: Uint32Array, q: number): boolean {
    const bits = this.header[H_BITS];
    const base = CODES_AT / 4 + slot * CODE_WORDS;
    for (let j = 0; j < t; j++) {
      const r = this.tableRadius[j];
      if (r < 0) continue;
      const { word, offset } = substringPosition(j, bits);
      if (popcount32(substringOf(this.words, base, word, offset, bits) ^ substringOf(qs, q, word, offset, bits)) <= r) return true;
    }
    return false;
  }

  private distance(slot: number, qs: Uint32Array, q: number): number {
    const w = this.words;
    const p = CODES_AT / 4 + slot * CODE_WORDS;
    let d = 0;
    for (let i = 0; i < CODE_WORDS; i++) d += popcount32(w[p + i] ^ qs[q + i]);
    return d;
  }

  private isLive(slot: number): boolean {
    return ((this.words[this.liveAt / 4 + (slot >>> 5)] >>> (slot & 31)) & 1) === 1;
  }

  /** Byte address of table t's offsets: header words are signed, addresses of a full shard's tables pass 2 GiB. */
  private offsetsAt(t: number): number {
    return this.header[H_TABLE_AT + 2 * t] >>> 0;
  }

  /** Byte address of table t's entries (see offsetsAt). */
  private entriesAt(t: number): number {
    return this.header[H_TABLE_AT + 2 * t + 1] >>> 0;
  }

  private offsetsLength(t: number): number {
    const h = this.header;
    const bits = h[H_BITS];
    return ((h[H_PACKED] >>> t) & 1) === 1 ? ((2 ** bits >>> 4) + 1) * 5 : 2 ** bits + 1;
  }

  private growTo(bytes: number): void {
    const pages = Math.ceil(bytes / WASM_PAGE);
    const have = this.memory.buffer.byteLength / WASM_PAGE;
    if (pages > have) this.memory.grow(pages - have);
    this.renewViews();
  }

  /** Takes a new view when the memory grew (a search thread sees another thread's growth here). */
  private renewViews(): void {
    const buffer = this.memory.buffer;
    if (buffer.byteLength === this.viewBytes) return;
    this.words = new Uint32Array(buffer);
    this.viewBytes = buffer.byteLength;
  }
}

/** The most bytes tables over up to `capacity` codes can take: entries and plain offsets of every table. */
function maxTablesBytes(capacity: number, tableCount?: number): number {
  let most = 0;
  // Table counts fall as codes grow; each count's largest size is where the next count starts, or the capacity.
  for (let n = Math.min(capacity, 4096); ; n = Math.min(capacity, Math.ceil(n * 1.05))) {
    const m = tableCount ?? tableCountFor(n);
    const bits = Math.floor(256 / m);
    most = Math.max(most, m * (align(n * 4) + align(maxOffsetsBytes(bits))));
    if (n >= capacity) return most;
  }
}
