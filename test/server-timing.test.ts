/**
 * SERVER_TIMING=1: an image lookup says where its time went (decode, whole
 * image hashing, region hashing, searches) in a Server-Timing header; off by
 * default, and absent where no image is hashed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { multipartBody } from './helpers/form-data.js';
import { GOOD_JPEG } from './helpers/hostile-inputs.js';

async function appWith(t: Test, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-server-timing-'));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', ...env }), logger: false });
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const key = app.services.keys.create({ name: 'timing', role: 'ngo' }).secret;
  const lookup = (fields: { name: string; data: string }[] = []) => {
    const { payload, headers } = multipartBody([{ name: 'image', filename: 'photo.jpg', type: 'image/jpeg', data: GOOD_JPEG }, ...fields]);
    return app.inject({ method: 'POST', url: '/v1/match', payload, headers: { ...headers, authorization: `Bearer ${key}` } });
  };
  return { app, lookup };
}

/** "decode;dur=1.5, search;dur=3.0" as [name, ms] pairs. */
const phases = (header: string) => header.split(', ').map((entry) => entry.match(/^([a-z]+);dur=(\d+\.\d)$/)!.slice(1, 3)).map(([name, ms]) => [name, Number(ms)] as const);

t.test('with SERVER_TIMING=1 an image lookup names its phases in order', async (t) => {
  const { app, lookup } = await appWith(t, { SERVER_TIMING: '1' });
  const robust = await lookup();
  t.equal(robust.statusCode, 200);
  const timed = phases(String(robust.headers['server-timing']));
  t.same(timed.map(([name]) => name), ['decode', 'whole', 'regions', 'search']);
  t.ok(timed.every(([, ms]) => ms >= 0), 'durations in milliseconds');
  const pdq = await lookup([{ name: 'mode', data: 'pdq' }]);
  t.same(phases(String(pdq.headers['server-timing'])).map(([name]) => name), ['decode', 'whole', 'search'], 'pdq mode hashes no regions');
  const hashes = await app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [{ type: 'pdq', hash: '0'.repeat(64) }] } });
  t.equal(hashes.headers['server-timing'], undefined, 'a hash lookup hashes no image');
});

t.test('off by default', async (t) => {
  const { lookup } = await appWith(t, {});
  const res = await lookup();
  t.equal(res.statusCode, 200);
  t.equal(res.headers['server-timing'], undefined);
});
