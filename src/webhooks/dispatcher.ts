/**
 * Webhook deliveries in the background. `notify` queues an event for every
 * webhook subscribed to it (in the store, so a restart resumes what was
 * pending); a pump sends what is due a few at a time, and a failed attempt
 * (no answer, or not 2xx) is tried again after a pause that doubles each time,
 * until the webhook's attempts run out. Delivery is at least once: a receiver
 * tells repeats apart by the X-NCII-Delivery header.
 */
import type { SqliteWebhookStore } from '../store/webhooks.js';
import { type Resolver, sendSigned } from './send.js';

export const WEBHOOK_EVENTS = ['scan.run.finished', 'match.status.changed'] as const;
export type WebhookEvent = (typeof WEBHOOK_EVENTS)[number];

/**
 * What each event says: ids and counts only, never an image, a hash, a PIN or
 * a case number (a receiver is often a chat or ticket system that keeps
 * everything; the team reads the details through the API with its key).
 */
export interface WebhookEventData {
  /** `status`: failed when the run stopped on an error after recording matches (a later run resumes it). */
  'scan.run.finished': { runId: number; scanId: number; status: 'done' | 'failed'; newMatches: number };
  'match.status.changed': { matchId: number; runId: number; scanId: number; from: string; to: string };
}

/** What the scans' event hook calls. */
export interface WebhookNotifier {
  notify<E extends WebhookEvent>(event: E, data: WebhookEventData[E]): void;
}

export interface DispatcherOptions {
  maxAttempts: number;
  /** The pause after the first failed attempt; each later pause doubles, up to `retryMaxMs`. */
  retryBaseMs: number;
  retryMaxMs: number;
  timeoutMs: number;
  allowHosts: ReadonlySet<string>;
  /** How long delivered and failed deliveries stay in the log. */
  keepLogMs: number;
  /** Deliveries sent at once. */
  concurrency?: number;
  resolve?: Resolver;
  onError?: (err: unknown) => void;
}

/** The pause before attempt `attempt + 1`: doubling from the base, capped, with ±20% jitter so many failed deliveries do not retry in step. */
export function retryDelayMs(attempt: number, options: Pick<DispatcherOptions, 'retryBaseMs' | 'retryMaxMs'>, random = Math.random): number {
  const plain = Math.min(options.retryMaxMs, options.retryBaseMs * 2 ** (attempt - 1));
  return Math.round(plain * (0.8 + 0.4 * random()));
}

export class WebhookDispatcher implements WebhookNotifier {
  private timer: NodeJS.Timeout | null = null;
  private pumping: Promise<void> | null = null;
  private again = false;
  private started = false;
  private closed = false;
  private prunedAt = 0;

  constructor(
    private readonly store: SqliteWebhookStore,
    private readonly options: DispatcherOptions,
  ) {}

  /** Starts sending, beginning with whatever was pending before a restart. */
  start(): void {
    this.started = true;
    this.wake();
  }

  notify<E extends WebhookEvent>(event: E, data: WebhookEventData[E]): void {
    const occurredAt = new Date().toISOString();
    const queued = this.store.enqueue(event, () => JSON.stringify({ event, occurredAt, data }));
    if (queued > 0) this.wake();
  }

  /** Sends what is due now, then sleeps until the next pending delivery is due. */
  private wake(): void {
    if (!this.started || this.closed) return;
    if (this.pumping) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.pumping = this.pump()
      .catch((err: unknown) => this.options.onError?.(err))
      .finally(() => {
        this.pumping = null;
        if (this.again) {
          this.again = false;
          this.wake();
        } else this.sleep();
      });
  }

  private sleep(): void {
    if (this.closed) return;
    const next = this.store.nextDueAt();
    if (next === null) return;
    // setTimeout fires at once past 2^31-1 ms: wake by then and look again.
    this.timer = setTimeout(() => this.wake(), Math.min(2 ** 31 - 1, Math.max(0, Date.parse(next) - Date.now())));
    // Pending deliveries never keep the process alive; a restart resumes them.
    this.timer.unref();
  }

  private async pump(): Promise<void> {
    // The log is trimmed at start and then at most hourly, whenever there is something to send.
    if (Date.now() - this.prunedAt > 3_600_000) {
      this.prunedAt = Date.now();
      this.store.prune(new Date(Date.now() - this.options.keepLogMs).toISOString());
    }
    for (;;) {
      const due = this.store.due(new Date().toISOString(), this.options.concurrency ?? 4);
      if (due.length === 0 || this.closed) return;
      await Promise.all(
        due.map(async (delivery) => {
          const attempt = delivery.attempts + 1;
          const at = new Date().toISOString();
          const headers = { 'x-ncii-event': delivery.event, 'x-ncii-delivery': String(delivery.id) };
          const outcome = await sendSigned(delivery.url, delivery.body, headers, delivery.secret, this.options);
          const state = outcome.error === null ? 'delivered' : attempt >= this.options.maxAttempts ? 'failed' : 'pending';
          const nextAttemptAt = state === 'pending' ? new Date(Date.now() + retryDelayMs(attempt, this.options)).toISOString() : null;
          this.store.recordAttempt(delivery.id, { attempt, at, ...outcome }, { state, nextAttemptAt });
        }),
      );
    }
  }

  /** Stops sending; attempts in flight finish and are recorded first. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.pumping;
  }
}
