/**
 * Takedown teams' webhooks: created with a URL and the events wanted, each
 * with a signing secret shown once. A webhook belongs to the key that made it
 * (admins see all); for anyone else it does not exist. The URL is checked at
 * creation (scheme, credentials, an IP literal or a host that resolves to a
 * refused address) so a mistake is told at once, and again at every delivery,
 * where it counts (src/webhooks/send.ts).
 */
import type Database from 'better-sqlite3';
import type { Config } from '../config.js';
import { type Delivery, type DeliveryAttempt, SqliteWebhookStore, type Webhook } from '../store/webhooks.js';
import { refusedAddress } from '../webhooks/addresses.js';
import { type Resolver, refusedUrl, systemResolver, urlHost } from '../webhooks/send.js';
import { WebhookDispatcher, type WebhookEvent } from '../webhooks/dispatcher.js';
import { ServiceError } from './errors.js';
import type { ServiceEvents } from './events.js';

export { WEBHOOK_EVENTS, type WebhookEvent } from '../webhooks/dispatcher.js';

export const WEBHOOK_URL_MAX_LENGTH = 2000;

/** Who asks: a key sees its own webhooks, an admin every one. */
export interface WebhookOwner {
  keyId: number;
  admin: boolean;
}

export interface WebhookView {
  id: number;
  url: string;
  events: string[];
  createdAt: string;
}

export interface DeliveryView extends Omit<Delivery, 'webhookId'> {
  log: DeliveryAttempt[];
}

/** WEBHOOK_ALLOW_HOSTS as the set of host names it opens (lower case, IPv6 without brackets). */
export function allowedHosts(config: Pick<Config, 'WEBHOOK_ALLOW_HOSTS'>): Set<string> {
  return new Set(
    config.WEBHOOK_ALLOW_HOSTS.split(',')
      .map((h) => h.trim().replace(/^\[|\]$/g, '').toLowerCase())
      .filter((h) => h !== ''),
  );
}

const view = ({ id, url, events, createdAt }: Webhook): WebhookView => ({ id, url, events, createdAt });

export class WebhookService {
  private readonly allowHosts: Set<string>;

  constructor(
    private readonly store: SqliteWebhookStore,
    config: Config,
    private readonly resolve: Resolver,
  ) {
    this.allowHosts = allowedHosts(config);
  }

  async create(owner: WebhookOwner, input: { url: string; events: WebhookEvent[] }): Promise<WebhookView & { secret: string }> {
    const url = await this.checkUrl(input.url);
    const events = [...new Set(input.events)];
    if (events.length === 0) throw new ServiceError('INVALID_REQUEST', 'Name at least one event.');
    const { webhook, secret } = this.store.create({ url, events, keyId: owner.keyId });
    return { ...view(webhook), secret };
  }

  list(owner: WebhookOwner): WebhookView[] {
    return this.store
      .list()
      .filter((w) => owner.admin || w.keyId === owner.keyId)
      .map(view);
  }

  delete(owner: WebhookOwner, id: number): void {
    this.owned(owner, id);
    this.store.delete(id);
  }

  deliveries(owner: WebhookOwner, id: number, page: { limit: number; beforeId?: number }): { deliveries: DeliveryView[]; nextBefore: number | null } {
    this.owned(owner, id);
    const deliveries = this.store.deliveries(id, page).map(({ webhookId: _, ...d }) => d);
    return { deliveries, nextBefore: deliveries.length === page.limit ? deliveries[deliveries.length - 1].id : null };
  }

  private owned(owner: WebhookOwner, id: number): Webhook {
    const notFound = new ServiceError('NOT_FOUND', `No webhook with id ${id}.`);
    let webhook: Webhook;
    try {
      webhook = this.store.get(id);
    } catch {
      throw notFound;
    }
    if (!owner.admin && webhook.keyId !== owner.keyId) throw notFound;
    return webhook;
  }

  /** The URL as it will be called, or a refusal that says what is wrong with it. */
  private async checkUrl(text: string): Promise<string> {
    const refuse = (why: string) => new ServiceError('INVALID_REQUEST', `This webhook URL cannot be used: ${why}.`);
    if (text.length > WEBHOOK_URL_MAX_LENGTH) throw refuse(`it is longer than ${WEBHOOK_URL_MAX_LENGTH} characters`);
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw refuse('it is not an absolute URL');
    }
    const why = refusedUrl(url, this.allowHosts);
    if (why) throw refuse(why);
    const host = urlHost(url);
    if (!this.allowHosts.has(host)) await this.checkResolves(host, refuse);
    url.hash = '';
    return url.href;
  }

  private async checkResolves(host: string, refuse: (why: string) => ServiceError): Promise<void> {
    let addresses: { address: string }[];
    try {
      addresses = await this.resolve(host);
    } catch {
      throw refuse(`${host} does not resolve`);
    }
    for (const { address } of addresses) {
      const why = refusedAddress(address);
      if (why) throw refuse(`${host} resolves to ${address}, a ${why} address`);
    }
  }
}

/**
 * The webhook service and its dispatcher over the service's database, started
 * and listening to the service's events: a finished run that found new
 * matches, and every change of a match's status.
 */
export function startWebhooks(db: Database.Database, config: Config, events: ServiceEvents, onError: (err: unknown) => void): { service: WebhookService; dispatcher: WebhookDispatcher } {
  const store = new SqliteWebhookStore(db);
  const dispatcher = new WebhookDispatcher(store, {
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    retryBaseMs: config.WEBHOOK_RETRY_BASE_MS,
    retryMaxMs: config.WEBHOOK_RETRY_MAX_MS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    keepLogMs: config.WEBHOOK_LOG_DAYS * 86_400_000,
    allowHosts: allowedHosts(config),
    onError,
  });
  events.on('run.finished', ({ runId, scanId, status, newMatches }) => {
    if (newMatches > 0) dispatcher.notify('scan.run.finished', { runId, scanId, status, newMatches });
  });
  events.on('match.status', ({ matchId, runId, scanId, from, to }) => dispatcher.notify('match.status.changed', { matchId, runId, scanId, from, to }));
  dispatcher.start();
  return { service: new WebhookService(store, config, systemResolver), dispatcher };
}
