/**
 * Matches NGO batch items in the background: at most `concurrency` items at
 * once across all batches, oldest batch first. Every item's outcome is
 * committed as it finishes, so a restart resumes with the items still
 * pending; an item that throws gets its error recorded and the batch goes on.
 * A periodic sweep deletes the results of expired batches.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import { ApiError, toApiError } from '../api/errors.js';
import { fromHex } from '../hashing/hex.js';
import type { Matcher } from '../match/matcher.js';
import { StoreError } from '../store/errors.js';
import { STORED_SIGNAL_TYPES } from '../store/signal-types.js';
import type {
  BatchMatchOptions,
  BatchQuerySignal,
  FinishedItem,
  ItemError,
  ItemOutcome,
  PendingBatchItem,
  SqliteBatchStore,
  StoredBatchMatch,
} from '../store/batches.js';

/** Matches one item's hashes; may be synchronous or not. */
export type MatchBatchItem = (query: BatchQuerySignal[], options: BatchMatchOptions) => StoredBatchMatch[] | Promise<StoredBatchMatch[]>;

/** Matching against the content index: what the service's runner does with each item. */
export function matchAgainstContent(matcher: () => Matcher): MatchBatchItem {
  return async (query, options) => {
    const hashes = query.map(({ type, hash }, i) => {
      const stored = STORED_SIGNAL_TYPES.get(type);
      if (!stored) throw new StoreError('INVALID_INPUT', `signal ${i}: unknown signal type ${JSON.stringify(type)}`);
      return { type, hash: fromHex(hash, stored.bytes * 8, `signal ${i}`) };
    });
    // Robust items carry hundreds of hashes: searched in slices, so the API keeps answering meanwhile.
    const { matches } = await matcher().matchContentInSlices({ hashes, thresholds: options.thresholds, bankIds: options.bankIds }, yieldToEventLoop);
    return matches.map(({ contentId, bankId, signalType, distance }) => ({ contentId, bankId, signalType, distance }));
  };
}

export interface BatchRunnerOptions {
  concurrency: number;
  /** How long results are kept, and how long an expired batch still says so. */
  ttlHours: number;
  /** How often the expiry sweep runs. */
  sweepIntervalMs?: number;
  /** Told about failures of the runner itself (not of items, which are recorded). */
  onError?: (err: unknown) => void;
}

/** Items read from the store at a time per batch, so a 10,000-item batch is never all in memory. */
const PAGE_SIZE = 256;
/**
 * Outcomes are committed together, at most this many or this late: a commit
 * per item would sync the disk 10,000 times for a big batch. Outcomes lost
 * in a crash are matched again after the restart.
 */
const RECORD_EVERY_ITEMS = 128;
const RECORD_EVERY_MS = 20;

interface BatchCursor {
  batchId: string;
  options: BatchMatchOptions;
  /** Position of the last item handed out. */
  after: number;
  buffered: PendingBatchItem[];
}

function itemError(err: unknown): ItemError {
  const api = toApiError(err) ?? new ApiError(500, 'INTERNAL', 'This item could not be matched because of an error on our side.');
  return { code: api.code, message: api.message };
}

export class BatchRunner {
  private readonly queue: string[] = [];
  private current: BatchCursor | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private started = false;
  private closed = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private unrecorded: FinishedItem[] = [];
  private recordTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly store: SqliteBatchStore,
    private readonly matchItem: MatchBatchItem,
    private readonly options: BatchRunnerOptions,
  ) {}

  /** Starts matching: batches left unfinished by an earlier process first, then new ones as they are enqueued. */
  start(): void {
    if (this.started || this.closed) return;
    this.started = true;
    for (const id of this.store.unfinished()) this.queue.push(id);
    // Results that expired while the service was down go now, not at the first tick.
    this.sweepSafely();
    this.sweepTimer = setInterval(() => this.sweepSafely(), this.options.sweepIntervalMs ?? 10 * 60_000);
    this.sweepTimer.unref();
    this.pump();
  }

  /** Queues a stored batch. Before `start` or after `close` it stays in the store for the next start. */
  enqueue(batchId: string): void {
    if (!this.started || this.closed) return;
    this.queue.push(batchId);
    this.pump();
  }

  /** Items being matched right now. */
  get active(): number {
    return this.inFlight.size;
  }

  /** Deletes results of batches past their expiry; returns how many expired. */
  sweep(now = new Date()): number {
    return this.store.expire(now, this.options.ttlHours);
  }

  /** Stops taking items and waits for the ones in flight to be matched and recorded. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    this.record();
  }

  private record(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    if (this.unrecorded.length === 0) return;
    const finished = this.unrecorded;
    this.unrecorded = [];
    try {
      this.store.finishItems(finished);
    } catch (err) {
      // These items stay pending and are matched again after a restart.
      this.options.onError?.(err);
    }
  }

  private sweepSafely(): void {
    try {
      this.sweep();
    } catch (err) {
      this.options.onError?.(err);
    }
  }

  private pump(): void {
    try {
      while (!this.closed && this.inFlight.size < this.options.concurrency) {
        const next = this.nextItem();
        if (!next) return;
        const job: Promise<void> = this.process(next.cursor, next.item).finally(() => {
          this.inFlight.delete(job);
          this.pump();
        });
        this.inFlight.add(job);
      }
    } catch (err) {
      // A store failure here leaves the items pending for the next start.
      this.options.onError?.(err);
    }
  }

  private nextItem(): { cursor: BatchCursor; item: PendingBatchItem } | null {
    for (;;) {
      if (!this.current) {
        const batchId = this.queue.shift();
        if (batchId === undefined) return null;
        const batch = this.store.get(batchId);
        if (!batch || (batch.status !== 'queued' && batch.status !== 'running')) continue;
        this.store.markRunning(batchId);
        this.current = { batchId, options: batch.options, after: -1, buffered: [] };
      }
      const cursor = this.current;
      if (cursor.buffered.length === 0) cursor.buffered = this.store.pendingItems(cursor.batchId, cursor.after, PAGE_SIZE);
      const item = cursor.buffered.shift();
      if (item) {
        cursor.after = item.position;
        return { cursor, item };
      }
      // Every item of this batch is handed out; its last one marks it done when it finishes.
      this.current = null;
    }
  }

  private async process(cursor: BatchCursor, item: PendingBatchItem): Promise<void> {
    // Matching is synchronous CPU work: let requests in between items.
    await yieldToEventLoop();
    let outcome: ItemOutcome;
    try {
      outcome = { matches: await this.matchItem(item.query, cursor.options) };
    } catch (err) {
      outcome = { error: itemError(err) };
    }
    this.unrecorded.push({ batchId: cursor.batchId, position: item.position, outcome });
    if (this.unrecorded.length >= RECORD_EVERY_ITEMS) this.record();
    else this.recordTimer ??= setTimeout(() => this.record(), RECORD_EVERY_MS);
  }
}
