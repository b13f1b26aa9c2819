/**
 * Webhooks end to end: a real HTTP receiver on this machine checks each
 * delivery's signature as docs/webhooks.md shows; deliveries are retried after
 * 500s, logged, and resumed by a restarted app; addresses inside the service's
 * network are refused at creation and at delivery (after DNS resolution, with
 * the connection pinned to the checked address).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { refusedAddress } from '../src/webhooks/addresses.js';
import { retryDelayMs } from '../src/webhooks/dispatcher.js';
import { sendSigned } from '../src/webhooks/send.js';

/** The check of docs/webhooks.md: HMAC-SHA256 of `${t}.${body}` with the secret, and a timestamp at most five minutes old. */
function verify(secret: string, header: string | undefined, body: string): boolean {
  const parts = Object.fromEntries((header ?? '').split(',').map((p) => p.split('=', 2) as [string, string]));
  const timestamp = Number(parts.t);
  if (!Number.isInteger(timestamp) || Math.abs(Date.now() / 1000 - timestamp) > 300) return false;
  const expected = createHmac('sha256', secret).update(`${parts.t}.${body}`).digest();
  const given = Buffer.from(parts.v1 ?? '', 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

interface Received {
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A receiver that answers each request with the next status of `statuses` (its last one from then on). */
async function receiver(t: Test, statuses: number[] = [200]): Promise<{ server: Server; port: number; received: Received[] }> {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const status = statuses[Math.min(received.length - 1, statuses.length - 1)];
      res.writeHead(status, status === 302 ? { location: '/elsewhere' } : {}).end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { server, port: (server.address() as AddressInfo).port, received };
}

async function eventually<T>(what: string, probe: () => T | undefined | false): Promise<T> {
  // A bound on waiting, not a timing assertion: a loaded machine only makes this slower.
  for (let i = 0; i < 2000; i++) {
    const value = probe();
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`never happened: ${what}`);
}

async function app(t: Test, env: Record<string, string> = {}, dir = mkdtempSync(join(tmpdir(), 'ncii-webhooks-'))) {
  const instance = await buildApp({
    config: loadConfig({ DATA_DIR: dir, KEYED_REQUESTS_PER_MINUTE: '100000', WEBHOOK_ALLOW_HOSTS: '127.0.0.1', WEBHOOK_RETRY_BASE_MS: '20', ...env }),
    logger: false,
    loadIndexes: false,
  });
  await instance.ready();
  let closed = false;
  t.teardown(async () => {
    if (!closed) await instance.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const key = (role: 'ngo' | 'takedown' | 'admin') => ({ authorization: `Bearer ${instance.services.keys.create({ name: `webhooks ${role}`, role }).secret}` });
  const close = async () => {
    closed = true;
    await instance.close();
  };
  return { app: instance, dir, key, close };
}

type DeliveryLog = { deliveries: { id: number; state: string; attempts: number; log: { attempt: number; statusCode: number | null; error: string | null }[] }[] };

t.test('refused address ranges', async (t) => {
  for (const address of ['127.0.0.1', '10.1.2.3', '172.20.0.1', '192.168.1.1', '169.254.169.254', '100.64.0.1', '0.0.0.0', '224.0.0.1', '255.255.255.255', '::1', '::', 'fe80::1', 'fd00::1', 'ff02::1', '::ffff:127.0.0.1', '::ffff:7f00:1', '::ffff:169.254.169.254', '64:ff9b::a00:1', '2002:c0a8:101::1', '::127.0.0.1']) {
    t.ok(refusedAddress(address), `${address} is refused (${refusedAddress(address)})`);
  }
  for (const address of ['8.8.8.8', '1.1.1.1', '93.184.216.34', '2606:4700:4700::1111', '::ffff:8.8.8.8', '64:ff9b::808:808', '2002:808:808::1']) {
    t.equal(refusedAddress(address), null, `${address} is public`);
  }
  t.equal(refusedAddress('example.org'), 'not an IP address');
});

t.test('retry pauses double from the base up to the cap', async (t) => {
  const options = { retryBaseMs: 1000, retryMaxMs: 10_000 };
  t.same([1, 2, 3, 4, 5, 6].map((n) => retryDelayMs(n, options, () => 0.5)), [1000, 2000, 4000, 8000, 10_000, 10_000]);
  t.equal(retryDelayMs(1, options, () => 0), 800, 'jitter: -20%');
  t.equal(retryDelayMs(1, options, () => 1), 1200, 'jitter: +20%');
});

t.test('SSRF: loopback, private, link-local and names resolving to them are refused at delivery; nothing reaches the receiver', async (t) => {
  const { port, received } = await receiver(t);
  const options = { allowHosts: new Set<string>(), timeoutMs: 2000 };
  for (const url of [`http://127.0.0.1:${port}/`, `http://10.0.0.1:${port}/`, 'http://169.254.169.254/latest/meta-data/', `http://[::1]:${port}/`, `http://localhost:${port}/`, `http://[::ffff:127.0.0.1]:${port}/`, `http://0.0.0.0:${port}/`]) {
    const outcome = await sendSigned(url, '{}', {}, 'whsec_x', options);
    t.equal(outcome.statusCode, null, url);
    t.match(outcome.error, /^refused: /, `${url}: ${outcome.error}`);
  }
  t.match((await sendSigned(`ftp://127.0.0.1:${port}/`, '{}', {}, 's', options)).error, /only http and https/);
  t.equal(received.length, 0, 'the receiver got nothing');
});

t.test('DNS rebinding: the connection goes to the address that was checked', async (t) => {
  const { port, received } = await receiver(t);
  let answers = 0;
  // A DNS server that first says "public", then "loopback": only one answer is ever asked for, and it is the one checked.
  const rebinding = async () => (answers++ === 0 ? [{ address: '127.0.0.1', family: 4 }] : [{ address: '8.8.8.8', family: 4 }]);
  const refused = await sendSigned(`http://rebind.test:${port}/`, '{}', {}, 's', { allowHosts: new Set(), timeoutMs: 2000, resolve: rebinding });
  t.match(refused.error, /refused: rebind\.test resolves to 127\.0\.0\.1, a loopback address/);
  t.equal(answers, 1, 'resolved once per attempt');
  const mixed = async () => [{ address: '8.8.8.8', family: 4 }, { address: '10.0.0.7', family: 4 }];
  t.match((await sendSigned(`http://mixed.test:${port}/`, '{}', {}, 's', { allowHosts: new Set(), timeoutMs: 2000, resolve: mixed })).error, /10\.0\.0\.7, a private address/, 'one refused address refuses the host');
  const allowed = await sendSigned(`http://rebind.test:${port}/hook`, '{"a":1}', {}, 's', { allowHosts: new Set(['rebind.test']), timeoutMs: 2000, resolve: async () => [{ address: '127.0.0.1', family: 4 }] });
  t.equal(allowed.statusCode, 200, 'an allowed host is called at the address resolved');
  t.equal(received.length, 1);
  t.equal(received[0].headers.host, `rebind.test:${port}`, 'the request still names its host');
});

t.test('create, list and delete; the secret is shown once; refused URLs are told at creation', async (t) => {
  const { app: a, key } = await app(t);
  const takedown = key('takedown');
  const created = await a.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url: 'http://127.0.0.1:9/hook#frag', events: ['scan.run.finished'] } });
  t.equal(created.statusCode, 201, created.body);
  const body = created.json<{ id: number; url: string; secret: string; events: string[] }>();
  t.match(body.secret, /^whsec_[A-Za-z0-9_-]{43}$/);
  t.equal(body.url, 'http://127.0.0.1:9/hook', 'kept without its fragment');
  const list = await a.inject({ method: 'GET', url: '/v1/webhooks', headers: takedown });
  t.same(list.json<{ webhooks: unknown[] }>().webhooks, [{ id: body.id, url: body.url, events: ['scan.run.finished'], createdAt: (created.json() as { createdAt: string }).createdAt }]);
  t.notOk(list.body.includes(body.secret), 'the secret is not listed');

  const other = key('takedown');
  t.same((await a.inject({ method: 'GET', url: '/v1/webhooks', headers: other })).json(), { webhooks: [] }, "another key does not see it");
  t.equal((await a.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: other })).statusCode, 404);
  t.equal((await a.inject({ method: 'GET', url: `/v1/webhooks/${body.id}/deliveries`, headers: other })).statusCode, 404);
  t.equal((await a.inject({ method: 'GET', url: '/v1/webhooks', headers: key('admin') })).json<{ webhooks: unknown[] }>().webhooks.length, 1, 'an admin sees every webhook');
  t.equal((await a.inject({ method: 'POST', url: '/v1/webhooks', headers: key('ngo'), payload: { url: 'https://example.org/', events: ['scan.run.finished'] } })).statusCode, 403, 'an ngo key may not');

  const refusals: [string, RegExp][] = [
    ['http://10.0.0.1/', /10\.0\.0\.1 is a private address/],
    ['http://169.254.169.254/latest/meta-data/', /link-local/],
    ['http://[::1]:8080/', /::1 is a loopback address/],
    ['http://localhost:8080/', /localhost resolves to .*loopback/],
    ['http://127.0.0.2/', /loopback/],
    ['http://2130706434/', /127\.0\.0\.2 is a loopback address/],
    ['http://0x7f.0.0.2/', /127\.0\.0\.2 is a loopback address/],
    ['http://[::ffff:10.0.0.1]/', /::ffff:a00:1 is a private \(IPv4 10\.0\.0\.1 inside IPv6\) address/],
    ['ftp://example.org/', /only http and https/],
    ['https://user:pw@example.org/', /user name or password/],
    ['not a url', /not an absolute URL/],
    ['http://no-such-host.invalid/', /does not resolve/],
  ];
  for (const [url, message] of refusals) {
    const res = await a.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url, events: ['match.status.changed'] } });
    t.equal(res.statusCode, 400, url);
    t.match(res.json(), { error: { code: 'INVALID_REQUEST', message } }, url);
  }
  const badEvent = await a.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url: 'http://127.0.0.1/', events: ['everything'] } });
  t.equal(badEvent.statusCode, 400);
  t.equal((await a.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: takedown })).statusCode, 204);
  t.equal((await a.inject({ method: 'DELETE', url: `/v1/webhooks/${body.id}`, headers: takedown })).statusCode, 404);
});

t.test('deliveries are signed, retried after 500s and logged', async (t) => {
  const { port, received } = await receiver(t, [500, 500, 200]);
  const { app: a, key } = await app(t);
  const takedown = key('takedown');
  const { id, secret } = (await a.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url: `http://127.0.0.1:${port}/hook`, events: ['scan.run.finished'] } })).json<{ id: number; secret: string }>();
  a.services.webhookDispatcher.notify('match.status.changed', { matchId: 1, runId: 7, scanId: 3, from: 'new', to: 'reported' });
  a.services.webhookDispatcher.notify('scan.run.finished', { runId: 7, scanId: 3, status: 'done', newMatches: 12 });
  const deliveries = await eventually('delivered', () => {
    const page = a.services.webhooks.deliveries({ keyId: 0, admin: true }, id, { limit: 10 }).deliveries;
    return page[0]?.state === 'delivered' && page;
  });
  const logged = (await a.inject({ method: 'GET', url: `/v1/webhooks/${id}/deliveries`, headers: takedown })).json<DeliveryLog>();
  t.same(logged.deliveries, JSON.parse(JSON.stringify(deliveries)), 'GET /v1/webhooks/:id/deliveries shows the log');
  t.equal(deliveries.length, 1, 'only the event subscribed to');
  t.match(deliveries[0], { state: 'delivered', attempts: 3, log: [{ attempt: 1, statusCode: 500, error: 'HTTP 500' }, { attempt: 2, statusCode: 500 }, { attempt: 3, statusCode: 200, error: null }] });
  t.equal(received.length, 3);
  for (const r of received) {
    t.equal(r.url, '/hook');
    t.ok(verify(secret, r.headers['x-ncii-signature'] as string, r.body), 'the signature checks out');
    t.notOk(verify(`${secret}x`, r.headers['x-ncii-signature'] as string, r.body), 'and not with another secret');
    t.notOk(verify(secret, r.headers['x-ncii-signature'] as string, r.body.replace('12', '13')), 'nor for another body');
    t.equal(r.headers['x-ncii-event'], 'scan.run.finished');
    t.equal(r.headers['x-ncii-delivery'], String(deliveries[0].id), 'the same delivery id on every attempt');
    t.equal(r.headers['content-type'], 'application/json');
  }
  t.match(JSON.parse(received[0].body), { event: 'scan.run.finished', occurredAt: String, data: { runId: 7, scanId: 3, status: 'done', newMatches: 12 } });

  a.services.webhookDispatcher.notify('scan.run.finished', { runId: 8, scanId: 3, status: 'done', newMatches: 1 });
  await eventually('second delivery', () => received.length === 4);
  const page = async (query: string) => (await a.inject({ method: 'GET', url: `/v1/webhooks/${id}/deliveries?${query}`, headers: takedown })).json<DeliveryLog & { nextBefore: number | null }>();
  const first = await page('limit=1');
  t.equal(first.deliveries.length, 1);
  t.not(first.deliveries[0].id, deliveries[0].id, 'newest first');
  const second = await page(`limit=1&before=${first.nextBefore}`);
  t.same(second.deliveries.map((d) => d.id), [deliveries[0].id], 'the next page goes back in time');
  t.same((await page(`limit=1&before=${second.nextBefore}`)).deliveries, [], 'and ends');
});

t.test('a delivery out of attempts is failed; a redirect is not followed', async (t) => {
  const { port, received } = await receiver(t, [302]);
  const { app: a, key } = await app(t, { WEBHOOK_MAX_ATTEMPTS: '2' });
  const takedown = key('takedown');
  const { id } = (await a.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url: `http://127.0.0.1:${port}/hook`, events: ['match.status.changed'] } })).json<{ id: number }>();
  a.services.webhookDispatcher.notify('match.status.changed', { matchId: 5, runId: 7, scanId: 3, from: 'reported', to: 'removed' });
  const deliveries = await eventually('failed', () => {
    const page = a.services.webhooks.deliveries({ keyId: 0, admin: true }, id, { limit: 10 });
    return page.deliveries[0]?.state === 'failed' && page.deliveries;
  });
  t.match(deliveries[0], { attempts: 2, nextAttemptAt: null, log: [{ statusCode: 302, error: /redirects are not followed/ }, { statusCode: 302 }] });
  t.same(received.map((r) => r.url), ['/hook', '/hook'], 'never /elsewhere');
});

t.test('a restart resumes pending deliveries', async (t) => {
  const { port, received } = await receiver(t, [500, 200]);
  const dir = mkdtempSync(join(tmpdir(), 'ncii-webhooks-restart-'));
  // A long pause after the first failure: the first app closes before it would try again.
  const first = await app(t, { WEBHOOK_RETRY_BASE_MS: '600000' }, dir);
  const takedown = first.key('takedown');
  const { id } = (await first.app.inject({ method: 'POST', url: '/v1/webhooks', headers: takedown, payload: { url: `http://127.0.0.1:${port}/`, events: ['scan.run.finished'] } })).json<{ id: number }>();
  first.app.services.webhookDispatcher.notify('scan.run.finished', { runId: 1, scanId: 1, status: 'done', newMatches: 1 });
  await eventually('first attempt', () => received.length === 1 && first.app.services.webhooks.deliveries({ keyId: 0, admin: true }, id, { limit: 1 }).deliveries[0].attempts === 1);
  await first.close();

  // The pause is stored with the delivery: shorten it as an operator's clock would pass, then start again.
  const second = await app(t, { WEBHOOK_RETRY_BASE_MS: '20' }, dir);
  second.app.services.store.db.prepare("UPDATE webhook_deliveries SET next_attempt_at = '2000-01-01T00:00:00.000Z' WHERE state = 'pending'").run();
  second.app.services.webhookDispatcher.start();
  const [delivery] = await eventually('delivered after the restart', () => {
    const page = second.app.services.webhooks.deliveries({ keyId: 0, admin: true }, id, { limit: 1 }).deliveries;
    return page[0]?.state === 'delivered' && page;
  });
  t.match(delivery, { attempts: 2, log: [{ attempt: 1, statusCode: 500 }, { attempt: 2, statusCode: 200 }] });
  t.equal(received.length, 2);
  await second.close();

  // Past WEBHOOK_LOG_DAYS a finished delivery leaves the log; a pending one stays whatever its age.
  const third = await app(t, { WEBHOOK_LOG_DAYS: '30' }, dir);
  const db = third.app.services.store.db;
  db.prepare("INSERT INTO webhook_deliveries (webhook_id, event, body, state, next_attempt_at, created_at) VALUES (?, 'scan.run.finished', '{}', 'pending', '2999-01-01T00:00:00.000Z', '2000-01-01T00:00:00.000Z')").run(id);
  db.prepare("UPDATE webhook_deliveries SET created_at = '2000-01-01T00:00:00.000Z'").run();
  await third.close();
  const fourth = await app(t, { WEBHOOK_LOG_DAYS: '30' }, dir);
  const left = await eventually('the old delivery pruned', () => {
    const page = fourth.app.services.webhooks.deliveries({ keyId: 0, admin: true }, id, { limit: 10 }).deliveries;
    return page.length === 1 && page;
  });
  t.match(left, [{ state: 'pending', attempts: 0 }], 'only the pending delivery is left');
  t.equal((fourth.app.services.store.db.prepare('SELECT count(*) AS n FROM webhook_attempts').get() as { n: number }).n, 0, 'with the attempts of the pruned one');
});

t.test('a receiver that never answers times out; one that streams an endless answer is cut off', async (t) => {
  const sockets = new Set<import('node:net').Socket>();
  let closed = 0;
  const server = createServer((req, res) => {
    if (req.url === '/silent') return;
    res.writeHead(200);
    const timer = setInterval(() => res.write('x'.repeat(1024)), 5);
    res.on('close', () => {
      clearInterval(timer);
      closed++;
    });
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    for (const s of sockets) s.destroy();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  const port = (server.address() as AddressInfo).port;
  const options = { allowHosts: new Set(['127.0.0.1']), timeoutMs: 300 };
  t.match(await sendSigned(`http://127.0.0.1:${port}/silent`, '{}', {}, 's', options), { statusCode: null, error: /^ETIMEDOUT: no answer within 300 ms/ });
  t.same(await sendSigned(`http://127.0.0.1:${port}/endless`, '{}', {}, 's', options), { statusCode: 200, error: null });
  await eventually('the endless answer is cut off', () => closed === 1);
  t.pass('the connection was closed');
});
