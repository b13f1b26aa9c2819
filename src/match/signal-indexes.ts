import { CODE_BYTES, checkCode } from '../index/code-arena.js';
import { MultiIndexHashing, type IndexHandle } from '../index/multi-index-hashing.js';
import type { SharedMemory } from '../index/shard.js';
import type { RegionKind } from '../hashing/pdq-region.js';
import { findSignalType, type KnownSignalType, SIGNAL_TYPES } from '../hashing/registry.js';
import type { SignalBatch, SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { ExactHashIndex } from './exact-index.js';
import type { ContentIndex } from './index-snapshot.js';
import { indexPartOf, indexPartsOf, indexPartsSearched } from './region-groups.js';

export interface IndexHit {
  signalId: number;
  distance: number;
}

/** One hash to look up: its signal type, its bytes, how far a match may be (ignored by exact types), and which region it is of, if known. */
export interface IndexQuery {
  type: string;
  code: Uint8Array;
  radius: number;
  /** Not given or null: of no known kind, searched against every part. */
  region?: RegionKind | null;
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

/** The shared parts of a set's perceptual indexes, by `owner:part`, for search threads to attach to. */
export type IndexHandles = Record<string, IndexHandle>;

/** A table of one shard of one index part, as the loader hands tables out to build. */
export interface TableRef {
  owner: SignalOwnerKind;
  part: string;
  shard: number;
  table: number;
}

export interface IndexSetOptions {
  shardCapacity?: number;
  /** While loading: offered a full shard's tables to build in other threads; returns how many it handed out, from table 0 (see MultiIndexHashing.onBuildTables). */
  onBuildTables?: (owner: SignalOwnerKind, part: string, shard: number, tables: number) => number;
  /** Told of each shard a perceptual index makes (the writer tells its search threads). */
  onShardCreated?: (owner: SignalOwnerKind, part: string, memory: SharedMemory) => void;
}

/**
 * One in-memory index per signal type and owner kind, with no store of its
 * own: multi-index hashing for perceptual types, a hash map for exact ones.
 * Content signals and victims' signals live in separate indexes so that a
 * search for one can never return the other. A region type's index is cut in
 * parts by the kind of region (region-groups.ts): a search looks only in the
 * parts whose regions its own can match. A set made with `new` writes;
 * `IndexSet.attach` gives another thread a set that searches the same
 * perceptual indexes (shared memory, not a copy); exact types stay with the
 * writer.
 */
export class IndexSet {
  /** By owner kind, then part name (two lookups rather than a key string made on every search). */
  private readonly indexes = new Map<SignalOwnerKind, Map<string, TypeIndex>>();

  constructor(options: IndexSetOptions = {}, attached?: { handles: IndexHandles; thread: number; onShardsBehind: () => void }) {
    for (const owner of ['content', 'case'] as const) {
      const byPart = new Map<string, TypeIndex>();
      this.indexes.set(owner, byPart);
      for (const type of SIGNAL_TYPES) {
        if (type.comparison === 'exact') {
          if (!attached) byPart.set(type.name, { kind: 'exact', index: new ExactHashIndex(type.bytes) });
          continue;
        }
        for (const part of indexPartsOf(type)) {
          const index = attached
            ? MultiIndexHashing.attach(attached.handles[key(owner, part)], attached.thread)
            : new MultiIndexHashing({ shardCapacity: options.shardCapacity });
          if (attached) index.onShardsBehind = attached.onShardsBehind;
          const { onShardCreated, onBuildTables } = options;
          if (onShardCreated) index.onShardCreated = (memory) => onShardCreated(owner, part, memory);
          if (onBuildTables) index.onBuildTables = (shard, tables) => onBuildTables(owner, part, shard, tables);
          byPart.set(part, { kind: 'hamming', index });
        }
      }
    }
  }

  /** A set searching the perceptual indexes of `handles` from this thread (scratch slot `thread`). */
  static attach(handles: IndexHandles, thread: number, onShardsBehind: () => void): IndexSet {
    return new IndexSet({}, { handles, thread, onShardsBehind });
  }

  handles(): IndexHandles {
    const handles: IndexHandles = {};
    for (const [owner, byPart] of this.indexes) {
      for (const [part, entry] of byPart) if (entry.kind === 'hamming') handles[key(owner, part)] = entry.index.handle;
    }
    return handles;
  }

  /** The captured content's indexes, as a snapshot saves and restores them (never a victim's). Writer only. */
  contentIndexes(): ContentIndex[] {
    return [...this.indexes.get('content')!].map(([part, entry]) => ({ part, ...entry }));
  }

  /** Adds a chunk of the store's signals of one type, region kind and owner kind while loading (`finishLoad` after the last). */
  load(owner: SignalOwnerKind, type: string, region: RegionKind | null, codes: Uint8Array, ids: ArrayLike<number>): void {
    const entry = this.get(owner, indexPartOf(signalType(type), region));
    if (entry.kind === 'hamming') entry.index.load(codes, ids);
    else entry.index.addMany(codes, ids);
  }

  /** After loading: readies the tables to build, for any threads of the set to build (`buildTable`) before `finishLoad`. */
  prepareBuilds(): TableRef[] {
    return this.hammingIndexes().flatMap(({ owner, part, index }) => index.prepareBuilds().map(({ shard, table }) => ({ owner, part, shard, table })));
  }

  buildTable({ owner, part, shard, table }: TableRef): void {
    this.hamming(owner, part).buildTable(shard, table);
  }

  finishLoad(): void {
    for (const { index } of this.hammingIndexes()) index.finishLoad();
  }

  /** A search thread learns of a shard its writer made. */
  attachShard(owner: SignalOwnerKind, part: string, memory: SharedMemory): void {
    this.hamming(owner, part).attachShard(memory);
  }

  /**
   * Applies one committed store write. A chunk of an import with more to
   * follow may leave the tables behind its codes (they are scanned meanwhile);
   * any other write settles every index.
   */
  apply(change: SignalChange): void {
    const more = change.more === true;
    for (const batch of change.batches) {
      const entry = this.get(batch.owner, indexPartOf(signalType(batch.type), batch.region));
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

  /** Entries of one type and owner kind, in all its parts. */
  size(owner: SignalOwnerKind, type: string): number {
    return indexPartsOf(signalType(type)).reduce((sum, part) => sum + this.get(owner, part).index.size, 0);
  }

  /** Signals of `type` within `radius` of `code` (exact types: equal hashes only, distance 0); of a region type, in the parts whose regions `region` can match. */
  search(owner: SignalOwnerKind, type: string, code: Uint8Array, radius: number, region: RegionKind | null = null): IndexHit[] {
    const known = signalType(type);
    if (known.comparison === 'exact') return this.exact(owner, type).lookup(code).map((signalId) => ({ signalId, distance: 0 }));
    const hits: IndexHit[] = [];
    // Not skipped when empty by its size here: a search thread learns of a shard the writer made only as it searches.
    for (const part of indexPartsSearched(known, region)) {
      for (const hit of this.hamming(owner, part).search(code, radius)) hits.push({ signalId: hit.owner, distance: hit.distance });
    }
    return hits;
  }

  /**
   * `search` for each query, in their order. The perceptual searches go to
   * each index part as one batch per radius, which a part searches faster per
   * query than one by one (MultiIndexHashing.searchBatch).
   */
  searchMany(owner: SignalOwnerKind, queries: readonly IndexQuery[]): IndexHit[][] {
    const results: IndexHit[][] = queries.map(() => []);
    const batches = new Map<string, { index: MultiIndexHashing; radius: number; at: number[] }>();
    queries.forEach(({ type, code, radius, region }, at) => {
      const known = signalType(type);
      if (known.comparison === 'exact') {
        results[at] = this.search(owner, type, code, radius);
        return;
      }
      checkCode(code);
      for (const part of indexPartsSearched(known, region ?? null)) {
        const key = `${part} ${radius}`;
        let batch = batches.get(key);
        if (!batch) batches.set(key, (batch = { index: this.hamming(owner, part), radius, at: [] }));
        batch.at.push(at);
      }
    });
    for (const { index, radius, at } of batches.values()) {
      const codes = new Uint8Array(at.length * CODE_BYTES);
      at.forEach((query, i) => codes.set(queries[query].code, i * CODE_BYTES));
      index.searchBatch(codes, radius).forEach((hits, i) => {
        const into = results[at[i]];
        for (const hit of hits) into.push({ signalId: hit.owner, distance: hit.distance });
      });
    }
    return results;
  }

  private hammingIndexes(): { owner: SignalOwnerKind; part: string; index: MultiIndexHashing }[] {
    return [...this.indexes].flatMap(([owner, byPart]) =>
      [...byPart].flatMap(([part, entry]) => (entry.kind === 'hamming' ? [{ owner, part, index: entry.index }] : [])),
    );
  }

  private hamming(owner: SignalOwnerKind, part: string): MultiIndexHashing {
    const entry = this.get(owner, part);
    if (entry.kind !== 'hamming') throw new RangeError(`${part} is not a perceptual signal type`);
    return entry.index;
  }

  private exact(owner: SignalOwnerKind, part: string): ExactHashIndex {
    const entry = this.get(owner, part);
    if (entry.kind !== 'exact') throw new RangeError(`${part} is not an exact signal type`);
    return entry.index;
  }

  private get(owner: SignalOwnerKind, part: string): TypeIndex {
    const entry = this.indexes.get(owner)?.get(part);
    if (!entry) throw new RangeError(`no index for signal type ${JSON.stringify(part)}`);
    return entry;
  }
}

function signalType(name: string): KnownSignalType {
  const type = findSignalType(name);
  if (!type) throw new RangeError(`no index for signal type ${JSON.stringify(name)}`);
  return type;
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
    forEachStoredChunk(store, options, (batch) => this.set.load(batch.owner, batch.type, batch.region, batch.codes, batch.ids));
    this.set.finishLoad();
    this.unsubscribe = store.subscribe((change) => this.set.apply(change));
  }

  static load(store: Store, options: SignalIndexesOptions = {}): SignalIndexes {
    return new SignalIndexes(store, options);
  }

  size(owner: SignalOwnerKind, type: string): number {
    return this.set.size(owner, type);
  }

  search(owner: SignalOwnerKind, type: string, code: Uint8Array, radius: number, region: RegionKind | null = null): IndexHit[] {
    return this.set.search(owner, type, code, radius, region);
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
 * one type, region kind and owner kind: the indexes append chunks as they come and build
 * their tables once at the end (adding chunk by chunk with rebuilds made
 * multi-index hashing re-tune repeatedly: 11 s instead of about 2 s for 1M
 * codes), and no copy of all the codes is ever held beside the index.
 */
export function forEachStoredChunk(
  store: Store,
  options: SignalIndexesOptions,
  visit: (batch: SignalBatch) => void,
): void {
  for (const batches of store.iterateAllSignalChunks({ chunkSize: options.chunkSize })) {
    for (const batch of batches) visit(batch);
  }
}

/** A name for one index (a type, or a part of a region type's) of one owner kind. */
export function key(owner: SignalOwnerKind, part: string): string {
  return `${owner}:${part}`;
}
