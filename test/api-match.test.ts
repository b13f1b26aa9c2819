/**
 * POST /v1/match over real HTTP (inject) and a real SQLite store: images and
 * hash lists, dihedral matching, low-quality images, thresholds, bank filters,
 * provenance by role, withdrawal, and bad input.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { toHex } from '../src/hashing/hex.js';
import { hashImage } from '../src/image/hash-image.js';
import { PDQ_DIR } from './helpers/fixtures.js';
import { multipart, type FormPart } from './helpers/multipart.js';

const dataDir = mkdtempSync(join(tmpdir(), 'ncii-api-match-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: dataDir, ANONYMOUS_REQUESTS_PER_MINUTE: '100000' }), logger: false });
t.teardown(() => app.close());

const bearer = (role: 'ngo' | 'takedown' | 'admin') => ({ authorization: `Bearer ${app.services.keys.create({ name: role, role }).secret}` });
const ngo = bearer('ngo');
const takedown = bearer('takedown');
const admin = bearer('admin');

const image = (name: string) => readFileSync(join(PDQ_DIR, name));
const imagePart = (name: string): FormPart => ({ name: 'image', filename: name, bytes: image(name), contentType: 'image/jpeg' });

type Match = {
  contentId: number;
  bankId: number;
  signalType: string;
  distance: number;
  variant: string | null;
  via: string;
  region: string | null;
  signalIndex?: number;
  provenance: Record<string, unknown>;
};
type Reply = { matches: Match[]; thresholds: { type: string; bankId: number; source: string; requested: number; applied: number; clamped: boolean }[]; warnings: { code: string; message: string }[] };

async function matchImage(headers: Record<string, string>, file: string, fields: Record<string, string> = {}) {
  const form = multipart([imagePart(file), ...Object.entries(fields).map(([name, value]) => ({ name, value }))]);
  return app.inject({ method: 'POST', url: '/v1/match', payload: form.payload, headers: { ...form.headers, ...headers } });
}

const matchHashes = (headers: Record<string, string>, body: unknown) => app.inject({ method: 'POST', url: '/v1/match', headers, payload: body as object });

async function createBank(name: string): Promise<number> {
  const res = await app.inject({ method: 'POST', url: '/v1/banks', headers: admin, payload: { name } });
  if (res.statusCode !== 201) throw new Error(`bank not created: ${res.body}`);
  return res.json().id;
}

async function ingestImage(bankId: number, file: string, fields: Record<string, string>) {
  const form = multipart([imagePart(file), ...Object.entries(fields).map(([name, value]) => ({ name, value }))]);
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${bankId}/content`, payload: form.payload, headers: { ...form.headers, ...takedown } });
  if (res.statusCode !== 201) throw new Error(`content not added: ${res.body}`);
  return res.json().items[0] as { id: number; signals: { type: string; hash: string; quality: number | null }[] };
}

/** The hex hash with its first `bits` bits flipped. */
function flipBits(hex: string, bits: number): string {
  const bytes = Buffer.from(hex, 'hex');
  for (let i = 0; i < bits; i++) bytes[i >> 3] ^= 0x80 >> (i & 7);
  return bytes.toString('hex');
}

const bridgeBank = await createBank('bridge captures');
const bridge = await ingestImage(bridgeBank, 'bridge-1-original.jpg', {
  group: 'Exposed Girls 2026',
  messageUrl: 'https://t.me/c/12345/678',
  capturedAt: '2026-03-01T10:00:00Z',
});
const bridgePdq = bridge.signals.find((s) => s.type === 'pdq')!.hash;
const otherBank = await createBank('other captures');
const other = await ingestImage(otherBank, 'q0122.jpg', { platform: 'telegram', group: 'Other Group', messageUrl: 'https://t.me/c/999/1' });

t.test('a rotated copy is found with dihedral matching and only with it', async (t) => {
  const plain = await matchImage(ngo, 'bridge-2-rotate-90.jpg', { mode: 'pdq' });
  t.equal(plain.statusCode, 200);
  t.same((plain.json() as Reply).matches, [], 'without dihedral the rotation hides it');

  const robust = (await matchImage(ngo, 'bridge-2-rotate-90.jpg')).json() as Reply;
  t.same(robust.matches.map((m) => m.contentId), [bridge.id], 'robust mode (the default) always looks at rotations');

  const res = await matchImage(ngo, 'bridge-2-rotate-90.jpg', { mode: 'pdq', dihedral: 'true' });
  t.equal(res.statusCode, 200);
  const { matches, warnings } = res.json() as Reply;
  t.equal(matches.length, 1);
  t.match(matches[0], { contentId: bridge.id, bankId: bridgeBank, signalType: 'pdq', variant: 'rot270' });
  t.type(matches[0].distance, 'number');
  t.ok(matches[0].distance <= 31);
  t.same(warnings, []);
  t.notOk('signalIndex' in matches[0], 'image queries have no signal index');
});

t.test('the same file matches exactly; a different photo does not match it', async (t) => {
  const same = (await matchImage(ngo, 'bridge-1-original.jpg')).json() as Reply;
  t.equal(same.matches.length, 1);
  t.match(same.matches[0], { contentId: bridge.id, distance: 0 });
  t.ok(['md5', 'sha256'].includes(same.matches[0].signalType), 'at equal distance the exact hash is the evidence');
  t.same(
    same.thresholds.filter((x) => x.bankId === bridgeBank).map((x) => x.type).sort(),
    ['blockhash', 'md5', 'pdq', 'pdq-region', 'sha256'],
    'all four signals and the region hashes were matched',
  );
  const strict = (await matchImage(ngo, 'bridge-1-original.jpg', { mode: 'pdq' })).json() as Reply;
  t.same(
    strict.thresholds.filter((x) => x.bankId === bridgeBank).map((x) => x.type).sort(),
    ['blockhash', 'md5', 'pdq', 'sha256'],
    'mode pdq: whole-image signals only',
  );
  const unrelated = (await matchImage(ngo, 'pen-and-coaster.png')).json() as Reply;
  t.same(unrelated.matches, []);
});

t.test('match by a list of hashes, anonymously, with the matching signal named', async (t) => {
  const res = await matchHashes({}, {
    signals: [
      { type: 'md5', hash: '0'.repeat(32) },
      { type: 'pdq', hash: flipBits(bridgePdq, 10) },
    ],
  });
  t.equal(res.statusCode, 200);
  const { matches } = res.json() as Reply;
  t.equal(matches.length, 1);
  t.match(matches[0], { contentId: bridge.id, bankId: bridgeBank, signalType: 'pdq', distance: 10, variant: null, signalIndex: 1 });
  t.equal(typeof matches[0].distance, 'number');
  const upper = await matchHashes({}, { signals: [{ type: 'pdq', hash: bridgePdq.toUpperCase() }] });
  t.equal(upper.json().matches[0].distance, 0, 'hex in either case');
});

t.test('provenance: group and time for everyone, message links only for takedown and admin', async (t) => {
  const body = { signals: [{ type: 'pdq', hash: bridgePdq }] };
  for (const [who, headers] of [['anonymous', {}], ['ngo', ngo]] as const) {
    const [m] = (await matchHashes(headers, body)).json().matches as Match[];
    t.same(m.provenance, { platform: 'telegram', group: 'Exposed Girls 2026', capturedAt: '2026-03-01T10:00:00.000Z' }, `${who}: reduced`);
    t.notOk(JSON.stringify(m).includes('t.me'), `${who}: no message link anywhere`);
    t.notOk('messageUrl' in m.provenance, `${who}: not even the field`);
    t.equal(m.contentId, bridge.id, `${who}: the content id, which only a takedown key can look up`);
  }
  for (const [who, headers] of [['takedown', takedown], ['admin', admin]] as const) {
    const [m] = (await matchHashes(headers, body)).json().matches as Match[];
    t.same(m.provenance, { platform: 'telegram', group: 'Exposed Girls 2026', capturedAt: '2026-03-01T10:00:00.000Z', messageUrl: 'https://t.me/c/12345/678' }, `${who}: full`);
  }
  const imageMatch = (await matchImage(ngo, 'bridge-1-original.jpg')).json() as Reply;
  t.notOk('messageUrl' in imageMatch.matches[0].provenance, 'ngo image queries are reduced too');
  const full = (await matchImage(takedown, 'bridge-1-original.jpg')).json() as Reply;
  t.equal(full.matches[0].provenance.messageUrl, 'https://t.me/c/12345/678');
});

t.test('matching an image needs an ngo, takedown or admin key; hashes need none', async (t) => {
  const anonymous = await matchImage({}, 'bridge-1-original.jpg');
  t.equal(anonymous.statusCode, 401);
  t.equal(anonymous.json().error.code, 'UNAUTHORIZED');
  t.equal(anonymous.headers['www-authenticate'], 'Bearer');
  for (const headers of [ngo, takedown, admin]) t.equal((await matchImage(headers, 'bridge-1-original.jpg')).statusCode, 200);
  const wrongKey = await matchHashes({ authorization: 'Bearer nm_not-a-key' }, { signals: [{ type: 'pdq', hash: bridgePdq }] });
  t.equal(wrongKey.statusCode, 401, 'a wrong key is refused, not treated as anonymous');
});

t.test('a low-quality image is matched by its exact hashes only, and says so', async (t) => {
  const bank = await createBank('featureless');
  const stored = await ingestImage(bank, 'small.jpg', { group: 'g' });
  t.same(stored.signals.map((s) => s.type), ['md5', 'sha256'], 'ingest keeps only the exact hashes');

  const same = await matchImage(ngo, 'small.jpg', { banks: String(bank) });
  t.equal(same.statusCode, 200);
  const reply = same.json() as Reply;
  t.same(reply.warnings.map((w) => w.code), ['LOW_QUALITY']);
  t.match(reply.warnings[0].message, /quality 0/);
  t.equal(reply.matches.length, 1, 'an exact copy still matches');
  t.ok(['md5', 'sha256'].includes(reply.matches[0].signalType));
  t.notOk(reply.thresholds.some((x) => x.type === 'pdq' || x.type === 'blockhash'), 'no perceptual hash was used');

  // Another featureless image is not reported as a match with a near-constant hash.
  const otherLow = (await matchImage(ngo, 'q0003.jpg', { dihedral: 'true' })).json() as Reply;
  t.same(otherLow.matches, []);
  t.same(otherLow.warnings.map((w) => w.code), ['LOW_QUALITY']);
});

t.test('thresholds: a request may tighten, a loosening is clamped to the ceiling and reported', async (t) => {
  const near = flipBits(bridgePdq, 20);
  const found = (await matchHashes({}, { signals: [{ type: 'pdq', hash: near }] })).json() as Reply;
  t.equal(found.matches.length, 1, 'distance 20 is within the default 31');
  const tight = (await matchHashes({}, { signals: [{ type: 'pdq', hash: near }], threshold: 10 })).json() as Reply;
  t.same(tight.matches, [], 'a tighter threshold applies');
  t.match(tight.thresholds.find((x) => x.bankId === bridgeBank), { type: 'pdq', source: 'request', requested: 10, applied: 10, clamped: false });

  const far = flipBits(bridgePdq, 40);
  const loose = await matchHashes({}, { signals: [{ type: 'pdq', hash: far }], threshold: 64 });
  t.equal(loose.statusCode, 200);
  const body = loose.json() as Reply;
  t.same(body.matches, [], 'distance 40 stays unmatched: 64 was clamped');
  t.match(body.thresholds.find((x) => x.bankId === bridgeBank), { type: 'pdq', requested: 64, applied: 31, clamped: true });
  t.same(body.warnings.map((w) => w.code), ['THRESHOLD_CLAMPED'], 'one warning per type, not per bank');

  const viaImage = (await matchImage(ngo, 'bridge-2-rotate-90.jpg', { mode: 'pdq', dihedral: 'true', threshold: '5' })).json() as Reply;
  t.same(viaImage.matches, [], 'the image threshold is the PDQ threshold');
  t.match(viaImage.thresholds.find((x) => x.type === 'pdq'), { applied: 5, source: 'request' });
  const robust = (await matchImage(ngo, 'bridge-2-rotate-90.jpg', { threshold: '1' })).json() as Reply;
  t.same(robust.matches, [], 'in robust mode it applies to region hashes too');
  t.match(robust.thresholds.find((x) => x.type === 'pdq-region'), { applied: 1, source: 'request' });
  t.match(viaImage.thresholds.find((x) => x.type === 'blockhash'), { applied: 10, source: 'default' });

  const unused = (await matchHashes({}, { signals: [{ type: 'md5', hash: 'a'.repeat(32) }], threshold: 5 })).json() as Reply;
  t.same(unused.warnings.map((w) => w.code), ['THRESHOLD_NOT_USED']);
  const blockhash = bridge.signals.find((s) => s.type === 'blockhash')!.hash;
  const perType = (await matchHashes({}, { signals: [{ type: 'blockhash', hash: flipBits(blockhash, 4) }], thresholds: { blockhash: 3 } })).json() as Reply;
  t.same(perType.matches, [], 'thresholds.blockhash applies');
});

t.test('the bank filter limits the search', async (t) => {
  const signals = [
    { type: 'pdq', hash: bridgePdq },
    { type: 'pdq', hash: other.signals.find((s) => s.type === 'pdq')!.hash },
  ];
  const all = (await matchHashes({}, { signals })).json() as Reply;
  t.same(all.matches.map((m) => m.contentId).sort(), [bridge.id, other.id].sort());
  const one = (await matchHashes({}, { signals, banks: [otherBank] })).json() as Reply;
  t.same(one.matches.map((m) => m.contentId), [other.id]);
  t.ok(one.thresholds.every((x) => x.bankId === otherBank));
  const viaForm = (await matchImage(ngo, 'bridge-1-original.jpg', { banks: `${otherBank}` })).json() as Reply;
  t.same(viaForm.matches, []);
  const both = (await matchImage(ngo, 'bridge-1-original.jpg', { banks: `${otherBank}, ${bridgeBank}` })).json() as Reply;
  t.equal(both.matches.length, 1);
  const missing = await matchHashes({}, { signals, banks: [9999] });
  t.equal(missing.statusCode, 404);
  t.equal(missing.json().error.code, 'NOT_FOUND');
});

t.test('deleting content stops its matches at once; matching stores nothing', async (t) => {
  const bank = await createBank('withdrawal');
  const item = await ingestImage(bank, 'LA.png', { group: 'g' });
  const query = { signals: [{ type: 'sha256', hash: item.signals.find((s) => s.type === 'sha256')!.hash }], banks: [bank] };
  t.equal((await matchHashes({}, query)).json().matches.length, 1);

  const signalRows = () => app.services.store.db.prepare('SELECT count(*) FROM signals').pluck().get();
  const before = signalRows();
  await matchImage(ngo, 'bridge-3-rotate-180.jpg', { dihedral: 'true' });
  await matchHashes({}, { signals: [{ type: 'pdq', hash: 'f'.repeat(64) }] });
  t.equal(signalRows(), before, 'queries add no signal');
  const audit = app.services.audit.list({ limit: 1 })[0];
  t.match(audit, { action: 'POST /v1/match', matchCount: 0 });
  t.notOk(JSON.stringify(app.services.audit.list({ limit: 50 })).includes('f'.repeat(64)), 'the audit log has no query hash');

  t.equal((await app.inject({ method: 'DELETE', url: `/v1/content/${item.id}`, headers: takedown })).statusCode, 204);
  t.same((await matchHashes({}, query)).json().matches, [], 'gone from the index when DELETE returns');
});

t.test('bad input gets a 4xx with a stable code, and the server keeps working', async (t) => {
  const pdq = { type: 'pdq', hash: bridgePdq };
  const cases: [string, () => Promise<{ statusCode: number; json: () => { error: { code: string; message: string } } }>, number, string, RegExp?][] = [
    ['1,501 signals', () => matchHashes({}, { signals: Array(1501).fill(pdq) }), 400, 'INVALID_REQUEST', /1500/],
    ['no signals', () => matchHashes({}, { signals: [] }), 400, 'INVALID_REQUEST'],
    ['unknown type', () => matchHashes({}, { signals: [pdq, { type: 'phash', hash: bridgePdq }] }), 400, 'INVALID_REQUEST', /signals\[1\]\.type "phash"/],
    ['short hash', () => matchHashes({}, { signals: [pdq, pdq, { type: 'pdq', hash: bridgePdq.slice(2) }] }), 400, 'INVALID_HASH', /signals\[2\]\.hash \(pdq\).*64/],
    ['non-hex', () => matchHashes({}, { signals: [{ type: 'md5', hash: 'g'.repeat(32) }] }), 400, 'INVALID_HASH', /signals\[0\]/],
    ['md5 length for sha256', () => matchHashes({}, { signals: [{ type: 'sha256', hash: 'a'.repeat(32) }] }), 400, 'INVALID_HASH', /signals\[0\]/],
    ['hash not a string', () => matchHashes({}, { signals: [{ type: 'pdq', hash: 5 }] }), 400, 'INVALID_REQUEST', /signals\/0\/hash must be string/],
    ['extra field', () => matchHashes({}, { signals: [pdq], image: 'x' }), 400, 'INVALID_REQUEST'],
    ['dihedral on bare hashes', () => matchHashes({}, { signals: [pdq], dihedral: true }), 400, 'INVALID_REQUEST', /image/],
    ['threshold out of range', () => matchHashes({}, { signals: [pdq], threshold: 257 }), 400, 'INVALID_REQUEST'],
    ['threshold disagreement', () => matchHashes({}, { signals: [pdq], threshold: 3, thresholds: { pdq: 4 } }), 400, 'INVALID_REQUEST'],
    ['banks not ids', () => matchHashes({}, { signals: [pdq], banks: ['x'] }), 400, 'INVALID_REQUEST'],
    ['malformed JSON', () => app.inject({ method: 'POST', url: '/v1/match', headers: { 'content-type': 'application/json' }, payload: '{"signals": [' }), 400, 'MALFORMED_JSON'],
    ['no body', () => app.inject({ method: 'POST', url: '/v1/match' }), 400, 'INVALID_REQUEST'],
    ['text body', () => app.inject({ method: 'POST', url: '/v1/match', headers: { 'content-type': 'text/plain' }, payload: 'pdq d8f8' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['text as an image', () => {
      const form = multipart([{ name: 'image', filename: 'x.jpg', bytes: Buffer.from('not an image at all'), contentType: 'image/jpeg' }]);
      return app.inject({ method: 'POST', url: '/v1/match', payload: form.payload, headers: { ...form.headers, ...ngo } });
    }, 415, 'UNSUPPORTED_FORMAT'],
    ['truncated JPEG', () => {
      const form = multipart([{ name: 'image', filename: 'x.jpg', bytes: image('bridge-1-original.jpg').subarray(0, 2000) }]);
      return app.inject({ method: 'POST', url: '/v1/match', payload: form.payload, headers: { ...form.headers, ...ngo } });
    }, 422, 'CORRUPT_IMAGE'],
    ['two images', () => {
      const form = multipart([imagePart('LA.png'), imagePart('c.png')]);
      return app.inject({ method: 'POST', url: '/v1/match', payload: form.payload, headers: { ...form.headers, ...ngo } });
    }, 413, 'TOO_MANY_FILES'],
    ['no image', () => {
      const form = multipart([{ name: 'dihedral', value: 'true' }]);
      return app.inject({ method: 'POST', url: '/v1/match', payload: form.payload, headers: { ...form.headers, ...ngo } });
    }, 400, 'NO_IMAGE'],
    ['bad banks field', () => matchImage(ngo, 'c.png', { banks: '1;DROP TABLE banks' }), 400, 'INVALID_REQUEST', /banks/],
    ['bad threshold field', () => matchImage(ngo, 'c.png', { threshold: '-1' }), 400, 'INVALID_REQUEST', /threshold/],
    ['bad dihedral field', () => matchImage(ngo, 'c.png', { dihedral: 'yes please' }), 400, 'INVALID_REQUEST'],
    ['unknown form field', () => matchImage(ngo, 'c.png', { signals: '[]' }), 400, 'UNEXPECTED_FIELD'],
  ];
  for (const [label, send, status, code, message] of cases) {
    const res = await send();
    t.equal(res.statusCode, status, `${label}: status`);
    t.equal(res.json().error.code, code, `${label}: code`);
    if (message) t.match(res.json().error.message, message, `${label}: message`);
  }
  const after = await matchHashes({}, { signals: [pdq] });
  t.equal(after.statusCode, 200, 'still serving');
  t.equal(after.json().matches.length, 1);
});

t.test('OpenAPI documents both request bodies and every response', async (t) => {
  const doc = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
  const op = doc.paths['/v1/match'].post;
  t.same(Object.keys(op.requestBody.content).sort(), ['application/json', 'multipart/form-data']);
  t.equal(op.requestBody.content['multipart/form-data'].schema.properties.image.format, 'binary');
  for (const status of ['200', '400', '401', '403', '404', '413', '415', '422', '429']) t.ok(op.responses[status], `response ${status}`);
});

t.test('robust mode finds crops, letterboxed and captioned reposts; pdq mode does not', async (t) => {
  const bank = await createBank('edited reposts');
  const original = image('q0122.jpg');
  const { width, height } = await sharp(original).metadata();
  const w = width!;
  const h = height!;
  const edits: Record<string, Buffer> = {
    'centre 70% crop': await sharp(original).extract({ left: Math.round(w * 0.15), top: Math.round(h * 0.15), width: Math.round(w * 0.7), height: Math.round(h * 0.7) }).jpeg().toBuffer(),
    letterbox: await sharp(original).extend({ top: Math.round(h * 0.15), bottom: Math.round(h * 0.15), background: '#000' }).jpeg().toBuffer(),
  };
  const ids: Record<string, number> = {};
  for (const [name, bytes] of Object.entries(edits)) {
    const form = multipart([{ name: 'image', filename: `${name}.jpg`, bytes, contentType: 'image/jpeg' }, { name: 'group', value: 'Reposts' }]);
    const res = await app.inject({ method: 'POST', url: `/v1/banks/${bank}/content`, payload: form.payload, headers: { ...form.headers, ...takedown } });
    t.equal(res.statusCode, 201, `${name} ingested`);
    const item = res.json().items[0];
    t.ok(item.signals.filter((s: { type: string }) => s.type === 'pdq-region').length >= 1, `${name}: region hashes stored`);
    ids[name] = item.id;
  }
  const query = multipart([{ name: 'image', filename: 'q.jpg', bytes: original, contentType: 'image/jpeg' }, { name: 'banks', value: String(bank) }]);
  const robust = (await app.inject({ method: 'POST', url: '/v1/match', payload: query.payload, headers: { ...query.headers, ...ngo } })).json() as Reply;
  t.same(robust.matches.map((m) => m.contentId).sort(), Object.values(ids).sort(), 'both edits found');
  for (const m of robust.matches) {
    t.match(m, { signalType: 'pdq-region', via: 'region' });
    t.ok(m.distance <= 31);
    t.type(m.region, 'string');
  }
  const strictForm = multipart([
    { name: 'image', filename: 'q.jpg', bytes: original, contentType: 'image/jpeg' },
    { name: 'banks', value: String(bank) },
    { name: 'mode', value: 'pdq' },
  ]);
  const strict = (await app.inject({ method: 'POST', url: '/v1/match', payload: strictForm.payload, headers: { ...strictForm.headers, ...ngo } })).json() as Reply;
  t.same(strict.matches, [], 'whole-image PDQ misses both');

  // What a victim's browser or the CLI sends: region hashes computed on her device.
  const hashed = await hashImage(original, { signals: ['pdq'], regions: 'query' });
  const signals = hashed.regions!.map((r) => ({ type: 'pdq-region', hash: toHex(r.hash), region: r.kind }));
  t.ok(signals.length <= 1000, `${signals.length} region hashes fit one request`);
  const byHashes = (await matchHashes({}, { signals, banks: [bank] })).json() as Reply;
  t.same(byHashes.matches.map((m) => m.contentId).sort(), Object.values(ids).sort(), 'the same from client-computed hashes, anonymously');
  t.ok(byHashes.matches.every((m) => m.via === 'region' && typeof m.region === 'string'));

  const refused = await matchHashes({}, { signals: signals.slice(0, 3), mode: 'pdq' });
  t.equal(refused.statusCode, 400, 'mode pdq refuses region hashes');
  t.equal(refused.json().error.code, 'INVALID_REQUEST');
  const misplaced = await matchHashes({}, { signals: [{ type: 'pdq', hash: bridgePdq, region: 'crop' }] });
  t.equal(misplaced.statusCode, 400, 'region only goes with pdq-region');
  const badMode = multipart([{ name: 'image', filename: 'q.jpg', bytes: original, contentType: 'image/jpeg' }, { name: 'mode', value: 'fuzzy' }]);
  const badModeRes = await app.inject({ method: 'POST', url: '/v1/match', payload: badMode.payload, headers: { ...badMode.headers, ...ngo } });
  t.equal(badModeRes.statusCode, 400);
  t.equal(badModeRes.json().error.code, 'INVALID_REQUEST');
});
