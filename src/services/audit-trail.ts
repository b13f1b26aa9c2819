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
import type { AuditEntry, AuditFilter, SqliteAuditLog } from '../store/audit-log.js';

export type { AuditEntry, AuditFilter } from '../store/audit-log.js';

export interface AuditFacts {
  target?: string | null;
  /** The victim's case concerned: kept apart and erased when she withdraws it. */
  caseId?: number | null;
  details?: Record<string, unknown> | null;
  matchCount?: number | null;
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
    this.log.append({
      at: new Date().toISOString(),
      actor: this.actor,
      action,
      target: facts.target ?? null,
      status: 0,
      matchCount: facts.matchCount ?? null,
      caseId: facts.caseId ?? null,
      details: facts.details ?? null,
    });
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
