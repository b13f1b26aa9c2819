/**
 * Hash-list import and export through the service: every format round-trips
 * (export, import into an empty bank, export again: the same text), malformed
 * rows are reported by line and skipped, strict imports leave nothing behind,
 * StopNCII pages withdraw and update in place, and imported hashes match.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import t from 'tap';
import { loadConfig } from '../src/config.js';
import { EXCHANGE_FORMATS, type ExchangeFormat, findExchangeType } from '../src/exchange/index.js';
import { queryFromHashes } from '../src/match/query.js';
import { HashOwners } from '../src/services/hash-owners.js';
import { PendingRecords } from '../src/services/pending-records.js';
import { Services } from '../src/services/services.js';
import { hashPin } from '../src/store/pin.js';
import { PDQ_DIR } from './helpers/fixtures.js';

const dir = mkdtempSync(join(tmpdir(), 'ncii-exchange-'));
t.teardown(() => rmSync(dir, { recursive: true, force: true }));
const services = new Services(loadConfig({ DATA_DIR: dir }), { error: () => {} });
t.teardown(() => services.close());
await services.loadIndexes();

const text = async (chunks: AsyncIterable<string>) => {
  let out = '';
  for await (const chunk of chunks) out += chunk;
  return out;
};
const source = (body: string) => Readable.from([Buffer.from(body)]);
const exportText = (bankId: number, format: ExchangeFormat) => text(services.exchange.exportBank(bankId, { format }).chunks);
const itemCount = (bankId: number) => services.store.listContent(bankId, { limit: 1000 }).length;

const PDQ_A = 'f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22';
const MD5_A = '0123456789abcdef0123456789abcdef';

const origin = services.banks.create({ name: 'origin' });
const images = ['bridge-1-original.jpg', 'c.png', 'LA.png'].map((name) => ({ filename: name, bytes: readFileSync(join(PDQ_DIR, name)) }));
await services.banks.addImages(origin.id, images, {
  group: 'Some abusive group',
  messageUrl: 'https://t.me/c/123/45',
  capturedAt: '2026-11-30T10:00:00Z',
  metadata: { threatexchange: { collab: 'ncii', category: 'nsfw', tags: ['a', 'b'] }, seenBy: 'team, "north"' },
  note: 'line one\nline two',
});
services.banks.addHashes(origin.id, [{ signals: [{ type: 'pdq', hash: PDQ_A.toUpperCase(), quality: 87 }, { type: 'md5', hash: MD5_A }], platform: 'forum' }]);

t.test('every format round-trips: export, import into an empty bank, export again gives the same text', async (t) => {
  for (const format of EXCHANGE_FORMATS) {
    const first = await exportText(origin.id, format);
    t.ok(first.length > 0, `${format}: something was exported`);
    const copy = services.banks.create({ name: `copy ${format}` });
    const report = await services.exchange.importToBank(copy.id, source(first), { format });
    t.equal(report.rejected, 0, `${format}: no row rejected`);
    t.ok(report.added > 0, `${format}: records added`);
    const second = await exportText(copy.id, format);
    const normal = (s: string) => (format === 'hma-json' ? s.replace(/^\{"bank":\{[^}]*\}/, '') : s);
    t.equal(normal(second), normal(first), `${format}: the second export is the first`);
    const again = await services.exchange.importToBank(copy.id, source(first), { format });
    t.same({ added: again.added, duplicate: again.duplicate }, { added: 0, duplicate: report.added }, `${format}: importing again adds nothing`);
  }
});

t.test('what each format carries', async (t) => {
  const csv = await exportText(origin.id, 'csv');
  const lines = csv.trimEnd().split('\n');
  t.equal(lines[0], 'item,signal_type,hash,quality,platform,group,message_url,captured_at,note,metadata');
  t.ok(lines.some((l) => l.startsWith(`4,pdq,${PDQ_A},87,forum,`)), 'PDQ in lower-case hex with its quality');
  t.match(csv, /"line one\nline two"/, 'a note with a line break is quoted');
  const teFile = await exportText(origin.id, 'te-file');
  t.ok(teFile.split('\n').includes(`pdq ${PDQ_A}`) && teFile.split('\n').includes(`video_md5 ${MD5_A}`), 'ThreatExchange names: pdq, video_md5');
  const teCsv = await exportText(origin.id, 'te-csv');
  t.match(teCsv, /\npdq,[0-9a-f]{64},ncii,nsfw,a b\n/, 'collab, category and tags from the item');
  const stop = JSON.parse(await exportText(origin.id, 'stopncii')) as { hashRecords: { signalType: string; hashStatus: string }[]; nextPageToken: null };
  t.same([...new Set(stop.hashRecords.map((r) => r.signalType))].sort(), ['ImagePDQ', 'VideoMD5'], 'StopNCII: PDQ and MD5 only');
  t.equal(stop.nextPageToken, null);
  const hma = JSON.parse(await exportText(origin.id, 'hma-json')) as { bank: { name: string }; content: { signals: Record<string, unknown> }[] };
  t.equal(hma.bank.name, 'origin');
  t.equal(hma.content.length, 4);
  t.ok(Array.isArray(hma.content[0].signals['pdq-region']) && typeof hma.content[0].signals.pdq === 'string', 'region hashes as an array, PDQ as a string');
});

t.test('malformed rows are reported by line and skipped; strict imports nothing', async (t) => {
  const body = [`pdq ${PDQ_A}`, 'pdq 1234', '# a comment', `nonsense ${MD5_A}`, '', MD5_A, 'a b c'].join('\n');
  const bank = services.banks.create({ name: 'malformed' });
  const report = await services.exchange.importToBank(bank.id, source(body), { format: 'te-file' });
  t.same({ added: report.added, rejected: report.rejected }, { added: 2, rejected: 3 });
  t.same(report.errors.map((e) => e.line), [2, 4, 7], 'the lines of the bad rows');
  t.match(report.errors[0].reason, /64 hex/);
  t.match(report.errors[1].reason, /unknown signal type "nonsense"/);

  const strictBank = services.banks.create({ name: 'strict' });
  await t.rejects(services.exchange.importToBank(strictBank.id, source(body), { format: 'te-file', strict: true }), { code: 'INVALID_REQUEST', message: /^line 2: .*Nothing was imported/ });
  t.equal(itemCount(strictBank.id), 0, 'nothing imported');
  t.same(services.store.db.prepare('SELECT count(*) AS n FROM exchange_staging').get(), { n: 0 }, 'nothing left staged');

  const good = await services.exchange.importToBank(strictBank.id, source(`pdq ${PDQ_A}\nvideo_md5 ${MD5_A}\n`), { format: 'te-file', strict: true });
  t.same({ added: good.added, strict: good.strict }, { added: 2, strict: true }, 'a clean file imports in strict mode');

  const broken = await services.exchange.importToBank(bank.id, source('{"content": [{"signals": {"pdq": 5}}, {"signals": {"md5": "zz"}}]}'), { format: 'hma-json' });
  t.same(broken.errors.map((e) => e.line), [1, 2], 'JSON records are numbered from 1');
  const csvBroken = await services.exchange.importToBank(bank.id, source(`item,signal_type,hash,quality,platform,group,message_url,captured_at,note,metadata\n1,pdq,${PDQ_A},101,x,,,,,\n2,pdq,${PDQ_A},,x,,,,,[1]\n3,pdq,${'b'.repeat(64)},,x,,,not a date,,\n`), { format: 'csv' });
  t.same(csvBroken.errors.map((e) => e.line), [2, 3, 4]);
  t.match(csvBroken.errors[2].reason, /capturedAt/, 'what the store refuses is a rejected row too');
});

t.test('StopNCII pages: withdrawn hashes go, newer records update in place, older ones change nothing', async (t) => {
  const bank = services.banks.create({ name: 'stopncii' });
  const record = (hashValue: string, signalType: string, hashStatus: string, lastModtimestamp: number, caseNumbers = ['C-1']) => ({ hashValue, signalType, hashStatus, caseNumbers, lastModtimestamp });
  const PDQ_B = 'a'.repeat(64);
  const page1 = { hashRecords: [record(PDQ_A, 'ImagePDQ', 'Active', 100), record(PDQ_B, 'ImagePDQ', 'Received', 100), record(MD5_A, 'VideoMD5', 'Active', 100)], nextPageToken: 'page-2' };
  const first = await services.exchange.importToBank(bank.id, source(JSON.stringify(page1)), { format: 'stopncii' });
  t.same({ added: first.added, next: first.nextPageToken }, { added: 3, next: 'page-2' });
  const found = await services.matcher.matchContent(queryFromHashes([{ type: 'pdq', hash: PDQ_B }], { banks: [bank.id] }, 'signals', 'client'));
  t.equal(found.matches.length, 1, 'an imported hash matches at once');

  const page2 = { hashRecords: [record(PDQ_B, 'ImagePDQ', 'Withdrawn', 200), record(PDQ_A, 'ImagePDQ', 'Active', 200, ['C-1', 'C-2']), record(MD5_A, 'VideoMD5', 'Active', 50, ['old'])], nextPageToken: null };
  const second = await services.exchange.importToBank(bank.id, source(JSON.stringify(page2)), { format: 'stopncii' });
  t.same({ removed: second.removed, updated: second.updated, duplicate: second.duplicate, next: second.nextPageToken }, { removed: 1, updated: 1, duplicate: 1, next: null });
  const gone = await services.matcher.matchContent(queryFromHashes([{ type: 'pdq', hash: PDQ_B }], { banks: [bank.id] }, 'signals', 'client'));
  t.equal(gone.matches.length, 0, 'a withdrawn hash stops matching');
  const out = JSON.parse(await exportText(bank.id, 'stopncii')) as { hashRecords: ReturnType<typeof record>[] };
  t.same(out.hashRecords, [record(PDQ_A, 'ImagePDQ', 'Active', 200, ['C-1', 'C-2']), record(MD5_A, 'VideoMD5', 'Active', 100)], 'updated in place; the older record changed nothing');

  const paged = services.exchange.exportBank(bank.id, { format: 'stopncii', limit: 1 });
  const p1 = JSON.parse(await text(paged.chunks)) as { hashRecords: unknown[]; nextPageToken: string };
  t.equal(p1.hashRecords.length, 1);
  const p2 = JSON.parse(await text(services.exchange.exportBank(bank.id, { format: 'stopncii', limit: 1, pageToken: p1.nextPageToken }).chunks)) as { hashRecords: unknown[]; nextPageToken: string | null };
  t.same({ n: p2.hashRecords.length, next: p2.nextPageToken }, { n: 1, next: null }, 'pages follow the token to the end');
});

t.test('a case takes hashes and gives them back', async (t) => {
  const victimCase = services.store.createCase({ caseNumber: 'EX-1', pinHash: await hashPin('123456') });
  const report = await services.exchange.importToCase(victimCase.id, source(`pdq ${PDQ_A}\nvideo_md5 ${MD5_A}\npdq ${PDQ_A}\n`), { format: 'te-file' });
  t.same({ added: report.added, duplicate: report.duplicate }, { added: 2, duplicate: 1 });
  const out = JSON.parse(await text(services.exchange.exportCase(victimCase.id, { format: 'stopncii' }).chunks)) as { hashRecords: { hashValue: string; caseNumbers: string[] }[] };
  t.same(out.hashRecords.map((r) => [r.hashValue, r.caseNumbers]), [[PDQ_A, []], [MD5_A, []]], 'her hashes, without her case number (half of her credentials)');
  const hma = JSON.parse(await text(services.exchange.exportCase(victimCase.id, { format: 'hma-json' }).chunks)) as { bank: { name: string }; content: { signals: Record<string, string> }[] };
  t.same(hma.content.map((c) => c.signals), [{ pdq: PDQ_A }, { video_md5: MD5_A }], 'one HMA entry a hash: a case does not know which photo each came from');
  t.notMatch(JSON.stringify(hma), 'EX-1');
  const withdrawn = await services.exchange.importToCase(victimCase.id, source(JSON.stringify([{ hashValue: PDQ_A, signalType: 'ImagePDQ', hashStatus: 'Deleted' }])), { format: 'stopncii' });
  t.equal(withdrawn.removed, 1);
  t.equal(services.store.listSignals({ kind: 'case', caseId: victimCase.id }).length, 1);
});

t.test('unknown banks and bad page tokens are refused before anything is read', async (t) => {
  t.throws(() => services.exchange.exportBank(999_999, { format: 'csv' }), { code: 'NOT_FOUND' });
  t.throws(() => services.exchange.exportBank(origin.id, { format: 'csv', pageToken: 'x' }), { code: 'INVALID_REQUEST' });
  await t.rejects(services.exchange.importToBank(999_999, source(''), { format: 'csv' }), { code: 'NOT_FOUND' });
});

t.test('what an import knows a bank holds: many hashes, several owners, forgetting and adding again', async (t) => {
  const owners = new HashOwners();
  // Near-identical hashes (one bit apart) and enough of them to grow the table several times.
  const hashOf = (i: number) => {
    const hash = new Uint8Array(32);
    hash[i >> 8] ^= 1 << (i & 7);
    hash[31] = i & 255;
    return hash;
  };
  for (let i = 0; i < 5000; i++) owners.add('pdq', hashOf(i), i + 1);
  owners.add('pdq', hashOf(7), 9001);
  owners.add('md5', hashOf(7).subarray(0, 16), 42);
  t.same(owners.ids('pdq', hashOf(7)), [8, 9001], 'a hash two items hold');
  t.same(owners.ids('md5', hashOf(7).subarray(0, 16)), [42], 'each type apart');
  t.ok([...Array(5000).keys()].every((i) => owners.ids('pdq', hashOf(i))[0] === i + 1), 'every hash found after growing');
  t.notOk(owners.has('pdq', new Uint8Array(32).fill(255)));
  owners.forget('pdq', hashOf(7), new Set([8]));
  t.same(owners.ids('pdq', hashOf(7)), [9001]);
  owners.forget('pdq', hashOf(7), new Set([9001]));
  t.notOk(owners.has('pdq', hashOf(7)), 'forgotten by every owner');
  owners.add('pdq', hashOf(7), 77);
  t.same(owners.ids('pdq', hashOf(7)), [77], 'added again');
});

t.test('a chunk keeps one-hash records packed and gives every record back in order', async (t) => {
  const chunk = new PendingRecords(3);
  const [pdq, md5] = [findExchangeType('pdq'), findExchangeType('md5')];
  const withMetadata = { line: 4, record: { signals: [{ type: md5, hash: new Uint8Array(16).fill(2), quality: null }], metadata: { a: 1 } } };
  chunk.push({ line: 2, record: { signals: [{ type: pdq, hash: new Uint8Array(32).fill(1), quality: null }], metadata: {} } });
  chunk.push(withMetadata);
  chunk.push({ line: 9, record: { signals: [{ type: md5, hash: new Uint8Array(16).fill(3), quality: null }], metadata: {} } });
  t.ok(chunk.full);
  const reads = [...chunk.reads()];
  t.same(reads.map((r) => r.line), [2, 4, 9]);
  t.equal(reads[1], withMetadata, 'a record with more than a hash is kept as it was');
  t.same([...reads[0].record.signals[0].hash], Array(32).fill(1));
  t.same([...reads[2].record.signals[0].hash], Array(16).fill(3));
  t.same(reads[2].record.signals[0].type.name, 'md5');
  t.throws(() => chunk.push(withMetadata), RangeError);
});
