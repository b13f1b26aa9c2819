/**
 * The signal indexes in worker threads, for the server: searches run on both
 * cores while the event loop goes on parsing, checking and answering other
 * requests, and robust image queries (hundreds of searches) do not take
 * turns with everyone else.
 *
 * One worker, the writer, holds the indexes: it gets the store's signals,
 * then every committed store write, in order. Search threads (by default one
 * more) attach to the writer's perceptual indexes, which live in shared
 * memory: every thread searches the same codes and tables, not a copy. A
 * search asked for after a write (a victim withdrawing her case, say) was
 * acknowledged sees that write: each write is numbered as it is sent to the
 * writer, which publishes the number of the last one it applied in shared
 * memory; a search carries the number of the last write sent before it, and
 * the thread that takes it waits until the writer has applied that far. The
 * writer, handling its messages in order, never waits. Exact types (md5,
 * sha256) are searched by the writer only.
 *
 * Searches asked for in one turn of the event loop travel to a worker in one
 * message and come back in one: under load each turn starts many requests, and
 * a message per search (a wake-up of the other thread and back, about as dear
 * on these machines as the search itself) was a large part of a match's cost.
 * Each message goes to the thread with the fewest queries in hand.
 */
import { randomUUID } from 'node:crypto';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MessageChannel, Worker, type MessagePort } from 'node:worker_threads';
import DataLoader from 'dataloader';
import { THREAD_SLOTS } from '../index/shard.js';
import type { RegionKind } from '../hashing/pdq-region.js';
import { findSignalType } from '../hashing/registry.js';
import type { SignalBatch, SignalChange, SignalOwnerKind, Store } from '../store/store.js';
import { removeIndexSnapshot } from './index-snapshot.js';
import {
  key,
  type IndexHandles,
  type IndexHit,
  type IndexQuery,
  type TableRef,
  type SignalIndexesOptions,
  type SignalSearcher,
} from './signal-indexes.js';

export type WorkerRequest =
  | { op: 'fill'; owner: SignalOwnerKind; type: string; region: RegionKind | null; codes: Uint8Array; ids: Uint32Array }
  | { op: 'searcher'; port: MessagePort }
  | { op: 'prepare'; id: number }
  | { op: 'build'; id: number; table: TableRef; last: boolean }
  | { op: 'finish'; id: number }
  | { op: 'change'; seq: number; change: SignalChange }
  | { op: 'search'; id: number; seq: number; owner: SignalOwnerKind; queries: PackedQueries }
  | { op: 'handles'; id: number }
  | { op: 'sync'; id: number }
  | { op: 'restore-snapshot'; id: number; path: string; token: string }
  | { op: 'remove-restored'; id: number; batches: SignalBatch[] }
  | { op: 'save-snapshot'; id: number; path: string; token: string; lastSignalId: number; lastRemoval: number };

/** What a worker starts with (workerData). */
export type WorkerSetup =
  | { role: 'writer'; applied: SharedArrayBuffer; shardCapacity?: number }
  | { role: 'search'; applied: SharedArrayBuffer; thread: number; handles: IndexHandles; port: MessagePort };

/**
 * A search's queries travel packed: their codes copied into one buffer (a
 * code may be a view on a larger buffer, which a message would copy whole).
 */
export interface PackedQueries {
  types: string[];
  /** Region kinds, null where not known. */
  regions: (RegionKind | null)[];
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
  return {
    types: queries.map((query) => query.type),
    regions: queries.map((query) => query.region ?? null),
    radii: Uint32Array.from(queries, (query) => query.radius),
    ends,
    codes,
  };
}

export function unpackQueries({ types, regions, radii, ends, codes }: PackedQueries): IndexQuery[] {
  return types.map((type, i) => ({ type, region: regions[i], radius: radii[i], code: codes.subarray(i === 0 ? 0 : ends[i - 1], ends[i]) }));
}

/** A query the worker could not search (an unknown type, a code of the wrong length), by its position in the message. */
export interface SearchError {
  at: number;
  message: string;
}

/** A search's hits come back flat: per query its hit count, then (signal id, distance) pairs in query order. */
export type WorkerReply =
  | { op: 'ready'; handles: IndexHandles }
  | { op: 'handles'; id: number; handles: IndexHandles }
  | { op: 'found'; id: number; counts: Uint32Array; pairs: Uint32Array; errors: SearchError[] }
  | { op: 'prepared'; id: number; tables: TableRef[] }
  | { op: 'synced'; id: number }
  | { op: 'snapshot-restored'; id: number; sizes: Record<string, number> }
  | { op: 'removed'; id: number; removed: Record<string, number> }
  | { op: 'snapshot-saved'; id: number; bytes: number }
  | { op: 'snapshot-failed'; id: number; message: string };

/**
 * Most queries in one search message. A robust image lookup sends its
 * hundreds of hashes at once, and a scan a slice's (256 items' or 4 cases'
 * hashes, up to about 7,200): each as one batch, which an index searches
 * faster per query the larger it is (MultiIndexHashing.searchBatch).
 */
const MAX_QUERIES_PER_MESSAGE = 8192;
/** Searches in one turn from which they are shared among the threads: each part is then milliseconds of work, far more than a message costs. */
const SPLIT_AT = 256;

export interface WorkerSignalIndexesOptions extends SignalIndexesOptions {
  /** Called once if a worker fails; every search fails from then on. */
  onFailure?: (err: Error) => void;
  /** Search threads besides the writer, which searches too (default 1: both cores of the machines this runs on). */
  searchThreads?: number;
  /** Where the content indexes' snapshot is (see index-snapshot.ts): loaded from it when the store recorded it, else from the store. */
  snapshotPath?: string;
  /** Told why a recorded snapshot was not used (the load then reads the whole store). */
  onSnapshotUnusable?: (reason: string) => void;
}

/** How a load went: how many signals it read from the store, and whether it started from a snapshot. */
export interface LoadReport {
  fromSnapshot: boolean;
  /** Signals read from the store: all of them, or those since the snapshot and the victims'. */
  signalsRead: number;
  /** Captured content's signals among them. */
  contentSignalsRead: number;
  /** Content removals logged since the snapshot, taken out of it. */
  contentRemovalsRead: number;
}

function startWorker(setup: WorkerSetup): Worker {
  const entry = new URL(`./index-worker${extname(fileURLToPath(import.meta.url))}`, import.meta.url);
  const transferList = setup.role === 'search' ? [setup.port] : [];
  if (entry.pathname.endsWith('.ts')) {
    // Run from TypeScript sources (tests, benches through tsx): the worker registers tsx before loading its entry.
    const code = `import('tsx/esm/api').then((tsx) => { tsx.register(); return import(${JSON.stringify(entry.href)}); })`;
    return new Worker(code, { eval: true, workerData: setup, transferList });
  }
  return new Worker(entry, { workerData: setup, transferList });
}

/** A worker and the queries it has in hand. */
interface Thread {
  worker: Worker;
  queries: number;
}

export class WorkerSignalIndexes implements SignalSearcher {
  /** Where the writer publishes the number of the last write it applied. */
  private readonly applied = new SharedArrayBuffer(8);
  private readonly writer: Thread;
  /** The writer first, then the search threads. */
  private readonly threads: Thread[];
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void }>();
  private readonly sizes = new Map<string, number>();
  private nextId = 0;
  /** Where the search for a thread to take a message starts. */
  private turn = 0;
  /** Writes sent to the writer so far. */
  private sentWrites = 0;
  /** Writes committed while the tables are built, sent once they are. */
  private heldWrites: SignalChange[] | null = null;
  private failure: Error | null = null;
  private closed = false;
  private unsubscribe: () => void = () => {};
  /** How the load went (see LoadReport). */
  report: LoadReport = { fromSnapshot: false, signalsRead: 0, contentSignalsRead: 0, contentRemovalsRead: 0 };
  /**
   * Captured content's signals a start would read or take out beyond the last
   * snapshot: what the load read, then each content signal added or removed
   * since (see saveSnapshot).
   */
  contentChangesSinceSnapshot = 0;
  /** Per owner kind, the searches asked for in this turn of the event loop, sent together when it ends. */
  private readonly batches = {
    content: this.batchOf('content'),
    case: this.batchOf('case'),
  };

  private constructor(
    private readonly onFailure: (err: Error) => void,
    shardCapacity: number | undefined,
  ) {
    this.writer = { worker: startWorker({ role: 'writer', applied: this.applied, shardCapacity }), queries: 0 };
    this.threads = [this.writer];
    this.watch(this.writer.worker);
  }

  /**
   * Reads every signal of the store and hands them to the writer, then
   * follows the store's writes (reading and subscribing are synchronous, so no
   * write of this process falls between); the writer and the search threads
   * then build the shards' tables between them. Resolves when the indexes are
   * ready.
   */
  static async load(store: Store, options: WorkerSignalIndexesOptions = {}): Promise<WorkerSignalIndexes> {
    const searchThreads = options.searchThreads ?? 1;
    if (!Number.isInteger(searchThreads) || searchThreads < 0 || searchThreads >= THREAD_SLOTS) {
      throw new RangeError(`searchThreads must be an integer in 0..${THREAD_SLOTS - 1}`);
    }
    const indexes = new WorkerSignalIndexes(options.onFailure ?? (() => {}), options.shardCapacity);
    try {
      const ready = await indexes.firstReply(indexes.writer.worker);
      if (ready.op !== 'ready') throw new Error(`the index writer started with ${ready.op}`);
      for (let thread = 1; thread <= searchThreads; thread++) indexes.startSearchThread(thread, ready.handles);
      const restored = options.snapshotPath === undefined ? undefined : await indexes.restoreSnapshot(store, options.snapshotPath, options.onSnapshotUnusable);
      // From here to the subscription, synchronous: no write of this process falls between what is read and what is followed.
      const removals = restored ? store.contentRemovalsSince(restored.lastRemoval) : [];
      const removing = removals.length > 0 ? indexes.removeRestored(removals) : undefined;
      indexes.report = {
        fromSnapshot: restored !== undefined,
        ...indexes.fill(restored ? store.iterateSignalChunksSince(restored.lastSignalId, options) : store.iterateAllSignalChunks(options)),
        contentRemovalsRead: removals.reduce((sum, batch) => sum + batch.count, 0),
      };
      indexes.contentChangesSinceSnapshot = indexes.report.contentSignalsRead + indexes.report.contentRemovalsRead;
      // From here until the tables are built, writes wait (the builders read the shards they would change).
      indexes.heldWrites = [];
      indexes.unsubscribe = store.subscribe((change) => indexes.follow(change));
      await indexes.buildTables();
      const held = indexes.heldWrites;
      indexes.heldWrites = null;
      for (const change of held) indexes.follow(change);
      await removing;
      await indexes.request(indexes.writer, (id) => ({ op: 'sync', id }));
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

  /**
   * The perceptual indexes' shared parts as they are now, for a tool to attach
   * threads of its own to (bench/index.ts measures search threads so).
   */
  async handles(): Promise<IndexHandles> {
    const reply = await this.request(this.writer, (id) => ({ op: 'handles', id }));
    if (reply.op !== 'handles') throw new Error(`the index writer answered with ${reply.op}`);
    return reply.handles;
  }

  /** Stops following the store and ends the workers; searches still waiting fail. */
  close(): void {
    this.unsubscribe();
    this.closed = true;
    this.fail(new Error('the index worker was closed'));
    for (const { worker } of this.threads) void worker.terminate();
  }

  private startSearchThread(thread: number, handles: IndexHandles): void {
    const { port1, port2 } = new MessageChannel();
    // The writer tells this thread of each shard it makes through the channel.
    this.writer.worker.postMessage({ op: 'searcher', port: port1 } satisfies WorkerRequest, [port1]);
    const worker = startWorker({ role: 'search', applied: this.applied, thread, handles, port: port2 });
    this.watch(worker);
    this.threads.push({ worker, queries: 0 });
  }

  /** Hands the store's chunks to the writer; counts them. */
  private fill(chunks: Iterable<SignalBatch[]>): Pick<LoadReport, 'signalsRead' | 'contentSignalsRead'> {
    let signalsRead = 0;
    let contentSignalsRead = 0;
    for (const batches of chunks) {
      for (const { owner, type, region, codes, ids } of batches) {
        this.sizes.set(key(owner, type), this.size(owner, type) + ids.length);
        signalsRead += ids.length;
        if (owner === 'content') contentSignalsRead += ids.length;
        // The store made these arrays for this chunk: handed over, not copied.
        this.writer.worker.postMessage({ op: 'fill', owner, type, region, codes, ids } satisfies WorkerRequest, [codes.buffer as ArrayBuffer, ids.buffer as ArrayBuffer]);
      }
    }
    return { signalsRead, contentSignalsRead };
  }

  /**
   * Restores the content indexes from the snapshot the store recorded, if
   * there is one and it is whole; returns the store position it holds. A
   * snapshot that cannot be used is forgotten and its file removed: the load
   * reads the whole store instead, and a new snapshot can be written after.
   */
  private async restoreSnapshot(store: Store, path: string, onUnusable?: (reason: string) => void): Promise<{ lastSignalId: number; lastRemoval: number } | undefined> {
    const recorded = store.recordedIndexSnapshot();
    if (!recorded) return undefined;
    let reply: WorkerReply;
    try {
      reply = await this.request(this.writer, (id) => ({ op: 'restore-snapshot', id, path, token: recorded.token }));
    } catch (err) {
      // The writer failed while restoring: the next start must not try the same file again.
      store.forgetIndexSnapshot();
      removeIndexSnapshot(path);
      throw err;
    }
    if (reply.op !== 'snapshot-restored') {
      onUnusable?.(reply.op === 'snapshot-failed' ? reply.message : `the index writer answered with ${reply.op}`);
      store.forgetIndexSnapshot();
      removeIndexSnapshot(path);
      return undefined;
    }
    for (const [name, size] of Object.entries(reply.sizes)) this.sizes.set(name, size);
    return recorded;
  }

  /** Takes content removed since the snapshot out of the restored indexes. */
  private async removeRestored(batches: SignalBatch[]): Promise<void> {
    const reply = await this.request(this.writer, (id) => ({ op: 'remove-restored', id, batches }));
    if (reply.op !== 'removed') throw new Error(`the index writer answered with ${reply.op}`);
    for (const [name, count] of Object.entries(reply.removed)) this.sizes.set(name, (this.sizes.get(name) ?? 0) - count);
  }

  /**
   * Writes a snapshot of the content indexes to `path`, recorded in the
   * store, which logs content removed from then on for the next load. The writer does
   * it between two writes, holding them meanwhile (searches that need a
   * later write wait as long). Returns the file's size.
   */
  async saveSnapshot(store: Store, path: string): Promise<number> {
    const token = randomUUID();
    // Read here, where the store's writes are sent from: the writer has applied exactly these when it takes the request.
    const position = store.beginIndexSnapshot(token);
    const changes = this.contentChangesSinceSnapshot;
    this.contentChangesSinceSnapshot = 0;
    const reply = await this.request(this.writer, (id) => ({ op: 'save-snapshot', id, path, token, ...position }));
    if (reply.op !== 'snapshot-saved') {
      store.forgetIndexSnapshot();
      removeIndexSnapshot(path);
      // With no snapshot a start reads every content signal: at least what was due before.
      this.contentChangesSinceSnapshot += changes;
      throw new Error(`the index snapshot was not written: ${reply.op === 'snapshot-failed' ? reply.message : reply.op}`);
    }
    store.indexSnapshotWritten(token);
    return reply.bytes;
  }

  /** Every thread builds tables, one at a time, until none is left; then the writer makes them searched. */
  private async buildTables(): Promise<void> {
    const reply = await this.request(this.writer, (id) => ({ op: 'prepare', id }));
    if (reply.op !== 'prepared') throw new Error(`the index writer answered with ${reply.op}`);
    const queue = reply.tables;
    await Promise.all(
      this.threads.map(async (thread) => {
        for (let table = queue.shift(); table; table = queue.shift()) {
          await this.request(thread, (id) => ({ op: 'build', id, table: table!, last: queue.length < this.threads.length }));
        }
      }),
    );
    await this.request(this.writer, (id) => ({ op: 'finish', id }));
  }

  private batchOf(owner: SignalOwnerKind): DataLoader<IndexQuery, IndexHit[]> {
    return new DataLoader((queries) => this.searchNow(owner, queries), {
      cache: false,
      maxBatchSize: MAX_QUERIES_PER_MESSAGE,
      // After the poll phase: every request whose bytes arrived in this turn has asked by then.
      batchScheduleFn: (send) => setImmediate(send),
    });
  }

  /** Per query its hits, or the error that query alone failed with. */
  private async searchNow(owner: SignalOwnerKind, queries: readonly IndexQuery[]): Promise<(IndexHit[] | Error)[]> {
    const parts = this.partsOf(queries);
    if (!parts) return this.searchOn(this.threadFor(queries), owner, queries);
    const results: (IndexHit[] | Error)[] = new Array(queries.length);
    await Promise.all(
      parts.map(async (positions) => {
        const part = positions.map((i) => queries[i]);
        const found = await this.searchOn(this.threadFor(part), owner, part);
        positions.forEach((at, k) => (results[at] = found[k]));
      }),
    );
    return results;
  }

  /**
   * Positions of the queries each thread is sent, or null to send them whole.
   * A large batch of perceptual searches (a scan's slice, a robust lookup) is
   * cut in one part per thread, so every core works on it rather than one
   * thread taking it whole while the others wait; exact types (an image's
   * digests), which only the writer holds, go to it apart, so that they do
   * not pin the rest to it.
   */
  private partsOf(queries: readonly IndexQuery[]): number[][] | null {
    const count = this.threads.length;
    if (count === 1 || queries.length < SPLIT_AT) return null;
    const exact: number[] = [];
    const perceptual: number[] = [];
    queries.forEach((query, i) => (findSignalType(query.type)?.comparison === 'hamming' ? perceptual : exact).push(i));
    if (perceptual.length < SPLIT_AT) return null;
    const size = Math.ceil(perceptual.length / count);
    const parts = Array.from({ length: count }, (_, i) => perceptual.slice(i * size, (i + 1) * size)).filter((part) => part.length > 0);
    return exact.length > 0 ? [exact, ...parts] : parts;
  }

  /** One message to a worker. */
  private async searchOn(thread: Thread, owner: SignalOwnerKind, queries: readonly IndexQuery[]): Promise<(IndexHit[] | Error)[]> {
    const packed = packQueries(queries);
    thread.queries += queries.length;
    let reply: WorkerReply;
    try {
      const seq = this.sentWrites;
      reply = await this.request(thread, (id) => ({ op: 'search', id, seq, owner, queries: packed }), [packed.radii.buffer, packed.ends.buffer, packed.codes.buffer]);
    } finally {
      thread.queries -= queries.length;
    }
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

  /** The thread with the fewest queries in hand, taking turns among equals; the writer for exact types, which only it holds. */
  private threadFor(queries: readonly IndexQuery[]): Thread {
    if (queries.some((query) => findSignalType(query.type)?.comparison !== 'hamming')) return this.writer;
    const count = this.threads.length;
    let best = this.threads[this.turn % count];
    for (let k = 1; k < count; k++) {
      const thread = this.threads[(this.turn + k) % count];
      if (thread.queries < best.queries) best = thread;
    }
    this.turn++;
    return best;
  }

  private follow(change: SignalChange): void {
    if (this.heldWrites) {
      this.heldWrites.push(change);
      return;
    }
    const sign = change.op === 'add' ? 1 : -1;
    for (const batch of change.batches) {
      this.sizes.set(key(batch.owner, batch.type), this.size(batch.owner, batch.type) + sign * batch.count);
      if (batch.owner === 'content') this.contentChangesSinceSnapshot += batch.count;
    }
    this.writer.worker.postMessage({ op: 'change', seq: ++this.sentWrites, change } satisfies WorkerRequest);
  }

  private request(thread: Thread, make: (id: number) => WorkerRequest, transfer: ArrayBuffer[] = []): Promise<WorkerReply> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      thread.worker.postMessage(make(id), transfer);
    });
  }

  private firstReply(worker: Worker): Promise<WorkerReply> {
    return new Promise((resolve, reject) => {
      worker.once('message', resolve);
      worker.once('exit', () => reject(this.failure ?? new Error('the index writer stopped while starting')));
    });
  }

  private watch(worker: Worker): void {
    worker.on('message', (reply: WorkerReply) => this.settle(reply));
    worker.on('error', (err) => this.fail(new Error(`an index worker failed: ${err.message}`)));
    worker.on('exit', (code) => this.fail(new Error(`an index worker stopped (exit code ${code})`)));
  }

  private settle(reply: WorkerReply): void {
    if (reply.op === 'ready') return;
    const waiting = this.pending.get(reply.id);
    if (!waiting) return;
    this.pending.delete(reply.id);
    waiting.resolve(reply);
  }

  /**
   * From now on every search fails: indexes that may have missed a write must
   * not answer, and a search thread may wait for a write a dead writer will
   * never apply. The other workers are ended.
   */
  private fail(err: Error): void {
    if (!this.failure && !this.closed) this.onFailure(err);
    if (!this.failure) for (const { worker } of this.threads) void worker.terminate();
    this.failure ??= err;
    for (const { reject } of this.pending.values()) reject(this.failure);
    this.pending.clear();
  }
}
