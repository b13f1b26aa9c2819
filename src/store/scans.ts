/**
 * Scans, their runs and locks, in SQLite, sharing the store's database
 * (migration 008). A run's range is fixed when it starts; its checkpoint (the
 * last content id and case id done) is committed in the same transaction as
 * the matches found up to it, so a run killed at any point resumes with no
 * match lost or recorded twice (and the unique (scan, case, content) key
 * refuses a second record anyway). Cases are named by id only, with cascading
 * deletes: a withdrawn case leaves nothing here.
 */
import type { RegionKind } from '../hashing/pdq-region.js';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export interface ScanThresholds {
  threshold?: number;
  thresholds?: { [type: string]: number | undefined; [index: number]: number };
}

export interface ScanRecord {
  id: number;
  name: string;
  cron: string;
  timeZone: string;
  /** Bank ids; null = every bank. */
  banks: number[] | null;
  /** Case ids; null = every case. */
  caseIds: number[] | null;
  thresholds: ScanThresholds;
  enabled: boolean;
  doneContentId: number;
  doneCaseId: number;
  lastSuccessAt: string | null;
  nextRunAt: string | null;
  createdBy: string;
  createdAt: string;
  updatedAt: string;
}

export type NewScanRecord = Pick<ScanRecord, 'name' | 'cron' | 'timeZone' | 'banks' | 'caseIds' | 'thresholds' | 'enabled' | 'nextRunAt' | 'createdBy'>;

/** What a PATCH changes; changing what is matched (banks, cases, thresholds) starts coverage over. */
export type ScanRecordPatch = Partial<Omit<NewScanRecord, 'createdBy'>>;

export type RunTrigger = 'manual' | 'schedule' | 'catch-up';
export type RunStatus = 'running' | 'done' | 'failed';

export interface ScanRun {
  id: number;
  scanId: number;
  trigger: RunTrigger;
  status: RunStatus;
  contentFrom: number;
  contentTo: number;
  caseFrom: number;
  caseTo: number;
  contentCursor: number;
  caseCursor: number;
  itemsTotal: number;
  itemsDone: number;
  casesTotal: number;
  casesDone: number;
  newMatches: number;
  error: string | null;
  startedBy: string;
  startedAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface ScanLock {
  scanId: number;
  runId: number;
  holder: string;
  heartbeatAt: string;
}

/** One match as a run records it. */
export interface FoundMatch {
  caseId: number;
  contentId: number;
  signalType: string;
  distance: number;
  via: 'whole' | 'region';
}

/** A match as a checkpoint recorded it. */
export interface RecordedMatch extends FoundMatch {
  id: number;
  foundAt: string;
}

/**
 * Told, inside a checkpoint's transaction, of the matches it recorded for the
 * first time: what it writes to the same database commits with them, and if
 * it throws, nothing of the checkpoint is kept.
 */
export type RecordedListener = (run: ScanRun, matches: RecordedMatch[]) => void;

/** A run's progress since its last checkpoint, committed with its matches. */
export interface Checkpoint {
  contentCursor?: number;
  caseCursor?: number;
  items?: number;
  cases?: number;
  matches: FoundMatch[];
}

/** The signals of one content item or case, as a run reads them. */
export interface OwnerSignals {
  id: number;
  signals: { type: string; hash: Uint8Array; region: RegionKind | null }[];
}

/** A content item's signals and the bank it was captured into (whose threshold overrides apply to it). */
export interface ContentSignals extends OwnerSignals {
  bankId: number;
}

/** Thrown when a run's lock was taken over (its holder looked dead): the run stops without writing. */
export class LockLostError extends Error {
  constructor(scanId: number) {
    super(`the lock of scan ${scanId} is held by another runner now`);
    this.name = 'LockLostError';
  }
}

type ScanRow = {
  id: number;
  name: string;
  cron: string;
  time_zone: string;
  banks: string | null;
  all_cases: number;
  thresholds: string;
  enabled: number;
  done_content_id: number;
  done_case_id: number;
  last_success_at: string | null;
  next_run_at: string | null;
  created_by: string;
  created_at: string;
  updated_at: string;
};

type RunRow = Record<string, string | number | null>;

const camel = (key: string) => key.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());
const runFromRow = (row: RunRow): ScanRun => Object.fromEntries(Object.entries(row).map(([k, v]) => [camel(k), v])) as unknown as ScanRun;

const now = () => new Date().toISOString();

/** SQL that keeps content of the run's banks (`banks` a JSON array or NULL). */
const IN_BANKS = '(? IS NULL OR bank_id IN (SELECT value FROM json_each(?)))';
/** SQL that keeps cases of the scan (all, or those listed). */
const IN_SCAN = '(? = 1 OR id IN (SELECT case_id FROM scan_cases WHERE scan_id = ?))';

function prepareStatements(db: Database.Database) {
  return {
    scan: db.prepare<[number], ScanRow>('SELECT * FROM scans WHERE id = ?'),
    scans: db.prepare<[], ScanRow>('SELECT * FROM scans ORDER BY id'),
    scanCases: db.prepare<[number], number>('SELECT case_id FROM scan_cases WHERE scan_id = ? ORDER BY case_id').pluck(),
    addScanCase: db.prepare('INSERT OR IGNORE INTO scan_cases (scan_id, case_id) VALUES (?, ?)'),
    clearScanCases: db.prepare('DELETE FROM scan_cases WHERE scan_id = ?'),
    caseExists: db.prepare<[number], number>('SELECT 1 FROM victim_cases WHERE id = ?').pluck(),
    run: db.prepare<[number], RunRow>('SELECT * FROM scan_runs WHERE id = ?'),
    runs: db.prepare<[number, number], RunRow>('SELECT * FROM scan_runs WHERE scan_id = ? ORDER BY id DESC LIMIT ?'),
    unfinishedRun: db.prepare<[number], RunRow>("SELECT * FROM scan_runs WHERE scan_id = ? AND status = 'running'"),
    unfinishedScans: db.prepare<[], number>("SELECT scan_id FROM scan_runs WHERE status = 'running' ORDER BY id").pluck(),
    lock: db.prepare<[number], ScanLock>('SELECT scan_id AS scanId, run_id AS runId, holder, heartbeat_at AS heartbeatAt FROM scan_locks WHERE scan_id = ?'),
    takeLock: db.prepare('INSERT OR REPLACE INTO scan_locks (scan_id, run_id, holder, heartbeat_at) VALUES (?, ?, ?, ?)'),
    heartbeat: db.prepare('UPDATE scan_locks SET heartbeat_at = ? WHERE scan_id = ? AND holder = ?'),
    releaseLock: db.prepare('DELETE FROM scan_locks WHERE scan_id = ? AND holder = ?'),
    maxContent: db.prepare<[string | null, string | null], { max: number | null; count: number }>(`SELECT max(id) AS max, count(*) AS count FROM content_items WHERE ${IN_BANKS}`),
    countContent: db.prepare<[number, number, string | null, string | null], number>(`SELECT count(*) FROM content_items WHERE id > ? AND id <= ? AND ${IN_BANKS}`).pluck(),
    maxCase: db.prepare<[], number | null>('SELECT max(id) FROM victim_cases').pluck(),
    countCases: db.prepare<[number, number, number, number], number>(`SELECT count(*) FROM victim_cases WHERE id > ? AND id <= ? AND ${IN_SCAN}`).pluck(),
    contentIds: db.prepare<[number, number, string | null, string | null, number], [number, number]>(
      `SELECT id, bank_id FROM content_items WHERE id > ? AND id <= ? AND ${IN_BANKS} ORDER BY id LIMIT ?`,
    ).raw(),
    caseSignalCount: db.prepare<[number, number, number, number], number>(
      `SELECT count(*) FROM signals WHERE victim_case_id > ? AND victim_case_id <= ? AND (? = 1 OR victim_case_id IN (SELECT case_id FROM scan_cases WHERE scan_id = ?))`,
    ).pluck(),
    contentSignalCount: db.prepare<[number, string | null, string | null, number], number>(
      `SELECT count(*) FROM (SELECT 1 FROM signals WHERE content_item_id > 0 AND content_item_id <= ?
         AND (? IS NULL OR content_item_id IN (SELECT id FROM content_items WHERE bank_id IN (SELECT value FROM json_each(?)))) LIMIT ?)`,
    ).pluck(),
    caseIds: db.prepare<[number, number, number, number, number], number>(`SELECT id FROM victim_cases WHERE id > ? AND id <= ? AND ${IN_SCAN} ORDER BY id LIMIT ?`).pluck(),
    contentSignals: db.prepare<[number, number], { owner: number; type: string; hash: Buffer; region: RegionKind | null }>(
      'SELECT content_item_id AS owner, type, hash, region FROM signals WHERE content_item_id BETWEEN ? AND ? ORDER BY content_item_id, id',
    ),
    caseSignals: db.prepare<[number], { type: string; hash: Buffer; region: RegionKind | null }>('SELECT type, hash, region FROM signals WHERE victim_case_id = ? ORDER BY id'),
    insertRun: db.prepare(
      `INSERT INTO scan_runs (scan_id, trigger, status, content_from, content_to, case_from, case_to, content_cursor, case_cursor,
         items_total, cases_total, started_by, started_at, updated_at)
       VALUES (?, ?, 'running', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    insertMatch: db.prepare(
      `INSERT OR IGNORE INTO scan_matches (scan_id, run_id, case_id, content_id, signal_type, distance, via, found_at, updated_at)
       SELECT ?, ?, ?, ?, ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM victim_cases WHERE id = ?) AND EXISTS (SELECT 1 FROM content_items WHERE id = ?)`,
    ),
    insertEvent: db.prepare('INSERT INTO match_events (match_id, actor, from_status, to_status, details, at) VALUES (?, ?, ?, ?, ?, ?)'),
    progress: db.prepare(
      `UPDATE scan_runs SET content_cursor = ?, case_cursor = ?, items_done = items_done + ?, cases_done = cases_done + ?,
         new_matches = new_matches + ?, updated_at = ? WHERE id = ?`,
    ),
    finishRun: db.prepare("UPDATE scan_runs SET status = ?, error = ?, updated_at = ?, finished_at = ? WHERE id = ? AND status = 'running'"),
    scanDone: db.prepare('UPDATE scans SET done_content_id = ?, done_case_id = ?, last_success_at = ? WHERE id = ?'),
    setNextRun: db.prepare('UPDATE scans SET next_run_at = ? WHERE id = ?'),
  };
}

function scanFromRow(row: ScanRow, caseIds: number[] | null): ScanRecord {
  return {
    id: row.id,
    name: row.name,
    cron: row.cron,
    timeZone: row.time_zone,
    banks: row.banks === null ? null : (JSON.parse(row.banks) as number[]),
    caseIds,
    thresholds: JSON.parse(row.thresholds) as ScanThresholds,
    enabled: row.enabled === 1,
    doneContentId: row.done_content_id,
    doneCaseId: row.done_case_id,
    lastSuccessAt: row.last_success_at,
    nextRunAt: row.next_run_at,
    createdBy: row.created_by,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export class SqliteScanStore {
  private readonly statements: ReturnType<typeof prepareStatements>;

  constructor(readonly db: Database.Database) {
    this.statements = prepareStatements(db);
  }

  createScan(scan: NewScanRecord): ScanRecord {
    return uniqueName(scan.name, () => this.insertScan(scan));
  }

  private insertScan(scan: NewScanRecord): ScanRecord {
    return this.db
      .transaction(() => {
        const at = now();
        const { lastInsertRowid } = this.db
          .prepare(
            `INSERT INTO scans (name, cron, time_zone, banks, all_cases, thresholds, enabled, next_run_at, created_by, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
          )
          .run(scan.name, scan.cron, scan.timeZone, bankJson(scan.banks), scan.caseIds === null ? 1 : 0, JSON.stringify(scan.thresholds), scan.enabled ? 1 : 0, scan.nextRunAt, scan.createdBy, at, at);
        const id = Number(lastInsertRowid);
        this.setCases(id, scan.caseIds);
        return this.getScan(id);
      })
      .immediate();
  }

  getScan(id: number): ScanRecord {
    const row = this.statements.scan.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `No scan has id ${id}.`);
    return scanFromRow(row, row.all_cases === 1 ? null : this.statements.scanCases.all(id));
  }

  listScans(): ScanRecord[] {
    return this.statements.scans.all().map((row) => scanFromRow(row, row.all_cases === 1 ? null : this.statements.scanCases.all(row.id)));
  }

  updateScan(id: number, patch: ScanRecordPatch): ScanRecord {
    return uniqueName(patch.name ?? '', () => this.changeScan(id, patch));
  }

  private changeScan(id: number, patch: ScanRecordPatch): ScanRecord {
    return this.db
      .transaction(() => {
        const current = this.getScan(id);
        const next = { ...current, ...patch };
        // What is matched changed: the next run covers everything again (matches already recorded are not recorded twice).
        const rescan = patch.banks !== undefined || patch.caseIds !== undefined || patch.thresholds !== undefined;
        this.db
          .prepare(
            `UPDATE scans SET name = ?, cron = ?, time_zone = ?, banks = ?, all_cases = ?, thresholds = ?, enabled = ?, next_run_at = ?,
               done_content_id = ?, done_case_id = ?, updated_at = ? WHERE id = ?`,
          )
          .run(next.name, next.cron, next.timeZone, bankJson(next.banks), next.caseIds === null ? 1 : 0, JSON.stringify(next.thresholds), next.enabled ? 1 : 0, next.nextRunAt,
            rescan ? 0 : current.doneContentId, rescan ? 0 : current.doneCaseId, now(), id);
        if (patch.caseIds !== undefined) this.setCases(id, patch.caseIds);
        return this.getScan(id);
      })
      .immediate();
  }

  /** Deletes the scan with its runs, lock and matches. */
  deleteScan(id: number): void {
    const { changes } = this.db.prepare('DELETE FROM scans WHERE id = ?').run(id);
    if (changes === 0) throw new StoreError('NOT_FOUND', `No scan has id ${id}.`);
  }

  setNextRunAt(id: number, at: string | null): void {
    this.statements.setNextRun.run(at, id);
  }

  private setCases(scanId: number, caseIds: number[] | null): void {
    this.statements.clearScanCases.run(scanId);
    for (const caseId of caseIds ?? []) {
      if (!this.statements.caseExists.get(caseId)) throw new StoreError('NOT_FOUND', `No case has id ${caseId}.`);
      this.statements.addScanCase.run(scanId, caseId);
    }
  }

  getRun(id: number): ScanRun {
    const row = this.statements.run.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `No scan run has id ${id}.`);
    return runFromRow(row);
  }

  listRuns(scanId: number, limit = 20): ScanRun[] {
    return this.statements.runs.all(scanId, limit).map(runFromRow);
  }

  /** Scans with a run that did not finish (their process stopped), oldest run first. */
  unfinishedScans(): number[] {
    return this.statements.unfinishedScans.all();
  }

  lockOf(scanId: number): ScanLock | undefined {
    return this.statements.lock.get(scanId);
  }

  /**
   * Takes the scan's lock for `holder` and returns its unfinished run, or a
   * new one covering what the last successful run did not, in one
   * transaction. Null when another holder has the lock and `isStale` says it
   * is alive.
   */
  beginRun(scanId: number, options: { trigger: RunTrigger; holder: string; startedBy: string; isStale: (lock: ScanLock) => boolean }): { run: ScanRun; resumed: boolean } | null {
    return this.db
      .transaction(() => {
        const scan = this.getScan(scanId);
        const lock = this.lockOf(scanId);
        if (lock && lock.holder !== options.holder && !options.isStale(lock)) return null;
        const unfinished = this.statements.unfinishedRun.get(scanId);
        const run = unfinished ? runFromRow(unfinished) : this.newRun(scan, options.trigger, options.startedBy);
        this.statements.takeLock.run(scanId, run.id, options.holder, now());
        return { run, resumed: unfinished !== undefined };
      })
      .immediate();
  }

  private newRun(scan: ScanRecord, trigger: RunTrigger, startedBy: string): ScanRun {
    const banks = bankJson(scan.banks);
    const contentTo = Math.max(scan.doneContentId, this.statements.maxContent.get(banks, banks)?.max ?? 0);
    const caseTo = Math.max(scan.doneCaseId, this.statements.maxCase.get() ?? 0);
    const all = scan.caseIds === null ? 1 : 0;
    // Old cases meet the new content; new cases meet all content (so the new-by-new pairs are matched once).
    const oldCases = this.statements.countCases.get(0, scan.doneCaseId, all, scan.id) ?? 0;
    const at = now();
    if (oldCases === 0 && this.fewerContentHashes(scan, contentTo, caseTo)) {
      // No case covered yet, and the content carries fewer hashes than the cases: all content meets all cases in the content part (content [0, contentTo] against cases up to caseTo), with no case part.
      const itemsTotal = this.statements.countContent.get(0, contentTo, banks, banks) ?? 0;
      const { lastInsertRowid } = this.statements.insertRun.run(scan.id, trigger, 0, contentTo, caseTo, caseTo, 0, caseTo, itemsTotal, 0, startedBy, at, at);
      return this.getRun(Number(lastInsertRowid));
    }
    const itemsTotal = oldCases === 0 ? 0 : (this.statements.countContent.get(scan.doneContentId, contentTo, banks, banks) ?? 0);
    const casesTotal = this.statements.countCases.get(scan.doneCaseId, caseTo, all, scan.id) ?? 0;
    const contentCursor = oldCases === 0 ? contentTo : scan.doneContentId;
    const { lastInsertRowid } = this.statements.insertRun.run(
      scan.id, trigger, scan.doneContentId, contentTo, scan.doneCaseId, caseTo, contentCursor, scan.doneCaseId, itemsTotal, casesTotal, startedBy, at, at,
    );
    return this.getRun(Number(lastInsertRowid));
  }

  /**
   * Whether the scan's content up to `contentTo` has fewer hashes than its
   * cases since its coverage (up to `caseTo`). Each hash of the side taken
   * as queries is one index search, and a search costs about the same on
   * either index (less than in proportion to its size): a first run over 1M
   * items of 4 hashes and 10k cases of 600 searches 4M content hashes
   * rather than 6M case hashes (bench/scan.ts; docs/scans.md).
   */
  private fewerContentHashes(scan: ScanRecord, contentTo: number, caseTo: number): boolean {
    const caseHashes = this.statements.caseSignalCount.get(scan.doneCaseId, caseTo, scan.caseIds === null ? 1 : 0, scan.id) ?? 0;
    if (caseHashes === 0) return false;
    const banks = bankJson(scan.banks);
    // Counted only as far as it needs to be.
    return (this.statements.contentSignalCount.get(contentTo, banks, banks, caseHashes) ?? 0) < caseHashes;
  }

  /** Up to `limit` content items of the run's banks after its cursor, with their signals and banks. */
  contentAfter(run: ScanRun, banks: number[] | null, limit: number): ContentSignals[] {
    const json = bankJson(banks);
    const rows = this.statements.contentIds.all(run.contentCursor, run.contentTo, json, json, limit);
    if (rows.length === 0) return [];
    const byId = new Map<number, ContentSignals>(rows.map(([id, bankId]) => [id, { id, bankId, signals: [] }]));
    for (const { owner, type, hash, region } of this.statements.contentSignals.iterate(rows[0][0], rows.at(-1)![0])) {
      byId.get(owner)?.signals.push({ type, hash: new Uint8Array(hash), region });
    }
    return [...byId.values()];
  }

  /** The case ids of the scan the run has still to match against all content. */
  casesAfter(run: ScanRun, scan: ScanRecord, limit: number): number[] {
    return this.statements.caseIds.all(run.caseCursor, run.caseTo, scan.caseIds === null ? 1 : 0, scan.id, limit);
  }

  caseSignals(caseId: number): OwnerSignals {
    return { id: caseId, signals: this.statements.caseSignals.all(caseId).map(({ type, hash, region }) => ({ type, hash: new Uint8Array(hash), region })) };
  }

  /**
   * Records matches and moves the checkpoint in one transaction, if `holder`
   * still holds the lock; `recorded` (the audit trail) writes in that
   * transaction too. Returns the ids of matches recorded for the first time
   * (a case or item deleted meanwhile is skipped).
   */
  checkpoint(run: ScanRun, holder: string, progress: Checkpoint, recorded?: RecordedListener): number[] {
    const write = () => {
      if (this.lockOf(run.scanId)?.holder !== holder) throw new LockLostError(run.scanId);
      const at = now();
      const added: RecordedMatch[] = [];
      for (const m of progress.matches) {
        const { changes, lastInsertRowid } = this.statements.insertMatch.run(run.scanId, run.id, m.caseId, m.contentId, m.signalType, m.distance, m.via, at, at, m.caseId, m.contentId);
        if (changes === 0) continue;
        added.push({ ...m, id: Number(lastInsertRowid), foundAt: at });
        this.statements.insertEvent.run(lastInsertRowid, `scan-run:${run.id}`, null, 'new', JSON.stringify({ distance: m.distance, signalType: m.signalType, via: m.via }), at);
      }
      this.statements.progress.run(progress.contentCursor ?? run.contentCursor, progress.caseCursor ?? run.caseCursor, progress.items ?? 0, progress.cases ?? 0, added.length, at, run.id);
      this.statements.heartbeat.run(at, run.scanId, holder);
      if (added.length > 0) recorded?.(run, added);
      return added.map((m) => m.id);
    };
    const added = this.db.transaction(write).immediate();
    // Moved only once committed: a checkpoint undone leaves the run where it was.
    run.contentCursor = progress.contentCursor ?? run.contentCursor;
    run.caseCursor = progress.caseCursor ?? run.caseCursor;
    return added;
  }

  heartbeat(scanId: number, holder: string): void {
    this.statements.heartbeat.run(now(), scanId, holder);
  }

  /** Ends the run (done: the scan's coverage moves up to the run's range) and releases the lock. */
  finishRun(run: ScanRun, holder: string, outcome: { error: string } | 'done'): ScanRun {
    return this.db
      .transaction(() => {
        if (this.lockOf(run.scanId)?.holder !== holder) throw new LockLostError(run.scanId);
        const at = now();
        const error = outcome === 'done' ? null : outcome.error;
        this.statements.finishRun.run(error === null ? 'done' : 'failed', error, at, at, run.id);
        if (error === null) this.statements.scanDone.run(run.contentTo, run.caseTo, at, run.scanId);
        this.statements.releaseLock.run(run.scanId, holder);
        return this.getRun(run.id);
      })
      .immediate();
  }

  /** Case ids of a scan's matches etc. are read by the match store; this ends a lock without a run's outcome (shutting down). */
  releaseLock(scanId: number, holder: string): void {
    this.statements.releaseLock.run(scanId, holder);
  }
}

/** A second scan of the same name is a conflict, not a crash. */
function uniqueName<T>(name: string, work: () => T): T {
  try {
    return work();
  } catch (err) {
    if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_UNIQUE') throw new StoreError('CONFLICT', `A scan named ${JSON.stringify(name)} exists already.`);
    throw err;
  }
}

function bankJson(banks: number[] | null): string | null {
  return banks === null ? null : JSON.stringify(banks);
}
