import { MultiIndexHashing } from '../index/multi-index-hashing.js';
import type { HammingRangeIndex } from '../index/types.js';
import { STORED_SIGNAL_TYPES, type StoredSignalType } from '../store/signal-types.js';
import type { SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { ExactHashIndex } from './exact-index.js';

export interface IndexHit {
  signalId: number;
  distance: number;
}

export interface SignalIndexesOptions {
  /** Signals read from the store per chunk while loading. */
  chunkSize?: number;
}

type TypeIndex = { kind: 'hamming'; index: HammingRangeIndex } | { kind: 'exact'; index: ExactHashIndex };

/**
 * One in-memory index per signal type and owner kind, mirroring the store:
 * multi-index hashing for perceptual types, a hash map for exact ones.
 * Content signals and victims' signals live in separate indexes so that a
 * search for one can never return the other.
 *
 * `load` fills the indexes from the store and then follows every committed
 * store write through `Store.subscribe`: a delete (a victim withdrawing her
 * case, say) has left the index by the time the store call returns. Loading
 * is synchronous, so no write of this process can fall between the load and
 * the subscription.
 */
export class SignalIndexes {
  /** By owner kind, then type name (two lookups rather than a key string made on every search). */
  private readonly indexes = new Map<SignalOwnerKind, Map<string, TypeIndex>>();
  private readonly unsubscribe: () => void;

  private constructor(store: Store, options: SignalIndexesOptions) {
    for (const owner of ['content', 'case'] as const) {
      const byType = new Map<string, TypeIndex>();
      this.indexes.set(owner, byType);
      for (const type of STORED_SIGNAL_TYPES.values()) {
        const entry: TypeIndex =
          type.comparison === 'hamming'
            ? { kind: 'hamming', index: new MultiIndexHashing() }
            : { kind: 'exact', index: new ExactHashIndex(type.bytes) };
        byType.set(type.name, entry);
        const { codes, ids } = readAll(store, type, owner, options.chunkSize);
        entry.index.addMany(codes, ids);
      }
    }
    this.unsubscribe = store.subscribe((change) => this.apply(change));
  }

  static load(store: Store, options: SignalIndexesOptions = {}): SignalIndexes {
    return new SignalIndexes(store, options);
  }

  /** Number of (hash, signal) entries for one type and owner kind. */
  size(owner: SignalOwnerKind, type: string): number {
    return this.get(owner, type).index.size;
  }

  /** Signals of `type` within `radius` of `code` (exact types: equal hashes only, distance 0). */
  search(owner: SignalOwnerKind, type: string, code: Uint8Array, radius: number): IndexHit[] {
    const entry = this.get(owner, type);
    if (entry.kind === 'exact') return entry.index.lookup(code).map((signalId) => ({ signalId, distance: 0 }));
    return entry.index.search(code, radius).map((hit) => ({ signalId: hit.owner, distance: hit.distance }));
  }

  /** Stops following the store; the indexes keep what they hold. */
  close(): void {
    this.unsubscribe();
  }

  private get(owner: SignalOwnerKind, type: string): TypeIndex {
    const entry = this.indexes.get(owner)?.get(type);
    if (!entry) throw new RangeError(`no index for signal type ${JSON.stringify(type)}`);
    return entry;
  }

  private apply(change: SignalChange): void {
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
}

/**
 * All signals of one type and owner kind in two arrays: one `addMany` lets the
 * index build its tables once (adding chunk by chunk made multi-index hashing
 * re-tune repeatedly: 11 s instead of about 2 s for 1M codes).
 */
function readAll(store: Store, type: StoredSignalType, owner: SignalOwnerKind, chunkSize: number | undefined): { codes: Uint8Array; ids: Uint32Array } {
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
