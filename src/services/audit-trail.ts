/**
 * What the service did, for the audit log: the writes themselves (content
 * ingested, a case created, a key created or revoked, ...) beside the log of
 * requests the API keeps (src/api/plugins/audit.ts). The caller of the request
 * being served is known here without passing it through every use case: the
 * API runs each request inside `runAs`; work no request started is `service`
 * (or `cli`).
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import type { ChainReport } from '../store/audit-chain.js';
import type { AuditEntry, AuditFilter, NewAuditEntry, SqliteAuditLog } from '../store/audit-log.js';
import type { SqliteMatchStore } from '../store/scan-matches.js';
import type { RecordedMatch } from '../store/scans.js';
import type { ServiceEvents } from './events.js';

export type { AuditEntry, AuditFilter } from '../store/audit-log.js';

export interface AuditFacts {
  target?: string | null;
  /** The victim's case concerned: kept apart and erased when she withdraws it. */
  caseId?: number | null;
  details?: Record<string, unknown> | null;
  matchCount?: number | null;
  /** Who, when not the caller of the request being served (a status change reported with its actor). */
  actor?: string;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass as `before` for the next (older) page; null on the last. */
  nextBefore: number | null;
}

export class AuditTrail {
  private readonly actors = new AsyncLocalStorage<string>();

  constructor(
    readonly log: SqliteAuditLog,
    private readonly defaultActor = 'service',
  ) {}

  /** Runs `work` (and everything it starts) on behalf of `actor`. */
  runAs<T>(actor: string, work: () => T): T {
    return this.actors.run(actor, work);
  }

  get actor(): string {
    return this.actors.getStore() ?? this.defaultActor;
  }

  record(action: string, facts: AuditFacts = {}): void {
    this.log.append(this.entry(action, facts));
  }

  /** Written at once, in the caller's transaction if one is open, so they commit or roll back with what they record. */
  recordNow(entries: readonly { action: string; facts: AuditFacts }[]): void {
    this.log.appendNow(entries.map(({ action, facts }) => this.entry(action, facts)));
  }

  private entry(action: string, facts: AuditFacts): NewAuditEntry {
    return {
      at: new Date().toISOString(),
      actor: facts.actor ?? this.actor,
      action,
      target: facts.target ?? null,
      status: 0,
      matchCount: facts.matchCount ?? null,
      caseId: facts.caseId ?? null,
      details: facts.details ?? null,
    };
  }

  /** Newest first, `limit` entries older than `before`, filtered. */
  page(limit: number, before: number | undefined, filter: AuditFilter): AuditPage {
    // One more than asked tells whether an older page exists.
    const entries = this.log.list({ limit: limit + 1, beforeId: before, ...filter });
    const more = entries.length > limit;
    if (more) entries.pop();
    return { entries, nextBefore: more ? entries[entries.length - 1].id : null };
  }

  verify(): ChainReport {
    return this.log.verify();
  }
}

/**
 * Scan runs and what they found, and each takedown status change, as audit
 * entries: a finished run records itself; each match is recorded by
 * `recordMatches`, in the checkpoint that records it.
 */
export function auditScans(trail: AuditTrail, events: ServiceEvents, matches: SqliteMatchStore): void {
  events.on('run.finished', ({ runId, scanId, status, newMatches }) => {
    trail.record('scan.run', { actor: `scan-run:${runId}`, target: `scan-run:${runId}`, matchCount: newMatches, details: { scanId, status } });
  });
  events.on('match.status', ({ matchId, from, to, actor }) => {
    trail.record('match.status', { actor, target: `match:${matchId}`, caseId: matches.get(matchId).caseId, details: { from, to } });
  });
}

/**
 * The `match.recorded` entries of a checkpoint's new matches (a run's
 * `recorded` listener), each behind its case's commitment and erased if she
 * withdraws it. Written inside the checkpoint's transaction: an entry exists
 * for every recorded match as soon as it is committed, and a run killed and
 * resumed neither loses nor repeats one (the audit log must share the scan
 * store's database connection).
 */
export function recordMatches(trail: AuditTrail, run: { id: number }, recorded: readonly RecordedMatch[]): void {
  trail.recordNow(
    recorded.map((m) => ({
      action: 'match.recorded',
      facts: {
        actor: `scan-run:${run.id}`,
        target: `match:${m.id}`,
        caseId: m.caseId,
        details: { contentId: m.contentId, signalType: m.signalType, distance: m.distance, via: m.via, foundAt: m.foundAt },
      },
    })),
  );
}
