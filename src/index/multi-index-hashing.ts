/**
 * Exact Hamming range search by multi-index hashing (Norouzi, Punjani and Fleet,
 * "Fast Exact Search in Hamming Space with Multi-Index Hashing", TPAMI 2014).
 *
 * Each code is cut into m disjoint substrings of b bits, one hash table per
 * substring. If d(q, x) <= r and the tables are probed with radii r_t such
 * that sum(r_t + 1) > r, some substring of x is within r_t of q's (pigeonhole),
 * so probing every key within r_t of q's substring in each table and verifying
 * candidates by full distance finds every match. Bits past m * b stay out of
 * the tables (their buckets would double the offsets memory) but are verified.
 *
 * Layout: codes live in a CodeArena, one slot per distinct code, with its first
 * owner in `slotOwner` and any further owners in `extraOwners` (rare). Tables
 * are in CSR form over the slots [0, indexedSlots); slots added since (the
 * delta) are scanned on each query until the next rebuild folds them in and
 * re-tunes m to the size. Removal clears the slot's live bit at once; rebuilds
 * compact dead slots away.
 *
 * With WebAssembly the tables live in the code arena's tail, beside the codes,
 * and each table is searched in the module in three steps (bucket ranges,
 * gather, verify; popcount-scan.wat), each a loop whose loads do not wait on
 * each other. A search is bound by cache misses, and these loops keep many in
 * flight: about 50 µs per r = 31 query at 1M, 125 µs with the tables in JS
 * arrays (no WebAssembly, or too big for wasm32 memory beside the codes).
 */
import { CodeArena, SCAN_CHUNK, readCodeWords } from './code-arena.js';
import { radixSortPairs, sortSlotsByKey } from './radix-sort.js';
import { checkBatch, checkOwner, checkRadius } from './brute-force.js';
import type { HammingRangeIndex, RangeHit } from './types.js';
import { popcount32 } from '../hashing/hamming.js';

const CODE_BITS = 256;
/** A module-local copy: an imported binding can cost a getter call per use under CJS transpilers. */
const CODE_WORDS = 8;
/** Largest radius answered through the tables; above it substrings are too short to filter. */
export const MAX_MIH_RADIUS = 64;
/** Below this many distinct codes a scan beats any table. */
const MIN_TABLE_CODES = 4096;
/** A probe or a candidate costs a random memory access; a scanned code costs a streamed one. */
const SCAN_COST_RATIO = 16;

export interface MultiIndexHashingOptions {
  /** Use the WebAssembly popcount scan for the delta and the fallback (default true). */
  wasm?: boolean;
  /** Fix the number of tables instead of following the size (tests). */
  tableCount?: number;
  /** Fix the delta size that triggers a rebuild instead of following the size (tests). */
  deltaLimit?: number;
  /** Scan instead of probing when a scan is expected to be faster (default true; tests turn it off). */
  scanWhenCheaper?: boolean;
  /** Bytes the WebAssembly memory may grow to (default and most: wasm32's 4 GiB; tests set less). */
  wasmMemoryLimit?: number;
}

interface Table {
  /** First word and bit offset of the substring. */
  word: number;
  offset: number;
  /**
   * Bucket k holds entries[start(k) .. start(k + 1)). Packed: 5 words per block
   * of 16 buckets, the block's first start then 16 one-byte offsets from it,
   * so a probe touches one cache line; plain (a block held 256+ entries):
   * start(k) = offsets[k].
   */
  offsets: Uint32Array;
  packed: boolean;
  entries: Uint32Array;
  /** In the arena's tail: byte positions of offsets and entries from the tail's start (-1 for JS arrays), and the offsets' length. */
  offsetsAt: number;
  entriesAt: number;
  offsetsLength: number;
}

/** Bucket ranges and candidates (and hits) one table's WebAssembly steps hold at first; grown when a query needs more. */
const INITIAL_RANGES = 1 << 12;
const INITIAL_CANDIDATES = 1 << 16;

export interface IndexShape {
  tableCount: number;
  substringBits: number;
  indexedCodes: number;
  deltaCodes: number;
  /** Where the tables are: beside the codes in WebAssembly memory, or JS arrays (no WebAssembly, or too big for wasm32). */
  tablesIn: 'wasm' | 'js' | 'none';
}

/** Number of b-bit keys within distance r of a key, as a float (sum of binomials). */
function ballVolume(bits: number, radius: number): number {
  let volume = 0;
  let term = 1;
  for (let k = 0; k <= radius && k <= bits; k++) {
    volume += term;
    term = (term * (bits - k)) / (k + 1);
  }
  return volume;
}

/** Substrings of 8 to 25 bits: Gosper's enumeration stays within int32 and 2^b-bucket tables within memory. */
const MAX_TABLES = 32;
const MIN_TABLES = 10;

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

export class MultiIndexHashing implements HammingRangeIndex {
  private readonly arena: CodeArena;
  private slotOwner = new Uint32Array(0);
  /** One bit per slot: set while the slot has an owner. */
  private live = new Uint32Array(0);
  private readonly extraOwners = new Map<number, number[]>();
  private slotCount = 0;
  private indexedSlots = 0;
  private deadSlots = 0;
  private entryCount = 0;
  private tables: Table[] = [];
  private substringBits = 0;
  /** Per-table radius of the current query (-1: table not probed). */
  private tableRadius = new Int32Array(0);
  private readonly query = new Uint32Array(CODE_WORDS);
  /** Per-query scratch, grown on demand and kept: probe keys, their bucket ranges, candidate slots. */
  private probeKeys = new Int32Array(1024);
  private probeStarts = new Uint32Array(1024);
  private probeEnds = new Uint32Array(1024);
  private candidates = new Uint32Array(4096);
  /**
   * Tables in the arena's tail: the scratch after them, in bytes from the
   * tail's start (bucket ranges, 8 bytes each; candidates, 4; hit pairs, 8),
   * and a view on its hit pairs.
   */
  private scratchAt = 0;
  private rangeCapacity = 0;
  private scratchCapacity = 0;
  private hitPairs = new Uint32Array(0);
  private viewGeneration = -1;
  /** Where the prefetch loop's result goes, so the JIT cannot drop the loop as dead. */
  private touchSink = 0;
  private readonly options: MultiIndexHashingOptions;

  constructor(options: MultiIndexHashingOptions = {}) {
    const m = options.tableCount;
    if (m !== undefined && (!Number.isInteger(m) || m < MIN_TABLES || m > MAX_TABLES)) {
      throw new RangeError(`tableCount must be an integer in ${MIN_TABLES}..${MAX_TABLES}, got ${m}`);
    }
    this.options = options;
    this.arena = new CodeArena(1024, options.wasm ?? true, options.wasmMemoryLimit);
    this.reserveSlots(1024);
  }

  get size(): number {
    return this.entryCount;
  }

  get shape(): IndexShape {
    return {
      tableCount: this.tables.length,
      substringBits: this.substringBits,
      indexedCodes: this.indexedSlots,
      deltaCodes: this.slotCount - this.indexedSlots,
      tablesIn: this.tables.length === 0 ? 'none' : this.scratchCapacity > 0 ? 'wasm' : 'js',
    };
  }

  /** Bytes held by the index's typed arrays (capacity included). */
  get byteLength(): number {
    let bytes = this.arena.byteLength + this.slotOwner.byteLength + this.live.byteLength;
    // Tables in the arena's tail are counted in its byteLength.
    if (this.scratchCapacity === 0) for (const t of this.tables) bytes += t.entries.byteLength + t.offsets.byteLength;
    for (const owners of this.extraOwners.values()) bytes += 8 * owners.length + 64;
    return bytes;
  }

  add(code: Uint8Array, owner: number): void {
    checkOwner(owner);
    readCodeWords(code, this.query);
    this.addWords(this.query, owner);
    this.rebuildIfDue();
  }

  addMany(codes: Uint8Array, owners: ArrayLike<number>): void {
    checkBatch(codes, owners);
    const n = owners.length;
    if (this.slotCount - this.indexedSlots + n <= this.deltaLimit()) {
      for (let i = 0; i < n; i++) {
        readCodeWords(codes.subarray(i * 32, i * 32 + 32), this.query);
        this.addWords(this.query, owners[i]);
      }
      return;
    }
    // A batch that forces a rebuild is appended as is; the rebuild merges identical codes.
    this.reserveSlots(this.slotCount + n);
    const words = this.arena.words;
    for (let i = 0; i < n; i++) {
      const slot = this.slotCount++;
      for (let j = 0, b = i * 32, p = slot * CODE_WORDS; j < CODE_WORDS; j++, b += 4) {
        words[p + j] = ((codes[b] << 24) | (codes[b + 1] << 16) | (codes[b + 2] << 8) | codes[b + 3]) >>> 0;
      }
      this.slotOwner[slot] = owners[i];
      this.live[slot >>> 5] |= 1 << (slot & 31);
    }
    this.entryCount += n;
    this.rebuild(true);
  }

  remove(code: Uint8Array, owner: number): boolean {
    readCodeWords(code, this.query);
    const slot = this.findSlot(this.query);
    // A dead slot keeps its last owner's id but owns nothing.
    if (slot < 0 || !this.isLive(slot)) return false;
    const extra = this.extraOwners.get(slot);
    if (this.slotOwner[slot] === owner) {
      if (extra) {
        this.slotOwner[slot] = extra.pop()!;
        if (extra.length === 0) this.extraOwners.delete(slot);
      } else {
        this.live[slot >>> 5] &= ~(1 << (slot & 31));
        this.deadSlots++;
      }
    } else {
      const at = extra ? extra.indexOf(owner) : -1;
      if (at < 0) return false;
      extra!.splice(at, 1);
      if (extra!.length === 0) this.extraOwners.delete(slot);
    }
    this.entryCount--;
    if (this.deadSlots > Math.max(MIN_TABLE_CODES, this.slotCount >>> 2)) this.rebuild(false);
    return true;
  }

  search(query: Uint8Array, radius: number): RangeHit[] {
    checkRadius(radius);
    const q = this.query;
    readCodeWords(query, q);
    const hits: RangeHit[] = [];
    if (this.tables.length > 0 && this.tablesPay(radius)) {
      // An add may have grown the arena since the views were taken (moving the tables, or replacing its memory).
      this.syncTableViews();
      if (this.scratchCapacity > 0) this.searchTablesInArena(q, radius, hits);
      else this.searchTables(q, radius, hits);
      this.scanSlots(this.indexedSlots, this.slotCount, q, radius, hits);
    } else {
      this.scanSlots(0, this.slotCount, q, radius, hits);
    }
    return hits;
  }

  /** Rebuilds the tables over every live code now (compacts, re-tunes m). */
  rebuild(mergeIdentical = false): void {
    if (mergeIdentical) this.mergeIdenticalCodes();
    this.compact();
    this.buildTables();
  }

  private deltaLimit(): number {
    return this.options.deltaLimit ?? Math.max(MIN_TABLE_CODES, this.indexedSlots >>> 7);
  }

  private rebuildIfDue(): void {
    if (this.slotCount - this.indexedSlots > this.deltaLimit()) this.rebuild(false);
  }

  private addWords(words: Uint32Array, owner: number): void {
    const slot = this.findSlot(words);
    if (slot >= 0 && this.isLive(slot)) {
      if (this.slotOwner[slot] === owner) return;
      const extra = this.extraOwners.get(slot);
      if (extra) {
        if (extra.includes(owner)) return;
        extra.push(owner);
      } else {
        this.extraOwners.set(slot, [owner]);
      }
    } else if (slot >= 0) {
      // A removed code comes back in its old slot, which the tables still list.
      this.slotOwner[slot] = owner;
      this.live[slot >>> 5] |= 1 << (slot & 31);
      this.deadSlots--;
    } else {
      this.reserveSlots(this.slotCount + 1);
      const fresh = this.slotCount++;
      this.arena.words.set(words, fresh * CODE_WORDS);
      this.slotOwner[fresh] = owner;
      this.live[fresh >>> 5] |= 1 << (fresh & 31);
    }
    this.entryCount++;
  }

  private isLive(slot: number): boolean {
    return ((this.live[slot >>> 5] >>> (slot & 31)) & 1) === 1;
  }

  /** The slot holding exactly these words, live or dead, or -1. */
  private findSlot(words: Uint32Array): number {
    const arena = this.arena;
    // Without tables (too few codes to pay for them) every slot is scanned, not only the delta.
    let scanFrom = 0;
    if (this.tables.length > 0) {
      scanFrom = this.indexedSlots;
      this.syncTableViews();
      const table = this.tables[0];
      const key = this.substring(words, 0, table);
      const end = this.bucketStart(table, key + 1);
      for (let e = this.bucketStart(table, key); e < end; e++) {
        const slot = table.entries[e];
        if (arena.equals(slot, words)) return slot;
      }
    }
    for (let slot = scanFrom; slot < this.slotCount; slot++) if (arena.equals(slot, words)) return slot;
    return -1;
  }

  private reserveSlots(slots: number): void {
    if (slots <= this.slotOwner.length) return;
    // Grow by a quarter: bulk loads reserve exactly, single adds amortize.
    const capacity = Math.max(slots, Math.ceil(this.slotCount * 1.25));
    if (this.scratchCapacity > 0 && !this.arena.tailFits(this.arena.tailLength, capacity)) this.moveTablesToJs();
    this.arena.reserve(capacity, this.slotCount);
    const owner = new Uint32Array(capacity);
    owner.set(this.slotOwner.subarray(0, this.slotCount));
    this.slotOwner = owner;
    const live = new Uint32Array(Math.ceil(capacity / 32));
    live.set(this.live);
    this.live = live;
  }

  private substring(words: Uint32Array, base: number, table: Pick<Table, 'word' | 'offset'>): number {
    const b = this.substringBits;
    const high = words[base + table.word] << table.offset;
    const value = table.offset + b > 32 ? high | (words[base + table.word + 1] >>> (32 - table.offset)) : high;
    return value >>> (32 - b);
  }

  private bucketStart(table: Table, key: number): number {
    return table.packed ? packedStart(table.offsets, key) : table.offsets[key];
  }

  /** Whether probing the tables is expected to beat scanning every code. */
  private tablesPay(radius: number): boolean {
    if (radius > MAX_MIH_RADIUS) return false;
    this.assignTableRadii(radius);
    if (this.options.scanWhenCheaper === false) return true;
    const b = this.substringBits;
    const perBucket = this.indexedSlots / 2 ** b;
    let cost = 0;
    for (let t = 0; t < this.tables.length; t++) {
      if (this.tableRadius[t] >= 0) cost += ballVolume(b, this.tableRadius[t]) * (1 + perBucket);
    }
    return cost * SCAN_COST_RATIO < this.indexedSlots;
  }

  /** Radii with sum(r_t + 1) = radius + 1 > radius, differing by at most one. */
  private assignTableRadii(radius: number): void {
    const m = this.tables.length;
    const share = Math.floor((radius + 1) / m);
    const extra = radius + 1 - share * m;
    for (let t = 0; t < m; t++) this.tableRadius[t] = t < extra ? share : share - 1;
  }

  /**
   * Per table, in three passes: the probe keys, their bucket ranges, then the
   * candidates' verification. Each pass's loads do not wait on each other, so
   * the CPU overlaps their cache misses, which a probe-at-a-time loop cannot.
   */
  private searchTables(q: Uint32Array, radius: number, hits: RangeHit[], fromTable = 0): void {
    const tables = this.tables;
    const b = this.substringBits;
    const limit = 2 ** b;
    const w = this.arena.words;
    const live = this.live;
    const q0 = q[0], q1 = q[1], q2 = q[2], q3 = q[3], q4 = q[4], q5 = q[5], q6 = q[6], q7 = q[7];
    for (let t = fromTable; t < tables.length; t++) {
      const tableRadius = this.tableRadius[t];
      if (tableRadius < 0) continue;
      const { offsets, packed, entries } = tables[t];
      const key = this.substring(q, 0, tables[t]);

      const volume = ballVolume(b, tableRadius);
      if (volume > this.probeKeys.length) this.growProbes(volume);
      const probeKeys = this.probeKeys;
      let probeCount = 0;
      for (let k = 0; k <= tableRadius; k++) {
        // Gosper's hack: every b-bit mask with k bits set, in increasing order.
        let mask = (1 << k) - 1;
        while (mask < limit) {
          probeKeys[probeCount++] = key ^ mask;
          if (k === 0) break;
          const lowest = mask & -mask;
          const ripple = mask + lowest;
          mask = ripple | (((ripple ^ mask) >>> 2) >>> (31 - Math.clz32(lowest)));
        }
      }

      const starts = this.probeStarts;
      const ends = this.probeEnds;
      let candidateCount = 0;
      for (let i = 0; i < probeCount; i++) {
        const probe = probeKeys[i];
        const start = packed ? packedStart(offsets, probe) : offsets[probe];
        const end = packed ? packedStart(offsets, probe + 1) : offsets[probe + 1];
        starts[i] = start;
        ends[i] = end;
        candidateCount += end - start;
      }
      if (candidateCount > this.candidates.length) this.candidates = new Uint32Array(candidateCount * 2);
      const candidates = this.candidates;
      for (let i = 0, c = 0; i < probeCount; i++) {
        for (let e = starts[i], end = ends[i]; e < end; e++) candidates[c++] = entries[e];
      }

      // Verifying takes ~100 instructions per candidate, too many for the CPU to run
      // ahead to the next candidates' loads; a bare loop over them first lets those
      // cache misses overlap, and verification then finds the codes in cache.
      let touched = 0;
      for (let c = 0; c < candidateCount; c++) touched ^= w[candidates[c] * CODE_WORDS];
      this.touchSink = touched;

      for (let c = 0; c < candidateCount; c++) {
        const slot = candidates[c];
        const p = slot * CODE_WORDS;
        // Most candidates are about 128 bits away: the first half usually settles it.
        const half = popcount32(w[p] ^ q0) + popcount32(w[p + 1] ^ q1) + popcount32(w[p + 2] ^ q2) + popcount32(w[p + 3] ^ q3);
        if (half > radius) continue;
        const d = half + popcount32(w[p + 4] ^ q4) + popcount32(w[p + 5] ^ q5) + popcount32(w[p + 6] ^ q6) + popcount32(w[p + 7] ^ q7);
        if (d > radius || ((live[slot >>> 5] >>> (slot & 31)) & 1) === 0) continue;
        if (this.foundInEarlierTable(slot, t, q)) continue;
        this.pushOwners(slot, d, hits);
      }
    }
  }

  /** searchTables with the tables in the arena's tail: each table's probe, gather and verify steps run in WebAssembly. */
  private searchTablesInArena(q: Uint32Array, radius: number, hits: RangeHit[]): void {
    const arena = this.arena;
    const b = this.substringBits;
    if (!this.reserveScratch(ballVolume(b, this.tableRadius[0]), 0)) {
      this.searchTables(q, radius, hits, 0);
      return;
    }
    arena.setQuery(q);
    const live = this.live;
    for (let t = 0; t < this.tables.length; t++) {
      const tableRadius = this.tableRadius[t];
      if (tableRadius < 0) continue;
      const table = this.tables[t];
      const base = arena.tailOffset;
      const rangesAt = base + this.scratchAt;
      const ranges = arena.probe(base + table.offsetsAt, table.packed, this.substring(q, 0, table), b, tableRadius, rangesAt);
      const candAt = rangesAt + this.rangeCapacity * 8;
      let candidates = arena.gather(base + table.entriesAt, rangesAt, ranges, candAt, this.scratchCapacity);
      if (candidates > this.scratchCapacity) {
        if (!this.reserveScratch(0, candidates)) {
          this.searchTables(q, radius, hits, t);
          return;
        }
        // Growing moved nothing before the candidates: ranges and tables stay where they are.
        candidates = arena.gather(base + table.entriesAt, rangesAt, ranges, candAt, this.scratchCapacity);
      }
      const found = arena.verify(candAt, candidates, radius, candAt + this.scratchCapacity * 4);
      const pairs = this.hitPairs;
      for (let i = 0, at = 0; i < found; i++, at += 2) {
        const slot = pairs[at];
        if (((live[slot >>> 5] >>> (slot & 31)) & 1) === 0 || this.foundInEarlierTable(slot, t, q)) continue;
        this.pushOwners(slot, pairs[at + 1], hits);
      }
    }
  }

  /**
   * Room in the tail's scratch for at least `ranges` bucket ranges and
   * `candidates` candidates. False when that does not fit in the arena's
   * memory: the tables have then moved to JS arrays.
   */
  private reserveScratch(ranges: number, candidates: number): boolean {
    if (ranges <= this.rangeCapacity && candidates <= this.scratchCapacity) return true;
    const rangeCapacity = ranges > this.rangeCapacity ? Math.max(ranges, 2 * this.rangeCapacity) : this.rangeCapacity;
    const scratchCapacity = candidates > this.scratchCapacity ? Math.max(candidates, 2 * this.scratchCapacity) : this.scratchCapacity;
    const bytes = this.scratchAt + rangeCapacity * 8 + scratchCapacity * 12;
    if (!this.arena.tailFits(bytes)) {
      this.moveTablesToJs();
      return false;
    }
    this.rangeCapacity = rangeCapacity;
    this.scratchCapacity = scratchCapacity;
    this.arena.resizeTail(bytes);
    this.viewGeneration = -1;
    this.syncTableViews();
    return true;
  }

  /** Copies the tables out of the arena into JS arrays, for when codes and tables no longer fit in its memory together. */
  private moveTablesToJs(): void {
    const buffer = this.arena.buffer;
    const base = this.arena.tailOffset;
    for (const table of this.tables) {
      table.offsets = new Uint32Array(buffer, base + table.offsetsAt, table.offsetsLength).slice();
      table.entries = new Uint32Array(buffer, base + table.entriesAt, this.indexedSlots).slice();
      table.offsetsAt = -1;
      table.entriesAt = -1;
    }
    this.rangeCapacity = 0;
    this.scratchCapacity = 0;
    this.hitPairs = new Uint32Array(0);
    this.arena.resizeTail(0);
  }

  /** Takes new views on the tables and scratch in the arena's tail when the arena's memory changed. */
  private syncTableViews(): void {
    const arena = this.arena;
    if (this.scratchCapacity === 0 || this.viewGeneration === arena.generation) return;
    const buffer = arena.buffer;
    const base = arena.tailOffset;
    for (const table of this.tables) {
      table.offsets = new Uint32Array(buffer, base + table.offsetsAt, table.offsetsLength);
      table.entries = new Uint32Array(buffer, base + table.entriesAt, this.indexedSlots);
    }
    this.hitPairs = new Uint32Array(buffer, base + this.scratchAt + this.rangeCapacity * 8 + this.scratchCapacity * 4, this.scratchCapacity * 2);
    this.viewGeneration = arena.generation;
  }

  private growProbes(volume: number): void {
    this.probeKeys = new Int32Array(volume);
    this.probeStarts = new Uint32Array(volume);
    this.probeEnds = new Uint32Array(volume);
  }

  /** A match is reported by the first table whose probe ball holds it, so once. */
  private foundInEarlierTable(slot: number, t: number, q: Uint32Array): boolean {
    const words = this.arena.words;
    for (let j = 0; j < t; j++) {
      const r = this.tableRadius[j];
      if (r < 0) continue;
      const table = this.tables[j];
      if (popcount32(this.substring(words, slot * CODE_WORDS, table) ^ this.substring(q, 0, table)) <= r) return true;
    }
    return false;
  }

  private pushOwners(slot: number, distance: number, hits: RangeHit[]): void {
    hits.push({ owner: this.slotOwner[slot], distance });
    if (this.extraOwners.size === 0) return;
    const extra = this.extraOwners.get(slot);
    if (extra) for (const owner of extra) hits.push({ owner, distance });
  }

  private scanSlots(from: number, to: number, q: Uint32Array, radius: number, hits: RangeHit[]): void {
    const arena = this.arena;
    for (let first = from; first < to; first += SCAN_CHUNK) {
      const found = arena.scanChunk(first, Math.min(SCAN_CHUNK, to - first), q, radius);
      for (let i = 0; i < found; i++) {
        const slot = first + arena.hits[i];
        if (this.isLive(slot)) this.pushOwners(slot, arena.distance(slot, q), hits);
      }
    }
  }

  /**
   * Folds slots holding the same code into the first of them (after a raw bulk
   * append): sorting live slots by a 32-bit hash of the code brings identical
   * codes next to each other.
   */
  private mergeIdenticalCodes(): void {
    const words = this.arena.words;
    let liveCount = 0;
    for (let slot = 0; slot < this.slotCount; slot++) if (this.isLive(slot)) liveCount++;
    const hashes = new Uint32Array(liveCount);
    const slots = new Uint32Array(liveCount);
    for (let slot = 0, i = 0; slot < this.slotCount; slot++) {
      if (!this.isLive(slot)) continue;
      const p = slot * CODE_WORDS;
      let h = 0x811c9dc5;
      for (let j = 0; j < CODE_WORDS; j++) h = Math.imul(h ^ words[p + j], 0x01000193) ^ (h >>> 15);
      hashes[i] = h >>> 0;
      slots[i++] = slot;
    }
    const sorted = radixSortPairs(hashes, slots, 32, new Uint32Array(liveCount), new Uint32Array(liveCount));
    for (let runStart = 0; runStart < liveCount; ) {
      let runEnd = runStart + 1;
      while (runEnd < liveCount && sorted.keys[runEnd] === sorted.keys[runStart]) runEnd++;
      // Runs are in increasing slot order (the sort is stable), so each code merges into its first slot.
      for (let a = runStart; a < runEnd - 1; a++) {
        const kept = sorted.values[a];
        if (!this.isLive(kept)) continue;
        for (let b = a + 1; b < runEnd; b++) {
          const other = sorted.values[b];
          if (this.isLive(other) && this.sameCode(kept, other)) this.mergeOwners(other, kept);
        }
      }
      runStart = runEnd;
    }
  }

  private sameCode(a: number, b: number): boolean {
    const w = this.arena.words;
    for (let i = 0; i < CODE_WORDS; i++) if (w[a * CODE_WORDS + i] !== w[b * CODE_WORDS + i]) return false;
    return true;
  }

  /** Moves the owners of slot `from` onto slot `into` (same code) and kills `from`. */
  private mergeOwners(from: number, into: number): void {
    const moving = [this.slotOwner[from], ...(this.extraOwners.get(from) ?? [])];
    this.extraOwners.delete(from);
    for (const owner of moving) {
      const extra = this.extraOwners.get(into);
      if (this.slotOwner[into] === owner || extra?.includes(owner)) {
        this.entryCount--;
      } else if (extra) {
        extra.push(owner);
      } else {
        this.extraOwners.set(into, [owner]);
      }
    }
    this.live[from >>> 5] &= ~(1 << (from & 31));
    this.deadSlots++;
  }

  /** Moves live slots down over dead ones, keeping their order. */
  private compact(): void {
    if (this.deadSlots === 0) return;
    const moved = new Map<number, number[]>();
    let to = 0;
    for (let from = 0; from < this.slotCount; from++) {
      if (!this.isLive(from)) continue;
      if (from !== to) {
        this.arena.copy(from, to);
        this.slotOwner[to] = this.slotOwner[from];
      }
      const extra = this.extraOwners.get(from);
      if (extra) moved.set(to, extra);
      to++;
    }
    this.live.fill(0);
    for (let slot = 0; slot < to; slot++) this.live[slot >>> 5] |= 1 << (slot & 31);
    this.extraOwners.clear();
    for (const [slot, owners] of moved) this.extraOwners.set(slot, owners);
    this.slotCount = to;
    this.deadSlots = 0;
  }

  /**
   * The `b`-bit substring at `position` of each of the first `n` codes, into
   * `keys`: this.substring, unrolled for the build's 10M-element loops. The
   * arena's tail grows while tables are built, so its view is taken afresh.
   */
  private substringKeys({ word, offset }: { word: number; offset: number }, b: number, n: number, keys: Uint32Array): void {
    const spills = offset + b > 32;
    const words = this.arena.words;
    for (let slot = 0, p = word; slot < n; slot++, p += CODE_WORDS) {
      const high = words[p] << offset;
      keys[slot] = (spills ? high | (words[p + 1] >>> (32 - offset)) : high) >>> (32 - b);
    }
  }

  private buildTables(): void {
    const n = this.slotCount;
    this.indexedSlots = n;
    this.tables = [];
    this.rangeCapacity = 0;
    this.scratchCapacity = 0;
    this.viewGeneration = -1;
    if (this.arena.usesWasm) this.arena.resizeTail(0);
    if (n < MIN_TABLE_CODES && this.options.tableCount === undefined) {
      this.substringBits = 0;
      return;
    }
    const m = this.options.tableCount ?? tableCountFor(n);
    const b = Math.floor(CODE_BITS / m);
    this.substringBits = b;
    this.tableRadius = new Int32Array(m);
    const buckets = 2 ** b;
    // Tables go to the arena while they fit beside the codes (with the scratch), then all to JS arrays.
    let inArena = this.arena.usesWasm;
    const starts = new Uint32Array(buckets + 1);
    const keys = new Uint32Array(n);
    const scratchKeys = new Uint32Array(n);
    const scratchSlots = new Uint32Array(n);
    // Tables in the arena are sorted in one JS array, then copied to the tail.
    const sorted = inArena ? new Uint32Array(n) : null;
    let tailBytes = 0;
    for (let t = 0; t < m; t++) {
      const entries = inArena ? sorted! : new Uint32Array(n);
      const position = { word: (t * b) >>> 5, offset: (t * b) & 31 };
      this.substringKeys(position, b, n, keys);
      sortSlotsByKey(keys, b, entries, scratchKeys, scratchSlots);
      for (let k = 0, e = 0; k <= buckets; k++) {
        while (e < n && keys[e] < k) e++;
        starts[k] = e;
      }
      const { offsets, packed } = compressOffsets(starts, buckets);
      const offsetsAt = tailBytes;
      const entriesAt = alignToLine(offsetsAt + offsets.byteLength);
      if (inArena && !this.arena.tailFits(alignToLine(entriesAt + n * 4) + INITIAL_RANGES * 8 + INITIAL_CANDIDATES * 12)) {
        if (this.tables.length > 0) this.moveTablesToJs();
        inArena = false;
      }
      if (!inArena) {
        this.tables.push({ ...position, offsets, packed, entries: entries === sorted ? entries.slice() : entries, offsetsAt: -1, entriesAt: -1, offsetsLength: offsets.length });
        continue;
      }
      tailBytes = alignToLine(entriesAt + n * 4);
      this.arena.resizeTail(tailBytes);
      const base = this.arena.tailOffset;
      new Uint32Array(this.arena.buffer, base + offsetsAt, offsets.length).set(offsets);
      new Uint32Array(this.arena.buffer, base + entriesAt, n).set(entries);
      this.tables.push({ ...position, offsets, packed, entries, offsetsAt, entriesAt, offsetsLength: offsets.length });
    }
    if (inArena) {
      this.scratchAt = tailBytes;
      this.reserveScratch(INITIAL_RANGES, INITIAL_CANDIDATES);
    }
  }
}

function alignToLine(bytes: number): number {
  return Math.ceil(bytes / 64) * 64;
}

const PACKED_BLOCK_WORDS = 5;

function packedStart(offsets: Uint32Array, key: number): number {
  const block = (key >>> 4) * PACKED_BLOCK_WORDS;
  const j = key & 15;
  return offsets[block] + ((offsets[block + 1 + (j >>> 2)] >>> ((j & 3) << 3)) & 255);
}

/** Bucket starts (length buckets + 1) in the packed layout when every block of 16 buckets holds under 256 entries. */
function compressOffsets(starts: Uint32Array, buckets: number): Pick<Table, 'offsets' | 'packed'> {
  const blocks = buckets >>> 4;
  for (let block = 0; block < blocks; block++) {
    if (starts[(block + 1) << 4] - starts[block << 4] >= 256) return { offsets: starts.slice(), packed: false };
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
