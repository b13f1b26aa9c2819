/**
 * The hashing worker: photos in, hashes out. Hashing takes a second or more
 * per photo; here it leaves the page responsive (and the quick exit working).
 */
import { hashPhoto, PhotoError } from './hash-photo.js';
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

const scope = self as unknown as { onmessage: ((event: MessageEvent<WorkerRequest>) => void) | null; postMessage(message: WorkerReply): void };

scope.onmessage = (event) => {
  const { id, file } = event.data;
  hashPhoto(file).then(
    (photo) => scope.postMessage({ id, ok: true, ...photo }),
    (err: unknown) => scope.postMessage({ id, ok: false, code: err instanceof PhotoError ? err.code : 'UNREADABLE' }),
  );
};
