/**
 * What each service object works with: the store, the matcher and the other
 * parts the Services container owns. Services take this (not the container),
 * so the container depends on them and not the other way round.
 */
import type { BatchRunner } from '../batches/runner.js';
import type { Config } from '../config.js';
import type { Matcher } from '../match/matcher.js';
import type { SqliteBatchStore } from '../store/batches.js';
import type { SqliteMatchStore } from '../store/scan-matches.js';
import type { SqliteScanStore } from '../store/scans.js';
import type { SqliteStore } from '../store/sqlite-store.js';
import type { AuditTrail } from './audit-trail.js';
import type { ServiceEvents } from './events.js';
import type { ImageHashing } from './hashing.js';

export interface ServiceContext {
  readonly config: Config;
  readonly store: SqliteStore;
  readonly batchStore: SqliteBatchStore;
  readonly batchRunner: BatchRunner;
  readonly hashing: ImageHashing;
  readonly trail: AuditTrail;
  readonly scanStore: SqliteScanStore;
  readonly matchStore: SqliteMatchStore;
  /** In-process events (a run finished, a match's status moved) for listeners such as webhooks. */
  readonly events: ServiceEvents;
  readonly log: { error(details: object, message: string): void };
  /** Throws NOT_READY until the indexes are loaded, INDEX_UNAVAILABLE once their worker failed. */
  readonly matcher: Matcher;
}
