/** Drives the hashing worker: one photo at a time, each answered in order. */
import type { WorkerReply, WorkerRequest } from './worker-protocol.js';

export class PhotoHasher {
  private worker: Worker | null = null;
  private next = 0;
  private readonly waiting = new Map<number, (reply: WorkerReply) => void>();

  hash(file: Blob): Promise<WorkerReply> {
    if (!this.worker) {
      this.worker = new Worker('/assets/worker.js', { name: 'hashing' });
      this.worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        this.waiting.get(event.data.id)?.(event.data);
        this.waiting.delete(event.data.id);
      };
      // A worker that dies (out of memory on a huge photo) answers every photo it held as unreadable.
      this.worker.onerror = () => {
        for (const [id, resolve] of this.waiting) resolve({ id, ok: false, code: 'UNREADABLE' });
        this.stop();
      };
    }
    const id = this.next++;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve);
      this.worker!.postMessage({ id, file } satisfies WorkerRequest);
    });
  }

  /** Ends the worker and whatever it holds. */
  stop(): void {
    this.worker?.terminate();
    this.worker = null;
    this.waiting.clear();
  }
}
