/**
 * Error codes and messages a client reads: one code per meaning (a bad id,
 * a bad field and input the store refuses are all INVALID_REQUEST), the
 * formats an unsupported-format message names are the ones that decode, and
 * counts are in plain, grammatical words.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp, { type Sharp } from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { multipartBody } from './helpers/form-data.js';
import { GOOD_JPEG } from './helpers/hostile-inputs.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-messages-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, LOG_LEVEL: 'silent', MAX_FILES_PER_REQUEST: '3', KEYED_REQUESTS_PER_MINUTE: '100000' }), logger: false });
await app.ready();
t.teardown(() => app.close());
const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'messages', role: 'takedown' }).secret}` };
const PDQ = { type: 'pdq', hash: '0'.repeat(64) };

const images = (count: number, data: Uint8Array = GOOD_JPEG, filename = 'photo.jpg') =>
  multipartBody(Array.from({ length: count }, (_, i) => ({ name: 'image', filename: `${i}-${filename}`, type: 'application/octet-stream', data })));

async function post(url: string, body: { payload: Buffer; headers: Record<string, string> }) {
  const res = await app.inject({ method: 'POST', url, payload: body.payload, headers: { ...takedown, ...body.headers } });
  return { status: res.statusCode, ...(res.json() as { error: { code: string; message: string } }) };
}

t.test('one code for every invalid request: ids out of range, bad fields, input the store refuses', async (t) => {
  const bank = app.services.store.createBank({ name: 'messages' });
  const cases: [string, string, unknown?][] = [
    ['GET', '/v1/content/0'],
    ['GET', '/v1/content/9007199254740992'],
    ['GET', '/v1/banks/abc'],
    ['DELETE', '/v1/banks/-1'],
    ['GET', '/v1/batches/not-a-batch'],
    ['GET', `/v1/banks/${bank.id}/content?limit=0`],
    ['POST', '/v1/match', { signals: [PDQ], banks: [0] }],
    ['POST', '/v1/match', { signals: [PDQ], banks: [9007199254740992] }],
    ['POST', '/v1/match', { signals: [PDQ], mode: 'fuzzy' }],
    // Refused by the store, not the schema: the same code.
    ['POST', '/v1/banks', { name: '   ' }],
    ['PATCH', `/v1/banks/${bank.id}`, { name: '   ' }],
  ];
  for (const [method, url, payload] of cases) {
    const res = await app.inject({ method: method as 'GET', url, headers: takedown, ...(payload ? { payload: payload as object } : {}) });
    t.equal(res.statusCode, 400, `${method} ${url} ${JSON.stringify(payload ?? '')}`);
    t.equal(res.json().error.code, 'INVALID_REQUEST', `${method} ${url}: ${res.json().error.message}`);
  }
});

t.test('list lengths are said in plain words, singular or plural', async (t) => {
  const empty = await app.inject({ method: 'POST', url: '/v1/match', payload: { signals: [] } });
  t.equal(empty.json().error.message, 'Invalid request: body signals must have at least 1 item');
  const tooMany = await app.inject({ method: 'POST', url: '/v1/match', headers: takedown, payload: { signals: [PDQ], banks: Array.from({ length: 200 }, (_, i) => i + 1) } });
  t.match(tooMany.json().error.message, /^Invalid request: body banks must have at most \d+ items$/);
});

t.test('too many images: "one image" where one is allowed, "At most N images" otherwise', async (t) => {
  const hash = await post('/v1/hash', images(2));
  t.same([hash.status, hash.error.code, hash.error.message], [413, 'TOO_MANY_FILES', 'Send one image per request.']);
  const match = await post('/v1/match', images(2));
  t.equal(match.error.message, 'Send one image per request.');
  const batch = await post('/v1/batches', images(4));
  t.equal(batch.status, 413);
  t.notMatch(batch.error.message, /\b1 images\b/);
  t.same([batch.error.code, batch.error.message], ['TOO_MANY_FILES', 'At most 3 images per request.'], 'names the limit');
  const added = await post('/v1/banks/1/content', images(4));
  t.equal(added.error.message, 'At most 3 images per request.');
  const caseImages = await post('/v1/cases', images(4));
  t.equal(caseImages.error.message, 'At most 3 images per request.', 'a case takes at most MAX_FILES_PER_REQUEST images too');
});

t.test('the unsupported-format message names the formats that decode, AVIF among them', async (t) => {
  const refused = await post('/v1/hash', images(1, new TextEncoder().encode('not an image at all, just some text to read'), 'notes.txt'));
  t.same([refused.status, refused.error.code], [415, 'UNSUPPORTED_FORMAT']);
  const named = refused.error.message.match(/use (.*)\)/)![1].split(/, | or /);
  t.same(named, ['JPEG', 'PNG', 'WebP', 'AVIF', 'GIF', 'TIFF']);
  const encoders: Record<string, (s: Sharp) => Sharp> = {
    JPEG: (s) => s.jpeg(),
    PNG: (s) => s.png(),
    WebP: (s) => s.webp(),
    AVIF: (s) => s.avif({ effort: 0 }),
    GIF: (s) => s.gif(),
    TIFF: (s) => s.tiff(),
  };
  for (const format of named) {
    const bytes = await encoders[format](sharp(GOOD_JPEG).resize(256)).toBuffer();
    const res = await app.inject({ method: 'POST', url: '/v1/hash', ...images(1, bytes, `x.${format.toLowerCase()}`) });
    t.equal(res.statusCode, 200, `${format} decodes`);
  }
});
