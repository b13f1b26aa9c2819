/**
 * Content items and their signals written by multi-row INSERT statements,
 * for imports (SqliteStore.importTransaction). One statement of a few hundred
 * rows costs SQLite far less than as many single-row statements, and binding
 * happens once per statement rather than once per row.
 *
 * The ids are given explicitly, counting on from the table's AUTOINCREMENT
 * sequence (an explicit id above it moves the sequence on, so ids are still
 * never reused): an item's id is known at once, before its rows are written.
 * That holds only while nothing else inserts into the tables, so whoever
 * writes otherwise calls `flush()` first, which also forgets the counters.
 */
import type Database from 'better-sqlite3';

/** Rows per statement: 256 × 10 parameters stays well inside SQLite's limit on bound parameters. */
const ROWS_PER_STATEMENT = 256;
const CONTENT_COLUMNS = ['id', 'bank_id', 'platform', 'channel', 'message_ref', 'captured_at', 'metadata', 'note', 'created_at', 'updated_at'];
const SIGNAL_COLUMNS = ['id', 'content_item_id', 'type', 'hash', 'quality', 'region'];

export interface BulkItem {
  provenance: { platform: string; channel: string | null; messageRef: string | null; capturedAt: string | null };
  /** As JSON. */
  metadata: string;
  note: string | null;
  signals: readonly { type: { name: string }; hash: Uint8Array; quality: number | null; region: string | null }[];
}

class PendingRows {
  /**
   * The queued rows' parameters, written by index and kept between
   * statements: a full statement binds this very array (no copy, and no array
   * grown afresh for every statement); stale values past the queued rows are
   * never bound.
   */
  private readonly params: unknown[];
  rows = 0;
  private readonly statements = new Map<number, Database.Statement>();
  private readonly lastId: Database.Statement<[string], { id: number }>;
  private readonly width: number;

  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
    private readonly columns: readonly string[],
  ) {
    this.width = columns.length;
    this.params = new Array<unknown>(ROWS_PER_STATEMENT * this.width).fill(null);
    this.lastId = db.prepare(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), coalesce((SELECT max(id) FROM ${table}), 0)) AS id`,
    );
  }

  /** The next row's first parameter's index; the caller sets the row's `width` parameters from there. */
  next(): number {
    return this.rows++ * this.width;
  }

  set(at: number, value: unknown): void {
    this.params[at] = value;
  }

  private statement(rows: number): Database.Statement {
    let statement = this.statements.get(rows);
    if (!statement) {
      const row = `(${this.columns.map(() => '?').join(', ')})`;
      statement = this.db.prepare(`INSERT INTO ${this.table} (${this.columns.join(', ')}) VALUES ${Array(rows).fill(row).join(', ')}`);
      this.statements.set(rows, statement);
    }
    return statement;
  }

  /** The next id the table's AUTOINCREMENT would give. */
  nextId(): number {
    return this.lastId.get(this.table)!.id + 1;
  }

  write(): void {
    const { width, rows, params } = this;
    const size = ROWS_PER_STATEMENT * width;
    if (rows === ROWS_PER_STATEMENT && params.length === size) this.statement(ROWS_PER_STATEMENT).run(params);
    else {
      // An item with many signals went past a statement's rows: whole statements, then the rest.
      let at = 0;
      for (; rows * width - at >= size; at += size) this.statement(ROWS_PER_STATEMENT).run(params.slice(at, at + size));
      if (at < rows * width) this.statement(rows - at / width).run(params.slice(at, rows * width));
      if (params.length > size) params.length = size;
    }
    this.rows = 0;
  }

  discard(): void {
    this.rows = 0;
  }
}

export class BulkInserter {
  private readonly content: PendingRows;
  private readonly signals: PendingRows;
  private nextContentId: number | undefined;
  private nextSignalId: number | undefined;

  constructor(db: Database.Database) {
    this.content = new PendingRows(db, 'content_items', CONTENT_COLUMNS);
    this.signals = new PendingRows(db, 'signals', SIGNAL_COLUMNS);
  }

  /** Queues the item and its signals; returns its id and its signals' ids (pushed onto `signalIds`). */
  add(bankId: number, item: BulkItem, now: string, signalIds: number[]): number {
    const contentId = (this.nextContentId ??= this.content.nextId());
    this.nextContentId++;
    const p = item.provenance;
    const c = this.content;
    const at = c.next();
    c.set(at, contentId);
    c.set(at + 1, bankId);
    c.set(at + 2, p.platform);
    c.set(at + 3, p.channel);
    c.set(at + 4, p.messageRef);
    c.set(at + 5, p.capturedAt);
    c.set(at + 6, item.metadata);
    c.set(at + 7, item.note);
    c.set(at + 8, now);
    c.set(at + 9, now);
    let signalId = (this.nextSignalId ??= this.signals.nextId());
    const s = this.signals;
    for (const signal of item.signals) {
      const row = s.next();
      s.set(row, signalId);
      s.set(row + 1, contentId);
      s.set(row + 2, signal.type.name);
      s.set(row + 3, signal.hash);
      s.set(row + 4, signal.quality);
      s.set(row + 5, signal.region);
      signalIds.push(signalId++);
    }
    this.nextSignalId = signalId;
    if (c.rows >= ROWS_PER_STATEMENT || s.rows >= ROWS_PER_STATEMENT) this.write();
    return contentId;
  }

  /** Writes what is queued: before any other statement reads, changes or deletes these rows. */
  write(): void {
    // Items first: their signals refer to them.
    if (this.content.rows > 0) this.content.write();
    if (this.signals.rows > 0) this.signals.write();
  }

  /** Drops what is queued (its transaction rolled back) and the id counters. */
  discard(): void {
    this.content.discard();
    this.signals.discard();
    this.nextContentId = undefined;
    this.nextSignalId = undefined;
  }

  /** Writes what is queued and forgets the id counters: other statements insert next. */
  flush(): void {
    this.write();
    this.nextContentId = undefined;
    this.nextSignalId = undefined;
  }
}
