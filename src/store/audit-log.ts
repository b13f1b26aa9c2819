/**
 * The audit log: who did what and when, never what was looked up; a hash
 * chain (audit-chain.ts), so an entry altered, removed or moved afterwards
 * shows. What ties an entry to a victim's case is kept apart and erased when
 * she withdraws it, leaving the chain whole.
 */
import type Database from 'better-sqlite3';
import { type ChainedEntry, type ChainReport, commit, entryHash, GENESIS_HASH, verifyChain } from './audit-chain.js';

/** An entry as anyone with the audit permission reads it: the chain's fields without the private ones. */
export type AuditEntry = Omit<ChainedEntry, 'caseId' | 'details' | 'salt'> & {
  /** Whether its private fields were erased (a withdrawn case). */
  redacted: boolean;
};

export interface NewAuditEntry {
  at: string;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  matchCount: number | null;
  /** Private: the victim's case concerned. */
  caseId?: number | null;
  /** Private: further facts about it, as a JSON object. */
  details?: Record<string, unknown> | null;
}

export interface AuditFilter {
  actor?: string;
  action?: string;
  /** ISO-8601: entries at or after. */
  since?: string;
  /** ISO-8601: entries before. */
  until?: string;
}

export interface AuditLog {
  /** Queued and written with others in one transaction shortly after (see `AuditLogOptions`). */
  append(entry: NewAuditEntry): void;
  /** Written now, within the caller's transaction if one is open. */
  appendNow(entries: NewAuditEntry[]): void;
  /** Writes what is queued now (before reading, and before closing the store). */
  flush(): void;
  /** Newest first, `limit` entries before the entry with id `beforeId` (or the newest). */
  list(options: { limit: number; beforeId?: number } & AuditFilter): AuditEntry[];
}

/** Entries per multi-row INSERT: one statement step writes them all, instead of a step per entry. */
const ROWS_PER_INSERT = 64;
const COLUMNS = '(id, at, actor, action, target, status, match_count, case_id, details, salt, commitment, prev_hash, hash)';
const PLACEHOLDERS = `(${Array(13).fill('?').join(', ')})`;

type AuditRow = {
  id: number;
  at: string;
  actor: string;
  action: string;
  target: string | null;
  status: number;
  match_count: number | null;
  case_id: number | null;
  details: string | null;
  salt: string | null;
  commitment: string | null;
  prev_hash: string | null;
  hash: string | null;
};

const chained = (r: AuditRow): ChainedEntry => ({
  id: r.id,
  at: r.at,
  actor: r.actor,
  action: r.action,
  target: r.target,
  status: r.status,
  matchCount: r.match_count,
  caseId: r.case_id,
  details: r.details,
  salt: r.salt,
  commitment: r.commitment,
  prevHash: r.prev_hash ?? '',
  hash: r.hash ?? '',
});

const publicEntry = (r: AuditRow): AuditEntry => {
  const { caseId: _caseId, details: _details, salt, ...shown } = chained(r);
  return { ...shown, redacted: shown.commitment !== null && salt === null };
};

const rowValues = (e: ChainedEntry) => [e.id, e.at, e.actor, e.action, e.target, e.status, e.matchCount, e.caseId, e.details, e.salt, e.commitment, e.prevHash, e.hash];

export interface AuditLogOptions {
  /**
   * How long an entry may wait to be written with later ones (ms). 0 (the
   * default) writes on the next turn of the event loop.
   */
  maxDelayMs?: number;
  /** Write at once when this many entries are waiting. */
  maxPending?: number;
}

function prepare(db: Database.Database) {
  return {
    insert: db.prepare(`INSERT INTO audit_log ${COLUMNS} VALUES ${PLACEHOLDERS}`),
    insertMany: db.prepare(`INSERT INTO audit_log ${COLUMNS} VALUES ${Array(ROWS_PER_INSERT).fill(PLACEHOLDERS).join(', ')}`),
    head: db.prepare<[], { id: number; hash: string | null }>('SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1'),
    page: db.prepare<Record<string, unknown>, AuditRow>(
      `SELECT * FROM audit_log WHERE id < @before AND (@actor IS NULL OR actor = @actor) AND (@action IS NULL OR action = @action)
       AND (@since IS NULL OR at >= @since) AND (@until IS NULL OR at < @until) ORDER BY id DESC LIMIT @limit`,
    ),
    all: db.prepare<[], AuditRow>('SELECT * FROM audit_log ORDER BY id'),
    unchained: db.prepare<[], AuditRow>('SELECT * FROM audit_log WHERE hash IS NULL ORDER BY id'),
    lastChainedBefore: db.prepare<[number], { hash: string }>('SELECT hash FROM audit_log WHERE id < ? AND hash IS NOT NULL ORDER BY id DESC LIMIT 1'),
    setChain: db.prepare('UPDATE audit_log SET prev_hash = ?, hash = ? WHERE id = ?'),
    redactCase: db.prepare('UPDATE audit_log SET case_id = NULL, details = NULL, salt = NULL WHERE case_id = ?'),
    covering: db.prepare<[string, string], AuditRow>(
      'SELECT * FROM audit_log WHERE case_id IN (SELECT value FROM json_each(?)) OR target IN (SELECT value FROM json_each(?)) ORDER BY id',
    ),
  };
}

/**
 * Entries are written in groups: the store syncs every commit to disk, and one
 * sync per request would cost more than the lookup it records. An entry is
 * appended after its response was sent, so grouping only delays it; `flush`
 * (on every read and before the store closes) writes what is waiting. Each
 * group is chained onto the head read inside its own write transaction, so
 * processes sharing the database (the service and the command line) extend
 * one chain.
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

  constructor(
    private readonly db: Database.Database,
    { maxDelayMs = 0, maxPending = 10_000 }: AuditLogOptions = {},
  ) {
    this.maxDelayMs = maxDelayMs;
    this.maxPending = maxPending;
    this.statements = prepare(db);
    const values: unknown[] = [];
    const write = (entries: NewAuditEntry[]) => {
      const head = this.statements.head.get();
      let id = head?.id ?? 0;
      let prevHash = head?.hash ?? GENESIS_HASH;
      const rows = entries.map((e) => {
        const caseId = e.caseId ?? null;
        const details = e.details ? JSON.stringify(e.details) : null;
        const row = { id: ++id, at: e.at, actor: e.actor, action: e.action, target: e.target, status: e.status, matchCount: e.matchCount, caseId, details, ...commit(caseId, details), prevHash };
        prevHash = entryHash(row);
        return { ...row, hash: prevHash };
      });
      let i = 0;
      for (; i + ROWS_PER_INSERT <= rows.length; i += ROWS_PER_INSERT) {
        values.length = 0;
        for (let k = i; k < i + ROWS_PER_INSERT; k++) values.push(...rowValues(rows[k]));
        this.statements.insertMany.run(values);
      }
      for (; i < rows.length; i++) this.statements.insert.run(rowValues(rows[i]));
    };
    const transaction = db.transaction(write);
    this.writeAll = (entries) => transaction.immediate(entries);
    this.chainExisting();
  }

  /** Rows written before the log was a chain (migration 011) are chained once, in id order. */
  private chainExisting(): void {
    this.db
      .transaction(() => {
        const rows = this.statements.unchained.all();
        if (rows.length === 0) return;
        let prevHash = this.statements.lastChainedBefore.get(rows[0].id)?.hash ?? GENESIS_HASH;
        for (const r of rows) {
          const hash = entryHash({ ...chained(r), prevHash });
          this.statements.setChain.run(prevHash, hash, r.id);
          prevHash = hash;
        }
      })
      .immediate();
  }

  append(entry: NewAuditEntry): void {
    this.pending.push(entry);
    if (this.pending.length >= this.maxPending) this.flush();
    else if (this.pending.length === 1) {
      if (this.maxDelayMs > 0) this.timer = setTimeout(() => this.flush(), this.maxDelayMs);
      else setImmediate(() => this.flush());
    }
  }

  /**
   * Writes `entries` at once, inside the caller's transaction if one is open
   * on this connection (they commit or roll back with it: a scan's
   * checkpoint and the entries of the matches it records). What is queued
   * stays queued, so a rollback cannot take it along; it follows these in
   * the chain.
   */
  appendNow(entries: NewAuditEntry[]): void {
    if (entries.length > 0) this.writeAll(entries);
  }

  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    if (this.pending.length === 0) return;
    const entries = this.pending;
    this.pending = [];
    this.writeAll(entries);
  }

  list({ limit, beforeId, actor, action, since, until }: { limit: number; beforeId?: number } & AuditFilter): AuditEntry[] {
    this.flush();
    return this.statements.page
      .all({ before: beforeId ?? Number.MAX_SAFE_INTEGER, limit, actor: actor ?? null, action: action ?? null, since: since ?? null, until: until ?? null })
      .map(publicEntry);
  }

  /** Checks the whole chain from its first entry. */
  verify(): ChainReport {
    this.flush();
    return verifyChain((function* (rows) {
      for (const r of rows) yield chained(r);
    })(this.statements.all.iterate()));
  }

  /** The newest entry, which vouches for every one before it. */
  head(): { id: number; hash: string } | null {
    this.flush();
    const head = this.statements.head.get();
    return head?.hash ? { id: head.id, hash: head.hash } : null;
  }

  /** Every entry about one of the cases or targets (`content:5`, `match:3`), in full, oldest first. */
  covering(caseIds: readonly number[], targets: readonly string[]): ChainedEntry[] {
    this.flush();
    return this.statements.covering.all(JSON.stringify(caseIds), JSON.stringify(targets)).map(chained);
  }

  /** A withdrawal: the case's private fields and their salts are erased (the caller empties the database's log after). */
  redactCase(caseId: number): number {
    this.flush();
    return this.statements.redactCase.run(caseId).changes;
  }
}
