/**
 * NGO batches in SQLite, sharing the store's database: the batch (owner,
 * options, progress, expiry) and one row per item with its query hashes
 * until it finishes and then the ids of the content it matched or the item's
 * error. Never image bytes: image items are hashed before they get here.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { truncateWal } from './sqlite-files.js';

export type BatchStatus = 'queued' | 'running' | 'done' | 'expired';
export type BatchItemState = 'pending' | 'done' | 'failed';

/** One hash of an item's query, as hex (the NGO's own data, kept only while the item is pending). */
export interface BatchQuerySignal {
  type: string;
  hash: string;
}

/** How every item of a batch is matched, as the request said it (the query module's options). */
export interface BatchMatchOptions {
  mode?: 'robust' | 'pdq';
  threshold?: number;
  thresholds?: Readonly<Record<string, number | undefined>>;
  banks?: number[];
  /** The items are images' queries, kept as hashes: answered as image queries are. */
  fromImages?: boolean;
}

/** A match as stored: ids and how it was found; provenance is read from the store when results are shown. */
export interface StoredBatchMatch {
  contentId: number;
  bankId: number;
  signalType: string;
  distance: number;
  /** Absent in matches recorded before they were kept. */
  via?: 'whole' | 'region';
  region?: string | null;
  variant?: string | null;
  signalIndex?: number;
}

export interface ItemError {
  code: string;
  message: string;
}

/** Said with an item's answer, e.g. LOW_QUALITY (matched on exact digests only). */
export interface ItemWarning {
  code: string;
  message: string;
}

/** An item to add: hashes to match, or an error found at intake (an image that could not be hashed). */
export type NewBatchItem = { query: BatchQuerySignal[]; warnings?: ItemWarning[] } | { error: ItemError };

/** `warnings`: every warning of the item's answer, those given at intake included. */
export type ItemOutcome = { matches: StoredBatchMatch[]; warnings: ItemWarning[] } | { error: ItemError };

export interface FinishedItem {
  batchId: string;
  position: number;
  outcome: ItemOutcome;
}

export interface Batch {
  id: string;
  keyId: number;
  status: BatchStatus;
  options: BatchMatchOptions;
  total: number;
  done: number;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
}

export interface BatchItem {
  position: number;
  state: BatchItemState;
  matches: StoredBatchMatch[] | null;
  error: ItemError | null;
  warnings: ItemWarning[] | null;
}

export interface PendingBatchItem {
  position: number;
  query: BatchQuerySignal[];
  /** Given at intake (e.g. LOW_QUALITY). */
  warnings: ItemWarning[];
}

type BatchRow = {
  id: string;
  key_id: number;
  status: BatchStatus;
  options: string;
  total: number;
  done: number;
  created_at: string;
  updated_at: string;
  expires_at: string;
};
type ItemRow = { position: number; state: BatchItemState; matches: string | null; error_code: string | null; error_message: string | null; warnings: string | null };

const fromRow = (r: BatchRow): Batch => ({
  id: r.id,
  keyId: r.key_id,
  status: r.status,
  options: JSON.parse(r.options) as BatchMatchOptions,
  total: r.total,
  done: r.done,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  expiresAt: r.expires_at,
});

/** `bat_` + 22 base64url characters: 128 random bits, so batch ids cannot be guessed. */
export function newBatchId(): string {
  return `bat_${randomBytes(16).toString('base64url')}`;
}

export const BATCH_ID_PATTERN = '^bat_[A-Za-z0-9_-]{22}$';

/** Every statement the batch store runs, prepared once per connection. */
function prepareStatements(db: Database.Database) {
  return {
      insertBatch: db.prepare(
        `INSERT INTO batches (id, key_id, status, options, total, done, created_at, updated_at, expires_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
      ),
      insertItem: db.prepare('INSERT INTO batch_items (batch_id, position, state, query, error_code, error_message, warnings) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      byId: db.prepare<[string], BatchRow>('SELECT * FROM batches WHERE id = ?'),
      // Ties in created_at (batches of the same millisecond) go in insertion order: the id is random.
      unfinished: db.prepare<[], string>("SELECT id FROM batches WHERE status IN ('queued', 'running') ORDER BY created_at, rowid").pluck(),
      setStatus: db.prepare<[BatchStatus, string, string]>('UPDATE batches SET status = ?, updated_at = ? WHERE id = ?'),
      items: db.prepare<[string, number, number], ItemRow>(
        'SELECT position, state, matches, error_code, error_message, warnings FROM batch_items WHERE batch_id = ? AND position >= ? ORDER BY position LIMIT ?',
      ),
      pending: db.prepare<[string, number, number], { position: number; query: string; warnings: string | null }>(
        "SELECT position, query, warnings FROM batch_items WHERE batch_id = ? AND position > ? AND state = 'pending' ORDER BY position LIMIT ?",
      ),
      // The query goes with the item's finish: only pending items are ever matched (or resumed) again.
      finishItem: db.prepare<[BatchItemState, string | null, string | null, string | null, string | null, string, number]>(
        "UPDATE batch_items SET state = ?, query = NULL, matches = ?, warnings = ?, error_code = ?, error_message = ? WHERE batch_id = ? AND position = ? AND state = 'pending'",
      ),
      isDone: db.prepare<[string, string], number>(
        `UPDATE batches SET done = done + 1, updated_at = ?,
           status = CASE WHEN done + 1 = total THEN 'done' ELSE status END
         WHERE id = ? RETURNING done = total`,
      ).pluck(),
      expiredIds: db.prepare<[string], string>("SELECT id FROM batches WHERE expires_at <= ? AND status <> 'expired'").pluck(),
      deleteItems: db.prepare<[string]>('DELETE FROM batch_items WHERE batch_id = ?'),
      markExpired: db.prepare<[string, string]>("UPDATE batches SET status = 'expired', options = '{}', updated_at = ? WHERE id = ?"),
      forget: db.prepare<[string]>("DELETE FROM batches WHERE status = 'expired' AND expires_at <= ?"),
      existingBanks: db.prepare<[string], number>('SELECT id FROM banks WHERE id IN (SELECT value FROM json_each(?))').pluck(),
    };
}

export class SqliteBatchStore {
  private readonly statements: ReturnType<typeof prepareStatements>;
  private readonly createTx;
  private readonly finishTx;
  private readonly expireTx;

  constructor(private readonly db: Database.Database) {
    this.statements = prepareStatements(db);

    this.createTx = db.transaction((batch: BatchRow, items: NewBatchItem[]) => {
      this.statements.insertBatch.run(
        batch.id,
        batch.key_id,
        batch.status,
        batch.options,
        batch.total,
        batch.done,
        batch.created_at,
        batch.updated_at,
        batch.expires_at,
      );
      items.forEach((item, position) => {
        if ('query' in item) {
          this.statements.insertItem.run(batch.id, position, 'pending', JSON.stringify(item.query), null, null, item.warnings?.length ? JSON.stringify(item.warnings) : null);
        } else this.statements.insertItem.run(batch.id, position, 'failed', null, item.error.code, item.error.message, null);
      });
    });

    this.finishTx = db.transaction((finished: FinishedItem[], now: string) => {
      let batchesDone = 0;
      for (const { batchId, position, outcome } of finished) {
        const changed =
          'matches' in outcome
            ? this.statements.finishItem.run('done', JSON.stringify(outcome.matches), outcome.warnings.length ? JSON.stringify(outcome.warnings) : null, null, null, batchId, position).changes
            : this.statements.finishItem.run('failed', null, null, outcome.error.code, outcome.error.message, batchId, position).changes;
        // An item finishes once: a batch expired meanwhile, or an item already finished, changes nothing.
        if (changed === 1 && this.statements.isDone.get(now, batchId)) batchesDone++;
      }
      return batchesDone;
    });

    this.expireTx = db.transaction((now: string, forgetBefore: string) => {
      const ids = this.statements.expiredIds.all(now);
      for (const id of ids) {
        this.statements.deleteItems.run(id);
        this.statements.markExpired.run(now, id);
      }
      this.statements.forget.run(forgetBefore);
      return ids.length;
    });
  }

  /**
   * Creates a batch with its items in one transaction. Items that failed at
   * intake count as done, so a batch of only such items is done at once.
   */
  create(input: { keyId: number; options: BatchMatchOptions; items: NewBatchItem[]; ttlHours: number; now?: Date }): Batch {
    const now = input.now ?? new Date();
    const failed = input.items.filter((item) => 'error' in item).length;
    const id = newBatchId();
    this.createTx(
      {
        id,
        key_id: input.keyId,
        status: failed === input.items.length ? 'done' : 'queued',
        options: JSON.stringify(input.options),
        total: input.items.length,
        done: failed,
        created_at: now.toISOString(),
        updated_at: now.toISOString(),
        expires_at: new Date(now.getTime() + input.ttlHours * 3_600_000).toISOString(),
      },
      input.items,
    );
    return this.get(id)!;
  }

  get(id: string): Batch | undefined {
    const row = this.statements.byId.get(id);
    return row && fromRow(row);
  }

  /** Items from `offset` on, in request order. */
  listItems(batchId: string, offset: number, limit: number): BatchItem[] {
    return this.statements.items.all(batchId, offset, limit).map((r) => ({
      position: r.position,
      state: r.state,
      matches: r.matches === null ? null : (JSON.parse(r.matches) as StoredBatchMatch[]),
      error: r.error_code === null ? null : { code: r.error_code, message: r.error_message ?? '' },
      warnings: r.warnings === null ? null : (JSON.parse(r.warnings) as ItemWarning[]),
    }));
  }

  /** Ids of batches with items still to match, oldest first (to resume after a restart). */
  unfinished(): string[] {
    return this.statements.unfinished.all();
  }

  /** Up to `limit` pending items after position `after`, in order. */
  pendingItems(batchId: string, after: number, limit: number): PendingBatchItem[] {
    return this.statements.pending.all(batchId, after, limit).map((r) => ({
      position: r.position,
      query: JSON.parse(r.query) as BatchQuerySignal[],
      warnings: r.warnings === null ? [] : (JSON.parse(r.warnings) as ItemWarning[]),
    }));
  }

  /** Which of these banks still exist, in the order given (a batch names banks that may be deleted while it runs). */
  existingBanks(bankIds: number[]): number[] {
    const existing = new Set(this.statements.existingBanks.all(JSON.stringify(bankIds)));
    return bankIds.filter((id) => existing.has(id));
  }

  markRunning(batchId: string, now = new Date()): void {
    const batch = this.get(batchId);
    if (batch?.status === 'queued') this.statements.setStatus.run('running', now.toISOString(), batchId);
  }

  /**
   * Records items' results or errors in one transaction (one commit per item
   * would cost a disk sync each), dropping their queries; a batch is done
   * when its last item is. When a batch is done its query hashes (the NGO's
   * data, deleted as each item finished) must not stay readable in the
   * write-ahead log either: it is emptied then.
   */
  finishItems(finished: FinishedItem[], now = new Date()): void {
    if (this.finishTx(finished, now.toISOString()) > 0) truncateWal(this.db);
  }

  /**
   * Deletes the items and options of batches past their expiry, leaving a
   * row that says "expired" (instead of "not found") for another `ttlHours`,
   * after which the batch is forgotten. Returns how many batches expired now.
   */
  expire(now: Date, ttlHours: number): number {
    const expired = this.expireTx(now.toISOString(), new Date(now.getTime() - ttlHours * 3_600_000).toISOString());
    // An expired batch's unmatched items held query hashes: not left in the log either.
    if (expired > 0) truncateWal(this.db);
    return expired;
  }
}
