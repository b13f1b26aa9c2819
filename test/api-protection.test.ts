/**
 * Per-client request limits (by route, however the path is written; per key;
 * IPv6 per /64; the client's address behind a proxy), requests that are not
 * HTTP, and what logs and metrics keep of clients and victims.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { pdqExpected } from './helpers/fixtures.js';

const BRIDGE = pdqExpected().find((r) => r.file === 'bridge-1-original.jpg')!.hash;

async function newApp(t: Test, env: Record<string, string> = {}): Promise<{ app: FastifyInstance; logs: string[] }> {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-protection-'));
  const logs: string[] = [];
  const app = await buildApp({
    config: loadConfig({ DATA_DIR: dir, ...env }),
    logStream: new Writable({
      write(chunk, _encoding, done) {
        logs.push(String(chunk));
        done();
      },
    }),
  });
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { app, logs };
}

const matchBody = { signals: [{ type: 'pdq', hash: BRIDGE }] };

t.test('anonymous clients are limited per address, whatever way the path is written', async (t) => {
  const { app } = await newApp(t, { ANONYMOUS_REQUESTS_PER_MINUTE: '3', KEYED_REQUESTS_PER_MINUTE: '3' });
  const match = (url: string, remoteAddress: string, headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url, payload: matchBody, remoteAddress, headers });

  t.equal((await match('/v1/match', '10.0.0.1')).statusCode, 200);
  t.equal((await match('/%76%31/match', '10.0.0.1')).statusCode, 200, 'an encoded path reaches the same route');
  t.equal((await match('/v1/%6datch', '10.0.0.1')).statusCode, 200);
  const limited = await match('/%761/match', '10.0.0.1');
  t.equal(limited.statusCode, 429, 'and is counted as it');
  t.same(limited.json().error.code, 'RATE_LIMITED');
  t.ok(Number(limited.headers['retry-after']) > 0);
  t.equal((await match('/v1/match', '10.0.0.2')).statusCode, 200, 'another address is another client');

  // Health, readiness and metrics are not limited.
  for (let i = 0; i < 5; i++) t.equal((await app.inject({ method: 'GET', url: '/healthz', remoteAddress: '10.0.0.1' })).statusCode, 200);

  // IPv6: a /64 is one client.
  for (const address of ['2001:db8:5:5::1', '2001:db8:5:5::2', '2001:db8:5:5:ffff::3']) t.equal((await match('/v1/match', address)).statusCode, 200);
  t.equal((await match('/v1/match', '2001:db8:5:5::4')).statusCode, 429, 'a fourth address in the same /64');
  t.equal((await match('/v1/match', '2001:db8:5:6::1')).statusCode, 200, 'the next /64');

  // Keyed callers are counted per key, not per address.
  const key = app.services.keys.create({ name: 'ngo', role: 'ngo' }).secret;
  for (let i = 0; i < 3; i++) t.equal((await match('/v1/match', '10.0.0.1', { authorization: `Bearer ${key}` })).statusCode, 200);
  t.equal((await match('/v1/match', '10.0.0.9', { authorization: `Bearer ${key}` })).statusCode, 429, 'the key is used up, from any address');
});

t.test('behind a proxy: the client address is the one the proxy added, not one the client wrote', async (t) => {
  const { app } = await newApp(t, { ANONYMOUS_REQUESTS_PER_MINUTE: '2', TRUST_PROXY: '1' });
  const viaProxy = (forwardedFor: string) =>
    app.inject({ method: 'POST', url: '/v1/match', payload: matchBody, remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': forwardedFor } });
  t.equal((await viaProxy('198.51.100.7')).statusCode, 200);
  t.equal((await viaProxy('198.51.100.7')).statusCode, 200);
  t.equal((await viaProxy('10.9.9.1, 198.51.100.7')).statusCode, 429, 'a forged first entry does not make a new client');
  t.equal((await viaProxy('198.51.100.8')).statusCode, 200, 'another client behind the same proxy');

  t.throws(() => loadConfig({ TRUST_PROXY: 'yes' }), /TRUST_PROXY/);
  for (const value of ['false', 'true', '2', '10.0.0.0/8,127.0.0.1', '::1']) t.doesNotThrow(() => loadConfig({ TRUST_PROXY: value }), value);
});

t.test('what is not HTTP gets the API error shape, and the logs keep neither its bytes nor any header', async (t) => {
  const { app, logs } = await newApp(t, { LOG_LEVEL: 'trace' });
  const address = new URL(await app.listen({ port: 0, host: '127.0.0.1' }));
  const secretPin = '4711-0815-4242';
  const reply = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(address.port), address.hostname);
    let text = '';
    socket.on('data', (chunk) => (text += chunk));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
    socket.write(`GET /v1/cases/7KQM-X2HD-9WTP HTTP/1.1\r\nX-Case-Pin: ${secretPin}\r\nBroken Header Line\r\n\r\n`);
  });
  t.match(reply, /^HTTP\/1\.1 400 Bad Request\r\n/);
  t.match(reply, /x-content-type-options: nosniff/i, 'with the security headers');
  t.same(JSON.parse(reply.slice(reply.indexOf('\r\n\r\n') + 4)), { error: { code: 'BAD_REQUEST', message: 'The request is not valid HTTP.' } });

  const key = app.services.keys.create({ name: 'k', role: 'ngo' }).secret;
  await app.inject({
    method: 'POST',
    url: '/v1/hash',
    headers: { 'content-type': 'multipart/form-data; boundary=x', authorization: `Bearer ${key}`, 'x-forwarded-for': '203.0.113.77', 'x-case-pin': secretPin },
    payload: '--x\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\n\r\nnot an image\r\n--x--\r\n',
  });
  const text = logs.join('');
  t.ok(logs.some((line) => line.includes('client error')), 'the client error is logged');
  t.notOk(text.includes('7KQM') || text.includes(secretPin) || text.includes('Broken Header'), 'not its text');
  t.notOk(text.includes('rawPacket') || text.includes('"type":"Buffer"'), 'nor its bytes');
  t.notOk(text.includes('203.0.113.77'), 'no forwarded client address');
  t.notOk(text.includes(key), 'no key');
});

t.test('metrics count matches, but not what a victim’s case found', async (t) => {
  const { app } = await newApp(t);
  const store = app.services.store;
  const bank = store.createBank({ name: 'b' });
  const hash = Buffer.from(BRIDGE, 'hex');
  store.addContent(bank.id, [{ provenance: { platform: 'telegram', channel: 'g' }, signals: [{ type: 'pdq', hash, quality: 100 }] }]);
  const created = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: BRIDGE, quality: 100 }] } })).json();
  const status = await app.inject({ method: 'GET', url: `/v1/cases/${created.caseNumber}`, headers: { 'x-case-pin': created.pin } });
  t.equal(status.json().found.matches, 1, 'the case found the copy');
  t.equal((await app.inject({ method: 'POST', url: '/v1/match', payload: matchBody })).json().matches.length, 1);
  const admin = app.services.keys.create({ name: 'monitoring', role: 'admin' }).secret;
  const metrics = (await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${admin}` } })).body;
  t.match(metrics, /matches_found_total\{route="\/v1\/match"\} 1/);
  t.notMatch(metrics, /matches_found_total\{route="\/v1\/cases/, 'nothing for the case route');
});
