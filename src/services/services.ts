/**
 * The service's state and its use cases, shared by every route and command:
 * the store (the truth), the in-memory indexes loaded from it (in a worker
 * thread), the matcher over both, and one service object per concern
 * (matching, cases, banks and content, batches, keys). Routes call these and
 * nothing beneath them. Indexes load after the server listens, so /readyz can
 * say 503 until they are in.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BatchRunner } from '../batches/runner.js';
import type { Config } from '../config.js';
import { Matcher } from '../match/matcher.js';
import { queryFromHashes } from '../match/query.js';
import type { SignalSearcher } from '../match/signal-indexes.js';
import { WorkerSignalIndexes } from '../match/worker-indexes.js';
import { removeIndexSnapshot, removePartialIndexSnapshot } from '../match/index-snapshot.js';
import { SqliteApiKeyStore } from '../store/api-keys.js';
import { SqliteAuditLog } from '../store/audit-log.js';
import { SqliteBatchStore } from '../store/batches.js';
import { SqliteMatchStore } from '../store/scan-matches.js';
import { SqliteScanStore } from '../store/scans.js';
import { SqliteExchangeStaging } from '../store/exchange-staging.js';
import { SqliteStore } from '../store/sqlite-store.js';
import type { WebhookDispatcher } from '../webhooks/dispatcher.js';
import { AuditTrail, auditScans } from './audit-trail.js';
import { EvidenceService } from './evidence.js';
import { SigningKeys } from './signing.js';
import { BankService } from './banks.js';
import { BatchService, storedMatch } from './batches.js';
import { CaseService } from './cases.js';
import type { ServiceContext } from './context.js';
import { ServiceError } from './errors.js';
import { ServiceEvents } from './events.js';
import { ExchangeService } from './exchange.js';
import { ImageHashing } from './hashing.js';
import { MatchingService } from './matching.js';
import { MatchService } from './matches.js';
import { ScanService } from './scans.js';
import { claimServing, servingProcess } from './serving-claim.js';
import { startWebhooks, type WebhookService } from './webhooks.js';
import { TelegramService } from './telegram.js';

export const DATABASE_FILE = 'ncii-match.db';
/** The content indexes' snapshot, beside the database (src/match/index-snapshot.ts). */
export const INDEX_SNAPSHOT_FILE = 'content-index.snapshot';
/** How often a running service checks whether a new index snapshot is due. */
const SNAPSHOT_CHECK_MS = 10 * 60_000;

/**
 * Audit entries wait up to this long to be written together: one synced
 * commit per 100 ms instead of one per event-loop turn (which under load was
 * one every few requests, and most of a hash match's cost).
 */
const AUDIT_MAX_DELAY_MS = 100;

/** Where failures of background work are reported (the app's logger); never given hashes. */
export interface ServiceLog {
  error(details: object, message: string): void;
  warn?(details: object, message: string): void;
  info?(details: object, message: string): void;
}

export class Services implements ServiceContext {
  readonly store: SqliteStore;
  readonly keys: SqliteApiKeyStore;
  readonly audit: SqliteAuditLog;
  /** What the service did, on behalf of whom (the request being served). */
  readonly trail: AuditTrail;
  /** The Ed25519 key evidence packages are signed with, and every public key that signed before. */
  readonly signing: SigningKeys;
  readonly batchStore: SqliteBatchStore;
  /** Matches batch items in the background once the indexes are loaded; the app closes it before the store. */
  readonly batchRunner: BatchRunner;
  readonly hashing: ImageHashing;
  readonly matching: MatchingService;
  readonly cases: CaseService;
  readonly banks: BankService;
  readonly batches: BatchService;
  readonly webhooks: WebhookService;
  /** Sends webhook deliveries in the background; what the scans' events are handed to. */
  readonly webhookDispatcher: WebhookDispatcher;
  readonly scanStore: SqliteScanStore;
  readonly matchStore: SqliteMatchStore;
  readonly events: ServiceEvents;
  readonly scans: ScanService;
  readonly matches: MatchService;
  readonly evidence: EvidenceService;
  readonly exchange: ExchangeService;
  readonly telegram: TelegramService;
  private loaded: { indexes: WorkerSignalIndexes; matcher: Matcher } | null = null;
  private loading: Promise<void> | null = null;
  /** The index snapshot being written. */
  private snapshotting: Promise<void> | undefined;
  private snapshotTimer: NodeJS.Timeout | undefined;
  /** Gives up DATA_DIR's serving claim (serving-claim.ts), once the indexes were loaded. */
  private releaseServing: (() => void) | null = null;
  /** Set if the index worker fails: the service then refuses searches and /readyz says so, as indexes that may have missed a write must not answer. */
  private broken: Error | null = null;
  private readonly failureListeners = new Set<(err: Error) => void>();

  constructor(
    readonly config: Config,
    readonly log: ServiceLog,
  ) {
    mkdirSync(config.DATA_DIR, { recursive: true });
    this.store = new SqliteStore(join(config.DATA_DIR, DATABASE_FILE));
    this.keys = new SqliteApiKeyStore(this.store.db);
    this.audit = new SqliteAuditLog(this.store.db, { maxDelayMs: AUDIT_MAX_DELAY_MS });
    this.trail = new AuditTrail(this.audit);
    this.signing = new SigningKeys(config, this.store.db, this.trail);
    this.batchStore = new SqliteBatchStore(this.store.db);
    this.scanStore = new SqliteScanStore(this.store.db);
    this.matchStore = new SqliteMatchStore(this.store.db);
    this.events = new ServiceEvents((err, event) => log.error({ err, event }, 'a service event listener failed'));
    this.hashing = new ImageHashing(config);
    this.matching = new MatchingService(this);
    this.cases = new CaseService(this, this.matching);
    this.banks = new BankService(this);
    this.batches = new BatchService(this);
    this.scans = new ScanService(this);
    this.matches = new MatchService(this);
    ({ service: this.webhooks, dispatcher: this.webhookDispatcher } = startWebhooks(this.store.db, config, this.events, (err) => log.error({ err }, 'webhook dispatcher failed')));
    this.evidence = new EvidenceService(this, this.cases);
    auditScans(this.trail, this.events, this.matchStore);
    this.exchange = new ExchangeService(this, new SqliteExchangeStaging(this.store.db), this.cases);
    this.telegram = new TelegramService(this);
    this.batchRunner = new BatchRunner(
      this.batchStore,
      async (signals, { fromImages, ...options }) => {
        // Robust items carry hundreds of hashes, searched on the index threads as one batch, so the API keeps answering meanwhile.
        const query = queryFromHashes(signals, options, 'signals', fromImages ? 'image' : 'client');
        const answer = await this.matcher.matchContent(query);
        return { matches: answer.matches.map((m) => storedMatch(m, query.fromHashes)), warnings: answer.warnings };
      },
      {
        concurrency: config.BATCH_CONCURRENCY,
        ttlHours: config.BATCH_RESULT_TTL_HOURS,
        onError: (err) => log.error({ err }, 'batch runner failed'),
      },
    );
  }

  get ready(): boolean {
    return this.loaded !== null && this.broken === null;
  }

  /** Calls `listener` if the index worker fails. */
  onIndexFailure(listener: (err: Error) => void): void {
    this.failureListeners.add(listener);
  }

  /** Whether the index worker has failed: only a restart mends that. */
  get indexFailed(): boolean {
    return this.broken !== null;
  }

  /**
   * Builds the indexes from the store in the index worker (the store is read
   * here, synchronously, so no write slips in between; the worker then builds
   * the tables while requests are served).
   */
  loadIndexes(): Promise<void> {
    if (!this.loading) {
      const other = servingProcess(this.config.DATA_DIR);
      if (other) this.log.warn?.({ other }, `another service (${other}) serves this DATA_DIR: each matches only what it loaded or ingested itself`);
      this.releaseServing = claimServing(this.config.DATA_DIR);
    }
    const snapshotPath = this.config.INDEX_SNAPSHOT_MIN_SIGNALS < 0 ? undefined : join(this.config.DATA_DIR, INDEX_SNAPSHOT_FILE);
    if (!this.loading) {
      if (snapshotPath) removePartialIndexSnapshot(snapshotPath);
      else this.dropIndexSnapshot();
    }
    this.loading ??= WorkerSignalIndexes.load(this.store, {
      snapshotPath,
      onSnapshotUnusable: (reason) => this.log.warn?.({ reason }, 'the index snapshot was not used: loading from the database'),
      onFailure: (err) => {
        this.broken = err;
        this.log.error({ err }, 'the index worker failed: answering 503 until restarted');
        for (const listener of this.failureListeners) listener(err);
      },
    }).then((indexes) => {
      this.loaded = { indexes, matcher: new Matcher(this.store, indexes) };
      this.log.info?.(indexes.report, 'indexes loaded');
      if (snapshotPath) {
        void this.snapshotIfDue();
        this.snapshotTimer = setInterval(() => void this.snapshotIfDue(), SNAPSHOT_CHECK_MS).unref();
      }
      this.batchRunner.start();
      this.scans.startBackground();
    });
    return this.loading;
  }

  /** With snapshots turned off: the last one is forgotten (the store stops logging removals for it) and its file removed. */
  private dropIndexSnapshot(): void {
    if (this.store.recordedIndexSnapshot()) this.store.forgetIndexSnapshot();
    removeIndexSnapshot(join(this.config.DATA_DIR, INDEX_SNAPSHOT_FILE));
  }

  /**
   * Writes a snapshot of the content indexes when a start would otherwise
   * read at least INDEX_SNAPSHOT_MIN_SIGNALS content signals (or removals)
   * beyond the last one: after a load, then every few minutes while the
   * service runs, so that a restart stays quick and the removal log short.
   * Resolves when it is written, or failed (logged), or was not due.
   */
  snapshotIfDue(): Promise<void> {
    const indexes = this.loaded?.indexes;
    const min = this.config.INDEX_SNAPSHOT_MIN_SIGNALS;
    if (!this.snapshotting && indexes && min >= 0 && indexes.contentChangesSinceSnapshot >= Math.max(1, min)) {
      this.snapshotting = indexes
        .saveSnapshot(this.store, join(this.config.DATA_DIR, INDEX_SNAPSHOT_FILE))
        .then(
          (bytes) => this.log.info?.({ bytes }, 'index snapshot written'),
          (err: unknown) => this.log.warn?.({ err }, 'the index snapshot was not written'),
        )
        .finally(() => (this.snapshotting = undefined));
    }
    return this.snapshotting ?? Promise.resolve();
  }

  get indexes(): SignalSearcher {
    return this.require().indexes;
  }

  get matcher(): Matcher {
    return this.require().matcher;
  }

  private require() {
    if (this.broken) throw new ServiceError('INDEX_UNAVAILABLE', 'The service cannot search its index right now; try again later.', 30);
    if (!this.loaded) throw new ServiceError('NOT_READY', 'The service is still loading its index; try again in a few seconds.', 5);
    return this.loaded;
  }

  close(): void {
    // Stops the webhook timer now (the app awaits deliveries in flight before this): nothing may touch the store once it is closed.
    void this.webhookDispatcher.close();
    clearInterval(this.snapshotTimer);
    this.loaded?.indexes.close();
    this.audit.flush();
    this.store.close();
    this.releaseServing?.();
  }
}
