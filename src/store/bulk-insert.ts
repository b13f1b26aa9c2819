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
const SIGNAL_COLUMNS = ['id', 'content_item_id', 'type', 'hash', 'quality'];

export interface BulkItem {
  provenance: { platform: string; channel: string | null; messageRef: string | null; capturedAt: string | null };
  /** As JSON. */
  metadata: string;
  note: string | null;
  signals: readonly { type: { name: string }; hash: Uint8Array; quality: number | null }[];
}

class PendingRows {
  readonly params: unknown[] = [];
  rows = 0;
  private readonly statements = new Map<number, Database.Statement>();
  private readonly lastId: Database.Statement<[string], { id: number }>;

  constructor(
    private readonly db: Database.Database,
    private readonly table: string,
    private readonly columns: readonly string[],
  ) {
    this.lastId = db.prepare(
      `SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = ?), 0), coalesce((SELECT max(id) FROM ${table}), 0)) AS id`,
    );
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
    const width = this.columns.length;
    const full = this.statement(ROWS_PER_STATEMENT);
    let at = 0;
    for (; this.rows - at / width >= ROWS_PER_STATEMENT; at += ROWS_PER_STATEMENT * width) full.run(this.params.slice(at, at + ROWS_PER_STATEMENT * width));
    const left = this.rows - at / width;
    if (left > 0) this.statement(left).run(this.params.slice(at));
    this.discard();
  }

  discard(): void {
    this.params.length = 0;
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
    this.content.params.push(contentId, bankId, p.platform, p.channel, p.messageRef, p.capturedAt, item.metadata, item.note, now, now);
    this.content.rows++;
    let signalId = (this.nextSignalId ??= this.signals.nextId());
    for (const s of item.signals) {
      this.signals.params.push(signalId, contentId, s.type.name, s.hash, s.quality);
      this.signals.rows++;
      signalIds.push(signalId++);
    }
    this.nextSignalId = signalId;
    if (this.content.rows >= ROWS_PER_STATEMENT || this.signals.rows >= ROWS_PER_STATEMENT) this.write();
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
