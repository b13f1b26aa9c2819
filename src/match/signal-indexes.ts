import { MultiIndexHashing, type IndexHandle } from '../index/multi-index-hashing.js';
import type { SharedMemory } from '../index/shard.js';
import { SIGNAL_TYPES } from '../hashing/registry.js';
import type { SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { ExactHashIndex } from './exact-index.js';
import type { ContentIndex } from './index-snapshot.js';

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
  /** Codes per shard of each perceptual index (default and most: what fits in wasm32 memory; tests set less). */
  shardCapacity?: number;
}

type TypeIndex = { kind: 'hamming'; index: MultiIndexHashing } | { kind: 'exact'; index: ExactHashIndex };

/** The shared parts of a set's perceptual indexes, by `owner:type`, for search threads to attach to. */
export type IndexHandles = Record<string, IndexHandle>;

/** A table of one shard of one index, as the loader hands tables out to build. */
export interface TableRef {
  owner: SignalOwnerKind;
  type: string;
  shard: number;
  table: number;
}

export interface IndexSetOptions {
  shardCapacity?: number;
  /** While loading: offered a full shard's tables to build in other threads; returns how many it handed out, from table 0 (see MultiIndexHashing.onBuildTables). */
  onBuildTables?: (owner: SignalOwnerKind, type: string, shard: number, tables: number) => number;
  /** Told of each shard a perceptual index makes (the writer tells its search threads). */
  onShardCreated?: (owner: SignalOwnerKind, type: string, memory: SharedMemory) => void;
}

/**
 * One in-memory index per signal type and owner kind, with no store of its
 * own: multi-index hashing for perceptual types, a hash map for exact ones.
 * Content signals and victims' signals live in separate indexes so that a
 * search for one can never return the other. A set made with `new` writes;
 * `IndexSet.attach` gives another thread a set that searches the same
 * perceptual indexes (shared memory, not a copy); exact types stay with the
 * writer.
 */
export class IndexSet {
  /** By owner kind, then type name (two lookups rather than a key string made on every search). */
  private readonly indexes = new Map<SignalOwnerKind, Map<string, TypeIndex>>();

  constructor(options: IndexSetOptions = {}, attached?: { handles: IndexHandles; thread: number; onShardsBehind: () => void }) {
    for (const owner of ['content', 'case'] as const) {
      const byType = new Map<string, TypeIndex>();
      this.indexes.set(owner, byType);
      for (const type of SIGNAL_TYPES) {
        if (type.comparison === 'exact') {
          if (!attached) byType.set(type.name, { kind: 'exact', index: new ExactHashIndex(type.bytes) });
          continue;
        }
        const index = attached
          ? MultiIndexHashing.attach(attached.handles[key(owner, type.name)], attached.thread)
          : new MultiIndexHashing({ shardCapacity: options.shardCapacity });
        if (attached) index.onShardsBehind = attached.onShardsBehind;
        const { onShardCreated, onBuildTables } = options;
        if (onShardCreated) index.onShardCreated = (memory) => onShardCreated(owner, type.name, memory);
        if (onBuildTables) index.onBuildTables = (shard, tables) => onBuildTables(owner, type.name, shard, tables);
        byType.set(type.name, { kind: 'hamming', index });
      }
    }
  }

  /** A set searching the perceptual indexes of `handles` from this thread (scratch slot `thread`). */
  static attach(handles: IndexHandles, thread: number, onShardsBehind: () => void): IndexSet {
    return new IndexSet({}, { handles, thread, onShardsBehind });
  }

  handles(): IndexHandles {
    const handles: IndexHandles = {};
    for (const [owner, byType] of this.indexes) {
      for (const [type, entry] of byType) if (entry.kind === 'hamming') handles[key(owner, type)] = entry.index.handle;
    }
    return handles;
  }

  /** The captured content's indexes, as a snapshot saves and restores them (never a victim's). Writer only. */
  contentIndexes(): ContentIndex[] {
    return [...this.indexes.get('content')!].map(([type, entry]) => ({ type, ...entry }));
  }

  /** Adds a chunk of the store's signals of one type and owner kind while loading (`finishLoad` after the last). */
  load(owner: SignalOwnerKind, type: string, codes: Uint8Array, ids: ArrayLike<number>): void {
    const entry = this.get(owner, type);
    if (entry.kind === 'hamming') entry.index.load(codes, ids);
    else entry.index.addMany(codes, ids);
  }

  /** After loading: readies the tables to build, for any threads of the set to build (`buildTable`) before `finishLoad`. */
  prepareBuilds(): TableRef[] {
    return this.hammingIndexes().flatMap(({ owner, type, index }) => index.prepareBuilds().map(({ shard, table }) => ({ owner, type, shard, table })));
  }

  buildTable({ owner, type, shard, table }: TableRef): void {
    this.hamming(owner, type).buildTable(shard, table);
  }

  finishLoad(): void {
    for (const { index } of this.hammingIndexes()) index.finishLoad();
  }

  /** A search thread learns of a shard its writer made. */
  attachShard(owner: SignalOwnerKind, type: string, memory: SharedMemory): void {
    this.hamming(owner, type).attachShard(memory);
  }

  /**
   * Applies one committed store write. A chunk of an import with more to
   * follow may leave the tables behind its codes (they are scanned meanwhile);
   * any other write settles every index.
   */
  apply(change: SignalChange): void {
    const more = change.more === true;
    for (const batch of change.batches) {
      const entry = this.get(batch.owner, batch.type);
      if (change.op === 'add') {
        if (entry.kind === 'hamming') entry.index.addMany(batch.codes, batch.ids, more);
        else entry.index.addMany(batch.codes, batch.ids);
        continue;
      }
      const bytes = batch.codes.length / batch.count;
      for (let i = 0; i < batch.count; i++) entry.index.remove(batch.codes.subarray(i * bytes, (i + 1) * bytes), batch.ids[i]);
    }
    if (!more) this.settle();
  }

  /** Rebuilds the tables an import put off (a writer whose last write had `more` calls this once writes stop). */
  settle(): void {
    for (const { index } of this.hammingIndexes()) index.settle();
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

  private hammingIndexes(): { owner: SignalOwnerKind; type: string; index: MultiIndexHashing }[] {
    return [...this.indexes].flatMap(([owner, byType]) =>
      [...byType].flatMap(([type, entry]) => (entry.kind === 'hamming' ? [{ owner, type, index: entry.index }] : [])),
    );
  }

  private hamming(owner: SignalOwnerKind, type: string): MultiIndexHashing {
    const entry = this.get(owner, type);
    if (entry.kind !== 'hamming') throw new RangeError(`${type} is not a perceptual signal type`);
    return entry.index;
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
  private readonly set: IndexSet;
  private readonly unsubscribe: () => void;

  private constructor(store: Store, options: SignalIndexesOptions) {
    this.set = new IndexSet({ shardCapacity: options.shardCapacity });
    forEachStoredChunk(store, options, (owner, type, codes, ids) => this.set.load(owner, type, codes, ids));
    this.set.finishLoad();
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
 * Every signal of the store, in one pass and a chunk at a time, as batches of
 * one type and owner kind: the indexes append chunks as they come and build
 * their tables once at the end (adding chunk by chunk with rebuilds made
 * multi-index hashing re-tune repeatedly: 11 s instead of about 2 s for 1M
 * codes), and no copy of all the codes is ever held beside the index.
 */
export function forEachStoredChunk(
  store: Store,
  options: SignalIndexesOptions,
  visit: (owner: SignalOwnerKind, type: string, codes: Uint8Array, ids: Uint32Array) => void,
): void {
  for (const batches of store.iterateAllSignalChunks({ chunkSize: options.chunkSize })) {
    for (const batch of batches) visit(batch.owner, batch.type, batch.codes, batch.ids);
  }
}

export function key(owner: SignalOwnerKind, type: string): string {
  return `${owner}:${type}`;
}
