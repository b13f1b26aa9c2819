/**
 * Bad input is everyday input: a corpus of broken and hostile requests against
 * every image and hash endpoint, each answered with its 4xx and a stable code
 * in `{error: {code, message}}`, never a 500; afterwards the server still
 * answers, and what was stored before is still there. Multipart abuse also
 * goes over a real socket, where inject would hide early replies and resets.
 * Endpoints are taken from the app's route table, so each joins the corpus as
 * it lands.
 */
import { randomUUID } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type { InjectOptions } from 'fastify';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { fromHex } from '../src/hashing/hex.js';
import { CASE_MAX_SIGNALS } from '../src/services/cases.js';
import { type FormPart, multipartBody } from './helpers/form-data.js';
import { badImages, GOOD_JPEG, INJECTIONS, POLYGLOTS } from './helpers/hostile-inputs.js';

const MAX_IMAGE_BYTES = 1 << 20;
const MAX_REQUEST_BYTES = 3 << 20;
const MAX_FILES = 4;

const dir = mkdtempSync(join(tmpdir(), 'ncii-bad-input-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const logLines: string[] = [];
const app = await buildApp({
  config: loadConfig({
    DATA_DIR: dir,
    MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES),
    MAX_REQUEST_BYTES: String(MAX_REQUEST_BYTES),
    MAX_FILES_PER_REQUEST: String(MAX_FILES),
    ANONYMOUS_REQUESTS_PER_MINUTE: '100000',
    KEYED_REQUESTS_PER_MINUTE: '100000',
    // Load shedding off: hundreds of hostile bodies in a row beside other test files can hold the event loop past a second.
    MAX_EVENT_LOOP_DELAY_MS: '600000',
    LOG_LEVEL: 'info',
  }),
  logStream: new Writable({
    write(chunk, _encoding, done) {
      logLines.push(String(chunk));
      done();
    },
  }),
});
await app.ready();
t.teardown(() => app.close());

const bearer = (role: 'ngo' | 'takedown') => ({ authorization: `Bearer ${app.services.keys.create({ name: `bad input ${role}`, role }).secret}` });
const NGO = bearer('ngo');
const TAKEDOWN = bearer('takedown');
const has = (method: string, url: string) => app.routeTable.some((r) => r.method === method && r.url === url);

// Stored before the corpus, checked after it: bad requests must not lose or change it.
const bank = app.services.store.createBank({ name: 'bad input bank' });
const KEPT_PDQ = 'f0e1d2c3b4a5968778695a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e0f';
const kept = app.services.store.addContent(bank.id, [{ provenance: { platform: 'telegram', channel: 'kept' }, signals: [{ type: 'pdq', hash: fromHex(KEPT_PDQ, 256), quality: 100 }] }]);
const signalRows = () => (app.services.store.db.prepare('SELECT count(*) AS n FROM signals').get() as { n: number }).n;
const rowsBefore = signalRows();

interface Endpoint {
  url: string;
  headers: Record<string, string>;
  /** Text form fields the endpoint takes with an image. */
  textFields: string[];
  badImagesAreItemErrors?: boolean;
}

/** Image endpoints, with a caller allowed to use each. */
const IMAGE_ENDPOINTS: Endpoint[] = [
  { url: '/v1/hash', headers: {}, textFields: ['dihedral'] },
  { url: '/v1/match', headers: NGO, textFields: ['dihedral', 'threshold', 'banks'] },
  { url: `/v1/banks/${bank.id}/content`, headers: TAKEDOWN, textFields: ['platform', 'group', 'messageUrl', 'capturedAt', 'metadata'] },
  { url: '/v1/cases', headers: {}, textFields: [] },
  // A batch records an undecodable image as that item's error (one bad item never fails the batch): request-level abuse only.
  { url: '/v1/batches', headers: NGO, textFields: ['dihedral', 'threshold', 'banks'], badImagesAreItemErrors: true },
].filter((e) => has('POST', e.url.replace(/\/\d+\//, '/:id/')));

/** Endpoints that take client hashes as JSON, with a body builder around the signals. */
const asSignals = (signals: unknown) => ({ signals });
const HASH_ENDPOINTS = [
  { url: '/v1/match', headers: {}, body: asSignals },
  { url: `/v1/banks/${bank.id}/content`, headers: TAKEDOWN, body: (signals: unknown) => ({ items: [{ signals }] }) },
  { url: '/v1/cases', headers: {}, body: asSignals },
  { url: '/v1/batches', headers: NGO, body: asSignals },
].filter((e) => has('POST', e.url.replace(/\/\d+\//, '/:id/')));

interface BadRequest {
  label: string;
  request: InjectOptions;
  status: number;
  code: string;
  /** What the message must say, where the code alone does not tell the client what to fix. */
  message?: RegExp;
}

const form = (url: string, headers: Record<string, string>, parts: FormPart[]): InjectOptions => ({ method: 'POST', url, ...multipartBody(parts, headers) });
const imagePart = (bytes: Uint8Array, filename = 'photo.jpg'): FormPart => ({ name: 'image', filename, type: 'image/jpeg', data: bytes });
const json = (url: string, headers: Record<string, string>, payload: string): InjectOptions => ({
  method: 'POST',
  url,
  headers: { ...headers, 'content-type': 'application/json' },
  payload,
});

const corpus: BadRequest[] = [];
const images = await badImages(MAX_IMAGE_BYTES);

for (const e of IMAGE_ENDPOINTS) {
  const at = (label: string) => `${e.url}: ${label}`;
  if (!e.badImagesAreItemErrors) for (const image of images) corpus.push({ label: at(image.label), request: form(e.url, e.headers, [imagePart(image.bytes, image.filename)]), status: image.status, code: image.code });
  const multipart = (label: string, status: number, code: string, parts: FormPart[]) => corpus.push({ label: at(label), request: form(e.url, e.headers, parts), status, code });
  multipart('no image part, only a field', 400, 'NO_IMAGE', e.textFields.length ? [{ name: e.textFields[0], data: '1' }] : []);
  multipart('image in a field named photo', 400, 'UNEXPECTED_FIELD', [{ name: 'photo', filename: 'a.jpg', type: 'image/jpeg', data: GOOD_JPEG }]);
  multipart('unknown text field', 400, 'UNEXPECTED_FIELD', [imagePart(GOOD_JPEG), { name: 'owner', data: 'me' }]);
  multipart('a field named __proto__', 400, 'BAD_REQUEST', [{ name: '__proto__', data: '{"admin":true}' }, imagePart(GOOD_JPEG)]);
  multipart(`${MAX_FILES + 1} files (limit ${MAX_FILES})`, 413, 'TOO_MANY_FILES', Array.from({ length: MAX_FILES + 1 }, () => imagePart(GOOD_JPEG)));
  corpus.push({ label: at('the image part without a filename'), request: form(e.url, e.headers, [{ name: 'image', type: 'image/jpeg', data: GOOD_JPEG }]), status: 400, code: 'UNEXPECTED_FIELD', message: /"image" part has no filename/ });
  if (e.textFields.length) {
    corpus.push({
      label: at(`the field ${e.textFields[0]} sent as application/json`),
      request: form(e.url, e.headers, [imagePart(GOOD_JPEG), { name: e.textFields[0], type: 'application/json', data: 'null' }]),
      status: 400,
      code: 'INVALID_REQUEST',
      message: /plain text/,
    });
    multipart(`the field ${e.textFields[0]} sent as broken application/json`, 400, 'INVALID_REQUEST', [imagePart(GOOD_JPEG), { name: e.textFields[0], type: 'application/json', data: 'tru' }]);
  }
  if (e.textFields.length) multipart('the same text field twice', 400, 'DUPLICATE_FIELD', [imagePart(GOOD_JPEG), { name: e.textFields[0], data: '1' }, { name: e.textFields[0], data: '1' }]);
  // Fields with a fixed syntax refuse injected text; free-text ones are tested with a round trip below.
  for (const field of e.textFields.filter((f) => ['dihedral', 'threshold', 'banks', 'capturedAt', 'metadata'].includes(f))) {
    for (const [kind, text] of Object.entries(INJECTIONS)) {
      multipart(`${kind} injection in the field ${field}`, 400, 'INVALID_REQUEST', [imagePart(GOOD_JPEG), { name: field, data: text }]);
    }
  }
  const boundary = 'ncii-boundary';
  const raw = (label: string, status: number, code: string, contentType: string, payload: string | Buffer) =>
    corpus.push({ label: at(label), request: { method: 'POST', url: e.url, headers: { ...e.headers, 'content-type': contentType }, payload }, status, code });
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  raw('multipart without a boundary', 400, 'MALFORMED_MULTIPART', 'multipart/form-data', Buffer.concat([Buffer.from(head), GOOD_JPEG]));
  raw('multipart body cut off mid-file', 400, 'MALFORMED_MULTIPART', `multipart/form-data; boundary=${boundary}`, Buffer.concat([Buffer.from(head), GOOD_JPEG.subarray(0, 500)]));
  raw('multipart body that is not multipart', 400, 'MALFORMED_MULTIPART', `multipart/form-data; boundary=${boundary}`, 'just some text');
  // Busboy skips such parts; one bigger than its buffer used to stall the request for good.
  const skipped = (partHead: string, bytes: number) => Buffer.concat([Buffer.from(`--${boundary}\r\n${partHead}\r\n`), Buffer.alloc(bytes, 0x41), Buffer.from(`\r\n--${boundary}--\r\n`)]);
  raw('a 1 MB part without Content-Disposition', 400, 'NO_IMAGE', `multipart/form-data; boundary=${boundary}`, skipped('Content-Type: image/jpeg\r\n', 1 << 20));
  raw('a 20 KB part with Content-Disposition: attachment', 400, 'NO_IMAGE', `multipart/form-data; boundary=${boundary}`, skipped('Content-Disposition: attachment; name="image"\r\n', 20_000));
  const noName = Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; filename="a.jpg"\r\n\r\n`), GOOD_JPEG, Buffer.from(`\r\n--${boundary}--\r\n`)]);
  corpus.push({
    label: at('a file part without a name'),
    request: { method: 'POST', url: e.url, headers: { ...e.headers, 'content-type': `multipart/form-data; boundary=${boundary}` }, payload: noName },
    status: 400,
    code: 'UNEXPECTED_FIELD',
    message: /^A file part has no field name/,
  });
  raw('an image sent as image/jpeg, not multipart', 415, 'UNSUPPORTED_MEDIA_TYPE', 'image/jpeg', GOOD_JPEG);
  raw('text/plain body', 415, 'UNSUPPORTED_MEDIA_TYPE', 'text/plain', 'image=photo.jpg');
  raw('XML body', 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/xml', '<image>x</image>');
  raw('form-urlencoded body', 415, 'UNSUPPORTED_MEDIA_TYPE', 'application/x-www-form-urlencoded', 'image=%FF%D8');
}

if (has('POST', '/v1/hash')) {
  corpus.push({ label: '/v1/hash: JSON instead of an image', request: json('/v1/hash', {}, '{"image":"/9j/4AAQ"}'), status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' });
}

const PDQ = 'a'.repeat(64);
for (const e of HASH_ENDPOINTS) {
  const at = (label: string) => `${e.url}: ${label}`;
  const bad = (label: string, status: number, code: string, payload: string) => corpus.push({ label: at(label), request: json(e.url, e.headers, payload), status, code });
  const withSignals = (signals: unknown) => JSON.stringify(e.body(signals));
  bad('malformed JSON', 400, 'MALFORMED_JSON', '{"signals": [');
  bad('empty JSON body', 400, 'MALFORMED_JSON', '');
  corpus.push({ label: at('no body and no Content-Type'), request: { method: 'POST', url: e.url, headers: e.headers }, status: 400, code: 'INVALID_REQUEST' });
  corpus.push({ label: at('Content-Length 0 and no Content-Type'), request: { method: 'POST', url: e.url, headers: { ...e.headers, 'content-length': '0' } }, status: 400, code: 'INVALID_REQUEST' });
  bad('JSON with a trailing comma', 400, 'MALFORMED_JSON', withSignals([{ type: 'pdq', hash: PDQ }]).replace(/}$/, ',}'));
  bad('__proto__ key', 400, 'MALFORMED_JSON', `{"__proto__": {"admin": true}, ${withSignals([{ type: 'pdq', hash: PDQ }]).slice(1)}`);
  bad('constructor.prototype key', 400, 'MALFORMED_JSON', '{"constructor": {"prototype": {"admin": true}}}');
  bad('JSON null', 400, 'INVALID_REQUEST', 'null');
  bad('JSON array at the top', 400, 'INVALID_REQUEST', '[]');
  bad('JSON string at the top', 400, 'INVALID_REQUEST', '"pdq"');
  bad('an unknown top-level field', 400, 'INVALID_REQUEST', JSON.stringify({ ...(e.body([{ type: 'pdq', hash: PDQ }]) as object), sudo: true }));
  bad('signals as a string', 400, 'INVALID_REQUEST', withSignals(PDQ));
  bad('no signals', 400, 'INVALID_REQUEST', withSignals([]));
  bad('a signal without a hash', 400, 'INVALID_REQUEST', withSignals([{ type: 'pdq' }]));
  bad(`${CASE_MAX_SIGNALS + 1} signals, more than any route takes`, 400, 'INVALID_REQUEST', withSignals(Array.from({ length: CASE_MAX_SIGNALS + 1 }, () => ({ type: 'pdq', hash: PDQ }))));
  bad('200,000-deep nested arrays', 400, 'INVALID_REQUEST', withSignals('@').replace('"@"', '['.repeat(200_000) + ']'.repeat(200_000)));
  bad('200,000-deep nested objects', 400, 'INVALID_REQUEST', '{"a":'.repeat(200_000) + '1' + '}'.repeat(200_000));
  bad('a body over the 10 MB JSON limit', 413, 'PAYLOAD_TOO_LARGE', withSignals([{ type: 'pdq', hash: 'a'.repeat(11 << 20) }]));
  for (const type of ['phash', 'PDQ ', 'pdq\u0000', '__proto__', INJECTIONS.sql, INJECTIONS.script]) {
    bad(`unknown signal type ${JSON.stringify(type.slice(0, 20))}`, 400, 'INVALID_REQUEST', withSignals([{ type, hash: PDQ }]));
  }
  // A batch takes each hash as one item and reports a bad one in that item's result (one bad item never fails the batch).
  if (e.url === '/v1/batches') continue;
  const hashes: [string, string, string][] = [
    ['pdq', 'a'.repeat(63), 'pdq hash of 63 hex characters'],
    ['pdq', 'a'.repeat(65), 'pdq hash of 65 hex characters'],
    ['pdq', 'g'.repeat(64), 'pdq hash with non-hex characters'],
    ['pdq', `0x${'a'.repeat(62)}`, 'pdq hash with a 0x prefix'],
    ['pdq', ` ${'a'.repeat(63)}`, 'pdq hash with a leading space'],
    ['md5', 'a'.repeat(64), 'md5 hash of 64 hex characters'],
    ['sha256', 'a'.repeat(32), 'sha256 hash of 32 hex characters'],
    ['pdq', INJECTIONS.sql, 'SQL injection as a hash'],
    ['pdq', INJECTIONS.nul, 'NUL bytes in a hash'],
    ['pdq', INJECTIONS.traversal, 'a path as a hash'],
  ];
  for (const [type, hash, label] of hashes) bad(label, 400, 'INVALID_HASH', withSignals([{ type, hash }]));
  // Bodies are not coerced: a number is not the text of a hash.
  bad('a number as a hash', 400, 'INVALID_REQUEST', withSignals([{ type: 'pdq', hash: 12345 }]));
  // /v1/cases refuses an empty hash in its schema (minLength), the others when decoding it.
  bad('an empty blockhash', 400, 'INVALID_HASH', withSignals([{ type: 'blockhash', hash: '' }]));
  bad('a 100,000-character hash', 400, 'INVALID_HASH', withSignals([{ type: 'pdq', hash: INJECTIONS.long }]));
}

if (has('POST', '/v1/banks/:id/content')) {
  const url = `/v1/banks/${bank.id}/content`;
  const deep = '['.repeat(1100) + ']'.repeat(1100);
  corpus.push({
    label: `${url}: metadata nested 1,100 levels deep`,
    request: json(url, TAKEDOWN, `{"items": [{"signals": [{"type": "pdq", "hash": "${PDQ}"}], "metadata": {"a": ${deep}}}]}`),
    status: 400,
    code: 'INVALID_REQUEST',
  });
  const field = (label: string, name: string, data: string) =>
    corpus.push({ label: `${url}: ${label}`, request: form(url, TAKEDOWN, [imagePart(GOOD_JPEG), { name, data }]), status: 400, code: 'INVALID_REQUEST' });
  field('multipart metadata nested 1,100 levels deep', 'metadata', `{"a": ${deep}}`);
  field('capturedAt on 30 February', 'capturedAt', '2026-02-30T12:00:00Z');
  field('capturedAt at 24:00', 'capturedAt', '2026-01-31T24:00:00Z');
  field('capturedAt in month 13', 'capturedAt', '2026-13-01T12:00:00Z');
  // Refused by the store, so every way in (JSON, multipart, the CLI) refuses them alike.
  const stored = (label: string, request: InjectOptions) => corpus.push({ label: `${url}: ${label}`, request, status: 400, code: 'INVALID_REQUEST' });
  const item = (extra: string) => json(url, TAKEDOWN, `{"items": [{"signals": [{"type": "pdq", "hash": "${PDQ}"}], ${extra}}]}`);
  stored('multipart metadata with a __proto__ key (it could not be sent back)', form(url, TAKEDOWN, [imagePart(GOOD_JPEG), { name: 'metadata', data: '{"__proto__": {"x": 1}, "y": 2}' }]));
  stored('metadata with a number too large for a double (it was stored as null)', item('"metadata": {"a": 1e400}'));
  stored('multipart metadata with a number too large for a double', form(url, TAKEDOWN, [imagePart(GOOD_JPEG), { name: 'metadata', data: '{"a": -1e400}' }]));
  stored('capturedAt past the year 9999 (it was stored as +010000-...)', item('"platform": "telegram", "capturedAt": "9999-12-31T23:59:59-23:59"'));
  stored('multipart capturedAt past the year 9999', form(url, TAKEDOWN, [imagePart(GOOD_JPEG), { name: 'capturedAt', data: '9999-12-31T23:59:59-23:59' }]));
}

if (has('POST', '/v1/match')) {
  const match = (label: string, body: object) => corpus.push({ label: `/v1/match: ${label}`, request: json('/v1/match', {}, JSON.stringify({ signals: [{ type: 'pdq', hash: PDQ }], ...body })), status: 400, code: 'INVALID_REQUEST' });
  match('negative threshold', { threshold: -1 });
  match('threshold over 256', { threshold: 257 });
  match('threshold as SQL', { threshold: INJECTIONS.sql });
  match('bank id as SQL', { banks: [INJECTIONS.sql] });
  match('bank id as a float', { banks: [1.5] });
  match('a bank named twice (one bank-list schema for match and batches)', { banks: [bank.id, bank.id] });
  match('dihedral for bare hashes', { dihedral: true });
}

// Both image routes read a bank list alike.
for (const e of IMAGE_ENDPOINTS.filter((e) => e.textFields.includes('banks'))) {
  for (const banks of ['01', '1,,2', '0', '-1', '1;2']) {
    corpus.push({ label: `${e.url}: the field banks=${banks}`, request: form(e.url, e.headers, [imagePart(GOOD_JPEG), { name: 'banks', data: banks }]), status: 400, code: 'INVALID_REQUEST' });
  }
}

// JSON bodies are not type-coerced: null, true or ["x"] were stored as 0, 1 or "x". Query strings are, but never to Infinity.
const wrongType = (label: string, method: 'POST' | 'PATCH', url: string, headers: Record<string, string>, body: object) =>
  corpus.push({ label: `${url}: ${label}`, request: { method, url, headers: { ...headers, 'content-type': 'application/json' }, payload: JSON.stringify(body) }, status: 400, code: 'INVALID_REQUEST' });
if (has('POST', '/v1/banks')) {
  wrongType('a threshold of null', 'POST', '/v1/banks', TAKEDOWN, { name: 'strict', thresholds: { pdq: null } });
  wrongType('a name in an array', 'POST', '/v1/banks', TAKEDOWN, { name: ['strict'] });
  wrongType('a threshold of null', 'PATCH', `/v1/banks/${bank.id}`, TAKEDOWN, { threshold: null });
}
if (has('POST', '/v1/match')) wrongType('a threshold of true', 'POST', '/v1/match', {}, { signals: [{ type: 'pdq', hash: PDQ }], threshold: true });
if (has('POST', '/v1/cases')) wrongType('a quality of null', 'POST', '/v1/cases', {}, { signals: [{ type: 'pdq', hash: PDQ, quality: null }] });
if (has('POST', '/v1/batches')) wrongType('a threshold of " "', 'POST', '/v1/batches', NGO, { signals: [{ type: 'pdq', hash: PDQ }], threshold: ' ' });
for (const [url, headers] of [[`/v1/banks/${bank.id}/content`, TAKEDOWN], ['/v1/batches/bat_AAAAAAAAAAAAAAAAAAAAAA', NGO]] as const) {
  if (!has('GET', url.replace(/\/(\d+|bat_\w+)(\/|$)/, '/:id$2'))) continue;
  for (const limit of ['Infinity', '-Infinity']) {
    corpus.push({ label: `${url}: limit=${limit}`, request: { method: 'GET', url: `${url}?limit=${limit}`, headers }, status: 400, code: 'INVALID_REQUEST' });
  }
}

t.test(`corpus of ${corpus.length} bad requests: each its 4xx and stable code`, async (t) => {
  t.ok(corpus.length >= 50, `${corpus.length} bad requests`);
  for (const bad of corpus) {
    const res = await app.inject(bad.request);
    const body = res.headers['content-type']?.toString().startsWith('application/json') ? res.json() : res.body;
    t.same({ status: res.statusCode, code: body?.error?.code }, { status: bad.status, code: bad.code }, bad.label);
    t.same(Object.keys(body?.error ?? {}), ['code', 'message'], `${bad.label}: {error: {code, message}}`);
    if (bad.message) t.match(body?.error?.message, bad.message, `${bad.label}: the message says what to fix`);
  }
});

t.test('hostile but valid images hash like the clean image', async (t) => {
  const hash = async (bytes: Uint8Array) => (await app.inject(form('/v1/hash', {}, [imagePart(bytes)]))).json();
  const clean = await hash(GOOD_JPEG);
  for (const polyglot of POLYGLOTS) {
    const got = await hash(polyglot.bytes);
    t.equal(got.pdq, clean.pdq, `${polyglot.label}: the pixels are hashed`);
    t.not(got.sha256, clean.sha256, `${polyglot.label}: the file's own bytes are what SHA-256 covers`);
  }
  for (const [kind, text] of Object.entries(INJECTIONS)) {
    if (kind === 'crlf' || kind === 'nul') continue; // cannot be written into a part header at all
    const res = await app.inject(form('/v1/hash', {}, [imagePart(GOOD_JPEG, text.slice(0, 5000))]));
    t.equal(res.statusCode, 200, `${kind} injection in the file name is only a name`);
    t.notOk(res.body.includes(text.slice(0, 30)), `${kind}: the file name is not echoed`);
  }
});

interface FreeTextField {
  label: string;
  /** The route that creates something holding the text, and where that thing is read back and deleted. */
  route: string;
  create: (text: string) => InjectOptions;
  location: (created: { id?: number; items?: { id: number }[] }) => string;
  read: (stored: Record<string, unknown>) => unknown;
}

const contentField = (field: string): FreeTextField => ({
  label: `content ${field}`,
  route: '/v1/banks/:id/content',
  create: (text) => json(`/v1/banks/${bank.id}/content`, TAKEDOWN, JSON.stringify({ items: [{ signals: [{ type: 'md5', hash: 'b'.repeat(32) }], [field]: text }] })),
  location: (created) => `/v1/content/${created.items![0].id}`,
  read: (stored) => stored[field],
});
const bankField = (field: 'name' | 'description'): FreeTextField => ({
  label: `bank ${field}`,
  route: '/v1/banks',
  create: (text) => json('/v1/banks', TAKEDOWN, JSON.stringify(field === 'name' ? { name: text } : { name: `bank ${randomUUID()}`, description: text })),
  location: (created) => `/v1/banks/${created.id}`,
  read: (stored) => stored[field],
});

t.test('free-text fields store injection-like text verbatim or refuse it with a code', async (t) => {
  const fields = [...['platform', 'group', 'messageUrl', 'note'].map(contentField), bankField('name'), bankField('description')].filter((f) => has('POST', f.route));
  for (const field of fields) {
    for (const [kind, text] of Object.entries(INJECTIONS)) {
      const res = await app.inject(field.create(text));
      const label = `${kind} injection in ${field.label} -> ${res.statusCode}`;
      if (res.statusCode === 201) {
        const url = field.location(res.json());
        const stored = await app.inject({ method: 'GET', url, headers: TAKEDOWN });
        t.equal(field.read(stored.json()), text, `${label}: stored and returned verbatim`);
        t.equal((await app.inject({ method: 'DELETE', url, headers: TAKEDOWN })).statusCode, 204, `${label}: deleted again`);
      } else {
        t.equal(res.statusCode, 400, label);
        t.match(res.json().error, { code: /^[A-Z_]+$/, message: String }, label);
      }
      if (kind === 'long') t.equal(res.statusCode, 400, `${field.label} has a length limit`);
    }
  }
});

t.test('URLs and headers with injection-like text', async (t) => {
  const cases: { label: string; request: InjectOptions; status: number; code: string; needs?: string }[] = [
    { label: 'SQL in a path', request: { method: 'GET', url: "/v1/content/1' OR '1'='1", headers: TAKEDOWN }, status: 400, code: 'INVALID_REQUEST', needs: '/v1/content/:id' },
    { label: 'traversal in a path', request: { method: 'GET', url: '/v1/../../etc/passwd' }, status: 404, code: 'NOT_FOUND' },
    { label: 'NUL in a path', request: { method: 'GET', url: '/v1/hash%00.jpg' }, status: 404, code: 'NOT_FOUND' },
    { label: 'a 5,000-character path', request: { method: 'GET', url: `/v1/${'a'.repeat(5000)}` }, status: 404, code: 'NOT_FOUND' },
    { label: 'SQL as an API key', request: { method: 'POST', url: '/v1/hash', headers: { authorization: `Bearer ${INJECTIONS.sql}` } }, status: 401, code: 'UNAUTHORIZED' },
    { label: 'a 10,000-character API key', request: { method: 'POST', url: '/v1/hash', headers: { authorization: `Bearer ${'k'.repeat(10_000)}` } }, status: 401, code: 'UNAUTHORIZED' },
    {
      label: 'encoded traversal as a case number',
      request: { method: 'GET', url: '/v1/cases/..%2F..%2Fetc%2Fpasswd', headers: { 'x-case-pin': '123456' } },
      status: 404,
      code: 'NOT_FOUND',
      needs: '/v1/cases/:caseNumber',
    },
    { label: 'SQL as a batch id', request: { method: 'GET', url: "/v1/batches/1' OR '1'='1", headers: NGO }, status: 400, code: 'INVALID_REQUEST', needs: '/v1/batches/:id' },
    { label: 'SQL as a bank id', request: { method: 'DELETE', url: '/v1/banks/1;DROP TABLE banks', headers: TAKEDOWN }, status: 400, code: 'INVALID_REQUEST', needs: '/v1/banks/:id' },
    { label: 'script as a case PIN', request: { method: 'GET', url: '/v1/cases/NCII-1', headers: { 'x-case-pin': INJECTIONS.script } }, status: 404, code: 'NOT_FOUND', needs: '/v1/cases/:caseNumber' },
    { label: 'a broken percent-escape in a case number', request: { method: 'GET', url: '/v1/cases/%ff', headers: { 'x-case-pin': '1' } }, status: 400, code: 'BAD_URL' },
    { label: 'a cut-off percent-escape in a content id', request: { method: 'GET', url: '/v1/content/1%', headers: TAKEDOWN }, status: 400, code: 'BAD_URL' },
    { label: 'a percent-escape that is not hex', request: { method: 'GET', url: '/healthz%zz' }, status: 400, code: 'BAD_URL' },
  ];
  for (const c of cases.filter((c) => !c.needs || has(String(c.request.method), c.needs))) {
    const res = await app.inject(c.request);
    t.same({ status: res.statusCode, code: res.json().error?.code }, { status: c.status, code: c.code }, c.label);
    t.equal(res.headers['x-content-type-options'], 'nosniff', `${c.label}: with the security headers`);
    t.notMatch(res.body, /%ff|%zz|1%"/, `${c.label}: the answer does not echo the address`);
  }
});

// Over a real socket: early replies to uploads still in flight, cut-off bodies, resets.

const address = await app.listen({ port: 0, host: '127.0.0.1' });
const port = Number(new URL(address).port);

interface SocketReply {
  status: number;
  body: string;
}

/** Streams a body in 64 KB writes; resolves with the reply even if the server answers (and closes) before the body is all sent. */
function send(path: string, headers: Record<string, string>, body: Buffer): Promise<SocketReply> {
  return new Promise((resolve, reject) => {
    let replied = false;
    const req = httpRequest({ host: '127.0.0.1', port, path, method: 'POST', headers: { ...headers, 'content-length': String(body.length) } }, (res) => {
      replied = true;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    // EPIPE/ECONNRESET after the reply arrived is the server refusing the rest of a refused upload.
    req.on('error', (err) => (replied ? undefined : reject(err)));
    let at = 0;
    const pump = () => {
      while (at < body.length) {
        const chunk = body.subarray(at, at + 65536);
        at += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

/** Writes raw bytes on a socket and reads until the server closes or `waitMs` passes. */
function rawExchange(bytes: Buffer, { destroyAfterWrite = false, waitMs = 3000 } = {}): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => socket.destroy(), waitMs);
    socket.on('data', (c) => chunks.push(c));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(bytes, () => {
      if (destroyAfterWrite) socket.destroy();
    });
  });
}

t.test('multipart abuse over a real socket', async (t) => {
  const upload = (url: string, headers: Record<string, string>, parts: FormPart[]) => {
    const { payload, headers: formHeaders } = multipartBody(parts, headers);
    return send(url, formHeaders, payload);
  };
  const expectError = (reply: SocketReply, status: number, code: string, label: string) =>
    t.same({ status: reply.status, code: JSON.parse(reply.body).error?.code }, { status, code }, label);

  const big = Buffer.concat([GOOD_JPEG, Buffer.alloc(8 * MAX_IMAGE_BYTES, 0x55)]);
  for (const e of IMAGE_ENDPOINTS) {
    if (e.badImagesAreItemErrors) {
      // One file over the limit is that item's error; the rest of the batch goes on.
      const reply = await upload(e.url, e.headers, [imagePart(GOOD_JPEG), imagePart(big), imagePart(GOOD_JPEG)]);
      t.equal(reply.status, 202, `${e.url}: an 8 MB file among good ones is taken`);
      const items = (await app.inject({ method: 'GET', url: `/v1/batches/${JSON.parse(reply.body).batchId}`, headers: e.headers })).json().items;
      t.match(items[1], { index: 1, status: 'failed', error: { code: 'IMAGE_TOO_LARGE', message: /larger than the limit of 1 MB/ } }, `${e.url}: and is that item's error`);
      t.notOk(items[0].error || items[2].error, `${e.url}: the other items are matched`);
    } else {
      const reply = await upload(e.url, e.headers, [imagePart(GOOD_JPEG, 'first.jpg'), imagePart(big, 'big.jpg')]);
      const maxFiles = e.url === '/v1/hash' || e.url === '/v1/match' ? 1 : 2;
      if (maxFiles > 1) {
        expectError(reply, 413, 'IMAGE_TOO_LARGE', `${e.url}: an 8 MB file while the limit is 1 MB`);
        t.match(JSON.parse(reply.body).error.message, 'image 2 (big.jpg) is larger than the limit of 1 MB', `${e.url}: the answer names the file`);
      }
    }
    if (!e.badImagesAreItemErrors) expectError(await upload(e.url, e.headers, [imagePart(big)]), 413, 'IMAGE_TOO_LARGE', `${e.url}: an 8 MB file while the limit is 1 MB`);
    expectError(await upload(e.url, e.headers, Array.from({ length: 10 }, () => imagePart(GOOD_JPEG))), 413, 'TOO_MANY_FILES', `${e.url}: 10 files`);
  }
  // Several files, each under the per-file limit, together over MAX_REQUEST_BYTES.
  const nearLimit = Buffer.concat([GOOD_JPEG, Buffer.alloc(MAX_IMAGE_BYTES - GOOD_JPEG.length - 1024, 0x20)]);
  for (const e of [...IMAGE_ENDPOINTS, { url: '/v1/batches', headers: NGO }].filter((e) => ['/v1/cases', '/v1/batches'].includes(e.url) && has('POST', e.url))) {
    expectError(await upload(e.url, e.headers, Array.from({ length: MAX_FILES }, () => imagePart(nearLimit))), 413, 'PAYLOAD_TOO_LARGE', `${e.url}: ${MAX_FILES} files over MAX_REQUEST_BYTES together`);
  }

  const boundary = 'sock-boundary';
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="image"; filename="a.jpg"\r\nContent-Type: image/jpeg\r\n\r\n`;
  const chunked = (body: Buffer) =>
    Buffer.concat([
      Buffer.from(`POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n`),
      Buffer.from(`${body.length.toString(16)}\r\n`),
      body,
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
  const cutOff = await rawExchange(chunked(Buffer.concat([Buffer.from(head), GOOD_JPEG.subarray(0, 3000)])));
  t.match(cutOff, /^HTTP\/1\.1 400 /, 'a chunked body that ends mid-file gets 400');
  t.match(cutOff, /"code":"MALFORMED_MULTIPART"/);

  const noBoundary = await rawExchange(
    Buffer.concat([Buffer.from(`POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data\r\nContent-Length: ${GOOD_JPEG.length}\r\nConnection: close\r\n\r\n`), GOOD_JPEG]),
  );
  t.match(noBoundary, /^HTTP\/1\.1 400 [^]*"code":"MALFORMED_MULTIPART"/, 'multipart without a boundary gets 400');

  // A client that promises more than it sends, then goes away; and one that resets mid-upload.
  const promised = Buffer.concat([
    Buffer.from(`POST /v1/hash HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=${boundary}\r\nContent-Length: 500000\r\n\r\n`),
    Buffer.from(head),
    GOOD_JPEG.subarray(0, 2000),
  ]);
  await rawExchange(promised, { destroyAfterWrite: true });
  await rawExchange(promised, { waitMs: 300 });

  // Parts busboy skips (no form-data Content-Disposition), larger than its buffer: they used to stall the request for good.
  const skippedPart = (bytes: number) => Buffer.concat([Buffer.from(`--${boundary}\r\nContent-Type: image/jpeg\r\n\r\n`), Buffer.alloc(bytes, 0x41), Buffer.from('\r\n')]);
  const formOf = (...parts: Buffer[]) => Buffer.concat([...parts, Buffer.from(`--${boundary}--\r\n`)]);
  const multipartHeaders = { 'content-type': `multipart/form-data; boundary=${boundary}` };
  expectError(await send('/v1/hash', multipartHeaders, formOf(skippedPart(2 * MAX_IMAGE_BYTES))), 400, 'NO_IMAGE', 'a 2 MB part without Content-Disposition gets 400');
  const imageThenSkipped = await send('/v1/hash', multipartHeaders, formOf(Buffer.from(head), GOOD_JPEG, Buffer.from('\r\n'), skippedPart(300_000)));
  t.equal(imageThenSkipped.status, 200, 'an image followed by a 300 KB part without Content-Disposition is hashed');

  const garbage = await rawExchange(Buffer.from('\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http at all\r\n\r\n'));
  t.match(garbage, /^HTTP\/1\.1 400 /, 'bytes that are not HTTP get 400 from the HTTP parser');
});

t.test('afterwards: the server answers, good requests work, nothing was lost or added, no 500 was logged', async (t) => {
  const health = await fetch(`${address}/healthz`);
  t.equal(health.status, 200, '/healthz over the socket');
  const { payload, headers } = multipartBody([imagePart(GOOD_JPEG)]);
  const good = await fetch(`${address}/v1/hash`, { method: 'POST', headers, body: payload });
  t.equal(good.status, 200, 'a good upload over the socket');
  t.match(await good.json(), { pdq: /^[0-9a-f]{64}$/ });
  t.equal(app.services.store.getContent(kept.contentIds[0]).provenance.channel, 'kept', 'content stored before the corpus is intact');
  t.equal(signalRows(), rowsBefore, 'no refused request stored a signal');
  if (has('POST', '/v1/match')) {
    const match = await app.inject(json('/v1/match', {}, JSON.stringify({ signals: [{ type: 'pdq', hash: KEPT_PDQ }] })));
    t.same(match.json().matches.map((m: { contentId: number }) => m.contentId), kept.contentIds, 'and still matchable');
  }
  const errors = logLines.filter((line) => JSON.parse(line).level >= 50);
  t.same(errors, [], 'no request ended in an unexpected error');
});
