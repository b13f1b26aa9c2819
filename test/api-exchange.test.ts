/**
 * POST /v1/banks/:id/import and GET /v1/banks/:id/export over HTTP (inject):
 * streamed bodies, limits, strict mode, refusals; and a victim's case through
 * POST /v1/cases/:caseNumber/import and GET .../export with its PIN: every
 * format round-trips, wrong PINs are limited, a case's rules hold, and a
 * withdrawal takes everything imported with it.
 */
import { randomBytes, scryptSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import t from 'tap';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/config.js';
import { EXCHANGE_FORMATS, type ExchangeFormat } from '../src/exchange/index.js';
import { fromHex } from '../src/hashing/hex.js';
import { newCaseNumber, newPin, normalizePin } from '../src/services/case-credentials.js';
import { CASE_IMPORT_MAX_BYTES, CASE_MAX_SIGNALS } from '../src/services/cases.js';
import { DATABASE_FILE } from '../src/services/services.js';
import { q } from './helpers/queries.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-api-exchange-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const app = await buildApp({ config: loadConfig({ DATA_DIR: dir, MAX_IMPORT_BYTES: '4096', MAX_EVENT_LOOP_DELAY_MS: '600000', ANONYMOUS_REQUESTS_PER_MINUTE: '10000', PIN_ATTEMPTS_PER_HOUR: '3' }), logger: false });
await app.ready();
t.teardown(() => app.close());
const takedown = { authorization: `Bearer ${app.services.keys.create({ name: 'exchange test', role: 'takedown' }).secret}` };
const ngo = { authorization: `Bearer ${app.services.keys.create({ name: 'exchange test ngo', role: 'ngo' }).secret}` };

const hex = (i: number, digits: number) => i.toString(16).padStart(digits, '0');
const bank = app.services.banks.create({ name: 'api exchange' });
const csv = ['signal_type,signal_str,collab,category,tags', ...Array.from({ length: 20 }, (_, i) => `pdq,${hex(i + 1, 64)},c,cat,x y`), 'pdq,nothex,c,cat,'].join('\n');

// A victim's case: her hashes in and out with her case number and PIN.

const FILE_TYPES: Record<ExchangeFormat, string> = { 'hma-json': 'application/json', stopncii: 'application/json', 'te-file': 'text/plain', 'te-csv': 'text/csv', csv: 'text/csv' };
const pinned = (pin: string, format?: ExchangeFormat) => ({ 'x-case-pin': pin, ...(format ? { 'content-type': FILE_TYPES[format] } : {}) });
const exportCase = (c: { caseNumber: string; pin: string }, format: ExchangeFormat, headers: Record<string, string> = {}) =>
  app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}/export?format=${format}`, headers: { ...headers, ...pinned(c.pin) } });
const importCase = (c: { caseNumber: string; pin: string }, format: ExchangeFormat, payload: string, query = '') =>
  app.inject({ method: 'POST', url: `/v1/cases/${c.caseNumber}/import?format=${format}${query}`, headers: pinned(c.pin, format), payload });
/** A case with no hashes yet, and its credentials. Its PIN hash has a low scrypt cost (a PIN is checked with the cost its hash names), so the test stays fast. */
function emptyCase() {
  const caseNumber = newCaseNumber();
  const pin = newPin();
  const salt = randomBytes(16);
  const key = scryptSync(normalizePin(pin), salt, 32, { N: 1024, r: 8, p: 1 });
  const { id } = app.services.store.createCase({ caseNumber, pinHash: ['scrypt', 1024, 8, 1, salt.toString('base64'), key.toString('base64')].join('$') });
  return { id, caseNumber, pin };
}
const caseHashes = (id: number) => app.services.store.listSignals({ kind: 'case', caseId: id }).map((s) => `${s.type} ${Buffer.from(s.hash).toString('hex')} ${s.quality}`);

const PDQ_1 = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const herSignals = [
  { type: 'pdq', hash: PDQ_1, quality: 90 },
  { type: 'pdq', hash: hex(0xabc, 64) },
  { type: 'md5', hash: hex(0xdef, 32) },
  { type: 'sha256', hash: hex(0x123, 64) },
  { type: 'blockhash', hash: hex(0x456, 64) },
  { type: 'pdq-region', hash: hex(0x789, 64), region: 'crop' },
];
const hers = (await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: herSignals } })).json() as { caseNumber: string; pin: string };
// Someone else's case beside hers: nothing of it may leave with her export.
await app.inject({ method: 'POST', url: '/v1/cases', payload: { signals: [{ type: 'md5', hash: hex(0xbad, 32) }, { type: 'pdq', hash: hex(0xbad, 64) }] } });

t.test('a takedown key imports a file and exports it back, streamed', async (t) => {
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=te-csv`, headers: { ...takedown, 'content-type': 'text/csv' }, payload: csv });
  t.equal(res.statusCode, 200);
  const report = res.json();
  t.same({ added: report.added, rejected: report.rejected, errors: report.errors.map((e: { line: number }) => e.line) }, { added: 20, rejected: 1, errors: [22] });
  const out = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=te-csv`, headers: takedown });
  t.equal(out.statusCode, 200);
  t.match(out.headers['content-type'], /^text\/csv/);
  t.match(out.headers['content-disposition'], /attachment; filename="bank-\d+\.csv"/);
  t.equal(out.body, csv.split('\n').slice(1, 21).map((l) => `${l}\n`).join(''), 'the valid rows, as they came');
  const json = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=stopncii`, headers: { ...takedown, 'content-type': 'application/json' }, payload: JSON.stringify({ hashRecords: [{ hashValue: hex(1, 64), signalType: 'ImagePDQ', hashStatus: 'Deleted' }], nextPageToken: 'n2' }) });
  t.same([json.statusCode, json.json().removed, json.json().nextPageToken], [200, 1, 'n2'], 'a JSON body streams too, not parsed by the app');
});

t.test('strict: a malformed row refuses the file and nothing is imported', async (t) => {
  const other = app.services.banks.create({ name: 'api exchange strict' });
  const res = await app.inject({ method: 'POST', url: `/v1/banks/${other.id}/import?format=te-csv&strict=true`, headers: { ...takedown, 'content-type': 'text/csv' }, payload: csv });
  t.equal(res.statusCode, 400);
  t.match(res.json().error, { code: 'INVALID_REQUEST', message: /^line 22: .*Nothing was imported/ });
  t.equal(app.services.store.listContent(other.id, { limit: 10 }).length, 0);
});

t.test('limits and refusals', async (t) => {
  const big = `${'pdq ' + 'a'.repeat(64) + '\n'}`.repeat(100);
  const tooLarge = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=te-file`, headers: { ...takedown, 'content-type': 'text/plain' }, payload: big });
  t.same([tooLarge.statusCode, tooLarge.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a declared length over MAX_IMPORT_BYTES');
  const chunked = await app.inject({
    method: 'POST',
    url: `/v1/banks/${bank.id}/import?format=hma-json`,
    headers: { ...takedown, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    payload: Readable.from(
      (function* () {
        yield '{"content":[';
        for (let i = 0; i < 100; i++) yield `${i ? ',' : ''}{"signals":{"pdq":"${hex(i + 100, 64)}"}}`;
        yield ']}';
      })(),
    ),
  });
  t.same([chunked.statusCode, chunked.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a body without a length, over the limit as it streams');
  const badFormat = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=xml`, headers: takedown });
  t.equal(badFormat.statusCode, 400);
  const missing = await app.inject({ method: 'GET', url: '/v1/banks/999999/export?format=csv', headers: takedown });
  t.equal(missing.statusCode, 404);
  const missingImport = await app.inject({ method: 'POST', url: '/v1/banks/999999/import?format=csv', headers: { ...takedown, 'content-type': 'text/csv' }, payload: 'x' });
  t.equal(missingImport.statusCode, 404);
  const forbidden = await app.inject({ method: 'GET', url: `/v1/banks/${bank.id}/export?format=csv`, headers: ngo });
  t.equal(forbidden.statusCode, 403, 'an ngo key may not export');
  const noBody = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=csv`, headers: takedown });
  t.equal(noBody.statusCode, 400, 'no body');
  const multipart = await app.inject({ method: 'POST', url: `/v1/banks/${bank.id}/import?format=csv`, headers: { ...takedown, 'content-type': 'image/png' }, payload: 'x' });
  t.equal(multipart.statusCode, 415);
});

t.test("a case's hashes round-trip through every format with its PIN: export, import into a fresh case, export again gives the same text", async (t) => {
  for (const format of EXCHANGE_FORMATS) {
    const first = await exportCase(hers, format);
    t.equal(first.statusCode, 200, `${format}: exported`);
    t.match(first.headers['content-disposition'], /^attachment; filename="case-hashes\.(json|txt|csv)"$/, `${format}: a file name that names no case`);
    t.notMatch(first.body, hers.caseNumber, `${format}: her case number is not in the file`);
    t.notMatch(first.body, /0bad/, `${format}: nor another case's hashes`);
    const fresh = emptyCase();
    const res = await importCase(fresh, format, first.body);
    t.equal(res.statusCode, 200, `${format}: imported`);
    const report = res.json();
    const carried = format === 'stopncii' ? 3 : herSignals.length;
    t.same({ added: report.added, rejected: report.rejected, signalsAdded: report.signalsAdded }, { added: carried, rejected: 0, signalsAdded: carried }, `${format}: every hash the format carries`);
    const second = await exportCase(fresh, format);
    // StopNCII's lastModtimestamp is the day each case last changed (midnight UTC), and the two cases may straddle one.
    const days = [...first.body.matchAll(/"lastModtimestamp":(\d+)/g)].map((m) => Number(m[1]));
    t.ok(days.every((d) => d % 86_400_000 === 0), `${format}: times are days only`);
    const normal = (text: string) => text.replace(/"lastModtimestamp":\d+/g, '"lastModtimestamp":0');
    t.equal(normal(second.body), normal(first.body), `${format}: the second export is the first`);
    const again = (await importCase(fresh, format, first.body)).json();
    t.same({ added: again.added, duplicate: again.duplicate }, { added: 0, duplicate: carried }, `${format}: importing again adds nothing`);
  }
  const csv = (await exportCase(hers, 'csv')).body;
  t.match(csv, `1,pdq,${PDQ_1},90,,`, 'csv carries quality, with empty provenance');
  const helped = await exportCase(hers, 'te-file', ngo);
  t.equal(helped.statusCode, 200, 'an NGO helping her, with her PIN');
  t.equal(helped.body.split('\n').filter(Boolean).length, herSignals.length, 'exactly her hashes');
});

t.test('a wrong PIN gets the usual 404 and counts toward the same limits as reading the case', async (t) => {
  const c = emptyCase();
  const before = caseHashes(c.id);
  const refusal = { error: { code: 'NOT_FOUND', message: 'No case matches this case number and PIN.' } };
  const wrong = { caseNumber: c.caseNumber, pin: '0000-0000-0000' };
  const imported = await app.inject({ method: 'POST', url: `/v1/cases/${c.caseNumber}/import?format=te-file`, headers: pinned(wrong.pin, 'te-file'), payload: `md5 ${hex(7, 32)}\n`, remoteAddress: '10.7.0.1' });
  t.same([imported.statusCode, imported.json()], [404, refusal], 'import');
  const exported = await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}/export?format=te-file`, headers: pinned(wrong.pin), remoteAddress: '10.7.0.1' });
  t.same([exported.statusCode, exported.json()], [404, refusal], 'export');
  const unknown = await app.inject({ method: 'GET', url: `/v1/cases/${newCaseNumber()}/export?format=te-file`, headers: pinned(c.pin), remoteAddress: '10.7.0.2' });
  t.same([unknown.statusCode, unknown.json()], [404, refusal], 'an unknown case number looks the same');
  await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}`, headers: pinned(wrong.pin), remoteAddress: '10.7.0.1' });
  const locked = await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}/export?format=te-file`, headers: pinned(c.pin), remoteAddress: '10.7.0.1' });
  t.same([locked.statusCode, locked.json().error.code], [429, 'RATE_LIMITED'], 'three wrong PINs (import, export, read) lock this client out of the case, right PIN included');
  t.ok(Number(locked.headers['retry-after']) > 0, 'with Retry-After');
  t.equal((await app.inject({ method: 'GET', url: `/v1/cases/${c.caseNumber}`, headers: pinned(c.pin), remoteAddress: '10.7.0.1' })).statusCode, 429, 'reading it too');
  t.equal((await exportCase(c, 'te-file')).statusCode, 200, 'she still gets in from elsewhere');
  t.same(caseHashes(c.id), before, 'nothing was imported with a wrong PIN');
  const noPin = await app.inject({ method: 'POST', url: `/v1/cases/${c.caseNumber}/import?format=te-file`, headers: { 'content-type': 'text/plain' }, payload: `md5 ${hex(7, 32)}\n` });
  t.same([noPin.statusCode, noPin.json().error.code], [400, 'INVALID_REQUEST'], 'no PIN header');
});

t.test("malformed rows are reported by line; a case's rules hold; strict imports nothing", async (t) => {
  const c = emptyCase();
  const csv = [
    'item,signal_type,hash,quality,platform,group,message_url,captured_at,note,metadata',
    `1,pdq,${hex(0x51, 64)},80,,,,,,`,
    `2,pdq,${hex(0x52, 64)},30,,,,,,`,
    `3,pdq,nothex,,,,,,,`,
    `4,md5,${hex(0x54, 32)},,,,,,,`,
  ].join('\n');
  const strict = await importCase(c, 'csv', csv, '&strict=true');
  t.same([strict.statusCode, strict.json().error.code], [400, 'INVALID_REQUEST']);
  t.match(strict.json().error.message, /^line 4: .*Nothing was imported/, 'strict: the first malformed row, by line');
  t.same(caseHashes(c.id), [], 'and nothing was imported');
  const res = await importCase(c, 'csv', csv);
  t.equal(res.statusCode, 200);
  const report = res.json();
  t.same({ added: report.added, rejected: report.rejected, lines: report.errors.map((e: { line: number }) => e.line) }, { added: 2, rejected: 2, lines: [3, 4] });
  t.match(report.errors.find((e: { line: number }) => e.line === 3).reason, /pdq quality 30 is under 50/, 'a featureless PDQ is refused as when she registers it');
  t.same(caseHashes(c.id), [`pdq ${hex(0x51, 64)} 80`, `md5 ${hex(0x54, 32)} null`]);
  const strictQuality = await importCase(emptyCase(), 'csv', csv.split('\n').slice(0, 3).join('\n'), '&strict=true');
  t.match([strictQuality.statusCode, strictQuality.json().error.message], [400, /^line 3: pdq quality 30/], "strict: a row a case's rules refuse refuses the file");

  // A case holds at most CASE_MAX_SIGNALS hashes, imported ones included.
  const full = emptyCase();
  const filler = Array.from({ length: CASE_MAX_SIGNALS - 1 }, (_, i) => ({ type: 'sha256', hash: fromHex(hex(i + 1, 64), 256), quality: null }));
  app.services.store.importTransaction((writer) => writer.addCaseSignals(full.id, filler));
  const over = (await importCase(full, 'te-file', `md5 ${hex(0x61, 32)}\nmd5 ${hex(0x62, 32)}\n`)).json();
  t.same({ added: over.added, rejected: over.rejected, line: over.errors[0]?.line }, { added: 1, rejected: 1, line: 2 });
  t.match(over.errors[0].reason, `a case holds at most ${CASE_MAX_SIGNALS} hashes`);
  t.equal(caseHashes(full.id).length, CASE_MAX_SIGNALS);
});

t.test('a case import is size-limited like a bank import, by the smaller of MAX_IMPORT_BYTES and a case\'s own limit', async (t) => {
  const c = emptyCase();
  const big = `md5 ${'a'.repeat(32)}\n`.repeat(200);
  const declared = await importCase(c, 'te-file', big);
  t.same([declared.statusCode, declared.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a declared length over the limit');
  const streamed = await app.inject({
    method: 'POST',
    url: `/v1/cases/${c.caseNumber}/import?format=te-file`,
    headers: { ...pinned(c.pin, 'te-file'), 'transfer-encoding': 'chunked' },
    payload: Readable.from((function* () { for (let i = 0; i < 200; i++) yield `md5 ${hex(i + 1, 32)}\n`; })()),
  });
  t.same([streamed.statusCode, streamed.json().error.code], [413, 'PAYLOAD_TOO_LARGE'], 'a body without a length, over the limit as it streams');

  // Where MAX_IMPORT_BYTES is larger, a case still reads at most CASE_IMPORT_MAX_BYTES.
  const roomy = await buildApp({ config: loadConfig({ DATA_DIR: join(dir, 'roomy'), MAX_EVENT_LOOP_DELAY_MS: '600000' }), logger: false, loadIndexes: false });
  t.teardown(() => roomy.close());
  const res = await roomy.inject({
    method: 'POST',
    url: `/v1/cases/${newCaseNumber()}/import?format=te-file`,
    headers: { ...pinned(newPin(), 'te-file'), 'content-length': String(CASE_IMPORT_MAX_BYTES + 1) },
    payload: Readable.from(['# nothing']),
  });
  t.same([res.statusCode, res.json().error.code], [413, 'PAYLOAD_TOO_LARGE']);
  t.match(res.json().error.message, "a case's hash list");
});

t.test('withdrawal deletes everything imported, and the audit trail keeps nothing of the case', async (t) => {
  const auditFrom = app.services.store.db.prepare('SELECT max(id) FROM audit_log').pluck().get() as number;
  const c = emptyCase();
  const imported = `pdq ${hex(0x71, 64)}\nvideo_md5 ${hex(0x72, 32)}\n`;
  t.equal((await importCase(c, 'te-file', imported)).json().added, 2);
  t.equal((await exportCase(c, 'stopncii')).statusCode, 200);
  const probe = q([{ type: 'pdq', hash: fromHex(hex(0x71, 64), 256) }]);
  const found = async () => (await app.services.matcher.matchCases(probe)).matches.filter((m) => m.caseId === c.id);
  t.equal((await found()).length, 1, 'an imported hash matches new captures');
  const kept = () =>
    app.services.trail.log.flush() ??
    app.services.store.db.prepare("SELECT action, case_id AS caseId, details FROM audit_log WHERE action IN ('case.imported', 'case.exported') AND id > ? ORDER BY id").all(auditFrom) as { action: string; caseId: number | null; details: string | null }[];
  t.same(kept().map((e) => [e.action, e.caseId]), [['case.imported', c.id], ['case.exported', c.id]], 'the import and the export are in the audit trail, tied to the case');
  t.match(JSON.parse(kept()[0].details!), { format: 'te-file', added: 2, signalsAdded: 2 });
  const withdrawn = await app.inject({ method: 'DELETE', url: `/v1/cases/${c.caseNumber}`, headers: pinned(c.pin) });
  t.equal(withdrawn.statusCode, 204);
  t.same(app.services.store.listSignals({ kind: 'case', caseId: c.id }), [], 'no hash of the case is left');
  t.same(await found(), [], 'nor matches');
  t.same(kept().map((e) => [e.action, e.caseId, e.details]), [['case.imported', null, null], ['case.exported', null, null]], 'what tied the entries to her case is erased');
  t.equal((await exportCase(c, 'te-file')).statusCode, 404, 'the case is gone');
});

t.test('a case withdrawn while a strict import reads its file: the usual refusal, and her hashes are not left in the database log', async (t) => {
  const c = emptyCase();
  const file = new PassThrough();
  const needle = hex(0x5eed5eed, 64);
  const importing = app.services.exchange.importToVictimCase(c.caseNumber, c.pin, 'test', file, { format: 'te-file', strict: true });
  file.write(`pdq ${needle}\n`);
  // Past the PIN check once the reader has started on the file.
  for (let waited = 0; !file.readableFlowing && waited < 30_000; waited += 10) await new Promise((resolve) => setTimeout(resolve, 10));
  t.equal((await app.inject({ method: 'DELETE', url: `/v1/cases/${c.caseNumber}`, headers: pinned(c.pin) })).statusCode, 204, 'withdrawn mid-import');
  file.end(`md5 ${hex(0x5eed, 32)}\n`);
  await t.rejects(importing, { code: 'NOT_FOUND', message: 'No case matches this case number and PIN.' });
  t.equal(app.services.store.db.prepare('SELECT count(*) FROM exchange_staging').pluck().get(), 0, 'nothing staged is left');
  const wal = join(dir, `${DATABASE_FILE}-wal`);
  t.notOk(existsSync(wal) && readFileSync(wal).includes(needle), 'the database log does not hold the hash she sent');
  t.notOk(readFileSync(join(dir, DATABASE_FILE)).includes(needle), 'nor does the database file');
});
