import { MultiIndexHashing } from '../index/multi-index-hashing.js';
import type { HammingRangeIndex } from '../index/types.js';
import { type KnownSignalType, SIGNAL_TYPES } from '../hashing/registry.js';
import type { SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { ExactHashIndex } from './exact-index.js';

export interface IndexHit {
  signalId: number;
  distance: number;
}

/** One hash to look up: its signal type, its bytes, and how far a match may be (ignored by exact types). */
export interface IndexQuery {
  type: string;
  code: Uint8Array;
  radius: number;
}

/**
 * What the Matcher searches: the indexes in this thread (SignalIndexes) or in
 * a worker thread (WorkerSignalIndexes). Either follows every committed store
 * write, so a search made after a write returns sees it.
 */
export interface SignalSearcher {
  /** Per query, the signals of its type and of this owner kind within its radius (exact types: equal hashes, distance 0). */
  searchMany(owner: SignalOwnerKind, queries: readonly IndexQuery[]): IndexHit[][] | Promise<IndexHit[][]>;
  /** Number of (hash, signal) entries for one type and owner kind. */
  size(owner: SignalOwnerKind, type: string): number;
  /** Stops following the store. */
  close(): void;
}

export interface SignalIndexesOptions {
  /** Signals read from the store per chunk while loading. */
  chunkSize?: number;
}

type TypeIndex = { kind: 'hamming'; index: HammingRangeIndex } | { kind: 'exact'; index: ExactHashIndex };

/**
 * One in-memory index per signal type and owner kind, with no store of its
 * own: multi-index hashing for perceptual types, a hash map for exact ones.
 * Content signals and victims' signals live in separate indexes so that a
 * search for one can never return the other.
 */
export class IndexSet {
  /** By owner kind, then type name (two lookups rather than a key string made on every search). */
  private readonly indexes = new Map<SignalOwnerKind, Map<string, TypeIndex>>();

  constructor() {
    for (const owner of ['content', 'case'] as const) {
      const byType = new Map<string, TypeIndex>();
      this.indexes.set(owner, byType);
      for (const type of SIGNAL_TYPES) {
        byType.set(
          type.name,
          type.comparison === 'hamming' ? { kind: 'hamming', index: new MultiIndexHashing() } : { kind: 'exact', index: new ExactHashIndex(type.bytes) },
        );
      }
    }
  }

  /** Adds many signals of one type and owner kind at once (one table build). */
  fill(owner: SignalOwnerKind, type: string, codes: Uint8Array, ids: ArrayLike<number>): void {
    this.get(owner, type).index.addMany(codes, ids);
  }

  /** Applies one committed store write. */
  apply(change: SignalChange): void {
    for (const batch of change.batches) {
      const { index } = this.get(batch.owner, batch.type);
      if (change.op === 'add') {
        index.addMany(batch.codes, batch.ids);
        continue;
      }
      const bytes = batch.codes.length / batch.count;
      for (let i = 0; i < batch.count; i++) index.remove(batch.codes.subarray(i * bytes, (i + 1) * bytes), batch.ids[i]);
    }
  }

  size(owner: SignalOwnerKind, type: string): number {
    return this.get(owner, type).index.size;
  }

  /** Signals of `type` within `radius` of `code` (exact types: equal hashes only, distance 0). */
  search(owner: SignalOwnerKind, type: string, code: Uint8Array, radius: number): IndexHit[] {
    const entry = this.get(owner, type);
    if (entry.kind === 'exact') return entry.index.lookup(code).map((signalId) => ({ signalId, distance: 0 }));
    return entry.index.search(code, radius).map((hit) => ({ signalId: hit.owner, distance: hit.distance }));
  }

  searchMany(owner: SignalOwnerKind, queries: readonly IndexQuery[]): IndexHit[][] {
    return queries.map(({ type, code, radius }) => this.search(owner, type, code, radius));
  }

  private get(owner: SignalOwnerKind, type: string): TypeIndex {
    const entry = this.indexes.get(owner)?.get(type);
    if (!entry) throw new RangeError(`no index for signal type ${JSON.stringify(type)}`);
    return entry;
  }
}

/**
 * The indexes in this thread, mirroring the store: `load` fills them from the
 * store and then follows every committed store write through
 * `Store.subscribe`: a delete (a victim withdrawing her case, say) has left
 * the index by the time the store call returns. Loading is synchronous, so no
 * write of this process can fall between the load and the subscription.
 */
export class SignalIndexes implements SignalSearcher {
  private readonly set = new IndexSet();
  private readonly unsubscribe: () => void;

  private constructor(store: Store, options: SignalIndexesOptions) {
    forEachStoredIndex(store, options, (owner, type, codes, ids) => this.set.fill(owner, type.name, codes, ids));
    this.unsubscribe = store.subscribe((change) => this.set.apply(change));
  }

  static load(store: Store, options: SignalIndexesOptions = {}): SignalIndexes {
    return new SignalIndexes(store, options);
  }

  size(owner: SignalOwnerKind, type: string): number {
    return this.set.size(owner, type);
  }

  search(owner: SignalOwnerKind, type: string, code: Uint8Array, radius: number): IndexHit[] {
    return this.set.search(owner, type, code, radius);
  }

  searchMany(owner: SignalOwnerKind, queries: readonly IndexQuery[]): IndexHit[][] {
    return this.set.searchMany(owner, queries);
  }

  /** Stops following the store; the indexes keep what they hold. */
  close(): void {
    this.unsubscribe();
  }
}

/**
 * Every signal of the store, one (owner kind, type) at a time, in two arrays:
 * one `addMany` lets the index build its tables once (adding chunk by chunk
 * made multi-index hashing re-tune repeatedly: 11 s instead of about 2 s for
 * 1M codes).
 */
export function forEachStoredIndex(
  store: Store,
  options: SignalIndexesOptions,
  visit: (owner: SignalOwnerKind, type: KnownSignalType, codes: Uint8Array, ids: Uint32Array) => void,
): void {
  for (const owner of ['content', 'case'] as const) {
    for (const type of SIGNAL_TYPES) {
      const { codes, ids } = readAll(store, type, owner, options.chunkSize);
      visit(owner, type, codes, ids);
    }
  }
}

function readAll(store: Store, type: KnownSignalType, owner: SignalOwnerKind, chunkSize: number | undefined): { codes: Uint8Array; ids: Uint32Array } {
  const expected = store.countSignals(type.name, owner);
  const codes = new Uint8Array(expected * type.bytes);
  const ids = new Uint32Array(expected);
  let count = 0;
  for (const chunk of store.iterateSignalChunks(type.name, { owner, chunkSize })) {
    if (count + chunk.count > expected) {
      // Loading is synchronous, so only another process can have written: then the index cannot follow the store.
      throw new Error(`${type.name} ${owner} signals grew while loading: another process is writing to the store`);
    }
    codes.set(chunk.codes, count * type.bytes);
    ids.set(chunk.ids, count);
    count += chunk.count;
  }
  return { codes: codes.subarray(0, count * type.bytes), ids: ids.subarray(0, count) };
}
