/**
 * Webhooks in SQLite, sharing the store's database: each webhook (URL,
 * events, signing secret, the key that made it), each delivery of an event to
 * it (the JSON body as sent, pending until delivered or out of attempts) and
 * every attempt (status code or error). A pending delivery survives a
 * restart: the dispatcher picks it up again by `next_attempt_at`.
 */
import { randomBytes } from 'node:crypto';
import type Database from 'better-sqlite3';
import { StoreError } from './errors.js';

export type DeliveryState = 'pending' | 'delivered' | 'failed';

export interface Webhook {
  id: number;
  url: string;
  events: string[];
  keyId: number;
  createdAt: string;
}

export interface DeliveryAttempt {
  attempt: number;
  at: string;
  statusCode: number | null;
  error: string | null;
}

export interface Delivery {
  id: number;
  webhookId: number;
  event: string;
  state: DeliveryState;
  attempts: number;
  nextAttemptAt: string | null;
  createdAt: string;
}

/** A delivery due to be sent, with what it takes to send it. */
export interface DueDelivery extends Delivery {
  url: string;
  secret: string;
  body: string;
}

type WebhookRow = { id: number; url: string; events: string; secret: string; key_id: number; created_at: string };
type DeliveryRow = { id: number; webhook_id: number; event: string; state: DeliveryState; attempts: number; next_attempt_at: string | null; created_at: string };
type AttemptRow = { delivery_id: number; attempt: number; at: string; status_code: number | null; error: string | null };

const webhookFromRow = (r: WebhookRow): Webhook => ({ id: r.id, url: r.url, events: JSON.parse(r.events) as string[], keyId: r.key_id, createdAt: r.created_at });
const deliveryFromRow = (r: DeliveryRow): Delivery => ({
  id: r.id,
  webhookId: r.webhook_id,
  event: r.event,
  state: r.state,
  attempts: r.attempts,
  nextAttemptAt: r.next_attempt_at,
  createdAt: r.created_at,
});

/** `whsec_` + 43 base64url characters (256 random bits). */
const newSecret = () => `whsec_${randomBytes(32).toString('base64url')}`;

export class SqliteWebhookStore {
  private readonly statements;

  constructor(private readonly db: Database.Database) {
    this.statements = {
      insert: db.prepare('INSERT INTO webhooks (url, events, secret, key_id, created_at) VALUES (?, ?, ?, ?, ?)'),
      byId: db.prepare<[number], WebhookRow>('SELECT * FROM webhooks WHERE id = ?'),
      all: db.prepare<[], WebhookRow>('SELECT * FROM webhooks ORDER BY id'),
      delete: db.prepare('DELETE FROM webhooks WHERE id = ?'),
      enqueue: db.prepare("INSERT INTO webhook_deliveries (webhook_id, event, body, state, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)"),
      due: db.prepare<[string, number], DeliveryRow & { url: string; secret: string; body: string }>(
        `SELECT d.*, w.url, w.secret FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id
         WHERE d.state = 'pending' AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`,
      ),
      nextDue: db.prepare<[], { at: string | null }>("SELECT min(next_attempt_at) AS at FROM webhook_deliveries WHERE state = 'pending'"),
      attempt: db.prepare('INSERT INTO webhook_attempts (delivery_id, attempt, at, status_code, error) VALUES (?, ?, ?, ?, ?)'),
      settle: db.prepare('UPDATE webhook_deliveries SET state = ?, attempts = ?, next_attempt_at = ? WHERE id = ?'),
      deliveries: db.prepare<[number, number, number], DeliveryRow>('SELECT * FROM webhook_deliveries WHERE webhook_id = ? AND id < ? ORDER BY id DESC LIMIT ?'),
      attempts: db.prepare<[number], AttemptRow>('SELECT * FROM webhook_attempts WHERE delivery_id = ? ORDER BY attempt'),
      prune: db.prepare("DELETE FROM webhook_deliveries WHERE state != 'pending' AND created_at < ?"),
    };
  }

  /** Creates a webhook; its secret is returned here and by `due` only. */
  create(input: { url: string; events: string[]; keyId: number }): { webhook: Webhook; secret: string } {
    const secret = newSecret();
    const { lastInsertRowid } = this.statements.insert.run(input.url, JSON.stringify(input.events), secret, input.keyId, new Date().toISOString());
    return { webhook: this.get(Number(lastInsertRowid)), secret };
  }

  get(id: number): Webhook {
    const row = this.statements.byId.get(id);
    if (!row) throw new StoreError('NOT_FOUND', `no webhook with id ${id}`);
    return webhookFromRow(row);
  }

  list(): Webhook[] {
    return this.statements.all.all().map(webhookFromRow);
  }

  /** Deletes the webhook with its deliveries and their attempts. */
  delete(id: number): void {
    this.get(id);
    this.statements.delete.run(id);
  }

  /** Queues `body` for every webhook subscribed to `event`, in one transaction; returns how many were queued. */
  enqueue(event: string, body: (webhook: Webhook) => string): number {
    const now = new Date().toISOString();
    return this.db.transaction(() => {
      const subscribed = this.list().filter((w) => w.events.includes(event));
      for (const w of subscribed) this.statements.enqueue.run(w.id, event, body(w), now, now);
      return subscribed.length;
    })();
  }

  /** Pending deliveries whose next attempt is due at `now`, soonest first. */
  due(now: string, limit: number): DueDelivery[] {
    return this.statements.due.all(now, limit).map((r) => ({ ...deliveryFromRow(r), url: r.url, secret: r.secret, body: r.body }));
  }

  /** When the soonest pending delivery is due, or null if none is pending. */
  nextDueAt(): string | null {
    return this.statements.nextDue.get()?.at ?? null;
  }

  /**
   * Records one attempt and what follows: delivered, failed for good, or
   * pending again at `nextAttemptAt`. A delivery deleted meanwhile (its
   * webhook was) is left deleted.
   */
  recordAttempt(deliveryId: number, attempt: DeliveryAttempt, next: { state: DeliveryState; nextAttemptAt: string | null }): void {
    this.db.transaction(() => {
      if (this.statements.settle.run(next.state, attempt.attempt, next.nextAttemptAt, deliveryId).changes === 0) return;
      this.statements.attempt.run(deliveryId, attempt.attempt, attempt.at, attempt.statusCode, attempt.error);
    })();
  }

  /** Deletes delivered and failed deliveries (with their attempts) created before `before`; returns how many went. */
  prune(before: string): number {
    return this.statements.prune.run(before).changes;
  }

  /** A webhook's deliveries, newest first, `limit` at a time before the delivery id `beforeId`, each with its attempts. */
  deliveries(webhookId: number, page: { limit: number; beforeId?: number }): (Delivery & { log: DeliveryAttempt[] })[] {
    return this.statements.deliveries.all(webhookId, page.beforeId ?? Number.MAX_SAFE_INTEGER, page.limit).map((r) => ({
      ...deliveryFromRow(r),
      log: this.statements.attempts.all(r.id).map((a) => ({ attempt: a.attempt, at: a.at, statusCode: a.status_code, error: a.error })),
    }));
  }
}
