/**
 * GET /metrics: request counts and latencies by route, hashes computed, index
 * entries (following ingest and deletion) and matches found.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { multipart } from './helpers/multipart.js';

/** The value of one sample line of the exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

t.test('metrics follow requests, hashing, ingest, deletion and matches', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'ncii-metrics-'));
  t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir }), logger: false });
  t.teardown(() => app.close());
  const { secret } = app.services.keys.create({ name: 'takedown', role: 'takedown' });
  const auth = { authorization: `Bearer ${secret}` };

  const bank = (await app.inject({ method: 'POST', url: '/v1/banks', headers: auth, payload: { name: 'captures' } })).json();
  const hashes = Array.from({ length: 3 }, () => randomBytes(32).toString('hex'));
  const ingested = await app.inject({
    method: 'POST',
    url: `/v1/banks/${bank.id}/content`,
    headers: auth,
    payload: { items: hashes.map((hash) => ({ platform: 'telegram', signals: [{ type: 'pdq', hash }] })) },
  });
  t.equal(ingested.statusCode, 201);
  const match = await app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: hashes[0] }] } });
  t.equal(match.json().matches.length, 1);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/content/${ingested.json().items[2].id}`, headers: auth })).statusCode, 204);
  const image = await sharp(randomBytes(64 * 64 * 3), { raw: { width: 64, height: 64, channels: 3 } }).png().toBuffer();
  t.equal((await app.inject({ method: 'POST', url: '/v1/hash', ...multipart([{ name: 'image', filename: 'a.png', bytes: image }]) })).statusCode, 200);
  await app.inject({ method: 'GET', url: '/no/such/page' });
  // A victim registers a case, looks at it and withdraws it.
  const victimCase = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: hashes[0] }] } })).json();
  const pin = { 'x-case-pin': victimCase.pin };
  t.equal((await app.inject({ method: 'GET', url: `/v1/cases/${victimCase.caseNumber}`, headers: pin })).statusCode, 200);
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/cases/${victimCase.caseNumber}`, headers: pin })).statusCode, 204);

  t.equal((await app.inject({ method: 'GET', url: '/metrics' })).statusCode, 401, 'not open to anyone');
  t.equal((await app.inject({ method: 'GET', url: '/metrics', headers: auth })).statusCode, 403, 'nor to every key');
  const admin = app.services.keys.create({ name: 'monitoring', role: 'admin' }).secret;
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { authorization: `Bearer ${admin}` } });
  t.equal(res.statusCode, 200);
  t.match(res.headers['content-type'], /text\/plain/);
  const text = res.body;
  t.equal(sample(text, 'http_requests_total{method="POST",route="/v1/match",status="200"}'), 1);
  t.equal(sample(text, 'http_request_duration_seconds_count{method="POST",route="/v1/match"}'), 1);
  t.equal(sample(text, 'http_requests_total{method="GET",route="unmatched",status="404"}'), 1, 'unknown URLs share one label');
  t.equal(sample(text, 'matches_found_total{route="/v1/match"}'), 1);
  t.equal(sample(text, 'hashes_computed_total{signal_type="pdq"}'), 1);
  t.equal(sample(text, 'index_entries{signal_type="pdq",owner="content"}'), 2, 'three ingested, one deleted');
  t.notMatch(text, /owner="case"|\/v1\/cases/, 'nothing follows victims\' cases: no case index size, no case route');
  t.ok(sample(text, 'process_cpu_user_seconds_total') !== undefined, 'process metrics too');
});
