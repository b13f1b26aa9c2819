/**
 * The index worker: the signal indexes in a thread of their own, so searches
 * run beside the event loop that serves requests instead of on it.
 * WorkerSignalIndexes (worker-indexes.ts) sends the store's signals, every
 * committed store write and the searches, and this thread handles them in
 * the order they were sent.
 */
import { parentPort } from 'node:worker_threads';
import { IndexSet, type IndexHit } from './signal-indexes.js';
import { unpackQueries, type SearchError, type WorkerReply, type WorkerRequest } from './worker-indexes.js';

if (!parentPort) throw new Error('index-worker.ts runs as a worker thread (see WorkerSignalIndexes)');
const port = parentPort;
const indexes = new IndexSet();

port.on('message', (request: WorkerRequest) => {
  switch (request.op) {
    // A failed fill or change leaves the indexes behind the store: thrown, it ends the worker and every later search fails.
    case 'fill':
      indexes.fill(request.owner, request.type, request.codes, request.ids);
      return;
    case 'change':
      indexes.apply(request.change);
      return;
    case 'sync':
      reply({ op: 'synced', id: request.id });
      return;
    case 'search': {
      // Searches of several requests travel together: a bad query fails its own request only.
      const queries = unpackQueries(request.queries);
      const results: IndexHit[][] = [];
      const errors: SearchError[] = [];
      queries.forEach(({ type, code, radius }, at) => {
        try {
          results.push(indexes.search(request.owner, type, code, radius));
        } catch (err) {
          results.push([]);
          errors.push({ at, message: err instanceof Error ? err.message : String(err) });
        }
      });
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
  }
});

function reply(message: WorkerReply, transfer: ArrayBuffer[] = []): void {
  port.postMessage(message, transfer);
}
