/**
 * Banks and content over real HTTP (inject) and a real SQLite store: CRUD,
 * thresholds, ingest by images and by hashes (all or nothing), pagination,
 * deletion reaching the index at once, permissions, and bad input.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { toHex } from '../src/hashing/hex.js';
import { hashImage } from '../src/image/hash-image.js';
import { loadConfig } from '../src/config.js';
import { PDQ_DIR } from './helpers/fixtures.js';
import { multipart, type FormPart } from './helpers/multipart.js';

const MAX_FILES = 3;
const dataDir = mkdtempSync(join(tmpdir(), 'ncii-api-banks-'));
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }));
const app = await buildApp({
  config: loadConfig({ DATA_DIR: dataDir, MAX_FILES_PER_REQUEST: String(MAX_FILES), ANONYMOUS_REQUESTS_PER_MINUTE: '100000' }),
  logger: false,
});
t.teardown(() => app.close());

const bearer = (role: 'ngo' | 'takedown' | 'admin') => ({ authorization: `Bearer ${app.services.keys.create({ name: role, role }).secret}` });
const ngo = bearer('ngo');
const takedown = bearer('takedown');
const admin = bearer('admin');

const image = (name: string) => readFileSync(join(PDQ_DIR, name));
const imagePart = (name: string): FormPart => ({ name: 'image', filename: name, bytes: image(name), contentType: 'image/jpeg' });
const field = (name: string, value: string): FormPart => ({ name, value });

const send = (method: 'GET' | 'POST' | 'PATCH' | 'DELETE', url: string, headers: Record<string, string> = takedown, payload?: unknown) =>
  app.inject({ method, url, headers, ...(payload === undefined ? {} : { payload: payload as object }) });

function postForm(url: string, parts: FormPart[], headers: Record<string, string> = takedown) {
  const form = multipart(parts);
  return app.inject({ method: 'POST', url, payload: form.payload, headers: { ...form.headers, ...headers } });
}

async function newBank(name: string): Promise<number> {
  const res = await send('POST', '/v1/banks', admin, { name });
  if (res.statusCode !== 201) throw new Error(`bank not created: ${res.body}`);
  return res.json().id;
}

const signalCount = () => app.services.store.db.prepare('SELECT count(*) FROM signals').pluck().get() as number;
const matchSha256 = async (hash: string) => (await send('POST', '/v1/match', {}, { signals: [{ type: 'sha256', hash }] })).json().matches as { contentId: number }[];

t.test('banks: create, read, list, update, delete', async (t) => {
  const created = await send('POST', '/v1/banks', takedown, { name: 'Telegram sweep March', description: 'weekly capture', threshold: 24 });
  t.equal(created.statusCode, 201);
  const bank = created.json();
  t.match(bank, { id: Number, name: 'Telegram sweep March', description: 'weekly capture', thresholds: { pdq: 24 }, createdAt: String, updatedAt: String });

  t.same((await send('GET', `/v1/banks/${bank.id}`)).json(), bank);
  t.ok((await send('GET', '/v1/banks')).json().banks.some((b: { id: number }) => b.id === bank.id));

  const duplicate = await send('POST', '/v1/banks', takedown, { name: 'Telegram sweep March' });
  t.equal(duplicate.statusCode, 409);
  t.equal(duplicate.json().error.code, 'CONFLICT');

  const renamed = await send('PATCH', `/v1/banks/${bank.id}`, takedown, { name: 'March sweep', thresholds: { blockhash: 8 } });
  t.equal(renamed.statusCode, 200);
  t.match(renamed.json(), { name: 'March sweep', description: 'weekly capture' });
  t.same(renamed.json().thresholds, { blockhash: 8 }, '`thresholds` replaces every override');
  t.same((await send('PATCH', `/v1/banks/${bank.id}`, takedown, { threshold: 20 })).json().thresholds, { blockhash: 8, pdq: 20, 'pdq-norm': 20, 'pdq-region': 20 }, '`threshold` changes the PDQ family only (whole image, dark photos, regions)');
  t.same((await send('PATCH', `/v1/banks/${bank.id}`, takedown, { thresholds: null })).json().thresholds, {}, 'null clears');

  const other = await newBank('taken name');
  const clash = await send('PATCH', `/v1/banks/${bank.id}`, takedown, { name: 'taken name' });
  t.equal(clash.statusCode, 409);
  t.equal(clash.json().error.code, 'CONFLICT');

  t.equal((await send('DELETE', `/v1/banks/${other}`)).statusCode, 204);
  const gone = await send('GET', `/v1/banks/${other}`);
  t.equal(gone.statusCode, 404);
  t.equal(gone.json().error.code, 'NOT_FOUND');
  t.equal((await send('DELETE', `/v1/banks/${other}`)).statusCode, 404);
});

t.test('bank thresholds above the ceiling are refused, and matching uses the bank threshold', async (t) => {
  const loose = await send('POST', '/v1/banks', takedown, { name: 'loose', threshold: 40 });
  t.equal(loose.statusCode, 400);
  t.equal(loose.json().error.code, 'INVALID_REQUEST');
  t.match(loose.json().error.message, /ceiling of 31/);
  const disagree = await send('POST', '/v1/banks', takedown, { name: 'loose', threshold: 10, thresholds: { pdq: 12 } });
  t.equal(disagree.statusCode, 400);
  const disagreeRegion = await send('POST', '/v1/banks', takedown, { name: 'loose', threshold: 10, thresholds: { 'pdq-region': 12 } });
  t.equal(disagreeRegion.statusCode, 400);
  t.match(disagreeRegion.json().error.message, /thresholds.pdq-region/);
  const regionOnly = (await send('POST', '/v1/banks', takedown, { name: 'regions only', thresholds: { 'pdq-region': 12 } })).json();
  t.same(regionOnly.thresholds, { 'pdq-region': 12 }, 'a pdq-region override is shown');
  t.same((await send('GET', `/v1/banks/${regionOnly.id}`)).json().thresholds, { 'pdq-region': 12 });

  const tight = (await send('POST', '/v1/banks', takedown, { name: 'tight', threshold: 5 })).json();
  const [item] = (await postForm(`/v1/banks/${tight.id}/content`, [imagePart('bridge-1-original.jpg')])).json().items;
  const pdq: string = item.signals.find((s: { type: string }) => s.type === 'pdq').hash;
  const near = Buffer.from(pdq, 'hex');
  near[0] ^= 0xff; // 8 bits away
  const res = (await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq', hash: near.toString('hex') }], banks: [tight.id] })).json();
  t.same(res.matches, [], 'the bank threshold of 5 applies');
  t.match(res.thresholds[0], { type: 'pdq', bankId: tight.id, source: 'bank', applied: 5 });
  t.same(tight.thresholds, { pdq: 5, 'pdq-norm': 5, 'pdq-region': 5 }, '`threshold` is the PDQ threshold for regions and dark photos too');
  const loose31 = (await send('POST', '/v1/banks', takedown, { name: 'loose 31', threshold: 31 })).json();
  t.same(loose31.thresholds, { pdq: 31, 'pdq-norm': 24, 'pdq-region': 31 }, 'but never loosens pdq-norm past its own stricter ceiling');

  // Robust matching finds copies through region hashes: the bank's threshold holds there too.
  const region: string = item.signals.find((s: { type: string }) => s.type === 'pdq-region').hash;
  const nearRegion = Buffer.from(region, 'hex');
  nearRegion[0] ^= 0xff;
  const regionRes = (await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq-region', hash: nearRegion.toString('hex') }], banks: [tight.id] })).json();
  t.same(regionRes.matches, [], 'a region 8 bits away is no match either');
  t.match(regionRes.thresholds[0], { type: 'pdq-region', bankId: tight.id, source: 'bank', applied: 5 });
  nearRegion[0] ^= 0x0f;
  const closer = (await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq-region', hash: nearRegion.toString('hex') }], banks: [tight.id] })).json();
  t.match(closer.matches, [{ contentId: item.id, via: 'region', distance: 4 }], 'a region 4 bits away matches');
});

t.test('matching sees every bank change at once: a new bank, a changed threshold, a refused change, a deleted bank', async (t) => {
  const pdq = 'a5'.repeat(32);
  const near = Buffer.from(pdq, 'hex');
  near[0] ^= 0xff; // 8 bits away
  const match = async () => (await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq', hash: near.toString('hex') }] })).json();
  const thresholdOf = (res: { thresholds: { bankId: number }[] }, bankId: number) => res.thresholds.filter((x) => x.bankId === bankId);

  const bank = (await send('POST', '/v1/banks', takedown, { name: 'cache: changing', threshold: 5 })).json();
  t.match(thresholdOf(await match(), bank.id), [{ type: 'pdq', source: 'bank', applied: 5 }], 'a new bank is searched at once');
  const [item] = (await send('POST', `/v1/banks/${bank.id}/content`, takedown, { items: [{ signals: [{ type: 'pdq', hash: pdq }] }] })).json().items;
  t.same((await match()).matches.filter((m: { contentId: number }) => m.contentId === item.id), [], 'threshold 5: 8 bits away is no match');

  t.equal((await send('PATCH', `/v1/banks/${bank.id}`, takedown, { threshold: 10 })).statusCode, 200);
  let res = await match();
  t.match(thresholdOf(res, bank.id), [{ source: 'bank', applied: 10 }], 'a changed threshold applies at once');
  t.match(res.matches.filter((m: { contentId: number }) => m.contentId === item.id), [{ bankId: bank.id, distance: 8 }]);
  t.match((await send('GET', `/v1/banks/${bank.id}`)).json(), { name: 'cache: changing', thresholds: { pdq: 10 } });

  const other = await newBank('cache: taken');
  t.equal((await send('PATCH', `/v1/banks/${bank.id}`, takedown, { name: 'cache: taken', threshold: 3 })).statusCode, 409);
  t.match(thresholdOf(await match(), bank.id), [{ applied: 10 }], 'a refused change changes nothing');
  t.match((await send('GET', `/v1/banks/${bank.id}`)).json(), { name: 'cache: changing', thresholds: { pdq: 10 } });

  t.equal((await send('PATCH', `/v1/banks/${bank.id}`, takedown, { thresholds: null })).statusCode, 200);
  t.match(thresholdOf(await match(), bank.id), [{ source: 'default' }], 'cleared thresholds fall back to the default at once');

  t.equal((await send('DELETE', `/v1/banks/${bank.id}`)).statusCode, 204);
  res = await match();
  t.same(thresholdOf(res, bank.id), [], 'a deleted bank is no longer searched');
  t.same(res.matches.filter((m: { bankId: number }) => m.bankId === bank.id), []);
  t.notOk((await send('GET', '/v1/banks')).json().banks.some((b: { id: number }) => b.id === bank.id));
  t.equal((await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq', hash: pdq }], banks: [bank.id] })).statusCode, 404, 'nor found by id');
  t.equal((await send('DELETE', `/v1/banks/${other}`)).statusCode, 204);
});

t.test('content from images: every signal stored, matchable at once, provenance shared by all', async (t) => {
  const bank = await newBank('images');
  const res = await postForm(`/v1/banks/${bank}/content`, [
    imagePart('q0122.jpg'),
    imagePart('pen-and-coaster.png'),
    field('group', 'Leaks <script>alert(1)</script>'),
    field('messageUrl', 'https://t.me/c/42/7'),
    field('capturedAt', '2026-04-02T08:30:00+02:00'),
    field('metadata', JSON.stringify({ capturedBy: 'analyst 3', tags: ['a'] })),
    field('note', 'reported twice'),
  ]);
  t.equal(res.statusCode, 201);
  const { items } = res.json();
  t.equal(items.length, 2);
  for (const [i, name] of ['q0122.jpg', 'pen-and-coaster.png'].entries()) {
    const expected = await hashImage(image(name), { regions: 'content' });
    t.ok(expected.regions!.length >= 1, `${name}: has region hashes`);
    t.same(
      items[i].signals,
      [
        { type: 'pdq', hash: toHex(expected.pdq!.hash), quality: expected.pdq!.quality },
        { type: 'blockhash', hash: toHex(expected.blockhash!), quality: null },
        { type: 'md5', hash: toHex(expected.md5!), quality: null },
        { type: 'sha256', hash: toHex(expected.sha256!), quality: null },
        ...expected.regions!.map((r) => ({ type: 'pdq-region', hash: toHex(r.hash), quality: r.quality, region: r.kind })),
      ],
      `${name}: in request order, with its hashes and region hashes, each with its kind`,
    );
    t.same(items[i].warnings, []);
    t.same((await matchSha256(toHex(expected.sha256!))).map((m) => m.contentId), [items[i].id], `${name}: matchable when POST returns`);
  }

  const got = await send('GET', `/v1/content/${items[1].id}`);
  t.equal(got.statusCode, 200);
  t.match(got.json(), {
    id: items[1].id,
    bankId: bank,
    platform: 'telegram',
    group: 'Leaks <script>alert(1)</script>',
    messageUrl: 'https://t.me/c/42/7',
    capturedAt: '2026-04-02T06:30:00.000Z',
    metadata: { capturedBy: 'analyst 3', tags: ['a'] },
    note: 'reported twice',
  });
  t.same(got.json().signals, items[1].signals, 'GET returns the signals as hex');
});

t.test('a dark image is stored by its stretched-contrast PDQ and regions, a featureless one by its exact hashes; each with a warning', async (t) => {
  const bank = await newBank('low quality');
  const dark = await postForm(`/v1/banks/${bank}/content`, [imagePart('q0003.jpg'), field('platform', 'whatsapp')]);
  t.equal(dark.statusCode, 201);
  const [item] = dark.json().items;
  const types = item.signals.map((s: { type: string }) => s.type);
  t.same(types.slice(0, 3), ['pdq-norm', 'md5', 'sha256'], 'no featureless PDQ or blockhash; PDQ of the stretched photo');
  t.ok(types.slice(3).every((type: string) => type === 'pdq-region'), 'and its regions');
  t.ok(item.signals.find((s: { type: string }) => s.type === 'pdq-norm').quality >= 50);
  t.same(item.warnings.map((w: { code: string }) => w.code), ['LOW_QUALITY']);
  t.match(item.warnings[0].message, /stretched contrast/);
  t.equal((await send('GET', `/v1/content/${item.id}`)).json().platform, 'whatsapp');

  const grey = await sharp({ create: { width: 300, height: 200, channels: 3, background: { r: 120, g: 120, b: 120 } } }).png().toBuffer();
  const flat = await postForm(`/v1/banks/${bank}/content`, [{ name: 'image', filename: 'grey.png', bytes: grey, contentType: 'image/png' }]);
  t.equal(flat.statusCode, 201);
  t.same(flat.json().items[0].signals.map((s: { type: string }) => s.type), ['md5', 'sha256'], 'a flat image: its exact hashes only');
  t.match(flat.json().items[0].warnings[0].message, /only exact copies/);
});

t.test('one bad image fails the whole request, naming it, and stores nothing', async (t) => {
  const bank = await newBank('all or nothing');
  const before = signalCount();
  const res = await postForm(`/v1/banks/${bank}/content`, [
    imagePart('LA.png'),
    { name: 'image', filename: 'holiday copy (2).jpg', bytes: image('bridge-1-original.jpg').subarray(0, 3000), contentType: 'image/jpeg' },
    imagePart('c.png'),
  ]);
  t.equal(res.statusCode, 422);
  t.equal(res.json().error.code, 'CORRUPT_IMAGE');
  t.match(res.json().error.message, /^images\[1\] \("holiday copy \(2\)\.jpg"\): .*Nothing was stored\.$/);
  t.equal(signalCount(), before);
  t.same((await send('GET', `/v1/banks/${bank}/content`)).json().items, []);

  const text = await postForm(`/v1/banks/${bank}/content`, [imagePart('LA.png'), { name: 'image', filename: 'notes.jpg', bytes: Buffer.from('hello') }]);
  t.equal(text.statusCode, 415);
  t.equal(text.json().error.code, 'UNSUPPORTED_FORMAT');
  t.match(text.json().error.message, /images\[1\] \("notes\.jpg"\)/);
  t.equal(signalCount(), before);
});

t.test('content from hashes: items in order; a bad hash names its item and stores nothing', async (t) => {
  const bank = await newBank('hashes');
  const sha = (c: string) => c.repeat(64);
  const res = await send('POST', `/v1/banks/${bank}/content`, takedown, {
    items: [
      { signals: [{ type: 'sha256', hash: sha('1') }], group: 'A', messageUrl: 'https://t.me/a/1' },
      { signals: [{ type: 'sha256', hash: sha('2') }, { type: 'pdq', hash: sha('3') }], platform: 'discord', metadata: { k: 1 } },
      { signals: [{ type: 'md5', hash: '4'.repeat(32) }], capturedAt: '2026-01-31T12:00:00Z', note: 'n' },
    ],
  });
  t.equal(res.statusCode, 201);
  const { items } = res.json();
  t.same(items.map((i: { signals: unknown }) => i.signals), [
    [{ type: 'sha256', hash: sha('1'), quality: null }],
    [
      { type: 'sha256', hash: sha('2'), quality: null },
      { type: 'pdq', hash: sha('3'), quality: null },
    ],
    [{ type: 'md5', hash: '4'.repeat(32), quality: null }],
  ]);
  t.ok(items[0].id < items[1].id && items[1].id < items[2].id);
  t.notOk('warnings' in items[0], 'hash items have nothing to warn about');
  t.match((await send('GET', `/v1/content/${items[0].id}`)).json(), { platform: 'telegram', group: 'A', messageUrl: 'https://t.me/a/1' });
  t.match((await send('GET', `/v1/content/${items[1].id}`)).json(), { platform: 'discord', group: null, metadata: { k: 1 } });
  t.same((await matchSha256(sha('2'))).map((m) => m.contentId), [items[1].id]);

  const before = signalCount();
  const bad = await send('POST', `/v1/banks/${bank}/content`, takedown, {
    items: [{ signals: [{ type: 'sha256', hash: sha('5') }] }, { signals: [{ type: 'md5', hash: sha('6') }] }],
  });
  t.equal(bad.statusCode, 400);
  t.equal(bad.json().error.code, 'INVALID_HASH');
  t.match(bad.json().error.message, /items\[1\]\.signals\[0\]\.hash \(md5\)/);
  t.equal(signalCount(), before, 'nothing stored');
  t.same(await matchSha256(sha('5')), []);

  // A region hash may say which region it is of; only then is it compared with some kinds alone.
  const patch = 'c3'.repeat(32);
  const withKind = await send('POST', `/v1/banks/${bank}/content`, takedown, {
    items: [{ signals: [{ type: 'pdq-region', hash: patch, region: 'patch' }, { type: 'pdq-region', hash: '3c'.repeat(32) }] }],
  });
  t.equal(withKind.statusCode, 201);
  t.same(withKind.json().items[0].signals, [
    { type: 'pdq-region', hash: patch, quality: null, region: 'patch' },
    { type: 'pdq-region', hash: '3c'.repeat(32), quality: null },
  ], 'the kind is kept, and shown where known');
  const matchRegion = async (region?: string) =>
    (await send('POST', '/v1/match', {}, { signals: [{ type: 'pdq-region', hash: patch, ...(region ? { region } : {}) }], banks: [bank] })).json().matches.length;
  t.equal(await matchRegion('patch'), 1, 'a patch finds a patch');
  t.equal(await matchRegion(), 1, 'a hash of no given kind is compared with every kind');
  t.equal(await matchRegion('crop'), 0, 'a crop is not compared with corner patches');
  for (const [signal, message] of [
    [{ type: 'pdq', hash: sha('7'), region: 'patch' }, /only for region hashes/],
    [{ type: 'pdq-region', hash: sha('7'), region: 'eyes' }, /region/],
  ] as const) {
    const refused = await send('POST', `/v1/banks/${bank}/content`, takedown, { items: [{ signals: [signal] }] });
    t.equal(refused.statusCode, 400, `${JSON.stringify(signal)} is refused`);
    t.match(refused.json().error.message, message);
  }
});

t.test('pagination walks a bank in id order', async (t) => {
  const bank = await newBank('pages');
  const body = { items: Array.from({ length: 5 }, (_, i) => ({ signals: [{ type: 'md5', hash: String(i).repeat(32) }] })) };
  const ids = (await send('POST', `/v1/banks/${bank}/content`, takedown, body)).json().items.map((i: { id: number }) => i.id);
  const seen: number[] = [];
  let after: number | null = 0;
  let pages = 0;
  while (after !== null) {
    const page = await send('GET', `/v1/banks/${bank}/content?limit=2&after=${after}`);
    t.equal(page.statusCode, 200);
    const { items, nextAfter } = page.json();
    t.ok(items.length <= 2);
    t.notOk('signals' in items[0], 'pages list items without their hashes');
    seen.push(...items.map((i: { id: number }) => i.id));
    after = nextAfter;
    pages++;
  }
  t.same(seen, ids);
  t.equal(pages, 3);
  const exact = (await send('GET', `/v1/banks/${bank}/content?limit=5`)).json();
  t.equal(exact.items.length, 5);
  t.equal(exact.nextAfter, null, 'no empty last page when the bank ends on a page boundary');
  t.equal((await send('GET', '/v1/banks/9999/content')).statusCode, 404);
  for (const query of ['limit=0', 'limit=1001', 'after=-1', 'limit=abc', 'cursor=1']) {
    const res = await send('GET', `/v1/banks/${bank}/content?${query}`);
    t.equal(res.statusCode, 400, query);
    t.equal(res.json().error.code, 'INVALID_REQUEST', query);
  }
});

t.test('content can be corrected and deleted; deleting stops matches at once', async (t) => {
  const bank = await newBank('edits');
  const [item] = (await postForm(`/v1/banks/${bank}/content`, [imagePart('wee.jpg'), field('group', 'G'), field('messageUrl', 'https://t.me/g/1')])).json().items;
  const patched = await send('PATCH', `/v1/content/${item.id}`, takedown, { group: null, capturedAt: '2026-05-01T00:00:00Z', note: 'fixed' });
  t.equal(patched.statusCode, 200);
  t.match(patched.json(), { group: null, messageUrl: 'https://t.me/g/1', capturedAt: '2026-05-01T00:00:00.000Z', note: 'fixed', platform: 'telegram' });
  t.same(patched.json().signals, item.signals, 'its hashes stay');
  t.equal((await send('PATCH', `/v1/content/${item.id}`, takedown, {})).statusCode, 400, 'an empty patch');
  t.equal((await send('PATCH', `/v1/content/${item.id}`, takedown, { capturedAt: 'yesterday' })).statusCode, 400);
  t.equal((await send('PATCH', '/v1/content/9999', takedown, { note: 'x' })).statusCode, 404);

  const sha256 = item.signals.find((s: { type: string }) => s.type === 'sha256').hash;
  t.equal((await matchSha256(sha256)).length, 1);
  t.equal((await send('DELETE', `/v1/content/${item.id}`)).statusCode, 204);
  t.same(await matchSha256(sha256), [], 'gone from the index when DELETE returns');
  t.equal((await send('GET', `/v1/content/${item.id}`)).statusCode, 404);
  t.equal((await send('DELETE', `/v1/content/${item.id}`)).statusCode, 404);
});

t.test('deleting a bank deletes its content and stops its matches at once', async (t) => {
  const bank = await newBank('doomed');
  const [item] = (await send('POST', `/v1/banks/${bank}/content`, takedown, { items: [{ signals: [{ type: 'sha256', hash: 'e'.repeat(64) }] }] })).json().items;
  t.equal((await matchSha256('e'.repeat(64))).length, 1);
  t.equal((await send('DELETE', `/v1/banks/${bank}`)).statusCode, 204);
  t.same(await matchSha256('e'.repeat(64)), []);
  t.equal((await send('GET', `/v1/content/${item.id}`)).statusCode, 404);
});

t.test('banks and content need a takedown or admin key', async (t) => {
  const bank = await newBank('permissions');
  const routes: [string, string, unknown?][] = [
    ['POST', '/v1/banks', { name: 'x' }],
    ['GET', '/v1/banks'],
    ['GET', `/v1/banks/${bank}`],
    ['PATCH', `/v1/banks/${bank}`, { name: 'y' }],
    ['DELETE', `/v1/banks/${bank}`],
    ['POST', `/v1/banks/${bank}/content`, { items: [{ signals: [{ type: 'md5', hash: 'a'.repeat(32) }] }] }],
    ['GET', `/v1/banks/${bank}/content`],
    ['GET', '/v1/content/1'],
    ['PATCH', '/v1/content/1', { note: 'x' }],
    ['DELETE', '/v1/content/1'],
  ];
  for (const [method, url, body] of routes) {
    const anonymous = await send(method as 'GET', url, {}, body);
    t.equal(anonymous.statusCode, 401, `${method} ${url} anonymous`);
    t.equal(anonymous.json().error.code, 'UNAUTHORIZED');
    const asNgo = await send(method as 'GET', url, ngo, body);
    t.equal(asNgo.statusCode, 403, `${method} ${url} ngo`);
    t.equal(asNgo.json().error.code, 'FORBIDDEN');
  }
  t.equal((await send('GET', `/v1/banks/${bank}`, takedown)).statusCode, 200, 'nothing changed');
});

t.test('bad input gets a 4xx with a stable code, and the server keeps working', async (t) => {
  const bank = await newBank('bad input');
  const url = `/v1/banks/${bank}/content`;
  const many = Array.from({ length: MAX_FILES + 1 }, () => imagePart('LA.png'));
  const cases: [string, () => ReturnType<typeof send>, number, string, RegExp?][] = [
    ['bank without a name', () => send('POST', '/v1/banks', takedown, {}), 400, 'INVALID_REQUEST'],
    ['bank name too long', () => send('POST', '/v1/banks', takedown, { name: 'x'.repeat(201) }), 400, 'INVALID_REQUEST'],
    ['bank blank name', () => send('POST', '/v1/banks', takedown, { name: '   ' }), 400, 'INVALID_REQUEST'],
    ['bank unknown field', () => send('POST', '/v1/banks', takedown, { name: 'z', owner: 'me' }), 400, 'INVALID_REQUEST'],
    ['bank threshold for md5', () => send('POST', '/v1/banks', takedown, { name: 'z', thresholds: { md5: 3 } }), 400, 'INVALID_REQUEST'],
    ['bank id not a number', () => send('GET', '/v1/banks/abc'), 400, 'INVALID_REQUEST'],
    ['bank id zero', () => send('GET', '/v1/banks/0'), 400, 'INVALID_REQUEST'],
    ['malformed JSON', () => app.inject({ method: 'POST', url: '/v1/banks', headers: { ...takedown, 'content-type': 'application/json' }, payload: '{"name":' }), 400, 'MALFORMED_JSON'],
    ['content to a missing bank', () => send('POST', '/v1/banks/9999/content', takedown, { items: [{ signals: [{ type: 'md5', hash: 'a'.repeat(32) }] }] }), 404, 'NOT_FOUND'],
    ['images to a missing bank', () => postForm('/v1/banks/9999/content', [imagePart('LA.png')]), 404, 'NOT_FOUND'],
    ['no items', () => send('POST', url, takedown, { items: [] }), 400, 'INVALID_REQUEST'],
    ['item without signals', () => send('POST', url, takedown, { items: [{ signals: [] }] }), 400, 'INVALID_REQUEST'],
    ['unknown signal type', () => send('POST', url, takedown, { items: [{ signals: [{ type: 'md5', hash: 'a'.repeat(32) }] }, { signals: [{ type: 'ahash', hash: 'ab' }] }] }), 400, 'INVALID_REQUEST', /items\[1\]\.signals\[0\]\.type/],
    ['non-hex hash', () => send('POST', url, takedown, { items: [{ signals: [{ type: 'pdq', hash: 'z'.repeat(64) }] }] }), 400, 'INVALID_HASH', /items\[0\]\.signals\[0\]/],
    ['bad capturedAt', () => send('POST', url, takedown, { items: [{ signals: [{ type: 'md5', hash: 'a'.repeat(32) }], capturedAt: 'last week' }] }), 400, 'INVALID_REQUEST', /items\/0\/capturedAt/],
    ['metadata not an object', () => send('POST', url, takedown, { items: [{ signals: [{ type: 'md5', hash: 'a'.repeat(32) }], metadata: [1] }] }), 400, 'INVALID_REQUEST'],
    ['metadata field not JSON', () => postForm(url, [imagePart('LA.png'), field('metadata', '{oops')]), 400, 'INVALID_REQUEST', /metadata/],
    ['metadata field an array', () => postForm(url, [imagePart('LA.png'), field('metadata', '[1,2]')]), 400, 'INVALID_REQUEST', /metadata/],
    ['bad capturedAt field', () => postForm(url, [imagePart('LA.png'), field('capturedAt', 'soon')]), 400, 'INVALID_REQUEST', /capturedAt/],
    ['capturedAt field Date.parse would take', () => postForm(url, [imagePart('LA.png'), field('capturedAt', 'x\r\nSet-Cookie: admin=1 2001')]), 400, 'INVALID_REQUEST', /capturedAt/],
    ['capturedAt field without a zone', () => postForm(url, [imagePart('LA.png'), field('capturedAt', '2026-01-31T12:00:00')]), 400, 'INVALID_REQUEST', /capturedAt/],
    ['empty group field', () => postForm(url, [imagePart('LA.png'), field('group', '')]), 400, 'INVALID_REQUEST'],
    ['unknown form field', () => postForm(url, [imagePart('LA.png'), field('bankId', '1')]), 400, 'UNEXPECTED_FIELD'],
    ['no image', () => postForm(url, [field('group', 'g')]), 400, 'NO_IMAGE'],
    ['too many images', () => postForm(url, many), 413, 'TOO_MANY_FILES'],
    ['wrong file field', () => postForm(url, [{ name: 'photo', filename: 'a.png', bytes: image('LA.png') }]), 400, 'UNEXPECTED_FIELD'],
    ['zero-byte image', () => postForm(url, [{ name: 'image', filename: 'empty.jpg', bytes: new Uint8Array() }]), 400, 'EMPTY_IMAGE', /images\[0\]/],
    ['text body', () => app.inject({ method: 'POST', url, headers: { ...takedown, 'content-type': 'text/plain' }, payload: 'hi' }), 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['no body', () => app.inject({ method: 'POST', url, headers: takedown }), 400, 'INVALID_REQUEST'],
    ['content id not a number', () => send('GET', '/v1/content/1;DROP'), 400, 'INVALID_REQUEST'],
    ['patch unknown field', () => send('PATCH', '/v1/content/1', takedown, { signals: [] }), 400, 'INVALID_REQUEST'],
  ];
  const before = signalCount();
  for (const [label, request, status, code, message] of cases) {
    const res = await request();
    t.equal(res.statusCode, status, `${label}: status`);
    t.equal(res.json().error.code, code, `${label}: code`);
    if (message) t.match(res.json().error.message, message, `${label}: message`);
  }
  t.equal(signalCount(), before, 'no bad request stored anything');
  t.same((await send('GET', `${url}`)).json().items, []);
  const ok = await postForm(url, [imagePart('LA.png')]);
  t.equal(ok.statusCode, 201, 'still serving');
});
