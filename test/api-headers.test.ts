/**
 * Security headers: the service reads helmet's headers once at start; they must
 * be exactly what @fastify/helmet sets with the service's options, in the
 * same order, on every kind of response they were on before.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import helmet from '@fastify/helmet';
import Fastify, { type LightMyRequestResponse } from 'fastify';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { SECURITY_HEADERS } from '../src/api/plugins/protection.js';
import { loadConfig } from '../src/config.js';

/** The options the service gave @fastify/helmet. */
const HELMET_OPTIONS = {
  contentSecurityPolicy: { directives: { 'script-src': ["'self'"], 'style-src': ["'self'", "'unsafe-inline'"], 'img-src': ["'self'", 'data:'] } },
};

/** Every header of a response as [name as sent, value], in order (getRawHeaderNames is Node's, missing from @types/node 20). */
const headersOf = (res: LightMyRequestResponse) => {
  const raw = res.raw.res as typeof res.raw.res & { getRawHeaderNames(): string[] };
  return raw.getRawHeaderNames().map((name) => [name, raw.getHeader(name)]);
};

t.test('the constant headers are what @fastify/helmet sets with the service options, and no-store', async (t) => {
  const reference = Fastify();
  await reference.register(helmet, HELMET_OPTIONS);
  reference.get('/', async () => ({}));
  const res = await reference.inject({ method: 'GET', url: '/' });
  t.same(
    headersOf(res).filter(([name]) => !/^content-(type|length)$/i.test(String(name))),
    SECURITY_HEADERS.slice(0, -1),
  );
  t.same(SECURITY_HEADERS.at(-1), ['cache-control', 'no-store'], 'no answer is kept by a cache');
  await reference.close();
});

t.test('responses carry them first, in order: success, client errors, refused keys, not found, docs, metrics', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ncii-headers-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), logger: false });
  t.teardown(() => app.close());
  const requests = [
    { method: 'GET', url: '/healthz' },
    { method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: 'ab'.repeat(32) }] } },
    { method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: 'zz' }] } },
    { method: 'POST', url: '/v1/match', payload: 'not json', headers: { 'content-type': 'application/json' } },
    { method: 'GET', url: '/nowhere' },
    { method: 'GET', url: '/v1/banks' },
    { method: 'GET', url: '/v1/banks', headers: { authorization: 'Bearer not-a-key' } },
    { method: 'GET', url: '/v1/banks', headers: { authorization: 'Basic abc' } },
    { method: 'GET', url: '/docs' },
    { method: 'GET', url: '/metrics' },
    { method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'ab'.repeat(16) }] } },
    { method: 'GET', url: '/v1/cases/2345-6789-ABCD', headers: { 'x-case-pin': '1234-5678-9012' } },
  ] as const;
  for (const request of requests) {
    const res = await app.inject(request);
    t.same(headersOf(res).slice(0, SECURITY_HEADERS.length), SECURITY_HEADERS, `${request.method} ${request.url} (${res.statusCode})`);
  }
});
