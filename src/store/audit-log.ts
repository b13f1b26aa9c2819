/** The audit log: who did what and when, never what was looked up. */
import type Database from 'better-sqlite3';

export interface AuditEntry {
  id: number;
  at: string;
  /** `key:<id>` or `anonymous:<keyed hash of the client address>`. */
  actor: string;
  /** Method and route pattern, e.g. `POST /v1/match`. */
  action: string;
  /** The resource acted on (route parameters), if any. */
  target: string | null;
  status: number;
  matchCount: number | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id'>;

export interface AuditLog {
  /** Queued and written with others in one transaction shortly after (see `AuditLogOptions`). */
  append(entry: NewAuditEntry): void;
  /** Writes what is queued now (before reading, and before closing the store). */
  flush(): void;
  /** Newest first, `limit` entries before the entry with id `beforeId` (or the newest). */
  list(options: { limit: number; beforeId?: number }): AuditEntry[];
}

/** Entries per multi-row INSERT: one statement step writes them all, instead of a step per entry. */
const ROWS_PER_INSERT = 64;
const COLUMNS = '(at, actor, action, target, status, match_count)';

type AuditRow = { id: number; at: string; actor: string; action: string; target: string | null; status: number; match_count: number | null };

export interface AuditLogOptions {
  /**
   * How long an entry may wait to be written with later ones (ms). 0 (the
   * default) writes on the next turn of the event loop.
   */
  maxDelayMs?: number;
  /** Write at once when this many entries are waiting. */
  maxPending?: number;
}

/**
 * Entries are written in groups: the store syncs every commit to disk, and one
 * sync per request would cost more than the lookup it records. An entry is
 * appended after its response was sent, so grouping only delays it; `flush`
 * (on every read and before the store closes) writes what is waiting.
 *
 * With the default, one group per event-loop turn, a busy server still syncs
 * once per turn, i.e. every few requests: under load that sync (1 to 4 ms on
 * this project's disks, with the event loop blocked) was most of a hash
 * match's cost. The service therefore waits up to `maxDelayMs`; what a hard
 * crash (power loss, SIGKILL) can lose grows from one turn's entries to that
 * many milliseconds' worth.
 */
export class SqliteAuditLog implements AuditLog {
  private readonly statements;
  private readonly writeAll: (entries: NewAuditEntry[]) => void;
  private pending: NewAuditEntry[] = [];
  private readonly maxDelayMs: number;
  private readonly maxPending: number;
  private timer: NodeJS.Timeout | null = null;

  constructor(db: Database.Database, { maxDelayMs = 0, maxPending = 10_000 }: AuditLogOptions = {}) {
    this.maxDelayMs = maxDelayMs;
    this.maxPending = maxPending;
    this.statements = {
      insert: db.prepare(`INSERT INTO audit_log ${COLUMNS} VALUES (?, ?, ?, ?, ?, ?)`),
      insertMany: db.prepare(`INSERT INTO audit_log ${COLUMNS} VALUES ${Array(ROWS_PER_INSERT).fill('(?, ?, ?, ?, ?, ?)').join(', ')}`),
      page: db.prepare<[number, number], AuditRow>('SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?'),
    };
    const values: unknown[] = [];
    this.writeAll = db.transaction((entries: NewAuditEntry[]) => {
      let i = 0;
      for (; i + ROWS_PER_INSERT <= entries.length; i += ROWS_PER_INSERT) {
        values.length = 0;
        for (let k = i; k < i + ROWS_PER_INSERT; k++) {
          const e = entries[k];
          values.push(e.at, e.actor, e.action, e.target, e.status, e.matchCount);
        }
        this.statements.insertMany.run(values);
      }
      for (; i < entries.length; i++) {
        const e = entries[i];
        this.statements.insert.run(e.at, e.actor, e.action, e.target, e.status, e.matchCount);
      }
    });
  }

  append(entry: NewAuditEntry): void {
    this.pending.push(entry);
    if (this.pending.length >= this.maxPending) this.flush();
    else if (this.pending.length === 1) {
      if (this.maxDelayMs > 0) this.timer = setTimeout(() => this.flush(), this.maxDelayMs);
      else setImmediate(() => this.flush());
    }
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    this.writeAll(entries);
  }

  list({ limit, beforeId }: { limit: number; beforeId?: number }): AuditEntry[] {
    this.flush();
    return this.statements.page
      .all(beforeId ?? Number.MAX_SAFE_INTEGER, limit)
      .map((r) => ({ id: r.id, at: r.at, actor: r.actor, action: r.action, target: r.target, status: r.status, matchCount: r.match_count }));
  }
}
