/**
 * A readers-writer lock on two words of shared memory, for the index's search
 * threads (readers) and its one writer thread. Readers hold it for one search;
 * the writer only while it swaps a shard's tables in or compacts a shard, so
 * a reader rarely waits. A waiting writer holds new readers back, so a stream
 * of searches cannot starve it. Node lets every thread block on Atomics.wait,
 * the main thread included.
 */
const STATE = 0;
const WRITERS_WAITING = 1;
/** Words the lock takes in its Int32Array. */
export const LOCK_WORDS = 2;
const WRITER = -1;

export class RwLock {
  constructor(private readonly words: Int32Array) {}

  readLock(): void {
    const w = this.words;
    for (;;) {
      const state = Atomics.load(w, STATE);
      if (state >= 0 && Atomics.load(w, WRITERS_WAITING) === 0) {
        if (Atomics.compareExchange(w, STATE, state, state + 1) === state) return;
        continue;
      }
      // Woken when the state changes; the timeout rechecks a waiting writer that has since gone.
      Atomics.wait(w, STATE, state, 10);
    }
  }

  readUnlock(): void {
    if (Atomics.sub(this.words, STATE, 1) === 1) Atomics.notify(this.words, STATE);
  }

  writeLock(): void {
    const w = this.words;
    Atomics.add(w, WRITERS_WAITING, 1);
    for (;;) {
      if (Atomics.compareExchange(w, STATE, 0, WRITER) === 0) break;
      Atomics.wait(w, STATE, Atomics.load(w, STATE), 10);
    }
    Atomics.sub(w, WRITERS_WAITING, 1);
  }

  writeUnlock(): void {
    Atomics.store(this.words, STATE, 0);
    Atomics.notify(this.words, STATE);
  }

  /** Runs `work` holding the write lock. */
  exclusive<T>(work: () => T): T {
    this.writeLock();
    try {
      return work();
    } finally {
      this.writeUnlock();
    }
  }
}
