/**
 * Scheduled scans (issue 14): a takedown team names which banks and which
 * victims' cases a scan covers and when it runs; each run matches what was
 * captured since the last successful one against the cases, and each case
 * added since then against everything (src/scans/runner.ts). One run of a
 * scan at a time, across processes (a lock in the store); an interrupted run
 * is resumed when the service starts; a slot missed while it was down runs
 * once.
 */
import { checkQueryOptions, QueryError } from '../match/query.js';
import type { Matcher } from '../match/matcher.js';
import { lockIsStale, newHolder } from '../scans/lock.js';
import { executeRun, type RunProgress } from '../scans/runner.js';
import { nextSlot, ScheduleError } from '../scans/schedule.js';
import { ScanScheduler } from '../scans/scheduler.js';
import { LockLostError, type RecordedListener, type RunTrigger, type ScanRecord, type ScanRecordPatch, type ScanRun, type ScanThresholds, type SqliteScanStore } from '../store/scans.js';
import { recordMatches } from './audit-trail.js';
import { normalizeCaseNumber } from './case-credentials.js';
import type { ServiceContext } from './context.js';
import { ServiceError } from './errors.js';

export interface ScanInput {
  name: string;
  cron: string;
  timeZone: string;
  banks?: 'all' | number[];
  cases?: 'all' | string[];
  thresholds?: ScanThresholds;
  enabled?: boolean;
}

export type ScanPatch = Partial<ScanInput>;

export interface ScanView {
  id: number;
  name: string;
  cron: string;
  timeZone: string;
  banks: 'all' | number[];
  cases: 'all' | string[];
  thresholds: ScanThresholds;
  enabled: boolean;
  nextRunAt: string | null;
  lastSuccessAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface RunView {
  id: number;
  scanId: number;
  trigger: RunTrigger;
  status: ScanRun['status'];
  progress: { itemsDone: number; itemsTotal: number; casesDone: number; casesTotal: number };
  newMatches: number;
  error: string | null;
  startedAt: string;
  finishedAt: string | null;
}

export function runView(run: ScanRun): RunView {
  return {
    id: run.id,
    scanId: run.scanId,
    trigger: run.trigger,
    status: run.status,
    progress: { itemsDone: run.itemsDone, itemsTotal: run.itemsTotal, casesDone: run.casesDone, casesTotal: run.casesTotal },
    newMatches: run.newMatches,
    error: run.error,
    startedAt: run.startedAt,
    finishedAt: run.finishedAt,
  };
}

/** What a run needs: the scan store and the matcher (of the service, or of a benchmark's own store). */
export interface ScanRunDeps {
  scans: SqliteScanStore;
  matcher: Matcher;
  /** Names this runner in the lock; one per process. */
  holder?: string;
  staleMs?: number;
  stopping?: () => boolean;
  onProgress?: (progress: RunProgress) => void;
  onStarted?: (run: ScanRun) => void;
  /** Told of each checkpoint's new matches inside its transaction (the service's: their audit entries). */
  recorded?: RecordedListener;
}

/**
 * Runs a scan to the end (resuming its unfinished run if it has one) and
 * returns the finished run: for benchmarks and tools holding a store and a
 * matcher. Refuses with CONFLICT while another runner holds the scan.
 */
export async function runScanToCompletion(deps: ScanRunDeps, scanId: number, options: { trigger?: RunTrigger; startedBy?: string } = {}): Promise<ScanRun> {
  const holder = deps.holder ?? newHolder();
  const staleMs = deps.staleMs ?? 120_000;
  const begun = deps.scans.beginRun(scanId, { trigger: options.trigger ?? 'manual', holder, startedBy: options.startedBy ?? 'local', isStale: (lock) => lockIsStale(lock, staleMs) });
  if (!begun) throw new ServiceError('CONFLICT', `Scan ${scanId} is running already (run ${deps.scans.lockOf(scanId)?.runId}).`);
  deps.onStarted?.(begun.run);
  const heartbeat = setInterval(() => deps.scans.heartbeat(scanId, holder), Math.max(100, staleMs / 4)).unref();
  try {
    return await executeRun({ ...deps, holder }, deps.scans.getScan(scanId), begun.run);
  } catch (err) {
    if (err instanceof LockLostError) throw err;
    return deps.scans.finishRun(begun.run, holder, { error: err instanceof Error ? err.message : String(err) });
  } finally {
    clearInterval(heartbeat);
  }
}

const invalid = (message: string) => new ServiceError('INVALID_REQUEST', message);

export class ScanService {
  private readonly holder = newHolder();
  private readonly active = new Map<number, Promise<ScanRun | null>>();
  private readonly scheduler: ScanScheduler;
  private closing = false;

  constructor(private readonly services: ServiceContext) {
    this.scheduler = new ScanScheduler(services.scanStore, (scanId, trigger) => void this.start(scanId, trigger, 'scheduler').catch(() => {}));
  }

  create(input: ScanInput, actor: string): ScanView {
    const record = this.services.scanStore.createScan({ ...this.checked(input), createdBy: actor });
    this.scheduler.update(record.id, record);
    return this.view(record);
  }

  list(): ScanView[] {
    return this.services.scanStore.listScans().map((s) => this.view(s));
  }

  get(id: number): ScanView & { runs: RunView[] } {
    return { ...this.view(this.services.scanStore.getScan(id)), runs: this.services.scanStore.listRuns(id).map(runView) };
  }

  update(id: number, patch: ScanPatch): ScanView {
    const current = this.services.scanStore.getScan(id);
    const merged = this.checked({ ...this.input(current), ...patch });
    const changes: ScanRecordPatch = { name: merged.name, cron: merged.cron, timeZone: merged.timeZone, enabled: merged.enabled, nextRunAt: merged.nextRunAt };
    if (patch.banks !== undefined) changes.banks = merged.banks;
    if (patch.cases !== undefined) changes.caseIds = merged.caseIds;
    if (patch.thresholds !== undefined) changes.thresholds = merged.thresholds;
    const record = this.services.scanStore.updateScan(id, changes);
    this.scheduler.update(id, record);
    return this.view(record);
  }

  remove(id: number): void {
    if (this.active.has(id)) throw new ServiceError('CONFLICT', `Scan ${id} is running; delete it when the run is over.`);
    this.services.scanStore.deleteScan(id);
    this.scheduler.update(id, null);
  }

  /** Starts a run now, in the background; answers with the run as begun (or resumed). */
  async runNow(id: number, actor: string): Promise<RunView> {
    this.services.scanStore.getScan(id);
    const run = await new Promise<ScanRun>((resolve, reject) => void this.start(id, 'manual', actor, resolve).catch(reject));
    return runView(run);
  }

  getRun(runId: number): RunView {
    return runView(this.services.scanStore.getRun(runId));
  }

  /** Resumes runs an earlier process left unfinished, then follows the schedules. */
  startBackground(): void {
    if (!this.services.config.SCANS_ENABLED) return;
    for (const scanId of this.services.scanStore.unfinishedScans()) void this.start(scanId, 'manual', 'resume').catch(() => {});
    this.scheduler.start();
  }

  /** Stops scheduling; runs in flight stop at their next checkpoint and stay resumable. */
  async close(): Promise<void> {
    this.closing = true;
    this.scheduler.stop();
    await Promise.allSettled(this.active.values());
  }

  /** Runs the scan unless this process runs it already; `onStarted` hears of the run once begun. */
  private async start(scanId: number, trigger: RunTrigger, actor: string, onStarted?: (run: ScanRun) => void): Promise<ScanRun | null> {
    const running = this.active.get(scanId);
    if (running) throw new ServiceError('CONFLICT', `Scan ${scanId} is running already (run ${this.services.scanStore.lockOf(scanId)?.runId}).`);
    const staleMs = this.services.config.SCAN_LOCK_STALE_SECONDS * 1000;
    const deps: ScanRunDeps = {
      scans: this.services.scanStore,
      matcher: this.services.matcher,
      holder: this.holder,
      staleMs,
      stopping: () => this.closing,
      onStarted,
      recorded: (run, matches) => recordMatches(this.services.trail, run, matches),
    };
    const work = runScanToCompletion(deps, scanId, { trigger, startedBy: actor }).then(
      (run) => {
        if (run.status === 'running') this.services.scanStore.releaseLock(scanId, this.holder);
        else this.services.events.emit('run.finished', { runId: run.id, scanId, status: run.status, newMatches: run.newMatches });
        return run;
      },
      (err: unknown) => {
        if (!(err instanceof LockLostError) && !(err instanceof ServiceError)) this.services.log.error({ err }, 'a scan run failed');
        throw err;
      },
    );
    this.active.set(scanId, work);
    void work.finally(() => this.active.delete(scanId)).catch(() => {});
    return work;
  }

  private checked(input: ScanInput) {
    const name = input.name.trim();
    if (name.length === 0 || name.length > 200) throw invalid('name must be 1 to 200 characters.');
    let nextRunAt: string | null;
    try {
      nextRunAt = nextSlot(input.cron, input.timeZone);
    } catch (err) {
      if (err instanceof ScheduleError) throw invalid(err.message);
      throw err;
    }
    const thresholds = input.thresholds ?? {};
    try {
      checkQueryOptions(thresholds, false);
    } catch (err) {
      if (err instanceof QueryError) throw invalid(`thresholds: ${err.message}`);
      throw err;
    }
    const banks = input.banks === undefined || input.banks === 'all' ? null : [...new Set(input.banks)];
    for (const id of banks ?? []) this.services.store.getBank(id);
    const caseIds = input.cases === undefined || input.cases === 'all' ? null : input.cases.map((number) => this.caseId(number));
    return { name, cron: input.cron, timeZone: input.timeZone, banks, caseIds, thresholds, enabled: input.enabled ?? true, nextRunAt };
  }

  private caseId(typed: string): number {
    const number = normalizeCaseNumber(typed);
    const found = number === null ? undefined : this.services.store.findCaseByNumber(number);
    if (!found) throw new ServiceError('NOT_FOUND', `No case has the number ${JSON.stringify(typed)}.`);
    return found.id;
  }

  private input(scan: ScanRecord): ScanInput {
    const view = this.view(scan);
    return { name: view.name, cron: view.cron, timeZone: view.timeZone, banks: view.banks, cases: view.cases, thresholds: view.thresholds, enabled: view.enabled };
  }

  private view(scan: ScanRecord): ScanView {
    return {
      id: scan.id,
      name: scan.name,
      cron: scan.cron,
      timeZone: scan.timeZone,
      banks: scan.banks ?? 'all',
      cases: scan.caseIds === null ? 'all' : scan.caseIds.map((id) => this.services.store.getCase(id).caseNumber),
      thresholds: scan.thresholds,
      enabled: scan.enabled,
      nextRunAt: scan.nextRunAt,
      lastSuccessAt: scan.lastSuccessAt,
      createdAt: scan.createdAt,
      updatedAt: scan.updatedAt,
    };
  }
}
