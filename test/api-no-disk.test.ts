/**
 * No upload reaches disk: after good and bad uploads to every image endpoint,
 * each carrying a unique random marker in its bytes, no file under DATA_DIR or
 * the OS temp dir written since the test began, and no database row, holds a
 * marker or a distinctive chunk of any upload; and the logs hold no marker, no
 * API key, no case PIN and no client address. The scanners are checked
 * against planted needles, so a blind scan cannot pass. A file libvips opens
 * with O_TMPFILE has no directory entry, so no scan can see it: image-no-disc
 * checks decodes for those.
 */
import { randomBytes, randomInt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import type Database from 'better-sqlite3';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { type FormPart, multipartBody } from './helpers/form-data.js';
import { GOOD_JPEG } from './helpers/hostile-inputs.js';
import sharp from 'sharp';

const started = Date.now() - 1000;
const MAX_IMAGE_BYTES = 1 << 20;
const dir = mkdtempSync(join(tmpdir(), 'ncii-no-disk-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const logs: string[] = [];
const app = await buildApp({
  config: loadConfig({ DATA_DIR: dir, MAX_IMAGE_BYTES: String(MAX_IMAGE_BYTES), MAX_FILES_PER_REQUEST: '3', LOG_LEVEL: 'trace' }),
  logStream: new Writable({
    write(chunk, _encoding, done) {
      logs.push(String(chunk));
      done();
    },
  }),
});
await app.ready();
t.teardown(() => app.close());

const secrets: string[] = [];
const bearer = (role: 'ngo' | 'takedown') => {
  const { secret } = app.services.keys.create({ name: `no disk ${role}`, role });
  secrets.push(secret);
  return { authorization: `Bearer ${secret}` };
};
const NGO = bearer('ngo');
const TAKEDOWN = bearer('takedown');
const has = (method: string, url: string) => app.routeTable.some((r) => r.method === method && r.url === url);
const bank = app.services.store.createBank({ name: 'no disk bank' });

/**
 * The fixture photograph with a random 8x8 block in its first corner, re-encoded: bytes that no
 * other test writes (cli.test copies the fixture itself into the temp directory scanned here).
 */
const randomColour = () => ({ r: randomInt(256), g: randomInt(256), b: randomInt(256) });
const PHOTO = await sharp(GOOD_JPEG)
  .composite([{ input: { create: { width: 8, height: 8, channels: 3, background: randomColour() } }, left: 0, top: 0 }])
  .jpeg({ quality: 90 })
  .toBuffer();

/** Every upload's needles: its marker, and a chunk of its own bytes from past the marker. */
const needles: { label: string; bytes: Buffer }[] = [];
const newMarker = () => Buffer.from(`NCII-UPLOAD-MARKER-${randomBytes(16).toString('hex')}`);

/** The JPEG with a fresh marker in a comment segment (COM, right after SOI): still a valid JPEG, with a new SHA-256. */
function markedJpeg(label: string, base: Buffer = PHOTO): Buffer {
  const marker = newMarker();
  const comment = Buffer.alloc(4);
  comment.writeUInt16BE(0xfffe, 0);
  comment.writeUInt16BE(marker.length + 2, 2);
  const bytes = Buffer.concat([base.subarray(0, 2), comment, marker, base.subarray(2)]);
  needles.push({ label: `${label} marker`, bytes: marker });
  return bytes;
}

/** Any bytes with a fresh marker appended, and a 48-byte chunk of the bytes themselves as a second needle. */
function marked(label: string, body: Buffer): Buffer {
  const marker = newMarker();
  needles.push({ label: `${label} marker`, bytes: marker });
  if (body.length >= 256) needles.push({ label: `${label} chunk`, bytes: body.subarray(body.length >> 1, (body.length >> 1) + 48) });
  return Buffer.concat([body, marker]);
}

const image = (bytes: Buffer, filename = 'photo.jpg'): FormPart => ({ name: 'image', filename, type: 'image/jpeg', data: bytes });
const post = (url: string, headers: Record<string, string>, parts: FormPart[]) => app.inject({ method: 'POST', url, ...multipartBody(parts, headers) });

// A second real photograph, so the good uploads are not all one image.
const otherJpeg = await sharp(PHOTO).rotate(90).resize(480).jpeg({ quality: 88 }).toBuffer();
const cases: { caseNumber: string; pin: string }[] = [];
const pins = () => cases.map((c) => c.pin);
for (const [label, bytes] of [['the photo JPEG', PHOTO], ['the rotated JPEG', otherJpeg]] as const) {
  needles.push({ label: `a chunk of ${label}`, bytes: bytes.subarray(bytes.length >> 1, (bytes.length >> 1) + 48) });
}

t.test('good and bad uploads to every image endpoint', async (t) => {
  const endpoints = [
    { url: '/v1/hash', headers: {} },
    { url: '/v1/match', headers: NGO },
    { url: `/v1/banks/${bank.id}/content`, headers: TAKEDOWN },
    { url: '/v1/cases', headers: {} },
    { url: '/v1/batches', headers: NGO },
  ].filter((e) => has('POST', e.url.replace(/\/\d+\//, '/:id/')));
  t.ok(endpoints.length >= 1);
  for (const e of endpoints) {
    const good = await post(e.url, e.headers, [image(markedJpeg(`${e.url} good`)), ...(e.url === '/v1/hash' || e.url === '/v1/match' ? [] : [image(markedJpeg(`${e.url} good 2`, otherJpeg))])]);
    t.ok(good.statusCode < 300, `${e.url}: good upload -> ${good.statusCode}`);
    if (e.url === '/v1/cases') cases.push(good.json());
    if (e.url === '/v1/batches') {
      const id = good.json().batchId;
      for (let i = 0; i < 100; i++) {
        const status = (await app.inject({ method: 'GET', url: `/v1/batches/${id}`, headers: NGO })).json().status;
        if (status === 'done') break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const bad: [string, Buffer][] = [
      ['truncated JPEG', marked(`${e.url} truncated`, markedJpeg(`${e.url} truncated head`).subarray(0, 3000))],
      ['text renamed .jpg', marked(`${e.url} text`, Buffer.from('not a photo '.repeat(40)))],
      ['over MAX_IMAGE_BYTES', marked(`${e.url} oversized`, Buffer.concat([markedJpeg(`${e.url} oversized head`), randomBytes(MAX_IMAGE_BYTES)]))],
      ['PNG bomb', marked(`${e.url} bomb`, await sharp({ create: { width: 9000, height: 9000, channels: 3, background: '#101010' } }).png().toBuffer())],
    ];
    for (const [label, bytes] of bad) {
      const res = await post(e.url, e.headers, [image(bytes)]);
      // A batch takes every file, bad or too large, as an item with its own error.
      const asExpected = e.url === '/v1/batches' ? res.statusCode === 202 : res.statusCode >= 400 && res.statusCode < 500;
      t.ok(asExpected, `${e.url}: ${label} -> ${res.statusCode}`);
    }
    const tooMany = await post(e.url, e.headers, Array.from({ length: 4 }, (_, i) => image(markedJpeg(`${e.url} too many ${i}`))));
    t.equal(tooMany.statusCode, 413, `${e.url}: too many files`);
  }
  // A PIN passes through the service too: right and wrong.
  for (const { caseNumber, pin } of cases) {
    t.equal((await app.inject({ method: 'GET', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': pin } })).statusCode, 200, 'case status with its PIN');
    const wrong = pin === '0'.repeat(pin.length) ? '1'.repeat(pin.length) : '0'.repeat(pin.length);
    t.equal((await app.inject({ method: 'GET', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': wrong } })).statusCode, 404, 'a wrong PIN');
  }
});

/** Files under `root` changed since the test began (skipping the tool runner's own job output). */
function recentFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (at: string) => {
    let entries;
    try {
      entries = readdirSync(at, { withFileTypes: true });
    } catch {
      return; // another user's directory
    }
    for (const entry of entries) {
      const path = join(at, entry.name);
      if (entry.isDirectory() && !entry.name.startsWith('bash_jobs')) walk(path);
      else if (entry.isFile()) {
        try {
          const s = statSync(path);
          if (s.mtimeMs >= started && s.size < 512 * 1024 * 1024) found.push(path);
        } catch {
          // removed while walking
        }
      }
    }
  };
  walk(root);
  return found;
}

function filesHolding(paths: string[], needle: Buffer): string[] {
  return paths.filter((path) => {
    try {
      return readFileSync(path).includes(needle);
    } catch {
      return false;
    }
  });
}

/** Every text or blob cell of every table that holds the needle, as `table.column`. */
function cellsHolding(db: Database.Database, needle: Buffer): string[] {
  const hits: string[] = [];
  const tables = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all() as string[];
  for (const table of tables) {
    const columns = (db.prepare(`PRAGMA table_info("${table}")`).all() as { name: string }[]).map((c) => c.name);
    for (const column of columns) {
      const values = db.prepare(`SELECT "${column}" FROM "${table}" WHERE typeof("${column}") IN ('text', 'blob')`).pluck().all() as (string | Buffer)[];
      if (values.some((v) => (typeof v === 'string' ? Buffer.from(v) : v).includes(needle))) hits.push(`${table}.${column}`);
    }
  }
  return hits;
}

t.test('no file and no database row holds any upload', async (t) => {
  t.ok(needles.length >= 20, `${needles.length} needles`);
  const files = [...new Set([...recentFiles(dir), ...recentFiles(tmpdir())])];
  t.ok(files.some((f) => f.startsWith(dir)), 'the database files are among those scanned');
  for (const needle of needles) {
    t.same(filesHolding(files, needle.bytes), [], `${needle.label}: in no file`);
    t.same(cellsHolding(app.services.store.db, needle.bytes), [], `${needle.label}: in no row`);
  }
  for (const secret of [...secrets, ...pins()]) t.same(cellsHolding(app.services.store.db, Buffer.from(secret)), [], 'no key or PIN in clear in the database');
});

t.test('the scanners find a planted needle', async (t) => {
  const needle = newMarker();
  const planted = join(dir, 'planted.bin');
  writeFileSync(planted, Buffer.concat([randomBytes(1000), needle, randomBytes(1000)]));
  t.same(filesHolding(recentFiles(dir), needle), [planted], 'in a file');
  app.services.store.createBank({ name: `planted ${needle}` });
  t.same(cellsHolding(app.services.store.db, needle), ['banks.name'], 'in a row');
});

t.test('the logs hold no upload, key, PIN or client address', async (t) => {
  const text = logs.join('');
  t.ok(logs.length > 50, `${logs.length} log lines at trace level`);
  t.ok(cases.length > 0 || !has('POST', '/v1/cases'), 'a PIN was handed out and used');
  for (const needle of needles) t.notOk(text.includes(needle.bytes.toString('latin1')), `${needle.label}: not logged`);
  for (const secret of secrets) t.same(logs.filter((line) => line.includes(secret)), [], 'no API key logged');
  for (const pin of pins()) t.notOk(new RegExp(`\\b${pin}\\b`).test(text.replace(/"(time|pid|responseTime|reqId)":[^,}]*/g, '')), 'no PIN logged');
  t.notOk(text.includes('127.0.0.1'), 'no client address logged');
});
