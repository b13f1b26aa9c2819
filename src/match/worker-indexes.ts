/**
 * The signal indexes in a worker thread (index-worker.ts), for the server: a
 * search runs on the second core while the event loop goes on parsing,
 * checking and answering other requests, and robust image queries (hundreds
 * of searches) no longer take turns with everyone else.
 *
 * The worker gets the store's signals, then every committed store write, then
 * searches, in the order they happen here: a search asked for after a write
 * (a victim withdrawing her case, say) was acknowledged sees that write.
 *
 * Searches asked for in one turn of the event loop travel to the worker in one
 * message and come back in one: under load each turn starts many requests, and
 * a message per search (a wake-up of the other thread and back, about as dear
 * on these machines as the search itself) was a large part of a match's cost.
 */
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import DataLoader from 'dataloader';
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

/** A query the worker could not search (an unknown type, a code of the wrong length), by its position in the message. */
export interface SearchError {
  at: number;
  message: string;
}

/** A search's hits come back flat: per query its hit count, then (signal id, distance) pairs in query order. */
export type WorkerReply =
  | { op: 'found'; id: number; counts: Uint32Array; pairs: Uint32Array; errors: SearchError[] }
  | { op: 'synced'; id: number };

/** Most queries in one search message: robust image queries send slices of 64, so a few of them share one. */
const MAX_QUERIES_PER_MESSAGE = 1024;

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
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void }>();
  private readonly sizes = new Map<string, number>();
  private nextId = 0;
  private failure: Error | null = null;
  private closed = false;
  private unsubscribe: () => void = () => {};
  /** Per owner kind, the searches asked for in this turn of the event loop, sent together when it ends. */
  private readonly batches = {
    content: this.batchOf('content'),
    case: this.batchOf('case'),
  };

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
    const results = await this.batches[owner].loadMany(queries);
    for (const result of results) if (result instanceof Error) throw result;
    return results as IndexHit[][];
  }

  private batchOf(owner: SignalOwnerKind): DataLoader<IndexQuery, IndexHit[]> {
    return new DataLoader((queries) => this.searchNow(owner, queries), {
      cache: false,
      maxBatchSize: MAX_QUERIES_PER_MESSAGE,
      // After the poll phase: every request whose bytes arrived in this turn has asked by then.
      batchScheduleFn: (send) => setImmediate(send),
    });
  }

  /** One message to the worker; per query its hits, or the error that query alone failed with. */
  private async searchNow(owner: SignalOwnerKind, queries: readonly IndexQuery[]): Promise<(IndexHit[] | Error)[]> {
    const packed = packQueries(queries);
    const reply = await this.request((id) => ({ op: 'search', id, owner, queries: packed }), [packed.radii.buffer, packed.ends.buffer, packed.codes.buffer]);
    if (reply.op !== 'found') throw new Error(`the index worker answered a search with ${reply.op}`);
    const results: (IndexHit[] | Error)[] = [];
    let at = 0;
    for (const count of reply.counts) {
      const hits: IndexHit[] = [];
      for (let i = 0; i < count; i++, at += 2) hits.push({ signalId: reply.pairs[at], distance: reply.pairs[at + 1] });
      results.push(hits);
    }
    for (const { at, message } of reply.errors) results[at] = new RangeError(message);
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

  private request(make: (id: number) => WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
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
    waiting.resolve(reply);
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
