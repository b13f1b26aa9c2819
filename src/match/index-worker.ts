/**
 * An index worker (see worker-indexes.ts). The writer holds the signal
 * indexes: it takes the store's signals, then every committed store write,
 * in the order they were sent, publishing the number of each write it has
 * applied; it searches too. A search thread attaches to the writer's
 * perceptual indexes in shared memory, learns of each shard the writer makes
 * through its channel from the writer, and before a search waits until the
 * writer has applied every write sent before that search. Both build shards'
 * tables while loading.
 */
import { parentPort, receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { IndexSet, key, type IndexHit, type TableRef } from './signal-indexes.js';
import { unpackQueries, type SearchError, type WorkerReply, type WorkerRequest, type WorkerSetup } from './worker-indexes.js';
import { releaseBuildScratch, type SharedMemory } from '../index/shard.js';
import { UnusableSnapshot, restoreIndexSnapshot, writeIndexSnapshot } from './index-snapshot.js';
import type { SignalOwnerKind } from '../store/store.js';
import { SIGNAL_TYPES } from '../hashing/registry.js';

if (!parentPort) throw new Error('index-worker.ts runs as a worker thread (see WorkerSignalIndexes)');
const port = parentPort;
const setup = workerData as WorkerSetup;
const applied = new Int32Array(setup.applied);

/** What the writer tells its search threads: a shard it made, or a table of a full shard to build while it loads on. */
type WriterNews = { kind: 'shard'; owner: SignalOwnerKind; part: string; memory: SharedMemory } | ({ kind: 'build' } & TableRef);

const searcherPorts: MessagePort[] = [];
const indexes = setup.role === 'writer' ? writerSet() : searchSet(setup.port);

function writerSet(): IndexSet {
  const shards: WriterNews[] = [];
  const set = new IndexSet({
    shardCapacity: setup.role === 'writer' ? setup.shardCapacity : undefined,
    onShardCreated: (owner, part, memory) => {
      const news: WriterNews = { kind: 'shard', owner, part, memory };
      shards.push(news);
      for (const searcher of searcherPorts) searcher.postMessage(news);
    },
    onBuildTables: (owner, part, shard, tables) => {
      // Two tables in three go to the search threads: this thread also appends what the loader sends meanwhile.
      const handedOut = searcherPorts.length === 0 ? 0 : Math.floor((2 * tables) / 3);
      for (let table = 0; table < handedOut; table++) {
        searcherPorts[table % searcherPorts.length].postMessage({ kind: 'build', owner, part, shard, table } satisfies WriterNews);
      }
      return handedOut;
    },
  });
  port.on('message', (request: WorkerRequest) => {
    if (request.op !== 'searcher') return;
    searcherPorts.push(request.port);
    for (const news of shards) request.port.postMessage(news);
  });
  return set;
}

function searchSet(port: MessagePort): IndexSet {
  if (setup.role !== 'search') throw new Error('not a search thread');
  const hear = (news: WriterNews, now: boolean): void => {
    if (news.kind === 'shard') set.attachShard(news.owner, news.part, news.memory);
    else if (now) set.buildTable(news);
    else setImmediate(() => set.buildTable(news));
  };
  const set: IndexSet = IndexSet.attach(setup.handles, setup.thread, () => {
    // The writer posted each shard's news before counting the shard, so it is there to take now; a table to build waits for this search to end.
    for (let message = receiveMessageOnPort(port); message; message = receiveMessageOnPort(port)) hear(message.message as WriterNews, false);
  });
  port.on('message', (news: WriterNews) => hear(news, true));
  return set;
}

/** After an import's chunk with more to follow: the tables it put off are rebuilt if no write comes for a while (an import cut short). */
const SETTLE_AFTER_MS = 1000;
let settleTimer: NodeJS.Timeout | undefined;

function settleLater(more: boolean): void {
  clearTimeout(settleTimer);
  settleTimer = more ? setTimeout(() => indexes.settle(), SETTLE_AFTER_MS) : undefined;
}

/** Waits until the writer has applied write `seq` (the writer itself never waits: it applied it before reading this search). */
function awaitWrite(seq: number): void {
  for (let seen = Atomics.load(applied, 0); seen < seq; seen = Atomics.load(applied, 0)) Atomics.wait(applied, 0, seen, 1000);
}

port.on('message', (request: WorkerRequest) => {
  switch (request.op) {
    // A failed fill, build or change leaves the indexes behind the store: thrown, it ends the worker and every later search fails.
    case 'fill':
      indexes.load(request.owner, request.type, request.region, request.codes, request.ids);
      return;
    case 'prepare':
      reply({ op: 'prepared', id: request.id, tables: indexes.prepareBuilds() });
      return;
    case 'build':
      indexes.buildTable(request.table);
      // A thread's last table of the load: its scratch (hundreds of MB for a full shard) is not needed again.
      if (request.last) releaseBuildScratch();
      reply({ op: 'synced', id: request.id });
      return;
    case 'finish':
      indexes.finishLoad();
      reply({ op: 'synced', id: request.id });
      return;
    case 'change':
      indexes.apply(request.change);
      Atomics.store(applied, 0, request.seq);
      Atomics.notify(applied, 0);
      settleLater(request.change.more === true);
      return;
    case 'handles':
      reply({ op: 'handles', id: request.id, handles: indexes.handles() });
      return;
    case 'sync':
      reply({ op: 'synced', id: request.id });
      return;
    case 'restore-snapshot':
      restoreSnapshot(request);
      return;
    case 'remove-restored': {
      const removed: Record<string, number> = {};
      for (const batch of request.batches) {
        const before = indexes.size(batch.owner, batch.type);
        indexes.apply({ op: 'remove', batches: [batch], more: true });
        removed[key(batch.owner, batch.type)] = (removed[key(batch.owner, batch.type)] ?? 0) + before - indexes.size(batch.owner, batch.type);
      }
      reply({ op: 'removed', id: request.id, removed });
      return;
    }
    case 'save-snapshot':
      try {
        const { path, token, lastSignalId, lastRemoval } = request;
        const bytes = writeIndexSnapshot(path, indexes.contentIndexes(), { token, lastSignalId, lastRemoval });
        reply({ op: 'snapshot-saved', id: request.id, bytes });
      } catch (err) {
        // A full disk must not take the indexes down: they are whole; only the snapshot is not written.
        reply({ op: 'snapshot-failed', id: request.id, message: err instanceof Error ? err.message : String(err) });
      }
      return;
    case 'search':
      awaitWrite(request.seq);
      search(request);
  }
});

if (setup.role === 'writer') reply({ op: 'ready', handles: indexes.handles() });

/** Restores the content indexes from a snapshot; one that cannot be used leaves them empty and is reported, anything else ends the worker. */
function restoreSnapshot({ id, path, token }: Extract<WorkerRequest, { op: 'restore-snapshot' }>): void {
  try {
    restoreIndexSnapshot(path, indexes.contentIndexes(), token);
    const sizes: Record<string, number> = {};
    for (const { name } of SIGNAL_TYPES) sizes[key('content', name)] = indexes.size('content', name);
    reply({ op: 'snapshot-restored', id, sizes });
  } catch (err) {
    if (!(err instanceof UnusableSnapshot)) throw err;
    reply({ op: 'snapshot-failed', id, message: err.message });
  }
}

function search(request: Extract<WorkerRequest, { op: 'search' }>): void {
  // Searches of several requests travel together: a bad query fails its own request only.
  const queries = unpackQueries(request.queries);
  let results: IndexHit[][];
  const errors: SearchError[] = [];
  try {
    results = indexes.searchMany(request.owner, queries);
  } catch {
    // Searched one by one to tell which queries are bad.
    results = queries.map(({ type, code, radius, region }, at) => {
      try {
        return indexes.search(request.owner, type, code, radius, region ?? null);
      } catch (err) {
        errors.push({ at, message: err instanceof Error ? err.message : String(err) });
        return [];
      }
    });
  }
  const counts = new Uint32Array(results.length);
  const pairs = new Uint32Array(2 * results.reduce((sum, hits) => sum + hits.length, 0));
  let at = 0;
  results.forEach((hits, i) => {
    counts[i] = hits.length;
    for (const hit of hits) {
      pairs[at++] = hit.signalId;
      pairs[at++] = hit.distance;
    }
  });
  reply({ op: 'found', id: request.id, counts, pairs, errors }, [counts.buffer, pairs.buffer]);
}

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}
