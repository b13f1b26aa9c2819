/**
 * The signal indexes in a worker thread (index-worker.ts), for the server: a
 * search runs on the second core while the event loop goes on parsing,
 * checking and answering other requests, and robust image queries (hundreds
 * of searches) no longer take turns with everyone else.
 *
 * The worker gets the store's signals, then every committed store write, then
 * searches, in the order they happen here: a search asked for after a write
 * (a victim withdrawing her case, say) was acknowledged sees that write.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { forEachStoredIndex, type IndexHit, type IndexQuery, type SignalIndexesOptions, type SignalSearcher } from './signal-indexes.js';

export type WorkerRequest =
  | { op: 'fill'; owner: SignalOwnerKind; type: string; codes: Uint8Array; ids: Uint32Array }
  | { op: 'change'; change: SignalChange }
  | { op: 'search'; id: number; owner: SignalOwnerKind; queries: PackedQueries }
  | { op: 'sync'; id: number };

/**
 * A search's queries travel packed: their codes copied into one buffer (a
 * code may be a view on a larger buffer, which a message would copy whole).
 */
export interface PackedQueries {
  types: string[];
  radii: Uint32Array<ArrayBuffer>;
  /** Query i's code is codes[ends[i - 1] .. ends[i]). */
  ends: Uint32Array<ArrayBuffer>;
  codes: Uint8Array<ArrayBuffer>;
}

export function packQueries(queries: readonly IndexQuery[]): PackedQueries {
  const ends = new Uint32Array(queries.length);
  let bytes = 0;
  queries.forEach((query, i) => (ends[i] = bytes += query.code.length));
  const codes = new Uint8Array(bytes);
  queries.forEach((query, i) => codes.set(query.code, i === 0 ? 0 : ends[i - 1]));
  return { types: queries.map((query) => query.type), radii: Uint32Array.from(queries, (query) => query.radius), ends, codes };
}

export function unpackQueries({ types, radii, ends, codes }: PackedQueries): IndexQuery[] {
  return types.map((type, i) => ({ type, radius: radii[i], code: codes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]) }));
}

/** A search's hits come back flat: per query its hit count, then (signal id, distance) pairs in query order. */
export type WorkerReply =
  | { op: 'found'; id: number; counts: Uint32Array; pairs: Uint32Array }
  | { op: 'synced'; id: number }
  | { op: 'failed'; id: number; message: string };

type Settled = Extract<WorkerReply, { op: 'found' | 'synced' }>;

export interface WorkerSignalIndexesOptions extends SignalIndexesOptions {
  /** Called once if the worker fails; every search fails from then on. */
  onFailure?: (err: Error) => void;
}

function startWorker(): Worker {
  const entry = new URL(`./index-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  if (entry.pathname.endsWith('.ts')) {
    // Run from TypeScript sources (tests, benches through tsx): the worker registers tsx before loading its entry.
    return new Worker(`import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`, { eval: true });
  }
  return new Worker(entry);
}

export class WorkerSignalIndexes implements SignalSearcher {
  private readonly worker = startWorker();
  private readonly pending = new Map<number, { resolve: (reply: Settled) => void; reject: (err: Error) => void }>();
  private readonly sizes = new Map<string, number>();
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;
  private unsubscribe: () => void = () => {};

  private constructor(private readonly onFailure: (err: Error) => void) {
    this.worker.on('message', (reply: WorkerReply) => this.settle(reply));
    this.worker.on('error', (err) => this.fail(new Error(`the index worker failed: ${err.message}`)));
    this.worker.on('exit', (code) => this.fail(new Error(`the index worker stopped (exit code ${code})`)));
  }

  /**
   * Reads every signal of the store and hands them to a new worker, then
   * follows the store's writes (reading and subscribing are synchronous, so no
   * write of this process falls between); resolves when the worker has built
   * its indexes.
   */
  static async load(store: Store, options: WorkerSignalIndexesOptions = {}): Promise<WorkerSignalIndexes> {
    const indexes = new WorkerSignalIndexes(options.onFailure ?? (() => {}));
    try {
      forEachStoredIndex(store, options, (owner, type, codes, ids) => {
        indexes.sizes.set(key(owner, type.name), ids.length);
        indexes.worker.postMessage({ op: 'fill', owner, type: type.name, codes, ids } satisfies WorkerRequest, [codes.buffer as ArrayBuffer, ids.buffer as ArrayBuffer]);
      });
      indexes.unsubscribe = store.subscribe((change) => indexes.follow(change));
      await indexes.request((id) => ({ op: 'sync', id }));
      return indexes;
    } catch (err) {
      indexes.close();
      throw err;
    }
  }

  size(owner: SignalOwnerKind, type: string): number {
    return this.sizes.get(key(owner, type)) ?? 0;
  }

  async searchMany(owner: SignalOwnerKind, queries: readonly IndexQuery[]): Promise<IndexHit[][]> {
    const packed = packQueries(queries);
    const reply = await this.request((id) => ({ op: 'search', id, owner, queries: packed }), [packed.radii.buffer, packed.ends.buffer, packed.codes.buffer]);
    if (reply.op !== 'found') throw new Error(`the index worker answered a search with ${reply.op}`);
    const results: IndexHit[][] = [];
    let at = 0;
    for (const count of reply.counts) {
      const hits: IndexHit[] = [];
      for (let i = 0; i < count; i++, at += 2) hits.push({ signalId: reply.pairs[at], distance: reply.pairs[at + 1] });
      results.push(hits);
    }
    return results;
  }

  /** Stops following the store and ends the worker; searches still waiting fail. */
  close(): void {
    this.unsubscribe();
    this.closed = true;
    this.fail(new Error('the index worker was closed'));
    void this.worker.terminate();
  }

  private follow(change: SignalChange): void {
    const sign = change.op === 'add' ? 1 : -1;
    for (const batch of change.batches) this.sizes.set(key(batch.owner, batch.type), this.size(batch.owner, batch.type) + sign * batch.count);
    this.worker.postMessage({ op: 'change', change } satisfies WorkerRequest);
  }

  private request(make: (id: number) => WorkerRequest, transfer: ArrayBuffer[] = []): Promise<Settled> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(make(id), transfer);
    });
  }

  private settle(reply: WorkerReply): void {
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    if (reply.op === 'failed') waiting.reject(new Error(reply.message));
    else waiting.resolve(reply);
  }

  /** From now on every search fails: indexes that may have missed a write must not answer. */
  private fail(err: Error): void {
    if (!this.failure && !this.closed) this.onFailure(err);
    this.failure ??= err;
    for (const { reject } of this.pending.values()) reject(this.failure);
    this.pending.clear();
  }
}

function key(owner: SignalOwnerKind, type: string): string {
  return `${owner}:${type}`;
}
