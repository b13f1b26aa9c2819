/**
 * Matches NGO batch items in the background: at most `concurrency` items at
 * once across all batches, oldest batch first. Outcomes are committed in
 * groups as items finish, so a restart resumes with the items still pending.
 *
 * An error about the item itself (a 4xx such as INVALID_HASH) fails that item
 * and the batch goes on. A failure on our side (the index worker, the
 * database, a bug) must not become the item's answer: the item stays pending,
 * the runner pauses (longer after each failure in a row, up to a cap) and
 * tries again, and fails the item for good only after `maxAttempts` tries. A
 * failed save keeps the outcomes and saves them again after the pause.
 * A periodic sweep deletes the results of expired batches; an expired batch's
 * items are not matched any more.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type {
  Batch,
  BatchMatchOptions,
  BatchQuerySignal,
  FinishedItem,
  ItemError,
  ItemOutcome,
  ItemWarning,
  PendingBatchItem,
  SqliteBatchStore,
  StoredBatchMatch,
} from '../store/batches.js';
import { inputErrorOf } from './input-errors.js';

/** Matches one item's hashes under the batch's options; may be synchronous or not. */
export type MatchBatchItem = (
  query: BatchQuerySignal[],
  options: BatchMatchOptions,
) => { matches: StoredBatchMatch[]; warnings: ItemWarning[] } | Promise<{ matches: StoredBatchMatch[]; warnings: ItemWarning[] }>;

export interface RetryOptions {
  /** The pause after a first failure; each further failure in a row doubles it. */
  firstDelayMs: number;
  /** The longest pause. */
  maxDelayMs: number;
  /** Tries at matching one item, failing on our side each time, before the item is failed for good. */
  maxAttempts: number;
}

export interface BatchRunnerOptions {
  concurrency: number;
  /** How long results are kept, and how long an expired batch still says so. */
  ttlHours: number;
  /** How often the expiry sweep runs. */
  sweepIntervalMs?: number;
  /** How failures on our side are retried. */
  retry?: RetryOptions;
  /** Told about failures of the runner itself (not of items, which are recorded); never given hashes. */
  onError?: (err: unknown) => void;
}

/**
 * Pauses of 1, 2, 4, 8 s and so on up to a minute: a database busy for a
 * moment is ridden out; an item failed 5 times is given up (a failed index
 * worker is mended only by the restart that /healthz asks for).
 */
const DEFAULT_RETRY: RetryOptions = { firstDelayMs: 1_000, maxDelayMs: 60_000, maxAttempts: 5 };

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
  /** Position of the last item handed out. */
  after: number;
  buffered: PendingBatchItem[];
}

/** An item handed out to be matched. */
interface QueuedItem {
  batchId: string;
  item: PendingBatchItem;
}

/** How to match a batch's items now: its options, with the banks it names that were deleted since left out. */
interface ItemSearch {
  options: BatchMatchOptions;
  deletedBanks: number[];
}

/** What failed on our side: each kind has its own run of failures in a row, which sets the pause. */
type FailureKind = 'matching' | 'database';

function gaveUp(attempts: number): ItemError {
  return {
    code: 'INTERNAL',
    message: `This item could not be matched because of an error on our side, after ${attempts} attempts; send it again in a new batch.`,
  };
}

function banksDeleted(bankIds: number[]): ItemError {
  return {
    code: 'NOT_FOUND',
    message: `Every bank this batch searches (${bankIds.join(', ')}) was deleted while it ran, so this item was not matched against anything.`,
  };
}

/** Whether a batch's items may still be matched: not done, and not expired (swept yet or not). */
function isLive(batch: Batch | undefined, now: Date): batch is Batch {
  return batch !== undefined && (batch.status === 'queued' || batch.status === 'running') && batch.expiresAt > now.toISOString();
}

const attemptKey = ({ batchId, item }: QueuedItem) => `${batchId}:${item.position}`;

export class BatchRunner {
  private readonly queue: string[] = [];
  private current: BatchCursor | null = null;
  /** Items that failed on our side, handed out again before any other once the pause is over. */
  private readonly retries: QueuedItem[] = [];
  /** Failed tries per item still to be retried. */
  private readonly attempts = new Map<string, number>();
  private readonly inFlight = new Set<Promise<void>>();
  private started = false;
  private closed = false;
  private sweepTimer: NodeJS.Timeout | null = null;
  private unrecorded: FinishedItem[] = [];
  private recordTimer: NodeJS.Timeout | null = null;
  /** Set while paused after a failure: no item starts and nothing is saved until it fires. */
  private resumeTimer: NodeJS.Timeout | null = null;
  private readonly failuresInARow: Record<FailureKind, number> = { matching: 0, database: 0 };
  private readonly retry: RetryOptions;

  constructor(
    private readonly store: SqliteBatchStore,
    private readonly matchItem: MatchBatchItem,
    private readonly options: BatchRunnerOptions,
  ) {
    this.retry = options.retry ?? DEFAULT_RETRY;
  }

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

  /**
   * Stops taking items and waits for the ones in flight to be matched and
   * recorded. Items waiting for a retry stay pending in the store, for the next start.
   */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.resumeTimer) clearTimeout(this.resumeTimer);
    this.resumeTimer = null;
    while (this.inFlight.size > 0) await Promise.all(this.inFlight);
    this.record();
  }

  private record(): void {
    if (this.recordTimer) clearTimeout(this.recordTimer);
    this.recordTimer = null;
    // While paused, outcomes wait for the resume (after a failed save, that is its retry).
    if (this.resumeTimer || this.unrecorded.length === 0) return;
    const finished = this.unrecorded;
    this.unrecorded = [];
    try {
      this.store.finishItems(finished);
      this.failuresInARow.database = 0;
    } catch (err) {
      // Kept to be saved again; the items are still pending in the store, so a restart meanwhile matches them again.
      this.unrecorded = finished;
      this.pauseAfter('database', 'saving batch results failed', err);
    }
  }

  private sweepSafely(): void {
    try {
      this.sweep();
    } catch (err) {
      this.report('the batch expiry sweep failed', err);
    }
  }

  /** Reports a failure on our side, with its cause; no caller puts a hash in `what`. */
  private report(what: string, err: unknown): void {
    this.options.onError?.(new Error(what, { cause: err }));
  }

  /** Pauses the runner after a failure on our side, longer after each failure of that kind in a row; then it saves what waits and goes on. */
  private pauseAfter(kind: FailureKind, what: string, err: unknown): void {
    // Items that fail together (concurrency > 1) share one pause.
    if (this.closed || this.resumeTimer) return this.report(what, err);
    const delay = Math.min(this.retry.maxDelayMs, this.retry.firstDelayMs * 2 ** this.failuresInARow[kind]++);
    this.report(`${what}; retrying in ${delay} ms`, err);
    this.resumeTimer = setTimeout(() => {
      this.resumeTimer = null;
      this.record();
      this.pump();
    }, delay);
  }

  private pump(): void {
    try {
      while (!this.closed && !this.resumeTimer && this.inFlight.size < this.options.concurrency) {
        const next = this.nextItem();
        if (!next) return;
        const job: Promise<void> = this.process(next).finally(() => {
          this.inFlight.delete(job);
          this.pump();
        });
        this.inFlight.add(job);
      }
    } catch (err) {
      // Nothing is lost: the batch is still first in the queue, its cursor where it was.
      this.pauseAfter('database', 'reading batch items failed', err);
    }
  }

  private nextItem(): QueuedItem | null {
    const retry = this.retries.shift();
    if (retry) return retry;
    for (;;) {
      if (!this.current) {
        // Taken off the queue only once read, so a failed read leaves it there.
        const batchId = this.queue[0];
        if (batchId === undefined) return null;
        if (isLive(this.store.get(batchId), new Date())) {
          this.store.markRunning(batchId);
          this.current = { batchId, after: -1, buffered: [] };
        }
        this.queue.shift();
        continue;
      }
      const cursor = this.current;
      if (cursor.buffered.length === 0) cursor.buffered = this.store.pendingItems(cursor.batchId, cursor.after, PAGE_SIZE);
      const item = cursor.buffered.shift();
      if (item) {
        cursor.after = item.position;
        return { batchId: cursor.batchId, item };
      }
      // Every item of this batch is handed out; its last one marks it done when it finishes.
      this.current = null;
    }
  }

  /**
   * How to match an item of this batch now, or null once the batch has
   * expired: read before every item (one row by its key), so the items of a
   * page read before the expiry are not matched after it.
   *
   * A bank named in `banks` and deleted since is simply not searched: its
   * content has left the service, and results read later drop matches of
   * deleted content, so items matched before the deletion read back the same
   * way and the whole batch answers for the banks that remain. If none
   * remains there is nothing to search, and "no match" would be a false
   * all-clear: the items fail, naming the banks.
   */
  private currentSearch(batchId: string): ItemSearch | null {
    const batch = this.store.get(batchId);
    if (!isLive(batch, new Date())) return null;
    const { banks } = batch.options;
    if (!banks) return { options: batch.options, deletedBanks: [] };
    const remaining = this.store.existingBanks(banks);
    return { options: { ...batch.options, banks: remaining }, deletedBanks: banks.filter((id) => !remaining.includes(id)) };
  }

  private async process(queued: QueuedItem): Promise<void> {
    // Matching is synchronous CPU work: let requests in between items.
    await yieldToEventLoop();
    let search: ItemSearch | null;
    try {
      search = this.currentSearch(queued.batchId);
    } catch (err) {
      this.retries.push(queued);
      return this.pauseAfter('database', 'reading a batch failed', err);
    }
    if (!search) {
      // Expired: its items are deleted, and the rest of its page goes unread.
      this.attempts.delete(attemptKey(queued));
      if (this.current?.batchId === queued.batchId) this.current = null;
      return;
    }
    if (search.options.banks?.length === 0) return this.finish(queued, { error: banksDeleted(search.deletedBanks) });
    // No await between reading the banks above and the matcher reading them, so none is deleted in between.
    const outcome = await this.match(queued, search.options);
    if (outcome) this.finish(queued, outcome);
  }

  /** The item's outcome, or null if it failed on our side and is to be tried again. */
  private async match(queued: QueuedItem, options: BatchMatchOptions): Promise<ItemOutcome | null> {
    try {
      const { matches, warnings } = await this.matchItem(queued.item.query, options);
      this.failuresInARow.matching = 0;
      return { matches, warnings: [...queued.item.warnings, ...warnings] };
    } catch (err) {
      const error = inputErrorOf(err);
      if (error) return { error };
      const attempts = (this.attempts.get(attemptKey(queued)) ?? 0) + 1;
      if (attempts >= this.retry.maxAttempts) {
        this.report(`a batch item could not be matched; gave up after ${attempts} attempts`, err);
        return { error: gaveUp(attempts) };
      }
      this.attempts.set(attemptKey(queued), attempts);
      this.retries.push(queued);
      this.pauseAfter('matching', `a batch item could not be matched (attempt ${attempts} of ${this.retry.maxAttempts})`, err);
      return null;
    }
  }

  private finish(queued: QueuedItem, outcome: ItemOutcome): void {
    this.attempts.delete(attemptKey(queued));
    this.unrecorded.push({ batchId: queued.batchId, position: queued.item.position, outcome });
    if (this.unrecorded.length >= RECORD_EVERY_ITEMS) this.record();
    else this.recordTimer ??= setTimeout(() => this.record(), RECORD_EVERY_MS);
  }
}
