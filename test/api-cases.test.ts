/**
 * Victim cases over real HTTP (inject) and a real SQLite store: create by
 * image and by hashes, status without leaking other people's content,
 * enumeration-safe refusals, PIN limits per case and per client, withdrawal;
 * the language a case is registered in (JSON or a form field), or refused.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { buildApp } from '../src/api/app.js';
import { AttemptLimiter } from '../src/services/attempt-limiter.js';
import { newCaseNumber, newPin, normalizeCaseNumber } from '../src/services/case-credentials.js';
import { q } from './helpers/queries.js';
import { clientNetwork } from '../src/api/plugins/auth.js';
import { loadConfig } from '../src/config.js';
import { fromHex } from '../src/hashing/hex.js';
import { PDQ_DIR, pdqExpected } from './helpers/fixtures.js';
import { multipartBody } from './helpers/form-data.js';
import { CASE_MAX_SIGNALS } from '../src/services/cases.js';

const image = (name: string) => readFileSync(join(PDQ_DIR, name));
const expectedPdq = (file: string) => pdqExpected().find((r) => r.file === file)!.hash;
const images = (...names: string[]) => multipartBody(names.map((name) => ({ name: 'image', filename: name, type: 'image/jpeg', data: image(name) })));

async function newApp(t: Test, env: Record<string, string> = {}) {
  const dir = mkdtempSync(join(tmpdir(), 'ncii-cases-'));
  const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, ANONYMOUS_REQUESTS_PER_MINUTE: '10000', ...env }), logger: false });
  await app.ready();
  t.teardown(async () => {
    await app.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return app;
}

t.test('case numbers and PINs', async (t) => {
  for (let i = 0; i < 200; i++) {
    const n = newCaseNumber();
    t.match(n, /^[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}-[2-9A-HJKMNP-TV-Z]{4}$/);
    t.equal(normalizeCaseNumber(n.toLowerCase().replace(/-/g, ' ')), n, 'typed in lower case with spaces');
  }
  t.equal(normalizeCaseNumber('0000-0000-0000'), null, 'look-alike characters are not in the alphabet');
  t.equal(normalizeCaseNumber('ABCD-EFGH'), null);
  const pins = Array.from({ length: 2000 }, () => newPin());
  t.ok(pins.every((pin) => /^\d{4}-\d{4}-\d{4}$/.test(pin)), 'PINs: 12 digits in groups of four');
  t.equal(new Set(pins).size, pins.length, 'no repeats in 2,000');
  const digitCounts = Array(10).fill(0);
  for (const pin of pins) for (const d of pin.replace(/-/g, '')) digitCounts[Number(d)]++;
  t.ok(digitCounts.every((n) => n > 2000 && n < 2800), `every digit about as often (${digitCounts.join(' ')})`);
});

t.test('client networks for per-client limits: IPv4 addresses, IPv6 prefixes', async (t) => {
  t.equal(clientNetwork('10.0.0.1'), '10.0.0.1');
  t.equal(clientNetwork('::ffff:10.1.2.3'), '10.1.2.3', 'IPv4-mapped is the IPv4 address');
  t.equal(clientNetwork('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64');
  t.equal(clientNetwork('2001:0db8:0001:0002:ffff:ffff:ffff:ffff'), '2001:db8:1:2::/64', 'one /64 however written');
  t.equal(clientNetwork('2001:db8::1'), '2001:db8:0:0::/64');
  t.equal(clientNetwork('::1'), '0:0:0:0::/64');
  t.equal(clientNetwork('fe80::1%eth0'), 'fe80:0:0:0::/64');
  t.equal(clientNetwork('2001:db8:1:2ff:aaaa::1', 56), '2001:db8:1:200::/56', 'a /56 keeps the high byte of the fourth group');
  t.equal(clientNetwork('2001:db8:1:2ff::1', 48), '2001:db8:1::/48');
  t.equal(clientNetwork('10.0.0.1', 56), '10.0.0.1');
});

t.test('attempt limiter: sliding window, a right PIN gives its attempt back', async (t) => {
  const limiter = new AttemptLimiter(2, 1000);
  limiter.record('k', 0);
  limiter.record('k', 100);
  t.equal(limiter.retryAfterMs('k', 500), 500, 'locked until the oldest attempt leaves the window');
  t.equal(limiter.retryAfterMs('k', 999), 1);
  t.equal(limiter.retryAfterMs('k', 1000), 0, 'the first attempt has left the window');
  limiter.record('j', 0);
  limiter.forgive('j', 0);
  t.equal(limiter.size, 1, 'a key whose attempts were all taken back is forgotten at once (it may be a case number)');
  limiter.record('j', 1);
  t.equal(limiter.retryAfterMs('j', 2), 0);

  // A spray of guesses from ever new clients: stale keys are dropped, and a
  // prune runs once per doubling of live keys, not on every record.
  const sprayed = new AttemptLimiter(5, 1000);
  for (let i = 0; i < 12_000; i++) sprayed.record(`old ${i}`, 0);
  t.equal(sprayed.size, 12_000, 'all live: the prune at 10,000 kept them, and the next waits for 20,000');
  for (let i = 0; i < 8_100; i++) sprayed.record(`new ${i}`, 5000);
  t.equal(sprayed.size, 8_100, 'at 20,000 the keys whose attempts left the window were dropped');
  t.equal(sprayed.retryAfterMs('new 0', 5000), 0);
});

t.test('create by image, status with matches, no leaks, withdrawal', async (t) => {
  const app = await newApp(t);
  const { store } = app.services;

  const created = await app.inject({ method: 'POST', url: '/v1/cases', ...images('bridge-1-original.jpg', 'q0122.jpg') });
  t.equal(created.statusCode, 201, created.body);
  const { caseNumber, pin, hashes } = created.json();
  t.match(pin, /^\d{4}-\d{4}-\d{4}$/, '12 digits in groups of four');
  const victimCase = store.findCaseByNumber(caseNumber)!;
  t.not(victimCase.pinHash, pin);
  t.match(victimCase.pinHash, /^scrypt\$/, 'only the scrypt hash of the PIN is stored');
  const stored = store.listSignals({ kind: 'case', caseId: victimCase.id });
  t.equal(hashes, stored.length);
  const count = (type: string) => stored.filter((s) => s.type === type).length;
  t.same([count('blockhash'), count('md5'), count('sha256')], [2, 2, 2], 'blockhash and the digests of each photo');
  t.ok(count('pdq-region') > 400, `each photo's robust query regions (${count('pdq-region')}), so a case matches as /v1/match does`);
  const storedPdq = stored.filter((s) => s.type === 'pdq');
  t.equal(new Set(storedPdq.map((s) => Buffer.from(s.hash).toString('hex'))).size, 16, 'every rotation and mirror image of both photos');
  t.ok(storedPdq.every((s) => s.quality === 100), 'with the quality of the photo');

  const status = (headers: Record<string, string> = { 'x-case-pin': pin }, number = caseNumber) => app.inject({ method: 'GET', url: `/v1/cases/${number}`, headers });
  let res = await status();
  t.equal(res.statusCode, 200);
  t.same(res.json().found, { matches: 0, platforms: [], groups: [], firstSeen: null, lastSeen: null });

  // Reposts: the same photo rotated 90 degrees in one group, mirrored in another, and an unrelated photo.
  const bank = store.createBank({ name: 'captures' });
  const pdqItem = (file: string, platform: string, channel: string | null, capturedAt: string | null, messageRef: string) => ({
    provenance: { platform, channel, messageRef, capturedAt },
    metadata: { capturedBy: 'volunteer 7' },
    signals: [{ type: 'pdq', hash: fromHex(expectedPdq(file), 256) }],
  });
  store.addContent(bank.id, [
    pdqItem('bridge-2-rotate-90.jpg', 'telegram', 'leaks group', '2026-03-02T10:00:00Z', 'https://t.me/leaks/101'),
    pdqItem('bridge-5-flipx.jpg', 'telegram', 'other channel', '2026-01-15T08:00:00Z', 'https://t.me/other/7'),
    pdqItem('q0122.jpg', 'forum', null, null, 'https://forum.example/t/9'),
    pdqItem('q2821.jpg', 'telegram', 'leaks group', '2026-02-01T00:00:00Z', 'https://t.me/leaks/5'),
  ]);
  res = await status({ 'x-case-pin': pin.replace(/(\d{4})/, '$1 ') }, caseNumber.toLowerCase().replace(/-/g, ''));
  t.equal(res.statusCode, 200, 'case number in any case without dashes; PIN with a space');
  const found = res.json().found;
  t.equal(found.matches, 3, 'rotated, mirrored and the second photo; not the unrelated one');
  t.same(found.platforms, [
    { platform: 'telegram', matches: 2 },
    { platform: 'forum', matches: 1 },
  ]);
  t.same(
    found.groups.sort((a: { group: string }, b: { group: string }) => a.group.localeCompare(b.group)),
    [
      { platform: 'telegram', group: 'leaks group', matches: 1 },
      { platform: 'telegram', group: 'other channel', matches: 1 },
    ],
  );
  const forumRecorded = store.getContent(3).createdAt;
  t.equal(found.firstSeen, '2026-01-15T08:00:00.000Z');
  t.equal(found.lastSeen, forumRecorded > '2026-03-02T10:00:00.000Z' ? forumRecorded : '2026-03-02T10:00:00.000Z', 'unknown capture time falls back to when it was recorded');
  t.notMatch(res.body, /t\.me|forum\.example|volunteer|contentId|"id"|bankId|messageUrl/, 'no links, ids or metadata of captured content');

  // Withdrawal: the hashes leave store and index at once.
  const probe = q([{ type: 'pdq', hash: fromHex(expectedPdq('bridge-1-original.jpg'), 256) }]);
  t.equal((await app.services.matcher.matchCases(probe)).matches.length, 1, 'new captures match the case before withdrawal');
  res = await app.inject({ method: 'DELETE', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': '00000000' } });
  t.equal(res.statusCode, 404, 'withdrawal needs the PIN');
  res = await app.inject({ method: 'DELETE', url: `/v1/cases/${caseNumber}`, headers: { 'x-case-pin': pin } });
  t.equal(res.statusCode, 204);
  t.same((await app.services.matcher.matchCases(probe)).matches, [], 'no match right after withdrawal');
  t.equal(store.findCaseByNumber(caseNumber), undefined);
  t.equal(app.services.store.countSignals('pdq', 'case'), 0);
  t.equal(app.services.indexes.size('case', 'pdq'), 0, 'the index followed the store');
  res = await status();
  t.equal(res.statusCode, 404);
});

t.test('create by client-computed hashes', async (t) => {
  const app = await newApp(t);
  const pdq = expectedPdq('bridge-1-original.jpg');
  const res = await app.inject({
    method: 'POST',
    url: '/v1/cases',
    payload: { signals: [{ type: 'pdq', hash: pdq.toUpperCase(), quality: 100 }, { type: 'md5', hash: 'a'.repeat(32) }, { type: 'pdq', hash: pdq }] },
  });
  t.equal(res.statusCode, 201, res.body);
  t.equal(res.json().hashes, 2, 'the same hash twice is registered once');
  const victimCase = app.services.store.findCaseByNumber(res.json().caseNumber)!;
  t.equal(victimCase.language, null, 'no language given: none kept (its summaries are in English)');
  t.same(
    app.services.store.listSignals({ kind: 'case', caseId: victimCase.id }).map((s) => [s.type, Buffer.from(s.hash).toString('hex'), s.quality]),
    [
      ['pdq', pdq, 100],
      ['md5', 'a'.repeat(32), null],
    ],
  );

  const refused = async (payload: unknown, status: number, code: string) => {
    const r = await app.inject({ method: 'POST', url: '/v1/cases', payload: payload as object });
    t.equal(r.statusCode, status, `${JSON.stringify(payload).slice(0, 60)}: ${r.body}`);
    t.equal(r.json().error.code, code);
  };
  await refused({ signals: [{ type: 'pdq', hash: pdq, quality: 30 }] }, 422, 'LOW_QUALITY');
  await refused({ signals: [{ type: 'pdq', hash: pdq.slice(2) }] }, 400, 'INVALID_HASH');
  await refused({ signals: [{ type: 'md5', hash: 'g'.repeat(32) }] }, 400, 'INVALID_HASH');
  await refused({ signals: [{ type: 'sha1', hash: pdq }] }, 400, 'INVALID_REQUEST');
  await refused({ signals: [] }, 400, 'INVALID_REQUEST');
  await refused({ signals: Array.from({ length: CASE_MAX_SIGNALS + 1 }, () => ({ type: 'md5', hash: 'a'.repeat(32) })) }, 400, 'INVALID_REQUEST');
  for (const language of ['de', 'sr', 'sr-latn', '', 7]) await refused({ signals: [{ type: 'pdq', hash: pdq }], language }, 400, 'INVALID_REQUEST');
  const unknown = await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: pdq }], language: 'de' } });
  t.match(unknown.json().error.message, /language "de" must be one of en, mk, sr-Latn, sr-Cyrl, hr, bs, sq/, 'the refusal names the languages there are');
  t.equal(app.services.store.countSignals('pdq', 'case'), 1, 'nothing stored by refused requests');

  const inSerbian = await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'pdq', hash: pdq }], language: 'sr-Latn' } });
  t.equal(inSerbian.statusCode, 201, inSerbian.body);
  t.equal(app.services.store.findCaseByNumber(inSerbian.json().caseNumber)!.language, 'sr-Latn', 'the language it was registered in is kept');
});

t.test('images: every photo that decodes is registered, saying what can be watched for; broken files are refused by name', async (t) => {
  const app = await newApp(t);
  let res = await app.inject({ method: 'POST', url: '/v1/cases', ...images('bridge-1-original.jpg', 'q0003.jpg', 'small.jpg') });
  t.equal(res.statusCode, 201, res.body);
  const warnings = res.json().warnings as { code: string; message: string }[];
  t.same(warnings.map((w) => w.code), ['LOW_QUALITY', 'LOW_QUALITY'], 'one warning per featureless photo');
  t.match(warnings[0].message, /^image 2 \(q0003\.jpg\): /);
  t.match(warnings[1].message, /^image 3 \(small\.jpg\): .*only exact copies/);
  t.notMatch(JSON.stringify(warnings), /bridge/);
  const victimCase = app.services.store.findCaseByNumber(res.json().caseNumber)!;
  const stored = app.services.store.listSignals({ kind: 'case', caseId: victimCase.id });
  t.equal(stored.filter((s) => s.type === 'md5').length, 3, 'every photo is kept, at least as its exact digest');
  t.ok(stored.filter((s) => s.type === 'pdq').every((s) => s.quality! >= 50), 'no featureless PDQ hash is kept');
  t.equal(app.services.store.countSignals('pdq', 'case'), 8, "only the clear photo's PDQ and its rotations");
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/cases/${res.json().caseNumber}`, headers: { 'x-case-pin': res.json().pin } })).statusCode, 204);

  res = await app.inject({
    method: 'POST',
    url: '/v1/cases',
    ...multipartBody([
      { name: 'image', filename: 'ok.jpg', data: image('q0122.jpg') },
      { name: 'image', filename: 'notes.jpg', data: 'not an image at all' },
    ]),
  });
  t.equal(res.statusCode, 415, res.body);
  t.equal(res.json().error.code, 'UNSUPPORTED_FORMAT');
  t.match(res.json().error.message, /^image 2 \(notes\.jpg\):.*Nothing was registered/);
  t.equal(app.services.store.countSignals('md5', 'case'), 0);

  const photoIn = (language: string) =>
    app.inject({ method: 'POST', url: '/v1/cases', ...multipartBody([{ name: 'language', data: language }, { name: 'image', filename: 'ok.jpg', type: 'image/jpeg', data: image('q0122.jpg') }]) });
  res = await photoIn('sq');
  t.equal(res.statusCode, 201, res.body);
  t.equal(app.services.store.findCaseByNumber(res.json().caseNumber)!.language, 'sq', 'a photo registered with the form field "language"');
  res = await photoIn('Albanian');
  t.same([res.statusCode, res.json().error.code], [400, 'INVALID_REQUEST'], res.body);
  t.match(res.json().error.message, /language "Albanian" must be one of en, mk, sr-Latn, sr-Cyrl, hr, bs, sq/);
  t.equal(app.services.store.countSignals('md5', 'case'), 1, 'and nothing registered');

  const tooMany = multipartBody(Array.from({ length: 21 }, (_, i) => ({ name: 'image', filename: `${i}.jpg`, data: image('q0122.jpg') })));
  res = await app.inject({ method: 'POST', url: '/v1/cases', ...tooMany });
  t.equal(res.statusCode, 413);
  t.equal(res.json().error.code, 'TOO_MANY_FILES');
});

t.test('with the default limits, 100 wrong PINs from 20 networks of one person do not lock the owner out', async (t) => {
  const app = await newApp(t);
  const mine = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'c'.repeat(32) }] } })).json();
  // 20 /56s of one /48 (a home or a small provider's customer), 5 wrong PINs from each: every client's limit used up.
  const guesses = Array.from({ length: 100 }, (_, i) =>
    app.inject({ method: 'GET', url: `/v1/cases/${mine.caseNumber}`, headers: { 'x-case-pin': String(100_000_000_000 + i) }, remoteAddress: `2001:db8:5:${(Math.floor(i / 5) * 256).toString(16)}::1` }),
  );
  const answers = await Promise.all(guesses);
  t.same([...new Set(answers.map((r) => r.statusCode))], [404], 'every guess is just wrong');
  const withdrawn = await app.inject({ method: 'DELETE', url: `/v1/cases/${mine.caseNumber}`, headers: { 'x-case-pin': mine.pin }, remoteAddress: '10.9.9.9' });
  t.equal(withdrawn.statusCode, 204, 'she can still withdraw her case');
});

t.test('unknown case and wrong PIN look the same; limits per case and client, and per case', async (t) => {
  const app = await newApp(t, { PIN_ATTEMPTS_PER_HOUR: '3', PIN_ATTEMPTS_PER_CASE_PER_HOUR: '6', PIN_UNKNOWN_CASE_ATTEMPTS_PER_HOUR: '4' });
  const create = async () => (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'b'.repeat(32) }] } })).json();
  const target = await create();
  const other = await create();
  const get = (number: string, pin: string, remoteAddress: string) =>
    app.inject({ method: 'GET', url: `/v1/cases/${number}`, headers: { 'x-case-pin': pin }, remoteAddress });

  const wrongPin = await get(target.caseNumber, '12345678', '10.0.0.1');
  const unknown = await get(newCaseNumber(), target.pin, '10.0.0.2');
  const malformed = await get('nonsense', target.pin, '10.0.0.3');
  for (const r of [wrongPin, unknown, malformed]) {
    t.equal(r.statusCode, 404);
    t.same(r.json(), { error: { code: 'NOT_FOUND', message: 'No case matches this case number and PIN.' } });
  }
  t.same(wrongPin.headers['content-length'], unknown.headers['content-length']);

  // One client's wrong PINs lock that client out of that case only: whoever
  // learned a case number cannot lock its owner out of it, and a client
  // (a household, a shelter) is never locked out of other cases.
  for (let i = 0; i < 2; i++) t.equal((await get(target.caseNumber, '111111111111', '10.0.0.1')).statusCode, 404);
  t.equal((await get(target.caseNumber, '111111111111', '10.0.0.1')).statusCode, 429, 'the guesser is locked out of this case');
  t.equal((await get(target.caseNumber, target.pin, '10.0.0.7')).statusCode, 200, 'the owner, elsewhere, is not');
  t.equal((await get(other.caseNumber, other.pin, '10.0.0.1')).statusCode, 200, "the guesser's address still opens another case");

  // Per case: wrong PINs from many clients (6 in all) lock the case for everyone, right PIN included.
  await get(target.caseNumber, '111111111111', '10.0.0.4');
  await get(target.caseNumber, '222222222222', '10.0.0.5');
  await get(target.caseNumber, '444444444444', '10.0.0.8');
  let res = await get(target.caseNumber, target.pin, '10.0.0.6');
  t.equal(res.statusCode, 429, 'a locked case does not reveal that this PIN is right');
  t.equal(res.json().error.code, 'RATE_LIMITED');
  t.ok(Number(res.headers['retry-after']) > 3500 && Number(res.headers['retry-after']) <= 3600, `Retry-After ${res.headers['retry-after']}`);
  res = await get(target.caseNumber, '333333333333', '10.0.0.6');
  t.equal(res.statusCode, 429, 'same answer for a wrong PIN');
  res = await app.inject({ method: 'DELETE', url: `/v1/cases/${target.caseNumber}`, headers: { 'x-case-pin': target.pin }, remoteAddress: '10.0.0.6' });
  t.equal(res.statusCode, 429, 'withdrawal is limited too');
  t.ok(app.services.store.findCaseByNumber(target.caseNumber), 'and did not happen');
  t.equal((await get(other.caseNumber, other.pin, '10.0.0.6')).statusCode, 200, 'other cases are not affected');

  // A spray of made-up numbers from one client runs out of its own budget, and touches no real case.
  for (let i = 0; i < 4; i++) t.equal((await get(newCaseNumber(), '12345678', '10.0.0.9')).statusCode, 404);
  t.equal((await get(newCaseNumber(), '12345678', '10.0.0.9')).statusCode, 429, 'the sprayer is slowed down');
  t.equal((await get(other.caseNumber, other.pin, '10.0.0.9')).statusCode, 200, 'but a real case still opens from there');

  // Unknown numbers lock like real ones under many clients' guesses, so a lock reveals nothing either.
  const ghost = newCaseNumber();
  for (const address of ['10.1.0.1', '10.1.0.2', '10.1.0.3', '10.1.0.5', '10.1.0.6', '10.1.0.7']) await get(ghost, '12345678', address);
  t.equal((await get(ghost, '12345678', '10.1.0.4')).statusCode, 429);

  // IPv6 clients count per /56 (a household's share): new addresses, and new /64s, in one /56 are the same client.
  const v6 = await create();
  for (const address of ['2001:db8:7:7::1', '2001:db8:7:7:ffff::3', '2001:db8:7:8::1']) t.equal((await get(v6.caseNumber, '12345678', address)).statusCode, 404);
  t.equal((await get(v6.caseNumber, v6.pin, '2001:db8:7:ff::99')).statusCode, 429, 'another /64 of the same /56, locked out of this case');
  t.equal((await get(v6.caseNumber, v6.pin, '2001:db8:7:100::1')).statusCode, 200, 'the next /56 is another client');

  // A right PIN takes its attempt back: a person who finally types it right is not counted against.
  const mine = await create();
  for (let i = 0; i < 5; i++) t.equal((await get(mine.caseNumber, mine.pin, '10.2.0.1')).statusCode, 200);

  // Parallel guesses cannot slip past the limit while scrypt runs.
  const burst = await create();
  const answers = await Promise.all(Array.from({ length: 9 }, (_, i) => get(burst.caseNumber, String(i).padStart(12, '0'), `10.3.0.${i}`)));
  t.same(
    answers.map((r) => r.statusCode).sort(),
    [404, 404, 404, 404, 404, 404, 429, 429, 429],
  );
});

t.test('someone behind her address who knows her case number cannot lock her out elsewhere, nor anyone else out', async (t) => {
  const app = await newApp(t);
  const hers = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'd'.repeat(32) }] } })).json();
  const neighbours = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'e'.repeat(32) }] } })).json();
  const get = (number: string, pin: string, remoteAddress: string) =>
    app.inject({ method: 'GET', url: `/v1/cases/${number}`, headers: { 'x-case-pin': pin }, remoteAddress });
  // A shelter's one address: someone there guesses at her case until it locks for that address.
  for (let i = 0; i < 5; i++) t.equal((await get(hers.caseNumber, String(500_000_000_000 + i), '192.0.2.10')).statusCode, 404);
  t.equal((await get(hers.caseNumber, hers.pin, '192.0.2.10')).statusCode, 429, 'her case, from that address, waits an hour');
  t.equal((await get(neighbours.caseNumber, neighbours.pin, '192.0.2.10')).statusCode, 200, 'every other case opens from that address');
  t.equal((await get(hers.caseNumber, hers.pin, '198.51.100.7')).statusCode, 200, 'her case opens from any other network (mobile data)');
  const withdrawn = await app.inject({ method: 'DELETE', url: `/v1/cases/${hers.caseNumber}`, headers: { 'x-case-pin': hers.pin }, remoteAddress: '198.51.100.7' });
  t.equal(withdrawn.statusCode, 204, 'and she can withdraw it');
});

t.test('missing PIN header, and the audit log keeps no PIN, case number or finding', async (t) => {
  const app = await newApp(t);
  const c = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'c'.repeat(32) }] } })).json();
  const res = await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}` });
  t.equal(res.statusCode, 400);
  t.equal(res.json().error.code, 'INVALID_REQUEST');
  await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}`, headers: { 'x-case-pin': c.pin } });
  await app.inject({ method: 'DELETE', url: `/v1/cases/${c.caseNumber}`, headers: { 'x-case-pin': c.pin } });
  // The signing key created at first start is the service's entry, not hers.
  const entries = app.services.audit.list({ limit: 10 }).filter((e) => e.action !== 'signing-key.created');
  const log = JSON.stringify(entries);
  t.notMatch(log, c.pin);
  t.notMatch(log, c.caseNumber);
  t.notMatch(log, c.caseNumber.replace(/-/g, ''));
  t.same(
    entries.map(({ action, target, status, matchCount }) => ({ action, target, status, matchCount })).reverse(),
    [
      { action: 'case.created', target: null, status: 0, matchCount: null },
      { action: 'POST /v1/cases', target: null, status: 201, matchCount: null },
      { action: 'GET /v1/cases/:caseNumber', target: null, status: 400, matchCount: null },
      { action: 'GET /v1/cases/:caseNumber', target: null, status: 200, matchCount: null },
      { action: 'DELETE /v1/cases/:caseNumber', target: null, status: 204, matchCount: null },
    ],
    'who, what, when and the outcome only',
  );
  t.same(
    entries.map(({ actor }) => actor),
    ['anonymous', 'anonymous', 'anonymous', 'anonymous', 'anonymous'],
    'not even a hash of her address ties her registration, looks and withdrawal together',
  );
});

t.test('two withdrawals at once: one succeeds, the other gets the usual refusal', async (t) => {
  const app = await newApp(t);
  const c = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'd'.repeat(32) }] } })).json();
  const withdraw = () => app.inject({ method: 'DELETE', url: `/v1/cases/${c.caseNumber}`, headers: { 'x-case-pin': c.pin } });
  const answers = await Promise.all([withdraw(), withdraw()]);
  t.same(answers.map((r) => r.statusCode).sort(), [204, 404]);
  t.same(answers.find((r) => r.statusCode === 404)!.json(), { error: { code: 'NOT_FOUND', message: 'No case matches this case number and PIN.' } });
  t.equal(app.services.store.findCaseByNumber(c.caseNumber), undefined);
});

t.test('a case withdrawn while it is being read is answered as withdrawn, not as still open', async (t) => {
  const app = await newApp(t);
  const { store } = app.services;
  const create = async () => (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: 'e'.repeat(32) }] } })).json();
  const read = (c: { caseNumber: string; pin: string }) => app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}`, headers: { 'x-case-pin': c.pin } });
  const refusal = { error: { code: 'NOT_FOUND', message: 'No case matches this case number and PIN.' } };

  // Withdrawn while its PIN is checked (scrypt runs off the event loop): the withdrawal lands then.
  const duringPin = await create();
  const findCaseByNumber = store.findCaseByNumber.bind(store);
  let armed = true;
  store.findCaseByNumber = (caseNumber) => {
    const found = findCaseByNumber(caseNumber);
    if (found && armed) {
      armed = false;
      setImmediate(() => store.deleteCase(found.id));
    }
    return found;
  };
  let res = await read(duringPin);
  store.findCaseByNumber = findCaseByNumber;
  t.same({ status: res.statusCode, body: res.json() }, { status: 404, body: refusal }, 'withdrawn during the PIN check');

  // Withdrawn while its hashes are searched for.
  const duringSearch = await create();
  const matcher = app.services.matcher;
  const matchContent = matcher.matchContent.bind(matcher);
  matcher.matchContent = async (query) => {
    store.deleteCase(findCaseByNumber(duringSearch.caseNumber)!.id);
    return matchContent(query);
  };
  res = await read(duringSearch);
  matcher.matchContent = matchContent;
  t.same({ status: res.statusCode, body: res.json() }, { status: 404, body: refusal }, 'withdrawn during the search');
});
